
/*
 * Copyright (C) ngx_spiffe developers
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>

#include <ngx_spiffe.h>
#include <spiffe_grpc.h>
#include <spiffe_jwt.h>
#include <spiffe_pb.h>
#include <spiffe_workload.h>


/*
 * The worker's calls to the Workload API: each worker makes its own,
 * since the agent attests the process that connects.  FetchX509SVID and
 * FetchJWTBundles are streams whose every message is the whole state;
 * FetchJWTSVID is asked again at half the lifetime of the token it gave.
 * Every call goes through one state machine: one place to log, to back
 * off and to retry.
 */


#define NGX_SPIFFE_BACKOFF_MIN   1000
#define NGX_SPIFFE_BACKOFF_MAX   30000
#define NGX_SPIFFE_REFETCH_MAX   86400
#define NGX_SPIFFE_ERR_LEN       160


typedef enum {
    ngx_spiffe_connecting = 0,
    ngx_spiffe_streaming,
    ngx_spiffe_waiting,
    ngx_spiffe_backoff,
    ngx_spiffe_stopped
} ngx_spiffe_state_e;


typedef struct ngx_spiffe_call_s  ngx_spiffe_call_t;

/* NGX_OK: the message was applied, NGX_DECLINED: discarded */
typedef ngx_int_t (*ngx_spiffe_apply_pt)(ngx_spiffe_call_t *sc,
    const unsigned char *msg, size_t len);


struct ngx_spiffe_call_s {
    const char                 *method;
    ngx_spiffe_apply_pt         apply;
    unsigned char              *request;
    size_t                      request_len;
    spiffe_grpc_call_t         *call;
    ngx_event_t                 timer;
    ngx_msec_t                  backoff;
    ngx_msec_t                  started;
    ngx_spiffe_state_e          state;
    int                         last_status;
    ngx_uint_t                  messages;
    unsigned                    unary:1;
    unsigned                    ready:1;
    unsigned                    quick:1;    /* the last stream ended soon */
    unsigned                    looping:1;  /* so did the ones before */

    /* FetchJWTSVID */
    ngx_str_t                   audience;
    ngx_str_t                   token;
    time_t                      expires;
    u_char                      error[NGX_SPIFFE_ERR_LEN];
};


typedef struct {
    ngx_spiffe_curl_t           curl;
    spiffe_grpc_addr_t          addr;
    ngx_str_t                   address;
    ngx_str_t                   hint;
    ngx_str_t                   no_x509;    /* as last logged */
    ngx_log_t                  *log;
    ngx_spiffe_call_t          *calls;
    ngx_uint_t                  ncalls;
    uint64_t                    version;
    uint64_t                    failures;
    time_t                      last_message;
    unsigned                    stopped:1;
} ngx_spiffe_source_t;


static ngx_int_t ngx_spiffe_source_calls(ngx_cycle_t *cycle,
    ngx_spiffe_source_t *src, ngx_spiffe_conf_t *scf);
static void ngx_spiffe_call_start(ngx_spiffe_call_t *sc);
static int ngx_spiffe_call_message(void *data, const unsigned char *msg,
    size_t len);
static void ngx_spiffe_call_done(void *data, CURL *easy, CURLcode result);
static void ngx_spiffe_call_fail(ngx_spiffe_call_t *sc, int status,
    const char *message);
static void ngx_spiffe_call_timer(ngx_event_t *ev);
static void ngx_spiffe_call_close(ngx_spiffe_call_t *sc);
static ngx_int_t ngx_spiffe_apply_x509_svid(ngx_spiffe_call_t *sc,
    const unsigned char *msg, size_t len);
static void ngx_spiffe_source_no_x509(ngx_spiffe_source_t *src,
    const char *tds);
static ngx_int_t ngx_spiffe_apply_jwt_bundles(ngx_spiffe_call_t *sc,
    const unsigned char *msg, size_t len);
