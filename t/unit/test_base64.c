
/*
 * Copyright (C) ngx_spiffe developers
 */


#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include <spiffe_base64.h>


static int
b64(const char *s, unsigned flags, const char *expect)
{
    size_t         len;
    unsigned char  out[64];

    if (spiffe_base64_decode(s, strlen(s), flags, out, &len) != 0) {
        return -1;
    }

    if (expect == NULL || len != strlen(expect)
        || memcmp(out, expect, len) != 0)
    {
        return -2;
    }

    return 0;
}


static void
test_base64(void **state)
{
    (void) state;

    assert_int_equal(b64("", SPIFFE_BASE64_URL, ""), 0);
    assert_int_equal(b64("", SPIFFE_BASE64_STD, ""), 0);
    assert_int_equal(b64("Zm9vYmFy", SPIFFE_BASE64_URL, "foobar"), 0);
    assert_int_equal(b64("Zm9vYmE", SPIFFE_BASE64_URL, "fooba"), 0);
    assert_int_equal(b64("Zm9vYg", SPIFFE_BASE64_URL, "foob"), 0);
    assert_int_equal(b64("Zm9vYmE=", SPIFFE_BASE64_STD, "fooba"), 0);
    assert_int_equal(b64("Zm9vYg==", SPIFFE_BASE64_STD, "foob"), 0);
    assert_int_equal(b64("-_-_", SPIFFE_BASE64_URL, "\xfb\xff\xbf"), 0);
    assert_int_equal(b64("+/+/", SPIFFE_BASE64_STD, "\xfb\xff\xbf"), 0);

    /* padding where it is not wanted, or missing where it is */
    assert_int_equal(b64("Zm9vYmE=", SPIFFE_BASE64_URL, NULL), -1);
    assert_int_equal(b64("Zm9vYg==", SPIFFE_BASE64_URL, NULL), -1);
    assert_int_equal(b64("Zm9vYmE", SPIFFE_BASE64_STD, NULL), -1);
    assert_int_equal(b64("Zm9vYg", SPIFFE_BASE64_STD, NULL), -1);
    assert_int_equal(b64("Zm9v=YmE", SPIFFE_BASE64_STD, NULL), -1);
    assert_int_equal(b64("Zm9vY===", SPIFFE_BASE64_STD, NULL), -1);
    assert_int_equal(b64("====", SPIFFE_BASE64_STD, NULL), -1);

    /* the other alphabet, whitespace, a lone character, unused bits */
    assert_int_equal(b64("+/+/", SPIFFE_BASE64_URL, NULL), -1);
    assert_int_equal(b64("-_-_", SPIFFE_BASE64_STD, NULL), -1);
    assert_int_equal(b64("Zm9v YmFy", SPIFFE_BASE64_URL, NULL), -1);
    assert_int_equal(b64("Zm9vY", SPIFFE_BASE64_URL, NULL), -1);
    assert_int_equal(b64("Zm9vYh", SPIFFE_BASE64_URL, NULL), -1);
    assert_int_equal(b64("Zm9vYmF", SPIFFE_BASE64_URL, NULL), -1);
    assert_int_equal(b64("Zm9vYh==", SPIFFE_BASE64_STD, NULL), -1);
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_base64),
    };

    return cmocka_run_group_tests_name("spiffe_base64", tests, NULL, NULL);
}
