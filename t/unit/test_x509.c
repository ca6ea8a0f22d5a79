
/*
 * Copyright (C) ngx_spiffe developers
 */


#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <openssl/err.h>
#include <openssl/pem.h>

#include <spiffe_x509.h>

#include "certs.h"


typedef struct {
    EVP_PKEY    *root_key;
    EVP_PKEY    *int_key;
    EVP_PKEY    *leaf_key;
    EVP_PKEY    *other_key;
    X509        *root;
    X509        *inter;
    X509        *other_root;
    X509_STORE  *store;            /* root */
} env_t;


typedef struct {
    test_cert_t   cert;
    spiffe_err_t  code;
    const char   *err;             /* NULL: accepted */
} peer_case_t;


#define LEAF_ID  "spiffe://example.org/ns/prod/sa/web"


static const peer_case_t  peer_cases[] = {

    /* accepted */
    { { "a", { LEAF_ID }, NULL, TEST_BC_LEAF, TEST_KU_DS, 0, 0, 0, 1 },
      SPIFFE_OK, NULL },
    { { "a", { LEAF_ID }, "web.example.org", TEST_BC_NONE, TEST_KU_DS,
        0, 0, 0, 1 },
      SPIFFE_OK, NULL },
    { { "a", { LEAF_ID }, NULL, TEST_BC_LEAF, TEST_KU_DS | TEST_KU_KE,
        NID_server_auth, 0, 0, 1 },
      SPIFFE_OK, NULL },

    /* SANs */
    { { "a", { NULL }, NULL, TEST_BC_LEAF, TEST_KU_DS, 0, 0, 0, 1 },
      SPIFFE_ERR_NO_URI_SAN, "no URI SAN" },
    { { "a", { NULL }, "web.example.org", TEST_BC_LEAF, TEST_KU_DS,
        0, 0, 0, 1 },
      SPIFFE_ERR_NO_URI_SAN, "no URI SAN" },
    { { "a", { LEAF_ID, "spiffe://example.org/other" }, NULL, TEST_BC_LEAF,
        TEST_KU_DS, 0, 0, 0, 1 },
      SPIFFE_ERR_TWO_URI_SANS, "2 URI SANs" },
    { { "a", { LEAF_ID, LEAF_ID, LEAF_ID }, NULL, TEST_BC_LEAF, TEST_KU_DS,
        0, 0, 0, 1 },
      SPIFFE_ERR_URI_SANS, "more than 2 URI SANs" },

    /* leaf */
    { { "a", { LEAF_ID }, NULL, TEST_BC_CA, TEST_KU_DS, 0, 0, 0, 1 },
      SPIFFE_ERR_LEAF_CA, "leaf is a CA" },
    { { "a", { LEAF_ID }, NULL, TEST_BC_LEAF, TEST_KU_DS | TEST_KU_CERT,
        0, 0, 0, 1 },
      SPIFFE_ERR_LEAF_CERT_SIGN, "leaf has keyCertSign" },
    { { "a", { LEAF_ID }, NULL, TEST_BC_LEAF, TEST_KU_DS | TEST_KU_CRL,
        0, 0, 0, 1 },
      SPIFFE_ERR_LEAF_CRL_SIGN, "leaf has cRLSign" },
    { { "a", { LEAF_ID }, NULL, TEST_BC_LEAF, TEST_KU_KE, 0, 0, 0, 1 },
      SPIFFE_ERR_NO_DIGITAL_SIGNATURE, "no digitalSignature" },
    { { "a", { LEAF_ID }, NULL, TEST_BC_LEAF, 0, 0, 0, 0, 1 },
      SPIFFE_ERR_NO_KEY_USAGE, "no keyUsage" },

    /* SPIFFE ID: its reasons in test_peer_id_reasons */
    { { "a", { "spiffe://example.org" }, NULL, TEST_BC_LEAF, TEST_KU_DS,
        0, 0, 0, 1 },
      SPIFFE_ERR_NO_PATH, "SPIFFE ID has no path" },
};


static int
setup(void **state)
{
    env_t  *env;

    env = calloc(1, sizeof(env_t));
    if (env == NULL) {
        return -1;
    }

    env->root_key = test_key();
    env->int_key = test_key();
    env->leaf_key = test_key();
    env->other_key = test_key();

    env->root = test_ca("root", env->root_key, NULL, NULL);
    env->inter = test_ca("intermediate", env->int_key, env->root,
                         env->root_key);
    env->other_root = test_ca("other root", env->other_key, NULL, NULL);

    env->store = X509_STORE_new();

    if (env->root == NULL || env->inter == NULL || env->other_root == NULL
        || env->store == NULL
        || X509_STORE_add_cert(env->store, env->root) != 1)
    {
        return -1;
    }

    *state = env;

    return 0;
}


static int
teardown(void **state)
{
    env_t  *env;

    env = *state;

    X509_STORE_free(env->store);
    X509_free(env->root);
    X509_free(env->inter);
    X509_free(env->other_root);
    EVP_PKEY_free(env->root_key);
    EVP_PKEY_free(env->int_key);
    EVP_PKEY_free(env->leaf_key);
    EVP_PKEY_free(env->other_key);
    free(env);

    return 0;
}


