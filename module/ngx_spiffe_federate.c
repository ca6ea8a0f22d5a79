
/*
 * Copyright (C) ngx_spiffe developers
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>

#include <ngx_spiffe.h>
#include <spiffe_fetch.h>


/*
 * Federated bundles from SPIFFE bundle endpoints, fetched once per nginx
 * instance: worker 0 fetches on nginx events, checks the bundle, and puts
 * the document in shared memory; every worker reads it from there when
 * its generation changes.  The documents outlive a reload, so new workers
 * trust a federated domain from their first connection, and worker 0
 * fetches again when the last fetch's refresh time comes, not at once.
 */


#define NGX_SPIFFE_REFRESH_DEFAULT  300
#define NGX_SPIFFE_REFRESH_MIN      30
#define NGX_SPIFFE_REFRESH_MAX      86400
#define NGX_SPIFFE_FETCH_TIMEOUT    10000
#define NGX_SPIFFE_POLL             1000
#define NGX_SPIFFE_FED_ERR_LEN      256


/* one federated trust domain in shared memory */

typedef struct {
    uint32_t                    key;        /* of the trust domain and URL */
    uint64_t                    generation; /* 0: no bundle yet */
    uint64_t                    sequence;
    unsigned                    has_sequence:1;
    u_char                     *doc;
    size_t                      len;
    time_t                      next;       /* the next fetch */
    time_t                      refresh;    /* of the last good bundle */
} ngx_spiffe_fed_shared_t;


typedef struct {
    ngx_uint_t                  n;
    ngx_spiffe_fed_shared_t     feds[1];
} ngx_spiffe_fed_zone_t;


/* one federated trust domain in a worker */

typedef struct {
    ngx_spiffe_trust_conf_t    *conf;
    ngx_uint_t                  trust;      /* index in the identity */
    uint32_t                    key;
    uint64_t                    generation; /* applied */
    STACK_OF(X509)             *ca;         /* bundle=, https_spiffe */
    spiffe_fetch_t             *fetch;
    ngx_event_t                 timer;
    u_char                      error[NGX_SPIFFE_FED_ERR_LEN];
    unsigned                    failing:1;
} ngx_spiffe_fed_t;


typedef struct {
    ngx_spiffe_fed_t           *feds;
    ngx_uint_t                  n;
    ngx_slab_pool_t            *shpool;
    ngx_spiffe_fed_zone_t      *zone;
    ngx_spiffe_curl_t           curl;
    ngx_event_t                 poll;
    ngx_log_t                  *log;
    unsigned                    fetcher:1;
} ngx_spiffe_federation_t;


static ngx_int_t ngx_spiffe_federate_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
static uint32_t ngx_spiffe_federate_key(ngx_spiffe_trust_conf_t *tc);
static void ngx_spiffe_federate_poll(ngx_event_t *ev);
static void ngx_spiffe_federate_apply(ngx_spiffe_fed_t *fed);
static void ngx_spiffe_federate_timer(ngx_event_t *ev);
static void ngx_spiffe_federate_fetch(ngx_spiffe_fed_t *fed);
static void ngx_spiffe_federate_done(void *data, CURL *easy,
    CURLcode result);
static ngx_int_t ngx_spiffe_federate_check(ngx_spiffe_fed_t *fed,
    u_char *doc, size_t len, time_t *refresh);
static time_t ngx_spiffe_federate_refresh(spiffe_jwks_t *jwks);
static ngx_int_t ngx_spiffe_federate_store(ngx_spiffe_fed_t *fed,
    u_char *doc, size_t len, spiffe_jwks_t *jwks, time_t refresh);
static void ngx_spiffe_federate_failed(ngx_spiffe_fed_t *fed,
    const char *reason);
static void ngx_spiffe_federate_after(ngx_spiffe_fed_t *fed, time_t secs);
static STACK_OF(X509) *ngx_spiffe_federate_anchors(ngx_spiffe_fed_t *fed);


static ngx_spiffe_federation_t  *ngx_spiffe_federation;


/* the zone: room for two documents of each domain, the old and the new */

