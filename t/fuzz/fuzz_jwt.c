/*
 * Copyright (C) ngx_spiffe developers
 */


/*
 * JWT-SVID validation.  The first byte picks:
 *
 *   even  NOW(4) TOKEN: spiffe_jwt_validate() against the target's bundle
 *         (trust domain example.org, an EC P-256 key "ec-1" and an RSA
 *         2048 key "rsa-1") and spiffe_jwt_peek_exp(): nothing can be
 *         forged.
 *   odd   NOW(4) FLAGS(1) HEADER NUL CLAIMS: the target signs
 *         "HEADER.CLAIMS" (base64url) with the key of FLAGS bit 0 (0:
 *         ec-1, 1: rsa-1) and the "alg" of HEADER (ES256 or RS256 when it
 *         has none), breaks the signature when bit 1 is set, and
 *         validates: a broken signature, an "alg" that does not fit the
 *         key, an expired token or a foreign audience never pass, and
 *         what passes is what the claims say.
 *
 * The audiences are "spiffe://example.org/api" and "api".  NOW is a
 * big-endian time_t.  OpenSSL's error queue is empty after every call.
 */

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include <spiffe_id.h>
#include <spiffe_jwks.h>
#include <spiffe_jwt.h>

#include "fuzz.h"


#define FUZZ_TD  "example.org"

static EVP_PKEY              *fuzz_ec;
static EVP_PKEY              *fuzz_rsa;
static spiffe_jwt_bundles_t  *fuzz_bundles;

static const char  *const fuzz_auds[] = { "spiffe://example.org/api", "api" };
static const size_t  fuzz_aud_lens[] = { 24, 3 };

static char *
fuzz_b64_dup(const unsigned char *in, size_t len)
{
    char  *out;

    out = malloc(len / 3 * 4 + 5);
    FUZZ_CHECK(out != NULL);

    fuzz_b64(in, len, 1, out);

    return out;
}

/* the JWKS of the target's keys, as a bundle endpoint would serve it */

static void
fuzz_keys(void)
{
    char                 *x, *y, *n, *e, *json;
    size_t                len, blen;
    BIGNUM               *bn;
    const char           *err;
    unsigned char         pub[65], buf[512];
    spiffe_jwks_t        *jwks;
    spiffe_jwt_bundle_t   b;

    fuzz_ec = EVP_EC_gen("P-256");
    fuzz_rsa = EVP_RSA_gen(2048);
    FUZZ_CHECK(fuzz_ec != NULL && fuzz_rsa != NULL);

    FUZZ_CHECK(EVP_PKEY_get_octet_string_param(fuzz_ec,
                                               OSSL_PKEY_PARAM_PUB_KEY, pub,
                                               sizeof(pub), &len)
               == 1 && len == 65);

    x = fuzz_b64_dup(pub + 1, 32);
    y = fuzz_b64_dup(pub + 33, 32);

    bn = NULL;
    FUZZ_CHECK(EVP_PKEY_get_bn_param(fuzz_rsa, OSSL_PKEY_PARAM_RSA_N, &bn)
               == 1);
    blen = BN_bn2bin(bn, buf);
    n = fuzz_b64_dup(buf, blen);
    BN_free(bn);

    bn = NULL;
    FUZZ_CHECK(EVP_PKEY_get_bn_param(fuzz_rsa, OSSL_PKEY_PARAM_RSA_E, &bn)
               == 1);
    blen = BN_bn2bin(bn, buf);
    e = fuzz_b64_dup(buf, blen);
    BN_free(bn);

    len = strlen(x) + strlen(y) + strlen(n) + strlen(e) + 512;
    json = malloc(len);
    FUZZ_CHECK(json != NULL);

    snprintf(json, len,
             "{\"keys\":["
             "{\"use\":\"jwt-svid\",\"kty\":\"EC\",\"crv\":\"P-256\","
             "\"kid\":\"ec-1\",\"x\":\"%s\",\"y\":\"%s\"},"
             "{\"use\":\"jwt-svid\",\"kty\":\"RSA\",\"kid\":\"rsa-1\","
             "\"n\":\"%s\",\"e\":\"%s\"}],"
             "\"spiffe_sequence\":1,\"spiffe_refresh_hint\":300}",
             x, y, n, e);

    jwks = spiffe_jwks_parse(json, strlen(json), &err);
    FUZZ_CHECK(jwks != NULL);
    FUZZ_CHECK(spiffe_jwks_nkeys(jwks) == 2);

    b.td = "spiffe://" FUZZ_TD;
    b.td_len = strlen(b.td);
    b.jwks = jwks;

    fuzz_bundles = spiffe_jwt_bundles_create(&b, 1, &err);
    FUZZ_CHECK(fuzz_bundles != NULL);

    spiffe_jwks_unref(jwks);
    free(json);
    free(x);
    free(y);
    free(n);
    free(e);

    ERR_clear_error();
}

