/*
 * Copyright (C) ngx_spiffe developers
 */


/*
 * The Workload API protobuf messages.  The first byte picks one of
 * X509SVIDResponse, X509BundlesResponse, JWTSVIDResponse and
 * JWTBundlesResponse (0-3), the rest is decoded.  Besides the sanitizers,
 * every view a decoder returns must lie inside the input (it is read, so
 * that an overread would show), a failed decode leaves nothing behind,
 * and the element count obeys the bound the decoder's growth relies on:
 * each element takes two input bytes at least.
 *
 * 4 is the JWTSVIDRequest encoder: the rest is cut into audiences, each
 * a two-byte big-endian length and its bytes, and the last piece is the
 * SPIFFE ID; the encoding is read back field by field.
 */

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <spiffe_pb.h>

#include "fuzz.h"


typedef struct {
    const unsigned char  *start;
    const unsigned char  *end;
    unsigned              sum;
} fuzz_span_t;


static volatile unsigned  fuzz_sink;


static void
fuzz_bytes(fuzz_span_t *s, const spiffe_bytes_t *b)
{
    size_t  i;

    if (b->len == 0) {
        return;
    }

    FUZZ_CHECK(b->data != NULL);
    FUZZ_CHECK(b->data >= s->start && b->data <= s->end);
    FUZZ_CHECK(b->len <= (size_t) (s->end - b->data));

    for (i = 0; i < b->len; i++) {
        s->sum += b->data[i];
    }
}


static void
fuzz_entries(fuzz_span_t *s, const spiffe_pb_entry_t *e, size_t n)
{
    size_t  i;

    FUZZ_CHECK(n == 0 || e != NULL);

    for (i = 0; i < n; i++) {
        fuzz_bytes(s, &e[i].key);
        fuzz_bytes(s, &e[i].value);
    }
}


static void
fuzz_list(fuzz_span_t *s, const spiffe_bytes_t *b, size_t n)
{
    size_t  i;

    FUZZ_CHECK(n == 0 || b != NULL);

    for (i = 0; i < n; i++) {
        fuzz_bytes(s, &b[i]);
    }
}


static int
fuzz_zero(const void *p, size_t size)
{
    size_t                i;
    const unsigned char  *c = p;

    for (i = 0; i < size; i++) {
        if (c[i] != 0) {
            return 0;
        }
    }

    return 1;
}


static const unsigned char *
fuzz_varint(const unsigned char *p, const unsigned char *end, size_t *v)
{
    unsigned  shift;

    *v = 0;

    for (shift = 0; p < end && shift < 64; shift += 7) {
        *v |= (size_t) (*p & 0x7f) << shift;

        if ((*p++ & 0x80) == 0) {
            return p;
        }
    }

    FUZZ_CHECK(0 && "bad varint in the encoding");
    return NULL;
}


static const unsigned char *
fuzz_field(const unsigned char *p, const unsigned char *end, unsigned tag,
    const spiffe_bytes_t *b)
{
    size_t  len;

    FUZZ_CHECK(p < end && *p == tag);

    p = fuzz_varint(p + 1, end, &len);

    FUZZ_CHECK(len == b->len && len <= (size_t) (end - p));
    FUZZ_CHECK(len == 0 || memcmp(p, b->data, len) == 0);

    return p + len;
}


#define FUZZ_MAX_AUDIENCES  16

