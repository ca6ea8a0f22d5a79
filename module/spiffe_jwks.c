
/*
 * Copyright (C) ngx_spiffe developers
 */


#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/param_build.h>

#include <spiffe_id.h>
#include <spiffe_x509.h>
#include <spiffe_base64.h>
#include <spiffe_tdset.h>
#include <spiffe_jwks.h>


/* OpenSSL's own limits for RSA verification */
/*
 * Every key is checked in a worker's event loop: a 16384-bit RSA modulus
 * takes seconds, a 4096-bit one tens of milliseconds; real bundles hold a
 * few keys.
 */
#define SPIFFE_JWK_RSA_MAX_BITS  4096
#define SPIFFE_JWKS_MAX_KEYS     64
#define SPIFFE_JWK_RSA_MAX_E     8

/* spiffe_jwks_parse_form() forms */
#define SPIFFE_JWKS_DOCUMENT     0      /* a SPIFFE bundle: "use" required */
#define SPIFFE_JWKS_WORKLOAD     1      /* a Workload API JWT bundle */


struct spiffe_jwks_s {
    int                     refs;
    spiffe_jwk_t           *keys;
    size_t                  nkeys;
    size_t                  nignored;
    STACK_OF(X509)         *x509;
    uint64_t                sequence;
    int                     has_sequence;
    int64_t                 refresh_hint;
};


struct spiffe_jwt_bundles_s {
    int                     refs;
    spiffe_jwt_bundle_t    *bundles;    /* sorted by trust domain */
    size_t                  n;
};


typedef struct {
    const char             *name;
    unsigned                type;
    const char             *group;
    size_t                  size;       /* of a coordinate */
} spiffe_jwk_curve_t;


static spiffe_jwks_t *spiffe_jwks_parse_form(const char *json, size_t len,
    unsigned form, const char **err);
static int spiffe_jwks_add_key(spiffe_jwks_t *jwks, json_t *key,
    unsigned form);
static int spiffe_jwks_add_x509(spiffe_jwks_t *jwks, json_t *key);
static EVP_PKEY *spiffe_jwk_ec(json_t *key, unsigned *type);
static EVP_PKEY *spiffe_jwk_rsa(json_t *key);
static EVP_PKEY *spiffe_jwk_fromdata(const char *name, OSSL_PARAM_BLD *bld);
static unsigned char *spiffe_jwk_member(json_t *key, const char *name,
    size_t *len);
static int spiffe_jwks_uint(json_t *v, uint64_t max, uint64_t *out);
static void spiffe_jwks_free(spiffe_jwks_t *jwks);
static void spiffe_jwt_bundles_free(spiffe_jwt_bundles_t *set);


static const spiffe_jwk_curve_t  spiffe_jwk_curves[] = {
    { "P-256", SPIFFE_JWK_EC_P256, "prime256v1", 32 },
    { "P-384", SPIFFE_JWK_EC_P384, "secp384r1", 48 },
    { "P-521", SPIFFE_JWK_EC_P521, "secp521r1", 66 },
};


spiffe_jwks_t *
spiffe_jwks_parse(const char *json, size_t len, const char **err)
{
    return spiffe_jwks_parse_form(json, len, SPIFFE_JWKS_DOCUMENT, err);
}


spiffe_jwks_t *
spiffe_jwks_parse_jwt_bundle(const char *json, size_t len, const char **err)
{
    return spiffe_jwks_parse_form(json, len, SPIFFE_JWKS_WORKLOAD, err);
}


