
/*
 * Copyright (C) ngx_spiffe developers
 */


#define _GNU_SOURCE                     /* memmem() */

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <malloc.h>
#include <cmocka.h>

#include <openssl/err.h>

#include <spiffe_base64.h>
#include <spiffe_jwks.h>
#include <spiffe_jwt.h>

#include "jose.h"


#define SUB       "spiffe://example.org/ns/prod/sa/web"

/* signing keys */
#define K_EC256   0
#define K_EC384   1
#define K_EC521   2
#define K_RSA     3
#define K_OTHER   4                 /* P-256, in no bundle */
#define K_N       5

/* what is done to a token once signed */
#define P_NONE    0
#define P_FLIP    1                 /* the first signature character */
#define P_TAMPER  2                 /* other claims, same signature */
#define P_TRUNC1  3                 /* the last character dropped */
#define P_TRUNC2  4                 /* the last two */
#define P_PAD     5                 /* "==" after the signature */
#define P_PLUS    6                 /* a '+' in the signature */


typedef struct {
    EVP_PKEY              *keys[K_N];
    spiffe_jwt_bundles_t  *bundles;
    time_t                 now;
} env_t;


typedef struct {
    const char            *name;
    const char            *alg;     /* in the header; NULL: no alg */
    int                    key;     /* K_*, signs */
    const char            *kid;     /* NULL: no kid */
    const char            *header;  /* members to set, null deletes */
    const char            *claims;  /* the same; exp, nbf, iat from now */
    int                    mode;    /* JOSE_* */
    int                    post;    /* P_* */
    const char            *reason;  /* NULL: valid */
} jwt_case_t;


/*
 * This test is linked with --wrap=free (Makefile): no memory given back may
 * hold the bytes under watch, a piece of a token's signature (which, with
 * the token's readable parts, is the token).
 */

void __real_free(void *p);
void __wrap_free(void *p);

static unsigned char  watched[16];
static int            watching;
static size_t         dirty_frees;


void
__wrap_free(void *p)
{
    size_t  n;

    if (p != NULL && watching) {
        n = malloc_usable_size(p);

        if (memmem(p, n, watched, sizeof(watched)) != NULL) {
            dirty_frees++;
        }
    }

    __real_free(p);
}


static const char *const  audiences[] = { "other", "svc" };
static const size_t       aud_lens[] = { 5, 3 };


