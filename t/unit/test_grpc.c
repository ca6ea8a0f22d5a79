/*
 * Copyright (C) ngx_spiffe developers
 */


#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <cmocka.h>

#include <spiffe_grpc.h>
#include <spiffe_pb.h>
#include <spiffe_workload.h>

#include "server.h"


/*
 * The call tests run t/unit/grpc_test_server.py (from the repo root, or
 * $SPIFFE_TEST_SERVER) with /usr/bin/python3 (or $SPIFFE_TEST_PYTHON);
 * they are skipped when it cannot start.
 */
#define TEST_SERVER  "t/unit/grpc_test_server.py"


/*
 * This test is linked with --wrap=free,--wrap=realloc (Makefile): the
 * buffer under watch must hold only zeros when it is given back.
 */

void *__real_realloc(void *p, size_t size);
void __real_free(void *p);
void *__wrap_realloc(void *p, size_t size);
void __wrap_free(void *p);

static const unsigned char  *watched;
static size_t                watched_len;
static size_t                watched_returns;
static size_t                dirty_returns;


typedef struct {
    unsigned char  *data;       /* every message, concatenated */
    size_t          len;
    size_t          lens[64];
    size_t          n;
    size_t          fail_at;    /* 1-based message to refuse, 0: none */
    const void     *chunk;      /* the chunk being fed */
    size_t          chunk_len;
    size_t          in_chunk;   /* messages passed by pointer into it */
} sink_t;


static int
sink_message(void *data, const unsigned char *msg, size_t len)
{
    sink_t  *s = data;

    assert_non_null(msg);

    if (s->chunk != NULL && msg >= (const unsigned char *) s->chunk
        && msg + len <= (const unsigned char *) s->chunk + s->chunk_len)
    {
        s->in_chunk++;
    }

    if (s->n < 64) {
        s->lens[s->n] = len;
    }

    s->n++;

    if (s->fail_at == s->n) {
        return -1;
    }

    s->data = realloc(s->data, s->len + len + 1);
    assert_non_null(s->data);

    memcpy(s->data + s->len, msg, len);
    s->len += len;

    return 0;
}


static void
sink_free(sink_t *s)
{
    free(s->data);
    memset(s, 0, sizeof(*s));
}


static int
all_zero(const unsigned char *p, size_t len)
{
    size_t  i;

    for (i = 0; i < len; i++) {
        if (p[i] != 0) {
            return 0;
        }
    }

    return 1;
}


static void
watch(const unsigned char *p, size_t len)
{
    watched = p;
    watched_len = len;
}


static void
watch_returned(void *p)
{
    if (p == NULL || p != watched) {
        return;
    }

    watched_returns++;
    dirty_returns += !all_zero(watched, watched_len);
    watched = NULL;
}


void *
__wrap_realloc(void *p, size_t size)
{
    watch_returned(p);

    return __real_realloc(p, size);
}


void
__wrap_free(void *p)
{
    watch_returned(p);

    __real_free(p);
}


/* frames msgs into one stream; returns its length */

static size_t
frame_all(unsigned char *out, const unsigned char **msgs, const size_t *lens,
    size_t n)
{
    size_t       i, off;
    const char  *err;

    for (i = 0, off = 0; i < n; i++) {
        assert_int_equal(spiffe_grpc_frame(msgs[i], lens[i], out + off, &err),
                         0);
        off += SPIFFE_GRPC_PREFIX_LEN + lens[i];
    }

    return off;
}


static void
test_frame(void **state)
{
    unsigned char  out[16];
    const char    *err;

    static const unsigned char  empty[] = { 0, 0, 0, 0, 0 };
    static const unsigned char  abc[] = { 0, 0, 0, 0, 3, 'a', 'b', 'c' };

    (void) state;

    assert_int_equal(spiffe_grpc_frame(NULL, 0, out, &err), 0);
    assert_memory_equal(out, empty, sizeof(empty));

    assert_int_equal(spiffe_grpc_frame((const unsigned char *) "abc", 3, out,
                                       &err), 0);
    assert_memory_equal(out, abc, sizeof(abc));

    /* refused before anything is written */
    assert_int_equal(spiffe_grpc_frame(NULL, SPIFFE_GRPC_MAX_MSG + 1, NULL,
                                       &err), -1);
    assert_string_equal(err, "message is larger than 4 MiB");
}


static void
test_reader_bytewise(void **state)
{
    size_t                 i, len;
    sink_t                 s;
    const char            *err;
    unsigned char          stream[1024], body[300];
    spiffe_grpc_reader_t   r;
    const unsigned char   *msgs[3];
    size_t                 lens[3];

    (void) state;

    memset(&s, 0, sizeof(s));

    for (i = 0; i < sizeof(body); i++) {
        body[i] = (unsigned char) i;
    }

    msgs[0] = NULL;
    lens[0] = 0;
    msgs[1] = (const unsigned char *) "x";
    lens[1] = 1;
    msgs[2] = body;
    lens[2] = sizeof(body);

    len = frame_all(stream, msgs, lens, 3);

    spiffe_grpc_reader_init(&r, 0, sink_message, &s);
    assert_int_equal(r.max, SPIFFE_GRPC_MAX_MSG);

    for (i = 0; i < len; i++) {
        assert_int_equal(spiffe_grpc_reader_feed(&r, stream + i, 1, &err), 0);
        assert_true(r.size <= r.need || r.size <= sizeof(body));
    }

    assert_int_equal(s.n, 3);
    assert_int_equal(s.lens[0], 0);
    assert_int_equal(s.lens[1], 1);
    assert_int_equal(s.lens[2], sizeof(body));
    assert_int_equal(s.len, 1 + sizeof(body));
    assert_int_equal(s.data[0], 'x');
    assert_memory_equal(s.data + 1, body, sizeof(body));
    assert_false(spiffe_grpc_reader_partial(&r));
    assert_int_equal(r.nmessages, 3);

    spiffe_grpc_reader_free(&r);
    sink_free(&s);
}


