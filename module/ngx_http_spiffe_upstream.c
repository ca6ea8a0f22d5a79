
/*
 * Copyright (C) ngx_spiffe developers
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <ngx_http_spiffe.h>


/*
 * proxy_pass https:// and grpc_pass grpcs:// keep their SSL context in an
 * ngx_http_upstream_conf_t that is the first member of their location
 * configuration, as in every nginx release; the modules are looked up by
 * name, so that an nginx built without one of them still loads this one.
 *
 * A kept-alive connection or a TLS session is shared by all locations
 * that use an upstream: the balancer of such an upstream is wrapped, so
 * that a location with spiffe_proxy_verify takes neither unless the peer
 * it leads to matches its patterns.
 */


typedef struct {
    void                              *data;
    ngx_event_get_peer_pt              get;
    ngx_event_free_peer_pt             free;
    ngx_event_notify_peer_pt           notify;
    ngx_event_set_peer_session_pt      set_session;
    ngx_event_save_peer_session_pt     save_session;
    spiffe_rules_t                    *rules;
} ngx_http_spiffe_upstream_peer_t;


static char *ngx_http_spiffe_upstream_ssl(ngx_conf_t *cf,
    ngx_http_spiffe_loc_conf_t *slcf, ngx_http_upstream_conf_t *ucf,
    const char *prefix);
static ngx_int_t ngx_http_spiffe_upstream_init_peer(ngx_http_request_t *r,
    ngx_http_upstream_srv_conf_t *us);
static ngx_int_t ngx_http_spiffe_upstream_get_peer(ngx_peer_connection_t *pc,
    void *data);
static void ngx_http_spiffe_upstream_free_peer(ngx_peer_connection_t *pc,
    void *data, ngx_uint_t state);
static void ngx_http_spiffe_upstream_notify_peer(ngx_peer_connection_t *pc,
    void *data, ngx_uint_t type);
static ngx_int_t ngx_http_spiffe_upstream_set_session(
    ngx_peer_connection_t *pc, void *data);
static void ngx_http_spiffe_upstream_save_session(ngx_peer_connection_t *pc,
    void *data);
static ngx_module_t *ngx_http_spiffe_upstream_module(ngx_cycle_t *cycle,
    const char *name);


char *
ngx_http_spiffe_upstream_merge(ngx_conf_t *cf,
    ngx_http_spiffe_loc_conf_t *slcf)
{
    char                      *rv;
    ngx_uint_t                 i;
    ngx_module_t              *m;
    ngx_http_conf_ctx_t       *ctx;
    ngx_http_upstream_conf_t  *ucf;

    static const char  *modules[][2] = {
        { "ngx_http_proxy_module", "proxy" },
        { "ngx_http_grpc_module", "grpc" }
    };

    if (!slcf->proxy_svid && slcf->proxy_verify == NULL) {
        return NGX_CONF_OK;
    }

    ctx = cf->ctx;

    for (i = 0; i < sizeof(modules) / sizeof(modules[0]); i++) {

        m = ngx_http_spiffe_upstream_module(cf->cycle, modules[i][0]);
        if (m == NULL) {
            continue;
        }

        ucf = ctx->loc_conf[m->ctx_index];

        if (ucf->ssl == NULL) {
            continue;
        }

        rv = ngx_http_spiffe_upstream_ssl(cf, slcf, ucf, modules[i][1]);
        if (rv != NGX_CONF_OK) {
            return rv;
        }
    }

    return NGX_CONF_OK;
}


/* after every merge: the balancers are final by now */

ngx_int_t
ngx_http_spiffe_upstream_init(ngx_conf_t *cf)
{
    ngx_uint_t                    i;
    ngx_http_spiffe_upstream_t   *up;
    ngx_http_spiffe_main_conf_t  *smcf;

    smcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_spiffe_module);

    up = smcf->upstreams.elts;

    for (i = 0; i < smcf->upstreams.nelts; i++) {
        up[i].init = up[i].upstream->peer.init;
        up[i].upstream->peer.init = ngx_http_spiffe_upstream_init_peer;
    }

    return NGX_OK;
}


