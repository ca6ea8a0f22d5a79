
/*
 * Copyright (C) ngx_spiffe developers
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include <ngx_spiffe.h>


/*
 * The worker's identity as the TLS hooks and the access phase see it: the
 * snapshot of the source (the Workload API or the files) joined with the
 * bundles of configured trust domains (spiffe_bundle, spiffe_federate).
 * A configured trust domain is trusted through its configured bundle
 * only, never through what the source says of it; until that bundle
 * comes, its peers are refused.  Every change builds a new snapshot and
 * swaps the pointer; connections keep the one they started with.
 */


typedef struct {
    ngx_str_t                   td;
    STACK_OF(X509)             *certs;      /* NULL: none yet */
    spiffe_jwks_t              *jwks;       /* NULL: no JWT authorities */
} ngx_spiffe_trust_t;


/* when this worker's X.509 bundle of a trust domain last changed */

typedef struct {
    u_char                      td[SPIFFE_TD_MAX_LEN];
    size_t                      len;
    u_char                      digest[SPIFFE_DIGEST_LEN];
    time_t                      updated;
} ngx_spiffe_bundle_time_t;


typedef struct {
    ngx_log_t                  *log;
    spiffe_snapshot_t          *base;
    spiffe_jwt_bundles_t       *base_jwt;
    spiffe_snapshot_t          *snapshot;
    spiffe_jwt_bundles_t       *jwt;
    ngx_spiffe_trust_t         *trust;
    ngx_uint_t                  ntrust;
    time_t                      svid_updated;
    ngx_spiffe_bundle_time_t   *times;
    ngx_uint_t                  ntimes;
} ngx_spiffe_identity_t;


static void ngx_spiffe_identity_compose(void);
static void ngx_spiffe_identity_compose_jwt(void);
static void ngx_spiffe_identity_times(void);


static ngx_spiffe_identity_t  ngx_spiffe_identity;


ngx_int_t
ngx_spiffe_identity_init(ngx_cycle_t *cycle, ngx_spiffe_conf_t *scf)
{
    ngx_uint_t                i;
    ngx_spiffe_trust_conf_t  *tc;

    ngx_spiffe_identity.log = cycle->log;

    if (scf->trust == NULL) {
        return NGX_OK;
    }

    ngx_spiffe_identity.trust = ngx_pcalloc(cycle->pool,
                                    scf->trust->nelts
                                    * sizeof(ngx_spiffe_trust_t));
    if (ngx_spiffe_identity.trust == NULL) {
        return NGX_ERROR;
    }

    tc = scf->trust->elts;

    for (i = 0; i < scf->trust->nelts; i++) {
        ngx_spiffe_identity.trust[i].td = tc[i].td;
    }

    ngx_spiffe_identity.ntrust = scf->trust->nelts;

    return NGX_OK;
}


void
ngx_spiffe_identity_stop(void)
{
    ngx_uint_t              i;
    ngx_spiffe_identity_t  *id = &ngx_spiffe_identity;

    for (i = 0; i < id->ntrust; i++) {
        spiffe_x509_free_certs(id->trust[i].certs);
        spiffe_jwks_unref(id->trust[i].jwks);
    }

    spiffe_snapshot_unref(id->base);
    spiffe_snapshot_unref(id->snapshot);
    spiffe_jwt_bundles_unref(id->base_jwt);
    spiffe_jwt_bundles_unref(id->jwt);

    if (id->times) {
        ngx_free(id->times);
    }

    ngx_memzero(id, sizeof(ngx_spiffe_identity_t));
}


spiffe_snapshot_t *
ngx_spiffe_snapshot(void)
{
    return ngx_spiffe_identity.snapshot;
}


spiffe_jwt_bundles_t *
ngx_spiffe_jwt_bundles(void)
{
    return ngx_spiffe_identity.jwt;
}


/* the X.509 authorities of a configured trust domain, or NULL */

STACK_OF(X509) *
ngx_spiffe_identity_bundle(ngx_uint_t i)
{
    return ngx_spiffe_identity.trust[i].certs;
}


/* whether a configured trust domain has a bundle, X.509 or JWT */