static void
test_reader_random_splits(void **state)
{
    size_t                 i, j, k, off, len, total, chunk;
    sink_t                 s;
    const char            *err;
    unsigned char         *stream, *bodies[20];
    spiffe_grpc_reader_t   r;
    const unsigned char   *msgs[20];
    size_t                 lens[20];

    (void) state;

    srand(20240101);

    for (k = 0; k < 50; k++) {
        total = 0;

        for (i = 0; i < 20; i++) {
            lens[i] = (rand() % 4 == 0) ? 0 : (size_t) rand() % 70000;
            bodies[i] = malloc(lens[i] + 1);
            assert_non_null(bodies[i]);

            for (j = 0; j < lens[i]; j++) {
                bodies[i][j] = (unsigned char) rand();
            }

            msgs[i] = bodies[i];
            total += SPIFFE_GRPC_PREFIX_LEN + lens[i];
        }

        stream = malloc(total);
        assert_non_null(stream);
        len = frame_all(stream, msgs, lens, 20);
        assert_int_equal(len, total);

        memset(&s, 0, sizeof(s));
        spiffe_grpc_reader_init(&r, 0, sink_message, &s);

        for (off = 0; off < len; off += chunk) {
            switch (rand() % 3) {
            case 0:
                chunk = 1 + rand() % 7;
                break;
            case 1:
                chunk = 1 + rand() % 20000;
                break;
            default:
                chunk = 1 + rand() % 200000;
            }

            chunk = (chunk < len - off) ? chunk : len - off;

            assert_int_equal(spiffe_grpc_reader_feed(&r, stream + off, chunk,
                                                     &err), 0);

            /* never more than the current message is held */
            assert_true(r.have <= r.need);
            assert_true(r.size <= 64 * 1024 || r.size == r.need);
        }

        assert_int_equal(s.n, 20);
        assert_false(spiffe_grpc_reader_partial(&r));

        for (i = 0, off = 0; i < 20; i++) {
            assert_int_equal(s.lens[i], lens[i]);

            if (lens[i] > 0) {
                assert_memory_equal(s.data + off, bodies[i], lens[i]);
            }

            off += lens[i];
            free(bodies[i]);
        }

        spiffe_grpc_reader_free(&r);
        sink_free(&s);
        free(stream);
    }
}


static void
test_reader_one_chunk(void **state)
{
    size_t                 len;
    sink_t                 s;
    const char            *err;
    unsigned char          stream[64];
    spiffe_grpc_reader_t   r;
    const unsigned char   *msgs[4];
    size_t                 lens[4];

    (void) state;

    msgs[0] = (const unsigned char *) "one";
    lens[0] = 3;
    msgs[1] = (const unsigned char *) "";
    lens[1] = 0;
    msgs[2] = (const unsigned char *) "three";
    lens[2] = 5;
    msgs[3] = (const unsigned char *) "four";
    lens[3] = 4;

    len = frame_all(stream, msgs, lens, 4);

    memset(&s, 0, sizeof(s));
    s.chunk = stream;
    s.chunk_len = len;

    spiffe_grpc_reader_init(&r, 0, sink_message, &s);

    /* all but the last byte: three messages, the fourth waits */

    assert_int_equal(spiffe_grpc_reader_feed(&r, stream, len - 1, &err), 0);
    assert_int_equal(s.n, 3);
    assert_true(spiffe_grpc_reader_partial(&r));

    /* the whole messages were not copied */
    assert_int_equal(s.in_chunk, 2);
    assert_int_equal(r.have, 3);

    s.chunk = NULL;

    assert_int_equal(spiffe_grpc_reader_feed(&r, stream + len - 1, 1, &err),
                     0);
    assert_int_equal(s.n, 4);
    assert_false(spiffe_grpc_reader_partial(&r));
    assert_int_equal(s.len, 12);
    assert_memory_equal(s.data, "onethreefour", 12);

    spiffe_grpc_reader_free(&r);
    sink_free(&s);
}


/*
 * A message may hold a private key: the reassembly buffer is wiped once
 * the message is handled, and before it is replaced or given back.
 */

static void
test_reader_cleanses(void **state)
{
    size_t                 lens[2];
    const char            *err;
    unsigned char          key[300];
    unsigned char          stream[2 * SPIFFE_GRPC_PREFIX_LEN + 400];
    spiffe_grpc_reader_t   r;
    const unsigned char   *msgs[2];
    sink_t                 s;

    (void) state;

    memset(key, 0xa5, sizeof(key));
    msgs[0] = key;
    msgs[1] = key;
    lens[0] = 100;
    lens[1] = 300;
    frame_all(stream, msgs, lens, 2);

    memset(&s, 0, sizeof(s));
    spiffe_grpc_reader_init(&r, 0, sink_message, &s);
    watched_returns = 0;
    dirty_returns = 0;

    /* in two chunks: handled from the buffer, which is kept, wiped */
    assert_int_equal(spiffe_grpc_reader_feed(&r, stream, 55, &err), 0);
    assert_int_equal(spiffe_grpc_reader_feed(&r, stream + 55, 50, &err), 0);
    assert_int_equal(s.n, 1);
    assert_memory_equal(s.data, key, 100);
    assert_non_null(r.buf);
    assert_true(all_zero(r.buf, r.size));

    /* a larger one: the buffer is replaced */
    watch(r.buf, r.size);
    assert_int_equal(spiffe_grpc_reader_feed(&r, stream + 105, 155, &err), 0);
    assert_int_equal(watched_returns, 1);
    assert_int_equal(dirty_returns, 0);

    /* given back in the middle of that message */
    watch(r.buf, r.size);
    spiffe_grpc_reader_free(&r);
    assert_int_equal(watched_returns, 2);
    assert_int_equal(dirty_returns, 0);

    sink_free(&s);
}


