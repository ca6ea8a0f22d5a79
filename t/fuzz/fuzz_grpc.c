/*
 * Copyright (C) ngx_spiffe developers
 */


/*
 * gRPC framing, the response header and trailer lines, and Workload API
 * addresses.  The first byte picks one:
 *
 *   0  reader: byte 1 picks the limit (bit 0: 4096, else the default), a
 *      message to refuse (bits 1-3, 0: none), and whether the body is
 *      repeated up to 96 KiB (bit 4: messages larger than the buffer
 *      the reader keeps); byte 2 is the number of split points (at most
 *      16), then two bytes (big-endian) each, scaled to the body; the rest
 *      is the response body.  It is fed in chunks at those points and
 *      again whole: both readers must deliver the same messages, at the
 *      places the prefixes say, and end in the same state.
 *
 *   1  call: byte 1 picks the CURLcode (bits 0-2) and the limit (bit 3);
 *      the rest is header lines, split after each "\n" as libcurl passes
 *      them; after the first empty line, bytes 2-3 (big-endian) of the
 *      input say how much of what follows is body, fed to the call's
 *      reader as its write callback would, then the rest are trailers.
 *      The outcome must be a gRPC code with printable messages, and OK
 *      only when the server said so after a whole, well-typed stream.
 *
 *   2  address: the rest is parsed with and without a result; a parsed
 *      address printed back must parse the same, and a call made for it
 *      (no connection is made) must have the whole URL.
 *
 * Every chunk and line is copied to a buffer of its own size, so that an
 * overread shows.
 */

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <arpa/inet.h>

#include <curl/curl.h>

#include <spiffe_grpc.h>
#include <spiffe_workload.h>

#include "fuzz.h"


#define FUZZ_MAX_SPLITS  16
#define FUZZ_SMALL_MAX   4096
#define FUZZ_BIG_BODY    (96 * 1024)


/* checks each message against the body it was cut from */

typedef struct {
    const unsigned char  *body;
    size_t                len;
    size_t                off;      /* where the next prefix starts */
    size_t                max;
    uint64_t              n;
    uint64_t              fail_at;  /* 1-based, 0: none */
} fuzz_sink_t;


static const CURLcode  fuzz_codes[] = {
    CURLE_OK,
    CURLE_RECV_ERROR,
    CURLE_COULDNT_CONNECT,
    CURLE_WRITE_ERROR,
    CURLE_OPERATION_TIMEDOUT,
    CURLE_HTTP2_STREAM,
    CURLE_PARTIAL_FILE,
    CURLE_GOT_NOTHING
};


static const char  *const fuzz_methods[] = {
    "FetchX509SVID",
    "FetchJWTBundles",
    "M123456789012345678901234567890123456789012345678901234567890123",
};


static int
fuzz_message(void *data, const unsigned char *msg, size_t len)
{
    size_t        n;
    fuzz_sink_t  *s = data;

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


static int
fuzz_feed(spiffe_grpc_reader_t *r, const unsigned char *p, size_t len)
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


static int
fuzz_cmp_size(const void *a, const void *b)
{
    size_t  x = *(const size_t *) a, y = *(const size_t *) b;

    return (x > y) - (x < y);
}


static void
fuzz_reader(const uint8_t *data, size_t size)
{
    size_t                i, k, n, len, max, prev;
    size_t                splits[FUZZ_MAX_SPLITS + 1];
    uint8_t               flags, *big;
    uint64_t              fail_at;
    fuzz_sink_t           sa, sb;
    const uint8_t        *body;
    spiffe_grpc_reader_t  a, b;

    if (size < 3) {
        return;
    }

    flags = data[1];
    max = (flags & 1) ? FUZZ_SMALL_MAX : 0;
    fail_at = (flags >> 1) & 7;
    n = data[2] % (FUZZ_MAX_SPLITS + 1);

    data += 3;
    size -= 3;

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

    memset(&sa, 0, sizeof(fuzz_sink_t));
    sa.body = body;
    sa.len = len;
    sa.max = max ? max : SPIFFE_GRPC_MAX_MSG;
    sa.fail_at = fail_at;
    sb = sa;

    spiffe_grpc_reader_init(&a, max, fuzz_message, &sa);
    spiffe_grpc_reader_init(&b, max, fuzz_message, &sb);

    FUZZ_CHECK(a.max == sa.max);

    /* empty chunks too: libcurl may pass them */

    for (i = 0, prev = 0; i <= n; i++) {
        fuzz_feed(&a, body + prev, splits[i] - prev);
        prev = splits[i];
    }

    fuzz_feed(&b, body, len);

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
        FUZZ_CHECK(fuzz_feed(&a, body, len) == -1);
        FUZZ_CHECK(sa.n == sb.n);
    }

    spiffe_grpc_reader_free(&a);
    spiffe_grpc_reader_free(&b);

    free(big);
}


