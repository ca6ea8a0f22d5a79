/*
 * Copyright (C) ngx_spiffe developers
 */


/*
 * JWKS bundles, strict base64 and JWT-SVIDs.  The first byte picks:
 *
 *   0  JSON: spiffe_jwks_parse(); every kept key is findable by its kid
 *      and of the type it claims, counts add up.
 *   1  FLAGS(1) TEXT: spiffe_base64_decode() with bit 0 of FLAGS as
 *      SPIFFE_BASE64_URL; what decodes encodes back to TEXT exactly (the
 *      decoder is strict), and TEXT taken as bytes encodes and decodes
 *      back to itself.
 *   2  NOW(4) TOKEN: spiffe_jwt_validate() against the target's bundle
 *      (trust domain example.org, an EC P-256 key "ec-1" and an RSA 2048
 *      key "rsa-1") and spiffe_jwt_peek_exp(): nothing can be forged.
 *   3  NOW(4) FLAGS(1) HEADER NUL CLAIMS: the target signs "HEADER.CLAIMS"
 *      (base64url) with the key of FLAGS bit 0 (0: ec-1, 1: rsa-1) and
 *      the "alg" of HEADER (ES256 or RS256 when it has none), breaks the
 *      signature when bit 1 is set, and validates: a broken signature,
 *      an "alg" that does not fit the key, an expired token or a foreign
 *      audience never pass, and what passes is what the claims say.
 *   4  a JWTBundlesResponse: decoded, then spiffe_workload_jwt_bundles().
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
#include <spiffe_pb.h>
#include <spiffe_x509.h>
#include <spiffe_base64.h>
#include <spiffe_jwks.h>
#include <spiffe_jwt.h>
#include <spiffe_workload.h>


#define FUZZ_CHECK(cond)                                                      \
    do {                                                                      \
        if (!(cond)) {                                                        \
            fprintf(stderr, "%s:%d: property failed: %s\n",                   \
                    __FILE__, __LINE__, #cond);                               \
            abort();                                                          \
        }                                                                     \
    } while (0)

#define FUZZ_CHECK_ERR()                                                      \
    do {                                                                      \
        if (ERR_peek_error() != 0) {                                          \
            fprintf(stderr, "%s:%d: property failed: OpenSSL error queue "    \
                    "not empty:\n", __FILE__, __LINE__);                      \
            ERR_print_errors_fp(stderr);                                      \
            abort();                                                          \
        }                                                                     \
    } while (0)

#define FUZZ_TD         "example.org"
#define FUZZ_MAX_TOKEN  (2 * SPIFFE_JWT_MAX_LEN)


static EVP_PKEY              *fuzz_ec;
static EVP_PKEY              *fuzz_rsa;
static spiffe_jwt_bundles_t  *fuzz_bundles;

static const char  *const fuzz_auds[] = { "spiffe://example.org/api", "api" };
static const size_t  fuzz_aud_lens[] = { 24, 3 };


static const char  fuzz_b64_std[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char  fuzz_b64_url[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";


/* returns the length written to out, NUL-terminated */

static size_t
fuzz_b64(const unsigned char *in, size_t len, int url, char *out)
{
    size_t       i, n;
    uint32_t     v;
    const char  *a;

    a = url ? fuzz_b64_url : fuzz_b64_std;

    for (i = 0, n = 0; i + 2 < len; i += 3) {
        v = (uint32_t) in[i] << 16 | (uint32_t) in[i + 1] << 8 | in[i + 2];
        out[n++] = a[v >> 18];
        out[n++] = a[(v >> 12) & 63];
        out[n++] = a[(v >> 6) & 63];
        out[n++] = a[v & 63];
    }

    if (len - i == 1) {
        v = (uint32_t) in[i] << 16;
        out[n++] = a[v >> 18];
        out[n++] = a[(v >> 12) & 63];

        if (!url) {
            out[n++] = '=';
            out[n++] = '=';
        }

    } else if (len - i == 2) {
        v = (uint32_t) in[i] << 16 | (uint32_t) in[i + 1] << 8;
        out[n++] = a[v >> 18];
        out[n++] = a[(v >> 12) & 63];
        out[n++] = a[(v >> 6) & 63];

        if (!url) {
            out[n++] = '=';
        }
    }

    out[n] = '\0';

    return n;
}


