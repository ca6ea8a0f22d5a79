
/*
 * Copyright (C) ngx_spiffe developers
 */


#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include <spiffe_err.h>


/* the metric labels, in the order of the status page */

static const char  *labels[] = {
    "bad_id",
    "leaf_rules",
    "no_bundle",
    "expired",
    "not_yet_valid",
    "revoked",
    "not_allowed",
    "chain",
    "no_certificate",
};


/* a code cannot be added without a message and a label */

static void
test_every_code(void **state)
{
    int                 i, j;
    const char         *text;
    spiffe_err_kind_t   kind;

    (void) state;

    for (i = SPIFFE_OK + 1; i < SPIFFE_ERR_N; i++) {
        text = spiffe_err_text(i);

        if (text == NULL || text[0] == '\0') {
            fail_msg("code %d has no message", i);
        }

        kind = spiffe_err_kind(i);

        if (kind >= SPIFFE_ERR_KIND_N || spiffe_err_kind_label(kind) == NULL)
        {
            fail_msg("code %d (\"%s\") has no label", i, text);
        }

        for (j = SPIFFE_OK + 1; j < i; j++) {
            if (strcmp(text, spiffe_err_text(j)) == 0) {
                fail_msg("codes %d and %d share \"%s\"", j, i, text);
            }
        }
    }

    assert_null(spiffe_err_text(SPIFFE_OK));
    assert_null(spiffe_err_text(SPIFFE_ERR_N));
    assert_null(spiffe_err_text(-1));
}


static void
test_labels(void **state)
{
    int  i;

    (void) state;

    assert_int_equal(SPIFFE_ERR_KIND_N, sizeof(labels) / sizeof(labels[0]));

    for (i = 0; i < SPIFFE_ERR_KIND_N; i++) {
        assert_string_equal(spiffe_err_kind_label(i), labels[i]);
    }

    assert_null(spiffe_err_kind_label(SPIFFE_ERR_KIND_N));
}


/* the kinds that no word of the message gives away */

static void
test_kinds(void **state)
{
    int  i;

    (void) state;

    for (i = SPIFFE_ERR_ID_TOO_LONG; i <= SPIFFE_ERR_PATH_CHAR; i++) {
        assert_int_equal(spiffe_err_kind(i), SPIFFE_ERR_KIND_BAD_ID);
    }

    assert_int_equal(spiffe_err_kind(SPIFFE_ERR_NO_URI_SAN),
                     SPIFFE_ERR_KIND_BAD_ID);
    assert_int_equal(spiffe_err_kind(SPIFFE_ERR_NO_PATH),
                     SPIFFE_ERR_KIND_BAD_ID);
    assert_int_equal(spiffe_err_kind(SPIFFE_ERR_NO_KEY_USAGE),
                     SPIFFE_ERR_KIND_LEAF_RULES);
    assert_int_equal(spiffe_err_kind(SPIFFE_ERR_EXTENSIONS),
                     SPIFFE_ERR_KIND_CHAIN);
    assert_int_equal(spiffe_err_kind(SPIFFE_ERR_SAN), SPIFFE_ERR_KIND_CHAIN);
    assert_int_equal(spiffe_err_kind(SPIFFE_ERR_NO_MEMORY),
                     SPIFFE_ERR_KIND_CHAIN);
    assert_int_equal(spiffe_err_kind(SPIFFE_ERR_NO_TRUST_BUNDLE),
                     SPIFFE_ERR_KIND_NO_BUNDLE);
    assert_int_equal(spiffe_err_kind(SPIFFE_ERR_NOT_ALLOWED),
                     SPIFFE_ERR_KIND_NOT_ALLOWED);
    assert_int_equal(spiffe_err_kind(SPIFFE_ERR_NO_CERTIFICATE),
                     SPIFFE_ERR_KIND_NO_CERTIFICATE);
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_every_code),
        cmocka_unit_test(test_labels),
        cmocka_unit_test(test_kinds),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