static void
fuzz_printable(const char *s, size_t size)
{
    size_t  i, n;

    n = strnlen(s, size);
    FUZZ_CHECK(n < size);

    for (i = 0; i < n; i++) {
        FUZZ_CHECK((unsigned char) s[i] >= 0x20 && s[i] != 0x7f);
    }
}


static void
fuzz_line(spiffe_grpc_call_t *call, const uint8_t *p, size_t len)
{
    char  *line;

    line = malloc(len > 0 ? len : 1);
    FUZZ_CHECK(line != NULL);

    if (len > 0) {
        memcpy(line, p, len);
    }

    spiffe_grpc_call_header(call, line, len);

    free(line);

    FUZZ_CHECK(call->http_status == 0
               || (call->http_status >= 100 && call->http_status <= 599));
    FUZZ_CHECK(call->grpc_status >= -2);
    fuzz_printable(call->grpc_message, sizeof(call->grpc_message));
}


static void
fuzz_call(const uint8_t *data, size_t size)
{
    int                        headers;
    size_t                     body_len, len;
    CURLcode                   rc;
    const char                *err;
    fuzz_sink_t                sink;
    const uint8_t             *p, *end, *nl;
    spiffe_grpc_call_t        *call;
    spiffe_grpc_call_conf_t    conf;

    static spiffe_grpc_addr_t  addr = {
        SPIFFE_GRPC_ADDR_UNIX, 0, "/nonexistent/ngx_spiffe_fuzz.sock", "", 0
    };

    if (size < 4) {
        return;
    }

    rc = fuzz_codes[data[1] & 7];
    body_len = (size_t) data[2] << 8 | data[3];

    memset(&sink, 0, sizeof(fuzz_sink_t));
    memset(&conf, 0, sizeof(conf));

    conf.addr = &addr;
    conf.method = "FetchX509SVID";
    conf.max_message = (data[1] & 8) ? FUZZ_SMALL_MAX : 0;
    conf.on_message = fuzz_message;
    conf.data = &sink;

    sink.max = conf.max_message ? conf.max_message : SPIFFE_GRPC_MAX_MSG;

    call = spiffe_grpc_call_create(&conf, &err);
    FUZZ_CHECK(call != NULL);

    p = data + 4;
    end = data + size;
    headers = 1;

    while (p < end) {
        nl = memchr(p, '\n', end - p);
        len = (nl != NULL) ? (size_t) (nl + 1 - p) : (size_t) (end - p);

        fuzz_line(call, p, len);

        p += len;

        if (!headers || !(len == 1 || (len == 2 && p[-2] == '\r'))) {
            continue;
        }

        /* the body, as spiffe_grpc_call_write() passes it on */

        headers = 0;
        len = (body_len < (size_t) (end - p)) ? body_len
                                              : (size_t) (end - p);

        sink.body = p;
        sink.len = len;

        if (call->http_status == 200 && call->content_grpc) {
            fuzz_feed(&call->reader, p, len);
        }

        p += len;
    }

    spiffe_grpc_call_done(call, rc);

    FUZZ_CHECK(call->status >= 0
               && call->status <= SPIFFE_GRPC_UNAUTHENTICATED);
    fuzz_printable(call->message, sizeof(call->message));
    fuzz_printable(call->grpc_message, sizeof(call->grpc_message));
    FUZZ_CHECK(strcmp(spiffe_grpc_status_name(call->status), "") != 0);

    /* fail closed: OK is the server's word on a whole gRPC stream */

    if (call->status == SPIFFE_GRPC_OK) {
        FUZZ_CHECK(call->from_server);
        FUZZ_CHECK(call->http_status == 200 && call->content_grpc);
        FUZZ_CHECK(call->grpc_status == SPIFFE_GRPC_OK);
        FUZZ_CHECK(call->reader.status == 0);
        FUZZ_CHECK(!spiffe_grpc_reader_partial(&call->reader));
    }

    /* an unknown code from the server is reported as UNKNOWN */

    if (call->from_server) {
        FUZZ_CHECK(call->status == call->grpc_status
                   || (call->grpc_status > SPIFFE_GRPC_UNAUTHENTICATED
                       && call->status == SPIFFE_GRPC_UNKNOWN));
    }

    spiffe_grpc_call_destroy(call);
}