static void
fuzz_encode(const unsigned char *buf, size_t len)
{
    size_t                i, n, alen, out_len;
    spiffe_bytes_t        auds[FUZZ_MAX_AUDIENCES], id;
    unsigned char        *out;
    const unsigned char  *p, *end;

    p = buf;
    end = buf + len;
    n = 0;

    while (n < FUZZ_MAX_AUDIENCES && end - p >= 2) {
        alen = ((size_t) p[0] << 8 | p[1]) % (size_t) (end - p - 1);
        auds[n].data = p + 2;
        auds[n].len = alen;
        n++;
        p += 2 + alen;
    }

    id.data = p;
    id.len = end - p;

    out = NULL;
    out_len = 0;

    FUZZ_CHECK(spiffe_pb_encode_jwt_svid_req(auds, n, &id, &out, &out_len)
               == 0);
    FUZZ_CHECK(out != NULL);

    p = out;
    end = out + out_len;

    for (i = 0; i < n; i++) {
        p = fuzz_field(p, end, (1 << 3) | 2, &auds[i]);
    }

    /* proto3 leaves an empty singular string out */

    if (id.len > 0) {
        p = fuzz_field(p, end, (2 << 3) | 2, &id);
    }

    FUZZ_CHECK(p == end);

    free(out);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int                             rc;
    size_t                          i, len, max;
    const char                     *err;
    fuzz_span_t                     s;
    const unsigned char            *buf;
    spiffe_pb_jwt_svid_resp_t       js;
    spiffe_pb_x509_svid_resp_t      xs;
    spiffe_pb_jwt_bundles_resp_t    jb;
    spiffe_pb_x509_bundles_resp_t   xb;

    if (size == 0) {
        return 0;
    }

    /* the message ends where libFuzzer's buffer ends: overreads show */

    buf = (size > 1) ? data + 1 : NULL;
    len = size - 1;

    s.start = buf;
    s.end = (buf != NULL) ? buf + len : NULL;
    s.sum = 0;

    max = len / 2;
    err = NULL;

    switch (data[0] % 5) {

    case 0:
        rc = spiffe_pb_decode_x509_svid_resp(buf, len, &xs, &err);

        if (rc != 0) {
            FUZZ_CHECK(err != NULL);
            FUZZ_CHECK(fuzz_zero(&xs, sizeof(xs)));
            break;
        }

        FUZZ_CHECK(xs.nsvids + xs.ncrls + xs.nbundles <= max);
        FUZZ_CHECK(xs.nsvids == 0 || xs.svids != NULL);

        for (i = 0; i < xs.nsvids; i++) {
            fuzz_bytes(&s, &xs.svids[i].spiffe_id);
            fuzz_bytes(&s, &xs.svids[i].x509_svid);
            fuzz_bytes(&s, &xs.svids[i].x509_svid_key);
            fuzz_bytes(&s, &xs.svids[i].bundle);
            fuzz_bytes(&s, &xs.svids[i].hint);
        }

        fuzz_list(&s, xs.crls, xs.ncrls);
        fuzz_entries(&s, xs.bundles, xs.nbundles);

        spiffe_pb_free_x509_svid_resp(&xs);
        FUZZ_CHECK(fuzz_zero(&xs, sizeof(xs)));
        break;

    case 1:
        rc = spiffe_pb_decode_x509_bundles_resp(buf, len, &xb, &err);

        if (rc != 0) {
            FUZZ_CHECK(err != NULL);
            FUZZ_CHECK(fuzz_zero(&xb, sizeof(xb)));
            break;
        }

        FUZZ_CHECK(xb.ncrls + xb.nbundles <= max);

        fuzz_list(&s, xb.crls, xb.ncrls);
        fuzz_entries(&s, xb.bundles, xb.nbundles);

        spiffe_pb_free_x509_bundles_resp(&xb);
        break;

    case 2:
        rc = spiffe_pb_decode_jwt_svid_resp(buf, len, &js, &err);

        if (rc != 0) {
            FUZZ_CHECK(err != NULL);
            FUZZ_CHECK(fuzz_zero(&js, sizeof(js)));
            break;
        }

        FUZZ_CHECK(js.nsvids <= max);
        FUZZ_CHECK(js.nsvids == 0 || js.svids != NULL);

        for (i = 0; i < js.nsvids; i++) {
            fuzz_bytes(&s, &js.svids[i].spiffe_id);
            fuzz_bytes(&s, &js.svids[i].svid);
            fuzz_bytes(&s, &js.svids[i].hint);
        }

        spiffe_pb_free_jwt_svid_resp(&js);
        break;

    case 4:
        fuzz_encode(data + 1, size - 1);
        break;

    default:
        rc = spiffe_pb_decode_jwt_bundles_resp(buf, len, &jb, &err);

        if (rc != 0) {
            FUZZ_CHECK(err != NULL);
            FUZZ_CHECK(fuzz_zero(&jb, sizeof(jb)));
            break;
        }

        FUZZ_CHECK(jb.nbundles <= max);

        fuzz_entries(&s, jb.bundles, jb.nbundles);

        spiffe_pb_free_jwt_bundles_resp(&jb);
        break;
    }

    /* keeps the reads of the views from being optimized away */

    fuzz_sink = s.sum;

    return 0;
}