static void
test_peer_rules(void **state)
{
    char           buf[SPIFFE_ID_MAX_LEN + 1];
    X509          *x;
    size_t         i, len;
    const char    *err;
    spiffe_err_t   code;
    env_t         *env;

    env = *state;

    for (i = 0; i < sizeof(peer_cases) / sizeof(peer_cases[0]); i++) {
        x = test_cert(&peer_cases[i].cert, env->leaf_key, NULL, NULL);
        assert_non_null(x);

        err = NULL;

        code = spiffe_x509_peer_id(x, buf, &len, &err);

        if (code != peer_cases[i].code) {
            fail_msg("case %zu: code %d, want %d (\"%s\")", i, code,
                     peer_cases[i].code, peer_cases[i].err);
        }

        if (peer_cases[i].err == NULL) {
            assert_int_equal(len, strlen(LEAF_ID));
            assert_string_equal(buf, LEAF_ID);

        } else {
            assert_string_equal(err, peer_cases[i].err);
        }

        X509_free(x);
    }
}


static void
test_peer_id_length(void **state)
{
    char         uri[SPIFFE_ID_MAX_LEN + 2];
    char         buf[SPIFFE_ID_MAX_LEN + 1];
    X509        *x;
    size_t       len;
    const char  *err;
    env_t       *env;

    env = *state;

    /* exactly 2048 bytes: accepted */

    strcpy(uri, "spiffe://example.org/");
    memset(uri + strlen(uri), 'a', SPIFFE_ID_MAX_LEN - strlen(uri));
    uri[SPIFFE_ID_MAX_LEN] = '\0';

    x = test_leaf(uri, 1, env->leaf_key, NULL, NULL);
    assert_non_null(x);
    assert_int_equal(spiffe_x509_peer_id(x, buf, &len, &err), 0);
    assert_int_equal(len, SPIFFE_ID_MAX_LEN);
    assert_string_equal(buf, uri);
    X509_free(x);

    uri[SPIFFE_ID_MAX_LEN] = 'a';
    uri[SPIFFE_ID_MAX_LEN + 1] = '\0';

    x = test_leaf(uri, 1, env->leaf_key, NULL, NULL);
    assert_non_null(x);
    assert_int_equal(spiffe_x509_peer_id(x, buf, &len, &err),
                     SPIFFE_ERR_ID_TOO_LONG);
    assert_string_equal(err, "URI SAN is longer than 2048 bytes");
    X509_free(x);
}


/* every reason of spiffe_id_parse(), read after "URI SAN" */

static const struct {
    const char    *uri;            /* NULL: made by the test, too long */
    spiffe_err_t   code;
    const char    *err;
} uri_san_cases[] = {
    { "https://example.org/w", SPIFFE_ERR_ID_SCHEME,
      "URI SAN does not start with \"spiffe://\"" },
    { "SPIFFE://example.org/w", SPIFFE_ERR_ID_SCHEME,
      "URI SAN does not start with \"spiffe://\"" },
    { "spiffe:///w", SPIFFE_ERR_TD_EMPTY,
      "URI SAN has an empty trust domain" },
    { NULL, SPIFFE_ERR_TD_TOO_LONG,
      "URI SAN has a trust domain longer than 255 bytes" },
    { "spiffe://example.org:443/w", SPIFFE_ERR_TD_PORT,
      "URI SAN has a port in the trust domain" },
    { "spiffe://u@example.org/w", SPIFFE_ERR_TD_USERINFO,
      "URI SAN has userinfo in the trust domain" },
    { "spiffe://ex%41mple.org/w", SPIFFE_ERR_TD_PERCENT,
      "URI SAN has percent-encoding in the trust domain" },
    { "spiffe://Example.org/w", SPIFFE_ERR_TD_UPPERCASE,
      "URI SAN has uppercase letters in the trust domain" },
    { "spiffe://exa!mple.org/w", SPIFFE_ERR_TD_CHAR,
      "URI SAN has a character not allowed in a trust domain" },
    { "spiffe://example.org/w?x=1", SPIFFE_ERR_ID_QUERY,
      "URI SAN has a query" },
    { "spiffe://example.org/w#x", SPIFFE_ERR_ID_FRAGMENT,
      "URI SAN has a fragment" },
    { "spiffe://example.org/w/", SPIFFE_ERR_PATH_EMPTY_SEGMENT,
      "URI SAN has an empty path segment or a trailing \"/\"" },
    { "spiffe://example.org/a/../b", SPIFFE_ERR_PATH_DOT_SEGMENT,
      "URI SAN has a \".\" or \"..\" path segment" },
    { "spiffe://example.org/./b", SPIFFE_ERR_PATH_DOT_SEGMENT,
      "URI SAN has a \".\" or \"..\" path segment" },
    { "spiffe://example.org/a%2Fb", SPIFFE_ERR_PATH_PERCENT,
      "URI SAN has percent-encoding in the path" },
    { "spiffe://example.org/a!b", SPIFFE_ERR_PATH_CHAR,
      "URI SAN has a character not allowed in a path segment" },
    { NULL, SPIFFE_ERR_ID_TOO_LONG,
      "URI SAN is longer than 2048 bytes" },
};


