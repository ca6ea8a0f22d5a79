
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
#include <spiffe_base64.h>
#include <spiffe_jwks.h>

#include "certs.h"
#include "jose.h"


typedef struct {
    EVP_PKEY    *ec256;
    EVP_PKEY    *ec384;
    EVP_PKEY    *ec521;
    EVP_PKEY    *rsa;
    EVP_PKEY    *rsa1024;
    EVP_PKEY    *ca_key;
    X509        *ca;
    X509        *leaf;
} env_t;


static int
setup(void **state)
{
    env_t  *env;

    env = calloc(1, sizeof(env_t));
    assert_non_null(env);

    env->ec256 = EVP_EC_gen("P-256");
    env->ec384 = EVP_EC_gen("P-384");
    env->ec521 = EVP_EC_gen("P-521");
    env->rsa = EVP_RSA_gen(2048);
    env->rsa1024 = EVP_RSA_gen(1024);
    env->ca_key = test_key();

    assert_non_null(env->ec256);
    assert_non_null(env->ec384);
    assert_non_null(env->ec521);
    assert_non_null(env->rsa);
    assert_non_null(env->rsa1024);
    assert_non_null(env->ca_key);

    env->ca = test_ca("root", env->ca_key, NULL, NULL);
    env->leaf = test_leaf("spiffe://example.org/w", 2, env->ec256, env->ca,
                          env->ca_key);

    assert_non_null(env->ca);
    assert_non_null(env->leaf);

    *state = env;

    return 0;
}


static int
teardown(void **state)
{
    env_t  *env;

    env = *state;

    EVP_PKEY_free(env->ec256);
    EVP_PKEY_free(env->ec384);
    EVP_PKEY_free(env->ec521);
    EVP_PKEY_free(env->rsa);
    EVP_PKEY_free(env->rsa1024);
    EVP_PKEY_free(env->ca_key);
    X509_free(env->ca);
    X509_free(env->leaf);
    free(env);

    return 0;
}


/* doc is consumed */

static spiffe_jwks_t *
parse(json_t *doc, const char **err)
{
    char           *s;
    spiffe_jwks_t  *jwks;

    assert_non_null(doc);
    s = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    assert_non_null(s);

    *err = NULL;
    jwks = spiffe_jwks_parse(s, strlen(s), err);
    free(s);

    assert_int_equal(ERR_peek_error(), 0);

    return jwks;
}


static spiffe_jwks_t *
parse_str(const char *s, const char **err)
{
    *err = NULL;

    return spiffe_jwks_parse(s, strlen(s), err);
}


static void
test_all_key_types(void **state)
{
    env_t               *env;
    json_t              *doc, *keys;
    const char          *err;
    uint64_t             seq;
    spiffe_jwks_t       *jwks;
    const spiffe_jwk_t  *k;

    env = *state;

    doc = jose_jwks(jose_jwk(env->ec256, "k256"), jose_jwk(env->ec384, "k384"),
                 jose_jwk(env->ec521, "k521"));
    keys = json_object_get(doc, "keys");
    json_array_append_new(keys, jose_jwk(env->rsa, "krsa"));
    json_array_append_new(keys, jose_x509_jwk(env->ca));

    jwks = parse(doc, &err);
    assert_non_null(jwks);

    assert_int_equal(spiffe_jwks_nkeys(jwks), 4);
    assert_int_equal(spiffe_jwks_nignored(jwks), 0);
    assert_int_equal(sk_X509_num(spiffe_jwks_x509_authorities(jwks)), 1);
    assert_int_equal(X509_cmp(sk_X509_value(
                                  spiffe_jwks_x509_authorities(jwks), 0),
                              env->ca),
                     0);

    k = spiffe_jwks_find(jwks, "k256", 4);
    assert_non_null(k);
    assert_int_equal(k->type, SPIFFE_JWK_EC_P256);
    assert_string_equal(k->kid, "k256");
    assert_int_equal(EVP_PKEY_eq(k->pkey, env->ec256), 1);

    k = spiffe_jwks_find(jwks, "k384", 4);
    assert_non_null(k);
    assert_int_equal(k->type, SPIFFE_JWK_EC_P384);
    assert_int_equal(EVP_PKEY_eq(k->pkey, env->ec384), 1);

    k = spiffe_jwks_find(jwks, "k521", 4);
    assert_non_null(k);
    assert_int_equal(k->type, SPIFFE_JWK_EC_P521);
    assert_int_equal(EVP_PKEY_eq(k->pkey, env->ec521), 1);

    k = spiffe_jwks_find(jwks, "krsa", 4);
    assert_non_null(k);
    assert_int_equal(k->type, SPIFFE_JWK_RSA);
    assert_int_equal(EVP_PKEY_eq(k->pkey, env->rsa), 1);

    assert_null(spiffe_jwks_find(jwks, "k25", 3));
    assert_null(spiffe_jwks_find(jwks, "k2566", 5));
    assert_null(spiffe_jwks_find(jwks, "", 0));

    assert_non_null(spiffe_jwks_key(jwks, 3));
    assert_null(spiffe_jwks_key(jwks, 4));

    assert_int_equal(spiffe_jwks_sequence(jwks, &seq), -1);
    assert_int_equal(spiffe_jwks_refresh_hint(jwks), 0);

    assert_ptr_equal(spiffe_jwks_ref(jwks), jwks);
    spiffe_jwks_unref(jwks);
    spiffe_jwks_unref(jwks);
    spiffe_jwks_unref(NULL);
}