static spiffe_jwks_t *
spiffe_jwks_parse_form(const char *json, size_t len, unsigned form,
    const char **err)
{
    size_t          i;
    json_t         *root, *keys, *v;
    uint64_t        u;
    spiffe_jwks_t  *jwks;
    json_error_t    error;

    root = (len != 0) ? json_loadb(json, len, JSON_REJECT_DUPLICATES, &error)
                      : NULL;
    if (root == NULL) {
        *err = "bundle is not valid JSON";
        return NULL;
    }

    jwks = NULL;

    if (!json_is_object(root)) {
        *err = "bundle is not a JSON object";
        goto failed;
    }

    keys = json_object_get(root, "keys");
    if (!json_is_array(keys)) {
        *err = "bundle has no \"keys\" array";
        goto failed;
    }

    if (json_array_size(keys) > SPIFFE_JWKS_MAX_KEYS) {
        *err = "bundle has too many keys";
        goto failed;
    }

    jwks = calloc(1, sizeof(spiffe_jwks_t));
    if (jwks == NULL) {
        *err = "out of memory";
        goto failed;
    }

    jwks->refs = 1;

    v = json_object_get(root, "spiffe_sequence");
    if (v != NULL) {
        if (spiffe_jwks_uint(v, UINT64_MAX, &jwks->sequence) != 0) {
            *err = "bad \"spiffe_sequence\"";
            goto failed;
        }

        jwks->has_sequence = 1;
    }

    v = json_object_get(root, "spiffe_refresh_hint");
    if (v != NULL) {
        if (spiffe_jwks_uint(v, INT64_MAX, &u) != 0) {
            *err = "bad \"spiffe_refresh_hint\"";
            goto failed;
        }

        jwks->refresh_hint = (int64_t) u;
    }

    jwks->x509 = sk_X509_new_null();
    if (jwks->x509 == NULL) {
        *err = "out of memory";
        goto failed;
    }

    if (json_array_size(keys) != 0) {
        jwks->keys = calloc(json_array_size(keys), sizeof(spiffe_jwk_t));
        if (jwks->keys == NULL) {
            *err = "out of memory";
            goto failed;
        }
    }

    ERR_set_mark();

    for (i = 0; i < json_array_size(keys); i++) {
        switch (spiffe_jwks_add_key(jwks, json_array_get(keys, i), form)) {

        case 0:
            break;

        case 1:
            jwks->nignored++;
            break;

        default:
            ERR_pop_to_mark();
            *err = "out of memory";
            goto failed;
        }
    }

    ERR_pop_to_mark();

    json_decref(root);

    return jwks;

failed:

    spiffe_jwks_free(jwks);
    json_decref(root);

    return NULL;
}


spiffe_jwks_t *
spiffe_jwks_ref(spiffe_jwks_t *jwks)
{
    jwks->refs++;

    return jwks;
}


void
spiffe_jwks_unref(spiffe_jwks_t *jwks)
{
    if (jwks == NULL) {
        return;
    }

    if (--jwks->refs == 0) {
        spiffe_jwks_free(jwks);
    }
}


const spiffe_jwk_t *
spiffe_jwks_find(const spiffe_jwks_t *jwks, const char *kid, size_t kid_len)
{
    size_t  i;

    for (i = 0; i < jwks->nkeys; i++) {
        if (jwks->keys[i].kid_len == kid_len
            && memcmp(jwks->keys[i].kid, kid, kid_len) == 0)
        {
            return &jwks->keys[i];
        }
    }

    return NULL;
}


size_t
spiffe_jwks_nkeys(const spiffe_jwks_t *jwks)
{
    return jwks->nkeys;
}


const spiffe_jwk_t *
spiffe_jwks_key(const spiffe_jwks_t *jwks, size_t i)
{
    return (i < jwks->nkeys) ? &jwks->keys[i] : NULL;
}


size_t
spiffe_jwks_nignored(const spiffe_jwks_t *jwks)
{
    return jwks->nignored;
}


STACK_OF(X509) *
spiffe_jwks_x509_authorities(const spiffe_jwks_t *jwks)
{
    return jwks->x509;
}


int
spiffe_bundle_parse(const char *text, size_t len, STACK_OF(X509) **certs,
    spiffe_jwks_t **jwks, const char **err)
{
    size_t  i;

    for (i = 0; i < len && memchr(" \t\r\n", text[i], 4) != NULL; i++) {
        /* void */
    }

    *jwks = NULL;

    if (i == len || text[i] != '{') {
        *certs = spiffe_x509_parse_pem_certs(text, len, err);
        return (*certs != NULL) ? 0 : -1;
    }

    *jwks = spiffe_jwks_parse(text, len, err);
    if (*jwks == NULL) {
        *certs = NULL;
        return -1;
    }

    *certs = X509_chain_up_ref((*jwks)->x509);
    if (*certs == NULL) {
        spiffe_jwks_unref(*jwks);
        *jwks = NULL;
        *err = "out of memory";
        return -1;
    }

    return 0;
}


int
spiffe_jwks_sequence(const spiffe_jwks_t *jwks, uint64_t *seq)
{
    if (!jwks->has_sequence) {
        return -1;
    }

    *seq = jwks->sequence;

    return 0;
}


int64_t
spiffe_jwks_refresh_hint(const spiffe_jwks_t *jwks)
{
    return jwks->refresh_hint;
}


/*
 * 0: added, 1: skipped, -1: out of memory.  The Workload API's JWT bundles
 * are plain JWK Sets (SPIRE's agent leaves "use" out): there a key without
 * "use" is a JWT authority.
 */