static const jwt_case_t  cases[] = {

    /* valid, every algorithm */
    { "ES256", "ES256", K_EC256, "ec256", NULL, NULL, 0, 0, NULL },
    { "ES384", "ES384", K_EC384, "ec384", NULL, NULL, 0, 0, NULL },
    { "ES512", "ES512", K_EC521, "ec521", NULL, NULL, 0, 0, NULL },
    { "RS256", "RS256", K_RSA, "rsa", NULL, NULL, 0, 0, NULL },
    { "RS384", "RS384", K_RSA, "rsa", NULL, NULL, 0, 0, NULL },
    { "RS512", "RS512", K_RSA, "rsa", NULL, NULL, 0, 0, NULL },
    { "PS256", "PS256", K_RSA, "rsa", NULL, NULL, 0, 0, NULL },
    { "PS384", "PS384", K_RSA, "rsa", NULL, NULL, 0, 0, NULL },
    { "PS512", "PS512", K_RSA, "rsa", NULL, NULL, 0, 0, NULL },

    /* the algorithm, checked first */
    { "alg none", "none", K_EC256, "ec256", NULL, NULL,
      JOSE_EMPTY, 0, "alg not allowed" },
    { "HS256 keyed with the public key", "HS256", K_RSA, "rsa", NULL, NULL,
      JOSE_HMAC, 0, "alg not allowed" },
    { "HS256 keyed with an EC public key", "HS256", K_EC256, "ec256", NULL,
      NULL, JOSE_HMAC, 0, "alg not allowed" },
    { "alg before typ, crit and kid", "HS256", K_EC256, NULL,
      "{\"typ\": \"x\", \"crit\": [\"exp\"]}", "{\"sub\": 1}",
      JOSE_HMAC, 0, "alg not allowed" },
    { "alg lowercase", "es256", K_EC256, "ec256", NULL, NULL, 0, 0,
      "alg not allowed" },
    { "alg ES256K", "ES256K", K_EC256, "ec256", NULL, NULL, 0, 0,
      "alg not allowed" },
    { "alg EdDSA", "EdDSA", K_EC256, "ec256", NULL, NULL, 0, 0,
      "alg not allowed" },
    { "alg not a string", NULL, K_EC256, "ec256", "{\"alg\": [\"ES256\"]}",
      NULL, 0, 0, "alg not allowed" },
    { "no alg", NULL, K_EC256, "ec256", NULL, NULL, 0, 0, "no alg" },

    /* the rest of the header */
    { "typ JOSE", "ES256", K_EC256, "ec256", "{\"typ\": \"JOSE\"}", NULL,
      0, 0, NULL },
    { "no typ", "ES256", K_EC256, "ec256", "{\"typ\": null}", NULL,
      0, 0, NULL },
    { "typ wrong", "ES256", K_EC256, "ec256", "{\"typ\": \"at+jwt\"}", NULL,
      0, 0, "bad typ" },
    { "typ lowercase", "ES256", K_EC256, "ec256", "{\"typ\": \"jwt\"}", NULL,
      0, 0, "bad typ" },
    { "typ not a string", "ES256", K_EC256, "ec256", "{\"typ\": 1}", NULL,
      0, 0, "bad typ" },
    { "crit present", "ES256", K_EC256, "ec256", "{\"crit\": [\"exp\"]}",
      NULL, 0, 0, "crit not supported" },
    { "crit empty", "ES256", K_EC256, "ec256", "{\"crit\": []}",
      NULL, 0, 0, "crit not supported" },
    { "unknown header members ignored", "ES256", K_EC256, "ec256",
      "{\"x5u\": \"https://evil.test\", \"jku\": \"https://evil.test\"}",
      NULL, 0, 0, NULL },
    { "no kid", "ES256", K_EC256, NULL, NULL, NULL, 0, 0, "no kid" },
    { "empty kid", "ES256", K_EC256, "", NULL, NULL, 0, 0, "no kid" },
    { "kid not a string", "ES256", K_EC256, NULL, "{\"kid\": 1}", NULL,
      0, 0, "no kid" },
    { "kid before claims", "ES256", K_EC256, NULL, NULL, "{\"sub\": 1}",
      0, 0, "no kid" },

    /* sub, and the key it leads to */
    { "sub not a SPIFFE ID", "ES256", K_EC256, "ec256", NULL,
      "{\"sub\": \"https://example.org/w\"}", 0, 0,
      "sub is not a SPIFFE ID" },
    { "sub uppercase trust domain", "ES256", K_EC256, "ec256", NULL,
      "{\"sub\": \"spiffe://Example.org/w\"}", 0, 0,
      "sub is not a SPIFFE ID" },
    { "sub trailing slash", "ES256", K_EC256, "ec256", NULL,
      "{\"sub\": \"spiffe://example.org/w/\"}", 0, 0,
      "sub is not a SPIFFE ID" },
    { "sub not a string", "ES256", K_EC256, "ec256", NULL,
      "{\"sub\": [\"" SUB "\"]}", 0, 0, "sub is not a SPIFFE ID" },
    { "sub root ID", "ES256", K_EC256, "ec256", NULL,
      "{\"sub\": \"spiffe://example.org\"}", 0, 0, "sub has no path" },
    { "no sub", "ES256", K_EC256, "ec256", NULL, "{\"sub\": null}", 0, 0,
      "no sub" },
    { "sub before kid lookup", "ES256", K_EC256, "nope", NULL,
      "{\"sub\": \"web\"}", 0, 0, "sub is not a SPIFFE ID" },
    { "unknown trust domain", "ES256", K_EC256, "ec256", NULL,
      "{\"sub\": \"spiffe://unknown.org/w\"}", 0, 0,
      "no bundle for trust domain" },
    { "bundle of another trust domain", "ES256", K_EC256, "ec256", NULL,
      "{\"sub\": \"spiffe://empty.org/w\"}", 0, 0, "unknown kid" },
    { "wrong kid", "ES256", K_EC256, "nope", NULL, NULL, 0, 0,
      "unknown kid" },
    { "ES key with RS alg", "RS256", K_RSA, "ec256", NULL, NULL, 0, 0,
      "key does not fit alg" },
    { "RSA key with ES alg", "ES256", K_EC256, "rsa", NULL, NULL, 0, 0,
      "key does not fit alg" },
    { "ES256 with a P-384 key", "ES256", K_EC384, "ec384", NULL, NULL, 0, 0,
      "key does not fit alg" },
    { "ES512 with a P-256 key", "ES512", K_EC256, "ec256", NULL, NULL, 0, 0,
      "key does not fit alg" },

    /* signatures */
    { "signed by another key", "ES256", K_OTHER, "ec256", NULL, NULL, 0, 0,
      "bad signature" },
    { "signature changed (ES)", "ES256", K_EC256, "ec256", NULL, NULL,
      0, P_FLIP, "bad signature" },
    { "signature changed (RS)", "RS256", K_RSA, "rsa", NULL, NULL,
      0, P_FLIP, "bad signature" },
    { "signature changed (PS)", "PS256", K_RSA, "rsa", NULL, NULL,
      0, P_FLIP, "bad signature" },
    { "claims changed", "ES256", K_EC256, "ec256", NULL, NULL,
      0, P_TAMPER, "bad signature" },
    { "ES signature DER-encoded", "ES256", K_EC256, "ec256", NULL, NULL,
      JOSE_DER, 0, "bad signature" },
    { "ES512 signature DER-encoded", "ES512", K_EC521, "ec521", NULL, NULL,
      JOSE_DER, 0, "bad signature" },
    { "ES signature with R and S a byte too long", "ES256", K_EC256,
      "ec256", NULL, NULL, JOSE_WIDE, 0, "bad signature" },
    { "PKCS#1 v1.5 signature as PS256", "PS256", K_RSA, "rsa", NULL, NULL,
      JOSE_PKCS1, 0, "bad signature" },
    { "PSS salt longer than the hash", "PS256", K_RSA, "rsa", NULL, NULL,
      JOSE_SALT, 0, "bad signature" },
    { "PSS signature as RS256", "RS256", K_RSA, "rsa", NULL, NULL,
      JOSE_PSS, 0, "bad signature" },
    { "no signature", "ES256", K_EC256, "ec256", NULL, NULL,
      JOSE_EMPTY, 0, "bad signature" },
    { "signature before exp", "ES256", K_OTHER, "ec256", NULL,
      "{\"exp\": -1000}", 0, 0, "bad signature" },
    { "signature before aud", "ES256", K_OTHER, "ec256", NULL,
      "{\"aud\": \"nope\"}", 0, 0, "bad signature" },

    /* encoding */
    { "truncated base64url", "ES256", K_EC256, "ec256", NULL, NULL,
      0, P_TRUNC1, "bad base64url" },
    { "truncated signature (ES)", "ES256", K_EC256, "ec256", NULL, NULL,
      0, P_TRUNC2, "bad signature" },
    { "truncated signature (RS)", "RS256", K_RSA, "rsa", NULL, NULL,
      0, P_TRUNC2, "bad signature" },
    { "padding in base64url", "ES256", K_EC256, "ec256", NULL, NULL,
      0, P_PAD, "bad base64url" },
    { "standard base64 alphabet", "ES256", K_EC256, "ec256", NULL, NULL,
      0, P_PLUS, "bad base64url" },

    /* time, with 60 s of leeway */
    { "expired", "ES256", K_EC256, "ec256", NULL,
      "{\"exp\": -61, \"iat\": -400}", 0, 0, "expired" },
    { "expired 60 s ago", "ES256", K_EC256, "ec256", NULL,
      "{\"exp\": -60, \"iat\": -400}", 0, 0, "expired" },
    { "expired 59 s ago: leeway", "ES256", K_EC256, "ec256", NULL,
      "{\"exp\": -59, \"iat\": -400}", 0, 0, NULL },
    { "no exp", "ES256", K_EC256, "ec256", NULL, "{\"exp\": null}", 0, 0,
      "no exp" },
    { "exp a string", "ES256", K_EC256, "ec256", NULL,
      "{\"exp\": \"4102444800\"}", 0, 0, "bad exp" },
    { "exp a fraction", "ES256", K_EC256, "ec256", NULL,
      "{\"exp\": 300.5}", 0, 0, NULL },
    { "exp far away", "ES256", K_EC256, "ec256", NULL,
      "{\"exp\": 1e300}", 0, 0, NULL },
    { "exp far past", "ES256", K_EC256, "ec256", NULL,
      "{\"exp\": -9223372036854775807}", 0, 0, "expired" },
    { "nbf in the future", "ES256", K_EC256, "ec256", NULL,
      "{\"nbf\": 61}", 0, 0, "not yet valid" },
    { "nbf in 60 s: leeway", "ES256", K_EC256, "ec256", NULL,
      "{\"nbf\": 60}", 0, 0, NULL },
    { "nbf far future", "ES256", K_EC256, "ec256", NULL,
      "{\"nbf\": 9223372036854775807}", 0, 0, "not yet valid" },
    { "nbf a string", "ES256", K_EC256, "ec256", NULL,
      "{\"nbf\": \"0\"}", 0, 0, "bad nbf" },
    { "iat in the future", "ES256", K_EC256, "ec256", NULL,
      "{\"iat\": 61}", 0, 0, "issued in the future" },
    { "iat in 60 s: leeway", "ES256", K_EC256, "ec256", NULL,
      "{\"iat\": 60}", 0, 0, NULL },
    { "no iat", "ES256", K_EC256, "ec256", NULL, "{\"iat\": null}", 0, 0,
      NULL },
    { "iat a boolean", "ES256", K_EC256, "ec256", NULL,
      "{\"iat\": true}", 0, 0, "bad iat" },

    /* audience */
    { "aud missing", "ES256", K_EC256, "ec256", NULL, "{\"aud\": null}",
      0, 0, "no aud" },
    { "aud wrong", "ES256", K_EC256, "ec256", NULL, "{\"aud\": \"nope\"}",
      0, 0, "audience mismatch" },
    { "aud a prefix", "ES256", K_EC256, "ec256", NULL, "{\"aud\": \"sv\"}",
      0, 0, "audience mismatch" },
    { "aud longer", "ES256", K_EC256, "ec256", NULL, "{\"aud\": \"svc2\"}",
      0, 0, "audience mismatch" },
    { "aud the first configured", "ES256", K_EC256, "ec256", NULL,
      "{\"aud\": \"other\"}", 0, 0, NULL },
    { "aud array with a match", "ES256", K_EC256, "ec256", NULL,
      "{\"aud\": [\"a\", \"svc\", \"b\"]}", 0, 0, NULL },
    { "aud array without a match", "ES256", K_EC256, "ec256", NULL,
      "{\"aud\": [\"a\", \"b\"]}", 0, 0, "audience mismatch" },
    { "aud empty array", "ES256", K_EC256, "ec256", NULL,
      "{\"aud\": []}", 0, 0, "audience mismatch" },
    { "aud array with a number", "ES256", K_EC256, "ec256", NULL,
      "{\"aud\": [\"svc\", 1]}", 0, 0, "bad aud" },
    { "aud a number", "ES256", K_EC256, "ec256", NULL,
      "{\"aud\": 1}", 0, 0, "bad aud" },
    { "aud empty string", "ES256", K_EC256, "ec256", NULL,
      "{\"aud\": \"\"}", 0, 0, "audience mismatch" },
};