static void
test_peer_id_reasons(void **state)
{
    int            seen[SPIFFE_ERR_N];
    char           uri[SPIFFE_ID_MAX_LEN + 2], want[128];
    char           buf[SPIFFE_ID_MAX_LEN + 1];
    X509          *x;
    size_t         i, len;
    const char    *err;
    spiffe_err_t   code;
    env_t         *env;

    env = *state;

    memset(seen, 0, sizeof(seen));

    for (i = 0; i < sizeof(uri_san_cases) / sizeof(uri_san_cases[0]); i++) {
        code = uri_san_cases[i].code;

        if (code == SPIFFE_ERR_TD_TOO_LONG) {
            strcpy(uri, "spiffe://");
            memset(uri + 9, 'a', SPIFFE_TD_MAX_LEN + 1);
            strcpy(uri + 9 + SPIFFE_TD_MAX_LEN + 1, "/w");

        } else if (code == SPIFFE_ERR_ID_TOO_LONG) {
            strcpy(uri, "spiffe://example.org/");
            memset(uri + 21, 'a', SPIFFE_ID_MAX_LEN + 1 - 21);
            uri[SPIFFE_ID_MAX_LEN + 1] = '\0';
        }

        x = test_leaf(uri_san_cases[i].uri ? uri_san_cases[i].uri : uri, 1,
                      env->leaf_key, NULL, NULL);
        assert_non_null(x);

        assert_int_equal(spiffe_x509_peer_id(x, buf, &len, &err), code);
        assert_string_equal(err, uri_san_cases[i].err);

        /* the text is the code's message, after "URI SAN" */

        snprintf(want, sizeof(want), "URI SAN %s", spiffe_err_text(code));
        assert_string_equal(err, want);

        seen[code] = 1;
        X509_free(x);
    }

    for (code = SPIFFE_ERR_ID_TOO_LONG; code <= SPIFFE_ERR_PATH_CHAR; code++)
    {
        if (!seen[code]) {
            fail_msg("no case for code %d", code);
        }
    }
}


static void
test_verify_chain(void **state)
{
    X509            *leaf, *x;
    const char      *err;
    env_t           *env;
    test_cert_t      c;
    X509_STORE      *partial;
    STACK_OF(X509)  *chain, *untrusted;

    env = *state;

    /* signed by the root, chain returned */

    leaf = test_leaf(LEAF_ID, 2, env->leaf_key, env->root, env->root_key);
    assert_non_null(leaf);

    chain = NULL;
    assert_int_equal(spiffe_x509_verify_chain(env->store, leaf, NULL,
                                              time(NULL), &chain, &err), 0);
    assert_int_equal(sk_X509_num(chain), 2);
    assert_int_equal(X509_cmp(sk_X509_value(chain, 1), env->root), 0);
    spiffe_x509_free_certs(chain);

    /* the same at a time past notAfter */

    assert_int_equal(spiffe_x509_verify_chain(env->store, leaf, NULL,
                                              time(NULL) + 7200, NULL, &err),
                     SPIFFE_ERR_EXPIRED);
    assert_string_equal(err, "certificate has expired");

    assert_int_equal(spiffe_x509_verify_chain(env->store, leaf, NULL,
                                              time(NULL) - 7200, NULL, &err),
                     SPIFFE_ERR_NOT_YET_VALID);
    assert_string_equal(err, "certificate is not yet valid");
    X509_free(leaf);

    /* via the intermediate, the untrusted chain with or without the leaf */

    leaf = test_leaf(LEAF_ID, 3, env->leaf_key, env->inter, env->int_key);
    assert_non_null(leaf);

    untrusted = sk_X509_new_null();
    assert_non_null(untrusted);

    assert_int_equal(spiffe_x509_verify_chain(env->store, leaf, untrusted,
                                              time(NULL), NULL, &err),
                     SPIFFE_ERR_CHAIN);
    assert_string_equal(err, X509_verify_cert_error_string(
                                 X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY));

    sk_X509_push(untrusted, env->inter);
    assert_int_equal(spiffe_x509_verify_chain(env->store, leaf, untrusted,
                                              time(NULL), NULL, &err), 0);

    sk_X509_unshift(untrusted, leaf);
    chain = NULL;
    assert_int_equal(spiffe_x509_verify_chain(env->store, leaf, untrusted,
                                              time(NULL), &chain, &err), 0);
    assert_int_equal(sk_X509_num(chain), 3);
    spiffe_x509_free_certs(chain);

    /* an intermediate in a bundle is a trust anchor, as in go-spiffe */

    partial = X509_STORE_new();
    assert_non_null(partial);
    assert_int_equal(X509_STORE_add_cert(partial, env->inter), 1);
    assert_int_equal(spiffe_x509_verify_chain(partial, leaf, NULL,
                                              time(NULL), NULL, &err), 0);
    X509_STORE_free(partial);

    sk_X509_free(untrusted);
    X509_free(leaf);

    /* another root */

    leaf = test_leaf(LEAF_ID, 4, env->leaf_key, env->other_root,
                     env->other_key);
    assert_non_null(leaf);
    assert_int_equal(spiffe_x509_verify_chain(env->store, leaf, NULL,
                                              time(NULL), NULL, &err),
                     SPIFFE_ERR_CHAIN);
    assert_string_equal(err, X509_verify_cert_error_string(
                                 X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY));
    X509_free(leaf);

    /* self-signed */

    leaf = test_leaf(LEAF_ID, 5, env->leaf_key, NULL, NULL);
    assert_non_null(leaf);
    assert_int_equal(spiffe_x509_verify_chain(env->store, leaf, NULL,
                                              time(NULL), NULL, &err),
                     SPIFFE_ERR_CHAIN);
    assert_string_equal(err, X509_verify_cert_error_string(
                                 X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT));
    X509_free(leaf);

    /* an intermediate that is not a CA */

    memset(&c, 0, sizeof(test_cert_t));
    c.cn = "not a CA";
    c.bc = TEST_BC_LEAF;
    c.ku = TEST_KU_CERT;

    x = test_cert(&c, env->int_key, env->root, env->root_key);
    assert_non_null(x);

    leaf = test_leaf(LEAF_ID, 6, env->leaf_key, x, env->int_key);
    assert_non_null(leaf);

    untrusted = sk_X509_new_null();
    assert_non_null(untrusted);
    sk_X509_push(untrusted, x);

    assert_int_equal(spiffe_x509_verify_chain(env->store, leaf, untrusted,
                                              time(NULL), NULL, &err),
                     SPIFFE_ERR_CHAIN);
    assert_string_equal(err, X509_verify_cert_error_string(
                                 X509_V_ERR_INVALID_CA));

    sk_X509_free(untrusted);
    X509_free(leaf);
    X509_free(x);
}


