
/*
 * Copyright (C) ngx_spiffe developers
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>

#include <ngx_spiffe.h>


/*
 * The balancer of an upstream, wrapped for one request (http) or session
 * (stream), when its kept-alive connections and TLS sessions are shared
 * with others: neither is taken unless it was made presenting the same
 * SVID (or none) as the location or server does, and, with
 * spiffe_proxy_verify, the peer it leads to matches its patterns under
 * the current bundle.
 *
 * The http and stream modules share their configuration of it here; theirs
 * find the proxy modules' SSL contexts and say where a connection comes
 * from.
 */


/* an upstream whose balancer is wrapped, and its own per-request init */

typedef struct {
    void                              *upstream;
    ngx_spiffe_upstream_init_pt        init;
} ngx_spiffe_upstream_hook_t;


typedef struct {
    void                              *data;
    ngx_event_get_peer_pt              get;
    ngx_event_free_peer_pt             free;
    ngx_event_notify_peer_pt           notify;
    ngx_event_set_peer_session_pt      set_session;
    ngx_event_save_peer_session_pt     save_session;
    ngx_spiffe_upstream_t             *up;
} ngx_spiffe_upstream_peer_t;


static ngx_spiffe_upstream_t *ngx_spiffe_upstream_create(ngx_conf_t *cf,
    ngx_spiffe_upstream_conf_t *conf, ngx_spiffe_upstream_where_pt where);
static ngx_int_t ngx_spiffe_upstream_get_peer(ngx_peer_connection_t *pc,
    void *data);
static void ngx_spiffe_upstream_free_peer(ngx_peer_connection_t *pc,
    void *data, ngx_uint_t state);
static void ngx_spiffe_upstream_notify_peer(ngx_peer_connection_t *pc,
    void *data, ngx_uint_t type);
static ngx_int_t ngx_spiffe_upstream_set_session(ngx_peer_connection_t *pc,
    void *data);
static void ngx_spiffe_upstream_save_session(ngx_peer_connection_t *pc,
    void *data);


/* a location or server without spiffe_proxy_svid or spiffe_proxy_verify */
ngx_spiffe_upstream_t  ngx_spiffe_upstream_none;


/* the create_main_conf of the http and the stream modules */