static int
setup(void **state)
{
    int                   i;
    env_t                *env;
    char                 *s;
    json_t               *doc, *keys;
    const char           *err;
    spiffe_jwks_t        *jwks[2];
    spiffe_jwt_bundle_t   b[2];

    env = calloc(1, sizeof(env_t));
    assert_non_null(env);

    env->keys[K_EC256] = EVP_EC_gen("P-256");
    env->keys[K_EC384] = EVP_EC_gen("P-384");
    env->keys[K_EC521] = EVP_EC_gen("P-521");
    env->keys[K_RSA] = EVP_RSA_gen(2048);
    env->keys[K_OTHER] = EVP_EC_gen("P-256");

    for (i = 0; i < K_N; i++) {
        assert_non_null(env->keys[i]);
    }

    keys = json_array();
    json_array_append_new(keys, jose_jwk(env->keys[K_EC256], "ec256"));
    json_array_append_new(keys, jose_jwk(env->keys[K_EC384], "ec384"));
    json_array_append_new(keys, jose_jwk(env->keys[K_EC521], "ec521"));
    json_array_append_new(keys, jose_jwk(env->keys[K_RSA], "rsa"));
    doc = json_pack("{s:o, s:i}", "keys", keys, "spiffe_sequence", 1);
    s = json_dumps(doc, 0);
    json_decref(doc);

    jwks[0] = spiffe_jwks_parse(s, strlen(s), &err);
    free(s);
    jwks[1] = spiffe_jwks_parse("{\"keys\": []}", 12, &err);

    assert_non_null(jwks[0]);
    assert_non_null(jwks[1]);
    assert_int_equal(spiffe_jwks_nkeys(jwks[0]), 4);

    b[0].td = "spiffe://example.org";
    b[0].td_len = strlen(b[0].td);
    b[0].jwks = jwks[0];
    b[1].td = "empty.org";
    b[1].td_len = strlen(b[1].td);
    b[1].jwks = jwks[1];

    env->bundles = spiffe_jwt_bundles_create(b, 2, &err);
    assert_non_null(env->bundles);

    spiffe_jwks_unref(jwks[0]);
    spiffe_jwks_unref(jwks[1]);

    env->now = time(NULL);

    *state = env;

    return 0;
}