static void
fuzz_unix_print(const spiffe_grpc_addr_t *a, char *out, size_t size)
{
    size_t                i, n;
    const unsigned char  *p;

    n = snprintf(out, size, "unix://");

    for (p = (const unsigned char *) a->path; *p != '\0'; p++) {
        FUZZ_CHECK(n + 4 < size);

        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')
            || (*p >= '0' && *p <= '9') || *p == '/' || *p == '.'
            || *p == '-' || *p == '_')
        {
            out[n++] = *p;

        } else {
            i = snprintf(out + n, size - n, "%%%02X", *p);
            n += i;
        }
    }

    out[n] = '\0';
}


static void
fuzz_address(const uint8_t *data, size_t size)
{
    int                       rc, rc2;
    char                     *s, url[512];
    const char               *err, *err2, *eff;
    unsigned char             sa[sizeof(struct in6_addr)];
    spiffe_grpc_addr_t        a, a2;
    spiffe_grpc_call_t       *call;
    spiffe_grpc_call_conf_t   conf;

    s = malloc(size > 0 ? size : 1);
    FUZZ_CHECK(s != NULL);

    if (size > 0) {
        memcpy(s, data, size);
    }

    err = NULL;
    err2 = NULL;

    rc = spiffe_workload_parse_address(s, size, &a, &err);
    rc2 = spiffe_workload_parse_address(s, size, NULL, &err2);

    free(s);

    FUZZ_CHECK(rc == rc2);
    FUZZ_CHECK(err == err2);
    FUZZ_CHECK(rc == 0 || (rc == -1 && err != NULL));

    if (rc != 0) {
        return;
    }

    if (a.type == SPIFFE_GRPC_ADDR_UNIX) {
        FUZZ_CHECK(strnlen(a.path, sizeof(a.path)) < sizeof(a.path));
        FUZZ_CHECK(a.path[0] == '/');
        fuzz_unix_print(&a, url, sizeof(url));

    } else {
        FUZZ_CHECK(a.type == SPIFFE_GRPC_ADDR_TCP);
        FUZZ_CHECK(a.family == AF_INET || a.family == AF_INET6);
        FUZZ_CHECK(a.port >= 1 && a.port <= 65535);
        FUZZ_CHECK(strnlen(a.ip, sizeof(a.ip)) < sizeof(a.ip));
        FUZZ_CHECK(inet_pton(a.family, a.ip, sa) == 1);

        snprintf(url, sizeof(url),
                 (a.family == AF_INET6) ? "tcp://[%s]:%u" : "tcp://%s:%u",
                 a.ip, a.port);
    }

    err = NULL;
    rc = spiffe_workload_parse_address(url, strlen(url), &a2, &err);

    if (rc != 0) {
        fprintf(stderr, "\"%s\": %s\n", url, err);
    }

    FUZZ_CHECK(rc == 0);
    FUZZ_CHECK(memcmp(&a, &a2, sizeof(a)) == 0);

    memset(&conf, 0, sizeof(conf));
    conf.addr = &a;
    conf.method = fuzz_methods[size % 3];
    conf.on_message = fuzz_message;

    call = spiffe_grpc_call_create(&conf, &err);
    FUZZ_CHECK(call != NULL);

    eff = NULL;

    if (curl_easy_getinfo(call->easy, CURLINFO_EFFECTIVE_URL, &eff)
        == CURLE_OK && eff != NULL)
    {
        snprintf(url, sizeof(url), "/SpiffeWorkloadAPI/%s", conf.method);
        FUZZ_CHECK(strlen(eff) > strlen(url));
        FUZZ_CHECK(strcmp(eff + strlen(eff) - strlen(url), url) == 0);
    }

    spiffe_grpc_call_destroy(call);
}


int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void) argc;
    (void) argv;

    curl_global_init(CURL_GLOBAL_DEFAULT);

    return 0;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) {
        return 0;
    }

    switch (data[0] % 3) {

    case 0:
        fuzz_reader(data, size);
        break;

    case 1:
        fuzz_call(data, size);
        break;

    default:
        fuzz_address(data + 1, size - 1);
        break;
    }

    return 0;
}
