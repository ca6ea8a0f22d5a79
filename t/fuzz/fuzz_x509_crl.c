/*
 * Copyright (C) ngx_spiffe developers
 */


/*
 * The CRL loader of the Workload API's DER CRLs: the input goes to
 * spiffe_x509_parse_der_crl().  Properties: a CRL or a reason, and the
 * error queue of OpenSSL left empty.
 */

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509.h>

#include <spiffe_x509.h>

#include "fuzz.h"


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    X509_CRL    *crl;
    const char  *err;

    ERR_clear_error();

    err = NULL;
    crl = spiffe_x509_parse_der_crl(data, size, &err);
    FUZZ_CHECK_ERR();
    FUZZ_CHECK(crl != NULL || err != NULL);

    X509_CRL_free(crl);

    return 0;
}