static ngx_int_t ngx_spiffe_apply_jwt_svid(ngx_spiffe_call_t *sc,
    const unsigned char *msg, size_t len);
static void ngx_spiffe_source_token_free(ngx_spiffe_call_t *sc);
static int ngx_spiffe_source_ready(void *data);
static void ngx_spiffe_source_report(ngx_spiffe_source_t *src);


static const char  *ngx_spiffe_state_names[] = {
    "connecting",
    "connected",
    "connected",
    "backoff",
    "error"
};


static ngx_spiffe_source_t  *ngx_spiffe_source;


ngx_int_t
ngx_spiffe_jwt_svid(ngx_str_t *audience, ngx_str_t *token,
    const char **reason)
{
    ngx_uint_t          i;
    ngx_spiffe_call_t  *sc;

    *reason = "no Workload API";

    if (ngx_spiffe_source == NULL) {
        return NGX_DECLINED;
    }

    for (i = 0; i < ngx_spiffe_source->ncalls; i++) {
        sc = &ngx_spiffe_source->calls[i];

        if (sc->audience.len != audience->len
            || ngx_strncmp(sc->audience.data, audience->data, audience->len)
               != 0)
        {
            continue;
        }

        if (sc->token.len == 0) {
            *reason = sc->error[0] ? (char *) sc->error : "none came yet";
            return NGX_DECLINED;
        }

        if (sc->expires <= ngx_time()) {
            *reason = "it expired and no new one came";
            return NGX_DECLINED;
        }

        *token = sc->token;
        return NGX_OK;
    }

    *reason = "audience not configured";

    return NGX_DECLINED;
}


ngx_int_t
ngx_spiffe_source_start(ngx_cycle_t *cycle, ngx_spiffe_conf_t *scf)
{
    ngx_uint_t            i;
    const char           *err;
    ngx_spiffe_source_t  *src;

    src = ngx_pcalloc(cycle->pool, sizeof(ngx_spiffe_source_t));
    if (src == NULL) {
        return NGX_ERROR;
    }

    if (spiffe_workload_parse_address((char *) scf->address.data,
                                      scf->address.len, &src->addr, &err)
        != 0)
    {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, 0,
                      "spiffe: invalid Workload API address \"%V\": %s",
                      &scf->address, err);
        return NGX_ERROR;
    }

    src->log = cycle->log;
    src->address = scf->address;
    src->hint = scf->hint;

    if (ngx_spiffe_source_calls(cycle, src, scf) != NGX_OK
        || ngx_spiffe_curl_init(&src->curl, cycle->log) != NGX_OK)
    {
        return NGX_ERROR;
    }

    ngx_spiffe_source = src;

    for (i = 0; i < src->ncalls; i++) {
        ngx_spiffe_call_start(&src->calls[i]);
    }

    ngx_spiffe_source_report(src);

    /* no connection is accepted yet: waiting here fails no handshake */

    ngx_spiffe_curl_run(&src->curl, scf->startup_timeout,
                        ngx_spiffe_source_ready, src);

    if (ngx_spiffe_snapshot() == NULL) {
        ngx_log_error(NGX_LOG_WARN, cycle->log, 0,
                      "spiffe: no SVID from \"%V\" within %M ms, serving "
                      "without one until it comes",
                      &src->address, scf->startup_timeout);
    }

    return NGX_OK;
}


void
ngx_spiffe_source_stop(void)
{
    ngx_uint_t            i;
    ngx_spiffe_call_t    *sc;
    ngx_spiffe_source_t  *src = ngx_spiffe_source;

    if (src == NULL) {
        return;
    }

    src->stopped = 1;

    for (i = 0; i < src->ncalls; i++) {
        sc = &src->calls[i];

        ngx_spiffe_call_close(sc);

        if (sc->timer.timer_set) {
            ngx_del_timer(&sc->timer);
        }

        ngx_free(sc->request);
        ngx_spiffe_source_token_free(sc);
    }

    ngx_spiffe_curl_cleanup(&src->curl);

    ngx_free(src->no_x509.data);

    ngx_spiffe_source = NULL;
}


