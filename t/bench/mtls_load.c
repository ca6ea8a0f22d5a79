/*
 * mtls_load: a small mTLS HTTP/1.1 load client for the ngx_spiffe benchmarks.
 *
 * One thread, non-blocking sockets, epoll (level-triggered), OpenSSL 3.
 * N concurrent connections present a client certificate; each either makes
 * one request per connection (--new: a full handshake every time, never a
 * resumed session) or keeps its connection and sends requests on it one
 * after another (--keepalive).  Prints one machine-readable line:
 *
 *   RESULT key=value key=value ...
 *
 * Build:
 *   cc -O2 -Wall -Wextra -o build/bench/mtls_load t/bench/mtls_load.c \
 *      -lssl -lcrypto
 *
 * Run "mtls_load --help" for the options; t/bench/README.md explains what
 * the numbers mean.
 */

#define _GNU_SOURCE

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>


#define NS_PER_S        1000000000ULL
#define NS_PER_MS       1000000ULL

#define MAX_EVENTS      256
#define MAX_RESPONSE    (4 * 1024 * 1024)
#define MAX_HEADER      (64 * 1024)
#define SCAN_INTERVAL   (10 * NS_PER_MS)
#define CONNECT_BACKOFF (10 * NS_PER_MS)
#define MAX_REPORTS     3


/* latency histogram, microseconds: 32 sub-buckets per power of two (~3%) */

#define HIST_SUB_BITS   5
#define HIST_SUB        (1U << HIST_SUB_BITS)
#define HIST_BUCKETS    (HIST_SUB + (64 - HIST_SUB_BITS) * HIST_SUB)


enum {
    F_CONNECT,
    F_HANDSHAKE,
    F_IO,
    F_STATUS,
    F_BODY,
    F_TIMEOUT,
    F_KINDS
};

static const char *fail_names[F_KINDS] = {
    "connect", "handshake", "io", "status", "body", "timeout"
};


enum {
    ST_IDLE,            /* nothing to do (stopping) */
    ST_READY,           /* in the ready queue: start at once */
    ST_QUEUED,          /* in the rate queue: start at the next slot */
    ST_BACKOFF,         /* waiting until t_wake after a connect error */
    ST_CONNECTING,
    ST_HANDSHAKE,
    ST_WRITING,
    ST_READING
};


typedef struct {
    int             fd;
    SSL            *ssl;
    int             state;
    uint32_t        events;     /* registered with epoll; 0: not added */

    uint64_t        t_origin;   /* latency is measured from here */
    uint64_t        t_op;       /* the request (or connection) began */
    uint64_t        t_wake;     /* ST_BACKOFF */

    size_t          wpos;       /* request bytes written */

    char           *buf;        /* response */
    size_t          len;
    size_t          cap;
    size_t          hdr_len;    /* 0 until the header is complete */
    long long       clen;       /* Content-Length, -1: read to EOF */
    int             status;
    int             close_after;

    uint64_t        nreq;       /* responses on this connection */
} conn_t;


typedef struct {
    conn_t        **items;
    size_t          cap;
    size_t          head;
    size_t          n;
} queue_t;


typedef struct {
    uint64_t        ok;
    uint64_t        handshakes;
    uint64_t        resumed;
    uint64_t        reconnects;
    uint64_t        fail[F_KINDS];
    uint64_t        hist[HIST_BUCKETS];
    uint64_t        lat_sum_us;
    uint64_t        lat_max_us;
} stats_t;


/* options */

static const char  *opt_host = "127.0.0.1";
static int          opt_port;
static const char  *opt_cert;
static const char  *opt_key;
static const char  *opt_ca;
static const char  *opt_path = "/";
static const char  *opt_host_header;
static int          opt_conns = 10;
static int          opt_new;
static double       opt_duration;
static uint64_t     opt_requests;
static double       opt_warmup;
static int          opt_tls12;
static const char  *opt_groups = "P-256";
static int          opt_expect_status = 200;
static const char  *opt_expect_body;
static uint64_t     opt_timeout_ms = 5000;
static double       opt_rate;
static const char  *opt_serials;
static const char  *opt_label;
static int          opt_quiet;
static long         opt_server_pid;
static int          opt_server_cpu = -1;


/* state */

static SSL_CTX             *ctx;
static int                  ep;
static struct sockaddr_in   addr;
static char                *request;
static size_t               request_len;
static size_t               expect_body_len;
static conn_t              *conns;
static queue_t              readyq;
static queue_t              rateq;

static stats_t              st;
static int                  measuring;
static uint64_t             issued;         /* requests begun in the window */
static int                  stopping;
static uint64_t             t_meas;         /* measurement window start */
static uint64_t             rate_interval;  /* ns between request starts */
static uint64_t             next_slot;
static struct rusage        ru_meas;
static uint64_t             srv_meas_ns;    /* server's CPU time then */
static uint64_t             cpu_meas[2];    /* server CPU: busy, all */

static int                  reports[F_KINDS];

