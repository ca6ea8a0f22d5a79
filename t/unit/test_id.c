
/*
 * Copyright (C) ngx_spiffe developers
 */


#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <spiffe_id.h>


typedef struct {
    const char  *id;
    const char  *err;       /* NULL: accepted */
} id_case_t;


static const id_case_t  id_cases[] = {

    /* accepted */
    { "spiffe://example.org", NULL },
    { "spiffe://example.org/ns/prod/sa/web", NULL },
    { "spiffe://a", NULL },
    { "spiffe://my-domain_1.example.org/Path.With-Mixed_Case/09", NULL },
    { "spiffe://example.org/...", NULL },
    { "spiffe://example.org/.a", NULL },
    { "spiffe://example.org/a..", NULL },

    /* scheme */
    { "", "does not start with \"spiffe://\"" },
    { "spiffe:/", "does not start with \"spiffe://\"" },
    { "SPIFFE://example.org/a", "does not start with \"spiffe://\"" },
    { "Spiffe://example.org/a", "does not start with \"spiffe://\"" },
    { "https://example.org/a", "does not start with \"spiffe://\"" },
    { "spiffe:example.org/a", "does not start with \"spiffe://\"" },

    /* trust domain */
    { "spiffe://", "has an empty trust domain" },
    { "spiffe:///a", "has an empty trust domain" },
    { "spiffe://Example.org/a", "has uppercase letters in the trust domain" },
    { "spiffe://EXAMPLE.ORG", "has uppercase letters in the trust domain" },
    { "spiffe://example.org:8443/a", "has a port in the trust domain" },
    { "spiffe://user@example.org/a", "has userinfo in the trust domain" },
    { "spiffe://user:pw@example.org/a", "has a port in the trust domain" },
    { "spiffe://ex%41mple.org/a",
      "has percent-encoding in the trust domain" },
    { "spiffe://example.org?x", "has a query" },
    { "spiffe://example.org#x", "has a fragment" },
    { "spiffe://exa mple.org/a",
      "has a character not allowed in a trust domain" },
    { "spiffe://exam\xc3\xa9.org/a",
      "has a character not allowed in a trust domain" },
    { "spiffe://[::1]/a", "has a character not allowed in a trust domain" },

    /* path */
    { "spiffe://example.org/", "has an empty path segment or a trailing \"/\"" },
    { "spiffe://example.org/a/", "has an empty path segment or a trailing \"/\"" },
    { "spiffe://example.org//a", "has an empty path segment or a trailing \"/\"" },
    { "spiffe://example.org/a//b",
      "has an empty path segment or a trailing \"/\"" },
    { "spiffe://example.org/.", "has a \".\" or \"..\" path segment" },
    { "spiffe://example.org/..", "has a \".\" or \"..\" path segment" },
    { "spiffe://example.org/a/./b", "has a \".\" or \"..\" path segment" },
    { "spiffe://example.org/a/../b", "has a \".\" or \"..\" path segment" },
    { "spiffe://example.org/a%20b", "has percent-encoding in the path" },
    { "spiffe://example.org/a?b=c", "has a query" },
    { "spiffe://example.org/a#frag", "has a fragment" },
    { "spiffe://example.org/a b", "has a character not allowed in a path segment" },
    { "spiffe://example.org/a:b", "has a character not allowed in a path segment" },
    { "spiffe://example.org/a@b", "has a character not allowed in a path segment" },
    { "spiffe://example.org/a*", "has a character not allowed in a path segment" },
    { "spiffe://example.org/\xc3\xa9",
      "has a character not allowed in a path segment" },
};


static void
test_id_table(void **state)
{
    size_t         i;
    const char    *err;
    spiffe_id_t    id;
    spiffe_err_t   code;

    (void) state;

    for (i = 0; i < sizeof(id_cases) / sizeof(id_cases[0]); i++) {
        err = NULL;

        if (id_cases[i].err == NULL) {
            if (spiffe_id_parse(id_cases[i].id, strlen(id_cases[i].id), &id,
                                &err)
                != 0)
            {
                fail_msg("\"%s\" refused: %s", id_cases[i].id, err);
            }

            continue;
        }

        code = spiffe_id_parse(id_cases[i].id, strlen(id_cases[i].id), &id,
                               &err);

        if (code == SPIFFE_OK) {
            fail_msg("\"%s\" accepted", id_cases[i].id);
        }

        /* the text is the code's message */

        if (err != spiffe_err_text(code)
            || strcmp(err, id_cases[i].err) != 0)
        {
            fail_msg("\"%s\": \"%s\", expected \"%s\"", id_cases[i].id, err,
                     id_cases[i].err);
        }
    }
}


