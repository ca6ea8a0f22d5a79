
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

#include <spiffe_xfcc.h>


#define PEM  "-----BEGIN CERTIFICATE-----\nMIIB+a/Zz09==\n" \
             "-----END CERTIFICATE-----\n"
#define PEM_ENCODED  "-----BEGIN%20CERTIFICATE-----%0AMIIB%2Ba%2FZz09%3D%3D" \
                     "%0A-----END%20CERTIFICATE-----%0A"


typedef struct {
    const char  *in;
    const char  *out;
} value_case_t;


static const value_case_t  value_cases[] = {
    { "", "" },
    { "spiffe://example.org/ns/prod/sa/web",
      "spiffe://example.org/ns/prod/sa/web" },
    { "a,b", "\"a,b\"" },
    { "a;b", "\"a;b\"" },
    { "a=b", "\"a=b\"" },
    { "say \"hi\"", "say \\\"hi\\\"" },
    { "k=\"v\"", "\"k=\\\"v\\\"\"" },
    { "a\\b", "a\\b" },
};


static char *
element(const spiffe_xfcc_t *x)
{
    char    *buf;
    size_t   len, n;

    len = spiffe_xfcc_element(NULL, x);

    buf = malloc(len + 1);
    assert_non_null(buf);

    n = spiffe_xfcc_element(buf, x);
    assert_int_equal(n, len);
    buf[n] = '\0';

    return buf;
}


static void
test_value(void **state)
{
    char    buf[64];
    size_t  i, len, n;

    (void) state;

    for (i = 0; i < sizeof(value_cases) / sizeof(value_cases[0]); i++) {
        len = spiffe_xfcc_value(NULL, value_cases[i].in,
                                strlen(value_cases[i].in));
        n = spiffe_xfcc_value(buf, value_cases[i].in,
                              strlen(value_cases[i].in));
        assert_int_equal(n, len);
        buf[n] = '\0';
        assert_string_equal(buf, value_cases[i].out);
    }
}


static void
test_element_plain(void **state)
{
    char                 *s;
    spiffe_xfcc_t         x;
    const unsigned char   hash[] = { 0x00, 0x1f, 0xa0, 0xff };

    (void) state;

    memset(&x, 0, sizeof(x));
    x.by = "spiffe://example.org/gw";
    x.by_len = strlen(x.by);
    x.hash = hash;
    x.hash_len = sizeof(hash);
    x.uri = "spiffe://example.org/web";
    x.uri_len = strlen(x.uri);

    s = element(&x);
    assert_string_equal(s, "By=spiffe://example.org/gw;Hash=001fa0ff;"
                           "URI=spiffe://example.org/web");
    free(s);
}


/* Envoy's order: By, Hash, Cert, Chain, Subject, URI, DNS */

static void
test_element_details(void **state)
{
    char                 *s;
    spiffe_xfcc_t         x;
    const char           *dns[] = { "web.example.org", "a,b.example",
                                    "evil\r\nX-Injected: 1", "caf\xc3\xa9",
                                    "x.example" };
    size_t                dns_len[5];
    size_t                i;
    const unsigned char   hash[] = { 0xab };

    (void) state;

    for (i = 0; i < 5; i++) {
        dns_len[i] = strlen(dns[i]);
    }

    memset(&x, 0, sizeof(x));
    x.by = "spiffe://example.org/gw";
    x.by_len = strlen(x.by);
    x.hash = hash;
    x.hash_len = sizeof(hash);
    x.cert = PEM;
    x.cert_len = strlen(PEM);
    x.chain = PEM PEM;
    x.chain_len = 2 * strlen(PEM);
    x.subject = "CN=say \\\"hi\\\",O=Acme\\, Inc.";
    x.subject_len = strlen(x.subject);
    x.uri = "spiffe://example.org/web";
    x.uri_len = strlen(x.uri);
    x.dns = dns;
    x.dns_len = dns_len;
    x.ndns = 5;

    s = element(&x);
    assert_string_equal(s,
        "By=spiffe://example.org/gw;Hash=ab;"
        "Cert=\"" PEM_ENCODED "\";"
        "Chain=\"" PEM_ENCODED PEM_ENCODED "\";"
        "Subject=\"CN=say \\\"hi\\\",O=Acme\\, Inc.\";"
        "URI=spiffe://example.org/web;"
        "DNS=web.example.org;DNS=\"a,b.example\";DNS=x.example");
    free(s);

    /* an empty subject is still written, as Envoy does */

    memset(&x, 0, sizeof(x));
    x.by = "spiffe://example.org/gw";
    x.by_len = strlen(x.by);
    x.subject = "";

    s = element(&x);
    assert_string_equal(s, "By=spiffe://example.org/gw;Subject=\"\"");
    free(s);
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_value),
        cmocka_unit_test(test_element_plain),
        cmocka_unit_test(test_element_details),
    };

    return cmocka_run_group_tests_name("spiffe_xfcc", tests, NULL, NULL);
}
