/*
 * Copyright (C) ngx_spiffe developers
 */


#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include <openssl/err.h>
#include <openssl/x509.h>

#include <spiffe_grpc.h>
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


int
fuzz_run_curl(void (*fn)(const uint8_t *data, size_t size),
    const uint8_t *data, size_t size)
{
    static int  init;

    if (!init) {
        FUZZ_CHECK(curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK);
        init = 1;
    }

    return fuzz_run(fn, data, size);
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


int
fuzz_grpc_message(void *data, const unsigned char *msg, size_t len)
{
    size_t             n;
    fuzz_grpc_sink_t  *s = data;

    FUZZ_CHECK(len <= s->max);
    FUZZ_CHECK(len == 0 || msg != NULL);

    /* the prefix and the message are where the body has them */

    FUZZ_CHECK(s->len - s->off >= SPIFFE_GRPC_PREFIX_LEN);
    FUZZ_CHECK(s->body[s->off] == 0);

    n = (size_t) s->body[s->off + 1] << 24 | (size_t) s->body[s->off + 2] << 16
        | (size_t) s->body[s->off + 3] << 8 | (size_t) s->body[s->off + 4];

    FUZZ_CHECK(n == len);
    FUZZ_CHECK(s->len - s->off - SPIFFE_GRPC_PREFIX_LEN >= len);
    FUZZ_CHECK(len == 0
               || memcmp(msg, s->body + s->off + SPIFFE_GRPC_PREFIX_LEN, len)
                  == 0);

    s->off += SPIFFE_GRPC_PREFIX_LEN + len;
    s->n++;

    return (s->n == s->fail_at) ? -1 : 0;
}


int
fuzz_grpc_feed(spiffe_grpc_reader_t *r, const unsigned char *p, size_t len)
{
    int             rc;
    const char     *err;
    unsigned char  *copy;

    copy = malloc(len > 0 ? len : 1);
    FUZZ_CHECK(copy != NULL);

    if (len > 0) {
        memcpy(copy, p, len);
    }

    err = NULL;
    rc = spiffe_grpc_reader_feed(r, copy, len, &err);

    free(copy);

    FUZZ_CHECK(rc == 0 || rc == -1);
    FUZZ_CHECK(rc == 0 || (err != NULL && r->status != 0));
    FUZZ_CHECK(rc != 0 || r->status == 0);

    return rc;
}
