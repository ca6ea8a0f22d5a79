
/*
 * Copyright (C) ngx_spiffe developers
 */


#ifndef _TEST_JOSE_H_INCLUDED_
#define _TEST_JOSE_H_INCLUDED_


/*
 * JOSE for the unit tests of spiffe_jwks, spiffe_jwt and spiffe_workload:
 * base64, JWKs and JWK Sets of public keys and signed compact JWS, all
 * minted in memory.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>


/* jose_sign() modes */
#define JOSE_RAW        0           /* as JWS wants: ES signatures R || S */
#define JOSE_DER        1           /* ES signatures left in DER */
#define JOSE_PKCS1      2           /* RSASSA-PKCS1-v1_5 whatever alg says */
#define JOSE_PSS        3           /* RSASSA-PSS whatever alg says */
#define JOSE_HMAC       4           /* HMAC-SHA256, the key's DER as secret */
#define JOSE_EMPTY      5           /* no signature at all */
#define JOSE_WIDE       6           /* R || S, each a byte too long */
#define JOSE_SALT       7           /* RSASSA-PSS with the longest salt */


static inline char *
jose_b64(const unsigned char *d, size_t len, int url)
{
    int     n;
    char   *s, *p;

    s = malloc(4 * (len / 3 + 1) + 1);
    if (s == NULL) {
        return NULL;
    }

    n = EVP_EncodeBlock((unsigned char *) s, d, (int) len);

    if (url) {
        while (n > 0 && s[n - 1] == '=') {
            n--;
        }

        s[n] = '\0';

        for (p = s; *p; p++) {
            if (*p == '+') {
                *p = '-';

            } else if (*p == '/') {
                *p = '_';
            }
        }
    }

    return s;
}


static inline char *
jose_b64url_str(const char *s)
{
    return jose_b64((const unsigned char *) s, strlen(s), 1);
}


static inline char *
jose_b64url_bn(const BIGNUM *bn, int size)
{
    int             n;
    char           *s;
    unsigned char   buf[1024];

    n = (size > 0) ? BN_bn2binpad(bn, buf, size) : BN_bn2bin(bn, buf);

    s = (n >= 0) ? jose_b64(buf, n, 1) : NULL;

    return s;
}


/* a "jwt-svid" JWK of key's public half; kid NULL: no "kid" */

static inline json_t *
jose_jwk(EVP_PKEY *key, const char *kid)
{
    int          size;
    char        *a, *b, crv[16];
    json_t      *jwk;
    BIGNUM      *x, *y;
    const char  *name;

    jwk = json_object();
    x = NULL;
    y = NULL;
    a = NULL;
    b = NULL;

    json_object_set_new(jwk, "use", json_string("jwt-svid"));

    if (kid != NULL) {
        json_object_set_new(jwk, "kid", json_string(kid));
    }

    if (EVP_PKEY_is_a(key, "RSA")) {
        EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_N, &x);
        EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_E, &y);
        a = jose_b64url_bn(x, 0);
        b = jose_b64url_bn(y, 0);
        json_object_set_new(jwk, "kty", json_string("RSA"));
        json_object_set_new(jwk, "n", json_string(a));
        json_object_set_new(jwk, "e", json_string(b));

    } else {
        EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, crv,
                                       sizeof(crv), NULL);
        name = strcmp(crv, "prime256v1") == 0 ? "P-256"
               : strcmp(crv, "secp384r1") == 0 ? "P-384" : "P-521";
        size = (EVP_PKEY_get_bits(key) + 7) / 8;

        EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_EC_PUB_X, &x);
        EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_EC_PUB_Y, &y);
        a = jose_b64url_bn(x, size);
        b = jose_b64url_bn(y, size);
        json_object_set_new(jwk, "kty", json_string("EC"));
        json_object_set_new(jwk, "crv", json_string(name));
        json_object_set_new(jwk, "x", json_string(a));
        json_object_set_new(jwk, "y", json_string(b));
    }

    BN_free(x);
    BN_free(y);
    free(a);
    free(b);

    return jwk;
}


/* a JWK Set, {"keys": [the keys]}: keys consumed, NULL ones left out */

static inline json_t *
jose_jwks(json_t *k1, json_t *k2, json_t *k3)
{
    json_t  *doc, *keys;

    keys = json_array();
    doc = json_object();

    if (k1 != NULL) {
        json_array_append_new(keys, k1);
    }

    if (k2 != NULL) {
        json_array_append_new(keys, k2);
    }

    if (k3 != NULL) {
        json_array_append_new(keys, k3);
    }

    json_object_set_new(doc, "keys", keys);

    return doc;
}


