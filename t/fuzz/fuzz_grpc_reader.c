/*
 * Copyright (C) ngx_spiffe developers
 */


/*
 * gRPC framing: a response body through spiffe_grpc_reader_t.  The input
 * is FLAGS(1) N(1) SPLITS(2 * N) BODY.  FLAGS picks the limit (bit 0:
 * 4096, else the default), a message to refuse (bits 1-3, 0: none), and
 * whether BODY is repeated up to 96 KiB (bit 4: messages larger than the
 * buffer the reader keeps).  N is the number of split points (at most
 * 16), each two bytes (big-endian), scaled to the body.  The body is fed
 * in chunks at those points (each copied to a buffer of its own size, so
 * that an overread shows) and again whole: both readers must deliver the
 * same messages, at the places the prefixes say, and end in the same
 * state; a failed reader holds no buffer and stays failed.
 */

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <spiffe_grpc.h>

#include "fuzz.h"


#define FUZZ_MAX_SPLITS  16
#define FUZZ_BIG_BODY    (96 * 1024)


static int
fuzz_cmp_size(const void *a, const void *b)
{
    size_t  x = *(const size_t *) a, y = *(const size_t *) b;

    return (x > y) - (x < y);
}


static void
fuzz_grpc_reader(const uint8_t *data, size_t size)
{
    size_t                i, k, n, len, max, prev;
    size_t                splits[FUZZ_MAX_SPLITS + 1];
    uint8_t               flags, *big;
    uint64_t              fail_at;
    const uint8_t        *body;
    fuzz_grpc_sink_t      sa, sb;
    spiffe_grpc_reader_t  a, b;

    if (size < 2) {
        return;
    }

    flags = data[0];
    max = (flags & 1) ? FUZZ_GRPC_SMALL_MAX : 0;
    fail_at = (flags >> 1) & 7;
    n = data[1] % (FUZZ_MAX_SPLITS + 1);

    data += 2;
    size -= 2;

    if (size < 2 * n) {
        return;
    }

    body = data + 2 * n;
    len = size - 2 * n;
    big = NULL;

    if ((flags & 0x10) && len > 0) {
        big = malloc(FUZZ_BIG_BODY);
        FUZZ_CHECK(big != NULL);

        for (i = 0; i < FUZZ_BIG_BODY; i += k) {
            k = (len < FUZZ_BIG_BODY - i) ? len : FUZZ_BIG_BODY - i;
            memcpy(big + i, body, k);
        }

        body = big;
        len = FUZZ_BIG_BODY;
    }

    for (i = 0; i < n; i++) {
        splits[i] = ((size_t) data[2 * i] << 8 | data[2 * i + 1]);
        splits[i] = (big != NULL) ? splits[i] * 3 : splits[i];
        splits[i] = (len > 0) ? splits[i] % (len + 1) : 0;
    }

    splits[n] = len;
    qsort(splits, n, sizeof(size_t), fuzz_cmp_size);

    memset(&sa, 0, sizeof(fuzz_grpc_sink_t));
    sa.body = body;
    sa.len = len;
    sa.max = max ? max : SPIFFE_GRPC_MAX_MSG;
    sa.fail_at = fail_at;
    sb = sa;

    spiffe_grpc_reader_init(&a, max, fuzz_grpc_message, &sa);
    spiffe_grpc_reader_init(&b, max, fuzz_grpc_message, &sb);

    FUZZ_CHECK(a.max == sa.max);

    /* empty chunks too: libcurl may pass them */

    for (i = 0, prev = 0; i <= n; i++) {
        fuzz_grpc_feed(&a, body + prev, splits[i] - prev);
        prev = splits[i];
    }

    fuzz_grpc_feed(&b, body, len);

    FUZZ_CHECK(sa.n == sb.n);
    FUZZ_CHECK(sa.off == sb.off);
    FUZZ_CHECK(a.nmessages == sa.n);
    FUZZ_CHECK(a.status == b.status);
    FUZZ_CHECK(a.err == b.err);
    FUZZ_CHECK(spiffe_grpc_reader_partial(&a)
               == spiffe_grpc_reader_partial(&b));

    if (a.status == 0) {
        /* all was consumed; what is left is one unfinished message */
        FUZZ_CHECK(spiffe_grpc_reader_partial(&a) == (sa.off != len));

    } else {
        FUZZ_CHECK(a.buf == NULL);
    }

    /* a failed reader stays failed */

    if (a.status != 0) {
        FUZZ_CHECK(fuzz_grpc_feed(&a, body, len) == -1);
        FUZZ_CHECK(sa.n == sb.n);
    }

    spiffe_grpc_reader_free(&a);
    spiffe_grpc_reader_free(&b);

    free(big);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_run(fuzz_grpc_reader, data, size);
}