static char *
fuzz_b64_dup(const unsigned char *in, size_t len)
{
    char  *out;

    out = malloc(len / 3 * 4 + 5);
    FUZZ_CHECK(out != NULL);

    fuzz_b64(in, len, 1, out);

    return out;
}


static time_t
fuzz_time(const uint8_t *p)
{
    return (time_t) ((uint32_t) p[0] << 24 | (uint32_t) p[1] << 16
                     | (uint32_t) p[2] << 8 | p[3]);
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


static void
fuzz_jwks(const uint8_t *data, size_t size)
{
    int                  bits;
    char                *json;
    size_t               i, n, nkeys, nx509;
    uint64_t             seq;
    const char          *err;
    json_t              *root, *keys;
    json_error_t         error;
    spiffe_jwks_t       *jwks;
    const spiffe_jwk_t  *k;

    /* a buffer of its own: the parser must not read past len */

    json = malloc(size > 0 ? size : 1);
    FUZZ_CHECK(json != NULL);
    memcpy(json, data, size);

    err = NULL;
    jwks = spiffe_jwks_parse(json, size, &err);
    FUZZ_CHECK_ERR();

    if (jwks == NULL) {
        FUZZ_CHECK(err != NULL);
        free(json);
        return;
    }

    root = json_loadb(json, size, JSON_REJECT_DUPLICATES, &error);
    FUZZ_CHECK(root != NULL);

    keys = json_object_get(root, "keys");
    n = json_array_size(keys);

    nkeys = spiffe_jwks_nkeys(jwks);
    nx509 = sk_X509_num(spiffe_jwks_x509_authorities(jwks));

    FUZZ_CHECK(nkeys + nx509 + spiffe_jwks_nignored(jwks) == n);
    FUZZ_CHECK(spiffe_jwks_refresh_hint(jwks) >= 0);
    FUZZ_CHECK(spiffe_jwks_sequence(jwks, &seq) == 0
               || json_object_get(root, "spiffe_sequence") == NULL);

    for (i = 0; i < nkeys; i++) {
        k = spiffe_jwks_key(jwks, i);
        FUZZ_CHECK(k != NULL && k->pkey != NULL);
        FUZZ_CHECK(k->kid_len > 0 && strlen(k->kid) == k->kid_len);
        FUZZ_CHECK(spiffe_jwks_find(jwks, k->kid, k->kid_len) == k);

        bits = EVP_PKEY_get_bits(k->pkey);

        switch (k->type) {

        case SPIFFE_JWK_RSA:
            FUZZ_CHECK(EVP_PKEY_get_base_id(k->pkey) == EVP_PKEY_RSA);
            FUZZ_CHECK(bits >= SPIFFE_JWK_RSA_MIN_BITS);
            break;

        case SPIFFE_JWK_EC_P256:
        case SPIFFE_JWK_EC_P384:
        case SPIFFE_JWK_EC_P521:
            FUZZ_CHECK(EVP_PKEY_get_base_id(k->pkey) == EVP_PKEY_EC);
            FUZZ_CHECK(bits == (k->type == SPIFFE_JWK_EC_P256 ? 256
                                : k->type == SPIFFE_JWK_EC_P384 ? 384 : 521));
            break;

        default:
            FUZZ_CHECK(0 && "unknown key type");
        }
    }

    FUZZ_CHECK(spiffe_jwks_key(jwks, nkeys) == NULL);

    for (i = 0; i < nx509; i++) {
        FUZZ_CHECK(spiffe_x509_is_ca(
                       sk_X509_value(spiffe_jwks_x509_authorities(jwks), i)));
    }

    FUZZ_CHECK_ERR();

    spiffe_jwks_unref(spiffe_jwks_ref(jwks));
    spiffe_jwks_unref(jwks);
    json_decref(root);
    free(json);
}


static void
fuzz_base64(const uint8_t *data, size_t size)
{
    int             url;
    char           *s, *back;
    size_t          len, n, m;
    unsigned char  *out;

    if (size < 1) {
        return;
    }

    url = data[0] & 1;
    data++;
    size--;

    s = malloc(size > 0 ? size : 1);
    out = malloc(SPIFFE_BASE64_DECODED_LEN(size));
    FUZZ_CHECK(s != NULL && out != NULL);

    memcpy(s, data, size);

    /* decoded, then encoded back: the same text */

    if (spiffe_base64_decode(s, size, url ? SPIFFE_BASE64_URL
                                          : SPIFFE_BASE64_STD,
                             out, &len)
        == 0)
    {
        FUZZ_CHECK(len <= SPIFFE_BASE64_DECODED_LEN(size));

        back = malloc(len / 3 * 4 + 5);
        FUZZ_CHECK(back != NULL);

        n = fuzz_b64(out, len, url, back);
        FUZZ_CHECK(n == size && memcmp(back, s, size) == 0);

        free(back);
    }

    /* the input as bytes, encoded, then decoded */

    back = malloc(size / 3 * 4 + 5);
    FUZZ_CHECK(back != NULL);

    n = fuzz_b64(data, size, url, back);

    free(out);
    out = malloc(SPIFFE_BASE64_DECODED_LEN(n));
    FUZZ_CHECK(out != NULL);

    FUZZ_CHECK(spiffe_base64_decode(back, n, url ? SPIFFE_BASE64_URL
                                                 : SPIFFE_BASE64_STD,
                                    out, &m)
               == 0);
    FUZZ_CHECK(m == size && memcmp(out, data, size) == 0);

    free(s);
    free(out);
    free(back);
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


static void
fuzz_resp(const uint8_t *data, size_t size)
{
    size_t                        i, n;
    const char                   *err;
    spiffe_jwks_t                *jwks;
    spiffe_jwt_bundles_t         *set;
    spiffe_pb_jwt_bundles_resp_t  resp;
    const spiffe_jwt_bundle_t    *b, *prev;

    if (spiffe_pb_decode_jwt_bundles_resp(data, size, &resp, &err) != 0) {
        return;
    }

    err = NULL;
    set = spiffe_workload_jwt_bundles(&resp, &err);
    FUZZ_CHECK_ERR();

    if (set == NULL) {
        FUZZ_CHECK(err != NULL);
        spiffe_pb_free_jwt_bundles_resp(&resp);
        return;
    }

    n = spiffe_jwt_bundles_count(set);
    FUZZ_CHECK(n <= resp.nbundles);

    for (i = 0, prev = NULL; i < n; i++, prev = b) {
        b = spiffe_jwt_bundles_get(set, i);
        FUZZ_CHECK(b != NULL && b->jwks != NULL);
        FUZZ_CHECK(spiffe_td_parse(b->td, b->td_len, &err) == 0);

        jwks = spiffe_jwt_bundles_find(set, b->td, b->td_len);
        FUZZ_CHECK(jwks == b->jwks);

        /* shortest first, then by bytes, no two alike */

        FUZZ_CHECK(prev == NULL || prev->td_len < b->td_len
                   || (prev->td_len == b->td_len
                       && memcmp(prev->td, b->td, b->td_len) < 0));
    }

    FUZZ_CHECK(spiffe_jwt_bundles_get(set, n) == NULL);

    spiffe_jwt_bundles_unref(spiffe_jwt_bundles_ref(set));
    spiffe_jwt_bundles_unref(set);
    spiffe_pb_free_jwt_bundles_resp(&resp);
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

    switch (data[0] % 5) {

    case 0:
        fuzz_jwks(data + 1, size - 1);
        break;

    case 1:
        fuzz_base64(data + 1, size - 1);
        break;

    case 2:
        fuzz_token(data + 1, size - 1);
        break;

    case 3:
        fuzz_signed(data + 1, size - 1);
        break;

    default:
        fuzz_resp(data + 1, size - 1);
        break;
    }

    FUZZ_CHECK_ERR();

    return 0;
}
