/*
 * Copyright (C) ngx_spiffe developers
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <openssl/crypto.h>

#include <spiffe_grpc.h>


/* a reassembly buffer larger than this is not kept between messages */
#define SPIFFE_GRPC_KEEP_BUF  (64 * 1024)


static int spiffe_grpc_reader_start(spiffe_grpc_reader_t *r);
static int spiffe_grpc_reader_deliver(spiffe_grpc_reader_t *r,
    const unsigned char *msg, size_t len);
static int spiffe_grpc_reader_fail(spiffe_grpc_reader_t *r, int status,
    const char *reason);
static size_t spiffe_grpc_call_write(char *ptr, size_t size, size_t nmemb,
    void *userdata);
static size_t spiffe_grpc_call_header_cb(char *ptr, size_t size,
    size_t nmemb, void *userdata);
static int spiffe_grpc_call_setup(spiffe_grpc_call_t *call,
    const spiffe_grpc_call_conf_t *conf, const char *url, size_t body_len);
static int spiffe_grpc_header_is(const char *name, size_t len,
    const char *expect);
static void spiffe_grpc_message_decode(const char *s, size_t len, char *dst,
    size_t size);
static int spiffe_grpc_from_http(long http_status);


/* "Expect:" and "Accept:" remove the headers libcurl would add */

static const char  *const spiffe_grpc_headers[] = {
    "content-type: application/grpc",
    "te: trailers",
    "workload.spiffe.io: true",
    "Expect:",
    "Accept:",
    NULL
};


static const char  *const spiffe_grpc_status_names[] = {
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED"
};


const char *
spiffe_grpc_status_name(int status)
{
    if (status < 0 || status > SPIFFE_GRPC_UNAUTHENTICATED) {
        return "UNKNOWN";
    }

    return spiffe_grpc_status_names[status];
}


int
spiffe_grpc_prefix(const char *s, size_t len, const char *prefix)
{
    char    ch;
    size_t  i, n;

    n = strlen(prefix);

    if (len < n) {
        return 0;
    }

    for (i = 0; i < n; i++) {
        ch = s[i];

        if (ch >= 'A' && ch <= 'Z') {
            ch |= 0x20;
        }

        if (ch != prefix[i]) {
            return 0;
        }
    }

    return 1;
}


int
spiffe_grpc_hex(unsigned char ch)
{
    if (ch >= '0' && ch <= '9') {
        return ch - '0';
    }

    ch |= 0x20;

    if (ch >= 'a' && ch <= 'f') {
        return ch - 'a' + 10;
    }

    return -1;
}


int
spiffe_grpc_frame(const unsigned char *msg, size_t len, unsigned char *out,
    const char **err)
{
    if (len > SPIFFE_GRPC_MAX_MSG) {
        *err = "message is larger than 4 MiB";
        return -1;
    }

    out[0] = 0;
    out[1] = (unsigned char) (len >> 24);
    out[2] = (unsigned char) (len >> 16);
    out[3] = (unsigned char) (len >> 8);
    out[4] = (unsigned char) len;

    if (len > 0) {
        memcpy(out + SPIFFE_GRPC_PREFIX_LEN, msg, len);
    }

    return 0;
}


void
spiffe_grpc_reader_init(spiffe_grpc_reader_t *r, size_t max,
    spiffe_grpc_message_pt handler, void *data)
{
    memset(r, 0, sizeof(*r));

    r->handler = handler;
    r->data = data;
    r->max = (max > 0) ? max : SPIFFE_GRPC_MAX_MSG;
}


