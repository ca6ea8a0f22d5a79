
/*
 * Copyright (C) ngx_spiffe developers
 */


#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/rsa.h>

#include <spiffe_id.h>
#include <spiffe_base64.h>
#include <spiffe_jwks.h>
#include <spiffe_jwt.h>


#define SPIFFE_JWT_RS  1                /* RSASSA-PKCS1-v1_5 */
#define SPIFFE_JWT_PS  2                /* RSASSA-PSS */
#define SPIFFE_JWT_ES  3                /* ECDSA, raw R || S */


typedef struct {
    const char              *name;
    unsigned                 family;
    unsigned                 key;       /* SPIFFE_JWK_* */
    const EVP_MD          *(*md)(void);
    size_t                   sig_len;   /* of R || S */
} spiffe_jwt_alg_t;


/* the token's parts, encoded (in the token) and decoded (in buf) */

typedef struct {
    const char              *input;     /* "header.claims", signed */
    size_t                   input_len;
    unsigned char           *buf;
    size_t                   size;      /* of buf */
    unsigned char           *header;
    size_t                   header_len;
    unsigned char           *claims;
    size_t                   claims_len;
    unsigned char           *sig;
    size_t                   sig_len;
} spiffe_jwt_parts_t;


static int spiffe_jwt_split(const char *token, size_t len,
    spiffe_jwt_parts_t *parts, const char **err);
static void spiffe_jwt_parts_free(spiffe_jwt_parts_t *parts);
static json_t *spiffe_jwt_json(const unsigned char *s, size_t len,
    const char *bad, const char **err);
static const spiffe_jwt_alg_t *spiffe_jwt_alg(json_t *header,
    const char **err);
static int spiffe_jwt_header(json_t *header, const char **kid,
    size_t *kid_len, const char **err);
static int spiffe_jwt_sub(json_t *claims, spiffe_id_t *id, const char **err);
static int spiffe_jwt_verify(const spiffe_jwt_alg_t *alg,
    const spiffe_jwk_t *key, const spiffe_jwt_parts_t *parts,
    const char **err);
static unsigned char *spiffe_jwt_ecdsa_der(const unsigned char *raw,
    size_t len, size_t *der_len);
static int spiffe_jwt_times(json_t *claims, time_t now, int64_t *exp,
    const char **err);
static int spiffe_jwt_date(json_t *claims, const char *name, int64_t *t);
static int spiffe_jwt_aud(json_t *claims, const char *const *audiences,
    const size_t *aud_lens, size_t naudiences, const char **err);
static int spiffe_jwt_aud_match(json_t *aud, const char *const *audiences,
    const size_t *aud_lens, size_t naudiences);
static int spiffe_jwt_output(json_t *claims, const spiffe_id_t *id,
    int64_t exp, spiffe_jwt_svid_t *out, const char **err);


static const spiffe_jwt_alg_t  spiffe_jwt_algs[] = {
    { "RS256", SPIFFE_JWT_RS, SPIFFE_JWK_RSA, EVP_sha256, 0 },
    { "RS384", SPIFFE_JWT_RS, SPIFFE_JWK_RSA, EVP_sha384, 0 },
    { "RS512", SPIFFE_JWT_RS, SPIFFE_JWK_RSA, EVP_sha512, 0 },
    { "PS256", SPIFFE_JWT_PS, SPIFFE_JWK_RSA, EVP_sha256, 0 },
    { "PS384", SPIFFE_JWT_PS, SPIFFE_JWK_RSA, EVP_sha384, 0 },
    { "PS512", SPIFFE_JWT_PS, SPIFFE_JWK_RSA, EVP_sha512, 0 },
    { "ES256", SPIFFE_JWT_ES, SPIFFE_JWK_EC_P256, EVP_sha256, 64 },
    { "ES384", SPIFFE_JWT_ES, SPIFFE_JWK_EC_P384, EVP_sha384, 96 },
    { "ES512", SPIFFE_JWT_ES, SPIFFE_JWK_EC_P521, EVP_sha512, 132 },
};