/* what a valid JWT-SVID gives must be what its claims say */

static void
fuzz_check_svid(const spiffe_jwt_svid_t *svid, json_t *claims, time_t now)
{
    size_t        i;
    json_t       *sub, *exp, *aud, *back, *v;
    const char   *err;
    spiffe_id_t   id;
    json_error_t  error;

    FUZZ_CHECK(svid->id != NULL && strlen(svid->id) == svid->id_len);
    FUZZ_CHECK(spiffe_id_parse(svid->id, svid->id_len, &id, &err) == 0);
    FUZZ_CHECK(id.path_len > 0);
    FUZZ_CHECK(svid->td_off == (size_t) (id.td - svid->id)
               && svid->td_len == id.td_len);
    FUZZ_CHECK(svid->path_off == (size_t) (id.path - svid->id)
               && svid->path_len == id.path_len);
    FUZZ_CHECK(id.td_len == sizeof(FUZZ_TD) - 1
               && memcmp(id.td, FUZZ_TD, id.td_len) == 0);

    if (claims == NULL) {
        return;
    }

    sub = json_object_get(claims, "sub");
    FUZZ_CHECK(json_is_string(sub)
               && json_string_length(sub) == svid->id_len
               && memcmp(json_string_value(sub), svid->id, svid->id_len)
                  == 0);

    exp = json_object_get(claims, "exp");
    FUZZ_CHECK(json_is_number(exp));
    FUZZ_CHECK((int64_t) svid->exp > (int64_t) now - SPIFFE_JWT_LEEWAY);

    if (json_is_integer(exp)) {
        FUZZ_CHECK((int64_t) svid->exp == json_integer_value(exp));
    }

    aud = json_object_get(claims, "aud");

    if (json_is_string(aud)) {
        FUZZ_CHECK(strcmp(json_string_value(aud), fuzz_auds[0]) == 0
                   || strcmp(json_string_value(aud), fuzz_auds[1]) == 0);

    } else {
        FUZZ_CHECK(json_is_array(aud));

        json_array_foreach(aud, i, v) {
            if (strcmp(json_string_value(v), fuzz_auds[0]) == 0
                || strcmp(json_string_value(v), fuzz_auds[1]) == 0)
            {
                break;
            }
        }

        FUZZ_CHECK(i < json_array_size(aud));
    }

    FUZZ_CHECK(svid->claims != NULL
               && strlen(svid->claims) == svid->claims_len);

    back = json_loadb(svid->claims, svid->claims_len, 0, &error);
    FUZZ_CHECK(back != NULL && json_equal(back, claims));
    json_decref(back);
}

static void
fuzz_validate(const char *token, size_t len, time_t now, int forged,
    json_t *claims)
{
    int                 rc;
    char               *copy;
    time_t              exp;
    const char         *err;
    spiffe_jwt_svid_t   svid;

    /* a buffer of the token's size: an overread shows */

    copy = malloc(len > 0 ? len : 1);
    FUZZ_CHECK(copy != NULL);
    memcpy(copy, token, len);
    token = copy;

    err = NULL;
    rc = spiffe_jwt_validate(token, len, fuzz_bundles, fuzz_auds,
                             fuzz_aud_lens, 2, now, &svid, &err);
    FUZZ_CHECK_ERR();

    if (rc == 0) {
        FUZZ_CHECK(!forged);
        fuzz_check_svid(&svid, claims, now);
        spiffe_jwt_svid_free(&svid);

    } else {
        FUZZ_CHECK(rc == -1 && err != NULL);
        FUZZ_CHECK(svid.id == NULL && svid.claims == NULL && svid.exp == 0);
    }

    if (spiffe_jwt_peek_exp(token, len, &exp, &err) == 0 && claims != NULL) {
        FUZZ_CHECK(json_is_number(json_object_get(claims, "exp")));
    }

    FUZZ_CHECK_ERR();

    free(copy);
}

static void
fuzz_token(const uint8_t *data, size_t size)
{
    char    *token;
    time_t   now;

    if (size < 4) {
        return;
    }

    now = fuzz_time(data);

    token = malloc(size > 4 ? size - 4 : 1);
    FUZZ_CHECK(token != NULL);
    memcpy(token, data + 4, size - 4);

    /* no private key of the bundle is in the input */

    fuzz_validate(token, size - 4, now, 1, NULL);

    free(token);
}