int
spiffe_grpc_reader_feed(spiffe_grpc_reader_t *r, const unsigned char *p,
    size_t len, const char **err)
{
    size_t  n;
    void   *buf;

    if (r->status != 0) {
        *err = r->err;
        return -1;
    }

    while (len > 0) {

        if (r->nprefix < SPIFFE_GRPC_PREFIX_LEN) {
            n = SPIFFE_GRPC_PREFIX_LEN - r->nprefix;
            n = (n < len) ? n : len;

            memcpy(r->prefix + r->nprefix, p, n);
            r->nprefix += n;
            p += n;
            len -= n;

            if (r->nprefix < SPIFFE_GRPC_PREFIX_LEN) {
                break;
            }

            if (spiffe_grpc_reader_start(r) != 0) {
                *err = r->err;
                return -1;
            }

            if (r->need == 0
                && spiffe_grpc_reader_deliver(r, r->prefix, 0) != 0)
            {
                *err = r->err;
                return -1;
            }

            continue;
        }

        /* a whole message in the chunk is passed without copying */

        if (r->have == 0 && len >= r->need) {
            n = r->need;

            if (spiffe_grpc_reader_deliver(r, p, n) != 0) {
                *err = r->err;
                return -1;
            }

            p += n;
            len -= n;
            continue;
        }

        /* not realloc(): the old buffer is wiped before it is freed */

        if (r->size < r->need) {
            spiffe_grpc_reader_free(r);

            buf = malloc(r->need);
            if (buf == NULL) {
                spiffe_grpc_reader_fail(r, SPIFFE_GRPC_RESOURCE_EXHAUSTED,
                                        "out of memory");
                *err = r->err;
                return -1;
            }

            r->buf = buf;
            r->size = r->need;
        }

        n = r->need - r->have;
        n = (n < len) ? n : len;

        memcpy(r->buf + r->have, p, n);
        r->have += n;
        p += n;
        len -= n;

        if (r->have == r->need
            && spiffe_grpc_reader_deliver(r, r->buf, r->need) != 0)
        {
            *err = r->err;
            return -1;
        }
    }

    return 0;
}


int
spiffe_grpc_reader_partial(const spiffe_grpc_reader_t *r)
{
    return r->nprefix > 0;
}


/* a message may hold a private key: wiped before the memory goes back */

void
spiffe_grpc_reader_free(spiffe_grpc_reader_t *r)
{
    if (r->buf != NULL) {
        OPENSSL_cleanse(r->buf, r->size);
    }

    free(r->buf);
    r->buf = NULL;
    r->size = 0;
}


static int
spiffe_grpc_reader_start(spiffe_grpc_reader_t *r)
{
    size_t  len;

    /* we send no grpc-accept-encoding, so nothing may come compressed */

    if (r->prefix[0] == 1) {
        return spiffe_grpc_reader_fail(r, SPIFFE_GRPC_INTERNAL,
                                       "compressed message, but no "
                                       "compression was negotiated");
    }

    if (r->prefix[0] != 0) {
        return spiffe_grpc_reader_fail(r, SPIFFE_GRPC_INTERNAL,
                                       "bad message flags");
    }

    len = (size_t) r->prefix[1] << 24 | (size_t) r->prefix[2] << 16
          | (size_t) r->prefix[3] << 8 | (size_t) r->prefix[4];

    if (len > r->max) {
        return spiffe_grpc_reader_fail(r, SPIFFE_GRPC_RESOURCE_EXHAUSTED,
                                       "message larger than the limit");
    }

    r->need = len;
    r->have = 0;

    return 0;
}


static int
spiffe_grpc_reader_deliver(spiffe_grpc_reader_t *r, const unsigned char *msg,
    size_t len)
{
    int  rc;

    r->nprefix = 0;
    r->need = 0;
    r->have = 0;
    r->nmessages++;

    rc = r->handler(r->data, msg, len);

    if (msg == r->buf) {
        OPENSSL_cleanse(r->buf, len);
    }

    if (rc != 0) {
        return spiffe_grpc_reader_fail(r, SPIFFE_GRPC_CANCELLED,
                                       "the message handler failed");
    }

    if (r->size > SPIFFE_GRPC_KEEP_BUF) {
        spiffe_grpc_reader_free(r);
    }

    return 0;
}


static int
spiffe_grpc_reader_fail(spiffe_grpc_reader_t *r, int status,
    const char *reason)
{
    r->status = status;
    r->err = reason;

    spiffe_grpc_reader_free(r);

    return -1;
}