static char *
ngx_http_spiffe_upstream_ssl(ngx_conf_t *cf, ngx_http_spiffe_loc_conf_t *slcf,
    ngx_http_upstream_conf_t *ucf, const char *prefix)
{
    ngx_uint_t                    i;
    ngx_spiffe_upstream_t        *verify;
    ngx_http_core_loc_conf_t     *clcf;
    ngx_http_spiffe_upstream_t   *up;
    ngx_http_spiffe_main_conf_t  *smcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    if (slcf->proxy_svid && ucf->ssl_certificate) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"spiffe_proxy_svid\" cannot be combined with "
                           "\"%s_ssl_certificate\" in location \"%V\"",
                           prefix, &clcf->name);
        return NGX_CONF_ERROR;
    }

    verify = NULL;

    if (slcf->proxy_verify) {
        verify = ngx_palloc(cf->pool, sizeof(ngx_spiffe_upstream_t));
        if (verify == NULL) {
            return NGX_CONF_ERROR;
        }

        verify->rules = slcf->proxy_verify;
        verify->location = clcf->name;

        /* SPIFFE replaces both the chain and the host name checks */
        ucf->ssl_verify = 0;
    }

    if (ngx_spiffe_ssl_client(cf, ucf->ssl, slcf->proxy_svid, verify)
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    if (verify == NULL || ucf->upstream == NULL) {
        return NGX_CONF_OK;
    }

    smcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_spiffe_module);

    up = smcf->upstreams.elts;

    for (i = 0; i < smcf->upstreams.nelts; i++) {
        if (up[i].upstream == ucf->upstream) {
            return NGX_CONF_OK;
        }
    }

    up = ngx_array_push(&smcf->upstreams);
    if (up == NULL) {
        return NGX_CONF_ERROR;
    }

    up->upstream = ucf->upstream;
    up->init = NULL;

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_spiffe_upstream_init_peer(ngx_http_request_t *r,
    ngx_http_upstream_srv_conf_t *us)
{
    ngx_int_t                         rc;
    ngx_uint_t                        i;
    ngx_peer_connection_t            *pc;
    ngx_http_spiffe_main_conf_t      *smcf;
    ngx_http_spiffe_loc_conf_t       *slcf;
    ngx_http_spiffe_upstream_t       *up;
    ngx_http_spiffe_upstream_peer_t  *sp;

    smcf = ngx_http_get_module_main_conf(r, ngx_http_spiffe_module);

    up = smcf->upstreams.elts;

    for (i = 0; up[i].upstream != us; i++) {
        /* void */
    }

    rc = up[i].init(r, us);
    if (rc != NGX_OK) {
        return rc;
    }

    slcf = ngx_http_get_module_loc_conf(r, ngx_http_spiffe_module);

    if (slcf->proxy_verify == NULL) {
        return NGX_OK;
    }

    sp = ngx_palloc(r->pool, sizeof(ngx_http_spiffe_upstream_peer_t));
    if (sp == NULL) {
        return NGX_ERROR;
    }

    pc = &r->upstream->peer;

    sp->data = pc->data;
    sp->get = pc->get;
    sp->free = pc->free;
    sp->notify = pc->notify;
    sp->set_session = pc->set_session;
    sp->save_session = pc->save_session;
    sp->rules = slcf->proxy_verify;

    pc->data = sp;
    pc->get = ngx_http_spiffe_upstream_get_peer;
    pc->free = ngx_http_spiffe_upstream_free_peer;
    pc->notify = sp->notify ? ngx_http_spiffe_upstream_notify_peer : NULL;
    pc->set_session = ngx_http_spiffe_upstream_set_session;
    pc->save_session = ngx_http_spiffe_upstream_save_session;

    return NGX_OK;
}


static ngx_int_t
ngx_http_spiffe_upstream_get_peer(ngx_peer_connection_t *pc, void *data)
{
    ngx_http_spiffe_upstream_peer_t  *sp = data;

    ngx_int_t          rc;
    ngx_connection_t  *c;

    rc = sp->get(pc, sp->data);

    if (rc != NGX_DONE || pc->connection->ssl == NULL
        || ngx_spiffe_ssl_peer_allowed(pc->connection, sp->rules))
    {
        return rc;
    }

    /* kept alive for a location that trusts another peer */

    c = pc->connection;

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, pc->log, 0,
                   "spiffe: kept-alive upstream connection %p not allowed "
                   "here, closing it", c);

    c->ssl->no_wait_shutdown = 1;
    (void) ngx_ssl_shutdown(c);

    ngx_destroy_pool(c->pool);
    ngx_close_connection(c);

    pc->connection = NULL;
    pc->cached = 0;

    return NGX_OK;
}


static void
ngx_http_spiffe_upstream_free_peer(ngx_peer_connection_t *pc, void *data,
    ngx_uint_t state)
{
    ngx_http_spiffe_upstream_peer_t  *sp = data;

    ngx_spiffe_peer_t  *peer;

    /*
     * a server whose SVID is valid but not what this location asks for
     * has not failed: other locations may want it
     */

    if ((state & NGX_PEER_FAILED) && pc->connection
        && pc->connection->ssl)
    {
        peer = ngx_spiffe_ssl_peer(pc->connection);

        if (peer && peer->mismatch) {
            state &= ~NGX_PEER_FAILED;
        }
    }

    sp->free(pc, sp->data, state);
}


static void
ngx_http_spiffe_upstream_notify_peer(ngx_peer_connection_t *pc, void *data,
    ngx_uint_t type)
{
    ngx_http_spiffe_upstream_peer_t  *sp = data;

    sp->notify(pc, sp->data, type);
}


static ngx_int_t
ngx_http_spiffe_upstream_set_session(ngx_peer_connection_t *pc, void *data)
{
    ngx_http_spiffe_upstream_peer_t  *sp = data;

    ngx_int_t     rc;
    SSL_SESSION  *sess;

    rc = sp->set_session(pc, sp->data);
    if (rc != NGX_OK) {
        return rc;
    }

    sess = SSL_get0_session(pc->connection->ssl->connection);

    if (sess && !ngx_spiffe_ssl_session_allowed(sess, sp->rules)) {
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, pc->log, 0,
                       "spiffe: upstream session not allowed here, "
                       "full handshake");

        if (SSL_set_session(pc->connection->ssl->connection, NULL) == 0) {
            ngx_ssl_error(NGX_LOG_ALERT, pc->log, 0,
                          "SSL_set_session() failed");
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


static void
ngx_http_spiffe_upstream_save_session(ngx_peer_connection_t *pc, void *data)
{
    ngx_http_spiffe_upstream_peer_t  *sp = data;

    sp->save_session(pc, sp->data);
}


static ngx_module_t *
ngx_http_spiffe_upstream_module(ngx_cycle_t *cycle, const char *name)
{
    ngx_uint_t  i;

    for (i = 0; cycle->modules[i]; i++) {
        if (ngx_strcmp(cycle->modules[i]->name, name) == 0) {
            return cycle->modules[i];
        }
    }

    return NULL;
}