static FILE                *serials_fp;
static unsigned char        last_serial[64];
static int                  last_serial_len = -1;
static char               **seen_serials;
static size_t               nseen;

static char                 proto_seen[32] = "-";
static char                 cipher_seen[64] = "-";
static char                 group_seen[32] = "-";


static uint64_t
now_ns(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);

    return (uint64_t) ts.tv_sec * NS_PER_S + (uint64_t) ts.tv_nsec;
}


static void
die(const char *what)
{
    fprintf(stderr, "mtls_load: %s\n", what);
    ERR_print_errors_fp(stderr);
    exit(2);
}


/* ---------------------------------------------------------------- stats */

static unsigned
hist_index(uint64_t v)
{
    int       msb, shift;

    if (v < HIST_SUB) {
        return (unsigned) v;
    }

    msb = 63 - __builtin_clzll(v);
    shift = msb - HIST_SUB_BITS;

    return HIST_SUB + (unsigned) shift * HIST_SUB
           + (unsigned) ((v >> shift) - HIST_SUB);
}


/* the highest value that falls in bucket i */

static uint64_t
hist_upper(unsigned i)
{
    unsigned  shift, sub;

    if (i < HIST_SUB) {
        return i;
    }

    shift = (i - HIST_SUB) / HIST_SUB;
    sub = (i - HIST_SUB) % HIST_SUB;

    return (((uint64_t) (HIST_SUB + sub)) << shift) + (1ULL << shift) - 1;
}


static uint64_t
hist_quantile(double q)
{
    unsigned  i;
    uint64_t  target, sum, v;

    if (st.ok == 0) {
        return 0;
    }

    target = (uint64_t) (q * (double) st.ok);
    if ((double) target < q * (double) st.ok) {
        target++;
    }

    if (target == 0) {
        target = 1;
    }

    sum = 0;

    for (i = 0; i < HIST_BUCKETS; i++) {
        sum += st.hist[i];

        if (sum >= target) {
            v = hist_upper(i);
            return v < st.lat_max_us ? v : st.lat_max_us;
        }
    }

    return st.lat_max_us;
}


static void
record_latency(uint64_t ns)
{
    uint64_t  us;

    us = (ns + 999) / 1000;

    st.hist[hist_index(us)]++;
    st.lat_sum_us += us;

    if (us > st.lat_max_us) {
        st.lat_max_us = us;
    }
}


static void
report(int kind, const char *fmt, const char *detail)
{
    if (opt_quiet || reports[kind] >= MAX_REPORTS) {
        return;
    }

    reports[kind]++;

    fprintf(stderr, "mtls_load: %s failure: %s%s%s\n", fail_names[kind], fmt,
            detail ? ": " : "", detail ? detail : "");
}


/* requests that ended, well or not, in the measured window */

static uint64_t
ended(void)
{
    int       k;
    uint64_t  n;

    n = st.ok;

    for (k = 0; k < F_KINDS; k++) {
        n += st.fail[k];
    }

    return n;
}


/*
 * Whether the end of a request is counted: in the measured window and,
 * with --requests N, among the first N to end (several may end in one
 * round of events).
 */

static int
counting(void)
{
    return measuring && (opt_requests == 0 || ended() < opt_requests);
}


/* --requests N: stop once N requests have ended */

static void
check_limit(void)
{
    if (opt_requests && ended() >= opt_requests) {
        stopping = 1;
    }
}


/* ---------------------------------------------------------------- queues */

static void
queue_init(queue_t *q, size_t cap)
{
    q->items = calloc(cap, sizeof(conn_t *));
    if (q->items == NULL) {
        die("out of memory");
    }

    q->cap = cap;
    q->head = 0;
    q->n = 0;
}


static void
queue_push(queue_t *q, conn_t *c)
{
    /* a connection is in at most one queue at a time: cap is enough */
    q->items[(q->head + q->n) % q->cap] = c;
    q->n++;
}


static conn_t *
queue_pop(queue_t *q)
{
    conn_t  *c;

    c = q->items[q->head];
    q->head = (q->head + 1) % q->cap;
    q->n--;

    return c;
}


/* ---------------------------------------------------------------- conns */

static void conn_drive(conn_t *c);


static void
conn_events(conn_t *c, uint32_t events)
{
    struct epoll_event  ev;

    if (c->events == events) {
        return;
    }

    memset(&ev, 0, sizeof(ev));
    ev.events = events;
    ev.data.ptr = c;

    if (epoll_ctl(ep, c->events ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, c->fd, &ev)
        != 0)
    {
        die("epoll_ctl() failed");
    }

    c->events = events;
}


static void
conn_reset_response(conn_t *c)
{
    c->len = 0;
    c->hdr_len = 0;
    c->clen = -1;
    c->status = 0;
    c->close_after = 0;
}