static void
test_reader_cap(void **state)
{
    size_t                 off, n;
    sink_t                 s;
    const char            *err;
    unsigned char         *big, over[5 + 1001];
    spiffe_grpc_reader_t   r;

    (void) state;

    /* a small cap: exactly at it passes, one more byte is refused */

    memset(&s, 0, sizeof(s));
    memset(over, 'a', sizeof(over));

    spiffe_grpc_reader_init(&r, 1000, sink_message, &s);
    assert_int_equal(spiffe_grpc_frame(over + 5, 1000, over, &err), 0);
    assert_int_equal(spiffe_grpc_reader_feed(&r, over, 1005, &err), 0);
    assert_int_equal(s.n, 1);
    assert_int_equal(s.lens[0], 1000);

    assert_int_equal(spiffe_grpc_frame(over + 5, 1001, over, &err), 0);
    assert_int_equal(spiffe_grpc_reader_feed(&r, over, 5, &err), -1);
    assert_string_equal(err, "message larger than the limit");
    assert_int_equal(r.status, SPIFFE_GRPC_RESOURCE_EXHAUSTED);

    /* failed for good: no more callbacks, nothing buffered */

    err = NULL;
    assert_int_equal(spiffe_grpc_reader_feed(&r, over, 1005, &err), -1);
    assert_string_equal(err, "message larger than the limit");
    assert_int_equal(s.n, 1);
    assert_null(r.buf);

    spiffe_grpc_reader_free(&r);
    sink_free(&s);

    /* the default cap, 4 MiB, in chunks of 16 KiB as libcurl passes them */

    big = malloc(SPIFFE_GRPC_PREFIX_LEN + SPIFFE_GRPC_MAX_MSG);
    assert_non_null(big);
    memset(big, 'M', SPIFFE_GRPC_PREFIX_LEN + SPIFFE_GRPC_MAX_MSG);
    assert_int_equal(spiffe_grpc_frame(big + 5, SPIFFE_GRPC_MAX_MSG, big,
                                       &err), 0);

    spiffe_grpc_reader_init(&r, 0, sink_message, &s);

    for (off = 0; off < SPIFFE_GRPC_PREFIX_LEN + SPIFFE_GRPC_MAX_MSG;
         off += n)
    {
        n = SPIFFE_GRPC_PREFIX_LEN + SPIFFE_GRPC_MAX_MSG - off;
        n = (n < 16384) ? n : 16384;
        assert_int_equal(spiffe_grpc_reader_feed(&r, big + off, n, &err), 0);
    }

    assert_int_equal(s.n, 1);
    assert_int_equal(s.lens[0], SPIFFE_GRPC_MAX_MSG);

    /* a buffer that large is not kept */
    assert_null(r.buf);

    big[1] = 0;
    big[2] = 0x40;
    big[3] = 0;
    big[4] = 1;
    assert_int_equal(spiffe_grpc_reader_feed(&r, big, 5, &err), -1);
    assert_int_equal(r.status, SPIFFE_GRPC_RESOURCE_EXHAUSTED);
    assert_int_equal(s.n, 1);

    spiffe_grpc_reader_free(&r);
    sink_free(&s);
    free(big);
}


static void
test_reader_flags(void **state)
{
    sink_t                 s;
    const char            *err;
    spiffe_grpc_reader_t   r;

    static const unsigned char  compressed[] = { 1, 0, 0, 0, 1, 'z' };
    static const unsigned char  reserved[] = { 0x80, 0, 0, 0, 1, 'z' };
    static const unsigned char  ok_then_compressed[] = {
        0, 0, 0, 0, 1, 'a', 1, 0, 0, 0, 1, 'z', 0, 0, 0, 0, 1, 'b'
    };

    (void) state;

    memset(&s, 0, sizeof(s));

    spiffe_grpc_reader_init(&r, 0, sink_message, &s);
    assert_int_equal(spiffe_grpc_reader_feed(&r, compressed,
                                             sizeof(compressed), &err), -1);
    assert_string_equal(err,
                        "compressed message, but no compression was "
                        "negotiated");
    assert_int_equal(r.status, SPIFFE_GRPC_INTERNAL);
    assert_int_equal(s.n, 0);
    spiffe_grpc_reader_free(&r);

    spiffe_grpc_reader_init(&r, 0, sink_message, &s);
    assert_int_equal(spiffe_grpc_reader_feed(&r, reserved, sizeof(reserved),
                                             &err), -1);
    assert_string_equal(err, "bad message flags");
    spiffe_grpc_reader_free(&r);

    spiffe_grpc_reader_init(&r, 0, sink_message, &s);
    assert_int_equal(spiffe_grpc_reader_feed(&r, ok_then_compressed,
                                             sizeof(ok_then_compressed), &err),
                     -1);
    assert_int_equal(s.n, 1);
    assert_int_equal(s.data[0], 'a');
    spiffe_grpc_reader_free(&r);

    sink_free(&s);
}


