
/*
 * Copyright (C) ngx_spiffe developers
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_stream.h>

#include <ngx_stream_spiffe.h>


/*
 * spiffe_proxy_svid and spiffe_proxy_verify for "proxy_ssl on".
 *
 * The stream proxy module keeps its configuration to itself.  Its fields
 * set by directives are found through its command table (the offset each
 * directive writes to); its SSL context, made when it merges, is set by no
 * directive.  The one layout assumption: the ngx_ssl_t pointer is the
 * member right after the ngx_array_t pointer of "proxy_ssl_conf_command",
 * as in every nginx from 1.19.4 (that directive's first release) to 1.29.
 * The pointer found there is used only if it is the data of one of the
 * configuration pool's ngx_ssl_cleanup_ctx cleanups, that is, an SSL
 * context that nginx made: another layout is refused at "nginx -t", never
 * dereferenced.
 *
 * TLS sessions to an upstream are shared by all servers that use it, and
 * the upstream named by a "proxy_pass $variable" is known only at run
 * time: once a server has spiffe_proxy_svid or spiffe_proxy_verify, every
 * upstream's balancer is wrapped, and a session serves only the servers
 * that present what it was made presenting (and, with spiffe_proxy_verify,
 * whose patterns its peer matches).
 */


static u_char *ngx_stream_spiffe_upstream_where(ngx_connection_t *c,
    u_char *buf, size_t len);
static ngx_int_t ngx_stream_spiffe_upstream_init_peer(
    ngx_stream_session_t *s, ngx_stream_upstream_srv_conf_t *us);
static ngx_ssl_t *ngx_stream_spiffe_proxy_ssl(ngx_conf_t *cf, void *after);


/* not in any header of nginx: its configuration is its own */
extern ngx_module_t  ngx_stream_proxy_module;


char *
ngx_stream_spiffe_upstream_merge(ngx_conf_t *cf,
    ngx_stream_spiffe_srv_conf_t *sscf)
{
    u_char                       *file;
    void                         *pscf;
    ngx_int_t                     rc;
    ngx_ssl_t                    *ssl;
    ngx_uint_t                    line;
    ngx_flag_t                   *enable, *verify;
    ngx_module_t                 *m;
    const char                   *name;
    ngx_array_t                 **commands;
    ngx_spiffe_main_conf_t       *smcf;
    ngx_stream_core_srv_conf_t   *cscf;
    ngx_stream_complex_value_t  **cert;

    if (!sscf->proxy.svid && sscf->proxy.verify == NULL) {
        return NGX_CONF_OK;
    }

    cscf = ngx_stream_conf_get_module_srv_conf(cf, ngx_stream_core_module);
    file = cscf->file_name;
    line = cscf->line;

    name = sscf->proxy.svid ? "spiffe_proxy_svid" : "spiffe_proxy_verify";

    if (ngx_spiffe_need_source(cf, name, file, line) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    pscf = ngx_stream_conf_get_module_srv_conf(cf, ngx_stream_proxy_module);

    m = &ngx_stream_proxy_module;

    enable = ngx_spiffe_upstream_field(m, pscf, "proxy_ssl");
    verify = ngx_spiffe_upstream_field(m, pscf, "proxy_ssl_verify");
    cert = ngx_spiffe_upstream_field(m, pscf, "proxy_ssl_certificate");
    commands = ngx_spiffe_upstream_field(m, pscf, "proxy_ssl_conf_command");

    if (enable && !*enable) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"%s\" needs \"proxy_ssl on\" in the server in "
                      "%s:%ui", name, file, line);
        return NGX_CONF_ERROR;
    }

    if (sscf->proxy.svid && cert && *cert) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"spiffe_proxy_svid\" cannot be combined with "
                      "\"proxy_ssl_certificate\" in the server in %s:%ui",
                      file, line);
        return NGX_CONF_ERROR;
    }

    ssl = (enable && verify && cert && commands)
          ? ngx_stream_spiffe_proxy_ssl(cf, commands + 1) : NULL;

    if (ssl == NULL) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"%s\" in %s:%ui: the stream proxy module of this "
                      "nginx does not keep its TLS context where ngx_spiffe "
                      "looks for it", name, file, line);
        return NGX_CONF_ERROR;
    }

    smcf = ngx_stream_conf_get_module_main_conf(cf, ngx_stream_spiffe_module);

    rc = ngx_spiffe_upstream_ssl(cf, smcf, &sscf->proxy, ssl, verify,
                                 ngx_stream_spiffe_upstream_where);

    if (rc == NGX_DECLINED) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "the server in %s:%ui shares the TLS context of "
                      "\"proxy_ssl\" with a server of other "
                      "\"spiffe_proxy_svid\" or \"spiffe_proxy_verify\": "
                      "give it a \"proxy_ssl_*\" directive of its own",
                      file, line);
        return NGX_CONF_ERROR;
    }

    return (rc == NGX_OK) ? NGX_CONF_OK : NGX_CONF_ERROR;
}