/* SPIFFE requires no EKU: a leaf for servers verifies as a client */

static void
test_verify_any_eku(void **state)
{
    X509         *leaf;
    const char   *err;
    env_t        *env;
    test_cert_t   c;

    env = *state;

    memset(&c, 0, sizeof(test_cert_t));
    c.cn = "server";
    c.uris[0] = LEAF_ID;
    c.bc = TEST_BC_LEAF;
    c.ku = TEST_KU_DS;
    c.eku = NID_server_auth;

    leaf = test_cert(&c, env->leaf_key, env->root, env->root_key);
    assert_non_null(leaf);
    assert_int_equal(spiffe_x509_verify_chain(env->store, leaf, NULL,
                                              time(NULL), NULL, &err), 0);
    X509_free(leaf);

    c.eku = NID_email_protect;

    leaf = test_cert(&c, env->leaf_key, env->root, env->root_key);
    assert_non_null(leaf);
    assert_int_equal(spiffe_x509_verify_chain(env->store, leaf, NULL,
                                              time(NULL), NULL, &err), 0);
    X509_free(leaf);
}


static void
test_verify_depth(void **state)
{
    int              i;
    char             cn[32];
    X509            *x, *leaf;
    EVP_PKEY        *issuer_key;
    const char      *err;
    env_t           *env;
    STACK_OF(X509)  *untrusted;

    env = *state;

    untrusted = sk_X509_new_null();
    assert_non_null(untrusted);

    x = env->root;
    issuer_key = env->root_key;

    for (i = 0; i < SPIFFE_X509_MAX_DEPTH + 2; i++) {
        snprintf(cn, sizeof(cn), "intermediate %d", i);
        x = test_ca(cn, env->int_key, x, issuer_key);
        assert_non_null(x);
        sk_X509_unshift(untrusted, x);
        issuer_key = env->int_key;
    }

    leaf = test_leaf(LEAF_ID, 7, env->leaf_key, x, env->int_key);
    assert_non_null(leaf);

    assert_int_equal(spiffe_x509_verify_chain(env->store, leaf, untrusted,
                                              time(NULL), NULL, &err),
                     SPIFFE_ERR_CHAIN);
    assert_string_equal(err, X509_verify_cert_error_string(
                                 X509_V_ERR_CERT_CHAIN_TOO_LONG));

    X509_free(leaf);
    spiffe_x509_free_certs(untrusted);
}