static void
test_not_a_bundle(void **state)
{
    const char  *err;

    (void) state;

    assert_null(parse_str("", &err));
    assert_string_equal(err, "bundle is not valid JSON");

    assert_null(parse_str("{\"keys\": []", &err));
    assert_string_equal(err, "bundle is not valid JSON");

    assert_null(parse_str("{\"keys\": []} x", &err));
    assert_string_equal(err, "bundle is not valid JSON");

    assert_null(parse_str("{\"keys\": [], \"keys\": []}", &err));
    assert_string_equal(err, "bundle is not valid JSON");

    assert_null(parse_str("[]", &err));
    assert_string_equal(err, "bundle is not a JSON object");

    assert_null(parse_str("{}", &err));
    assert_string_equal(err, "bundle has no \"keys\" array");

    assert_null(parse_str("{\"spiffe_sequence\": 1}", &err));
    assert_string_equal(err, "bundle has no \"keys\" array");

    assert_null(parse_str("{\"keys\": {}}", &err));
    assert_string_equal(err, "bundle has no \"keys\" array");

    assert_null(parse_str("{\"keys\": null}", &err));
    assert_string_equal(err, "bundle has no \"keys\" array");
}


static void
test_empty_keys(void **state)
{
    const char     *err;
    spiffe_jwks_t  *jwks;

    (void) state;

    /* the trust domain revoked everything: valid, trusts nothing */

    jwks = parse_str("{\"keys\": []}", &err);
    assert_non_null(jwks);
    assert_int_equal(spiffe_jwks_nkeys(jwks), 0);
    assert_int_equal(spiffe_jwks_nignored(jwks), 0);
    assert_non_null(spiffe_jwks_x509_authorities(jwks));
    assert_int_equal(sk_X509_num(spiffe_jwks_x509_authorities(jwks)), 0);
    assert_null(spiffe_jwks_find(jwks, "a", 1));
    spiffe_jwks_unref(jwks);
}


static void
test_sequence_refresh_hint(void **state)
{
    const char     *err;
    uint64_t        seq;
    spiffe_jwks_t  *jwks;

    (void) state;

    jwks = parse_str("{\"keys\": [], \"spiffe_sequence\": 42,"
                     " \"spiffe_refresh_hint\": 60}", &err);
    assert_non_null(jwks);
    assert_int_equal(spiffe_jwks_sequence(jwks, &seq), 0);
    assert_int_equal(seq, 42);
    assert_int_equal(spiffe_jwks_refresh_hint(jwks), 60);
    spiffe_jwks_unref(jwks);

    jwks = parse_str("{\"keys\": [], \"spiffe_sequence\": 0}", &err);
    assert_non_null(jwks);
    assert_int_equal(spiffe_jwks_sequence(jwks, &seq), 0);
    assert_int_equal(seq, 0);
    assert_int_equal(spiffe_jwks_refresh_hint(jwks), 0);
    spiffe_jwks_unref(jwks);

    jwks = parse_str("{\"keys\": [],"
                     " \"spiffe_sequence\": 9223372036854775807}", &err);
    assert_non_null(jwks);
    assert_int_equal(spiffe_jwks_sequence(jwks, &seq), 0);
    assert_true(seq == UINT64_C(9223372036854775807));
    spiffe_jwks_unref(jwks);

    assert_null(parse_str("{\"keys\": [], \"spiffe_sequence\": -1}", &err));
    assert_string_equal(err, "bad \"spiffe_sequence\"");

    assert_null(parse_str("{\"keys\": [], \"spiffe_sequence\": \"1\"}",
                          &err));
    assert_string_equal(err, "bad \"spiffe_sequence\"");

    assert_null(parse_str("{\"keys\": [], \"spiffe_sequence\": 1.5}", &err));
    assert_string_equal(err, "bad \"spiffe_sequence\"");

    assert_null(parse_str("{\"keys\": [], \"spiffe_refresh_hint\": -5}",
                          &err));
    assert_string_equal(err, "bad \"spiffe_refresh_hint\"");

    assert_null(parse_str("{\"keys\": [], \"spiffe_refresh_hint\": null}",
                          &err));
    assert_string_equal(err, "bad \"spiffe_refresh_hint\"");
}