static int
teardown(void **state)
{
    int     i;
    env_t  *env;

    env = *state;

    for (i = 0; i < K_N; i++) {
        EVP_PKEY_free(env->keys[i]);
    }

    spiffe_jwt_bundles_unref(env->bundles);
    free(env);

    return 0;
}


/* o's members set in into, null ones deleted; times relative to now */

static void
merge(json_t *into, const char *members, time_t now)
{
    json_t      *o, *v;
    const char  *k;

    if (members == NULL) {
        return;
    }

    o = json_loads(members, 0, NULL);
    assert_non_null(o);

    json_object_foreach(o, k, v) {
        if (json_is_null(v)) {
            json_object_del(into, k);
            continue;
        }

        if (strcmp(k, "exp") == 0 || strcmp(k, "nbf") == 0
            || strcmp(k, "iat") == 0)
        {
            if (json_is_integer(v) && json_integer_value(v) > -1000000
                && json_integer_value(v) < 1000000)
            {
                v = json_integer(now + json_integer_value(v));

            } else if (json_is_real(v) && json_real_value(v) < 1e6) {
                v = json_real(now + json_real_value(v));

            } else {
                json_incref(v);
            }

            json_object_set_new(into, k, v);
            continue;
        }

        json_object_set(into, k, v);
    }

    json_decref(o);
}


static json_t *
claims_of(const char *members, time_t now)
{
    json_t  *claims;

    claims = json_pack("{s:s, s:s, s:I, s:I}", "sub", SUB, "aud", "svc",
                       "exp", (json_int_t) now + 300,
                       "iat", (json_int_t) now);
    merge(claims, members, now);

    return claims;
}


/* the token of a case; *claims_out, if not NULL, gets its claims */