static int
spiffe_jwks_add_key(spiffe_jwks_t *jwks, json_t *key, unsigned form)
{
    char          *kid;
    size_t         kid_len;
    json_t        *use, *v;
    unsigned       type;
    EVP_PKEY      *pkey;
    const char    *kty, *k;
    spiffe_jwk_t  *jwk;

    if (!json_is_object(key)) {
        return 1;
    }

    use = json_object_get(key, "use");

    if (use == NULL && form == SPIFFE_JWKS_WORKLOAD) {
        /* a JWT authority */

    } else if (!json_is_string(use)) {
        return 1;

    } else if (strcmp(json_string_value(use), "x509-svid") == 0) {
        return spiffe_jwks_add_x509(jwks, key);

    } else if (strcmp(json_string_value(use), "jwt-svid") != 0) {
        return 1;
    }

    v = json_object_get(key, "kid");
    if (!json_is_string(v) || json_string_length(v) == 0) {
        return 1;
    }

    k = json_string_value(v);
    kid_len = json_string_length(v);

    if (spiffe_jwks_find(jwks, k, kid_len) != NULL) {
        return 1;
    }

    v = json_object_get(key, "kty");
    if (!json_is_string(v)) {
        return 1;
    }

    kty = json_string_value(v);

    if (strcmp(kty, "EC") == 0) {
        pkey = spiffe_jwk_ec(key, &type);

    } else if (strcmp(kty, "RSA") == 0) {
        pkey = spiffe_jwk_rsa(key);
        type = SPIFFE_JWK_RSA;

    } else {
        return 1;
    }

    if (pkey == NULL) {
        return 1;
    }

    kid = malloc(kid_len + 1);
    if (kid == NULL) {
        EVP_PKEY_free(pkey);
        return -1;
    }

    memcpy(kid, k, kid_len);
    kid[kid_len] = '\0';

    jwk = &jwks->keys[jwks->nkeys++];
    jwk->kid = kid;
    jwk->kid_len = kid_len;
    jwk->type = type;
    jwk->pkey = pkey;

    return 0;
}


/* the first x5c entry, which must be a CA certificate */

static int
spiffe_jwks_add_x509(spiffe_jwks_t *jwks, json_t *key)
{
    X509                 *x;
    size_t                len;
    json_t               *x5c, *v;
    unsigned char        *der;
    const unsigned char  *p;

    x5c = json_object_get(key, "x5c");
    if (!json_is_array(x5c)) {
        return 1;
    }

    v = json_array_get(x5c, 0);
    if (!json_is_string(v) || json_string_length(v) == 0) {
        return 1;
    }

    der = malloc(SPIFFE_BASE64_DECODED_LEN(json_string_length(v)));
    if (der == NULL) {
        return -1;
    }

    if (spiffe_base64_decode(json_string_value(v), json_string_length(v),
                             SPIFFE_BASE64_STD, der, &len)
        != 0
        || len > LONG_MAX)
    {
        free(der);
        return 1;
    }

    p = der;
    x = d2i_X509(NULL, &p, (long) len);

    if (x == NULL || p != der + len || !spiffe_x509_is_ca(x)) {
        X509_free(x);
        free(der);
        return 1;
    }

    free(der);

    if (sk_X509_push(jwks->x509, x) == 0) {
        X509_free(x);
        return -1;
    }

    return 0;
}


static EVP_PKEY *
spiffe_jwk_ec(json_t *key, unsigned *type)
{
    size_t                     i, xlen, ylen;
    json_t                    *crv;
    EVP_PKEY                  *pkey;
    unsigned char             *x, *y, *point;
    OSSL_PARAM_BLD            *bld;
    const spiffe_jwk_curve_t  *c;

    crv = json_object_get(key, "crv");
    if (!json_is_string(crv)) {
        return NULL;
    }

    c = NULL;

    for (i = 0; i < sizeof(spiffe_jwk_curves) / sizeof(spiffe_jwk_curves[0]);
         i++)
    {
        if (strcmp(json_string_value(crv), spiffe_jwk_curves[i].name) == 0) {
            c = &spiffe_jwk_curves[i];
            break;
        }
    }

    if (c == NULL) {
        return NULL;
    }

    pkey = NULL;
    point = NULL;
    bld = NULL;

    x = spiffe_jwk_member(key, "x", &xlen);
    y = spiffe_jwk_member(key, "y", &ylen);

    /* RFC 7518: each coordinate has the full size of the field */

    if (x == NULL || y == NULL || xlen != c->size || ylen != c->size) {
        goto done;
    }

    point = malloc(1 + 2 * c->size);
    if (point == NULL) {
        goto done;
    }

    point[0] = POINT_CONVERSION_UNCOMPRESSED;
    memcpy(point + 1, x, c->size);
    memcpy(point + 1 + c->size, y, c->size);

    bld = OSSL_PARAM_BLD_new();

    if (bld == NULL
        || !OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME,
                                            c->group, 0)
        || !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY,
                                             point, 1 + 2 * c->size))
    {
        goto done;
    }

    pkey = spiffe_jwk_fromdata("EC", bld);
    *type = c->type;