static void
test_unknown_ignored(void **state)
{
    env_t          *env;
    json_t         *k1, *k2, *k3, *doc;
    const char     *err;
    spiffe_jwks_t  *jwks;

    env = *state;

    /* unknown use, no use, unknown kty: those keys only */

    k1 = jose_jwk(env->ec256, "enc");
    json_object_set_new(k1, "use", json_string("enc"));
    k2 = jose_jwk(env->ec256, "nouse");
    json_object_del(k2, "use");
    k3 = json_pack("{s:s, s:s, s:s, s:s, s:s}", "use", "jwt-svid",
                   "kid", "okp", "kty", "OKP", "crv", "Ed25519",
                   "x", "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo");

    doc = jose_jwks(k1, k2, k3);
    json_array_append_new(json_object_get(doc, "keys"),
                          jose_jwk(env->ec256, "good"));
    json_array_append_new(json_object_get(doc, "keys"), json_string("x"));
    json_array_append_new(json_object_get(doc, "keys"), json_null());
    json_array_append_new(json_object_get(doc, "keys"),
                          json_pack("{s:i}", "use", 1));

    jwks = parse(doc, &err);
    assert_non_null(jwks);
    assert_int_equal(spiffe_jwks_nkeys(jwks), 1);
    assert_int_equal(spiffe_jwks_nignored(jwks), 6);
    assert_non_null(spiffe_jwks_find(jwks, "good", 4));
    assert_null(spiffe_jwks_find(jwks, "enc", 3));
    assert_null(spiffe_jwks_find(jwks, "okp", 3));
    spiffe_jwks_unref(jwks);

    /* an unknown curve and an EC key without crv */

    k1 = jose_jwk(env->ec256, "k1");
    json_object_set_new(k1, "crv", json_string("secp256k1"));
    k2 = jose_jwk(env->ec256, "k2");
    json_object_del(k2, "crv");
    k3 = jose_jwk(env->ec256, "k3");
    json_object_del(k3, "kty");

    jwks = parse(jose_jwks(k1, k2, k3), &err);
    assert_non_null(jwks);
    assert_int_equal(spiffe_jwks_nkeys(jwks), 0);
    assert_int_equal(spiffe_jwks_nignored(jwks), 3);
    spiffe_jwks_unref(jwks);
}


static void
test_kid(void **state)
{
    env_t               *env;
    json_t              *k1, *k2, *k3;
    const char          *err;
    spiffe_jwks_t       *jwks;
    const spiffe_jwk_t  *k;

    env = *state;

    /* duplicate kid: the first wins; no kid or an empty one: ignored */

    k1 = jose_jwk(env->ec256, "dup");
    k2 = jose_jwk(env->ec384, "dup");
    k3 = jose_jwk(env->ec521, NULL);

    jwks = parse(jose_jwks(k1, k2, k3), &err);
    assert_non_null(jwks);
    assert_int_equal(spiffe_jwks_nkeys(jwks), 1);
    assert_int_equal(spiffe_jwks_nignored(jwks), 2);

    k = spiffe_jwks_find(jwks, "dup", 3);
    assert_non_null(k);
    assert_int_equal(k->type, SPIFFE_JWK_EC_P256);
    assert_int_equal(EVP_PKEY_eq(k->pkey, env->ec256), 1);
    spiffe_jwks_unref(jwks);

    k1 = jose_jwk(env->ec256, "");
    k2 = jose_jwk(env->ec256, "x");
    json_object_set_new(k2, "kid", json_integer(7));

    jwks = parse(jose_jwks(k1, k2, NULL), &err);
    assert_non_null(jwks);
    assert_int_equal(spiffe_jwks_nkeys(jwks), 0);
    assert_int_equal(spiffe_jwks_nignored(jwks), 2);
    spiffe_jwks_unref(jwks);

    /* a broken first key does not hide a good second one */

    k1 = jose_jwk(env->ec256, "k");
    json_object_set_new(k1, "x", json_string("AAAA"));
    k2 = jose_jwk(env->ec384, "k");

    jwks = parse(jose_jwks(k1, k2, NULL), &err);
    assert_non_null(jwks);
    k = spiffe_jwks_find(jwks, "k", 1);
    assert_non_null(k);
    assert_int_equal(k->type, SPIFFE_JWK_EC_P384);
    spiffe_jwks_unref(jwks);
}