static void
conn_close(conn_t *c)
{
    if (c->ssl) {
        SSL_free(c->ssl);
        c->ssl = NULL;
    }

    if (c->fd >= 0) {
        close(c->fd);       /* also leaves the epoll set */
        c->fd = -1;
    }

    c->events = 0;
    c->nreq = 0;
    conn_reset_response(c);
}


/* the connection may begin its next request */

static void
conn_next(conn_t *c)
{
    /* with --requests N, N begun in the window are enough */
    if (stopping || (opt_requests && measuring && issued >= opt_requests)) {
        c->state = ST_IDLE;
        return;
    }

    if (rate_interval) {
        c->state = ST_QUEUED;
        queue_push(&rateq, c);

    } else {
        c->state = ST_READY;
        queue_push(&readyq, c);
    }
}


static void
conn_fail(conn_t *c, int kind, const char *what, const char *detail)
{
    if (counting()) {
        st.fail[kind]++;
        report(kind, what, detail);
        check_limit();
    }

    conn_close(c);

    if (kind == F_CONNECT) {
        c->state = ST_BACKOFF;
        c->t_wake = now_ns() + CONNECT_BACKOFF;
        return;
    }

    conn_next(c);
}


static void
conn_connect(conn_t *c)
{
    int  one;

    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        conn_fail(c, F_CONNECT, "socket()", strerror(errno));
        return;
    }

    one = 1;
    (void) setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));

    if (connect(c->fd, (struct sockaddr *) &addr, sizeof(addr)) != 0
        && errno != EINPROGRESS)
    {
        conn_fail(c, F_CONNECT, "connect()", strerror(errno));
        return;
    }

    /* done or not, writability says the connect() is over */
    c->state = ST_CONNECTING;
    conn_events(c, EPOLLOUT);
}


static void
conn_start(conn_t *c, uint64_t origin)
{
    if (opt_requests && measuring && issued >= opt_requests) {
        c->state = ST_IDLE;
        return;
    }

    if (measuring) {
        issued++;
    }

    c->t_origin = origin;
    c->t_op = now_ns();

    if (c->fd < 0) {
        conn_connect(c);
        return;
    }

    c->state = ST_WRITING;
    c->wpos = 0;
    conn_reset_response(c);
    conn_drive(c);
}


static void
conn_ssl_error(conn_t *c, int r, int kind)
{
    int            err;
    unsigned long  e;
    char           buf[256];

    err = SSL_get_error(c->ssl, r);

    switch (err) {

    case SSL_ERROR_WANT_READ:
        conn_events(c, EPOLLIN);
        return;

    case SSL_ERROR_WANT_WRITE:
        conn_events(c, EPOLLOUT);
        return;

    case SSL_ERROR_ZERO_RETURN:
        conn_fail(c, kind, "connection closed by the server", NULL);
        return;

    case SSL_ERROR_SYSCALL:
        conn_fail(c, kind, "I/O error", errno ? strerror(errno) : "EOF");
        return;

    default:
        e = ERR_peek_last_error();
        ERR_error_string_n(e, buf, sizeof(buf));
        conn_fail(c, kind, "TLS error", buf);
    }
}


static void
conn_note_handshake(conn_t *c)
{
    X509                *peer;
    const char          *s;
    unsigned char       *p;
    const ASN1_INTEGER  *sn;
    char                 hex[2 * sizeof(last_serial) + 1];
    size_t               i, n;
    int                  len;

    if (measuring) {
        st.handshakes++;

        if (SSL_session_reused(c->ssl)) {
            st.resumed++;
        }
    }

    if (proto_seen[0] == '-') {
        snprintf(proto_seen, sizeof(proto_seen), "%s",
                 SSL_get_version(c->ssl));
        snprintf(cipher_seen, sizeof(cipher_seen), "%s",
                 SSL_get_cipher_name(c->ssl));
        s = OBJ_nid2sn(SSL_get_negotiated_group(c->ssl));
        snprintf(group_seen, sizeof(group_seen), "%s", s ? s : "?");
    }

    /* the server's serial: log each one the first time it is served */

    peer = SSL_get0_peer_certificate(c->ssl);
    if (peer == NULL) {
        return;
    }

    sn = X509_get0_serialNumber(peer);
    len = ASN1_STRING_length(sn);
    p = (unsigned char *) ASN1_STRING_get0_data(sn);

    if (len <= 0 || len > (int) sizeof(last_serial)) {
        return;
    }

    if (len == last_serial_len && memcmp(p, last_serial, len) == 0) {
        return;
    }

    memcpy(last_serial, p, len);
    last_serial_len = len;

    for (i = 0; i < (size_t) len; i++) {
        snprintf(hex + 2 * i, 3, "%02x", p[i]);
    }

    for (n = nseen; n > 0; n--) {
        if (strcmp(seen_serials[n - 1], hex) == 0) {
            return;
        }
    }

    seen_serials = realloc(seen_serials, (nseen + 1) * sizeof(char *));
    if (seen_serials == NULL || (seen_serials[nseen] = strdup(hex)) == NULL)
    {
        die("out of memory");
    }

    nseen++;

    if (serials_fp) {
        fprintf(serials_fp, "%" PRIu64 " %s\n", now_ns(), hex);
    }
}