static void
test_reader_handler_fails(void **state)
{
    sink_t                 s;
    const char            *err;
    spiffe_grpc_reader_t   r;

    static const unsigned char  three[] = {
        0, 0, 0, 0, 1, 'a', 0, 0, 0, 0, 1, 'b', 0, 0, 0, 0, 1, 'c'
    };

    (void) state;

    memset(&s, 0, sizeof(s));
    s.fail_at = 2;

    spiffe_grpc_reader_init(&r, 0, sink_message, &s);
    assert_int_equal(spiffe_grpc_reader_feed(&r, three, sizeof(three), &err),
                     -1);
    assert_string_equal(err, "the message handler failed");
    assert_int_equal(r.status, SPIFFE_GRPC_CANCELLED);
    assert_int_equal(s.n, 2);

    assert_int_equal(spiffe_grpc_reader_feed(&r, three, sizeof(three), &err),
                     -1);
    assert_int_equal(s.n, 2);

    spiffe_grpc_reader_free(&r);
    sink_free(&s);
}


static void
test_status_names(void **state)
{
    (void) state;

    assert_string_equal(spiffe_grpc_status_name(0), "OK");
    assert_string_equal(spiffe_grpc_status_name(3), "INVALID_ARGUMENT");
    assert_string_equal(spiffe_grpc_status_name(7), "PERMISSION_DENIED");
    assert_string_equal(spiffe_grpc_status_name(14), "UNAVAILABLE");
    assert_string_equal(spiffe_grpc_status_name(16), "UNAUTHENTICATED");
    assert_string_equal(spiffe_grpc_status_name(17), "UNKNOWN");
    assert_string_equal(spiffe_grpc_status_name(-1), "UNKNOWN");
}


static spiffe_grpc_call_t *
call_new(sink_t *s)
{
    const char               *err;
    spiffe_grpc_call_t       *call;
    spiffe_grpc_call_conf_t   conf;

    static spiffe_grpc_addr_t  addr = {
        SPIFFE_GRPC_ADDR_UNIX, 0, "/nonexistent/ngx_spiffe_test.sock", "", 0
    };

    memset(&conf, 0, sizeof(conf));
    conf.addr = &addr;
    conf.method = "FetchX509SVID";
    conf.on_message = sink_message;
    conf.data = s;

    call = spiffe_grpc_call_create(&conf, &err);
    assert_non_null(call);
    assert_non_null(call->easy);

    return call;
}


/* feeds header lines as libcurl's header callback passes them */

static void
call_headers(spiffe_grpc_call_t *call, ...)
{
    char        line[1024];
    va_list     args;
    const char  *h;

    va_start(args, call);

    while ((h = va_arg(args, const char *)) != NULL) {
        snprintf(line, sizeof(line), "%s\r\n", h);
        spiffe_grpc_call_header(call, line, strlen(line));
    }

    va_end(args);
}


#define RESPONSE_200                                                          \
    "HTTP/2 200 ", "content-type: application/grpc", ""


typedef struct {
    long         http;
    int          status;
} http_case_t;


