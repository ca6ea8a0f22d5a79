/*
 * Copyright (C) ngx_spiffe developers
 */


#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509.h>

#include <spiffe_id.h>
#include <spiffe_snapshot.h>

#include "fuzz.h"


static const char  fuzz_b64_std[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char  fuzz_b64_url[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";


int
fuzz_run(void (*fn)(const uint8_t *data, size_t size), const uint8_t *data,
    size_t size)
{
    ERR_clear_error();

    fn(data, size);

    FUZZ_CHECK_ERR();

    return 0;
}


time_t
fuzz_time(const uint8_t *p)
{
    return (time_t) ((uint32_t) p[0] << 24 | (uint32_t) p[1] << 16
                     | (uint32_t) p[2] << 8 | p[3]);
}


size_t
fuzz_b64(const unsigned char *in, size_t len, int url, char *out)
{
    size_t       i, n;
    uint32_t     v;
    const char  *a;

    a = url ? fuzz_b64_url : fuzz_b64_std;

    for (i = 0, n = 0; i + 2 < len; i += 3) {
        v = (uint32_t) in[i] << 16 | (uint32_t) in[i + 1] << 8 | in[i + 2];
        out[n++] = a[v >> 18];
        out[n++] = a[(v >> 12) & 63];
        out[n++] = a[(v >> 6) & 63];
        out[n++] = a[v & 63];
    }

    if (len - i == 1) {
        v = (uint32_t) in[i] << 16;
        out[n++] = a[v >> 18];
        out[n++] = a[(v >> 12) & 63];

        if (!url) {
            out[n++] = '=';
            out[n++] = '=';
        }

    } else if (len - i == 2) {
        v = (uint32_t) in[i] << 16 | (uint32_t) in[i + 1] << 8;
        out[n++] = a[v >> 18];
        out[n++] = a[(v >> 12) & 63];
        out[n++] = a[(v >> 6) & 63];

        if (!url) {
            out[n++] = '=';
        }
    }

    out[n] = '\0';

    return n;
}


void
fuzz_check_snapshot(spiffe_snapshot_t *snap, const char *id, size_t id_len,
    const char *hint, size_t hint_len, int bundle, time_t now)
{
    char                           buf[SPIFFE_ID_MAX_LEN + 1];
    size_t                         len, td_len;
    const char                    *p, *reason;
    spiffe_id_t                    parsed;
    unsigned char                  digest[SPIFFE_DIGEST_LEN];
    const spiffe_snapshot_svid_t  *svid;

    svid = spiffe_snapshot_svid(snap);

    FUZZ_CHECK(spiffe_snapshot_version(snap) == FUZZ_VERSION);
    FUZZ_CHECK(svid->leaf != NULL && svid->key != NULL);
    FUZZ_CHECK(svid->chain != NULL);
    FUZZ_CHECK(svid->id != NULL && strlen(svid->id) == svid->id_len);
    FUZZ_CHECK(spiffe_id_parse(svid->id, svid->id_len, &parsed, &reason)
               == 0);
    FUZZ_CHECK(parsed.path_len > 0);

    if (id != NULL) {
        FUZZ_CHECK(svid->id_len == id_len
                   && memcmp(svid->id, id, id_len) == 0);
    }

    FUZZ_CHECK(svid->hint != NULL && strlen(svid->hint) <= svid->hint_len);
    FUZZ_CHECK(svid->hint_len == hint_len
               && (hint_len == 0 || memcmp(svid->hint, hint, hint_len) == 0));

    /* never an expired SVID */

    FUZZ_CHECK(svid->not_after > now);

    FUZZ_CHECK(svid->serial != NULL && svid->serial[0] != '\0');

    for (p = svid->serial; *p != '\0'; p++) {
        FUZZ_CHECK((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')
                   || *p == '-');
    }

    td_len = parsed.td_len;

    FUZZ_CHECK((spiffe_snapshot_store(snap, parsed.td, td_len) != NULL)
               == bundle);
    FUZZ_CHECK((spiffe_snapshot_td_digest(snap, parsed.td, td_len, digest)
                == 0)
               == bundle);
    FUZZ_CHECK(spiffe_snapshot_store(snap, "", 0) == NULL);

    reason = NULL;

    if (spiffe_snapshot_verify_peer(snap, svid->leaf, svid->chain, now, buf,
                                    &len, &reason)
        == 0)
    {
        FUZZ_CHECK(len == svid->id_len && strcmp(buf, svid->id) == 0);

    } else {
        FUZZ_CHECK(reason != NULL && len == 0);
    }

    FUZZ_CHECK_ERR();

    spiffe_snapshot_unref(spiffe_snapshot_ref(snap));
}