/* 1: the response is complete, 0: more to read, -1: not HTTP we know */

static int
conn_parse(conn_t *c)
{
    char       *p, *end, *eol, *v;
    long long   n;

    if (c->hdr_len == 0) {
        p = memmem(c->buf, c->len, "\r\n\r\n", 4);

        if (p == NULL) {
            return (c->len > MAX_HEADER) ? -1 : 0;
        }

        c->hdr_len = p - c->buf + 4;
        end = p + 2;

        if (c->hdr_len < 16 || memcmp(c->buf, "HTTP/1.", 7) != 0
            || c->buf[8] != ' ' || c->buf[9] < '1' || c->buf[9] > '5'
            || c->buf[10] < '0' || c->buf[10] > '9'
            || c->buf[11] < '0' || c->buf[11] > '9')
        {
            return -1;
        }

        c->status = (c->buf[9] - '0') * 100 + (c->buf[10] - '0') * 10
                    + (c->buf[11] - '0');

        p = memchr(c->buf, '\n', c->hdr_len) + 1;

        for ( /* void */ ; p < end; p = eol + 1) {
            eol = memchr(p, '\n', end - p);
            if (eol == NULL) {
                break;
            }

            if (eol - p > 15 && strncasecmp(p, "content-length:", 15) == 0) {
                v = p + 15;
                while (*v == ' ' || *v == '\t') {
                    v++;
                }

                n = 0;
                while (*v >= '0' && *v <= '9' && n < MAX_RESPONSE) {
                    n = n * 10 + (*v++ - '0');
                }

                c->clen = n;

            } else if (eol - p > 11
                       && strncasecmp(p, "connection:", 11) == 0)
            {
                if (memmem(p, eol - p, "close", 5) != NULL) {
                    c->close_after = 1;
                }

            } else if (eol - p > 18
                       && strncasecmp(p, "transfer-encoding:", 18) == 0)
            {
                return -1;      /* not needed for these benchmarks */
            }
        }

        if (c->clen > MAX_RESPONSE) {
            return -1;
        }
    }

    if (c->clen >= 0) {
        return c->len >= c->hdr_len + (size_t) c->clen;
    }

    return 0;   /* until EOF */
}


static void
conn_done(conn_t *c)
{
    size_t     body_len;
    uint64_t   now;

    now = now_ns();
    body_len = (c->clen >= 0) ? (size_t) c->clen : c->len - c->hdr_len;

    if (c->clen >= 0 && c->len > c->hdr_len + body_len) {
        conn_fail(c, F_IO, "data after the response", NULL);
        return;
    }

    if (counting()) {
        if (c->status != opt_expect_status) {
            char  s[8];

            snprintf(s, sizeof(s), "%d", c->status);
            st.fail[F_STATUS]++;
            report(F_STATUS, "HTTP status", s);

        } else if (opt_expect_body
                   && (body_len != expect_body_len
                       || memcmp(c->buf + c->hdr_len, opt_expect_body,
                                 body_len) != 0))
        {
            st.fail[F_BODY]++;
            report(F_BODY, "body differs from --expect-body", NULL);

        } else {
            st.ok++;
            record_latency(now - c->t_origin);
        }
    }

    c->nreq++;

    if (opt_new || c->close_after) {
        if (!opt_new && measuring) {
            st.reconnects++;
        }

        conn_close(c);

    } else {
        conn_reset_response(c);
    }

    check_limit();
    conn_next(c);
}