static char *
make_token(env_t *env, const jwt_case_t *c, json_t **claims_out)
{
    char    *h, *cl, *token, *dot, *t;
    json_t  *header, *claims;

    header = json_object();

    if (c->alg != NULL) {
        json_object_set_new(header, "alg", json_string(c->alg));
    }

    if (c->kid != NULL) {
        json_object_set_new(header, "kid", json_string(c->kid));
    }

    json_object_set_new(header, "typ", json_string("JWT"));
    merge(header, c->header, env->now);

    claims = claims_of(c->claims, env->now);

    h = json_dumps(header, JSON_COMPACT);
    cl = json_dumps(claims, JSON_COMPACT);
    token = jose_sign(c->alg != NULL ? c->alg : "ES256", env->keys[c->key],
                      h, cl, c->mode);
    assert_non_null(token);

    dot = strrchr(token, '.');

    switch (c->post) {

    case P_FLIP:
        dot[1] = (dot[1] == 'A') ? 'B' : 'A';
        break;

    case P_TAMPER:
        json_object_set_new(claims, "sub",
                            json_string("spiffe://example.org/admin"));
        free(cl);
        cl = json_dumps(claims, JSON_COMPACT);
        t = jose_compact(h, cl, (const unsigned char *) "", 0);
        t = realloc(t, strlen(t) + strlen(dot) + 1);
        strcpy(t + strlen(t) - 1, dot);
        free(token);
        token = t;
        break;

    case P_TRUNC1:
        token[strlen(token) - 1] = '\0';
        break;

    case P_TRUNC2:
        token[strlen(token) - 2] = '\0';
        break;

    case P_PAD:
        token = realloc(token, strlen(token) + 3);
        strcat(token, "==");
        break;

    case P_PLUS:
        dot[1] = '+';
        break;
    }

    free(h);
    free(cl);
    json_decref(header);

    if (claims_out != NULL) {
        *claims_out = claims;

    } else {
        json_decref(claims);
    }

    return token;
}


static void
check_valid(const spiffe_jwt_svid_t *svid, json_t *claims)
{
    char        *expect;
    const char  *sub;

    sub = json_string_value(json_object_get(claims, "sub"));

    assert_string_equal(svid->id, sub);
    assert_int_equal(svid->id_len, strlen(sub));
    assert_int_equal(svid->td_off, 9);
    assert_int_equal(svid->td_len, 11);
    assert_memory_equal(svid->id + svid->td_off, "example.org", 11);
    assert_int_equal(svid->path_off, 20);
    assert_int_equal(svid->path_len, strlen(sub) - 20);
    assert_memory_equal(svid->id + svid->path_off, sub + 20,
                        svid->path_len);

    if (json_is_integer(json_object_get(claims, "exp"))) {
        assert_int_equal(svid->exp,
                         json_integer_value(json_object_get(claims, "exp")));
    }

    expect = json_dumps(claims, JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(svid->claims, expect);
    assert_int_equal(svid->claims_len, strlen(expect));
    free(expect);
}


static void
test_table(void **state)
{
    int                rc, failed;
    char              *token;
    size_t             i;
    env_t             *env;
    json_t            *claims;
    const char        *err;
    spiffe_jwt_svid_t  svid;

    env = *state;
    failed = 0;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        token = make_token(env, &cases[i], &claims);

        err = NULL;
        memset(&svid, 0xff, sizeof(spiffe_jwt_svid_t));

        rc = spiffe_jwt_validate(token, strlen(token), env->bundles,
                                 audiences, aud_lens, 2, env->now, &svid,
                                 &err);

        assert_int_equal(ERR_peek_error(), 0);

        if (cases[i].reason == NULL) {
            if (rc != 0) {
                print_error("%s: refused: %s\n", cases[i].name, err);
                failed++;

            } else {
                check_valid(&svid, claims);
            }

        } else if (rc == 0) {
            print_error("%s: accepted, expected \"%s\"\n", cases[i].name,
                        cases[i].reason);
            failed++;

        } else if (err == NULL || strcmp(err, cases[i].reason) != 0) {
            print_error("%s: \"%s\", expected \"%s\"\n", cases[i].name,
                        err, cases[i].reason);
            failed++;

        } else {
            assert_null(svid.id);
            assert_null(svid.claims);
            assert_int_equal(svid.id_len, 0);
        }

        spiffe_jwt_svid_free(&svid);
        json_decref(claims);
        free(token);
    }

    assert_int_equal(failed, 0);
}


static void
test_output(void **state)
{
    char               *token, *h, *c;
    env_t              *env;
    const char         *err;
    spiffe_jwt_svid_t   svid;

    env = *state;

    /* keys sorted, whitespace gone, claims we do not know kept */

    h = "{\"typ\":\"JWT\",\"kid\":\"ec256\",\"alg\":\"ES256\"}";
    c = malloc(256);
    assert_non_null(c);
    snprintf(c, 256, "{ \"sub\" : \"spiffe://example.org/a/b\","
             " \"exp\": %lld, \"aud\": [\"svc\"], \"z\": {\"y\": 1, \"x\": "
             "\"\\u00e9\"}, \"a\": null }", (long long) env->now + 10);

    token = jose_sign("ES256", env->keys[K_EC256], h, c, JOSE_RAW);
    free(c);

    assert_int_equal(spiffe_jwt_validate(token, strlen(token), env->bundles,
                                         audiences, aud_lens, 2, env->now,
                                         &svid, &err),
                     0);

    assert_string_equal(svid.id, "spiffe://example.org/a/b");
    assert_int_equal(svid.id_len, 24);
    assert_memory_equal(svid.id + svid.td_off, "example.org", svid.td_len);
    assert_memory_equal(svid.id + svid.path_off, "/a/b", svid.path_len);
    assert_int_equal(svid.path_len, 4);
    assert_int_equal(svid.exp, env->now + 10);

    c = malloc(256);
    assert_non_null(c);
    snprintf(c, 256, "{\"a\":null,\"aud\":[\"svc\"],\"exp\":%lld,"
             "\"sub\":\"spiffe://example.org/a/b\","
             "\"z\":{\"x\":\"\xc3\xa9\",\"y\":1}}",
             (long long) env->now + 10);
    assert_string_equal(svid.claims, c);
    assert_int_equal(svid.claims_len, strlen(c));
    free(c);

    spiffe_jwt_svid_free(&svid);
    assert_null(svid.id);
    assert_null(svid.claims);
    spiffe_jwt_svid_free(&svid);

    free(token);
}