static void
test_id_parts(void **state)
{
    const char  *s, *err;
    spiffe_id_t  id;

    (void) state;

    s = "spiffe://example.org/ns/prod/sa/web";
    assert_int_equal(spiffe_id_parse(s, strlen(s), &id, &err), 0);
    assert_int_equal(id.td_len, strlen("example.org"));
    assert_memory_equal(id.td, "example.org", id.td_len);
    assert_int_equal(id.path_len, strlen("/ns/prod/sa/web"));
    assert_memory_equal(id.path, "/ns/prod/sa/web", id.path_len);

    s = "spiffe://example.org";
    assert_int_equal(spiffe_id_parse(s, strlen(s), &id, &err), 0);
    assert_int_equal(id.td_len, strlen("example.org"));
    assert_int_equal(id.path_len, 0);

    /* the length given is the whole input, even with a NUL inside */
    assert_int_equal(spiffe_id_parse("spiffe://a/b\0c", 14, &id, &err),
                     SPIFFE_ERR_PATH_CHAR);
    assert_string_equal(err, "has a character not allowed in a path segment");
}


static void
test_id_lengths(void **state)
{
    char         buf[SPIFFE_ID_MAX_LEN + 2];
    size_t       n;
    const char  *err;
    spiffe_id_t  id;

    (void) state;

    /* trust domain of exactly 255 bytes, then 256 */

    memcpy(buf, "spiffe://", 9);
    memset(buf + 9, 'a', 255);
    assert_int_equal(spiffe_id_parse(buf, 9 + 255, &id, &err), 0);

    memset(buf + 9, 'a', 256);
    assert_int_equal(spiffe_id_parse(buf, 9 + 256, &id, &err),
                     SPIFFE_ERR_TD_TOO_LONG);
    assert_string_equal(err, "has a trust domain longer than 255 bytes");

    /* a whole ID of exactly 2048 bytes, then 2049 */

    memcpy(buf, "spiffe://example.org/", 21);
    n = SPIFFE_ID_MAX_LEN - 21;
    memset(buf + 21, 'x', n + 1);
    assert_int_equal(spiffe_id_parse(buf, SPIFFE_ID_MAX_LEN, &id, &err), 0);
    assert_int_equal(spiffe_id_parse(buf, SPIFFE_ID_MAX_LEN + 1, &id, &err),
                     SPIFFE_ERR_ID_TOO_LONG);
    assert_string_equal(err, "is longer than 2048 bytes");
}


static void
test_td_and_segment(void **state)
{
    const char  *err;

    (void) state;

    assert_int_equal(spiffe_td_parse("example.org", 11, &err), 0);
    assert_int_equal(spiffe_td_parse("", 0, &err), SPIFFE_ERR_TD_EMPTY);
    assert_int_equal(spiffe_td_parse("example.org/", 12, &err),
                     SPIFFE_ERR_TD_CHAR);
    assert_int_equal(spiffe_path_segment_valid("web", 3, &err), 0);
    assert_int_equal(spiffe_path_segment_valid("w/b", 3, &err),
                     SPIFFE_ERR_PATH_CHAR);
}


static void
test_td_from_string(void **state)
{
    size_t       len;
    const char  *url, *td, *err;

    (void) state;

    url = "spiffe://example.org";

    assert_int_equal(spiffe_td_from_string(url + 9, 11, &td, &len, &err),
                     SPIFFE_OK);
    assert_ptr_equal(td, url + 9);
    assert_int_equal(len, 11);

    assert_int_equal(spiffe_td_from_string(url, 20, &td, &len, &err),
                     SPIFFE_OK);
    assert_ptr_equal(td, url + 9);
    assert_int_equal(len, 11);

    /* what follows the scheme, or the whole, must be a trust domain */

    assert_int_equal(spiffe_td_from_string("spiffe://example.org/a", 22,
                                           &td, &len, &err),
                     SPIFFE_ERR_TD_CHAR);
    assert_string_equal(err,
                        "has a character not allowed in a trust domain");

    assert_int_equal(spiffe_td_from_string("spiffe://Example.org", 20, &td,
                                           &len, &err),
                     SPIFFE_ERR_TD_UPPERCASE);
    assert_string_equal(err, "has uppercase letters in the trust domain");

    assert_int_equal(spiffe_td_from_string("spiffe://", 9, &td, &len, &err),
                     SPIFFE_ERR_TD_PORT);
    assert_string_equal(err, "has a port in the trust domain");

    assert_int_equal(spiffe_td_from_string("", 0, &td, &len, &err),
                     SPIFFE_ERR_TD_EMPTY);
    assert_string_equal(err, "has an empty trust domain");

    assert_int_equal(spiffe_td_from_string("https://example.org", 19, &td,
                                           &len, &err),
                     SPIFFE_ERR_TD_PORT);
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_id_table),
        cmocka_unit_test(test_id_parts),
        cmocka_unit_test(test_id_lengths),
        cmocka_unit_test(test_td_and_segment),
        cmocka_unit_test(test_td_from_string),
    };

    return cmocka_run_group_tests_name("spiffe_id", tests, NULL, NULL);
}