static void
conn_drive(conn_t *c)
{
    int        r, err, kind;
    socklen_t  sl;

    for ( ;; ) {

        switch (c->state) {

        case ST_CONNECTING:
            err = 0;
            sl = sizeof(err);

            if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &sl) != 0) {
                err = errno;
            }

            if (err) {
                conn_fail(c, F_CONNECT, "connect()", strerror(err));
                return;
            }

            c->ssl = SSL_new(ctx);
            if (c->ssl == NULL || SSL_set_fd(c->ssl, c->fd) != 1) {
                conn_fail(c, F_HANDSHAKE, "SSL_new() failed", NULL);
                return;
            }

            SSL_set_connect_state(c->ssl);
            c->state = ST_HANDSHAKE;
            continue;

        case ST_HANDSHAKE:
            ERR_clear_error();
            errno = 0;

            r = SSL_do_handshake(c->ssl);

            if (r == 1) {
                conn_note_handshake(c);
                c->state = ST_WRITING;
                c->wpos = 0;
                conn_reset_response(c);
                continue;
            }

            conn_ssl_error(c, r, F_HANDSHAKE);
            return;

        case ST_WRITING:
            ERR_clear_error();
            errno = 0;

            r = SSL_write(c->ssl, request + c->wpos,
                          (int) (request_len - c->wpos));

            if (r > 0) {
                c->wpos += r;

                if (c->wpos < request_len) {
                    continue;
                }

                c->state = ST_READING;

                /*
                 * The answer cannot be there yet unless OpenSSL holds
                 * bytes already: wait for readability rather than spend
                 * a read() that fails with EAGAIN.
                 */

                if (SSL_has_pending(c->ssl)) {
                    continue;
                }

                conn_events(c, EPOLLIN);
                return;
            }

            /*
             * In TLS 1.3 the client's handshake ends before the server
             * has checked the client's certificate: a refusal shows up on
             * the first request of the connection.
             */
            kind = (c->nreq == 0) ? F_HANDSHAKE : F_IO;
            conn_ssl_error(c, r, kind);
            return;

        case ST_READING:
            if (c->len == c->cap) {
                if (c->cap >= MAX_RESPONSE + MAX_HEADER) {
                    conn_fail(c, F_IO, "response too large", NULL);
                    return;
                }

                c->cap *= 2;
                c->buf = realloc(c->buf, c->cap);
                if (c->buf == NULL) {
                    die("out of memory");
                }
            }

            ERR_clear_error();
            errno = 0;

            r = SSL_read(c->ssl, c->buf + c->len, (int) (c->cap - c->len));

            if (r > 0) {
                c->len += r;

                switch (conn_parse(c)) {
                case 1:
                    conn_done(c);
                    return;
                case 0:
                    if (SSL_has_pending(c->ssl)) {
                        continue;
                    }

                    conn_events(c, EPOLLIN);
                    return;
                default:
                    conn_fail(c, F_IO, "malformed HTTP response", NULL);
                    return;
                }
            }

            if (SSL_get_error(c->ssl, r) == SSL_ERROR_ZERO_RETURN
                && c->hdr_len && c->clen < 0)
            {
                c->close_after = 1;     /* a body that ends with the conn */
                conn_done(c);
                return;
            }

            kind = (c->nreq == 0 && c->len == 0) ? F_HANDSHAKE : F_IO;
            conn_ssl_error(c, r, kind);
            return;

        default:
            /*
             * Readable while idle or queued: the server closed a kept-alive
             * connection (or sent what nobody asked for).  Drop it; the
             * next request opens a new one.
             */
            if (c->fd >= 0) {
                if (measuring) {
                    st.reconnects++;
                }

                close(c->fd);
                c->fd = -1;
                c->events = 0;

                if (c->ssl) {
                    SSL_free(c->ssl);
                    c->ssl = NULL;
                }

                c->nreq = 0;
            }

            return;
        }
    }
}


/* ---------------------------------------------------------------- setup */

static void
usage(FILE *fp)
{
    fprintf(fp,
"usage: mtls_load --port PORT [options]\n"
"  --host IP            server address (default 127.0.0.1)\n"
"  --port PORT          server port\n"
"  --cert FILE          client certificate chain, PEM\n"
"  --key FILE           client private key, PEM\n"
"  --ca FILE            verify the server's chain against these CAs\n"
"                       (default: no chain check; TLS 1.3 CertificateVerify\n"
"                       is still checked against the server's key)\n"
"  --path PATH          request path (default /)\n"
"  --host-header NAME   Host header (default: the address)\n"
"  --conns N            concurrent connections (default 10)\n"
"  --new                one request per connection, full handshake each\n"
"  --keepalive          requests one after another on kept connections\n"
"                       (default)\n"
"  --duration SEC       measure for SEC seconds after the warm-up\n"
"  --requests N         or stop after N responses after the warm-up\n"
"  --warmup SEC         run, but do not count, for SEC seconds first\n"
"  --tls 1.3|1.2        protocol version (default 1.3)\n"
"  --groups LIST        key exchange groups (default P-256)\n"
"  --expect-status N    a response is good with this status (default 200)\n"
"  --expect-body STR    ... and exactly this body\n"
"  --timeout MS         connection + request timeout (default 5000)\n"
"  --rate R             start at most R requests per second (default: as\n"
"                       fast as the server answers); latency is then\n"
"                       counted from each request's scheduled start\n"
"  --serials FILE       append \"MONOTONIC_NS SERIAL_HEX\" the first time a\n"
"                       server certificate serial is seen\n"
"  --label STR          echoed in the result line\n"
"  --quiet              no per-failure messages on stderr\n"
"  --server-pid PID     also report the CPU time PID used in the measured\n"
"                       window (server_cpu, ok_per_server_cpu_s)\n"
"  --server-cpu N       and the share of CPU N that other processes took\n"
"                       (other_on_server_cpu)\n");
}


static double
parse_double(const char *s, const char *what)
{
    char    *end;
    double   v;

    v = strtod(s, &end);

    if (*s == '\0' || *end != '\0' || v < 0) {
        fprintf(stderr, "mtls_load: bad %s: %s\n", what, s);
        exit(2);
    }

    return v;
}