/* R || S of the curve's size from a DER ECDSA signature */

static size_t
fuzz_raw_ecdsa(const unsigned char *der, size_t len, unsigned char *out)
{
    ECDSA_SIG            *sig;
    const BIGNUM         *r, *s;
    const unsigned char  *p;

    p = der;
    sig = d2i_ECDSA_SIG(NULL, &p, (long) len);
    FUZZ_CHECK(sig != NULL);

    ECDSA_SIG_get0(sig, &r, &s);
    FUZZ_CHECK(BN_bn2binpad(r, out, 32) == 32
               && BN_bn2binpad(s, out + 32, 32) == 32);

    ECDSA_SIG_free(sig);

    return 64;
}

static void
fuzz_signed(const uint8_t *data, size_t size)
{
    int             rsa, pss, forge, fits;
    char           *token;
    size_t          hlen, clen, n, slen;
    time_t          now;
    json_t         *header, *claims, *alg;
    EVP_PKEY       *key;
    EVP_MD_CTX     *md;
    const EVP_MD   *digest;
    const char     *a;
    json_error_t    error;
    EVP_PKEY_CTX   *pctx;
    unsigned char   sig[512], raw[64];
    const uint8_t  *h, *c, *nul;

    if (size < 5) {
        return;
    }

    now = fuzz_time(data);
    rsa = data[4] & 1;
    forge = (data[4] >> 1) & 1;

    h = data + 5;
    nul = memchr(h, '\0', size - 5);

    if (nul == NULL) {
        return;
    }

    hlen = nul - h;
    c = nul + 1;
    clen = data + size - c;

    if (hlen > SPIFFE_JWT_MAX_LEN || clen > SPIFFE_JWT_MAX_LEN) {
        return;
    }

    header = json_loadb((const char *) h, hlen, 0, &error);
    claims = json_loadb((const char *) c, clen, 0, &error);

    /* the digest and padding the header asks for, when it fits the key */

    alg = json_object_get(header, "alg");
    a = json_is_string(alg) ? json_string_value(alg)
                            : (rsa ? "RS256" : "ES256");

    fits = rsa ? (strcmp(a, "RS256") == 0 || strcmp(a, "RS384") == 0
                  || strcmp(a, "RS512") == 0 || strcmp(a, "PS256") == 0
                  || strcmp(a, "PS384") == 0 || strcmp(a, "PS512") == 0)
               : (strcmp(a, "ES256") == 0);

    pss = fits && rsa && a[0] == 'P';
    digest = EVP_sha256();

    if (fits && rsa) {
        digest = (strcmp(a + 2, "384") == 0) ? EVP_sha384()
                 : (strcmp(a + 2, "512") == 0) ? EVP_sha512() : EVP_sha256();
    }

    token = malloc(hlen / 3 * 4 + clen / 3 * 4 + 700);
    FUZZ_CHECK(token != NULL);

    n = fuzz_b64(h, hlen, 1, token);
    token[n++] = '.';
    n += fuzz_b64(c, clen, 1, token + n);

    key = rsa ? fuzz_rsa : fuzz_ec;

    md = EVP_MD_CTX_new();
    FUZZ_CHECK(md != NULL);
    FUZZ_CHECK(EVP_DigestSignInit(md, &pctx, digest, NULL, key) == 1);

    if (pss) {
        FUZZ_CHECK(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING)
                   == 1);
        FUZZ_CHECK(EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx,
                                                    RSA_PSS_SALTLEN_DIGEST)
                   == 1);
    }

    slen = sizeof(sig);
    FUZZ_CHECK(EVP_DigestSign(md, sig, &slen, (unsigned char *) token, n)
               == 1);
    EVP_MD_CTX_free(md);

    if (!rsa) {
        slen = fuzz_raw_ecdsa(sig, slen, raw);
        memcpy(sig, raw, slen);
    }

    if (forge) {
        sig[slen / 2] ^= 0x01;
    }

    token[n++] = '.';
    n += fuzz_b64(sig, slen, 1, token + n);

    ERR_clear_error();

    /* a signature that does not fit the alg the header names is forged */

    fuzz_validate(token, n, now, forge || !fits || header == NULL, claims);

    free(token);
    json_decref(header);
    json_decref(claims);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void) argc;
    (void) argv;

    fuzz_keys();

    return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) {
        return 0;
    }

    ERR_clear_error();

    if (data[0] % 2 == 0) {
        fuzz_token(data + 1, size - 1);

    } else {
        fuzz_signed(data + 1, size - 1);
    }

    FUZZ_CHECK_ERR();

    return 0;
}
