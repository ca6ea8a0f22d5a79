
/*
 * Copyright (C) ngx_spiffe developers
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <jansson.h>

#include <ngx_http_spiffe.h>


/*
 * spiffe_status: the SVID each worker holds, the bundles this worker
 * trusts, the source's state and the counters of all workers, as JSON
 * (jansson) or in the Prometheus text format; or, for readiness probes,
 * whether every worker holds a valid SVID and every configured trust
 * domain has a bundle.  Nothing secret is in it.
 */


/* the counters' part of the Prometheus page, then per worker and domain */
#define NGX_HTTP_SPIFFE_PROM_BASE    (16 * 1024)
#define NGX_HTTP_SPIFFE_PROM_WORKER  (3 * (SPIFFE_ID_MAX_LEN + 256))
#define NGX_HTTP_SPIFFE_PROM_TD      (2 * (SPIFFE_TD_MAX_LEN + 128))


static char *ngx_http_spiffe_status_text(ngx_http_request_t *r,
    ngx_spiffe_stats_t *st, ngx_uint_t page, ngx_uint_t *status);
static json_t *ngx_http_spiffe_status_json(ngx_spiffe_stats_t *st);
static json_t *ngx_http_spiffe_status_ready(ngx_uint_t *status);
static json_t *ngx_http_spiffe_status_unready_workers(void);
static json_t *ngx_http_spiffe_status_unready_domains(void);
static json_t *ngx_http_spiffe_status_workers(void);
static json_t *ngx_http_spiffe_status_svids(void);
static const char *ngx_http_spiffe_status_source(const char *td, size_t len);
static json_t *ngx_http_spiffe_status_bundles(void);
static json_t *ngx_http_spiffe_status_refused(ngx_atomic_t *refused);
static json_t *ngx_http_spiffe_status_string(const char *s);
static u_char *ngx_http_spiffe_status_prometheus(ngx_http_request_t *r,
    ngx_spiffe_stats_t *st, u_char *p, u_char *last);
static u_char *ngx_http_spiffe_status_family(u_char *p, u_char *last,
    const char *name, const char *type, const char *help);
static size_t ngx_http_spiffe_status_prometheus_len(void);


static ngx_str_t  ngx_http_spiffe_json_type = ngx_string("application/json");
static ngx_str_t  ngx_http_spiffe_prom_type =
    ngx_string("text/plain; version=0.0.4; charset=utf-8");