/* a member of a JWK: its last byte plus delta, its first trim bytes gone */

static void
jwk_mangle(json_t *jwk, const char *name, int delta, int trim)
{
    char           *s;
    size_t          len;
    const char     *v;
    unsigned char   buf[1100];

    v = json_string_value(json_object_get(jwk, name));
    assert_non_null(v);
    assert_int_equal(spiffe_base64_decode(v, strlen(v), SPIFFE_BASE64_URL,
                                          buf, &len),
                     0);

    buf[len - 1] = (unsigned char) (buf[len - 1] + delta);

    s = jose_b64(buf + trim, len - trim, 1);
    json_object_set_new(jwk, name, json_string(s));
    free(s);
}


static void
test_ec_material(void **state)
{
    env_t          *env;
    json_t         *k1, *k2, *k3;
    const char     *err;
    spiffe_jwks_t  *jwks;

    env = *state;

    /* a point off the curve, P-521 y changed, a coordinate one byte short */

    k1 = jose_jwk(env->ec256, "off");
    jwk_mangle(k1, "y", 1, 0);
    k2 = jose_jwk(env->ec521, "off521");
    jwk_mangle(k2, "y", 1, 0);
    k3 = jose_jwk(env->ec384, "short");
    jwk_mangle(k3, "x", 0, 1);

    jwks = parse(jose_jwks(k1, k2, k3), &err);
    assert_non_null(jwks);
    assert_int_equal(spiffe_jwks_nkeys(jwks), 0);
    assert_int_equal(spiffe_jwks_nignored(jwks), 3);
    spiffe_jwks_unref(jwks);

    /* curve and coordinates that disagree; padding; standard alphabet */

    k1 = jose_jwk(env->ec256, "crv");
    json_object_set_new(k1, "crv", json_string("P-384"));

    k2 = jose_jwk(env->ec256, "pad");
    json_object_set_new(k2, "x",
                        json_pack("s++", json_string_value(
                                             json_object_get(k2, "x")),
                                  "=", ""));

    k3 = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "use", "jwt-svid",
                   "kid", "ok", "kty", "EC", "crv", "P-256", "x", "", "y", "");

    jwks = parse(jose_jwks(k1, k2, k3), &err);
    assert_non_null(jwks);
    assert_int_equal(spiffe_jwks_nkeys(jwks), 0);
    assert_int_equal(spiffe_jwks_nignored(jwks), 3);
    spiffe_jwks_unref(jwks);

    /* the point at infinity */

    k1 = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "use", "jwt-svid",
                   "kid", "inf", "kty", "EC", "crv", "P-256",
                   "x", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
                   "y", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");

    jwks = parse(jose_jwks(k1, NULL, NULL), &err);
    assert_non_null(jwks);
    assert_int_equal(spiffe_jwks_nkeys(jwks), 0);
    spiffe_jwks_unref(jwks);
}


static void
test_rsa_material(void **state)
{
    env_t          *env;
    json_t         *k1, *k2, *k3;
    const char     *err;
    spiffe_jwks_t  *jwks;

    env = *state;

    /* under 2048 bits, an even exponent, an exponent of 1 */

    k1 = jose_jwk(env->rsa1024, "small");
    k2 = jose_jwk(env->rsa, "even");
    json_object_set_new(k2, "e", json_string("AQAA"));
    k3 = jose_jwk(env->rsa, "one");
    json_object_set_new(k3, "e", json_string("AQ"));

    jwks = parse(jose_jwks(k1, k2, k3), &err);
    assert_non_null(jwks);
    assert_int_equal(spiffe_jwks_nkeys(jwks), 0);
    assert_int_equal(spiffe_jwks_nignored(jwks), 3);
    spiffe_jwks_unref(jwks);

    /* 2047 bits: the modulus less its top byte; no n; an even modulus */

    k1 = jose_jwk(env->rsa, "2040");
    jwk_mangle(k1, "n", 0, 1);
    k2 = jose_jwk(env->rsa, "non");
    json_object_del(k2, "n");
    k3 = jose_jwk(env->rsa, "evenn");
    jwk_mangle(k3, "n", 1, 0);

    jwks = parse(jose_jwks(k1, k2, k3), &err);
    assert_non_null(jwks);
    assert_int_equal(spiffe_jwks_nkeys(jwks), 0);
    spiffe_jwks_unref(jwks);

    /* a leading zero byte changes nothing */

    k1 = jose_jwk(env->rsa, "lead");
    json_object_set_new(k1, "e", json_string("AAEAAQ"));

    jwks = parse(jose_jwks(k1, NULL, NULL), &err);
    assert_non_null(jwks);
    assert_int_equal(spiffe_jwks_nkeys(jwks), 1);
    assert_int_equal(EVP_PKEY_eq(spiffe_jwks_key(jwks, 0)->pkey, env->rsa),
                     1);
    spiffe_jwks_unref(jwks);
}