static int
validate(env_t *env, const char *token, const char **err)
{
    int                rc;
    spiffe_jwt_svid_t  svid;

    *err = NULL;

    rc = spiffe_jwt_validate(token, strlen(token), env->bundles, audiences,
                             aud_lens, 2, env->now, &svid, err);

    assert_int_equal(ERR_peek_error(), 0);
    spiffe_jwt_svid_free(&svid);

    return rc;
}


static char *
token_of(env_t *env, const char *header, const char *claims)
{
    char  *token;

    token = jose_sign("ES256", env->keys[K_EC256], header, claims, JOSE_RAW);
    assert_non_null(token);

    return token;
}


#define H  "{\"alg\":\"ES256\",\"kid\":\"ec256\"}"


static void
test_structure(void **state)
{
    char        *token, *c;
    env_t       *env;
    const char  *err;

    env = *state;

    c = malloc(256);
    assert_non_null(c);
    snprintf(c, 256, "{\"sub\":\"" SUB "\",\"aud\":\"svc\",\"exp\":%lld}",
             (long long) env->now + 300);

    token = token_of(env, H, c);
    assert_int_equal(validate(env, token, &err), 0);
    free(token);

    assert_int_equal(validate(env, "", &err), -1);
    assert_string_equal(err, "not a compact JWS");

    assert_int_equal(validate(env, "eyJhbGciOiJFUzI1NiJ9", &err), -1);
    assert_string_equal(err, "not a compact JWS");

    assert_int_equal(validate(env, "eyJhbGciOiJFUzI1NiJ9.e30", &err), -1);
    assert_string_equal(err, "not a compact JWS");

    assert_int_equal(validate(env, "a.b.c.d", &err), -1);
    assert_string_equal(err, "not a compact JWS");

    /* JWE has five parts */
    assert_int_equal(validate(env, "eyJhbGciOiJSU0EtT0FFUCJ9.a.b.c.d", &err),
                     -1);
    assert_string_equal(err, "not a compact JWS");

    assert_int_equal(validate(env, "{\"payload\":\"e30\",\"signatures\":"
                              "[{\"protected\":\"eyJhbGciOiJFUzI1NiJ9\","
                              "\"signature\":\"AA\"}]}", &err),
                     -1);
    assert_string_equal(err, "JSON serialization not supported");

    assert_int_equal(validate(env, "{\"payload\":\"e30\",\"protected\":"
                              "\"eyJhbGciOiJFUzI1NiJ9\",\"signature\":"
                              "\"AA\"}", &err),
                     -1);
    assert_string_equal(err, "JSON serialization not supported");

    assert_int_equal(validate(env, " eyJhbGciOiJFUzI1NiJ9.e30.AA", &err), -1);
    assert_string_equal(err, "bad base64url");

    assert_int_equal(validate(env, "eyJhbGciOiJFUzI1NiJ9.e30.AA ", &err), -1);
    assert_string_equal(err, "bad base64url");

    assert_int_equal(validate(env, "eyJhbGciOiJFUzI1NiJ9=.e30.AA", &err), -1);
    assert_string_equal(err, "bad base64url");

    /* header and claims: JSON objects, no duplicate members */

    token = token_of(env, "not json", c);
    assert_int_equal(validate(env, token, &err), -1);
    assert_string_equal(err, "bad header");
    free(token);

    token = token_of(env, "[\"ES256\"]", c);
    assert_int_equal(validate(env, token, &err), -1);
    assert_string_equal(err, "bad header");
    free(token);

    token = token_of(env, H " ", c);
    assert_int_equal(validate(env, token, &err), 0);
    free(token);

    token = token_of(env, H "{}", c);
    assert_int_equal(validate(env, token, &err), -1);
    assert_string_equal(err, "bad header");
    free(token);

    token = token_of(env, "{\"alg\":\"none\",\"alg\":\"ES256\","
                     "\"kid\":\"ec256\"}", c);
    assert_int_equal(validate(env, token, &err), -1);
    assert_string_equal(err, "bad header");
    free(token);

    token = token_of(env, "", c);
    assert_int_equal(validate(env, token, &err), -1);
    assert_string_equal(err, "bad header");
    free(token);

    token = token_of(env, H, "[]");
    assert_int_equal(validate(env, token, &err), -1);
    assert_string_equal(err, "bad claims");
    free(token);

    token = token_of(env, H, "\"" SUB "\"");
    assert_int_equal(validate(env, token, &err), -1);
    assert_string_equal(err, "bad claims");
    free(token);

    token = token_of(env, H, "");
    assert_int_equal(validate(env, token, &err), -1);
    assert_string_equal(err, "bad claims");
    free(token);

    snprintf(c, 256, "{\"sub\":\"spiffe://example.org/admin\",\"aud\":\"svc\","
             "\"sub\":\"" SUB "\",\"exp\":%lld}", (long long) env->now + 300);
    token = token_of(env, H, c);
    assert_int_equal(validate(env, token, &err), -1);
    assert_string_equal(err, "bad claims");
    free(token);

    free(c);
}