done:

    OSSL_PARAM_BLD_free(bld);
    free(point);
    free(x);
    free(y);

    return pkey;
}


static EVP_PKEY *
spiffe_jwk_rsa(json_t *key)
{
    int              bits;
    size_t           nlen, elen;
    BIGNUM          *n, *e;
    EVP_PKEY        *pkey;
    unsigned char   *nbuf, *ebuf;
    OSSL_PARAM_BLD  *bld;

    pkey = NULL;
    bld = NULL;
    n = NULL;
    e = NULL;

    nbuf = spiffe_jwk_member(key, "n", &nlen);
    ebuf = spiffe_jwk_member(key, "e", &elen);

    if (nbuf == NULL || ebuf == NULL
        || nlen > SPIFFE_JWK_RSA_MAX_BITS / 8
        || elen > SPIFFE_JWK_RSA_MAX_E)
    {
        goto done;
    }

    n = BN_bin2bn(nbuf, (int) nlen, NULL);
    e = BN_bin2bn(ebuf, (int) elen, NULL);

    if (n == NULL || e == NULL) {
        goto done;
    }

    bits = BN_num_bits(n);

    if (bits < SPIFFE_JWK_RSA_MIN_BITS || !BN_is_odd(e) || BN_is_one(e)) {
        goto done;
    }

    bld = OSSL_PARAM_BLD_new();

    if (bld == NULL
        || !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n)
        || !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e))
    {
        goto done;
    }

    pkey = spiffe_jwk_fromdata("RSA", bld);

done:

    OSSL_PARAM_BLD_free(bld);
    BN_free(n);
    BN_free(e);
    free(nbuf);
    free(ebuf);

    return pkey;
}


/* a public key from its parameters, checked: e.g. an EC point on its curve */

static EVP_PKEY *
spiffe_jwk_fromdata(const char *name, OSSL_PARAM_BLD *bld)
{
    EVP_PKEY      *pkey;
    OSSL_PARAM    *params;
    EVP_PKEY_CTX  *ctx, *check;

    pkey = NULL;
    check = NULL;

    params = OSSL_PARAM_BLD_to_param(bld);
    ctx = EVP_PKEY_CTX_new_from_name(NULL, name, NULL);

    if (params == NULL || ctx == NULL
        || EVP_PKEY_fromdata_init(ctx) != 1
        || EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1)
    {
        goto done;
    }

    check = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);

    if (check == NULL || EVP_PKEY_public_check(check) != 1) {
        EVP_PKEY_free(pkey);
        pkey = NULL;
    }

done:

    EVP_PKEY_CTX_free(check);
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);

    return pkey;
}


/* a base64url member decoded into a malloc()ed buffer, or NULL */

static unsigned char *
spiffe_jwk_member(json_t *key, const char *name, size_t *len)
{
    json_t         *v;
    unsigned char  *buf;

    v = json_object_get(key, name);
    if (!json_is_string(v) || json_string_length(v) == 0) {
        return NULL;
    }

    buf = malloc(SPIFFE_BASE64_DECODED_LEN(json_string_length(v)));
    if (buf == NULL) {
        return NULL;
    }

    if (spiffe_base64_decode(json_string_value(v), json_string_length(v),
                             SPIFFE_BASE64_URL, buf, len)
        != 0)
    {
        free(buf);
        return NULL;
    }

    return buf;
}


/* a JSON integer in [0, max]: JSON has no unsigned 64-bit type */

static int
spiffe_jwks_uint(json_t *v, uint64_t max, uint64_t *out)
{
    json_int_t  n;

    if (!json_is_integer(v)) {
        return -1;
    }

    n = json_integer_value(v);

    if (n < 0 || (uint64_t) n > max) {
        return -1;
    }

    *out = (uint64_t) n;

    return 0;
}


static void
spiffe_jwks_free(spiffe_jwks_t *jwks)
{
    size_t  i;

    if (jwks == NULL) {
        return;
    }

    for (i = 0; i < jwks->nkeys; i++) {
        free((char *) jwks->keys[i].kid);
        EVP_PKEY_free(jwks->keys[i].pkey);
    }

    free(jwks->keys);
    sk_X509_pop_free(jwks->x509, X509_free);
    free(jwks);
}


