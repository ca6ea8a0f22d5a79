
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
 * that use an upstream: the balancers are wrapped (ngx_spiffe_upstream.c),
 * so that a location takes neither unless it was made presenting what the
 * location presents, and, with spiffe_proxy_verify, the peer it leads to
 * matches its patterns.
 */


static ngx_int_t ngx_http_spiffe_upstream_tls(ngx_module_t *m,
    ngx_http_upstream_conf_t *ucf, const char *prefix);
static char *ngx_http_spiffe_upstream_ssl(ngx_conf_t *cf,
    ngx_http_spiffe_loc_conf_t *slcf, ngx_http_upstream_conf_t *ucf,
    const char *prefix);
static u_char *ngx_http_spiffe_upstream_where(ngx_connection_t *c,
    u_char *buf, size_t len);
static ngx_int_t ngx_http_spiffe_upstream_init_peer(ngx_http_request_t *r,
    ngx_http_upstream_srv_conf_t *us);
static ngx_module_t *ngx_http_spiffe_upstream_module(ngx_cycle_t *cycle,
    ngx_uint_t *n);


static const char  *ngx_http_spiffe_upstream_modules[][2] = {
    { "ngx_http_proxy_module", "proxy" },
    { "ngx_http_grpc_module", "grpc" }
};


/*
 * "post" of spiffe_proxy_svid and spiffe_proxy_verify: where the latter
 * is written, for the log; the level where either is written gets SSL
 * contexts of its own (ngx_spiffe_compat.h)
 */

char *
ngx_http_spiffe_upstream_directive(ngx_conf_t *cf, void *post, void *data)
{
    ngx_http_spiffe_loc_conf_t  *slcf;

#if (NGX_SPIFFE_SHARED_UPSTREAM_SSL)
    u_char                       name[sizeof("proxy_ssl_conf_command")];
    ngx_uint_t                   i;
    ngx_array_t                **commands;
    ngx_module_t                *m;
    ngx_http_conf_ctx_t         *ctx;

    ctx = cf->ctx;

    for (i = 0; (m = ngx_http_spiffe_upstream_module(cf->cycle, &i)); i++) {
        ngx_sprintf(name, "%s_ssl_conf_command%Z",
                    ngx_http_spiffe_upstream_modules[i][1]);

        commands = ngx_spiffe_upstream_field(m, ctx->loc_conf[m->ctx_index],
                                             (const char *) name);

        if (commands && *commands == NGX_CONF_UNSET_PTR) {
            *commands = NULL;
        }
    }
#endif

    slcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_spiffe_module);

    if (data == &slcf->proxy.verify) {
        slcf->proxy_verify_file = cf->conf_file->file.name.data;
        slcf->proxy_verify_line = cf->conf_file->line;
    }

    return NGX_CONF_OK;
}


char *
ngx_http_spiffe_upstream_merge(ngx_conf_t *cf,
    ngx_http_spiffe_loc_conf_t *slcf)
{
    char                      *rv;
    ngx_int_t                  tls;
    ngx_uint_t                 i;
    const char                *prefix;
    ngx_module_t              *m;
    ngx_http_conf_ctx_t       *ctx;
    ngx_http_core_loc_conf_t  *clcf;
    ngx_http_upstream_conf_t  *ucf;

    ctx = cf->ctx;

    for (i = 0; (m = ngx_http_spiffe_upstream_module(cf->cycle, &i)); i++) {
        prefix = ngx_http_spiffe_upstream_modules[i][1];
        ucf = ctx->loc_conf[m->ctx_index];

        if (ucf->ssl == NULL || ucf->ssl->ctx == NULL) {
            tls = 0;

        } else if (!slcf->proxy.svid && slcf->proxy.verify == NULL) {
            /* a context of its own or shared: claimed as it is */
            tls = 1;

        } else {
            tls = ngx_http_spiffe_upstream_tls(m, ucf, prefix);
        }

        if (tls == NGX_ERROR) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "the %s module of this nginx does not keep "
                               "its \"https\" flag where ngx_spiffe looks "
                               "for it", prefix);
            return NGX_CONF_ERROR;
        }

        if (tls) {
            rv = ngx_http_spiffe_upstream_ssl(cf, slcf, ucf, prefix);
            if (rv != NGX_CONF_OK) {
                return rv;
            }

            continue;
        }

        /* proxy_pass http://, grpc_pass grpc:// */

        if (slcf->proxy.verify && ucf->upstream) {
            clcf = ngx_http_conf_get_module_loc_conf(cf,
                                                     ngx_http_core_module);

            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "\"spiffe_proxy_verify\" in %s:%ui needs TLS to "
                          "the upstream of location \"%V\": its \"%s_pass\" "
                          "is cleartext", slcf->proxy_verify_file,
                          slcf->proxy_verify_line, &clcf->name, prefix);
            return NGX_CONF_ERROR;
        }
    }

    return NGX_CONF_OK;
}