ngx_int_t
ngx_spiffe_federate_zone(ngx_conf_t *cf, ngx_spiffe_conf_t *scf)
{
    ngx_str_t  name = ngx_string("ngx_spiffe_bundles");

    if (scf->bundles_zone == NULL) {
        scf->bundles_zone = ngx_shared_memory_add(cf, &name, 0,
                                                  &ngx_spiffe_module);
        if (scf->bundles_zone == NULL) {
            return NGX_ERROR;
        }

        scf->bundles_zone->init = ngx_spiffe_federate_init_zone;
        scf->bundles_zone->data = scf;
        scf->bundles_zone->shm.size = 8 * ngx_pagesize;
    }

    scf->bundles_zone->shm.size += 2 * NGX_SPIFFE_BUNDLE_MAX
                                   + sizeof(ngx_spiffe_fed_shared_t);

    return NGX_OK;
}


static ngx_int_t
ngx_spiffe_federate_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_spiffe_conf_t  *scf = shm_zone->data;

    uint32_t                  key;
    ngx_uint_t                i, n;
    ngx_slab_pool_t          *shpool;
    ngx_spiffe_fed_zone_t    *zone;
    ngx_spiffe_trust_conf_t  *tc;
    ngx_spiffe_fed_shared_t  *sh;

    shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    /* a reload keeps the documents of the domains still federated */

    if (data != NULL || shm_zone->shm.exists) {
        zone = shpool->data;

    } else {
        n = 0;
        tc = scf->trust->elts;

        for (i = 0; i < scf->trust->nelts; i++) {
            n += (tc[i].url.len != 0);
        }

        zone = ngx_slab_calloc(shpool, sizeof(ngx_spiffe_fed_zone_t)
                                       + n * sizeof(ngx_spiffe_fed_shared_t));
        if (zone == NULL) {
            return NGX_ERROR;
        }

        zone->n = n;
        shpool->data = zone;
    }

    tc = scf->trust->elts;
    n = 0;

    for (i = 0; i < scf->trust->nelts; i++) {
        if (tc[i].url.len == 0) {
            continue;
        }

        sh = &zone->feds[n++];
        key = ngx_spiffe_federate_key(&tc[i]);

        if (sh->key != key) {
            if (sh->doc != NULL) {
                ngx_slab_free(shpool, sh->doc);
            }

            ngx_memzero(sh, sizeof(ngx_spiffe_fed_shared_t));
            sh->key = key;
        }
    }

    shm_zone->data = zone;

    return NGX_OK;
}


static uint32_t
ngx_spiffe_federate_key(ngx_spiffe_trust_conf_t *tc)
{
    uint32_t  crc;

    ngx_crc32_init(crc);
    ngx_crc32_update(&crc, tc->td.data, tc->td.len);
    ngx_crc32_update(&crc, (u_char *) " ", 1);
    ngx_crc32_update(&crc, tc->url.data, tc->url.len);
    ngx_crc32_final(crc);

    return crc;
}


