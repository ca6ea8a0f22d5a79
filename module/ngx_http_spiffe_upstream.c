
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
 * that use an upstream: the balancer of such an upstream is wrapped
 * (ngx_spiffe_upstream.c), so that a location with spiffe_proxy_verify
 * takes neither unless the peer it leads to matches its patterns.
 */


static char *ngx_http_spiffe_upstream_ssl(ngx_conf_t *cf,
    ngx_http_spiffe_loc_conf_t *slcf, ngx_http_upstream_conf_t *ucf,
    const char *prefix);
static ngx_int_t ngx_http_spiffe_upstream_init_peer(ngx_http_request_t *r,
    ngx_http_upstream_srv_conf_t *us);
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
    u_char                       *p;
    ngx_int_t                     rc;
    ngx_uint_t                    i;
    ngx_spiffe_upstream_t        *sup;
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

    sup = ngx_palloc(cf->pool, sizeof(ngx_spiffe_upstream_t));
    p = ngx_pnalloc(cf->pool, sizeof("location \"\"") - 1 + clcf->name.len);

    if (sup == NULL || p == NULL) {
        return NGX_CONF_ERROR;
    }

    sup->svid = slcf->proxy_svid;
    sup->rules = slcf->proxy_verify;
    sup->where.data = p;
    sup->where.len = ngx_sprintf(p, "location \"%V\"", &clcf->name) - p;

    if (sup->rules) {
        /* SPIFFE replaces both the chain and the host name checks */
        ucf->ssl_verify = 0;
    }

    rc = ngx_spiffe_ssl_client(cf, ucf->ssl, sup);

    if (rc == NGX_DECLINED) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "location \"%V\" shares the TLS context of "
                           "\"%s_pass\" with a location of other "
                           "\"spiffe_proxy_svid\" or \"spiffe_proxy_verify\": "
                           "give it a \"%s_ssl_*\" directive of its own",
                           &clcf->name, prefix, prefix);
        return NGX_CONF_ERROR;
    }

    if (rc != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    if (sup->rules == NULL || ucf->upstream == NULL) {
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
    ngx_int_t                     rc;
    ngx_uint_t                    i;
    ngx_http_spiffe_main_conf_t  *smcf;
    ngx_http_spiffe_loc_conf_t   *slcf;
    ngx_http_spiffe_upstream_t   *up;

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

    return ngx_spiffe_upstream_wrap(&r->upstream->peer, slcf->proxy_verify,
                                    r->pool);
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
