/*
 * Copyright (C) ngx_spiffe developers
 */


/*
 * The certificate loaders and the leaf rules.  The first byte picks the
 * form of the rest (even: DER, odd: PEM): spiffe_x509_parse_der_certs()
 * or spiffe_x509_parse_pem_certs(), then spiffe_x509_svid_check() without
 * a key, spiffe_x509_verify_chain() up to the last certificate, and
 * spiffe_x509_peer_id() and spiffe_x509_is_ca() for each.
 *
 * Properties: the error queue of OpenSSL is left empty, a peer ID is a
 * valid SPIFFE ID with a path.
 */

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509.h>

#include <spiffe_id.h>
#include <spiffe_x509.h>

#include "fuzz.h"


#define FUZZ_NOW  1767225600        /* 2026-01-01 */

static void
fuzz_check_peer_id(X509 *x)
{
    char          buf[SPIFFE_ID_MAX_LEN + 1];
    size_t        len;
    const char   *err;
    spiffe_id_t   id;

    memset(buf, 'x', sizeof(buf));
    err = NULL;

    if (spiffe_x509_peer_id(x, buf, &len, &err) != 0) {
        FUZZ_CHECK_ERR();
        FUZZ_CHECK(err != NULL);
        return;
    }

    FUZZ_CHECK_ERR();
    FUZZ_CHECK(len <= SPIFFE_ID_MAX_LEN);
    FUZZ_CHECK(buf[len] == '\0' && strlen(buf) == len);
    FUZZ_CHECK(spiffe_id_parse(buf, len, &id, &err) == 0);
    FUZZ_CHECK(id.path_len > 0);
}

static void
fuzz_certs(STACK_OF(X509) *certs)
{
    int              i, n;
    X509_STORE      *store;
    const char      *err;
    STACK_OF(X509)  *chain, *verified;

    n = sk_X509_num(certs);
    FUZZ_CHECK(n > 0);

    /*
     * First, while OpenSSL has not yet cached the extensions of the
     * certificates: no key, so the chain rules run, then the key does not
     * match.
     */

    chain = sk_X509_dup(certs);
    FUZZ_CHECK(chain != NULL);

    (void) sk_X509_shift(chain);

    FUZZ_CHECK(spiffe_x509_svid_check(sk_X509_value(certs, 0), chain, NULL,
                                      NULL, FUZZ_NOW, &err)
               == -1);
    FUZZ_CHECK_ERR();

    /* the last certificate as the trust anchor of the others */

    if (n >= 2) {
        store = X509_STORE_new();
        FUZZ_CHECK(store != NULL);
        FUZZ_CHECK(X509_STORE_add_cert(store, sk_X509_value(certs, n - 1))
                   == 1);
        ERR_clear_error();

        verified = NULL;

        if (spiffe_x509_verify_chain(store, sk_X509_value(certs, 0), chain,
                                     FUZZ_NOW, &verified, &err)
            == 0)
        {
            FUZZ_CHECK(sk_X509_num(verified) >= 1);
            FUZZ_CHECK(X509_cmp(sk_X509_value(verified, 0),
                                sk_X509_value(certs, 0))
                       == 0);
            spiffe_x509_free_certs(verified);

        } else {
            FUZZ_CHECK(err != NULL && verified == NULL);
        }

        FUZZ_CHECK_ERR();
        X509_STORE_free(store);
    }

    sk_X509_free(chain);

    for (i = 0; i < n; i++) {
        fuzz_check_peer_id(sk_X509_value(certs, i));

        (void) spiffe_x509_is_ca(sk_X509_value(certs, i));
        FUZZ_CHECK_ERR();
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char      *err;
    STACK_OF(X509)  *certs;

    if (size == 0) {
        return 0;
    }

    ERR_clear_error();

    err = NULL;
    certs = (data[0] % 2 == 0)
            ? spiffe_x509_parse_der_certs(data + 1, size - 1, &err)
            : spiffe_x509_parse_pem_certs((const char *) data + 1, size - 1,
                                          &err);
    FUZZ_CHECK_ERR();

    if (certs == NULL) {
        FUZZ_CHECK(err != NULL);
        return 0;
    }

    fuzz_certs(certs);
    spiffe_x509_free_certs(certs);

    FUZZ_CHECK_ERR();

    return 0;
}