ngx_int_t
ngx_spiffe_federate_start(ngx_cycle_t *cycle, ngx_spiffe_conf_t *scf)
{
    time_t                    next;
    ngx_uint_t                i, n;
    const char               *err;
    ngx_str_t                 text;
    ngx_spiffe_fed_t         *fed;
    ngx_spiffe_trust_conf_t  *tc;
    ngx_spiffe_federation_t  *fn;

    if (scf->bundles_zone == NULL) {
        return NGX_OK;
    }

    fn = ngx_pcalloc(cycle->pool, sizeof(ngx_spiffe_federation_t));
    if (fn == NULL) {
        return NGX_ERROR;
    }

    fn->log = cycle->log;
    fn->shpool = (ngx_slab_pool_t *) scf->bundles_zone->shm.addr;
    fn->zone = scf->bundles_zone->data;
    fn->fetcher = (ngx_worker == 0);

    fn->feds = ngx_pcalloc(cycle->pool,
                           fn->zone->n * sizeof(ngx_spiffe_fed_t));
    if (fn->feds == NULL) {
        return NGX_ERROR;
    }

    tc = scf->trust->elts;
    n = 0;

    for (i = 0; i < scf->trust->nelts; i++) {
        if (tc[i].url.len == 0) {
            continue;
        }

        fed = &fn->feds[n++];

        fed->conf = &tc[i];
        fed->trust = i;
        fed->key = ngx_spiffe_federate_key(&tc[i]);

        fed->timer.handler = ngx_spiffe_federate_timer;
        fed->timer.data = fed;
        fed->timer.log = cycle->log;
        fed->timer.cancelable = 1;

        if (tc[i].ca_file.len == 0 || tc[i].profile != NGX_SPIFFE_HTTPS_SPIFFE)
        {
            continue;
        }

        /* checked at nginx -t; a file gone since then is logged */

        if (ngx_spiffe_read_file(&tc[i].ca_file, NGX_SPIFFE_BUNDLE_MAX,
                                 &text, cycle->log, &err)
            == NGX_OK)
        {
            fed->ca = spiffe_x509_parse_pem_certs((char *) text.data,
                                                  text.len, &err);
            ngx_free(text.data);
        }

        if (fed->ca == NULL) {
            ngx_log_error(NGX_LOG_ERR, cycle->log, 0,
                          "spiffe: bundle \"%V\" of spiffe_federate \"%V\": "
                          "%s", &tc[i].ca_file, &tc[i].td, err);
        }
    }

    fn->n = n;

    fn->poll.handler = ngx_spiffe_federate_poll;
    fn->poll.data = fn;
    fn->poll.log = cycle->log;
    fn->poll.cancelable = 1;

    if (fn->fetcher && ngx_spiffe_curl_init(&fn->curl, cycle->log) != NGX_OK)
    {
        return NGX_ERROR;
    }

    ngx_spiffe_federation = fn;

    /* what an earlier worker fetched is trusted from the start */

    ngx_spiffe_federate_poll(&fn->poll);

    if (!fn->fetcher) {
        return NGX_OK;
    }

    for (i = 0; i < fn->n; i++) {
        fed = &fn->feds[i];

        ngx_shmtx_lock(&fn->shpool->mutex);
        next = fn->zone->feds[i].next;
        ngx_shmtx_unlock(&fn->shpool->mutex);

        if (next > ngx_time()) {
            ngx_spiffe_federate_after(fed, next - ngx_time());

        } else {
            ngx_spiffe_federate_fetch(fed);
        }
    }

    return NGX_OK;
}


void
ngx_spiffe_federate_stop(void)
{
    ngx_uint_t                i;
    ngx_spiffe_fed_t         *fed;
    ngx_spiffe_federation_t  *fn = ngx_spiffe_federation;

    if (fn == NULL) {
        return;
    }

    for (i = 0; i < fn->n; i++) {
        fed = &fn->feds[i];

        if (fed->fetch != NULL) {
            ngx_spiffe_curl_remove(&fn->curl, fed->fetch->easy);
            spiffe_fetch_destroy(fed->fetch);
            fed->fetch = NULL;
        }

        if (fed->timer.timer_set) {
            ngx_del_timer(&fed->timer);
        }

        spiffe_x509_free_certs(fed->ca);
        fed->ca = NULL;
    }

    if (fn->poll.timer_set) {
        ngx_del_timer(&fn->poll);
    }

    ngx_spiffe_curl_cleanup(&fn->curl);

    ngx_spiffe_federation = NULL;
}


static void
ngx_spiffe_federate_poll(ngx_event_t *ev)
{
    ngx_spiffe_federation_t  *fn = ev->data;

    ngx_uint_t  i;

    if (ngx_exiting || ngx_quit) {
        return;
    }

    for (i = 0; i < fn->n; i++) {
        ngx_spiffe_federate_apply(&fn->feds[i]);
    }

    ngx_add_timer(&fn->poll, NGX_SPIFFE_POLL);
}


/* a new document in shared memory: into this worker's identity */

static void
ngx_spiffe_federate_apply(ngx_spiffe_fed_t *fed)
{
    ngx_spiffe_federation_t  *fn = ngx_spiffe_federation;

    u_char                   *doc;
    size_t                    len;
    uint64_t                  generation;
    const char               *err;
    spiffe_jwks_t            *jwks;
    STACK_OF(X509)           *certs;
    ngx_spiffe_fed_shared_t  *sh;

    sh = &fn->zone->feds[fed - fn->feds];
    doc = NULL;

    ngx_shmtx_lock(&fn->shpool->mutex);

    generation = sh->generation;
    len = sh->len;

    if (generation != fed->generation && generation != 0) {
        doc = ngx_alloc(len, fn->log);
        if (doc != NULL) {
            ngx_memcpy(doc, sh->doc, len);
        }
    }

    ngx_shmtx_unlock(&fn->shpool->mutex);

    if (doc == NULL) {
        return;
    }

    /* checked by the fetcher already: failing here is not expected */

    if (spiffe_bundle_parse((char *) doc, len, &certs, &jwks, &err) != 0) {
        ngx_log_error(NGX_LOG_ALERT, fn->log, 0,
                      "spiffe: federated bundle of \"%V\" in shared memory "
                      "not used: %s", &fed->conf->td, err);
        ngx_free(doc);
        return;
    }

    ngx_free(doc);

    fed->generation = generation;

    ngx_log_debug2(NGX_LOG_DEBUG_CORE, fn->log, 0,
                   "spiffe: federated bundle of \"%V\", generation %uL",
                   &fed->conf->td, generation);

    ngx_spiffe_identity_set_bundle(fed->trust, certs, jwks);
}