static void
test_outcome(void **state)
{
    size_t               i;
    sink_t               s;
    const char          *err;
    spiffe_grpc_call_t  *call;
    char                 line[64];

    static const http_case_t  http[] = {
        { 400, SPIFFE_GRPC_INTERNAL },
        { 401, SPIFFE_GRPC_UNAUTHENTICATED },
        { 403, SPIFFE_GRPC_PERMISSION_DENIED },
        { 404, SPIFFE_GRPC_UNIMPLEMENTED },
        { 429, SPIFFE_GRPC_UNAVAILABLE },
        { 500, SPIFFE_GRPC_UNKNOWN },
        { 502, SPIFFE_GRPC_UNAVAILABLE },
        { 503, SPIFFE_GRPC_UNAVAILABLE },
        { 504, SPIFFE_GRPC_UNAVAILABLE },
        { 302, SPIFFE_GRPC_UNKNOWN },
    };

    (void) state;

    memset(&s, 0, sizeof(s));

    /* grpc-status in the trailers, after a body */

    call = call_new(&s);
    call_headers(call, RESPONSE_200, NULL);
    assert_int_equal(call->http_status, 200);
    assert_int_equal(spiffe_grpc_reader_feed(&call->reader,
                                             (const unsigned char *)
                                             "\0\0\0\0\1x", 6, &err), 0);
    call_headers(call, "grpc-status: 0", NULL);
    spiffe_grpc_call_done(call, CURLE_OK);
    assert_int_equal(call->status, SPIFFE_GRPC_OK);
    assert_true(call->from_server);
    assert_string_equal(call->message, "");
    assert_int_equal(s.n, 1);
    spiffe_grpc_call_destroy(call);

    /* trailers-only */

    call = call_new(&s);
    call_headers(call, "HTTP/2 200 ", "content-type: application/grpc",
                 "grpc-status: 7", "grpc-message: no%20identity%20issued", "",
                 NULL);
    spiffe_grpc_call_done(call, CURLE_OK);
    assert_int_equal(call->status, SPIFFE_GRPC_PERMISSION_DENIED);
    assert_true(call->from_server);
    assert_string_equal(call->message, "no identity issued");
    spiffe_grpc_call_destroy(call);

    /* case, spaces, the last value wins, trailers after headers */

    call = call_new(&s);
    call_headers(call, "HTTP/2 200", "Content-Type: application/grpc+proto",
                 "GRPC-Status:   14  ", "grpc-message: first", "",
                 "grpc-status: 3", "Grpc-Message: bad%2", NULL);
    spiffe_grpc_call_done(call, CURLE_OK);
    assert_int_equal(call->status, SPIFFE_GRPC_INVALID_ARGUMENT);
    assert_string_equal(call->message, "bad%2");
    spiffe_grpc_call_destroy(call);

    /* the status is final even if the connection breaks after it */

    call = call_new(&s);
    call_headers(call, RESPONSE_200, "grpc-status: 0", NULL);
    spiffe_grpc_call_done(call, CURLE_RECV_ERROR);
    assert_int_equal(call->status, SPIFFE_GRPC_OK);
    spiffe_grpc_call_destroy(call);

    /* HTTP errors without grpc-status */

    for (i = 0; i < sizeof(http) / sizeof(http[0]); i++) {
        call = call_new(&s);
        snprintf(line, sizeof(line), "HTTP/2 %ld ", http[i].http);
        call_headers(call, line, "content-type: text/html", "", NULL);
        spiffe_grpc_call_done(call, CURLE_OK);
        assert_int_equal(call->status, http[i].status);
        assert_false(call->from_server);
        snprintf(line, sizeof(line), "HTTP status %ld", http[i].http);
        assert_string_equal(call->message, line);
        spiffe_grpc_call_destroy(call);
    }

    /* a non-200 answer is judged on its HTTP status, as grpc-go does */

    call = call_new(&s);
    call_headers(call, "HTTP/1.1 503 Service Unavailable",
                 "content-type: application/grpc", "grpc-status: 0",
                 "grpc-message: overloaded", "", NULL);
    spiffe_grpc_call_done(call, CURLE_OK);
    assert_int_equal(call->status, SPIFFE_GRPC_UNAVAILABLE);
    assert_string_equal(call->message, "HTTP status 503: overloaded");
    spiffe_grpc_call_destroy(call);

    /* an interim response, then the real one */

    call = call_new(&s);
    call_headers(call, "HTTP/2 100 ", "", "HTTP/2 200 ",
                 "content-type: application/grpc", "", "grpc-status: 0", NULL);
    spiffe_grpc_call_done(call, CURLE_OK);
    assert_int_equal(call->status, SPIFFE_GRPC_OK);
    spiffe_grpc_call_destroy(call);

    /* no grpc-status at all */

    call = call_new(&s);
    call_headers(call, RESPONSE_200, NULL);
    spiffe_grpc_call_done(call, CURLE_OK);
    assert_int_equal(call->status, SPIFFE_GRPC_INTERNAL);
    assert_string_equal(call->message, "the stream ended without grpc-status");
    spiffe_grpc_call_destroy(call);

    /* malformed and unknown codes */

    call = call_new(&s);
    call_headers(call, RESPONSE_200, "grpc-status: 1x", NULL);
    spiffe_grpc_call_done(call, CURLE_OK);
    assert_int_equal(call->status, SPIFFE_GRPC_INTERNAL);
    assert_string_equal(call->message, "malformed grpc-status");
    spiffe_grpc_call_destroy(call);

    call = call_new(&s);
    call_headers(call, RESPONSE_200, "grpc-status: -1", NULL);
    spiffe_grpc_call_done(call, CURLE_OK);
    assert_string_equal(call->message, "malformed grpc-status");
    spiffe_grpc_call_destroy(call);

    call = call_new(&s);
    call_headers(call, RESPONSE_200, "grpc-status:", NULL);
    spiffe_grpc_call_done(call, CURLE_OK);
    assert_string_equal(call->message, "malformed grpc-status");
    spiffe_grpc_call_destroy(call);

    call = call_new(&s);
    call_headers(call, RESPONSE_200, "grpc-status: 17",
                 "grpc-message: new", NULL);
    spiffe_grpc_call_done(call, CURLE_OK);
    assert_int_equal(call->status, SPIFFE_GRPC_UNKNOWN);
    assert_string_equal(call->message, "unknown grpc-status 17: new");
    spiffe_grpc_call_destroy(call);

    /* a 200 that is not gRPC */

    call = call_new(&s);
    call_headers(call, "HTTP/2 200 ", "content-type: text/html",
                 "grpc-status: 0", "", NULL);
    spiffe_grpc_call_done(call, CURLE_OK);
    assert_int_equal(call->status, SPIFFE_GRPC_UNKNOWN);
    assert_string_equal(call->message, "the response is not application/grpc");
    spiffe_grpc_call_destroy(call);

    call = call_new(&s);
    call_headers(call, "HTTP/2 200 ", "content-type: application/grpcx",
                 "grpc-status: 0", "", NULL);
    spiffe_grpc_call_done(call, CURLE_OK);
    assert_int_equal(call->status, SPIFFE_GRPC_UNKNOWN);
    spiffe_grpc_call_destroy(call);

    /* transport errors */

    call = call_new(&s);
    spiffe_grpc_call_done(call, CURLE_COULDNT_CONNECT);
    assert_int_equal(call->status, SPIFFE_GRPC_UNAVAILABLE);
    assert_true(strncmp(call->message, "cannot connect to /",
                        sizeof("cannot connect to /") - 1)
                == 0);
    spiffe_grpc_call_destroy(call);

    call = call_new(&s);
    call_headers(call, RESPONSE_200, NULL);
    strcpy(call->errbuf, "Recv failure: Connection reset by peer");
    spiffe_grpc_call_done(call, CURLE_RECV_ERROR);
    assert_int_equal(call->status, SPIFFE_GRPC_UNAVAILABLE);
    assert_string_equal(call->message,
                        "Recv failure: Connection reset by peer");
    spiffe_grpc_call_destroy(call);

    /* the reader's refusal wins over everything the server said */

    call = call_new(&s);
    call_headers(call, RESPONSE_200, NULL);
    assert_int_equal(spiffe_grpc_reader_feed(&call->reader,
                                             (const unsigned char *)
                                             "\1\0\0\0\1x", 6, &err), -1);
    call_headers(call, "grpc-status: 0", NULL);
    spiffe_grpc_call_done(call, CURLE_WRITE_ERROR);
    assert_int_equal(call->status, SPIFFE_GRPC_INTERNAL);
    assert_false(call->from_server);
    assert_string_equal(call->message,
                        "compressed message, but no compression was "
                        "negotiated");
    spiffe_grpc_call_destroy(call);

    /* OK, but the body stopped inside a message */

    call = call_new(&s);
    call_headers(call, RESPONSE_200, NULL);
    assert_int_equal(spiffe_grpc_reader_feed(&call->reader,
                                             (const unsigned char *)
                                             "\0\0\0\0\2x", 6, &err), 0);
    call_headers(call, "grpc-status: 0", NULL);
    spiffe_grpc_call_done(call, CURLE_OK);
    assert_int_equal(call->status, SPIFFE_GRPC_INTERNAL);
    assert_string_equal(call->message, "the stream ended inside a message");
    spiffe_grpc_call_destroy(call);

    sink_free(&s);
}