spiffe_grpc_call_t *
spiffe_grpc_call_create(const spiffe_grpc_call_conf_t *conf, const char **err)
{
    char                 url[sizeof("http://[]:65535/SpiffeWorkloadAPI/")
                             + SPIFFE_GRPC_IP_MAX + 64];
    size_t               i, n;
    const char          *m;
    spiffe_grpc_call_t  *call;

    m = conf->method;
    n = strlen(m);

    if (n == 0 || n > 64) {
        *err = "bad gRPC method name";
        return NULL;
    }

    for (i = 0; i < n; i++) {
        if (!((m[i] >= 'a' && m[i] <= 'z') || (m[i] >= 'A' && m[i] <= 'Z')
              || (m[i] >= '0' && m[i] <= '9') || m[i] == '_'))
        {
            *err = "bad gRPC method name";
            return NULL;
        }
    }

    if (conf->request_len > SPIFFE_GRPC_MAX_MSG) {
        *err = "request is larger than 4 MiB";
        return NULL;
    }

    switch (conf->addr->type) {

    case SPIFFE_GRPC_ADDR_UNIX:
        snprintf(url, sizeof(url), "http://localhost/SpiffeWorkloadAPI/%s", m);
        break;

    case SPIFFE_GRPC_ADDR_TCP:
        snprintf(url, sizeof(url),
                 (conf->addr->family == AF_INET6)
                 ? "http://[%s]:%u/SpiffeWorkloadAPI/%s"
                 : "http://%s:%u/SpiffeWorkloadAPI/%s",
                 conf->addr->ip, conf->addr->port, m);
        break;

    default:
        *err = "bad Workload API address";
        return NULL;
    }

    call = calloc(1, sizeof(spiffe_grpc_call_t));
    if (call == NULL) {
        *err = "out of memory";
        return NULL;
    }

    call->addr = conf->addr;

    call->grpc_status = -1;
    call->status = SPIFFE_GRPC_UNKNOWN;

    spiffe_grpc_reader_init(&call->reader, conf->max_message,
                            conf->on_message, conf->data);

    call->body = malloc(SPIFFE_GRPC_PREFIX_LEN + conf->request_len);
    if (call->body == NULL) {
        *err = "out of memory";
        goto failed;
    }

    if (spiffe_grpc_frame(conf->request, conf->request_len, call->body, err)
        != 0)
    {
        goto failed;
    }

    call->easy = curl_easy_init();
    if (call->easy == NULL) {
        *err = "curl_easy_init() failed";
        goto failed;
    }

    if (spiffe_grpc_call_setup(call, conf, url,
                               SPIFFE_GRPC_PREFIX_LEN + conf->request_len)
        != 0)
    {
        *err = "cannot set up the libcurl handle";
        goto failed;
    }

    return call;

failed:

    spiffe_grpc_call_destroy(call);

    return NULL;
}


static int
spiffe_grpc_call_setup(spiffe_grpc_call_t *call,
    const spiffe_grpc_call_conf_t *conf, const char *url, size_t body_len)
{
    CURL                *e;
    unsigned             failed;
    const char  *const  *hp;
    struct curl_slist   *h;

    for (hp = spiffe_grpc_headers; *hp != NULL; hp++) {
        h = curl_slist_append(call->headers, *hp);
        if (h == NULL) {
            return -1;
        }

        call->headers = h;
    }

    e = call->easy;
    failed = 0;

    failed |= curl_easy_setopt(e, CURLOPT_URL, url) != CURLE_OK;

    /* a *_proxy variable in the environment must not divert the stream */

    failed |= curl_easy_setopt(e, CURLOPT_PROXY, "") != CURLE_OK;
#if LIBCURL_VERSION_NUM >= 0x075500
    failed |= curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http") != CURLE_OK;
#else
    failed |= curl_easy_setopt(e, CURLOPT_PROTOCOLS, (long) CURLPROTO_HTTP)
              != CURLE_OK;
#endif
    failed |= curl_easy_setopt(e, CURLOPT_HTTP_VERSION,
                               (long) CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE)
              != CURLE_OK;

    if (conf->addr->type == SPIFFE_GRPC_ADDR_UNIX) {
        failed |= curl_easy_setopt(e, CURLOPT_UNIX_SOCKET_PATH,
                                   conf->addr->path)
                  != CURLE_OK;

    } else {
        failed |= curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L) != CURLE_OK;
    }

    failed |= curl_easy_setopt(e, CURLOPT_POST, 1L) != CURLE_OK;
    failed |= curl_easy_setopt(e, CURLOPT_POSTFIELDS, call->body) != CURLE_OK;
    failed |= curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
                               (curl_off_t) body_len)
              != CURLE_OK;
    failed |= curl_easy_setopt(e, CURLOPT_HTTPHEADER, call->headers)
              != CURLE_OK;
    failed |= curl_easy_setopt(e, CURLOPT_USERAGENT, SPIFFE_GRPC_USER_AGENT)
              != CURLE_OK;
    failed |= curl_easy_setopt(e, CURLOPT_WRITEFUNCTION,
                               spiffe_grpc_call_write)
              != CURLE_OK;
    failed |= curl_easy_setopt(e, CURLOPT_WRITEDATA, call) != CURLE_OK;
    failed |= curl_easy_setopt(e, CURLOPT_HEADERFUNCTION,
                               spiffe_grpc_call_header_cb)
              != CURLE_OK;
    failed |= curl_easy_setopt(e, CURLOPT_HEADERDATA, call) != CURLE_OK;
    failed |= curl_easy_setopt(e, CURLOPT_ERRORBUFFER, call->errbuf)
              != CURLE_OK;
    failed |= curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L) != CURLE_OK;

    /*
     * libcurl 7.88 fails a call on a reused HTTP/2 prior-knowledge
     * connection, and with its 16 KiB buffer may keep a message it has
     * read until its next timeout: a connection per call, read in big
     * chunks (calls are few and long-lived)
     */

    failed |= curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L) != CURLE_OK;
    failed |= curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L) != CURLE_OK;
    failed |= curl_easy_setopt(e, CURLOPT_BUFFERSIZE,
                               (long) SPIFFE_GRPC_BUFFER_SIZE)
              != CURLE_OK;

    /* only the connection is timed: a Fetch stream lives for hours */

    failed |= curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
                               (long) SPIFFE_GRPC_CONNECT_TIMEOUT)
              != CURLE_OK;

    return failed ? -1 : 0;
}


