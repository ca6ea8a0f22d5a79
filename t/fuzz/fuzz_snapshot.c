/*
 * Copyright (C) ngx_spiffe developers
 */


/*
 * An identity snapshot from its parts.  The input is NOW(4) PEM: the
 * certificates of the text (the leaf, the intermediates, and the last one
 * as the bundle when there are two or more), its key and its CRLs
 * (spiffe_x509_parse_pem_crls()), made into a snapshot with
 * spiffe_snapshot_create().
 *
 * NOW is a big-endian time_t.  Properties: the error queue of OpenSSL is
 * left empty, and a snapshot serves an SVID valid at NOW
 * (fuzz_check_snapshot()).
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
#include <spiffe_snapshot.h>

#include "fuzz.h"


static void
fuzz_parts(const uint8_t *data, size_t size)
{
    int                        i, n;
    char                       id[SPIFFE_ID_MAX_LEN + 1];
    size_t                     len;
    time_t                     now;
    EVP_PKEY                  *key;
    const char                *err;
    spiffe_id_t                parsed;
    STACK_OF(X509)            *certs, *chain, *ca;
    STACK_OF(X509_CRL)        *crls;
    spiffe_snapshot_t         *snap;
    spiffe_snapshot_parts_t    parts;
    spiffe_snapshot_bundle_t   bundle;

    if (size < 4) {
        return;
    }

    now = fuzz_time(data);

    data += 4;
    size -= 4;

    certs = spiffe_x509_parse_pem_certs((const char *) data, size, &err);
    FUZZ_CHECK_ERR();

    key = spiffe_x509_parse_pem_key((const char *) data, size, &err);
    FUZZ_CHECK_ERR();

    if (certs == NULL || key == NULL) {
        spiffe_x509_free_certs(certs);
        EVP_PKEY_free(key);
        return;
    }

    crls = spiffe_x509_parse_pem_crls((const char *) data, size, &err);
    FUZZ_CHECK_ERR();
    FUZZ_CHECK(crls == NULL || sk_X509_CRL_num(crls) > 0);

    n = sk_X509_num(certs);

    chain = sk_X509_new_null();
    ca = sk_X509_new_null();
    FUZZ_CHECK(chain != NULL && ca != NULL);

    FUZZ_CHECK(n < 2 || sk_X509_push(ca, sk_X509_value(certs, n - 1)) > 0);

    for (i = 1; i < n - 1; i++) {
        FUZZ_CHECK(sk_X509_push(chain, sk_X509_value(certs, i)) > 0);
    }

    (void) spiffe_x509_svid_check(sk_X509_value(certs, 0), chain, key, NULL,
                                  now, &err);
    FUZZ_CHECK_ERR();

    /* the bundle belongs to the leaf's trust domain, or to example.org */

    bundle.td = "example.org";
    bundle.td_len = sizeof("example.org") - 1;
    bundle.certs = ca;

    if (spiffe_x509_peer_id(sk_X509_value(certs, 0), id, &len, &err) == 0) {
        FUZZ_CHECK(spiffe_id_parse(id, len, &parsed, &err) == 0);
        bundle.td = parsed.td;
        bundle.td_len = parsed.td_len;
    }

    FUZZ_CHECK_ERR();

    memset(&parts, 0, sizeof(parts));
    parts.own.leaf = sk_X509_value(certs, 0);
    parts.own.chain = chain;
    parts.own.key = key;
    parts.own.hint = "dir";
    parts.own.hint_len = 3;
    parts.bundles = &bundle;
    parts.nbundles = (n >= 2) ? 1 : 0;
    parts.crls = crls;
    parts.version = FUZZ_VERSION;

    err = NULL;
    snap = spiffe_snapshot_create(&parts, now, &err);
    FUZZ_CHECK_ERR();

    if (snap != NULL) {
        fuzz_check_snapshot(snap, NULL, 0, "dir", 3, n >= 2, now);
        spiffe_snapshot_unref(snap);

    } else {
        FUZZ_CHECK(err != NULL);
    }

    sk_X509_free(chain);
    sk_X509_free(ca);
    sk_X509_CRL_pop_free(crls, X509_CRL_free);
    spiffe_x509_free_certs(certs);
    EVP_PKEY_free(key);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_run(fuzz_parts, data, size);
}