/* an "x509-svid" JWK: x5c with cert, standard base64 */

static inline json_t *
jose_x509_jwk(X509 *cert)
{
    int             len;
    char           *s;
    json_t         *jwk;
    unsigned char  *der;

    der = NULL;
    len = i2d_X509(cert, &der);
    s = jose_b64(der, len, 0);
    OPENSSL_free(der);

    jwk = json_pack("{s:s, s:[s]}", "use", "x509-svid", "x5c", s);
    free(s);

    return jwk;
}


static inline const EVP_MD *
jose_md(const char *alg)
{
    const char  *bits;

    bits = alg + strlen(alg) - 3;

    return strcmp(bits, "384") == 0 ? EVP_sha384()
           : strcmp(bits, "512") == 0 ? EVP_sha512() : EVP_sha256();
}


/* "b64(header).b64(claims).b64(sig)", malloc()ed */

static inline char *
jose_compact(const char *header, const char *claims, const unsigned char *sig,
    size_t sig_len)
{
    char    *h, *c, *s, *t;
    size_t   len;

    h = jose_b64url_str(header);
    c = jose_b64url_str(claims);
    s = jose_b64(sig, sig_len, 1);

    len = strlen(h) + strlen(c) + strlen(s) + 3;
    t = malloc(len);

    if (t != NULL) {
        snprintf(t, len, "%s.%s.%s", h, c, s);
    }

    free(h);
    free(c);
    free(s);

    return t;
}


/* header and claims are JSON texts, taken as they are */

static inline char *
jose_sign(const char *alg, EVP_PKEY *key, const char *header,
    const char *claims, int mode)
{
    int                   n, pad;
    char                 *h, *c, *input, *token;
    size_t                len, sig_len;
    const BIGNUM         *r, *s;
    ECDSA_SIG            *es;
    EVP_MD_CTX           *md;
    EVP_PKEY_CTX         *pctx;
    unsigned char        *der, *sig, *raw;
    const unsigned char  *p;

    h = jose_b64url_str(header);
    c = jose_b64url_str(claims);
    len = strlen(h) + 1 + strlen(c);
    input = malloc(len + 1);
    snprintf(input, len + 1, "%s.%s", h, c);
    free(h);
    free(c);

    sig = NULL;
    sig_len = 0;

    if (mode == JOSE_HMAC) {
        der = NULL;
        n = i2d_PUBKEY(key, &der);
        sig = malloc(EVP_MAX_MD_SIZE);
        HMAC(EVP_sha256(), der, n, (unsigned char *) input, len, sig,
             (unsigned int *) &n);
        sig_len = n;
        OPENSSL_free(der);

    } else if (mode != JOSE_EMPTY) {
        md = EVP_MD_CTX_new();
        EVP_DigestSignInit(md, &pctx, jose_md(alg), NULL, key);

        pad = (mode == JOSE_PSS || mode == JOSE_SALT
               || (mode != JOSE_PKCS1 && alg[0] == 'P'));

        if (EVP_PKEY_is_a(key, "RSA") && pad) {
            EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING);
            EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, mode == JOSE_SALT
                                                   ? RSA_PSS_SALTLEN_MAX
                                                   : RSA_PSS_SALTLEN_DIGEST);
            EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, jose_md(alg));
        }

        EVP_DigestSign(md, NULL, &sig_len, (unsigned char *) input, len);
        sig = malloc(sig_len);
        EVP_DigestSign(md, sig, &sig_len, (unsigned char *) input, len);
        EVP_MD_CTX_free(md);

        if (EVP_PKEY_is_a(key, "EC")
            && (mode == JOSE_RAW || mode == JOSE_WIDE))
        {
            n = (EVP_PKEY_get_bits(key) + 7) / 8 + (mode == JOSE_WIDE);
            p = sig;
            es = d2i_ECDSA_SIG(NULL, &p, sig_len);
            ECDSA_SIG_get0(es, &r, &s);

            raw = malloc(2 * n);
            BN_bn2binpad(r, raw, n);
            BN_bn2binpad(s, raw + n, n);
            ECDSA_SIG_free(es);

            free(sig);
            sig = raw;
            sig_len = 2 * n;
        }
    }

    token = jose_compact(header, claims, sig, sig_len);

    free(input);
    free(sig);

    return token;
}


#endif /* _TEST_JOSE_H_INCLUDED_ */