ngx_uint_t
ngx_spiffe_identity_trusted(ngx_uint_t i)
{
    ngx_spiffe_trust_t  *t;

    if (i >= ngx_spiffe_identity.ntrust) {
        return 0;
    }

    t = &ngx_spiffe_identity.trust[i];

    return (t->certs && sk_X509_num(t->certs) > 0)
           || (t->jwks && spiffe_jwks_nkeys(t->jwks) > 0);
}


/* when the X.509 bundle of td last changed, 0: no bundle */

time_t
ngx_spiffe_identity_bundle_updated(const char *td, size_t len)
{
    ngx_uint_t                 i;
    ngx_spiffe_bundle_time_t  *t;

    for (i = 0; i < ngx_spiffe_identity.ntimes; i++) {
        t = &ngx_spiffe_identity.times[i];

        if (t->len == len && ngx_memcmp(t->td, td, len) == 0) {
            return t->updated;
        }
    }

    return 0;
}


/* the setters take the caller's reference */

void
ngx_spiffe_identity_set_svid(spiffe_snapshot_t *snap)
{
    spiffe_snapshot_t  *old = ngx_spiffe_identity.base;

    /* a message that only changes the bundles keeps the SVID's time */

    if (old == NULL
        || ngx_strcmp(spiffe_snapshot_svid(old)->serial,
                      spiffe_snapshot_svid(snap)->serial)
           != 0)
    {
        ngx_spiffe_identity.svid_updated = ngx_time();
    }

    spiffe_snapshot_unref(ngx_spiffe_identity.base);
    ngx_spiffe_identity.base = snap;

    ngx_spiffe_identity_compose();
}


void
ngx_spiffe_identity_set_jwt_bundles(spiffe_jwt_bundles_t *set)
{
    spiffe_jwt_bundles_unref(ngx_spiffe_identity.base_jwt);
    ngx_spiffe_identity.base_jwt = set;

    ngx_spiffe_identity_compose_jwt();
}


void
ngx_spiffe_identity_set_bundle(ngx_uint_t i, STACK_OF(X509) *certs,
    spiffe_jwks_t *jwks)
{
    ngx_spiffe_trust_t  *t = &ngx_spiffe_identity.trust[i];

    spiffe_x509_free_certs(t->certs);
    spiffe_jwks_unref(t->jwks);

    t->certs = certs;
    t->jwks = jwks;

    ngx_spiffe_identity_compose();
    ngx_spiffe_identity_compose_jwt();
}


static void
ngx_spiffe_identity_compose(void)
{
    ngx_uint_t                 i;
    const char                *err;
    spiffe_snapshot_t         *snap;
    ngx_spiffe_identity_t     *id = &ngx_spiffe_identity;
    spiffe_snapshot_bundle_t  *extra;

    if (id->base == NULL) {
        return;
    }

    if (id->ntrust == 0) {
        spiffe_snapshot_unref(id->snapshot);
        id->snapshot = spiffe_snapshot_ref(id->base);
        ngx_spiffe_identity_times();
        return;
    }

    extra = ngx_alloc(id->ntrust * sizeof(spiffe_snapshot_bundle_t),
                      id->log);
    if (extra == NULL) {
        return;
    }

    for (i = 0; i < id->ntrust; i++) {
        extra[i].td = (char *) id->trust[i].td.data;
        extra[i].td_len = id->trust[i].td.len;
        extra[i].certs = id->trust[i].certs;
    }

    snap = spiffe_snapshot_compose(id->base, extra, id->ntrust,
                                   spiffe_snapshot_version(id->base),
                                   ngx_time(), &err);
    ngx_free(extra);

    if (snap == NULL) {
        ngx_log_error(NGX_LOG_ERR, id->log, 0,
                      "spiffe: SVID \"%s\" not used with the configured "
                      "bundles: %s", spiffe_snapshot_svid(id->base)->id, err);
        return;
    }

    spiffe_snapshot_unref(id->snapshot);
    id->snapshot = snap;

    ngx_spiffe_identity_times();
}


/* a trust domain's time moves only when what it trusts changes */