int
spiffe_jwt_validate(const char *token, size_t len,
    const spiffe_jwt_bundles_t *bundles, const char *const *audiences,
    const size_t *aud_lens, size_t naudiences, time_t now,
    spiffe_jwt_svid_t *out, const char **err)
{
    int                      rc;
    json_t                  *header, *claims;
    size_t                   kid_len;
    int64_t                  exp;
    const char              *kid;
    spiffe_id_t              id;
    spiffe_jwks_t           *jwks;
    const spiffe_jwk_t      *key;
    spiffe_jwt_parts_t       parts;
    const spiffe_jwt_alg_t  *alg;

    memset(out, 0, sizeof(spiffe_jwt_svid_t));

    if (len > SPIFFE_JWT_MAX_LEN) {
        *err = "token too long";
        return -1;
    }

    if (naudiences == 0) {
        *err = "no audience configured";
        return -1;
    }

    if (spiffe_jwt_split(token, len, &parts, err) != 0) {
        return -1;
    }

    rc = -1;
    claims = NULL;

    header = spiffe_jwt_json(parts.header, parts.header_len, "bad header",
                             err);
    if (header == NULL) {
        goto done;
    }

    /* the algorithm before anything that depends on it: no key lookup */

    alg = spiffe_jwt_alg(header, err);
    if (alg == NULL) {
        goto done;
    }

    if (spiffe_jwt_header(header, &kid, &kid_len, err) != 0) {
        goto done;
    }

    claims = spiffe_jwt_json(parts.claims, parts.claims_len, "bad claims",
                             err);
    if (claims == NULL) {
        goto done;
    }

    if (spiffe_jwt_sub(claims, &id, err) != 0) {
        goto done;
    }

    jwks = (bundles != NULL)
           ? spiffe_jwt_bundles_find(bundles, id.td, id.td_len) : NULL;
    if (jwks == NULL) {
        *err = "no bundle for trust domain";
        goto done;
    }

    key = spiffe_jwks_find(jwks, kid, kid_len);
    if (key == NULL) {
        *err = "unknown kid";
        goto done;
    }

    if (key->type != alg->key) {
        *err = "key does not fit alg";
        goto done;
    }

    /* nothing in the claims is believed before this */

    if (spiffe_jwt_verify(alg, key, &parts, err) != 0) {
        goto done;
    }

    if (spiffe_jwt_times(claims, now, &exp, err) != 0
        || spiffe_jwt_aud(claims, audiences, aud_lens, naudiences, err) != 0
        || spiffe_jwt_output(claims, &id, exp, out, err) != 0)
    {
        goto done;
    }

    rc = 0;

done:

    json_decref(claims);
    json_decref(header);
    spiffe_jwt_parts_free(&parts);

    return rc;
}


void
spiffe_jwt_svid_free(spiffe_jwt_svid_t *svid)
{
    free(svid->id);
    free(svid->claims);
    memset(svid, 0, sizeof(spiffe_jwt_svid_t));
}


int
spiffe_jwt_peek_exp(const char *token, size_t len, time_t *exp,
    const char **err)
{
    int                  rc;
    json_t              *claims;
    int64_t              t;
    spiffe_jwt_parts_t   parts;

    if (len > SPIFFE_JWT_MAX_LEN) {
        *err = "token too long";
        return -1;
    }

    if (spiffe_jwt_split(token, len, &parts, err) != 0) {
        return -1;
    }

    claims = spiffe_jwt_json(parts.claims, parts.claims_len, "bad claims",
                             err);
    spiffe_jwt_parts_free(&parts);

    if (claims == NULL) {
        return -1;
    }

    rc = spiffe_jwt_date(claims, "exp", &t);

    json_decref(claims);

    if (rc != 0) {
        *err = (rc > 0) ? "no exp" : "bad exp";
        return -1;
    }

    *exp = (time_t) t;

    return 0;
}


/*
 * The compact serialization only: three strict base64url parts, decoded
 * into one buffer; parts->buf is to be freed on success.
 */