static void
test_svid_check(void **state)
{
    X509            *leaf, *x;
    const char      *err;
    env_t           *env;
    test_cert_t      c;
    X509_STORE      *other;
    STACK_OF(X509)  *chain;

    env = *state;

    leaf = test_leaf(LEAF_ID, 8, env->leaf_key, env->inter, env->int_key);
    assert_non_null(leaf);

    chain = sk_X509_new_null();
    assert_non_null(chain);
    sk_X509_push(chain, env->inter);

    assert_int_equal(spiffe_x509_svid_check(leaf, chain, env->leaf_key,
                                            env->store, time(NULL), &err), 0);
    assert_int_equal(spiffe_x509_svid_check(leaf, chain, env->leaf_key,
                                            NULL, time(NULL), &err), 0);

    assert_int_equal(spiffe_x509_svid_check(leaf, chain, env->other_key,
                                            env->store, time(NULL), &err),
                     -1);
    assert_string_equal(err, "private key does not match the certificate");

    assert_int_equal(spiffe_x509_svid_check(leaf, chain, env->leaf_key,
                                            env->store, time(NULL) + 7200,
                                            &err),
                     -1);
    assert_string_equal(err, "certificate has expired");

    assert_int_equal(spiffe_x509_svid_check(leaf, chain, env->leaf_key,
                                            NULL, time(NULL) - 7200, &err),
                     -1);
    assert_string_equal(err, "certificate is not yet valid");

    /* a bundle of another root */

    other = X509_STORE_new();
    assert_non_null(other);
    assert_int_equal(X509_STORE_add_cert(other, env->other_root), 1);

    assert_int_equal(spiffe_x509_svid_check(leaf, chain, env->leaf_key,
                                            other, time(NULL), &err), -1);
    assert_string_equal(err, X509_verify_cert_error_string(
                                 X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY));
    X509_STORE_free(other);

    /* chain certificates */

    memset(&c, 0, sizeof(test_cert_t));
    c.cn = "intermediate";
    c.bc = TEST_BC_LEAF;
    c.ku = TEST_KU_CERT;

    x = test_cert(&c, env->int_key, env->root, env->root_key);
    assert_non_null(x);
    sk_X509_set(chain, 0, x);

    assert_int_equal(spiffe_x509_svid_check(leaf, chain, env->leaf_key,
                                            NULL, time(NULL), &err), -1);
    assert_string_equal(err, "chain certificate is not a CA");
    X509_free(x);

    c.bc = TEST_BC_CA;
    c.ku = TEST_KU_CRL;

    x = test_cert(&c, env->int_key, env->root, env->root_key);
    assert_non_null(x);
    sk_X509_set(chain, 0, x);

    assert_int_equal(spiffe_x509_svid_check(leaf, chain, env->leaf_key,
                                            NULL, time(NULL), &err), -1);
    assert_string_equal(err, "chain certificate has no keyCertSign");
    X509_free(x);

    c.ku = 0;

    x = test_cert(&c, env->int_key, env->root, env->root_key);
    assert_non_null(x);
    sk_X509_set(chain, 0, x);

    assert_int_equal(spiffe_x509_svid_check(leaf, chain, env->leaf_key,
                                            NULL, time(NULL), &err), -1);
    assert_string_equal(err, "chain certificate has no keyCertSign");
    X509_free(x);

    c.ku = TEST_KU_CERT;
    c.from = -7200;
    c.to = -60;

    x = test_cert(&c, env->int_key, env->root, env->root_key);
    assert_non_null(x);
    sk_X509_set(chain, 0, x);

    assert_int_equal(spiffe_x509_svid_check(leaf, chain, env->leaf_key,
                                            NULL, time(NULL), &err), -1);
    assert_string_equal(err, "chain certificate has expired");
    X509_free(x);

    sk_X509_free(chain);
    X509_free(leaf);

    /* the leaf rules apply */

    memset(&c, 0, sizeof(test_cert_t));
    c.cn = "leaf";
    c.uris[0] = LEAF_ID;
    c.bc = TEST_BC_CA;
    c.ku = TEST_KU_DS;

    leaf = test_cert(&c, env->leaf_key, env->root, env->root_key);
    assert_non_null(leaf);
    assert_int_equal(spiffe_x509_svid_check(leaf, NULL, env->leaf_key,
                                            env->store, time(NULL), &err),
                     -1);
    assert_string_equal(err, "leaf is a CA");
    X509_free(leaf);

    /* an expired own SVID */

    c.bc = TEST_BC_LEAF;
    c.from = -7200;
    c.to = -1;

    leaf = test_cert(&c, env->leaf_key, env->root, env->root_key);
    assert_non_null(leaf);
    assert_int_equal(spiffe_x509_svid_check(leaf, NULL, env->leaf_key,
                                            NULL, time(NULL), &err), -1);
    assert_string_equal(err, "certificate has expired");
    X509_free(leaf);
}


static void
test_is_ca(void **state)
{
    X509         *x;
    env_t        *env;
    test_cert_t   c;

    env = *state;

    assert_true(spiffe_x509_is_ca(env->root));
    assert_true(spiffe_x509_is_ca(env->inter));

    memset(&c, 0, sizeof(test_cert_t));
    c.cn = "root without keyUsage";
    c.bc = TEST_BC_CA;

    x = test_cert(&c, env->root_key, NULL, NULL);
    assert_non_null(x);
    assert_true(spiffe_x509_is_ca(x));
    X509_free(x);

    c.ku = TEST_KU_CRL;
    x = test_cert(&c, env->root_key, NULL, NULL);
    assert_non_null(x);
    assert_false(spiffe_x509_is_ca(x));
    X509_free(x);

    x = test_leaf(LEAF_ID, 9, env->leaf_key, env->root, env->root_key);
    assert_non_null(x);
    assert_false(spiffe_x509_is_ca(x));
    X509_free(x);
}