static void
test_size(void **state)
{
    int                rc, sp;
    char              *c, *token, *pad;
    size_t             len, n;
    env_t             *env;
    const char        *err;
    spiffe_jwt_svid_t  svid;

    env = *state;

    /* refused before anything is looked at */

    token = malloc(SPIFFE_JWT_MAX_LEN + 2);
    assert_non_null(token);
    memset(token, '.', SPIFFE_JWT_MAX_LEN + 1);
    token[SPIFFE_JWT_MAX_LEN + 1] = '\0';

    assert_int_equal(validate(env, token, &err), -1);
    assert_string_equal(err, "token too long");
    free(token);

    /* a valid token of exactly 16 KiB, then one character more */

    c = malloc(SPIFFE_JWT_MAX_LEN);
    pad = malloc(SPIFFE_JWT_MAX_LEN);
    assert_non_null(c);
    assert_non_null(pad);

    for (n = 0; n < 12000; n++) {
        pad[n] = 'x';
    }

    /* base64 skips some lengths: spaces in the header fill the gaps */

    token = NULL;
    len = 0;

    while (len != SPIFFE_JWT_MAX_LEN) {
        pad[n++] = 'x';
        pad[n] = '\0';
        snprintf(c, SPIFFE_JWT_MAX_LEN, "{\"sub\":\"" SUB "\",\"aud\":\"svc\","
                 "\"exp\":%lld,\"pad\":\"%s\"}", (long long) env->now + 300,
                 pad);

        for (sp = 0; sp < 3 && len != SPIFFE_JWT_MAX_LEN; sp++) {
            free(token);
            token = token_of(env, sp == 0 ? H : sp == 1 ? H " " : H "  ", c);
            len = strlen(token);

            assert_true(sp != 0 || len < SPIFFE_JWT_MAX_LEN);
        }
    }

    assert_int_equal(len, SPIFFE_JWT_MAX_LEN);

    rc = spiffe_jwt_validate(token, len, env->bundles, audiences, aud_lens,
                             2, env->now, &svid, &err);
    assert_int_equal(rc, 0);
    spiffe_jwt_svid_free(&svid);

    token = realloc(token, len + 2);
    strcat(token, "A");
    assert_int_equal(validate(env, token, &err), -1);
    assert_string_equal(err, "token too long");

    free(token);
    free(pad);
    free(c);
}


static void
test_audience_required(void **state)
{
    char               *token;
    env_t              *env;
    const char         *err;
    spiffe_jwt_svid_t   svid;

    env = *state;

    token = make_token(env, &cases[0], NULL);

    /* never skipped: no audience configured, no token accepted */

    assert_int_equal(spiffe_jwt_validate(token, strlen(token), env->bundles,
                                         NULL, NULL, 0, env->now, &svid,
                                         &err),
                     -1);
    assert_string_equal(err, "no audience configured");
    assert_null(svid.id);

    assert_int_equal(spiffe_jwt_validate(token, strlen(token), env->bundles,
                                         audiences, aud_lens, 1, env->now,
                                         &svid, &err),
                     -1);
    assert_string_equal(err, "audience mismatch");

    assert_int_equal(spiffe_jwt_validate(token, strlen(token), env->bundles,
                                         &audiences[1], &aud_lens[1], 1,
                                         env->now, &svid, &err),
                     0);
    spiffe_jwt_svid_free(&svid);

    free(token);
}


static void
test_no_bundles(void **state)
{
    char               *token;
    env_t              *env;
    const char         *err;
    spiffe_jwt_svid_t   svid;

    env = *state;

    token = make_token(env, &cases[0], NULL);

    assert_int_equal(spiffe_jwt_validate(token, strlen(token), NULL,
                                         audiences, aud_lens, 2, env->now,
                                         &svid, &err),
                     -1);
    assert_string_equal(err, "no bundle for trust domain");

    free(token);
}