static int
spiffe_jwt_split(const char *token, size_t len, spiffe_jwt_parts_t *parts,
    const char **err)
{
    const char     *end, *dot1, *dot2;
    unsigned char  *p;

    parts->buf = NULL;

    if (len == 0) {
        *err = "not a compact JWS";
        return -1;
    }

    if (token[0] == '{') {
        *err = "JSON serialization not supported";
        return -1;
    }

    end = token + len;

    dot1 = memchr(token, '.', len);
    dot2 = (dot1 != NULL) ? memchr(dot1 + 1, '.', end - dot1 - 1) : NULL;

    if (dot2 == NULL || memchr(dot2 + 1, '.', end - dot2 - 1) != NULL) {
        *err = "not a compact JWS";
        return -1;
    }

    parts->input = token;
    parts->input_len = dot2 - token;

    /* the three decodings together are no longer than the whole one */

    parts->size = SPIFFE_BASE64_DECODED_LEN(len);
    parts->buf = malloc(parts->size);
    if (parts->buf == NULL) {
        *err = "out of memory";
        return -1;
    }

    p = parts->buf;
    parts->header = p;

    if (spiffe_base64_decode(token, dot1 - token, SPIFFE_BASE64_URL, p,
                             &parts->header_len)
        != 0)
    {
        goto failed;
    }

    p += parts->header_len;
    parts->claims = p;

    if (spiffe_base64_decode(dot1 + 1, dot2 - dot1 - 1, SPIFFE_BASE64_URL, p,
                             &parts->claims_len)
        != 0)
    {
        goto failed;
    }

    p += parts->claims_len;
    parts->sig = p;

    if (spiffe_base64_decode(dot2 + 1, end - dot2 - 1, SPIFFE_BASE64_URL, p,
                             &parts->sig_len)
        != 0)
    {
        goto failed;
    }

    return 0;

failed:

    spiffe_jwt_parts_free(parts);
    *err = "bad base64url";

    return -1;
}


/* the signature, with the readable parts, is the token: wiped */

static void
spiffe_jwt_parts_free(spiffe_jwt_parts_t *parts)
{
    if (parts->buf != NULL) {
        OPENSSL_cleanse(parts->buf, parts->size);
        free(parts->buf);
        parts->buf = NULL;
    }
}


static json_t *
spiffe_jwt_json(const unsigned char *s, size_t len, const char *bad,
    const char **err)
{
    json_t        *json;
    json_error_t   error;

    json = json_loadb((const char *) s, len, JSON_REJECT_DUPLICATES, &error);

    if (!json_is_object(json)) {
        json_decref(json);
        *err = bad;
        return NULL;
    }

    return json;
}


static const spiffe_jwt_alg_t *
spiffe_jwt_alg(json_t *header, const char **err)
{
    size_t   i;
    json_t  *v;

    v = json_object_get(header, "alg");
    if (v == NULL) {
        *err = "no alg";
        return NULL;
    }

    if (json_is_string(v)) {
        for (i = 0; i < sizeof(spiffe_jwt_algs) / sizeof(spiffe_jwt_algs[0]);
             i++)
        {
            if (strcmp(json_string_value(v), spiffe_jwt_algs[i].name) == 0) {
                return &spiffe_jwt_algs[i];
            }
        }
    }

    *err = "alg not allowed";

    return NULL;
}


static int
spiffe_jwt_header(json_t *header, const char **kid, size_t *kid_len,
    const char **err)
{
    json_t      *v;
    const char  *typ;

    v = json_object_get(header, "typ");
    if (v != NULL) {
        typ = json_string_value(v);

        if (typ == NULL
            || (strcmp(typ, "JWT") != 0 && strcmp(typ, "JOSE") != 0))
        {
            *err = "bad typ";
            return -1;
        }
    }

    /* an extension we would have to understand: we understand none */

    if (json_object_get(header, "crit") != NULL) {
        *err = "crit not supported";
        return -1;
    }

    v = json_object_get(header, "kid");
    if (!json_is_string(v) || json_string_length(v) == 0) {
        *err = "no kid";
        return -1;
    }

    *kid = json_string_value(v);
    *kid_len = json_string_length(v);

    return 0;
}