void
spiffe_grpc_call_destroy(spiffe_grpc_call_t *call)
{
    if (call == NULL) {
        return;
    }

    if (call->easy != NULL) {
        curl_easy_cleanup(call->easy);
    }

    curl_slist_free_all(call->headers);
    free(call->body);
    spiffe_grpc_reader_free(&call->reader);
    free(call);
}


static size_t
spiffe_grpc_call_write(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    size_t               len;
    const char          *err;
    spiffe_grpc_call_t  *call;

    call = userdata;
    len = size * nmemb;

    /* the body of an HTTP error (say, from a proxy) is not gRPC */

    if (call->http_status != 200 || !call->content_grpc) {
        return len;
    }

    /* anything but len makes libcurl stop with CURLE_WRITE_ERROR */

    if (spiffe_grpc_reader_feed(&call->reader, (const unsigned char *) ptr,
                                len, &err)
        != 0)
    {
        return 0;
    }

    return len;
}


static size_t
spiffe_grpc_call_header_cb(char *ptr, size_t size, size_t nmemb,
    void *userdata)
{
    spiffe_grpc_call_header(userdata, ptr, size * nmemb);

    return size * nmemb;
}


/*
 * libcurl passes the response headers, then, after the body, each trailer
 * the same way (checked with libcurl 7.88 and nghttp2 1.52); a
 * trailers-only response carries grpc-status among the headers.
 */

void
spiffe_grpc_call_header(spiffe_grpc_call_t *call, const char *line,
    size_t len)
{
    int          code;
    size_t       n;
    const char  *p, *end, *colon, *v;

    end = line + len;

    while (end > line
           && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '
               || end[-1] == '\t'))
    {
        end--;
    }

    if (end - line >= 5 && memcmp(line, "HTTP/", 5) == 0) {

        /* a new response, after an interim one perhaps */

        call->http_status = 0;
        call->grpc_status = -1;
        call->content_grpc = 0;
        call->grpc_message[0] = '\0';

        p = memchr(line, ' ', end - line);
        if (p == NULL || end - p < 4) {
            return;
        }

        p++;

        if (p[0] < '1' || p[0] > '5' || p[1] < '0' || p[1] > '9'
            || p[2] < '0' || p[2] > '9' || (end - p > 3 && p[3] != ' '))
        {
            return;
        }

        call->http_status = (p[0] - '0') * 100 + (p[1] - '0') * 10
                            + (p[2] - '0');
        return;
    }

    colon = memchr(line, ':', end - line);
    if (colon == NULL) {
        return;
    }

    for (v = colon + 1; v < end && (*v == ' ' || *v == '\t'); v++) {
        /* void */
    }

    n = colon - line;

    if (spiffe_grpc_header_is(line, n, "grpc-status")) {

        code = 0;

        for (p = v; p < end && p - v < 4; p++) {
            if (*p < '0' || *p > '9') {
                break;
            }

            code = code * 10 + (*p - '0');
        }

        call->grpc_status = (p == v || p != end) ? -2 : code;

    } else if (spiffe_grpc_header_is(line, n, "grpc-message")) {
        spiffe_grpc_message_decode(v, end - v, call->grpc_message,
                                   sizeof(call->grpc_message));

    } else if (spiffe_grpc_header_is(line, n, "content-type")) {
        n = sizeof("application/grpc") - 1;

        call->content_grpc = (end - v >= (ptrdiff_t) n
                              && spiffe_grpc_prefix(v, n, "application/grpc")
                              && (end - v == (ptrdiff_t) n
                                  || v[n] == '+' || v[n] == ';'));
    }
}