static void
test_parse_der(void **state)
{
    X509            *certs[2];
    size_t           len, klen;
    EVP_PKEY        *pkey;
    X509_CRL        *crl;
    const char      *err;
    env_t           *env;
    unsigned char   *der, *kder;
    STACK_OF(X509)  *sk;

    env = *state;

    certs[0] = env->inter;
    certs[1] = env->root;

    der = test_der_certs(certs, 2, &len);
    assert_non_null(der);

    sk = spiffe_x509_parse_der_certs(der, len, &err);
    assert_non_null(sk);
    assert_int_equal(sk_X509_num(sk), 2);
    assert_int_equal(X509_cmp(sk_X509_value(sk, 0), env->inter), 0);
    assert_int_equal(X509_cmp(sk_X509_value(sk, 1), env->root), 0);
    spiffe_x509_free_certs(sk);

    der[len] = 0x30;
    assert_null(spiffe_x509_parse_der_certs(der, len + 1, &err));
    assert_string_equal(err, "trailing data after certificates");

    assert_null(spiffe_x509_parse_der_certs(der, len - 1, &err));
    assert_string_equal(err, "trailing data after certificates");

    assert_null(spiffe_x509_parse_der_certs(der + 1, len - 1, &err));
    assert_string_equal(err, "bad certificate");

    assert_null(spiffe_x509_parse_der_certs(der, 0, &err));
    assert_string_equal(err, "no certificate");

    free(der);

    /* keys */

    kder = test_der_key(env->leaf_key, &klen);
    assert_non_null(kder);

    pkey = spiffe_x509_parse_der_key(kder, klen, &err);
    assert_non_null(pkey);
    assert_int_equal(EVP_PKEY_eq(pkey, env->leaf_key), 1);
    EVP_PKEY_free(pkey);

    assert_null(spiffe_x509_parse_der_key(kder, klen - 1, &err));
    assert_string_equal(err, "bad PKCS#8 private key");

    assert_null(spiffe_x509_parse_der_key(kder, 0, &err));
    assert_string_equal(err, "no private key");

    der = realloc(kder, klen + 2);
    assert_non_null(der);
    der[klen] = 0;
    der[klen + 1] = 0;

    assert_null(spiffe_x509_parse_der_key(der, klen + 2, &err));
    assert_string_equal(err, "trailing data after private key");

    /* a certificate is not a key */

    free(der);
    der = test_der_certs(certs, 1, &len);
    assert_non_null(der);
    assert_null(spiffe_x509_parse_der_key(der, len, &err));
    assert_string_equal(err, "bad PKCS#8 private key");
    free(der);

    /* CRLs */

    crl = test_crl(env->root, env->root_key, NULL, 0);
    assert_non_null(crl);
    der = test_der_crl(crl, &len);
    assert_non_null(der);
    X509_CRL_free(crl);

    crl = spiffe_x509_parse_der_crl(der, len, &err);
    assert_non_null(crl);
    X509_CRL_free(crl);

    assert_null(spiffe_x509_parse_der_crl(der, len - 1, &err));
    assert_string_equal(err, "bad CRL");

    der = realloc(der, len + 1);
    assert_non_null(der);
    der[len] = 0;
    assert_null(spiffe_x509_parse_der_crl(der, len + 1, &err));
    assert_string_equal(err, "bad CRL");

    free(der);

    assert_int_equal(ERR_peek_error(), 0);
}


static const char  bad_cert_pem[] =
    "-----BEGIN CERTIFICATE-----\n"
    "MAMCAQE=\n"
    "-----END CERTIFICATE-----\n";


static char *
pem_of(BIO *bio, size_t *len)
{
    char  *data, *copy;
    long   n;

    *len = 0;

    n = BIO_get_mem_data(bio, &data);
    copy = malloc(n + 1);

    if (copy != NULL) {
        memcpy(copy, data, n);
        copy[n] = '\0';
        *len = n;
    }

    BIO_free(bio);

    return copy;
}