spiffe_jwt_bundles_t *
spiffe_jwt_bundles_create(const spiffe_jwt_bundle_t *bundles, size_t n,
    const char **err)
{
    char                  *name;
    size_t                 i, len;
    const char            *td, *reason;
    spiffe_jwt_bundle_t   *b;
    spiffe_jwt_bundles_t  *set;

    set = calloc(1, sizeof(spiffe_jwt_bundles_t));
    if (set == NULL) {
        *err = "out of memory";
        return NULL;
    }

    set->refs = 1;

    if (n != 0) {
        set->bundles = calloc(n, sizeof(spiffe_jwt_bundle_t));
        if (set->bundles == NULL) {
            *err = "out of memory";
            goto failed;
        }
    }

    for (i = 0; i < n; i++) {
        if (bundles[i].jwks == NULL
            || spiffe_td_from_string(bundles[i].td, bundles[i].td_len, &td,
                                     &len, &reason)
               != 0)
        {
            *err = "bad trust domain in JWT bundles";
            goto failed;
        }

        name = malloc(len + 1);
        if (name == NULL) {
            *err = "out of memory";
            goto failed;
        }

        memcpy(name, td, len);
        name[len] = '\0';

        b = &set->bundles[set->n++];
        b->td = name;
        b->td_len = len;
        b->jwks = spiffe_jwks_ref(bundles[i].jwks);
    }

    if (spiffe_tdset_sort(set->bundles, set->n, sizeof(spiffe_jwt_bundle_t))
        != 0)
    {
        *err = "two JWT bundles for one trust domain";
        goto failed;
    }

    return set;

failed:

    spiffe_jwt_bundles_free(set);

    return NULL;
}


spiffe_jwt_bundles_t *
spiffe_jwt_bundles_compose(const spiffe_jwt_bundles_t *base,
    const spiffe_jwt_bundle_t *extra, size_t nextra, const char **err)
{
    size_t                 i, k, n, nbase;
    spiffe_jwt_bundle_t   *all;
    spiffe_jwt_bundles_t  *set;

    nbase = (base != NULL) ? base->n : 0;

    all = calloc(nbase + nextra + 1, sizeof(spiffe_jwt_bundle_t));
    if (all == NULL) {
        *err = "out of memory";
        return NULL;
    }

    n = 0;

    for (i = 0; i < nbase; i++) {
        if (spiffe_tdset_lfind(extra, nextra, sizeof(spiffe_jwt_bundle_t),
                               base->bundles[i].td, base->bundles[i].td_len)
            == NULL)
        {
            all[n++] = base->bundles[i];
        }
    }

    /* a configured trust domain without JWT authorities has no bundle */

    for (k = 0; k < nextra; k++) {
        if (extra[k].jwks != NULL) {
            all[n++] = extra[k];
        }
    }

    set = spiffe_jwt_bundles_create(all, n, err);

    free(all);

    return set;
}


spiffe_jwt_bundles_t *
spiffe_jwt_bundles_ref(spiffe_jwt_bundles_t *set)
{
    set->refs++;

    return set;
}


void
spiffe_jwt_bundles_unref(spiffe_jwt_bundles_t *set)
{
    if (set == NULL) {
        return;
    }

    if (--set->refs == 0) {
        spiffe_jwt_bundles_free(set);
    }
}


spiffe_jwks_t *
spiffe_jwt_bundles_find(const spiffe_jwt_bundles_t *set, const char *td,
    size_t td_len)
{
    const spiffe_jwt_bundle_t  *b;

    b = spiffe_tdset_find(set->bundles, set->n, sizeof(spiffe_jwt_bundle_t),
                          td, td_len);

    return (b != NULL) ? b->jwks : NULL;
}


size_t
spiffe_jwt_bundles_count(const spiffe_jwt_bundles_t *set)
{
    return set->n;
}


const spiffe_jwt_bundle_t *
spiffe_jwt_bundles_get(const spiffe_jwt_bundles_t *set, size_t i)
{
    return (i < set->n) ? &set->bundles[i] : NULL;
}


static void
spiffe_jwt_bundles_free(spiffe_jwt_bundles_t *set)
{
    size_t  i;

    for (i = 0; i < set->n; i++) {
        free((char *) set->bundles[i].td);
        spiffe_jwks_unref(set->bundles[i].jwks);
    }

    free(set->bundles);
    free(set);
}