static void
parse_args(int argc, char **argv)
{
    int  ch;

    static const struct option  longopts[] = {
        { "host",          required_argument, NULL, 'h' },
        { "port",          required_argument, NULL, 'p' },
        { "cert",          required_argument, NULL, 'c' },
        { "key",           required_argument, NULL, 'k' },
        { "ca",            required_argument, NULL, 'A' },
        { "path",          required_argument, NULL, 'P' },
        { "host-header",   required_argument, NULL, 'H' },
        { "conns",         required_argument, NULL, 'n' },
        { "new",           no_argument,       NULL, 'N' },
        { "keepalive",     no_argument,       NULL, 'K' },
        { "duration",      required_argument, NULL, 'd' },
        { "requests",      required_argument, NULL, 'r' },
        { "warmup",        required_argument, NULL, 'w' },
        { "tls",           required_argument, NULL, 't' },
        { "groups",        required_argument, NULL, 'g' },
        { "expect-status", required_argument, NULL, 's' },
        { "expect-body",   required_argument, NULL, 'b' },
        { "timeout",       required_argument, NULL, 'T' },
        { "rate",          required_argument, NULL, 'R' },
        { "serials",       required_argument, NULL, 'S' },
        { "label",         required_argument, NULL, 'L' },
        { "quiet",         no_argument,       NULL, 'q' },
        { "server-pid",    required_argument, NULL, 'W' },
        { "server-cpu",    required_argument, NULL, 'C' },
        { "help",          no_argument,       NULL, '?' + 256 },
        { NULL, 0, NULL, 0 }
    };

    while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (ch) {
        case 'h': opt_host = optarg; break;
        case 'p': opt_port = (int) parse_double(optarg, "port"); break;
        case 'c': opt_cert = optarg; break;
        case 'k': opt_key = optarg; break;
        case 'A': opt_ca = optarg; break;
        case 'P': opt_path = optarg; break;
        case 'H': opt_host_header = optarg; break;
        case 'n': opt_conns = (int) parse_double(optarg, "conns"); break;
        case 'N': opt_new = 1; break;
        case 'K': opt_new = 0; break;
        case 'd': opt_duration = parse_double(optarg, "duration"); break;
        case 'r':
            opt_requests = (uint64_t) parse_double(optarg, "requests");
            break;
        case 'w': opt_warmup = parse_double(optarg, "warmup"); break;
        case 't':
            if (strcmp(optarg, "1.2") == 0) {
                opt_tls12 = 1;
            } else if (strcmp(optarg, "1.3") == 0) {
                opt_tls12 = 0;
            } else {
                fprintf(stderr, "mtls_load: --tls takes 1.2 or 1.3\n");
                exit(2);
            }
            break;
        case 'g': opt_groups = optarg; break;
        case 's':
            opt_expect_status = (int) parse_double(optarg, "status");
            break;
        case 'b': opt_expect_body = optarg; break;
        case 'T':
            opt_timeout_ms = (uint64_t) parse_double(optarg, "timeout");
            break;
        case 'R': opt_rate = parse_double(optarg, "rate"); break;
        case 'S': opt_serials = optarg; break;
        case 'L': opt_label = optarg; break;
        case 'q': opt_quiet = 1; break;
        case 'W': opt_server_pid = (long) parse_double(optarg, "pid"); break;
        case 'C':
            opt_server_cpu = (int) parse_double(optarg, "cpu");
            break;
        case '?' + 256: usage(stdout); exit(0);
        default: usage(stderr); exit(2);
        }
    }

    if (optind != argc || opt_port <= 0 || opt_port > 65535
        || opt_conns <= 0 || opt_timeout_ms == 0)
    {
        usage(stderr);
        exit(2);
    }

    if (opt_duration == 0 && opt_requests == 0) {
        opt_duration = 5;
    }

    if ((opt_cert == NULL) != (opt_key == NULL)) {
        die("--cert and --key go together");
    }
}


static void
setup_tls(void)
{
    int  v;

    ctx = SSL_CTX_new(TLS_client_method());
    if (ctx == NULL) {
        die("SSL_CTX_new() failed");
    }

    v = opt_tls12 ? TLS1_2_VERSION : TLS1_3_VERSION;

    if (SSL_CTX_set_min_proto_version(ctx, v) != 1
        || SSL_CTX_set_max_proto_version(ctx, v) != 1)
    {
        die("cannot set the TLS version");
    }

    if (SSL_CTX_set1_groups_list(ctx, opt_groups) != 1) {
        die("bad --groups");
    }

    /* full handshakes only: no client-side session cache, no tickets */

    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET | SSL_OP_IGNORE_UNEXPECTED_EOF);
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE
                          | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);

    /* one read() for a whole record rather than header, then body */
    SSL_CTX_set_read_ahead(ctx, 1);

    if (opt_cert) {
        if (SSL_CTX_use_certificate_chain_file(ctx, opt_cert) != 1) {
            die("cannot load --cert");
        }

        if (SSL_CTX_use_PrivateKey_file(ctx, opt_key, SSL_FILETYPE_PEM) != 1
            || SSL_CTX_check_private_key(ctx) != 1)
        {
            die("cannot load --key, or it does not match --cert");
        }
    }

    if (opt_ca) {
        if (SSL_CTX_load_verify_locations(ctx, opt_ca, NULL) != 1) {
            die("cannot load --ca");
        }

        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);

    } else {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    }
}