static void
ngx_spiffe_federate_timer(ngx_event_t *ev)
{
    if (ngx_exiting || ngx_quit || ngx_spiffe_federation == NULL) {
        return;
    }

    ngx_spiffe_federate_fetch(ev->data);
}


static void
ngx_spiffe_federate_fetch(ngx_spiffe_fed_t *fed)
{
    ngx_spiffe_federation_t  *fn = ngx_spiffe_federation;

    u_char                    url[2048], eid[SPIFFE_ID_MAX_LEN + 1];
    const char               *err;
    spiffe_fetch_conf_t       conf;
    ngx_spiffe_trust_conf_t  *tc;

    tc = fed->conf;

    if (tc->url.len >= sizeof(url) || tc->endpoint_id.len >= sizeof(eid)) {
        ngx_spiffe_federate_failed(fed, "URL or endpoint_id too long");
        return;
    }

    ngx_cpystrn(url, tc->url.data, tc->url.len + 1);
    ngx_cpystrn(eid, tc->endpoint_id.data, tc->endpoint_id.len + 1);

    ngx_memzero(&conf, sizeof(spiffe_fetch_conf_t));

    conf.url = (char *) url;
    conf.timeout_ms = NGX_SPIFFE_FETCH_TIMEOUT;
    conf.max = NGX_SPIFFE_BUNDLE_MAX;

    if (tc->profile == NGX_SPIFFE_HTTPS_SPIFFE) {
        conf.https_spiffe = 1;
        conf.endpoint_id = (char *) eid;
        conf.anchors = ngx_spiffe_federate_anchors(fed);

        if (conf.anchors == NULL) {
            ngx_spiffe_federate_failed(fed, "no bundle to check the "
                                       "endpoint's X.509-SVID against");
            return;
        }

    } else if (tc->ca_file.len) {
        conf.ca_file = (char *) tc->ca_file.data;
    }

    fed->fetch = spiffe_fetch_create(&conf, &err);

    if (fed->fetch == NULL) {
        ngx_spiffe_federate_failed(fed, err);
        return;
    }

    if (ngx_spiffe_curl_add(&fn->curl, fed->fetch->easy,
                            ngx_spiffe_federate_done, fed)
        != NGX_OK)
    {
        spiffe_fetch_destroy(fed->fetch);
        fed->fetch = NULL;
        ngx_spiffe_federate_failed(fed, "cannot start a transfer");
        return;
    }

    ngx_log_debug2(NGX_LOG_DEBUG_CORE, fn->log, 0,
                   "spiffe: fetching the bundle of \"%V\" from \"%V\"",
                   &tc->td, &tc->url);
}


/*
 * https_spiffe: the endpoint's trust domain's bundle: the last one
 * fetched when the endpoint belongs to the domain it serves, else
 * bundle=FILE, else the bundle the identity has for that domain
 */

static STACK_OF(X509) *
ngx_spiffe_federate_anchors(ngx_spiffe_fed_t *fed)
{
    spiffe_id_t         id;
    const char         *err;
    STACK_OF(X509)     *certs;
    spiffe_snapshot_t  *snap;

    if (spiffe_id_parse((char *) fed->conf->endpoint_id.data,
                        fed->conf->endpoint_id.len, &id, &err)
        != 0)
    {
        return NULL;
    }

    if (id.td_len == fed->conf->td.len
        && ngx_strncmp(id.td, fed->conf->td.data, id.td_len) == 0)
    {
        certs = ngx_spiffe_identity_bundle(fed->trust);

        return (certs != NULL && sk_X509_num(certs) > 0) ? certs : fed->ca;
    }

    if (fed->ca != NULL) {
        return fed->ca;
    }

    snap = ngx_spiffe_snapshot();

    return snap ? spiffe_snapshot_cas(snap, id.td, id.td_len) : NULL;
}


