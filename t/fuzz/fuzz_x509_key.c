/*
 * Copyright (C) ngx_spiffe developers
 */


/*
 * The private key loaders.  The first byte picks the form of the rest
 * (even: PKCS#8 DER, odd: PEM): spiffe_x509_parse_der_key() or
 * spiffe_x509_parse_pem_key().  Properties: a key or a reason, and the
 * error queue of OpenSSL left empty.
 */

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>

#include <spiffe_x509.h>

#include "fuzz.h"


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    EVP_PKEY    *key;
    const char  *err;

    if (size == 0) {
        return 0;
    }

    ERR_clear_error();

    err = NULL;
    key = (data[0] % 2 == 0)
          ? spiffe_x509_parse_der_key(data + 1, size - 1, &err)
          : spiffe_x509_parse_pem_key((const char *) data + 1, size - 1,
                                      &err);
    FUZZ_CHECK_ERR();
    FUZZ_CHECK(key != NULL || err != NULL);

    EVP_PKEY_free(key);

    return 0;
}