static void
setup_request(void)
{
    int  n;

    if (opt_host_header == NULL) {
        opt_host_header = opt_host;
    }

    n = asprintf(&request,
                 "GET %s HTTP/1.1\r\n"
                 "Host: %s\r\n"
                 "User-Agent: mtls_load\r\n"
                 "%s"
                 "\r\n",
                 opt_path, opt_host_header,
                 opt_new ? "Connection: close\r\n" : "");
    if (n < 0) {
        die("out of memory");
    }

    request_len = (size_t) n;

    if (opt_expect_body) {
        expect_body_len = strlen(opt_expect_body);
    }
}


/* --server-pid: nanoseconds the server process has run on a CPU */

static uint64_t
server_ns(void)
{
    FILE                *fp;
    char                 path[64];
    unsigned long long   ns;

    if (opt_server_pid <= 0) {
        return 0;
    }

    snprintf(path, sizeof(path), "/proc/%ld/schedstat", opt_server_pid);

    fp = fopen(path, "r");
    if (fp == NULL) {
        return 0;
    }

    if (fscanf(fp, "%llu", &ns) != 1) {
        ns = 0;
    }

    fclose(fp);

    return ns;
}


/*
 * --server-cpu: busy (user, nice, system, steal) and all ticks of that CPU,
 * to tell how much of it went to processes other than the server
 */

static void
cpu_ticks(uint64_t out[2])
{
    FILE                *fp;
    char                 line[512], name[16];
    unsigned long long   v[8];

    out[0] = out[1] = 0;

    if (opt_server_cpu < 0) {
        return;
    }

    fp = fopen("/proc/stat", "r");
    if (fp == NULL) {
        return;
    }

    snprintf(name, sizeof(name), "cpu%d ", opt_server_cpu);

    while (fgets(line, sizeof(line), fp)) {
        if (strncmp(line, name, strlen(name)) != 0) {
            continue;
        }

        memset(v, 0, sizeof(v));

        if (sscanf(line + strlen(name), "%llu %llu %llu %llu %llu %llu %llu "
                   "%llu", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6],
                   &v[7]) >= 4)
        {
            out[0] = v[0] + v[1] + v[2] + v[7];
            out[1] = v[0] + v[1] + v[2] + v[3] + v[4] + v[5] + v[6] + v[7];
        }

        break;
    }

    fclose(fp);
}


static void
start_measuring(uint64_t now)
{
    measuring = 1;
    t_meas = now;
    getrusage(RUSAGE_SELF, &ru_meas);
    srv_meas_ns = server_ns();
    cpu_ticks(cpu_meas);
}


static double
cpu_seconds(const struct rusage *ru)
{
    return (double) ru->ru_utime.tv_sec + ru->ru_utime.tv_usec / 1e6
           + (double) ru->ru_stime.tv_sec + ru->ru_stime.tv_usec / 1e6;
}


static void
print_result(uint64_t t_end)
{
    int            k;
    double         secs, cpu, srv, other;
    uint64_t       fails, ticks[2];
    struct rusage  ru;

    getrusage(RUSAGE_SELF, &ru);
    srv = measuring && opt_server_pid > 0
          ? (double) (server_ns() - srv_meas_ns) / 1e9 : 0;
    cpu_ticks(ticks);

    secs = measuring ? (double) (t_end - t_meas) / 1e9 : 0;
    cpu = secs > 0 ? (cpu_seconds(&ru) - cpu_seconds(&ru_meas)) / secs : 0;

    /* the part of the server's CPU that went to other processes */
    other = 0;

    if (measuring && ticks[1] > cpu_meas[1] && secs > 0) {
        other = (double) (ticks[0] - cpu_meas[0])
                / (double) (ticks[1] - cpu_meas[1]) - srv / secs;
        if (other < 0) {
            other = 0;
        }
    }

    fails = 0;
    for (k = 0; k < F_KINDS; k++) {
        fails += st.fail[k];
    }

    printf("RESULT label=%s mode=%s conns=%d tls=%s group=%s cipher=%s "
           "secs=%.3f ok=%" PRIu64 " rps=%.1f handshakes=%" PRIu64
           " hs_per_s=%.1f resumed=%" PRIu64 " reconnects=%" PRIu64
           " fail=%" PRIu64,
           opt_label ? opt_label : "-", opt_new ? "new" : "keepalive",
           opt_conns, proto_seen, group_seen, cipher_seen, secs, st.ok,
           secs > 0 ? st.ok / secs : 0, st.handshakes,
           secs > 0 ? st.handshakes / secs : 0, st.resumed, st.reconnects,
           fails);

    for (k = 0; k < F_KINDS; k++) {
        printf(" fail_%s=%" PRIu64, fail_names[k], st.fail[k]);
    }

    printf(" p50_us=%" PRIu64 " p90_us=%" PRIu64 " p99_us=%" PRIu64
           " p999_us=%" PRIu64 " max_us=%" PRIu64 " mean_us=%.1f"
           " serials=%zu client_cpu=%.2f rate=%.1f",
           hist_quantile(0.50), hist_quantile(0.90), hist_quantile(0.99),
           hist_quantile(0.999), st.lat_max_us,
           st.ok ? (double) st.lat_sum_us / (double) st.ok : 0.0,
           nseen, cpu, opt_rate);

    if (opt_server_pid > 0) {
        printf(" server_cpu=%.3f ok_per_server_cpu_s=%.1f",
               secs > 0 ? srv / secs : 0, srv > 0 ? st.ok / srv : 0);
    }

    if (opt_server_cpu >= 0) {
        printf(" other_on_server_cpu=%.3f", other);
    }

    printf("\n");

    fflush(stdout);
}


