/*
 * Copyright (C) ngx_spiffe developers
 */


/*
 * The response of a gRPC call: header and trailer lines and a body on a
 * call from spiffe_grpc_call_create() (an easy handle that never
 * connects), then spiffe_grpc_call_done().  The input is FLAGS(1)
 * BODY_LEN(2) LINES.  FLAGS picks the CURLcode the transfer ends with
 * (bits 0-2) and the message limit (bit 3: 4096, else the default).
 * LINES are split after each "\n" and passed to spiffe_grpc_call_header()
 * as libcurl passes them, each copied to a buffer of its own size (an
 * overread shows); after the first empty line, BODY_LEN (big-endian) of
 * what follows is the body, fed to the call's reader as its write
 * callback would, and the rest are trailers.  The outcome must be a gRPC
 * code with messages NUL-terminated and free of control characters, and
 * OK only when the server said 0 on a 200 application/grpc stream that
 * did not stop inside a message.
 */

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include <spiffe_grpc.h>

#include "fuzz.h"


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
fuzz_grpc_call(const uint8_t *data, size_t size)
{
    int                        headers;
    size_t                     body_len, len;
    CURLcode                   rc;
    const char                *err;
    const uint8_t             *p, *end, *nl;
    fuzz_grpc_sink_t           sink;
    spiffe_grpc_call_t        *call;
    spiffe_grpc_call_conf_t    conf;

    static spiffe_grpc_addr_t  addr = {
        SPIFFE_GRPC_ADDR_UNIX, 0, "/nonexistent/ngx_spiffe_fuzz.sock", "", 0
    };

    if (size < 3) {
        return;
    }

    rc = fuzz_codes[data[0] & 7];
    body_len = (size_t) data[1] << 8 | data[2];

    memset(&sink, 0, sizeof(fuzz_grpc_sink_t));
    memset(&conf, 0, sizeof(conf));

    conf.addr = &addr;
    conf.method = "FetchX509SVID";
    conf.max_message = (data[0] & 8) ? FUZZ_GRPC_SMALL_MAX : 0;
    conf.on_message = fuzz_grpc_message;
    conf.data = &sink;

    sink.max = conf.max_message ? conf.max_message : SPIFFE_GRPC_MAX_MSG;

    call = spiffe_grpc_call_create(&conf, &err);
    FUZZ_CHECK(call != NULL);

    p = data + 3;
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
            fuzz_grpc_feed(&call->reader, p, len);
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


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_run_curl(fuzz_grpc_call, data, size);
}