static void
ngx_spiffe_federate_done(void *data, CURL *easy, CURLcode result)
{
    ngx_spiffe_fed_t  *fed = data;

    time_t                    refresh;
    spiffe_fetch_t           *fetch;
    ngx_spiffe_federation_t  *fn = ngx_spiffe_federation;

    fetch = fed->fetch;
    fed->fetch = NULL;

    ngx_spiffe_curl_remove(&fn->curl, easy);

    if (ngx_exiting || ngx_quit) {
        spiffe_fetch_destroy(fetch);
        return;
    }

    if (spiffe_fetch_done(fetch, result) != 0) {
        ngx_spiffe_federate_failed(fed, fetch->error);
        spiffe_fetch_destroy(fetch);
        return;
    }

    if (ngx_spiffe_federate_check(fed, (u_char *) fetch->body, fetch->len,
                                  &refresh)
        == NGX_OK)
    {
        ngx_spiffe_federate_after(fed, refresh);
    }

    spiffe_fetch_destroy(fetch);
}


/* a fetched document: a bundle, not older than the last one, stored */

static ngx_int_t
ngx_spiffe_federate_check(ngx_spiffe_fed_t *fed, u_char *doc, size_t len,
    time_t *refresh)
{
    ngx_spiffe_federation_t  *fn = ngx_spiffe_federation;

    u_char                    reason[NGX_SPIFFE_FED_ERR_LEN];
    uint64_t                  seq, last;
    ngx_int_t                 rc;
    ngx_uint_t                has_last, level;
    const char               *err;
    spiffe_jwks_t            *jwks;
    ngx_spiffe_fed_shared_t  *sh;

    jwks = spiffe_jwks_parse((char *) doc, len, &err);
    if (jwks == NULL) {
        ngx_snprintf(reason, sizeof(reason) - 1, "not a SPIFFE bundle: %s%Z",
                     err);
        ngx_spiffe_federate_failed(fed, (char *) reason);
        return NGX_ERROR;
    }

    sh = &fn->zone->feds[fed - fn->feds];

    ngx_shmtx_lock(&fn->shpool->mutex);
    has_last = sh->has_sequence;
    last = sh->sequence;
    ngx_shmtx_unlock(&fn->shpool->mutex);

    if (has_last && spiffe_jwks_sequence(jwks, &seq) == 0 && seq < last) {
        spiffe_jwks_unref(jwks);
        ngx_snprintf(reason, sizeof(reason) - 1,
                     "its spiffe_sequence %uL is older than %uL%Z", seq,
                     last);
        ngx_spiffe_federate_failed(fed, (char *) reason);
        return NGX_ERROR;
    }

    *refresh = ngx_spiffe_federate_refresh(jwks);

    rc = ngx_spiffe_federate_store(fed, doc, len, jwks, *refresh);

    if (rc == NGX_ERROR) {
        spiffe_jwks_unref(jwks);
        ngx_spiffe_federate_failed(fed, "no room in shared memory");
        return NGX_ERROR;
    }

    level = fed->failing ? NGX_LOG_NOTICE : NGX_LOG_INFO;

    if (rc == NGX_DECLINED) {
        ngx_log_error(level, fn->log, 0,
                      "spiffe: federated bundle of \"%V\" from \"%V\" "
                      "unchanged, refresh in %T s", &fed->conf->td,
                      &fed->conf->url, *refresh);

    } else {
        ngx_log_error(level, fn->log, 0,
                      "spiffe: federated bundle of \"%V\" from \"%V\": %d "
                      "X.509 authorities, %uz JWT authorities, refresh in "
                      "%T s", &fed->conf->td, &fed->conf->url,
                      sk_X509_num(spiffe_jwks_x509_authorities(jwks)),
                      spiffe_jwks_nkeys(jwks), *refresh);
    }

    spiffe_jwks_unref(jwks);

    fed->failing = 0;
    fed->error[0] = '\0';

    ngx_spiffe_federate_apply(fed);

    return NGX_OK;
}


/*
 * The bundle's spiffe_refresh_hint within bounds: an endpoint can make it
 * neither a fetch loop nor a domain never refreshed again
 */