static void
ngx_spiffe_identity_times(void)
{
    size_t                     i, n, len, ncas;
    ngx_uint_t                 k;
    const char                *td;
    ngx_spiffe_identity_t     *id = &ngx_spiffe_identity;
    ngx_spiffe_bundle_time_t  *times, *t, *old;

    n = spiffe_snapshot_ntds(id->snapshot);

    times = ngx_alloc((n ? n : 1) * sizeof(ngx_spiffe_bundle_time_t),
                      id->log);
    if (times == NULL) {
        return;
    }

    for (i = 0; i < n; i++) {
        t = &times[i];

        td = spiffe_snapshot_td(id->snapshot, i, &len, &ncas);

        t->len = ngx_min(len, SPIFFE_TD_MAX_LEN);
        ngx_memcpy(t->td, td, t->len);
        t->updated = ngx_time();

        if (spiffe_snapshot_td_digest(id->snapshot, td, len, t->digest)
            != 0)
        {
            ngx_memzero(t->digest, SPIFFE_DIGEST_LEN);
        }

        for (k = 0; k < id->ntimes; k++) {
            old = &id->times[k];

            if (old->len == t->len
                && ngx_memcmp(old->td, t->td, t->len) == 0
                && ngx_memcmp(old->digest, t->digest, SPIFFE_DIGEST_LEN)
                   == 0)
            {
                t->updated = old->updated;
                break;
            }
        }
    }

    if (id->times) {
        ngx_free(id->times);
    }

    id->times = times;
    id->ntimes = n;
}


static void
ngx_spiffe_identity_compose_jwt(void)
{
    ngx_uint_t              k, n;
    const char             *err;
    spiffe_jwt_bundle_t    *extra;
    spiffe_jwt_bundles_t   *set;
    ngx_spiffe_identity_t  *id = &ngx_spiffe_identity;

    extra = ngx_alloc((id->ntrust + 1) * sizeof(spiffe_jwt_bundle_t),
                      id->log);
    if (extra == NULL) {
        return;
    }

    n = 0;

    for (k = 0; k < id->ntrust; k++) {
        extra[k].td = (char *) id->trust[k].td.data;
        extra[k].td_len = id->trust[k].td.len;
        extra[k].jwks = id->trust[k].jwks;
        n += (extra[k].jwks != NULL);
    }

    set = NULL;

    if (id->base_jwt != NULL || n != 0) {
        set = spiffe_jwt_bundles_compose(id->base_jwt, extra, id->ntrust,
                                         &err);

        if (set == NULL) {
            ngx_log_error(NGX_LOG_ERR, id->log, 0,
                          "spiffe: JWT bundles not updated: %s", err);
            ngx_free(extra);
            return;
        }
    }

    ngx_free(extra);

    spiffe_jwt_bundles_unref(id->jwt);
    id->jwt = set;
}


/* this worker's identity and the state of its source, for status */

void
ngx_spiffe_identity_report(const char *state, const u_char *error,
    uint64_t failures, time_t last_message)
{
    ngx_spiffe_worker_stats_t      *ws;
    const spiffe_snapshot_svid_t   *svid;

    ws = ngx_spiffe_stats_begin();
    if (ws == NULL) {
        return;
    }

    if (ngx_spiffe_identity.snapshot) {
        svid = spiffe_snapshot_svid(ngx_spiffe_identity.snapshot);

        ngx_cpystrn((u_char *) ws->id, (u_char *) svid->id,
                    sizeof(ws->id));
        ngx_cpystrn((u_char *) ws->serial, (u_char *) svid->serial,
                    sizeof(ws->serial));
        ngx_cpystrn((u_char *) ws->hint, (u_char *) svid->hint,
                    sizeof(ws->hint));
        ws->not_after = svid->not_after;
        ws->updated = ngx_spiffe_identity.svid_updated;
        ws->version = spiffe_snapshot_version(ngx_spiffe_identity.snapshot);

    } else {
        ws->id[0] = '\0';
        ws->serial[0] = '\0';
        ws->hint[0] = '\0';
        ws->not_after = 0;
        ws->updated = 0;
        ws->version = 0;
    }

    ngx_cpystrn((u_char *) ws->state, (u_char *) state, sizeof(ws->state));
    ngx_cpystrn((u_char *) ws->last_error, (u_char *) error,
                sizeof(ws->last_error));

    ws->failures = failures;
    ws->last_message = last_message;

    ngx_spiffe_stats_end(ws);
}