ngx_int_t
ngx_http_spiffe_status_handler(ngx_http_request_t *r)
{
    char                        *json;
    u_char                      *p;
    size_t                       len;
    ngx_int_t                    rc;
    ngx_uint_t                   status;
    ngx_buf_t                   *b;
    ngx_chain_t                  out;
    ngx_spiffe_stats_t          *st;
    ngx_http_spiffe_loc_conf_t  *slcf;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    st = ngx_spiffe_stats_get();
    if (st == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    slcf = ngx_http_get_module_loc_conf(r, ngx_http_spiffe_module);

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    status = NGX_HTTP_OK;

    if (slcf->status == NGX_HTTP_SPIFFE_STATUS_PROMETHEUS) {
        len = ngx_http_spiffe_status_prometheus_len();

        p = ngx_pnalloc(r->pool, len);
        if (p == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        b->pos = p;
        b->last = ngx_http_spiffe_status_prometheus(r, st, p, p + len);
        r->headers_out.content_type = ngx_http_spiffe_prom_type;

    } else {
        json = ngx_http_spiffe_status_text(r, st, slcf->status, &status);
        if (json == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        len = ngx_strlen(json);

        p = ngx_pnalloc(r->pool, len + 1);
        if (p == NULL) {
            free(json);
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        b->pos = p;
        b->last = ngx_cpymem(p, json, len);
        *b->last++ = LF;
        free(json);

        r->headers_out.content_type = ngx_http_spiffe_json_type;
    }

    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.status = status;
    r->headers_out.content_length_n = b->last - b->pos;

    b->memory = 1;
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


/* the JSON page or the readiness answer */

static char *
ngx_http_spiffe_status_text(ngx_http_request_t *r, ngx_spiffe_stats_t *st,
    ngx_uint_t page, ngx_uint_t *status)
{
    char    *text;
    json_t  *root;

    root = (page == NGX_HTTP_SPIFFE_STATUS_READY)
           ? ngx_http_spiffe_status_ready(status)
           : ngx_http_spiffe_status_json(st);

    if (root == NULL) {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "spiffe: json_pack() failed");
        return NULL;
    }

    text = json_dumps(root, JSON_COMPACT);
    json_decref(root);

    return text;
}


static json_t *
ngx_http_spiffe_status_json(ngx_spiffe_stats_t *st)
{
    ngx_atomic_t  *c;

    c = st->counters;

    return json_pack("{s:I, s:o, s:o, s:o, s:{s:{s:I, s:o}, s:{s:I, s:o},"
                     " s:I}, s:{s:I, s:I, s:I, s:I},"
                     " s:{s:I, s:I, s:I, s:I, s:I, s:I}, s:{s:I, s:I, s:I}}",
        "pid", (json_int_t) ngx_pid,
        "workers", ngx_http_spiffe_status_workers(),
        "svids", ngx_http_spiffe_status_svids(),
        "bundles", ngx_http_spiffe_status_bundles(),
        "handshakes",
            "client",
                "verified", (json_int_t) c[NGX_SPIFFE_STAT_CLIENT_VERIFIED],
                "refused", ngx_http_spiffe_status_refused(
                                         st->refused[NGX_SPIFFE_SIDE_CLIENT]),
            "upstream",
                "verified", (json_int_t) c[NGX_SPIFFE_STAT_UPSTREAM_VERIFIED],
                "refused", ngx_http_spiffe_status_refused(
                                       st->refused[NGX_SPIFFE_SIDE_UPSTREAM]),
            "resumed", (json_int_t) c[NGX_SPIFFE_STAT_RESUMED],
        "access",
            "allowed", (json_int_t) c[NGX_SPIFFE_STAT_ALLOWED],
            "denied", (json_int_t) c[NGX_SPIFFE_STAT_DENIED],
            "no_verified_id", (json_int_t) c[NGX_SPIFFE_STAT_DENIED_NO_ID],
            "dry_run_denied", (json_int_t) c[NGX_SPIFFE_STAT_DRY_RUN_DENIED],
        "jwt",
            "valid", (json_int_t) c[NGX_SPIFFE_STAT_JWT_VALID],
            "invalid", (json_int_t) c[NGX_SPIFFE_STAT_JWT_INVALID],
            "missing", (json_int_t) c[NGX_SPIFFE_STAT_JWT_MISSING],
            "allowed", (json_int_t) c[NGX_SPIFFE_STAT_JWT_ALLOWED],
            "denied", (json_int_t) c[NGX_SPIFFE_STAT_JWT_DENIED],
            "dry_run_denied",
                (json_int_t) c[NGX_SPIFFE_STAT_JWT_DRY_RUN_DENIED],
        "source",
            "svid_updates", (json_int_t) c[NGX_SPIFFE_STAT_SVID_UPDATES],
            "messages_discarded", (json_int_t) c[NGX_SPIFFE_STAT_DISCARDED],
            "failures", (json_int_t) c[NGX_SPIFFE_STAT_FAILURES]);
}


/* 200 and {"ready":true}, or 503 and what is missing */

static json_t *
ngx_http_spiffe_status_ready(ngx_uint_t *status)
{
    json_t  *workers, *domains;

    workers = ngx_http_spiffe_status_unready_workers();
    domains = ngx_http_spiffe_status_unready_domains();

    if (workers && domains && json_array_size(workers) == 0
        && json_array_size(domains) == 0)
    {
        json_decref(workers);
        json_decref(domains);

        return json_pack("{s:b}", "ready", 1);
    }

    *status = NGX_HTTP_SERVICE_UNAVAILABLE;

    return json_pack("{s:b, s:o, s:o}", "ready", 0,
                     "workers_without_svid", workers,
                     "trust_domains_without_bundle", domains);
}


/* the workers that need an SVID and hold none, or an expired one */

static json_t *
ngx_http_spiffe_status_unready_workers(void)
{
    json_t                     *workers, *w;
    ngx_uint_t                  i, n;
    ngx_core_conf_t            *ccf;
    ngx_spiffe_worker_stats_t   ws;

    workers = json_array();

    if (workers == NULL || !ngx_spiffe_has_source((ngx_cycle_t *) ngx_cycle))
    {
        return workers;
    }

    ccf = (ngx_core_conf_t *) ngx_get_conf(ngx_cycle->conf_ctx,
                                           ngx_core_module);

    n = (ngx_process == NGX_PROCESS_SINGLE) ? 1 : ccf->worker_processes;
    n = ngx_min(n, NGX_SPIFFE_MAX_WORKERS);

    for (i = 0; i < n; i++) {

        /* a worker that has not reported yet has no SVID either */

        if (ngx_spiffe_stats_worker(i, &ws) != NGX_OK) {
            w = json_pack("{s:I, s:s}", "worker", (json_int_t) i,
                          "svid", "none");

        } else if (ws.id[0] == '\0') {
            w = json_pack("{s:I, s:I, s:s, s:s}", "worker", (json_int_t) i,
                          "pid", (json_int_t) ws.pid, "svid", "none",
                          "source", ws.state);

        } else if (ws.not_after <= ngx_time()) {
            w = json_pack("{s:I, s:I, s:s, s:s, s:I}",
                          "worker", (json_int_t) i,
                          "pid", (json_int_t) ws.pid, "svid", "expired",
                          "id", ws.id, "not_after", (json_int_t) ws.not_after);

        } else {
            continue;
        }

        json_array_append_new(workers, w);
    }

    return workers;
}


/* spiffe_bundle and spiffe_federate domains without a bundle here */

static json_t *
ngx_http_spiffe_status_unready_domains(void)
{
    json_t                   *domains;
    ngx_uint_t                i;
    ngx_spiffe_conf_t        *scf;
    ngx_spiffe_trust_conf_t  *tc;

    domains = json_array();
    scf = ngx_spiffe_get_conf((ngx_cycle_t *) ngx_cycle);

    if (domains == NULL || scf->trust == NULL) {
        return domains;
    }

    tc = scf->trust->elts;

    for (i = 0; i < scf->trust->nelts; i++) {
        if (!ngx_spiffe_identity_trusted(i)) {
            json_array_append_new(domains,
                                  json_stringn((char *) tc[i].td.data,
                                               tc[i].td.len));
        }
    }

    return domains;
}


static json_t *
ngx_http_spiffe_status_workers(void)
{
    json_t                     *workers, *svid;
    ngx_uint_t                  i;
    ngx_spiffe_worker_stats_t   ws;

    workers = json_array();

    for (i = 0; workers && i < NGX_SPIFFE_MAX_WORKERS; i++) {

        if (ngx_spiffe_stats_worker(i, &ws) != NGX_OK) {
            continue;
        }

        svid = ws.id[0] == '\0'
               ? json_null()
               : json_pack("{s:s, s:s, s:o, s:I, s:I, s:I}",
                           "id", ws.id, "serial", ws.serial,
                           "hint", ngx_http_spiffe_status_string(ws.hint),
                           "not_after", (json_int_t) ws.not_after,
                           "updated", (json_int_t) ws.updated,
                           "seconds_left",
                           (json_int_t) (ws.not_after - ngx_time()));

        json_array_append_new(workers,
            json_pack("{s:I, s:I, s:o, s:{s:s, s:I, s:I, s:o, s:I}}",
                      "worker", (json_int_t) i,
                      "pid", (json_int_t) ws.pid,
                      "svid", svid,
                      "source",
                          "state", ws.state,
                          "version", (json_int_t) ws.version,
                          "last_message", (json_int_t) ws.last_message,
                          "last_error",
                          ngx_http_spiffe_status_string(ws.last_error),
                          "failures", (json_int_t) ws.failures));
    }

    return workers;
}


/*
 * Each choice of spiffe_svid and spiffe_proxy_svid, by its name, and the
 * SVID it stands for in the worker that answers: null when the current
 * X509SVIDResponse has none
 */

static json_t *
ngx_http_spiffe_status_svids(void)
{
    json_t                         *svids, *s;
    ngx_uint_t                      i;
    ngx_spiffe_conf_t              *scf;
    spiffe_snapshot_t              *snap;
    ngx_spiffe_svid_t             **choice;
    const spiffe_snapshot_svid_t   *svid;

    svids = json_object();
    scf = ngx_spiffe_get_conf((ngx_cycle_t *) ngx_cycle);
    snap = ngx_spiffe_snapshot();

    if (svids == NULL || scf->svids == NULL) {
        return svids;
    }

    choice = scf->svids->elts;

    for (i = 0; i < scf->svids->nelts; i++) {
        svid = ngx_spiffe_ssl_svid(snap, choice[i]);

        s = (svid == NULL)
            ? json_null()
            : json_pack("{s:s, s:s, s:o, s:I}",
                        "id", svid->id, "serial", svid->serial,
                        "hint", ngx_http_spiffe_status_string(svid->hint),
                        "not_after", (json_int_t) svid->not_after);

        json_object_setn_new(svids, (char *) choice[i]->name.data,
                             choice[i]->name.len, s);
    }

    return svids;
}


/* where a trust domain's bundle comes from: its directive, else the source */

static const char *
ngx_http_spiffe_status_source(const char *td, size_t len)
{
    ngx_uint_t                i;
    ngx_spiffe_conf_t        *scf;
    ngx_spiffe_trust_conf_t  *tc;

    scf = ngx_spiffe_get_conf((ngx_cycle_t *) ngx_cycle);

    tc = scf->trust ? scf->trust->elts : NULL;

    for (i = 0; tc && i < scf->trust->nelts; i++) {
        if (tc[i].td.len == len && ngx_strncmp(tc[i].td.data, td, len) == 0) {
            return tc[i].url.len ? "spiffe_federate" : "spiffe_bundle";
        }
    }

    return scf->svid_dir.dir.len ? "spiffe_svid_dir" : "workload_api";
}


/* the bundles of the worker that answers */

static json_t *
ngx_http_spiffe_status_bundles(void)
{
    char                  *td;
    json_t                *bundles, *b;
    size_t                 i, len, ncas;
    uint64_t               seq;
    spiffe_jwks_t         *jwks;
    spiffe_snapshot_t     *snap;
    spiffe_jwt_bundles_t  *jwt;

    bundles = json_object();
    snap = ngx_spiffe_snapshot();
    jwt = ngx_spiffe_jwt_bundles();

    for (i = 0; bundles && snap && i < spiffe_snapshot_ntds(snap); i++) {
        td = (char *) spiffe_snapshot_td(snap, i, &len, &ncas);

        json_object_setn_new(bundles, td, len,
                             json_pack("{s:I, s:I, s:s}",
                                       "x509_authorities", (json_int_t) ncas,
                                       "updated", (json_int_t)
                                       ngx_spiffe_identity_bundle_updated(td,
                                                                         len),
                                       "source",
                                       ngx_http_spiffe_status_source(td,
                                                                     len)));
    }

    for (i = 0; bundles && jwt && i < spiffe_jwt_bundles_count(jwt); i++) {
        td = (char *) spiffe_jwt_bundles_get(jwt, i)->td;
        len = spiffe_jwt_bundles_get(jwt, i)->td_len;
        jwks = spiffe_jwt_bundles_get(jwt, i)->jwks;

        b = json_object_getn(bundles, td, len);

        if (b == NULL) {
            b = json_pack("{s:s}", "source",
                          ngx_http_spiffe_status_source(td, len));
            json_object_setn_new(bundles, td, len, b);
        }

        json_object_set_new(b, "jwt_keys",
                            json_integer((json_int_t) spiffe_jwks_nkeys(jwks)));

        if (spiffe_jwks_sequence(jwks, &seq) == 0) {
            json_object_set_new(b, "spiffe_sequence",
                                json_integer((json_int_t) seq));
        }
    }

    return bundles;
}


static json_t *
ngx_http_spiffe_status_refused(ngx_atomic_t *refused)
{
    json_t      *o;
    ngx_uint_t   i;

    o = json_object();

    for (i = 0; o && i < NGX_SPIFFE_REASONS; i++) {
        json_object_set_new(o, spiffe_err_kind_label(i),
                            json_integer((json_int_t) refused[i]));
    }

    return o;
}


/* text from the agent or cut to fit a slot may not be UTF-8: escape it */

static json_t *
ngx_http_spiffe_status_string(const char *s)
{
    u_char  *p, *d;
    json_t  *j;
    u_char   buf[4 * 256 + 1];

    j = json_string(s);
    if (j) {
        return j;
    }

    d = buf;

    for (p = (u_char *) s; *p && d < buf + sizeof(buf) - 5; p++) {
        d = (*p < 0x80) ? (*d = *p, d + 1) : ngx_sprintf(d, "\\x%02xd", *p);
    }

    *d = '\0';

    return json_string((char *) buf);
}


static u_char *
ngx_http_spiffe_status_prometheus(ngx_http_request_t *r,
    ngx_spiffe_stats_t *st, u_char *p, u_char *last)
{
    size_t                      len, ncas;
    const char                 *td;
    ngx_uint_t                  i, side;
    ngx_atomic_t               *c;
    spiffe_snapshot_t          *snap;
    ngx_spiffe_worker_stats_t   ws;

    static const char  *sides[] = { "client", "upstream" };

    c = st->counters;

    p = ngx_http_spiffe_status_family(p, last, "spiffe_handshakes_total",
            "counter", "TLS peers checked per SPIFFE, by side and result.");

    for (side = 0; side < 2; side++) {
        p = ngx_slprintf(p, last,
                         "spiffe_handshakes_total{side=\"%s\","
                         "result=\"verified\"} %uA\n", sides[side],
                         c[side == 0 ? NGX_SPIFFE_STAT_CLIENT_VERIFIED
                                     : NGX_SPIFFE_STAT_UPSTREAM_VERIFIED]);

        for (i = 0; i < NGX_SPIFFE_REASONS; i++) {
            p = ngx_slprintf(p, last,
                             "spiffe_handshakes_total{side=\"%s\","
                             "result=\"refused\",reason=\"%s\"} %uA\n",
                             sides[side], spiffe_err_kind_label(i),
                             st->refused[side][i]);
        }
    }

    p = ngx_http_spiffe_status_family(p, last,
            "spiffe_sessions_resumed_total", "counter",
            "TLS sessions resumed with their verified SPIFFE ID.");
    p = ngx_slprintf(p, last, "spiffe_sessions_resumed_total %uA\n",
                     c[NGX_SPIFFE_STAT_RESUMED]);

    p = ngx_http_spiffe_status_family(p, last,
            "spiffe_access_decisions_total", "counter",
            "spiffe_allow/deny and spiffe_jwt_allow/deny decisions.");
    p = ngx_slprintf(p, last,
            "spiffe_access_decisions_total{kind=\"x509\",decision=\"allowed\"}"
            " %uA\n"
            "spiffe_access_decisions_total{kind=\"x509\",decision=\"denied\"}"
            " %uA\n"
            "spiffe_access_decisions_total{kind=\"x509\","
            "decision=\"no_verified_id\"} %uA\n"
            "spiffe_access_decisions_total{kind=\"x509\","
            "decision=\"dry_run_denied\"} %uA\n"
            "spiffe_access_decisions_total{kind=\"jwt\",decision=\"allowed\"}"
            " %uA\n"
            "spiffe_access_decisions_total{kind=\"jwt\",decision=\"denied\"}"
            " %uA\n"
            "spiffe_access_decisions_total{kind=\"jwt\","
            "decision=\"dry_run_denied\"} %uA\n",
            c[NGX_SPIFFE_STAT_ALLOWED], c[NGX_SPIFFE_STAT_DENIED],
            c[NGX_SPIFFE_STAT_DENIED_NO_ID], c[NGX_SPIFFE_STAT_DRY_RUN_DENIED],
            c[NGX_SPIFFE_STAT_JWT_ALLOWED], c[NGX_SPIFFE_STAT_JWT_DENIED],
            c[NGX_SPIFFE_STAT_JWT_DRY_RUN_DENIED]);

    p = ngx_http_spiffe_status_family(p, last,
            "spiffe_jwt_validations_total", "counter",
            "JWT-SVIDs of requests, by result.");
    p = ngx_slprintf(p, last,
            "spiffe_jwt_validations_total{result=\"valid\"} %uA\n"
            "spiffe_jwt_validations_total{result=\"invalid\"} %uA\n"
            "spiffe_jwt_validations_total{result=\"missing\"} %uA\n",
            c[NGX_SPIFFE_STAT_JWT_VALID], c[NGX_SPIFFE_STAT_JWT_INVALID],
            c[NGX_SPIFFE_STAT_JWT_MISSING]);

    p = ngx_http_spiffe_status_family(p, last, "spiffe_svid_updates_total",
            "counter", "X.509-SVID messages accepted, all workers.");
    p = ngx_slprintf(p, last, "spiffe_svid_updates_total %uA\n",
                     c[NGX_SPIFFE_STAT_SVID_UPDATES]);

    p = ngx_http_spiffe_status_family(p, last,
            "spiffe_messages_discarded_total", "counter",
            "Workload API messages that failed the checks.");
    p = ngx_slprintf(p, last, "spiffe_messages_discarded_total %uA\n",
                     c[NGX_SPIFFE_STAT_DISCARDED]);

    p = ngx_http_spiffe_status_family(p, last, "spiffe_source_failures_total",
            "counter", "Workload API calls that failed.");
    p = ngx_slprintf(p, last, "spiffe_source_failures_total %uA\n",
                     c[NGX_SPIFFE_STAT_FAILURES]);

    p = ngx_http_spiffe_status_family(p, last,
            "spiffe_svid_expiry_timestamp_seconds", "gauge",
            "When the X.509-SVID each worker serves expires.");

    for (i = 0; i < NGX_SPIFFE_MAX_WORKERS; i++) {
        if (ngx_spiffe_stats_worker(i, &ws) == NGX_OK && ws.id[0]) {
            p = ngx_slprintf(p, last,
                             "spiffe_svid_expiry_timestamp_seconds{"
                             "worker=\"%ui\",pid=\"%P\",spiffe_id=\"%s\","
                             "serial=\"%s\"} %T\n",
                             i, ws.pid, ws.id, ws.serial, ws.not_after);
        }
    }

    p = ngx_http_spiffe_status_family(p, last,
            "spiffe_svid_updated_timestamp_seconds", "gauge",
            "When each worker took the X.509-SVID it serves.");

    for (i = 0; i < NGX_SPIFFE_MAX_WORKERS; i++) {
        if (ngx_spiffe_stats_worker(i, &ws) == NGX_OK && ws.id[0]) {
            p = ngx_slprintf(p, last,
                             "spiffe_svid_updated_timestamp_seconds{"
                             "worker=\"%ui\",pid=\"%P\",spiffe_id=\"%s\"} "
                             "%T\n", i, ws.pid, ws.id, ws.updated);
        }
    }

    p = ngx_http_spiffe_status_family(p, last, "spiffe_source_up", "gauge",
            "1 while the worker's FetchX509SVID stream is connected.");

    for (i = 0; i < NGX_SPIFFE_MAX_WORKERS; i++) {
        if (ngx_spiffe_stats_worker(i, &ws) == NGX_OK) {
            p = ngx_slprintf(p, last,
                             "spiffe_source_up{worker=\"%ui\",pid=\"%P\","
                             "state=\"%s\"} %d\n", i, ws.pid, ws.state,
                             ngx_strcmp(ws.state, "connected") == 0);
        }
    }

    p = ngx_http_spiffe_status_family(p, last,
            "spiffe_bundle_x509_authorities", "gauge",
            "CA certificates trusted per trust domain, this worker.");

    snap = ngx_spiffe_snapshot();

    for (i = 0; snap && i < spiffe_snapshot_ntds(snap); i++) {
        td = spiffe_snapshot_td(snap, i, &len, &ncas);
        p = ngx_slprintf(p, last,
                         "spiffe_bundle_x509_authorities{trust_domain="
                         "\"%*s\"} %uz\n", len, td, ncas);
    }

    p = ngx_http_spiffe_status_family(p, last,
            "spiffe_bundle_updated_timestamp_seconds", "gauge",
            "When this worker's X.509 bundle of each trust domain changed.");

    for (i = 0; snap && i < spiffe_snapshot_ntds(snap); i++) {
        td = spiffe_snapshot_td(snap, i, &len, &ncas);
        p = ngx_slprintf(p, last,
                         "spiffe_bundle_updated_timestamp_seconds{"
                         "trust_domain=\"%*s\"} %T\n", len, td,
                         ngx_spiffe_identity_bundle_updated(td, len));
    }

    if (p == last) {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "spiffe: status page truncated");
    }

    return p;
}


static size_t
ngx_http_spiffe_status_prometheus_len(void)
{
    size_t                      len;
    ngx_uint_t                  i;
    spiffe_snapshot_t          *snap;
    ngx_spiffe_worker_stats_t   ws;

    len = NGX_HTTP_SPIFFE_PROM_BASE;

    for (i = 0; i < NGX_SPIFFE_MAX_WORKERS; i++) {
        if (ngx_spiffe_stats_worker(i, &ws) == NGX_OK) {
            len += NGX_HTTP_SPIFFE_PROM_WORKER;
        }
    }

    snap = ngx_spiffe_snapshot();

    if (snap) {
        len += spiffe_snapshot_ntds(snap) * NGX_HTTP_SPIFFE_PROM_TD;
    }

    return len;
}


static u_char *
ngx_http_spiffe_status_family(u_char *p, u_char *last, const char *name,
    const char *type, const char *help)
{
    return ngx_slprintf(p, last, "# HELP %s %s\n# TYPE %s %s\n",
                        name, help, name, type);
}