static int
spiffe_jwt_sub(json_t *claims, spiffe_id_t *id, const char **err)
{
    json_t      *v;
    const char  *reason;

    v = json_object_get(claims, "sub");
    if (v == NULL) {
        *err = "no sub";
        return -1;
    }

    if (!json_is_string(v)
        || spiffe_id_parse(json_string_value(v), json_string_length(v), id,
                           &reason)
           != 0)
    {
        *err = "sub is not a SPIFFE ID";
        return -1;
    }

    if (id->path_len == 0) {
        *err = "sub has no path";
        return -1;
    }

    return 0;
}


static int
spiffe_jwt_verify(const spiffe_jwt_alg_t *alg, const spiffe_jwk_t *key,
    const spiffe_jwt_parts_t *parts, const char **err)
{
    int                   rc;
    size_t                sig_len;
    EVP_MD_CTX           *md;
    EVP_PKEY_CTX         *pctx;
    unsigned char        *der;
    const unsigned char  *sig;

    sig = parts->sig;
    sig_len = parts->sig_len;
    der = NULL;

    if (alg->family == SPIFFE_JWT_ES) {

        /* JWS wants R || S: a DER signature is refused by its length */

        if (sig_len != alg->sig_len) {
            *err = "bad signature";
            return -1;
        }

        der = spiffe_jwt_ecdsa_der(sig, sig_len, &sig_len);
        if (der == NULL) {
            *err = "out of memory";
            return -1;
        }

        sig = der;
    }

    rc = -1;

    ERR_set_mark();

    md = EVP_MD_CTX_new();

    if (md == NULL
        || EVP_DigestVerifyInit(md, &pctx, alg->md(), NULL, key->pkey) != 1)
    {
        *err = "out of memory";
        goto done;
    }

    if (alg->family == SPIFFE_JWT_PS
        && (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1
            || EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST)
               != 1
            || EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, alg->md()) != 1))
    {
        *err = "out of memory";
        goto done;
    }

    if (EVP_DigestVerify(md, sig, sig_len,
                         (const unsigned char *) parts->input,
                         parts->input_len)
        != 1)
    {
        *err = "bad signature";
        goto done;
    }

    rc = 0;

done:

    ERR_pop_to_mark();

    EVP_MD_CTX_free(md);

    if (der != NULL) {
        OPENSSL_cleanse(der, sig_len);
        free(der);
    }

    return rc;
}


static unsigned char *
spiffe_jwt_ecdsa_der(const unsigned char *raw, size_t len, size_t *der_len)
{
    int             n;
    BIGNUM         *r, *s;
    ECDSA_SIG      *sig;
    unsigned char  *der, *p;

    der = NULL;

    sig = ECDSA_SIG_new();
    r = BN_bin2bn(raw, (int) (len / 2), NULL);
    s = BN_bin2bn(raw + len / 2, (int) (len / 2), NULL);

    if (sig == NULL || r == NULL || s == NULL
        || ECDSA_SIG_set0(sig, r, s) != 1)
    {
        BN_free(r);
        BN_free(s);
        goto done;
    }

    n = i2d_ECDSA_SIG(sig, NULL);
    if (n <= 0) {
        goto done;
    }

    der = malloc(n);
    if (der == NULL) {
        goto done;
    }

    p = der;
    *der_len = i2d_ECDSA_SIG(sig, &p);

done:

    ECDSA_SIG_free(sig);

    return der;
}


/* exp required, nbf and iat optional, all with the leeway */

