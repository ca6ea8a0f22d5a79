
/*
 * Copyright (C) ngx_spiffe developers
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>

#include <ngx_spiffe.h>
#include <spiffe_grpc.h>
#include <spiffe_pb.h>


/*
 * The worker's FetchX509SVID stream: each worker holds its own, since the
 * agent attests the process that connects.  Every message is the whole
 * state and becomes the worker's snapshot once it passes the checks.
 */


#define NGX_SPIFFE_BACKOFF_MIN   1000
#define NGX_SPIFFE_BACKOFF_MAX   30000


typedef enum {
    ngx_spiffe_connecting = 0,
    ngx_spiffe_streaming,
    ngx_spiffe_backoff,
    ngx_spiffe_stopped
} ngx_spiffe_state_e;


typedef struct {
    ngx_spiffe_curl_t       curl;
    spiffe_grpc_addr_t      addr;
    spiffe_grpc_call_t     *call;
    ngx_event_t             retry;
    ngx_msec_t              backoff;
    ngx_spiffe_state_e      state;
    int                     last_status;
    ngx_uint_t              messages;
    uint64_t                version;
    ngx_str_t               address;
    ngx_str_t               hint;
    spiffe_snapshot_t      *snapshot;
    ngx_log_t              *log;
} ngx_spiffe_source_t;


static void ngx_spiffe_source_connect(ngx_spiffe_source_t *src);
static int ngx_spiffe_source_message(void *data, const unsigned char *msg,
    size_t len);
static void ngx_spiffe_source_done(void *data, CURL *easy, CURLcode result);
static void ngx_spiffe_source_fail(ngx_spiffe_source_t *src, int status,
    const char *message);
static void ngx_spiffe_source_retry(ngx_event_t *ev);
static int ngx_spiffe_source_ready(void *data);
static void ngx_spiffe_source_close(ngx_spiffe_source_t *src);


static ngx_spiffe_source_t  *ngx_spiffe_source;


spiffe_snapshot_t *
ngx_spiffe_snapshot(void)
{
    return ngx_spiffe_source ? ngx_spiffe_source->snapshot : NULL;
}


