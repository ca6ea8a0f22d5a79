/*
 * Copyright (C) ngx_spiffe developers
 */


/*
 * A JWKS document (a trust domain's JWT authorities, and X.509 ones in
 * "x5c"): the input goes to spiffe_jwks_parse().  Properties: every kept
 * key is found by its kid and is of the type and size it claims, keys +
 * X.509 authorities + skipped = the entries of "keys", and the error
 * queue of OpenSSL is left empty.
 */

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <spiffe_x509.h>
#include <spiffe_jwks.h>

#include "fuzz.h"


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

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_run(fuzz_jwks, data, size);
}