static void
test_x5c(void **state)
{
    int             n;
    X509           *ca;
    env_t          *env;
    char           *s;
    json_t         *k1, *k2, *k3, *x5c;
    const char     *err, *v;
    unsigned char  *der, *buf;
    spiffe_jwks_t  *jwks;

    env = *state;

    /* not a CA; not base64; a base64url character */

    k1 = jose_x509_jwk(env->leaf);
    k2 = json_pack("{s:s, s:[s]}", "use", "x509-svid", "x5c", "!!!!");
    k3 = jose_x509_jwk(env->ca);
    x5c = json_object_get(k3, "x5c");
    s = strdup(json_string_value(json_array_get(x5c, 0)));
    s[4] = '-';
    json_array_set_new(x5c, 0, json_string(s));
    free(s);

    jwks = parse(jose_jwks(k1, k2, k3), &err);
    assert_non_null(jwks);
    assert_int_equal(sk_X509_num(spiffe_jwks_x509_authorities(jwks)), 0);
    assert_int_equal(spiffe_jwks_nignored(jwks), 3);
    spiffe_jwks_unref(jwks);

    /* no padding: a CA whose DER needs some (its signature varies) */

    ca = NULL;

    for (n = 0; n < 64; n++) {
        X509_free(ca);
        ca = test_ca(n % 2 ? "r" : "ro", env->ca_key, NULL, NULL);
        assert_non_null(ca);

        if (i2d_X509(ca, NULL) % 3 != 0) {
            break;
        }
    }

    k1 = jose_x509_jwk(ca);
    x5c = json_object_get(k1, "x5c");
    v = json_string_value(json_array_get(x5c, 0));
    assert_non_null(strchr(v, '='));
    s = strdup(v);
    s[strcspn(s, "=")] = '\0';
    json_array_set_new(x5c, 0, json_string(s));
    free(s);

    jwks = parse(jose_jwks(k1, jose_x509_jwk(ca), NULL), &err);
    assert_non_null(jwks);
    assert_int_equal(sk_X509_num(spiffe_jwks_x509_authorities(jwks)), 1);
    assert_int_equal(spiffe_jwks_nignored(jwks), 1);
    spiffe_jwks_unref(jwks);
    X509_free(ca);

    /* trailing bytes after the certificate; no x5c; an empty x5c */

    der = NULL;
    n = i2d_X509(env->ca, &der);
    assert_true(n > 0);
    buf = malloc(n + 3);
    assert_non_null(buf);
    memcpy(buf, der, n);
    memset(buf + n, 0, 3);
    s = jose_b64(buf, n + 3, 0);
    k1 = json_pack("{s:s, s:[s]}", "use", "x509-svid", "x5c", s);
    free(s);
    free(buf);
    OPENSSL_free(der);

    k2 = json_pack("{s:s}", "use", "x509-svid");
    k3 = json_pack("{s:s, s:[]}", "use", "x509-svid", "x5c");

    jwks = parse(jose_jwks(k1, k2, k3), &err);
    assert_non_null(jwks);
    assert_int_equal(sk_X509_num(spiffe_jwks_x509_authorities(jwks)), 0);
    assert_int_equal(spiffe_jwks_nignored(jwks), 3);
    spiffe_jwks_unref(jwks);

    /* the first entry only: a chain after it is not looked at */

    k1 = jose_x509_jwk(env->ca);
    x5c = json_object_get(k1, "x5c");
    json_array_append_new(x5c, json_string("not even base64"));
    k2 = jose_x509_jwk(env->ca);
    json_object_set_new(k2, "kid", json_string("x"));

    jwks = parse(jose_jwks(k1, k2, NULL), &err);
    assert_non_null(jwks);
    assert_int_equal(sk_X509_num(spiffe_jwks_x509_authorities(jwks)), 2);
    assert_int_equal(spiffe_jwks_nkeys(jwks), 0);
    spiffe_jwks_unref(jwks);
}