int
main(int argc, char **argv)
{
    int                  i, n, timeout;
    conn_t              *c;
    uint64_t             now, t_start, t_warm, t_end, next_scan, wake;
    struct epoll_event   events[MAX_EVENTS];

    parse_args(argc, argv);

    signal(SIGPIPE, SIG_IGN);

    memset(&addr, 0, sizeof(addr));
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t) opt_port);

    if (inet_pton(AF_INET, opt_host, &addr.sin_addr) != 1) {
        die("--host takes an IPv4 address");
    }

    setup_tls();
    setup_request();

    if (opt_serials) {
        serials_fp = fopen(opt_serials, "a");
        if (serials_fp == NULL) {
            die("cannot open --serials file");
        }

        setvbuf(serials_fp, NULL, _IOLBF, 0);
    }

    ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0) {
        die("epoll_create1() failed");
    }

    conns = calloc(opt_conns, sizeof(conn_t));
    if (conns == NULL) {
        die("out of memory");
    }

    queue_init(&readyq, opt_conns);
    queue_init(&rateq, opt_conns);

    if (opt_rate > 0) {
        rate_interval = (uint64_t) (1e9 / opt_rate);
        if (rate_interval == 0) {
            rate_interval = 1;
        }
    }

    t_start = now_ns();
    t_warm = t_start + (uint64_t) (opt_warmup * 1e9);
    t_end = opt_duration > 0 ? t_warm + (uint64_t) (opt_duration * 1e9)
                             : UINT64_MAX;
    next_slot = t_start;
    next_scan = t_start + SCAN_INTERVAL;

    if (opt_warmup == 0) {
        start_measuring(t_start);
    }

    for (i = 0; i < opt_conns; i++) {
        c = &conns[i];
        c->fd = -1;
        c->cap = 16384;
        c->buf = malloc(c->cap);
        if (c->buf == NULL) {
            die("out of memory");
        }

        conn_reset_response(c);
        conn_next(c);
    }

    for ( ;; ) {
        now = now_ns();

        if (!measuring && now >= t_warm) {
            start_measuring(now);
        }

        if (now >= t_end || stopping) {
            break;
        }

        while (readyq.n) {
            conn_start(queue_pop(&readyq), now);
        }

        while (rateq.n && next_slot <= now) {
            conn_start(queue_pop(&rateq), next_slot);
            next_slot += rate_interval;
        }

        if (now >= next_scan) {
            next_scan = now + SCAN_INTERVAL;

            for (i = 0; i < opt_conns; i++) {
                c = &conns[i];

                if (c->state >= ST_CONNECTING
                    && c->t_op + opt_timeout_ms * NS_PER_MS < now)
                {
                    conn_fail(c, F_TIMEOUT, "no answer in time", NULL);

                } else if (c->state == ST_BACKOFF && now >= c->t_wake) {
                    conn_next(c);
                }
            }
        }

        /* sleep until an event, the next scan, rate slot or the end */

        wake = next_scan;

        if (readyq.n) {
            wake = now;
        }

        if (rateq.n && next_slot < wake) {
            wake = next_slot;
        }

        if (t_end < wake) {
            wake = t_end;
        }

        if (!measuring && t_warm < wake) {
            wake = t_warm;
        }

        timeout = wake > now ? (int) ((wake - now + NS_PER_MS - 1) / NS_PER_MS)
                             : 0;

        n = epoll_wait(ep, events, MAX_EVENTS, timeout);

        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }

            die("epoll_wait() failed");
        }

        for (i = 0; i < n; i++) {
            c = events[i].data.ptr;

            /* the event may be stale: an earlier one closed this conn */
            if (c->fd < 0) {
                continue;
            }

            conn_drive(c);
        }
    }

    print_result(now_ns());

    if (serials_fp) {
        fclose(serials_fp);
    }

    return 0;
}