void
spiffe_grpc_call_done(spiffe_grpc_call_t *call, CURLcode rc)
{
    int          st;
    long         oserr;
    const char  *msg;

    call->from_server = 0;
    msg = call->grpc_message;

    if (call->reader.status != 0) {
        st = call->reader.status;
        msg = call->reader.err;

    } else if (call->grpc_status >= 0 && call->http_status == 200
               && call->content_grpc)
    {
        /* the status is final, even if the connection broke after it */

        st = call->grpc_status;
        call->from_server = 1;

        if (st > SPIFFE_GRPC_UNAUTHENTICATED) {
            snprintf(call->message, sizeof(call->message),
                     "unknown grpc-status %d: %.400s", st, call->grpc_message);
            call->status = SPIFFE_GRPC_UNKNOWN;
            return;
        }

        if (st == SPIFFE_GRPC_OK && spiffe_grpc_reader_partial(&call->reader))
        {
            st = SPIFFE_GRPC_INTERNAL;
            msg = "the stream ended inside a message";
            call->from_server = 0;
        }

    } else if (rc == CURLE_COULDNT_CONNECT
               && call->addr->type == SPIFFE_GRPC_ADDR_UNIX)
    {
        /* libcurl would name "localhost port 80" */
        st = SPIFFE_GRPC_UNAVAILABLE;
        snprintf(call->message, sizeof(call->message),
                 "cannot connect to %s: %s", call->addr->path,
                 curl_easy_getinfo(call->easy, CURLINFO_OS_ERRNO, &oserr)
                 == CURLE_OK && oserr ? strerror((int) oserr)
                                      : "connection refused");
        call->status = st;
        return;

    } else if (rc != CURLE_OK) {
        st = SPIFFE_GRPC_UNAVAILABLE;
        msg = (call->errbuf[0] != '\0') ? call->errbuf
                                        : curl_easy_strerror(rc);

    } else if (call->http_status != 200) {
        st = spiffe_grpc_from_http(call->http_status);

        snprintf(call->message, sizeof(call->message),
                 "HTTP status %ld%s%.400s", call->http_status,
                 call->grpc_message[0] ? ": " : "", call->grpc_message);
        call->status = st;
        return;

    } else if (!call->content_grpc) {
        st = SPIFFE_GRPC_UNKNOWN;
        msg = "the response is not application/grpc";

    } else if (call->grpc_status == -2) {
        st = SPIFFE_GRPC_INTERNAL;
        msg = "malformed grpc-status";

    } else {
        st = SPIFFE_GRPC_INTERNAL;
        msg = "the stream ended without grpc-status";
    }

    call->status = st;
    snprintf(call->message, sizeof(call->message), "%s", msg);
}


static int
spiffe_grpc_header_is(const char *name, size_t len, const char *expect)
{
    return strlen(expect) == len && spiffe_grpc_prefix(name, len, expect);
}


/*
 * grpc-message is percent-encoded; a bad escape is kept as it is, as the
 * gRPC spec asks. Control characters become spaces: the text is logged.
 */

static void
spiffe_grpc_message_decode(const char *s, size_t len, char *dst, size_t size)
{
    int            hi, lo;
    size_t         i, n;
    unsigned char  ch;

    for (i = 0, n = 0; i < len && n < size - 1; n++) {
        ch = s[i];

        if (ch == '%' && len - i >= 3) {
            hi = spiffe_grpc_hex(s[i + 1]);
            lo = spiffe_grpc_hex(s[i + 2]);

            if (hi >= 0 && lo >= 0) {
                ch = (unsigned char) (hi << 4 | lo);
                i += 2;
            }
        }

        i++;

        dst[n] = (ch < 0x20 || ch == 0x7f) ? ' ' : (char) ch;
    }

    dst[n] = '\0';
}


/* gRPC's doc/http-grpc-status-mapping.md */

static int
spiffe_grpc_from_http(long http_status)
{
    switch (http_status) {

    case 400:
        return SPIFFE_GRPC_INTERNAL;

    case 401:
        return SPIFFE_GRPC_UNAUTHENTICATED;

    case 403:
        return SPIFFE_GRPC_PERMISSION_DENIED;

    case 404:
        return SPIFFE_GRPC_UNIMPLEMENTED;

    case 429:
    case 502:
    case 503:
    case 504:
        return SPIFFE_GRPC_UNAVAILABLE;

    default:
        return SPIFFE_GRPC_UNKNOWN;
    }
}