static void
test_parse_pem(void **state)
{
    BIO             *bio;
    char            *pem, *p;
    size_t           len;
    EVP_PKEY        *pkey;
    const char      *err;
    env_t           *env;
    STACK_OF(X509)  *sk;

    env = *state;

    /* certificates among text and a key */

    bio = BIO_new(BIO_s_mem());
    assert_non_null(bio);
    BIO_puts(bio, "subject=intermediate\n");
    assert_int_equal(PEM_write_bio_X509(bio, env->inter), 1);
    assert_int_equal(PEM_write_bio_PrivateKey(bio, env->leaf_key, NULL, NULL,
                                              0, NULL, NULL),
                     1);
    assert_int_equal(PEM_write_bio_X509(bio, env->root), 1);
    pem = pem_of(bio, &len);
    assert_non_null(pem);

    sk = spiffe_x509_parse_pem_certs(pem, len, &err);
    assert_non_null(sk);
    assert_int_equal(sk_X509_num(sk), 2);
    assert_int_equal(X509_cmp(sk_X509_value(sk, 0), env->inter), 0);
    assert_int_equal(X509_cmp(sk_X509_value(sk, 1), env->root), 0);
    spiffe_x509_free_certs(sk);

    /* the key in the same file */

    pkey = spiffe_x509_parse_pem_key(pem, len, &err);
    assert_non_null(pkey);
    assert_int_equal(EVP_PKEY_eq(pkey, env->leaf_key), 1);
    EVP_PKEY_free(pkey);

    /* a broken base64 body */

    p = strstr(pem, "-----BEGIN CERTIFICATE-----\n");
    assert_non_null(p);
    p[sizeof("-----BEGIN CERTIFICATE-----\n")] = '*';

    assert_null(spiffe_x509_parse_pem_certs(pem, len, &err));
    assert_string_equal(err, "bad PEM");

    /* base64 that is not a certificate */

    assert_null(spiffe_x509_parse_pem_certs(bad_cert_pem,
                                            sizeof(bad_cert_pem) - 1, &err));
    assert_string_equal(err, "bad certificate");

    assert_null(spiffe_x509_parse_pem_certs("no PEM here\n", 12, &err));
    assert_string_equal(err, "no certificate");

    assert_null(spiffe_x509_parse_pem_certs("", 0, &err));
    assert_string_equal(err, "no certificate");

    assert_null(spiffe_x509_parse_pem_key("", 0, &err));
    assert_string_equal(err, "no private key");

    free(pem);

    /* a certificate only */

    bio = BIO_new(BIO_s_mem());
    assert_non_null(bio);
    assert_int_equal(PEM_write_bio_X509(bio, env->root), 1);
    pem = pem_of(bio, &len);
    assert_non_null(pem);
    assert_null(spiffe_x509_parse_pem_key(pem, len, &err));
    assert_string_equal(err, "no private key");
    free(pem);

    /* two keys */

    bio = BIO_new(BIO_s_mem());
    assert_non_null(bio);
    assert_int_equal(PEM_write_bio_PrivateKey(bio, env->leaf_key, NULL, NULL,
                                              0, NULL, NULL),
                     1);
    assert_int_equal(PEM_write_bio_PrivateKey(bio, env->root_key, NULL, NULL,
                                              0, NULL, NULL),
                     1);
    pem = pem_of(bio, &len);
    assert_non_null(pem);
    assert_null(spiffe_x509_parse_pem_key(pem, len, &err));
    assert_string_equal(err, "more than one private key");
    free(pem);

    /* encrypted PKCS#8 */

    bio = BIO_new(BIO_s_mem());
    assert_non_null(bio);
    assert_int_equal(PEM_write_bio_PKCS8PrivateKey(bio, env->leaf_key,
                                                   EVP_aes_128_cbc(),
                                                   "secret", 6, NULL, NULL),
                     1);
    pem = pem_of(bio, &len);
    assert_non_null(pem);
    assert_non_null(strstr(pem, "ENCRYPTED PRIVATE KEY"));
    assert_null(spiffe_x509_parse_pem_key(pem, len, &err));
    assert_string_equal(err, "private key is encrypted");
    free(pem);

    /* traditional, plain and encrypted */

    bio = BIO_new(BIO_s_mem());
    assert_non_null(bio);
    assert_int_equal(PEM_write_bio_PrivateKey_traditional(bio, env->leaf_key,
                                                          NULL, NULL, 0,
                                                          NULL, NULL),
                     1);
    pem = pem_of(bio, &len);
    assert_non_null(pem);
    assert_non_null(strstr(pem, "EC PRIVATE KEY"));
    assert_null(spiffe_x509_parse_pem_key(pem, len, &err));
    assert_string_equal(err, "private key is not PKCS#8");
    free(pem);

    bio = BIO_new(BIO_s_mem());
    assert_non_null(bio);
    assert_int_equal(PEM_write_bio_PrivateKey_traditional(
                         bio, env->leaf_key, EVP_aes_128_cbc(),
                         (unsigned char *) "secret", 6, NULL, NULL),
                     1);
    pem = pem_of(bio, &len);
    assert_non_null(pem);
    assert_non_null(strstr(pem, "Proc-Type: 4,ENCRYPTED"));
    assert_null(spiffe_x509_parse_pem_key(pem, len, &err));
    assert_string_equal(err, "private key is encrypted");
    free(pem);

    assert_int_equal(ERR_peek_error(), 0);
}


/*
 * A PEM block of type name holding der and, when extra, one more byte:
 * the CRL reader (crls) or the certificate reader refuses it with want.
 */