static void
test_grpc_message_decoding(void **state)
{
    char                 big[SPIFFE_GRPC_MESSAGE_MAX * 4];
    sink_t               s;
    spiffe_grpc_call_t  *call;

    (void) state;

    memset(&s, 0, sizeof(s));

    call = call_new(&s);
    call_headers(call, RESPONSE_200, "grpc-status: 14",
                 "grpc-message: caf%C3%a9 100%25 %zz %4 a%0Ab%00c%7F%", NULL);
    spiffe_grpc_call_done(call, CURLE_OK);
    assert_string_equal(call->message,
                        "caf\xc3\xa9 100% %zz %4 a b c %");
    spiffe_grpc_call_destroy(call);

    /* a long message is cut, never overflows */

    memset(big, 'm', sizeof(big));
    memcpy(big, "grpc-message: ", 14);
    big[sizeof(big) - 1] = '\0';

    call = call_new(&s);
    call_headers(call, RESPONSE_200, "grpc-status: 2", big, NULL);
    spiffe_grpc_call_done(call, CURLE_OK);
    assert_int_equal(call->status, SPIFFE_GRPC_UNKNOWN);
    assert_int_equal(strlen(call->grpc_message), SPIFFE_GRPC_MESSAGE_MAX - 1);
    assert_int_equal(strlen(call->message), SPIFFE_GRPC_MESSAGE_MAX - 1);
    spiffe_grpc_call_destroy(call);

    /* headers without a colon, or with odd status lines, are harmless */

    call = call_new(&s);
    call_headers(call, "HTTP/2", "HTTP/2 2", "HTTP/2 abc", "garbage", ":",
                 "", NULL);
    assert_int_equal(call->http_status, 0);
    spiffe_grpc_call_done(call, CURLE_OK);
    assert_int_equal(call->status, SPIFFE_GRPC_UNKNOWN);
    spiffe_grpc_call_destroy(call);

    sink_free(&s);
}


static void
test_call_create_errors(void **state)
{
    const char               *err;
    spiffe_grpc_addr_t        addr;
    spiffe_grpc_call_conf_t   conf;

    (void) state;

    assert_int_equal(spiffe_workload_parse_address("unix:/x", 7, &addr, &err),
                     0);

    memset(&conf, 0, sizeof(conf));
    conf.addr = &addr;
    conf.on_message = sink_message;

    conf.method = "";
    assert_null(spiffe_grpc_call_create(&conf, &err));
    assert_string_equal(err, "bad gRPC method name");

    conf.method = "Fetch/X509SVID";
    assert_null(spiffe_grpc_call_create(&conf, &err));
    assert_string_equal(err, "bad gRPC method name");

    conf.method = "FetchX509SVID";
    conf.request_len = SPIFFE_GRPC_MAX_MSG + 1;
    assert_null(spiffe_grpc_call_create(&conf, &err));
    assert_string_equal(err, "request is larger than 4 MiB");

    addr.type = 0;
    conf.request_len = 0;
    assert_null(spiffe_grpc_call_create(&conf, &err));
    assert_string_equal(err, "bad Workload API address");
}


/* the call, against a real gRPC server */

typedef struct {
    pid_t               pid;
    char                dir[64];
    char                sock[128];
    spiffe_grpc_addr_t  unix_addr;
    spiffe_grpc_addr_t  tcp_addr;
} server_t;