ngx_int_t
ngx_spiffe_source_start(ngx_cycle_t *cycle, ngx_spiffe_conf_t *scf)
{
    const char           *err;
    ngx_spiffe_source_t  *src;

    src = ngx_pcalloc(cycle->pool, sizeof(ngx_spiffe_source_t));
    if (src == NULL) {
        return NGX_ERROR;
    }

    if (spiffe_grpc_parse_address((char *) scf->address.data,
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
    src->backoff = NGX_SPIFFE_BACKOFF_MIN;
    src->last_status = SPIFFE_GRPC_OK;

    src->retry.handler = ngx_spiffe_source_retry;
    src->retry.data = src;
    src->retry.log = cycle->log;
    src->retry.cancelable = 1;

    if (ngx_spiffe_curl_init(&src->curl, cycle->log) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_spiffe_source = src;

    ngx_spiffe_source_connect(src);

    /* no connection is accepted yet: waiting here fails no handshake */

    ngx_spiffe_curl_run(&src->curl, scf->startup_timeout, &src->retry,
                        ngx_spiffe_source_ready, src);

    if (src->snapshot == NULL) {
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
    ngx_spiffe_source_t  *src = ngx_spiffe_source;

    if (src == NULL) {
        return;
    }

    src->state = ngx_spiffe_stopped;

    ngx_spiffe_source_close(src);
    ngx_spiffe_curl_cleanup(&src->curl);

    if (src->retry.timer_set) {
        ngx_del_timer(&src->retry);
    }

    if (src->snapshot) {
        spiffe_snapshot_unref(src->snapshot);
        src->snapshot = NULL;
    }

    ngx_spiffe_source = NULL;
}


static void
ngx_spiffe_source_connect(ngx_spiffe_source_t *src)
{
    const char               *err;
    spiffe_grpc_call_conf_t   conf;

    ngx_memzero(&conf, sizeof(spiffe_grpc_call_conf_t));

    conf.addr = &src->addr;
    conf.method = "FetchX509SVID";
    conf.on_message = ngx_spiffe_source_message;
    conf.data = src;

    src->messages = 0;

    src->call = spiffe_grpc_call_create(&conf, &err);
    if (src->call == NULL) {
        ngx_spiffe_source_fail(src, SPIFFE_GRPC_INTERNAL, err);
        return;
    }

    if (ngx_spiffe_curl_add(&src->curl, src->call->easy,
                            ngx_spiffe_source_done, src)
        != NGX_OK)
    {
        spiffe_grpc_call_destroy(src->call);
        src->call = NULL;
        ngx_spiffe_source_fail(src, SPIFFE_GRPC_INTERNAL,
                               "cannot start a transfer");
        return;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_CORE, src->log, 0,
                   "spiffe: FetchX509SVID on \"%V\"", &src->address);
}


static int
ngx_spiffe_source_message(void *data, const unsigned char *msg, size_t len)
{
    ngx_spiffe_source_t  *src = data;

    ngx_uint_t                     level;
    const char                    *err;
    spiffe_snapshot_t             *snap;
    spiffe_pb_x509_svid_resp_t     resp;
    const spiffe_snapshot_svid_t  *svid;

    if (spiffe_pb_decode_x509_svid_resp(msg, len, &resp, &err) != 0) {
        ngx_log_error(NGX_LOG_ERR, src->log, 0,
                      "spiffe: X509SVIDResponse discarded: malformed: %s",
                      err);
        return 0;
    }

    snap = spiffe_snapshot_from_x509_svid_resp(&resp,
                                               (char *) src->hint.data,
                                               src->hint.len,
                                               src->version + 1, ngx_time(),
                                               &err);

    spiffe_pb_free_x509_svid_resp(&resp);

    if (snap == NULL) {
        ngx_log_error(NGX_LOG_ERR, src->log, 0,
                      "spiffe: X509SVIDResponse discarded: %s", err);
        return 0;
    }

    if (src->state != ngx_spiffe_streaming) {
        level = (src->last_status == SPIFFE_GRPC_OK) ? NGX_LOG_INFO
                                                     : NGX_LOG_NOTICE;
        ngx_log_error(level, src->log, 0,
                      "spiffe: Workload API \"%V\" connected",
                      &src->address);
    }

    src->state = ngx_spiffe_streaming;
    src->last_status = SPIFFE_GRPC_OK;
    src->backoff = NGX_SPIFFE_BACKOFF_MIN;
    src->messages++;
    src->version++;

    svid = spiffe_snapshot_svid(snap);

    ngx_log_error(NGX_LOG_INFO, src->log, 0,
                  "spiffe: SVID \"%s\" serial %s, version %uL",
                  svid->id, svid->serial, src->version);

    if (src->snapshot) {
        spiffe_snapshot_unref(src->snapshot);
    }

    src->snapshot = snap;

    return 0;
}


static void
ngx_spiffe_source_done(void *data, CURL *easy, CURLcode result)
{
    ngx_spiffe_source_t  *src = data;

    int                  status;
    ngx_uint_t           messages;
    spiffe_grpc_call_t  *call;
    char                 message[SPIFFE_GRPC_MESSAGE_MAX];

    call = src->call;
    src->call = NULL;

    spiffe_grpc_call_done(call, result);

    status = call->status;
    ngx_cpystrn((u_char *) message, (u_char *) call->message,
                SPIFFE_GRPC_MESSAGE_MAX);

    ngx_spiffe_curl_remove(&src->curl, easy);
    spiffe_grpc_call_destroy(call);

    if (src->state == ngx_spiffe_stopped || ngx_exiting || ngx_quit) {
        return;
    }

    messages = src->messages;

    if (status == SPIFFE_GRPC_OK && messages) {
        ngx_log_error(NGX_LOG_INFO, src->log, 0,
                      "spiffe: Workload API stream ended, reconnecting");
        src->state = ngx_spiffe_connecting;
        ngx_spiffe_source_connect(src);
        return;
    }

    if (status == SPIFFE_GRPC_OK) {
        status = SPIFFE_GRPC_UNAVAILABLE;
        ngx_cpystrn((u_char *) message,
                    (u_char *) "stream ended before any message",
                    SPIFFE_GRPC_MESSAGE_MAX);
    }

    ngx_spiffe_source_fail(src, status, message);
}


static void
ngx_spiffe_source_fail(ngx_spiffe_source_t *src, int status,
    const char *message)
{
    if (status == SPIFFE_GRPC_INVALID_ARGUMENT) {
        ngx_log_error(NGX_LOG_ALERT, src->log, 0,
                      "spiffe: Workload API \"%V\" refused FetchX509SVID as "
                      "invalid (INVALID_ARGUMENT: %s): this is a bug in "
                      "ngx_spiffe or in the agent; not retrying until "
                      "nginx is reloaded", &src->address, message);
        src->state = ngx_spiffe_stopped;
        src->last_status = status;
        return;
    }

    if (src->state != ngx_spiffe_backoff || src->last_status != status) {
        ngx_log_error(NGX_LOG_ERR, src->log, 0,
                      "spiffe: Workload API \"%V\" failed (%s: %s), "
                      "retrying with backoff",
                      &src->address, spiffe_grpc_status_name(status),
                      message);

    } else {
        ngx_log_debug3(NGX_LOG_DEBUG_CORE, src->log, 0,
                       "spiffe: Workload API still failing (%s: %s), "
                       "retry in %M ms",
                       spiffe_grpc_status_name(status), message,
                       src->backoff);
    }

    src->state = ngx_spiffe_backoff;
    src->last_status = status;

    ngx_add_timer(&src->retry, src->backoff);

    src->backoff = ngx_min(src->backoff * 2, NGX_SPIFFE_BACKOFF_MAX);
}


static void
ngx_spiffe_source_retry(ngx_event_t *ev)
{
    ngx_spiffe_source_t  *src = ev->data;

    if (ngx_exiting || ngx_quit || src->state == ngx_spiffe_stopped) {
        return;
    }

    ngx_spiffe_source_connect(src);
}


static int
ngx_spiffe_source_ready(void *data)
{
    ngx_spiffe_source_t  *src = data;

    return src->snapshot != NULL || src->state == ngx_spiffe_stopped;
}


static void
ngx_spiffe_source_close(ngx_spiffe_source_t *src)
{
    if (src->call == NULL) {
        return;
    }

    ngx_spiffe_curl_remove(&src->curl, src->call->easy);
    spiffe_grpc_call_destroy(src->call);
    src->call = NULL;
}