/*
 * "post" of spiffe_proxy_svid and spiffe_proxy_verify: the level where
 * they are written gets an SSL context of its own (ngx_spiffe_compat.h)
 */

char *
ngx_stream_spiffe_upstream_directive(ngx_conf_t *cf, void *post, void *data)
{
#if (NGX_SPIFFE_SHARED_UPSTREAM_SSL)

    void          *pscf;
    ngx_array_t  **commands;

    pscf = ngx_stream_conf_get_module_srv_conf(cf, ngx_stream_proxy_module);

    commands = ngx_spiffe_upstream_field(&ngx_stream_proxy_module, pscf,
                                         "proxy_ssl_conf_command");

    if (commands && *commands == NGX_CONF_UNSET_PTR) {
        *commands = NULL;
    }

#endif

    return NGX_CONF_OK;
}


/* after every merge: ngx_spiffe_upstream_hook() says which upstreams */

ngx_int_t
ngx_stream_spiffe_upstream_init(ngx_conf_t *cf)
{
    ngx_spiffe_main_conf_t           *smcf;
    ngx_stream_upstream_main_conf_t  *umcf;

    smcf = ngx_stream_conf_get_module_main_conf(cf, ngx_stream_spiffe_module);
    umcf = ngx_stream_conf_get_module_main_conf(cf, ngx_stream_upstream_module);

    return ngx_spiffe_upstream_hook(smcf, &umcf->upstreams,
                                    offsetof(ngx_stream_upstream_srv_conf_t,
                                             peer.init),
                                    (ngx_spiffe_upstream_init_pt)
                                    ngx_stream_spiffe_upstream_init_peer);
}


/* the server of the session of an upstream connection */

static u_char *
ngx_stream_spiffe_upstream_where(ngx_connection_t *c, u_char *buf,
    size_t len)
{
    ngx_stream_session_t        *s;
    ngx_stream_core_srv_conf_t  *cscf;

    s = c->data;
    cscf = ngx_stream_get_module_srv_conf(s, ngx_stream_core_module);

    return ngx_snprintf(buf, len, "the server at %s:%ui", cscf->file_name,
                        cscf->line);
}


static ngx_int_t
ngx_stream_spiffe_upstream_init_peer(ngx_stream_session_t *s,
    ngx_stream_upstream_srv_conf_t *us)
{
    ngx_int_t                          rc;
    ngx_spiffe_main_conf_t            *smcf;
    ngx_stream_spiffe_srv_conf_t      *sscf;
    ngx_stream_upstream_init_peer_pt   init;

    smcf = ngx_stream_get_module_main_conf(s, ngx_stream_spiffe_module);
    init = (ngx_stream_upstream_init_peer_pt)
               ngx_spiffe_upstream_own_init(smcf, us);

    rc = init(s, us);
    if (rc != NGX_OK) {
        return rc;
    }

    sscf = ngx_stream_get_module_srv_conf(s, ngx_stream_spiffe_module);

    return ngx_spiffe_upstream_wrap(&s->upstream->peer, &sscf->proxy,
                                    s->connection->pool);
}


/* the proxy's SSL context, if "after" holds one that nginx made */

static ngx_ssl_t *
ngx_stream_spiffe_proxy_ssl(ngx_conf_t *cf, void *after)
{
    ngx_ssl_t           *ssl;
    ngx_pool_cleanup_t  *cln;

    ssl = *(ngx_ssl_t **) after;

    for (cln = cf->pool->cleanup; cln; cln = cln->next) {
        if (cln->handler == ngx_ssl_cleanup_ctx && cln->data == ssl) {
            return ssl->ctx ? ssl : NULL;
        }
    }

    return NULL;
}