static int
server_start(void **state)
{
    char         path[256], buf[16];
    FILE        *f;
    server_t    *srv;
    const char  *err;

    srv = calloc(1, sizeof(server_t));
    if (srv == NULL) {
        return -1;
    }

    *state = srv;
    srv->pid = -1;

    strcpy(srv->dir, "/tmp/ngx_spiffe_grpc.XXXXXX");
    if (mkdtemp(srv->dir) == NULL) {
        return 0;
    }

    snprintf(srv->sock, sizeof(srv->sock), "%s/agent.sock", srv->dir);
    snprintf(path, sizeof(path), "%s.port", srv->sock);

    f = test_server_start("SPIFFE_TEST_SERVER", TEST_SERVER, srv->sock, path,
                          &srv->pid);
    if (f == NULL) {
        return 0;
    }

    if (fgets(buf, sizeof(buf), f) == NULL) {
        fclose(f);
        return 0;
    }

    fclose(f);
    buf[strcspn(buf, "\n")] = '\0';

    snprintf(path, sizeof(path), "unix://%s", srv->sock);

    if (spiffe_workload_parse_address(path, strlen(path), &srv->unix_addr,
                                      &err)
        != 0)
    {
        return -1;
    }

    snprintf(path, sizeof(path), "tcp://127.0.0.1:%s", buf);

    if (spiffe_workload_parse_address(path, strlen(path), &srv->tcp_addr,
                                      &err)
        != 0)
    {
        return -1;
    }

    return 0;
}


static int
server_stop(void **state)
{
    char       path[256];
    server_t  *srv = *state;

    if (srv->pid > 0) {
        kill(srv->pid, SIGTERM);
        waitpid(srv->pid, NULL, 0);
    }

    if (srv->dir[0] != '\0') {
        snprintf(path, sizeof(path), "%s.port", srv->sock);
        unlink(path);
        unlink(srv->sock);
        rmdir(srv->dir);
    }

    free(srv);

    return 0;
}


static server_t *
server_get(void **state)
{
    server_t  *srv = *state;

    if (srv->pid <= 0 || srv->unix_addr.type == 0) {
        skip();
    }

    return srv;
}


/* runs one call to its end as the nginx glue would, on a multi handle */

static void
call_run(const spiffe_grpc_addr_t *addr, const char *method,
    const unsigned char *req, size_t req_len, sink_t *s,
    spiffe_grpc_call_t **out)
{
    int                       running, left, rounds;
    CURLM                    *multi;
    CURLMsg                  *msg;
    CURLcode                  rc;
    const char               *err;
    spiffe_grpc_call_t       *call;
    spiffe_grpc_call_conf_t   conf;

    memset(&conf, 0, sizeof(conf));
    conf.addr = addr;
    conf.method = method;
    conf.request = req;
    conf.request_len = req_len;
    conf.on_message = sink_message;
    conf.data = s;

    call = spiffe_grpc_call_create(&conf, &err);
    assert_non_null(call);

    multi = curl_multi_init();
    assert_non_null(multi);
    assert_int_equal(curl_multi_add_handle(multi, call->easy), CURLM_OK);

    for (rounds = 0; rounds < 3000; rounds++) {
        assert_int_equal(curl_multi_perform(multi, &running), CURLM_OK);

        if (running == 0) {
            break;
        }

        assert_int_equal(curl_multi_poll(multi, NULL, 0, 100, NULL),
                         CURLM_OK);
    }

    assert_int_equal(running, 0);

    msg = curl_multi_info_read(multi, &left);
    assert_non_null(msg);
    assert_int_equal(msg->msg, CURLMSG_DONE);
    assert_ptr_equal(msg->easy_handle, call->easy);
    rc = msg->data.result;

    curl_multi_remove_handle(multi, call->easy);
    curl_multi_cleanup(multi);

    spiffe_grpc_call_done(call, rc);

    *out = call;
}


static void
test_call_stream(void **state)
{
    size_t               i;
    sink_t               s;
    server_t            *srv;
    spiffe_grpc_call_t  *call;

    srv = server_get(state);

    memset(&s, 0, sizeof(s));

    call_run(&srv->unix_addr, "FetchX509SVID", NULL, 0, &s, &call);

    /* grpc-status 0 arrives only in the trailers, after the body */

    assert_int_equal(call->http_status, 200);
    assert_int_equal(call->status, SPIFFE_GRPC_OK);
    assert_true(call->from_server);
    assert_string_equal(call->message, "");

    assert_int_equal(s.n, 4);
    assert_int_equal(s.lens[0], 0);
    assert_int_equal(s.lens[1], 5);
    assert_int_equal(s.lens[2], 256 * 400);
    assert_int_equal(s.lens[3], SPIFFE_GRPC_MAX_MSG);
    assert_memory_equal(s.data, "abcde", 5);

    for (i = 0; i < 256 * 400; i++) {
        if (s.data[5 + i] != (unsigned char) i) {
            fail_msg("byte %zu of the third message differs", i);
        }
    }

    assert_int_equal(s.data[s.len - 1], 'M');

    spiffe_grpc_call_destroy(call);
    sink_free(&s);
}


static void
test_call_trailers_only(void **state)
{
    sink_t               s;
    server_t            *srv;
    spiffe_grpc_call_t  *call;

    srv = server_get(state);

    memset(&s, 0, sizeof(s));

    call_run(&srv->unix_addr, "FetchX509Bundles", NULL, 0, &s, &call);
    assert_int_equal(call->status, SPIFFE_GRPC_PERMISSION_DENIED);
    assert_true(call->from_server);
    assert_string_equal(call->message, "no identity issued");
    assert_int_equal(s.n, 0);
    spiffe_grpc_call_destroy(call);

    /* the same over TCP */

    call_run(&srv->tcp_addr, "FetchX509Bundles", NULL, 0, &s, &call);
    assert_int_equal(call->status, SPIFFE_GRPC_PERMISSION_DENIED);
    assert_string_equal(call->message, "no identity issued");
    spiffe_grpc_call_destroy(call);

    sink_free(&s);
}