static void
block_refused(const char *name, const unsigned char *der, size_t len,
    int extra, int crls, const char *want)
{
    BIO            *bio;
    char           *pem;
    void           *objs;
    size_t          n;
    const char     *err;
    unsigned char  *buf;

    buf = malloc(len + 1);
    assert_non_null(buf);
    memcpy(buf, der, len);
    buf[len] = 0;

    bio = BIO_new(BIO_s_mem());
    assert_non_null(bio);
    assert_true(PEM_write_bio(bio, name, "", buf, (long) len + extra) > 0);
    free(buf);

    pem = pem_of(bio, &n);
    assert_non_null(pem);

    err = NULL;
    objs = crls ? (void *) spiffe_x509_parse_pem_crls(pem, n, &err)
                : (void *) spiffe_x509_parse_pem_certs(pem, n, &err);
    assert_null(objs);
    assert_string_equal(err, want);

    free(pem);
}


static int
same_crl(X509_CRL *a, X509_CRL *b)
{
    int             rc;
    size_t          alen, blen;
    unsigned char  *ader, *bder;

    ader = test_der_crl(a, &alen);
    bder = test_der_crl(b, &blen);

    rc = ader != NULL && bder != NULL && alen == blen
         && memcmp(ader, bder, alen) == 0;

    free(ader);
    free(bder);

    return rc;
}


static void
test_parse_pem_crls(void **state)
{
    BIO                 *bio;
    long                 serial;
    char                *pem, *p;
    size_t               len, dlen;
    X509_CRL            *a, *b;
    const char          *err;
    env_t               *env;
    unsigned char       *der;
    STACK_OF(X509)      *sk;
    STACK_OF(X509_CRL)  *crls;

    env = *state;

    serial = 7;
    a = test_crl(env->root, env->root_key, &serial, 1);
    b = test_crl(env->inter, env->int_key, NULL, 0);
    assert_non_null(a);
    assert_non_null(b);

    /* two CRLs among text, a certificate and a key, in their order */

    bio = BIO_new(BIO_s_mem());
    assert_non_null(bio);
    BIO_puts(bio, "issuer=root\n");
    assert_int_equal(PEM_write_bio_X509_CRL(bio, a), 1);
    assert_int_equal(PEM_write_bio_X509(bio, env->root), 1);
    assert_int_equal(PEM_write_bio_PrivateKey(bio, env->leaf_key, NULL, NULL,
                                              0, NULL, NULL),
                     1);
    assert_int_equal(PEM_write_bio_X509_CRL(bio, b), 1);
    pem = pem_of(bio, &len);
    assert_non_null(pem);

    crls = spiffe_x509_parse_pem_crls(pem, len, &err);
    assert_non_null(crls);
    assert_int_equal(sk_X509_CRL_num(crls), 2);
    assert_true(same_crl(sk_X509_CRL_value(crls, 0), a));
    assert_true(same_crl(sk_X509_CRL_value(crls, 1), b));
    sk_X509_CRL_pop_free(crls, X509_CRL_free);

    /* the certificate reader skips the CRLs, and the other way round */

    sk = spiffe_x509_parse_pem_certs(pem, len, &err);
    assert_non_null(sk);
    assert_int_equal(sk_X509_num(sk), 1);
    assert_int_equal(X509_cmp(sk_X509_value(sk, 0), env->root), 0);
    spiffe_x509_free_certs(sk);

    /* a broken base64 body in the second CRL */

    p = strstr(pem + 1, "-----BEGIN X509 CRL-----\n");
    p = strstr(p + 1, "-----BEGIN X509 CRL-----\n");
    assert_non_null(p);
    p[sizeof("-----BEGIN X509 CRL-----\n")] = '*';

    assert_null(spiffe_x509_parse_pem_crls(pem, len, &err));
    assert_string_equal(err, "bad PEM");

    free(pem);

    /* no CRL: nothing, text (a certificate only below) */

    assert_null(spiffe_x509_parse_pem_crls("", 0, &err));
    assert_string_equal(err, "no CRL");

    assert_null(spiffe_x509_parse_pem_crls("no PEM here\n", 12, &err));
    assert_string_equal(err, "no CRL");

    /* a certificate in a CRL block and back; a byte after the DER */

    der = test_der_certs(&env->root, 1, &dlen);
    assert_non_null(der);
    block_refused("CERTIFICATE", der, dlen, 0, 1, "no CRL");
    block_refused("X509 CRL", der, dlen, 0, 1, "bad CRL");
    block_refused("CERTIFICATE", der, dlen, 1, 0, "bad certificate");
    free(der);

    der = test_der_crl(b, &dlen);
    assert_non_null(der);
    block_refused("CERTIFICATE", der, dlen, 0, 0, "bad certificate");
    block_refused("X509 CRL", der, dlen, 1, 1, "bad CRL");
    free(der);

    X509_CRL_free(a);
    X509_CRL_free(b);

    assert_int_equal(ERR_peek_error(), 0);
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_peer_rules),
        cmocka_unit_test(test_peer_id_length),
        cmocka_unit_test(test_peer_id_reasons),
        cmocka_unit_test(test_verify_chain),
        cmocka_unit_test(test_verify_any_eku),
        cmocka_unit_test(test_verify_depth),
        cmocka_unit_test(test_svid_check),
        cmocka_unit_test(test_is_ca),
        cmocka_unit_test(test_parse_der),
        cmocka_unit_test(test_parse_pem),
        cmocka_unit_test(test_parse_pem_crls),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