/* after every merge: ngx_spiffe_upstream_hook() says which upstreams */

ngx_int_t
ngx_http_spiffe_upstream_init(ngx_conf_t *cf)
{
    ngx_spiffe_main_conf_t         *smcf;
    ngx_http_upstream_main_conf_t  *umcf;

    smcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_spiffe_module);
    umcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_upstream_module);

    return ngx_spiffe_upstream_hook(smcf, &umcf->upstreams,
                                    offsetof(ngx_http_upstream_srv_conf_t,
                                             peer.init),
                                    (ngx_spiffe_upstream_init_pt)
                                    ngx_http_spiffe_upstream_init_peer);
}


static char *
ngx_http_spiffe_upstream_ssl(ngx_conf_t *cf, ngx_http_spiffe_loc_conf_t *slcf,
    ngx_http_upstream_conf_t *ucf, const char *prefix)
{
    ngx_int_t                  rc;
    ngx_spiffe_main_conf_t    *smcf;
    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    if (slcf->proxy.svid && ucf->ssl_certificate) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"spiffe_proxy_svid\" cannot be combined with "
                           "\"%s_ssl_certificate\" in location \"%V\"",
                           prefix, &clcf->name);
        return NGX_CONF_ERROR;
    }

    smcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_spiffe_module);

    rc = ngx_spiffe_upstream_ssl(cf, smcf, &slcf->proxy, ucf->ssl,
                                 &ucf->ssl_verify,
                                 ngx_http_spiffe_upstream_where);

    if (rc == NGX_DECLINED) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "location \"%V\" shares the TLS context of "
                           "\"%s_pass\" with a location of other "
                           "\"spiffe_proxy_svid\" or \"spiffe_proxy_verify\"",
                           &clcf->name, prefix);
        return NGX_CONF_ERROR;
    }

    return (rc == NGX_OK) ? NGX_CONF_OK : NGX_CONF_ERROR;
}


/*
 * Whether a location's upstream is TLS: the module's "ssl" flag, the
 * member just before the one "proxy_ssl_protocols" sets, as in every
 * nginx from 1.9 to 1.29 (set for https:// and for URLs with variables).
 * Another layout is refused, never guessed.
 */

static ngx_int_t
ngx_http_spiffe_upstream_tls(ngx_module_t *m, ngx_http_upstream_conf_t *ucf,
    const char *prefix)
{
    u_char       name[sizeof("proxy_ssl_protocols")];
    ngx_uint_t  *protocols;

    ngx_sprintf(name, "%s_ssl_protocols%Z", prefix);

    protocols = ngx_spiffe_upstream_field(m, ucf, (const char *) name);

    if (protocols == NULL || (protocols[-1] != 0 && protocols[-1] != 1)) {
        return NGX_ERROR;
    }

    return protocols[-1];
}


/* the location of the request of an upstream connection */

static u_char *
ngx_http_spiffe_upstream_where(ngx_connection_t *c, u_char *buf, size_t len)
{
    ngx_http_request_t        *r;
    ngx_http_core_loc_conf_t  *clcf;

    r = c->data;
    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

    return ngx_snprintf(buf, len, "location \"%V\"", &clcf->name);
}


static ngx_int_t
ngx_http_spiffe_upstream_init_peer(ngx_http_request_t *r,
    ngx_http_upstream_srv_conf_t *us)
{
    ngx_int_t                        rc;
    ngx_spiffe_main_conf_t          *smcf;
    ngx_http_spiffe_loc_conf_t      *slcf;
    ngx_http_upstream_init_peer_pt   init;

    smcf = ngx_http_get_module_main_conf(r, ngx_http_spiffe_module);
    init = (ngx_http_upstream_init_peer_pt)
               ngx_spiffe_upstream_own_init(smcf, us);

    rc = init(r, us);
    if (rc != NGX_OK) {
        return rc;
    }

    slcf = ngx_http_get_module_loc_conf(r, ngx_http_spiffe_module);

    return ngx_spiffe_upstream_wrap(&r->upstream->peer, &slcf->proxy,
                                    r->pool);
}


/*
 * The proxy and the grpc modules that this nginx has, one by one: the
 * first from ngx_http_spiffe_upstream_modules[*n] on, *n left at its
 * entry; NULL after the last
 */

static ngx_module_t *
ngx_http_spiffe_upstream_module(ngx_cycle_t *cycle, ngx_uint_t *n)
{
    ngx_uint_t   i;
    const char  *name;

    for ( /* void */ ; *n < sizeof(ngx_http_spiffe_upstream_modules)
                            / sizeof(ngx_http_spiffe_upstream_modules[0]);
         (*n)++)
    {
        name = ngx_http_spiffe_upstream_modules[*n][0];

        for (i = 0; cycle->modules[i]; i++) {
            if (ngx_strcmp(cycle->modules[i]->name, name) == 0) {
                return cycle->modules[i];
            }
        }
    }

    return NULL;
}