static int
spiffe_jwt_times(json_t *claims, time_t now, int64_t *exp, const char **err)
{
    int      rc;
    int64_t  t, n;

    n = (int64_t) now;

    rc = spiffe_jwt_date(claims, "exp", exp);
    if (rc != 0) {
        *err = (rc > 0) ? "no exp" : "bad exp";
        return -1;
    }

    if (*exp <= n - SPIFFE_JWT_LEEWAY) {
        *err = "expired";
        return -1;
    }

    rc = spiffe_jwt_date(claims, "nbf", &t);
    if (rc < 0) {
        *err = "bad nbf";
        return -1;
    }

    if (rc == 0 && t > n + SPIFFE_JWT_LEEWAY) {
        *err = "not yet valid";
        return -1;
    }

    rc = spiffe_jwt_date(claims, "iat", &t);
    if (rc < 0) {
        *err = "bad iat";
        return -1;
    }

    if (rc == 0 && t > n + SPIFFE_JWT_LEEWAY) {
        *err = "issued in the future";
        return -1;
    }

    return 0;
}


/* a NumericDate: 0, 1 when absent, -1 when not a number */

static int
spiffe_jwt_date(json_t *claims, const char *name, int64_t *t)
{
    double   d;
    json_t  *v;

    v = json_object_get(claims, name);
    if (v == NULL) {
        return 1;
    }

    if (json_is_integer(v)) {
        *t = json_integer_value(v);
        return 0;
    }

    if (!json_is_real(v)) {
        return -1;
    }

    /* a fraction of a second is dropped; beyond +-9e18 the cast is unsafe */

    d = json_real_value(v);

    if (d >= 9e18) {
        *t = INT64_MAX;

    } else if (d <= -9e18) {
        *t = INT64_MIN;

    } else {
        *t = (int64_t) d;
    }

    return 0;
}


static int
spiffe_jwt_aud(json_t *claims, const char *const *audiences,
    const size_t *aud_lens, size_t naudiences, const char **err)
{
    size_t   i;
    json_t  *aud, *v;

    aud = json_object_get(claims, "aud");
    if (aud == NULL) {
        *err = "no aud";
        return -1;
    }

    if (json_is_string(aud)) {
        if (spiffe_jwt_aud_match(aud, audiences, aud_lens, naudiences)) {
            return 0;
        }

        *err = "audience mismatch";
        return -1;
    }

    if (!json_is_array(aud)) {
        *err = "bad aud";
        return -1;
    }

    json_array_foreach(aud, i, v) {
        if (!json_is_string(v)) {
            *err = "bad aud";
            return -1;
        }
    }

    json_array_foreach(aud, i, v) {
        if (spiffe_jwt_aud_match(v, audiences, aud_lens, naudiences)) {
            return 0;
        }
    }

    *err = "audience mismatch";

    return -1;
}


static int
spiffe_jwt_aud_match(json_t *aud, const char *const *audiences,
    const size_t *aud_lens, size_t naudiences)
{
    size_t       i, len;
    const char  *s;

    s = json_string_value(aud);
    len = json_string_length(aud);

    for (i = 0; i < naudiences; i++) {
        if (aud_lens[i] == len && memcmp(audiences[i], s, len) == 0) {
            return 1;
        }
    }

    return 0;
}


static int
spiffe_jwt_output(json_t *claims, const spiffe_id_t *id, int64_t exp,
    spiffe_jwt_svid_t *out, const char **err)
{
    size_t       len;
    const char  *s;

    s = id->td - SPIFFE_SCHEME_LEN;
    len = SPIFFE_SCHEME_LEN + id->td_len + id->path_len;

    out->id = malloc(len + 1);
    out->claims = json_dumps(claims, JSON_COMPACT | JSON_SORT_KEYS);

    if (out->id == NULL || out->claims == NULL) {
        spiffe_jwt_svid_free(out);
        *err = "out of memory";
        return -1;
    }

    memcpy(out->id, s, len);
    out->id[len] = '\0';
    out->id_len = len;
    out->td_off = SPIFFE_SCHEME_LEN;
    out->td_len = id->td_len;
    out->path_off = SPIFFE_SCHEME_LEN + id->td_len;
    out->path_len = id->path_len;
    out->exp = (time_t) exp;
    out->claims_len = strlen(out->claims);

    return 0;
}