static void
test_call_error_after_message(void **state)
{
    sink_t               s;
    server_t            *srv;
    spiffe_grpc_call_t  *call;

    srv = server_get(state);

    memset(&s, 0, sizeof(s));

    call_run(&srv->unix_addr, "FetchJWTBundles", NULL, 0, &s, &call);
    assert_int_equal(call->status, SPIFFE_GRPC_UNAVAILABLE);
    assert_true(call->from_server);
    assert_string_equal(call->message, "bye \xc3\xa9 100% next line");
    assert_int_equal(s.n, 1);
    assert_memory_equal(s.data, "one", 3);
    spiffe_grpc_call_destroy(call);

    sink_free(&s);
}


static void
test_call_unary_echo(void **state)
{
    size_t               len;
    sink_t               s;
    server_t            *srv;
    unsigned char       *req;
    spiffe_bytes_t       aud;
    spiffe_grpc_call_t  *call;

    srv = server_get(state);

    memset(&s, 0, sizeof(s));

    aud.data = (const unsigned char *) "spiffe://example.org/api";
    aud.len = strlen("spiffe://example.org/api");

    assert_int_equal(spiffe_pb_encode_jwt_svid_req(&aud, 1, NULL, &req, &len),
                     0);

    call_run(&srv->tcp_addr, "FetchJWTSVID", req, len, &s, &call);
    assert_int_equal(call->status, SPIFFE_GRPC_OK);
    assert_int_equal(s.n, 1);
    assert_int_equal(s.len, len);
    assert_memory_equal(s.data, req, len);

    spiffe_grpc_call_destroy(call);
    free(req);
    sink_free(&s);
}


static void
test_call_refusals(void **state)
{
    sink_t               s;
    server_t            *srv;
    spiffe_grpc_call_t  *call;
    spiffe_grpc_addr_t   nowhere;
    const char          *err;

    srv = server_get(state);

    memset(&s, 0, sizeof(s));

    /* over the cap */

    call_run(&srv->unix_addr, "ValidateJWTSVID", NULL, 0, &s, &call);
    assert_int_equal(call->status, SPIFFE_GRPC_RESOURCE_EXHAUSTED);
    assert_false(call->from_server);
    assert_string_equal(call->message, "message larger than the limit");
    assert_int_equal(s.n, 0);
    spiffe_grpc_call_destroy(call);

    /* the handler stops the stream at the second message */

    s.fail_at = 2;
    call_run(&srv->unix_addr, "FetchX509SVID", NULL, 0, &s, &call);
    assert_int_equal(call->status, SPIFFE_GRPC_CANCELLED);
    assert_string_equal(call->message, "the message handler failed");
    assert_int_equal(s.n, 2);
    spiffe_grpc_call_destroy(call);
    sink_free(&s);

    /*
     * No such method. The server may answer and close the stream before
     * libcurl 7.88 has sent the request body (it happens under valgrind);
     * libcurl then fails the transfer and drops the answer.
     */

    call_run(&srv->unix_addr, "FetchNothing", NULL, 0, &s, &call);

    if (call->from_server) {
        assert_int_equal(call->status, SPIFFE_GRPC_UNIMPLEMENTED);

    } else {
        assert_int_equal(call->status, SPIFFE_GRPC_UNAVAILABLE);
        assert_int_equal(call->http_status, 0);
    }

    spiffe_grpc_call_destroy(call);

    /* no server */

    assert_int_equal(spiffe_workload_parse_address(
                         "unix:///nonexistent/a.sock", 26, &nowhere, &err),
                     0);
    call_run(&nowhere, "FetchX509SVID", NULL, 0, &s, &call);
    assert_int_equal(call->status, SPIFFE_GRPC_UNAVAILABLE);
    assert_false(call->from_server);
    assert_true(strlen(call->message) > 0);
    spiffe_grpc_call_destroy(call);

    sink_free(&s);
}


int
main(void)
{
    int  rc;

    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_frame),
        cmocka_unit_test(test_reader_bytewise),
        cmocka_unit_test(test_reader_random_splits),
        cmocka_unit_test(test_reader_one_chunk),
        cmocka_unit_test(test_reader_cleanses),
        cmocka_unit_test(test_reader_cap),
        cmocka_unit_test(test_reader_flags),
        cmocka_unit_test(test_reader_handler_fails),
        cmocka_unit_test(test_status_names),
        cmocka_unit_test(test_outcome),
        cmocka_unit_test(test_grpc_message_decoding),
        cmocka_unit_test(test_call_create_errors),
    };

    const struct CMUnitTest  calls[] = {
        cmocka_unit_test(test_call_stream),
        cmocka_unit_test(test_call_trailers_only),
        cmocka_unit_test(test_call_error_after_message),
        cmocka_unit_test(test_call_unary_echo),
        cmocka_unit_test(test_call_refusals),
    };

    curl_global_init(CURL_GLOBAL_DEFAULT);

    rc = cmocka_run_group_tests(tests, NULL, NULL);
    rc |= cmocka_run_group_tests_name("calls", calls, server_start,
                                      server_stop);

    curl_global_cleanup();

    return rc;
}