void *
ngx_spiffe_upstream_create_main_conf(ngx_conf_t *cf)
{
    ngx_spiffe_main_conf_t  *smcf;

    smcf = ngx_pcalloc(cf->pool, sizeof(ngx_spiffe_main_conf_t));
    if (smcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     smcf->proxy_spiffe = 0;
     *     smcf->rule_index = 0;
     */

    if (ngx_array_init(&smcf->hooks, cf->pool, 4,
                       sizeof(ngx_spiffe_upstream_hook_t))
        != NGX_OK)
    {
        return NULL;
    }

    return smcf;
}


/* for a location's or a server's create_conf, and its merge_conf */

void
ngx_spiffe_upstream_create_conf(ngx_spiffe_upstream_conf_t *conf)
{
    /*
     * set by ngx_pcalloc() of the module's configuration:
     *
     *     conf->upstream = NULL;
     */

    conf->svid = NGX_CONF_UNSET_PTR;
    conf->verify = NGX_CONF_UNSET_PTR;
}


void
ngx_spiffe_upstream_merge_conf(ngx_spiffe_upstream_conf_t *prev,
    ngx_spiffe_upstream_conf_t *conf)
{
    ngx_conf_merge_ptr_value(conf->svid, prev->svid, NULL);
    ngx_conf_merge_ptr_value(conf->verify, prev->verify, NULL);
}


/*
 * The end of a merge, for one proxy module's SSL context to the upstream
 * of a location or a server: without spiffe_proxy_svid and
 * spiffe_proxy_verify it is claimed as it is, so that no other location
 * hooks it; with either, the hooks present and check what conf says.
 * NGX_DECLINED: the context is shared with a location or server of other
 * spiffe_proxy_svid or spiffe_proxy_verify.
 */

ngx_int_t
ngx_spiffe_upstream_ssl(ngx_conf_t *cf, ngx_spiffe_main_conf_t *smcf,
    ngx_spiffe_upstream_conf_t *conf, ngx_ssl_t *ssl, ngx_flag_t *ssl_verify,
    ngx_spiffe_upstream_where_pt where)
{
    ngx_spiffe_upstream_t  *up;

    if (!conf->svid && conf->verify == NULL) {
        return ngx_spiffe_ssl_client(cf, ssl, &ngx_spiffe_upstream_none);
    }

    /* one for all the proxy modules of a location */

    if (conf->upstream == NULL) {
        conf->upstream = ngx_spiffe_upstream_create(cf, conf, where);
        if (conf->upstream == NULL) {
            return NGX_ERROR;
        }

        smcf->proxy_spiffe = 1;
    }

    up = conf->upstream;

    if (up->rules) {
        /* SPIFFE replaces both the chain and the host name checks */
        *ssl_verify = 0;
    }

    return ngx_spiffe_ssl_client(cf, ssl, up);
}


/*
 * After every merge, the balancers being final by now: once a location or
 * a server has spiffe_proxy_svid or spiffe_proxy_verify, the per-request
 * init of every upstream {} is replaced by handler, as a "proxy_pass" with
 * variables may lead to any of them.  upstreams are the http or the stream
 * upstream module's, the init of each at offset: the two types of init
 * differ in their arguments only, and are copied as they are.
 */

ngx_int_t
ngx_spiffe_upstream_hook(ngx_spiffe_main_conf_t *smcf,
    ngx_array_t *upstreams, size_t offset, ngx_spiffe_upstream_init_pt handler)
{
    u_char                      **us;
    ngx_uint_t                    i;
    ngx_spiffe_upstream_hook_t   *hook;

    if (!smcf->proxy_spiffe) {
        return NGX_OK;
    }

    us = upstreams->elts;

    for (i = 0; i < upstreams->nelts; i++) {
        hook = ngx_array_push(&smcf->hooks);
        if (hook == NULL) {
            return NGX_ERROR;
        }

        hook->upstream = us[i];

        ngx_memcpy(&hook->init, us[i] + offset, sizeof(hook->init));
        ngx_memcpy(us[i] + offset, &handler, sizeof(handler));
    }

    return NGX_OK;
}


/* the balancer's own per-request init of upstream us */

ngx_spiffe_upstream_init_pt
ngx_spiffe_upstream_own_init(ngx_spiffe_main_conf_t *smcf, void *us)
{
    ngx_uint_t                   i;
    ngx_spiffe_upstream_hook_t  *hook;

    hook = smcf->hooks.elts;

    for (i = 0; hook[i].upstream != us; i++) {
        /* void */
    }

    return hook[i].init;
}


/*
 * After the balancer's own per-request init: what the location or server
 * of conf presents and checks, or nothing for one without either
 */

ngx_int_t
ngx_spiffe_upstream_wrap(ngx_peer_connection_t *pc,
    ngx_spiffe_upstream_conf_t *conf, ngx_pool_t *pool)
{
    ngx_spiffe_upstream_peer_t  *sp;

    sp = ngx_palloc(pool, sizeof(ngx_spiffe_upstream_peer_t));
    if (sp == NULL) {
        return NGX_ERROR;
    }

    sp->data = pc->data;
    sp->get = pc->get;
    sp->free = pc->free;
    sp->notify = pc->notify;
    sp->set_session = pc->set_session;
    sp->save_session = pc->save_session;
    sp->up = conf->upstream ? conf->upstream : &ngx_spiffe_upstream_none;

    pc->data = sp;
    pc->get = ngx_spiffe_upstream_get_peer;
    pc->free = ngx_spiffe_upstream_free_peer;
    pc->notify = sp->notify ? ngx_spiffe_upstream_notify_peer : NULL;
    pc->set_session = ngx_spiffe_upstream_set_session;
    pc->save_session = ngx_spiffe_upstream_save_session;

    return NGX_OK;
}


/* what a location or stream server presents to upstreams and checks */

static ngx_spiffe_upstream_t *
ngx_spiffe_upstream_create(ngx_conf_t *cf, ngx_spiffe_upstream_conf_t *conf,
    ngx_spiffe_upstream_where_pt where)
{
    ngx_spiffe_upstream_t  *up;

    up = ngx_pcalloc(cf->pool, sizeof(ngx_spiffe_upstream_t));
    if (up == NULL) {
        return NULL;
    }

    up->svid = conf->svid;

    if (conf->svid) {
        up->presents = conf->svid->name;
    }

    up->rules = conf->verify;
    up->where = where;

    return up;
}


static ngx_int_t
ngx_spiffe_upstream_get_peer(ngx_peer_connection_t *pc, void *data)
{
    ngx_spiffe_upstream_peer_t  *sp = data;

    ngx_int_t          rc;
    const char        *reason;
    ngx_connection_t  *c;

    rc = sp->get(pc, sp->data);

    if (rc != NGX_DONE || pc->connection->ssl == NULL) {
        return rc;
    }

    c = pc->connection;

    if (!ngx_spiffe_ssl_session_presents(SSL_get0_session(c->ssl->connection),
                                         sp->up))
    {
        ngx_log_debug1(NGX_LOG_DEBUG_EVENT, pc->log, 0,
                       "spiffe: kept-alive upstream connection made "
                       "presenting another client identity, closing %p", c);

    } else if (sp->up->rules == NULL) {
        return rc;

    } else if (!ngx_spiffe_peer_allowed(c, sp->up->rules)) {
        /* kept alive for a location that trusts another peer */
        ngx_log_debug1(NGX_LOG_DEBUG_EVENT, pc->log, 0,
                       "spiffe: kept-alive upstream connection %p not "
                       "allowed here, closing it", c);

    } else if (!ngx_spiffe_ssl_peer_current(c, &reason)) {
        /* verified under a bundle or a certificate that no longer holds */
        ngx_log_debug2(NGX_LOG_DEBUG_EVENT, pc->log, 0,
                       "spiffe: kept-alive upstream peer no longer trusted: "
                       "%s, closing connection %p", reason, c);

    } else {
        return rc;
    }

    c->ssl->no_wait_shutdown = 1;
    (void) ngx_ssl_shutdown(c);

    ngx_destroy_pool(c->pool);
    ngx_close_connection(c);

    pc->connection = NULL;
    pc->cached = 0;

    return NGX_OK;
}


static void
ngx_spiffe_upstream_free_peer(ngx_peer_connection_t *pc, void *data,
    ngx_uint_t state)
{
    ngx_spiffe_upstream_peer_t  *sp = data;

    ngx_spiffe_peer_t  *peer;

    /*
     * a server whose SVID is valid but not what these patterns ask for
     * has not failed: others may want it
     */

    if ((state & NGX_PEER_FAILED) && pc->connection
        && pc->connection->ssl)
    {
        peer = ngx_spiffe_peer(pc->connection);

        if (peer && peer->mismatch) {
            state &= ~NGX_PEER_FAILED;
        }
    }

    sp->free(pc, sp->data, state);
}


static void
ngx_spiffe_upstream_notify_peer(ngx_peer_connection_t *pc, void *data,
    ngx_uint_t type)
{
    ngx_spiffe_upstream_peer_t  *sp = data;

    sp->notify(pc, sp->data, type);
}


static ngx_int_t
ngx_spiffe_upstream_set_session(ngx_peer_connection_t *pc, void *data)
{
    ngx_spiffe_upstream_peer_t  *sp = data;

    ngx_int_t     rc;
    SSL_SESSION  *sess;

    rc = sp->set_session(pc, sp->data);
    if (rc != NGX_OK) {
        return rc;
    }

    sess = SSL_get0_session(pc->connection->ssl->connection);

    if (sess == NULL) {
        return NGX_OK;
    }

    if (!ngx_spiffe_ssl_session_presents(sess, sp->up)) {
        ngx_log_debug0(NGX_LOG_DEBUG_EVENT, pc->log, 0,
                       "spiffe: upstream session made presenting another "
                       "client identity, full handshake");

    } else if (sp->up->rules
               && !ngx_spiffe_ssl_session_allowed(sess, sp->up->rules))
    {
        ngx_log_debug0(NGX_LOG_DEBUG_EVENT, pc->log, 0,
                       "spiffe: upstream session not allowed here, "
                       "full handshake");

    } else {
        return NGX_OK;
    }

    if (SSL_set_session(pc->connection->ssl->connection, NULL) == 0) {
        ngx_ssl_error(NGX_LOG_ALERT, pc->log, 0, "SSL_set_session() failed");
        return NGX_ERROR;
    }

    return NGX_OK;
}


static void
ngx_spiffe_upstream_save_session(ngx_peer_connection_t *pc, void *data)
{
    ngx_spiffe_upstream_peer_t  *sp = data;

    sp->save_session(pc, sp->data);
}


/*
 * The field of a proxy module's configuration that one of its directives
 * sets (the offset in its command table): the proxy modules keep their
 * configuration types to themselves
 */

void *
ngx_spiffe_upstream_field(ngx_module_t *m, void *conf, const char *directive)
{
    ngx_command_t  *cmd;

    for (cmd = m->commands; cmd->name.len; cmd++) {
        if (ngx_strcmp(cmd->name.data, directive) == 0) {
            return (char *) conf + cmd->offset;
        }
    }

    return NULL;
}
