/*
 * Copyright (C) ngx_spiffe developers
 */


/*
 * The bundle document of spiffe_bundle and spiffe_federate: the input
 * goes to spiffe_bundle_parse().  Properties: the error queue of OpenSSL
 * is left empty; a bundle is JWKS when its first byte after JSON
 * whitespace is "{", and then reads as spiffe_jwks_parse() does (the same
 * X.509 authorities, the same reason), else as
 * spiffe_x509_parse_pem_certs() (the same certificates, the same reason).
 */

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509.h>

#include <spiffe_x509.h>
#include <spiffe_jwks.h>

#include "fuzz.h"


/*
 * The same certificates, in the same order; both NULL is the same.
 * X509_cmp() caches extensions: one that does not decode queues an error,
 * the target's own.
 */

static void
fuzz_same_certs(STACK_OF(X509) *a, STACK_OF(X509) *b)
{
    int  i;

    FUZZ_CHECK(sk_X509_num(a) == sk_X509_num(b));

    ERR_set_mark();

    for (i = 0; i < sk_X509_num(a); i++) {
        FUZZ_CHECK(X509_cmp(sk_X509_value(a, i), sk_X509_value(b, i)) == 0);
    }

    ERR_pop_to_mark();
}

static void
fuzz_bundle(const uint8_t *data, size_t len)
{
    int              i, rc;
    size_t           ws;
    const char      *err, *ref_err, *text;
    spiffe_jwks_t   *jwks, *ref_jwks;
    STACK_OF(X509)  *certs, *ref;

    text = (const char *) data;

    for (ws = 0; ws < len && memchr(" \t\r\n", text[ws], 4) != NULL; ws++) {
        /* void */
    }

    err = NULL;
    rc = spiffe_bundle_parse(text, len, &certs, &jwks, &err);
    FUZZ_CHECK_ERR();
    FUZZ_CHECK((rc == 0) == (certs != NULL));
    FUZZ_CHECK(rc == 0 || (jwks == NULL && err != NULL));

    ref_err = NULL;

    if (ws < len && text[ws] == '{') {
        ref_jwks = spiffe_jwks_parse(text, len, &ref_err);
        FUZZ_CHECK_ERR();
        FUZZ_CHECK((ref_jwks != NULL) == (rc == 0));
        FUZZ_CHECK((jwks != NULL) == (rc == 0));

        ref = (ref_jwks != NULL) ? spiffe_jwks_x509_authorities(ref_jwks)
                                 : NULL;
        fuzz_same_certs(certs, ref);
        spiffe_jwks_unref(ref_jwks);

    } else {
        FUZZ_CHECK(jwks == NULL);

        ref = spiffe_x509_parse_pem_certs(text, len, &ref_err);
        FUZZ_CHECK_ERR();
        FUZZ_CHECK((ref != NULL) == (rc == 0));
        fuzz_same_certs(certs, ref);
        spiffe_x509_free_certs(ref);
    }

    FUZZ_CHECK(rc == 0 || strcmp(err, ref_err) == 0);

    if (jwks != NULL) {
        ref = spiffe_jwks_x509_authorities(jwks);
        FUZZ_CHECK(certs != ref && sk_X509_num(certs) == sk_X509_num(ref));

        for (i = 0; i < sk_X509_num(ref); i++) {
            FUZZ_CHECK(sk_X509_value(certs, i) == sk_X509_value(ref, i));
        }
    }

    spiffe_jwks_unref(jwks);
    spiffe_x509_free_certs(certs);
    FUZZ_CHECK_ERR();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_run(fuzz_bundle, data, size);
}