static time_t
ngx_spiffe_federate_refresh(spiffe_jwks_t *jwks)
{
    int64_t  hint;

    hint = spiffe_jwks_refresh_hint(jwks);

    if (hint == 0) {
        return NGX_SPIFFE_REFRESH_DEFAULT;
    }

    if (hint < NGX_SPIFFE_REFRESH_MIN) {
        return NGX_SPIFFE_REFRESH_MIN;
    }

    if (hint > NGX_SPIFFE_REFRESH_MAX) {
        return NGX_SPIFFE_REFRESH_MAX;
    }

    return (time_t) hint;
}


static ngx_int_t
ngx_spiffe_federate_store(ngx_spiffe_fed_t *fed, u_char *doc, size_t len,
    spiffe_jwks_t *jwks, time_t refresh)
{
    ngx_spiffe_federation_t  *fn = ngx_spiffe_federation;

    u_char                   *p;
    uint64_t                  seq;
    ngx_spiffe_fed_shared_t  *sh;

    sh = &fn->zone->feds[fed - fn->feds];

    ngx_shmtx_lock(&fn->shpool->mutex);

    /* the same document again: no new generation for the workers */

    if (sh->generation != 0 && sh->len == len
        && ngx_memcmp(sh->doc, doc, len) == 0)
    {
        sh->next = ngx_time() + refresh;
        sh->refresh = refresh;
        ngx_shmtx_unlock(&fn->shpool->mutex);
        return NGX_DECLINED;
    }

    p = ngx_slab_alloc_locked(fn->shpool, len);

    if (p == NULL) {
        ngx_shmtx_unlock(&fn->shpool->mutex);
        return NGX_ERROR;
    }

    ngx_memcpy(p, doc, len);

    if (sh->doc != NULL) {
        ngx_slab_free_locked(fn->shpool, sh->doc);
    }

    sh->doc = p;
    sh->len = len;
    sh->generation++;
    sh->next = ngx_time() + refresh;
    sh->refresh = refresh;

    if (spiffe_jwks_sequence(jwks, &seq) == 0) {
        sh->sequence = seq;
        sh->has_sequence = 1;
    }

    ngx_shmtx_unlock(&fn->shpool->mutex);

    return NGX_OK;
}


/*
 * The last good bundle stays, and the next try is at its refresh
 * interval; while there is none, every 30 s.
 */

static void
ngx_spiffe_federate_failed(ngx_spiffe_fed_t *fed, const char *reason)
{
    ngx_spiffe_federation_t  *fn = ngx_spiffe_federation;

    time_t                    retry;
    ngx_spiffe_fed_shared_t  *sh;

    sh = &fn->zone->feds[fed - fn->feds];

    ngx_shmtx_lock(&fn->shpool->mutex);
    retry = sh->generation ? sh->refresh : NGX_SPIFFE_REFRESH_MIN;
    sh->next = ngx_time() + retry;
    ngx_shmtx_unlock(&fn->shpool->mutex);

    if (!fed->failing || ngx_strcmp(fed->error, reason) != 0) {
        ngx_log_error(NGX_LOG_ERR, fn->log, 0,
                      "spiffe: federated bundle of \"%V\" from \"%V\" not "
                      "used: %s; %s, retry in %T s", &fed->conf->td,
                      &fed->conf->url, reason,
                      fed->generation ? "keeping the last good one"
                                      : "its peers are refused",
                      retry);

        ngx_cpystrn(fed->error, (u_char *) reason, NGX_SPIFFE_FED_ERR_LEN);

    } else {
        ngx_log_debug2(NGX_LOG_DEBUG_CORE, fn->log, 0,
                       "spiffe: bundle of \"%V\" still failing: %s",
                       &fed->conf->td, reason);
    }

    fed->failing = 1;

    ngx_spiffe_federate_after(fed, retry);
}


/*
 * The next fetch in secs seconds, at most a day: the time comes from
 * shared memory, which outlives a reload of another version
 */

static void
ngx_spiffe_federate_after(ngx_spiffe_fed_t *fed, time_t secs)
{
    secs = ngx_min(ngx_max(secs, 0), NGX_SPIFFE_REFRESH_MAX);

    ngx_add_timer(&fed->timer, (ngx_msec_t) secs * 1000);
}