/* FetchX509SVID always; FetchJWTBundles and FetchJWTSVID as configured */

static ngx_int_t
ngx_spiffe_source_calls(ngx_cycle_t *cycle, ngx_spiffe_source_t *src,
    ngx_spiffe_conf_t *scf)
{
    ngx_str_t          *aud;
    ngx_uint_t          i, n;
    spiffe_bytes_t      b;
    ngx_spiffe_call_t  *sc;

    n = 1 + (scf->jwt_bundles ? 1 : 0)
        + (scf->jwt_audiences ? scf->jwt_audiences->nelts : 0);

    src->calls = ngx_pcalloc(cycle->pool, n * sizeof(ngx_spiffe_call_t));
    if (src->calls == NULL) {
        return NGX_ERROR;
    }

    src->ncalls = n;

    for (i = 0; i < n; i++) {
        sc = &src->calls[i];

        sc->backoff = NGX_SPIFFE_BACKOFF_MIN;
        sc->last_status = SPIFFE_GRPC_OK;
        sc->timer.handler = ngx_spiffe_call_timer;
        sc->timer.data = sc;
        sc->timer.log = cycle->log;
        sc->timer.cancelable = 1;
    }

    sc = src->calls;

    sc->method = "FetchX509SVID";
    sc->apply = ngx_spiffe_apply_x509_svid;
    sc++;

    if (scf->jwt_bundles) {
        sc->method = "FetchJWTBundles";
        sc->apply = ngx_spiffe_apply_jwt_bundles;
        sc++;
    }

    if (scf->jwt_audiences == NULL) {
        return NGX_OK;
    }

    aud = scf->jwt_audiences->elts;

    for (i = 0; i < scf->jwt_audiences->nelts; i++, sc++) {
        sc->method = "FetchJWTSVID";
        sc->apply = ngx_spiffe_apply_jwt_svid;
        sc->unary = 1;
        sc->audience = aud[i];

        b.data = aud[i].data;
        b.len = aud[i].len;

        if (spiffe_pb_encode_jwt_svid_req(&b, 1, NULL, &sc->request,
                                          &sc->request_len)
            != 0)
        {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


static void
ngx_spiffe_call_start(ngx_spiffe_call_t *sc)
{
    const char               *err;
    spiffe_grpc_call_conf_t   conf;

    ngx_memzero(&conf, sizeof(spiffe_grpc_call_conf_t));

    conf.addr = &ngx_spiffe_source->addr;
    conf.method = sc->method;
    conf.request = sc->request;
    conf.request_len = sc->request_len;
    conf.on_message = ngx_spiffe_call_message;
    conf.data = sc;

    sc->messages = 0;
    sc->started = ngx_current_msec;

    if (sc->state != ngx_spiffe_backoff) {
        sc->state = ngx_spiffe_connecting;
    }

    sc->call = spiffe_grpc_call_create(&conf, &err);
    if (sc->call == NULL) {
        ngx_spiffe_call_fail(sc, SPIFFE_GRPC_INTERNAL, err);
        return;
    }

    if (ngx_spiffe_curl_add(&ngx_spiffe_source->curl, sc->call->easy,
                            ngx_spiffe_call_done, sc)
        != NGX_OK)
    {
        spiffe_grpc_call_destroy(sc->call);
        sc->call = NULL;
        ngx_spiffe_call_fail(sc, SPIFFE_GRPC_INTERNAL,
                             "cannot start a transfer");
        return;
    }

    ngx_log_debug2(NGX_LOG_DEBUG_CORE, ngx_spiffe_source->log, 0,
                   "spiffe: %s on \"%V\"", sc->method,
                   &ngx_spiffe_source->address);
}


static int
ngx_spiffe_call_message(void *data, const unsigned char *msg, size_t len)
{
    ngx_spiffe_call_t  *sc = data;

    ngx_uint_t            level;
    ngx_spiffe_source_t  *src = ngx_spiffe_source;

    if (sc->apply(sc, msg, len) != NGX_OK) {
        ngx_spiffe_stats_count(NGX_SPIFFE_STAT_DISCARDED);
        return 0;
    }

    if (sc->state != ngx_spiffe_streaming && !sc->looping
        && !(sc->unary && sc->last_status == SPIFFE_GRPC_OK))
    {
        level = (sc->last_status == SPIFFE_GRPC_OK) ? NGX_LOG_INFO
                                                    : NGX_LOG_NOTICE;
        ngx_log_error(level, src->log, 0,
                      "spiffe: Workload API \"%V\": %s connected",
                      &src->address, sc->method);
    }

    sc->state = ngx_spiffe_streaming;
    sc->last_status = SPIFFE_GRPC_OK;
    sc->error[0] = '\0';

    if (!sc->looping) {
        sc->backoff = NGX_SPIFFE_BACKOFF_MIN;
    }

    sc->messages++;
    sc->ready = 1;

    src->last_message = ngx_time();
    ngx_spiffe_source_report(src);

    return 0;
}


static void
ngx_spiffe_call_done(void *data, CURL *easy, CURLcode result)
{
    ngx_spiffe_call_t  *sc = data;

    int                  status;
    time_t               lifetime;
    ngx_uint_t           level;
    ngx_msec_t           lived;
    spiffe_grpc_call_t  *call;
    ngx_spiffe_source_t  *src = ngx_spiffe_source;
    char                 message[SPIFFE_GRPC_MESSAGE_MAX];

    call = sc->call;
    sc->call = NULL;

    spiffe_grpc_call_done(call, result);

    status = call->status;
    ngx_cpystrn((u_char *) message, (u_char *) call->message,
                SPIFFE_GRPC_MESSAGE_MAX);

    ngx_spiffe_curl_remove(&src->curl, easy);
    spiffe_grpc_call_destroy(call);

    if (src->stopped || ngx_exiting || ngx_quit) {
        return;
    }

    if (status == SPIFFE_GRPC_OK && sc->messages) {

        if (sc->unary) {
            /*
             * ask again at half the token's remaining lifetime: at least a
             * second and at most a day later, whatever its exp says
             */
            lifetime = sc->expires - ngx_time();
            lifetime = ngx_min(ngx_max(lifetime / 2, 1),
                               NGX_SPIFFE_REFETCH_MAX);
            sc->state = ngx_spiffe_waiting;
            ngx_add_timer(&sc->timer, (ngx_msec_t) lifetime * 1000);
            return;
        }

        lived = ngx_current_msec - sc->started;

        if (lived >= NGX_SPIFFE_BACKOFF_MIN || !sc->quick) {
            if (lived >= NGX_SPIFFE_BACKOFF_MIN && sc->looping) {
                sc->backoff = NGX_SPIFFE_BACKOFF_MIN;
            }

            sc->quick = (lived < NGX_SPIFFE_BACKOFF_MIN);
            sc->looping = 0;

            ngx_log_error(NGX_LOG_INFO, src->log, 0,
                          "spiffe: Workload API \"%V\": %s ended, "
                          "reconnecting", &src->address, sc->method);
            ngx_spiffe_call_start(sc);
            return;
        }

        /* an agent that ends every stream at once gets no reconnect loop */

        level = sc->looping ? NGX_LOG_DEBUG : NGX_LOG_WARN;

        ngx_log_error(level, src->log, 0,
                      "spiffe: Workload API \"%V\": %s ended again "
                      "within %M ms of its start, reconnecting in %M ms",
                      &src->address, sc->method,
                      (ngx_msec_t) NGX_SPIFFE_BACKOFF_MIN, sc->backoff);

        sc->looping = 1;
        ngx_add_timer(&sc->timer, sc->backoff);
        sc->backoff = ngx_min(sc->backoff * 2, NGX_SPIFFE_BACKOFF_MAX);
        return;
    }

    if (status == SPIFFE_GRPC_OK) {
        status = SPIFFE_GRPC_UNAVAILABLE;
        ngx_cpystrn((u_char *) message,
                    (u_char *) (sc->unary ? "no usable answer"
                                          : "stream ended before any message"),
                    SPIFFE_GRPC_MESSAGE_MAX);
    }

    ngx_spiffe_call_fail(sc, status, message);
}


static void
ngx_spiffe_call_fail(ngx_spiffe_call_t *sc, int status, const char *message)
{
    ngx_spiffe_source_t  *src = ngx_spiffe_source;

    ngx_snprintf(sc->error, NGX_SPIFFE_ERR_LEN - 1, "%s failed: %s: %s%Z",
                 sc->method, spiffe_grpc_status_name(status), message);

    src->failures++;
    ngx_spiffe_stats_count(NGX_SPIFFE_STAT_FAILURES);

    if (sc->looping) {
        sc->backoff = NGX_SPIFFE_BACKOFF_MIN;
    }

    sc->quick = 0;
    sc->looping = 0;

    if (status == SPIFFE_GRPC_INVALID_ARGUMENT) {
        ngx_log_error(NGX_LOG_ALERT, src->log, 0,
                      "spiffe: Workload API \"%V\" refused %s as invalid "
                      "(INVALID_ARGUMENT: %s): this is a bug in ngx_spiffe "
                      "or in the agent; not retrying until nginx is "
                      "reloaded", &src->address, sc->method, message);
        sc->state = ngx_spiffe_stopped;
        sc->last_status = status;
        ngx_spiffe_source_report(src);
        return;
    }

    if (sc->state != ngx_spiffe_backoff || sc->last_status != status) {
        ngx_log_error(NGX_LOG_ERR, src->log, 0,
                      "spiffe: Workload API \"%V\": %s failed (%s: %s), "
                      "retrying with backoff", &src->address, sc->method,
                      spiffe_grpc_status_name(status), message);

    } else {
        ngx_log_debug4(NGX_LOG_DEBUG_CORE, src->log, 0,
                       "spiffe: %s still failing (%s: %s), retry in %M ms",
                       sc->method, spiffe_grpc_status_name(status), message,
                       sc->backoff);
    }

    sc->state = ngx_spiffe_backoff;
    sc->last_status = status;

    ngx_spiffe_source_report(src);

    ngx_add_timer(&sc->timer, sc->backoff);

    sc->backoff = ngx_min(sc->backoff * 2, NGX_SPIFFE_BACKOFF_MAX);
}


static void
ngx_spiffe_call_timer(ngx_event_t *ev)
{
    ngx_spiffe_call_t  *sc = ev->data;

    if (ngx_exiting || ngx_quit || ngx_spiffe_source == NULL
        || ngx_spiffe_source->stopped || sc->state == ngx_spiffe_stopped)
    {
        return;
    }

    ngx_spiffe_call_start(sc);
}


static void
ngx_spiffe_call_close(ngx_spiffe_call_t *sc)
{
    if (sc->call == NULL) {
        return;
    }

    ngx_spiffe_curl_remove(&ngx_spiffe_source->curl, sc->call->easy);
    spiffe_grpc_call_destroy(sc->call);
    sc->call = NULL;
}


static ngx_int_t
ngx_spiffe_apply_x509_svid(ngx_spiffe_call_t *sc, const unsigned char *msg,
    size_t len)
{
    const char                    *err;
    spiffe_snapshot_t             *snap;
    ngx_spiffe_source_t           *src = ngx_spiffe_source;
    spiffe_pb_x509_svid_resp_t     resp;
    const spiffe_snapshot_svid_t  *svid;

    if (spiffe_pb_decode_x509_svid_resp(msg, len, &resp, &err) != 0) {
        ngx_log_error(NGX_LOG_ERR, src->log, 0,
                      "spiffe: X509SVIDResponse discarded: malformed: %s",
                      err);
        return NGX_DECLINED;
    }

    snap = spiffe_workload_x509_snapshot(&resp, (char *) src->hint.data,
                                         src->hint.len, src->version + 1,
                                         ngx_time(), &err);

    spiffe_pb_free_x509_svid_resp(&resp);

    if (snap == NULL) {
        ngx_log_error(NGX_LOG_ERR, src->log, 0,
                      "spiffe: X509SVIDResponse discarded: %s%s%V%s", err,
                      src->hint.len ? " (spiffe_svid_hint \"" : "",
                      &src->hint, src->hint.len ? "\")" : "");
        return NGX_DECLINED;
    }

    src->version++;

    ngx_spiffe_stats_count(NGX_SPIFFE_STAT_SVID_UPDATES);

    svid = spiffe_snapshot_svid(snap);

    ngx_log_error(NGX_LOG_INFO, src->log, 0,
                  "spiffe: SVID \"%s\" serial %s, version %uL",
                  svid->id, svid->serial, src->version);

    ngx_spiffe_source_no_x509(src, spiffe_snapshot_no_x509(snap));

    ngx_spiffe_identity_set_svid(snap);

    return NGX_OK;
}


/* said once per change, not with every message */

static void
ngx_spiffe_source_no_x509(ngx_spiffe_source_t *src, const char *tds)
{
    size_t   len;
    u_char  *p;

    len = ngx_strlen(tds);

    if (len == src->no_x509.len
        && (len == 0 || ngx_strncmp(src->no_x509.data, tds, len) == 0))
    {
        return;
    }

    p = NULL;

    if (len != 0) {
        p = ngx_alloc(len, src->log);
        if (p == NULL) {
            return;
        }

        ngx_memcpy(p, tds, len);
    }

    ngx_free(src->no_x509.data);
    src->no_x509.data = p;
    src->no_x509.len = len;

    if (len == 0) {
        ngx_log_error(NGX_LOG_NOTICE, src->log, 0,
                      "spiffe: every federated bundle from the Workload "
                      "API has X.509 authorities again");
        return;
    }

    ngx_log_error(NGX_LOG_NOTICE, src->log, 0,
                  "spiffe: no X.509 authority for %V (empty federated "
                  "bundle from the Workload API): its X.509-SVIDs are "
                  "refused", &src->no_x509);
}


static ngx_int_t
ngx_spiffe_apply_jwt_bundles(ngx_spiffe_call_t *sc, const unsigned char *msg,
    size_t len)
{
    const char                    *err;
    spiffe_jwt_bundles_t          *set;
    ngx_spiffe_source_t           *src = ngx_spiffe_source;
    spiffe_pb_jwt_bundles_resp_t   resp;

    if (spiffe_pb_decode_jwt_bundles_resp(msg, len, &resp, &err) != 0) {
        ngx_log_error(NGX_LOG_ERR, src->log, 0,
                      "spiffe: JWTBundlesResponse discarded: malformed: %s",
                      err);
        return NGX_DECLINED;
    }

    set = spiffe_workload_jwt_bundles(&resp, &err);

    spiffe_pb_free_jwt_bundles_resp(&resp);

    if (set == NULL) {
        ngx_log_error(NGX_LOG_ERR, src->log, 0,
                      "spiffe: JWTBundlesResponse discarded: %s", err);
        return NGX_DECLINED;
    }

    ngx_log_error(NGX_LOG_INFO, src->log, 0,
                  "spiffe: JWT bundles of %uz trust domain(s)",
                  spiffe_jwt_bundles_count(set));

    ngx_spiffe_identity_set_jwt_bundles(set);

    return NGX_OK;
}


static ngx_int_t
ngx_spiffe_apply_jwt_svid(ngx_spiffe_call_t *sc, const unsigned char *msg,
    size_t len)
{
    u_char                      *p;
    time_t                       exp;
    const char                  *err;
    spiffe_id_t                  id;
    ngx_spiffe_source_t         *src = ngx_spiffe_source;
    spiffe_pb_jwt_svid_resp_t    resp;
    const spiffe_pb_jwt_svid_t  *svid;

    if (spiffe_pb_decode_jwt_svid_resp(msg, len, &resp, &err) != 0) {
        ngx_log_error(NGX_LOG_ERR, src->log, 0,
                      "spiffe: JWTSVIDResponse discarded: malformed: %s",
                      err);
        return NGX_DECLINED;
    }

    /* the first token, or the one of our SVID's hint */

    svid = spiffe_workload_jwt_svid(&resp, (char *) src->hint.data,
                                    src->hint.len);
    exp = 0;
    err = NULL;

    if (svid == NULL) {
        err = "no JWT-SVID for our hint";

    } else if (spiffe_id_parse((char *) svid->spiffe_id.data,
                               svid->spiffe_id.len, &id, &err)
               != 0)
    {
        /* it is logged below: no text from the agent that is not an ID */
        err = "its spiffe_id is not a SPIFFE ID";

    } else if (svid->svid.len == 0 || svid->svid.len > SPIFFE_JWT_MAX_LEN) {
        err = "no token or a token too long";

    } else if (spiffe_jwt_peek_exp((char *) svid->svid.data, svid->svid.len,
                                   &exp, &err)
               == 0
               && exp <= ngx_time())
    {
        err = "the token has expired";
    }

    if (err) {
        spiffe_pb_free_jwt_svid_resp(&resp);
        ngx_log_error(NGX_LOG_ERR, src->log, 0,
                      "spiffe: JWTSVIDResponse for audience \"%V\" "
                      "discarded: %s", &sc->audience, err);
        return NGX_DECLINED;
    }

    p = ngx_alloc(svid->svid.len, src->log);
    if (p == NULL) {
        spiffe_pb_free_jwt_svid_resp(&resp);
        return NGX_DECLINED;
    }

    ngx_memcpy(p, svid->svid.data, svid->svid.len);

    ngx_spiffe_source_token_free(sc);
    sc->token.data = p;
    sc->token.len = svid->svid.len;
    sc->expires = exp;

    ngx_log_error(NGX_LOG_INFO, src->log, 0,
                  "spiffe: JWT-SVID \"%*s\" for audience \"%V\", "
                  "expires in %T s", svid->spiffe_id.len,
                  svid->spiffe_id.data, &sc->audience, exp - ngx_time());

    spiffe_pb_free_jwt_svid_resp(&resp);

    return NGX_OK;
}


/* the token is a bearer credential: wiped before it is freed */

static void
ngx_spiffe_source_token_free(ngx_spiffe_call_t *sc)
{
    if (sc->token.data != NULL) {
        ngx_explicit_memzero(sc->token.data, sc->token.len);
        ngx_free(sc->token.data);
    }

    ngx_str_null(&sc->token);
}


static int
ngx_spiffe_source_ready(void *data)
{
    ngx_spiffe_source_t  *src = data;

    ngx_uint_t  i;

    for (i = 0; i < src->ncalls; i++) {
        if (!src->calls[i].ready
            && src->calls[i].state != ngx_spiffe_stopped)
        {
            return 0;
        }
    }

    return 1;
}


/* the state of the X.509 stream, for status */

static void
ngx_spiffe_source_report(ngx_spiffe_source_t *src)
{
    ngx_spiffe_call_t  *sc = &src->calls[0];

    ngx_spiffe_identity_report(ngx_spiffe_state_names[sc->state], sc->error,
                               src->failures, src->last_message);
}