static void
test_time(void **state)
{
    char               *token;
    env_t              *env;
    const char         *err;
    spiffe_jwt_svid_t   svid;

    env = *state;

    /* exp = now + 300: valid until now + 359 */

    token = make_token(env, &cases[0], NULL);

    assert_int_equal(spiffe_jwt_validate(token, strlen(token), env->bundles,
                                         audiences, aud_lens, 2,
                                         env->now + 359, &svid, &err),
                     0);
    spiffe_jwt_svid_free(&svid);

    assert_int_equal(spiffe_jwt_validate(token, strlen(token), env->bundles,
                                         audiences, aud_lens, 2,
                                         env->now + 360, &svid, &err),
                     -1);
    assert_string_equal(err, "expired");

    /* iat = now */

    assert_int_equal(spiffe_jwt_validate(token, strlen(token), env->bundles,
                                         audiences, aud_lens, 2,
                                         env->now - 60, &svid, &err),
                     0);
    spiffe_jwt_svid_free(&svid);

    assert_int_equal(spiffe_jwt_validate(token, strlen(token), env->bundles,
                                         audiences, aud_lens, 2,
                                         env->now - 61, &svid, &err),
                     -1);
    assert_string_equal(err, "issued in the future");

    free(token);
}


static void
test_peek_exp(void **state)
{
    char        *token, *c;
    env_t       *env;
    time_t       exp;
    const char  *err;

    env = *state;

    token = make_token(env, &cases[0], NULL);
    assert_int_equal(spiffe_jwt_peek_exp(token, strlen(token), &exp, &err),
                     0);
    assert_int_equal(exp, env->now + 300);
    free(token);

    /* not verified: any signature, any key */

    c = malloc(128);
    assert_non_null(c);
    snprintf(c, 128, "{\"exp\":%lld}", (long long) env->now + 5);
    token = jose_sign("none", env->keys[K_EC256], "{\"alg\":\"none\"}", c,
                      JOSE_EMPTY);
    assert_int_equal(spiffe_jwt_peek_exp(token, strlen(token), &exp, &err),
                     0);
    assert_int_equal(exp, env->now + 5);
    free(token);

    token = jose_sign("none", env->keys[K_EC256], "{}", "{\"exp\":12.9}",
                      JOSE_EMPTY);
    assert_int_equal(spiffe_jwt_peek_exp(token, strlen(token), &exp, &err),
                     0);
    assert_int_equal(exp, 12);
    free(token);

    token = jose_sign("none", env->keys[K_EC256], "{}", "{\"sub\":\"x\"}",
                      JOSE_EMPTY);
    assert_int_equal(spiffe_jwt_peek_exp(token, strlen(token), &exp, &err),
                     -1);
    assert_string_equal(err, "no exp");
    free(token);

    token = jose_sign("none", env->keys[K_EC256], "{}", "{\"exp\":\"1\"}",
                      JOSE_EMPTY);
    assert_int_equal(spiffe_jwt_peek_exp(token, strlen(token), &exp, &err),
                     -1);
    assert_string_equal(err, "bad exp");
    free(token);

    token = jose_sign("none", env->keys[K_EC256], "{}", "[1]", JOSE_EMPTY);
    assert_int_equal(spiffe_jwt_peek_exp(token, strlen(token), &exp, &err),
                     -1);
    assert_string_equal(err, "bad claims");
    free(token);

    assert_int_equal(spiffe_jwt_peek_exp("a.b", 3, &exp, &err), -1);
    assert_string_equal(err, "not a compact JWS");

    assert_int_equal(spiffe_jwt_peek_exp("a.b=.c", 6, &exp, &err), -1);
    assert_string_equal(err, "bad base64url");

    assert_int_equal(spiffe_jwt_peek_exp(c, SPIFFE_JWT_MAX_LEN + 1, &exp,
                                         &err),
                     -1);
    assert_string_equal(err, "token too long");

    free(c);
}


/* a token's decoded signature is wiped before its memory goes back */

static void
test_wiped(void **state)
{
    char               *token, *dot;
    size_t              len;
    env_t              *env;
    time_t              exp;
    const char         *err;
    unsigned char       sig[SPIFFE_BASE64_DECODED_LEN(1024)];
    spiffe_jwt_svid_t   svid;

    env = *state;

    token = make_token(env, &cases[0], NULL);
    dot = strrchr(token, '.');
    assert_non_null(dot);
    assert_true(strlen(dot + 1) < 1024);
    assert_int_equal(spiffe_base64_decode(dot + 1, strlen(dot + 1),
                                          SPIFFE_BASE64_URL, sig, &len),
                     0);
    assert_int_equal(len, 64);

    /* the middle of R: in the raw signature and in its DER form */
    memcpy(watched, sig + 8, sizeof(watched));
    dirty_frees = 0;
    watching = 1;

    assert_int_equal(spiffe_jwt_peek_exp(token, strlen(token), &exp, &err),
                     0);
    assert_int_equal(spiffe_jwt_validate(token, strlen(token), env->bundles,
                                         audiences, aud_lens, 2, env->now,
                                         &svid, &err),
                     0);
    spiffe_jwt_svid_free(&svid);

    watching = 0;
    assert_int_equal(dirty_frees, 0);

    free(token);
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_output),
        cmocka_unit_test(test_structure),
        cmocka_unit_test(test_size),
        cmocka_unit_test(test_audience_required),
        cmocka_unit_test(test_no_bundles),
        cmocka_unit_test(test_time),
        cmocka_unit_test(test_peek_exp),
        cmocka_unit_test(test_wiped),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
