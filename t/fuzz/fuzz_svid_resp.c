/*
 * Copyright (C) ngx_spiffe developers
 */


/*
 * A Workload API X509SVIDResponse made into an identity snapshot.  The
 * input is NOW(4) HINT_LEN(1) HINT X509SVIDResponse: the response is
 * decoded, then spiffe_workload_x509_snapshot() picks the SVID of
 * HINT (the first one when HINT is empty) and every SVID of the response
 * is verified as a peer against the snapshot.
 *
 * NOW is a big-endian time_t, so that inputs replay the same way later.
 * Properties: the error queue of OpenSSL is left empty, and a snapshot
 * serves an SVID valid at NOW whose ID and hint are those its response
 * announced (fuzz_check_snapshot()).
 */

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509.h>

#include <spiffe_id.h>
#include <spiffe_pb.h>
#include <spiffe_x509.h>
#include <spiffe_snapshot.h>
#include <spiffe_workload.h>

#include "fuzz.h"


static void
fuzz_peer(spiffe_snapshot_t *snap, const spiffe_bytes_t *der, time_t now)
{
    char             buf[SPIFFE_ID_MAX_LEN + 1];
    X509            *leaf;
    size_t           len;
    const char      *reason;
    STACK_OF(X509)  *certs;

    certs = spiffe_x509_parse_der_certs(der->data, der->len, &reason);
    FUZZ_CHECK_ERR();

    if (certs == NULL) {
        return;
    }

    leaf = sk_X509_shift(certs);

    if (spiffe_snapshot_verify_peer(snap, leaf, certs, now, buf, &len,
                                    &reason)
        == 0)
    {
        FUZZ_CHECK(len > 0 && len <= SPIFFE_ID_MAX_LEN && buf[len] == '\0');

    } else {
        FUZZ_CHECK(reason != NULL && len == 0);
    }

    FUZZ_CHECK_ERR();

    X509_free(leaf);
    spiffe_x509_free_certs(certs);
}

static void
fuzz_resp(const uint8_t *data, size_t size)
{
    size_t                        i, hint_len;
    time_t                        now;
    const char                   *err, *hint;
    spiffe_snapshot_t            *snap;
    const spiffe_pb_x509_svid_t  *svid;
    spiffe_pb_x509_svid_resp_t    resp;

    if (size < 5) {
        return;
    }

    now = fuzz_time(data);
    hint_len = data[4];

    data += 5;
    size -= 5;

    if (size < hint_len) {
        return;
    }

    hint = (const char *) data;

    if (spiffe_pb_decode_x509_svid_resp(data + hint_len, size - hint_len,
                                        &resp, &err)
        != 0)
    {
        return;
    }

    err = NULL;
    snap = spiffe_workload_x509_snapshot(&resp, hint, hint_len, FUZZ_VERSION,
                                         now, &err);
    FUZZ_CHECK_ERR();

    if (snap == NULL) {
        FUZZ_CHECK(err != NULL);
        spiffe_pb_free_x509_svid_resp(&resp);
        return;
    }

    svid = &resp.svids[0];

    for (i = 0; hint_len != 0 && i < resp.nsvids; i++) {
        svid = &resp.svids[i];

        if (svid->hint.len == hint_len
            && memcmp(svid->hint.data, hint, hint_len) == 0)
        {
            break;
        }
    }

    fuzz_check_snapshot(snap, (const char *) svid->spiffe_id.data,
                  svid->spiffe_id.len, (const char *) svid->hint.data,
                  svid->hint.len, 1, now);

    for (i = 0; i < resp.nsvids; i++) {
        fuzz_peer(snap, &resp.svids[i].x509_svid, now);
    }

    spiffe_snapshot_unref(snap);
    spiffe_pb_free_x509_svid_resp(&resp);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_run(fuzz_resp, data, size);
}