static spiffe_jwks_t *
jwks_of(EVP_PKEY *key, const char *kid)
{
    const char     *err;
    spiffe_jwks_t  *jwks;

    jwks = parse(jose_jwks(jose_jwk(key, kid), NULL, NULL), &err);
    assert_non_null(jwks);

    return jwks;
}


static void
test_set_create(void **state)
{
    env_t                      *env;
    const char                 *err;
    spiffe_jwks_t              *a, *b, *c;
    spiffe_jwt_bundle_t         in[4];
    spiffe_jwt_bundles_t       *set;
    const spiffe_jwt_bundle_t  *got;

    env = *state;

    a = jwks_of(env->ec256, "a");
    b = jwks_of(env->ec384, "b");
    c = jwks_of(env->rsa, "c");

    in[0].td = "spiffe://example.org";
    in[0].td_len = strlen(in[0].td);
    in[0].jwks = a;
    in[1].td = "b.org";
    in[1].td_len = strlen(in[1].td);
    in[1].jwks = b;
    in[2].td = "zz.example.org";
    in[2].td_len = strlen(in[2].td);
    in[2].jwks = c;

    set = spiffe_jwt_bundles_create(in, 3, &err);
    assert_non_null(set);

    /* the set holds its own references */

    spiffe_jwks_unref(a);
    spiffe_jwks_unref(b);

    assert_ptr_equal(spiffe_jwt_bundles_find(set, "example.org", 11), a);
    assert_ptr_equal(spiffe_jwt_bundles_find(set, "b.org", 5), b);
    assert_ptr_equal(spiffe_jwt_bundles_find(set, "zz.example.org", 14), c);
    assert_null(spiffe_jwt_bundles_find(set, "spiffe://example.org", 20));
    assert_null(spiffe_jwt_bundles_find(set, "example.or", 10));
    assert_null(spiffe_jwt_bundles_find(set, "c.org", 5));
    assert_null(spiffe_jwt_bundles_find(set, "", 0));

    assert_int_equal(spiffe_jwt_bundles_count(set), 3);
    got = spiffe_jwt_bundles_get(set, 0);
    assert_string_equal(got->td, "b.org");
    got = spiffe_jwt_bundles_get(set, 1);
    assert_string_equal(got->td, "example.org");
    assert_int_equal(got->td_len, 11);
    assert_null(spiffe_jwt_bundles_get(set, 3));

    assert_ptr_equal(spiffe_jwt_bundles_ref(set), set);
    spiffe_jwt_bundles_unref(set);
    assert_non_null(spiffe_jwt_bundles_find(set, "b.org", 5));
    spiffe_jwt_bundles_unref(set);
    spiffe_jwt_bundles_unref(NULL);

    /* one trust domain twice, in either spelling */

    in[0].jwks = c;
    in[1].td = "example.org";
    in[1].td_len = 11;
    in[1].jwks = c;

    assert_null(spiffe_jwt_bundles_create(in, 2, &err));
    assert_string_equal(err, "two JWT bundles for one trust domain");

    /* bad trust domains */

    in[0].td = "Example.org";
    in[0].td_len = 11;
    assert_null(spiffe_jwt_bundles_create(in, 1, &err));
    assert_string_equal(err, "bad trust domain in JWT bundles");

    in[0].td = "spiffe://example.org/path";
    in[0].td_len = strlen(in[0].td);
    assert_null(spiffe_jwt_bundles_create(in, 1, &err));
    assert_string_equal(err, "bad trust domain in JWT bundles");

    in[0].td = "spiffe://";
    in[0].td_len = 9;
    assert_null(spiffe_jwt_bundles_create(in, 1, &err));
    assert_string_equal(err, "bad trust domain in JWT bundles");

    /* an empty set */

    set = spiffe_jwt_bundles_create(NULL, 0, &err);
    assert_non_null(set);
    assert_int_equal(spiffe_jwt_bundles_count(set), 0);
    assert_null(spiffe_jwt_bundles_find(set, "example.org", 11));
    spiffe_jwt_bundles_unref(set);

    spiffe_jwks_unref(c);
}


static void
entry(spiffe_jwt_bundle_t *b, const char *td, spiffe_jwks_t *jwks)
{
    b->td = td;
    b->td_len = strlen(td);
    b->jwks = jwks;
}


/* configured trust domains win over what the source gives */

static void
test_set_compose(void **state)
{
    env_t                 *env;
    const char            *err;
    spiffe_jwks_t         *a, *b, *c;
    spiffe_jwt_bundle_t    in[3], extra[3];
    spiffe_jwt_bundles_t  *base, *set;

    env = *state;

    a = jwks_of(env->ec256, "a");
    b = jwks_of(env->ec384, "b");
    c = jwks_of(env->rsa, "c");

    entry(&in[0], "example.org", a);
    entry(&in[1], "b.org", b);
    entry(&in[2], "c.org", a);

    base = spiffe_jwt_bundles_create(in, 3, &err);
    assert_non_null(base);

    /* replaced, dropped (no JWT authorities), added; the rest is kept */

    entry(&extra[0], "example.org", c);
    entry(&extra[1], "b.org", NULL);
    entry(&extra[2], "new.org", b);

    set = spiffe_jwt_bundles_compose(base, extra, 3, &err);
    assert_non_null(set);
    assert_int_equal(spiffe_jwt_bundles_count(set), 3);
    assert_ptr_equal(spiffe_jwt_bundles_find(set, "example.org", 11), c);
    assert_null(spiffe_jwt_bundles_find(set, "b.org", 5));
    assert_ptr_equal(spiffe_jwt_bundles_find(set, "c.org", 5), a);
    assert_ptr_equal(spiffe_jwt_bundles_find(set, "new.org", 7), b);
    spiffe_jwt_bundles_unref(set);

    /* the base is left as it was */

    assert_int_equal(spiffe_jwt_bundles_count(base), 3);
    assert_ptr_equal(spiffe_jwt_bundles_find(base, "example.org", 11), a);
    assert_ptr_equal(spiffe_jwt_bundles_find(base, "b.org", 5), b);

    /* no base: the configured ones alone */

    set = spiffe_jwt_bundles_compose(NULL, extra, 3, &err);
    assert_non_null(set);
    assert_int_equal(spiffe_jwt_bundles_count(set), 2);
    assert_ptr_equal(spiffe_jwt_bundles_find(set, "example.org", 11), c);
    spiffe_jwt_bundles_unref(set);

    set = spiffe_jwt_bundles_compose(base, NULL, 0, &err);
    assert_non_null(set);
    assert_int_equal(spiffe_jwt_bundles_count(set), 3);
    spiffe_jwt_bundles_unref(set);

    /* a configured trust domain named twice, or badly */

    entry(&extra[1], "example.org", a);
    assert_null(spiffe_jwt_bundles_compose(base, extra, 2, &err));
    assert_string_equal(err, "two JWT bundles for one trust domain");

    extra[0].td = "Example.org";
    assert_null(spiffe_jwt_bundles_compose(base, extra, 1, &err));
    assert_string_equal(err, "bad trust domain in JWT bundles");

    spiffe_jwt_bundles_unref(base);
    spiffe_jwks_unref(a);
    spiffe_jwks_unref(b);
    spiffe_jwks_unref(c);
}


/* spiffe_bundle_parse() refuses text, with both results NULL */

static void
bundle_refused(const char *text, size_t len, const char *want)
{
    const char      *err;
    spiffe_jwks_t   *jwks;
    STACK_OF(X509)  *certs;

    certs = (STACK_OF(X509) *) &err;
    jwks = (spiffe_jwks_t *) &err;
    err = NULL;

    if (spiffe_bundle_parse(text, len, &certs, &jwks, &err) != -1) {
        fail_msg("bundle \"%.*s\" accepted, want \"%s\"", (int) len, text,
                 want);
    }

    assert_null(certs);
    assert_null(jwks);
    assert_non_null(err);

    if (strcmp(err, want) != 0) {
        fail_msg("bundle \"%.*s\" (%zu bytes): \"%s\", want \"%s\"",
                 (int) len, text, len, err, want);
    }

    assert_int_equal(ERR_peek_error(), 0);
}


static void
test_bundle_parse(void **state)
{
    BIO             *bio;
    long             n;
    char            *pem, *s, *text;
    env_t           *env;
    json_t          *doc;
    const char      *err;
    spiffe_jwks_t   *jwks;
    STACK_OF(X509)  *certs;

    env = *state;

    /* PEM: every certificate, in order, CA or not; text around them */

    bio = BIO_new(BIO_s_mem());
    assert_non_null(bio);
    BIO_puts(bio, "\n# example.org\n");
    assert_int_equal(PEM_write_bio_X509(bio, env->ca), 1);
    assert_int_equal(PEM_write_bio_X509(bio, env->leaf), 1);
    n = BIO_get_mem_data(bio, &pem);
    assert_true(n > 0);

    jwks = (spiffe_jwks_t *) &err;
    assert_int_equal(spiffe_bundle_parse(pem, n, &certs, &jwks, &err), 0);
    assert_null(jwks);
    assert_int_equal(sk_X509_num(certs), 2);
    assert_int_equal(X509_cmp(sk_X509_value(certs, 0), env->ca), 0);
    assert_int_equal(X509_cmp(sk_X509_value(certs, 1), env->leaf), 0);
    spiffe_x509_free_certs(certs);

    /* a broken PEM block */

    pem[strstr(pem, "-----BEGIN CERTIFICATE-----\n") - pem + 30] = '*';
    bundle_refused(pem, n, "bad PEM");
    BIO_free(bio);

    /* JWKS after JSON whitespace: the X.509 authorities and the keys */

    doc = jose_jwks(jose_x509_jwk(env->ca), jose_jwk(env->ec256, "k"),
                 jose_x509_jwk(env->leaf));
    json_object_set_new(doc, "spiffe_sequence", json_integer(12));
    s = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    assert_non_null(s);
    text = malloc(strlen(s) + 6);
    assert_non_null(text);
    sprintf(text, " \t\r\n%s\n", s);
    free(s);

    certs = NULL;
    assert_int_equal(spiffe_bundle_parse(text, strlen(text), &certs, &jwks,
                                         &err),
                     0);
    assert_non_null(jwks);
    assert_int_equal(spiffe_jwks_nkeys(jwks), 1);
    assert_non_null(spiffe_jwks_find(jwks, "k", 1));
    assert_int_equal(spiffe_jwks_nignored(jwks), 1);
    assert_int_equal(sk_X509_num(certs), 1);
    assert_ptr_not_equal(certs, spiffe_jwks_x509_authorities(jwks));
    assert_ptr_equal(sk_X509_value(certs, 0),
                     sk_X509_value(spiffe_jwks_x509_authorities(jwks), 0));

    /* the authorities outlive the bundle */

    spiffe_jwks_unref(jwks);
    assert_int_equal(X509_cmp(sk_X509_value(certs, 0), env->ca), 0);
    assert_true(spiffe_x509_is_ca(sk_X509_value(certs, 0)));
    spiffe_x509_free_certs(certs);

    /* a JWT-only bundle trusts no X.509 authority */

    assert_int_equal(spiffe_bundle_parse("{\"keys\": []}", 12, &certs, &jwks,
                                         &err),
                     0);
    assert_non_null(jwks);
    assert_non_null(certs);
    assert_int_equal(sk_X509_num(certs), 0);
    spiffe_jwks_unref(jwks);
    spiffe_x509_free_certs(certs);

    /* JSON errors are the JWKS reasons */

    text[strlen(text) - 2] = ',';
    bundle_refused(text, strlen(text), "bundle is not valid JSON");
    free(text);

    bundle_refused("\n{\"keys\": [], \"spiffe_sequence\": -1}", 36,
                   "bad \"spiffe_sequence\"");
    bundle_refused("{}", 2, "bundle has no \"keys\" array");

    /* anything else is read as PEM */

    bundle_refused("", 0, "no certificate");
    bundle_refused(" \r\n\t ", 5, "no certificate");
    bundle_refused("[{\"keys\": []}]", 14, "no certificate");
    bundle_refused("\v{\"keys\": []}", 13, "no certificate");
    bundle_refused("x{\"keys\": []}", 13, "no certificate");

    /* a NUL byte is no whitespace */

    bundle_refused("\0{\"keys\": []}", 13, "no certificate");
    bundle_refused(" \0{\"keys\": []}", 14, "no certificate");

    /* the length bounds the text */

    bundle_refused("  {\"keys\": []}", 2, "no certificate");
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_all_key_types),
        cmocka_unit_test(test_not_a_bundle),
        cmocka_unit_test(test_empty_keys),
        cmocka_unit_test(test_sequence_refresh_hint),
        cmocka_unit_test(test_unknown_ignored),
        cmocka_unit_test(test_kid),
        cmocka_unit_test(test_ec_material),
        cmocka_unit_test(test_rsa_material),
        cmocka_unit_test(test_x5c),
        cmocka_unit_test(test_set_create),
        cmocka_unit_test(test_set_compose),
        cmocka_unit_test(test_bundle_parse),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
