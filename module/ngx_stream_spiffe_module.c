
/*
 * Copyright (C) ngx_spiffe developers
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_stream.h>

#include <ngx_stream_spiffe.h>


/*
 * SPIFFE for stream servers.  The identity source, the TLS hooks and the
 * rules are those of the http module's shared object, which must be loaded
 * first: one Workload API stream per worker serves both.
 */


static ngx_int_t ngx_stream_spiffe_handler(ngx_stream_session_t *s);
static ngx_int_t ngx_stream_spiffe_variable(ngx_stream_session_t *s,
    ngx_stream_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_stream_spiffe_rule_variable(ngx_stream_session_t *s,
    ngx_stream_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_stream_spiffe_add_variables(ngx_conf_t *cf);
static void *ngx_stream_spiffe_create_srv_conf(ngx_conf_t *cf);
static char *ngx_stream_spiffe_merge_srv_conf(ngx_conf_t *cf, void *parent,
    void *child);
static ngx_int_t ngx_stream_spiffe_init(ngx_conf_t *cf);
#if (NGX_SPIFFE_STREAM_SSL_ANY_SERVER)
static ngx_int_t ngx_stream_spiffe_listen_ssl(ngx_conf_t *cf);
#endif
static char *ngx_stream_spiffe_svid(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);


static ngx_conf_post_t  ngx_stream_spiffe_proxy_post = {
    ngx_stream_spiffe_upstream_directive
};


static ngx_command_t  ngx_stream_spiffe_commands[] = {

    { ngx_string("spiffe_svid"),
      NGX_STREAM_MAIN_CONF|NGX_STREAM_SRV_CONF|NGX_CONF_TAKE1,
      ngx_stream_spiffe_svid,
      NGX_STREAM_SRV_CONF_OFFSET,
      offsetof(ngx_stream_spiffe_srv_conf_t, server.svid),
      NULL },

    { ngx_string("spiffe_verify_client"),
      NGX_STREAM_MAIN_CONF|NGX_STREAM_SRV_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_STREAM_SRV_CONF_OFFSET,
      offsetof(ngx_stream_spiffe_srv_conf_t, server.verify),
      &ngx_spiffe_verify },

    { ngx_string("spiffe_allow"),
      NGX_STREAM_MAIN_CONF|NGX_STREAM_SRV_CONF|NGX_CONF_TAKE1,
      ngx_spiffe_rules_slot,
      NGX_STREAM_SRV_CONF_OFFSET,
      offsetof(ngx_stream_spiffe_srv_conf_t, rules),
      (void *) SPIFFE_RULES_ALLOW },

    { ngx_string("spiffe_deny"),
      NGX_STREAM_MAIN_CONF|NGX_STREAM_SRV_CONF|NGX_CONF_TAKE1,
      ngx_spiffe_rules_slot,
      NGX_STREAM_SRV_CONF_OFFSET,
      offsetof(ngx_stream_spiffe_srv_conf_t, rules),
      (void *) SPIFFE_RULES_DENY },

    { ngx_string("spiffe_dry_run"),
      NGX_STREAM_MAIN_CONF|NGX_STREAM_SRV_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_STREAM_SRV_CONF_OFFSET,
      offsetof(ngx_stream_spiffe_srv_conf_t, dry_run),
      NULL },

    { ngx_string("spiffe_proxy_svid"),
      NGX_STREAM_MAIN_CONF|NGX_STREAM_SRV_CONF|NGX_CONF_TAKE1,
      ngx_spiffe_svid_slot,
      NGX_STREAM_SRV_CONF_OFFSET,
      offsetof(ngx_stream_spiffe_srv_conf_t, proxy.svid),
      &ngx_stream_spiffe_proxy_post },

    { ngx_string("spiffe_proxy_verify"),
      NGX_STREAM_MAIN_CONF|NGX_STREAM_SRV_CONF|NGX_CONF_1MORE,
      ngx_spiffe_rules_patterns,
      NGX_STREAM_SRV_CONF_OFFSET,
      offsetof(ngx_stream_spiffe_srv_conf_t, proxy.verify),
      &ngx_stream_spiffe_proxy_post },

      ngx_null_command
};


static ngx_stream_module_t  ngx_stream_spiffe_module_ctx = {
    ngx_stream_spiffe_add_variables,       /* preconfiguration */
    ngx_stream_spiffe_init,                /* postconfiguration */

    ngx_spiffe_upstream_create_main_conf,  /* create main configuration */
    NULL,                                  /* init main configuration */

    ngx_stream_spiffe_create_srv_conf,     /* create server configuration */
    ngx_stream_spiffe_merge_srv_conf       /* merge server configuration */
};


ngx_module_t  ngx_stream_spiffe_module = {
    NGX_MODULE_V1,
    &ngx_stream_spiffe_module_ctx,         /* module context */
    ngx_stream_spiffe_commands,            /* module directives */
    NGX_STREAM_MODULE,                     /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    NULL,                                  /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    NULL,                                  /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static ngx_str_t  ngx_stream_spiffe_none = ngx_string("NONE");


/*
 * After the TLS handshake (the ssl phase comes before preread) and before
 * any byte is proxied: spiffe_verify_client on, then the rules.
 */

static ngx_int_t
ngx_stream_spiffe_handler(ngx_stream_session_t *s)
{
    ngx_connection_t              *c;
    ngx_spiffe_peer_t             *peer;
    ngx_spiffe_main_conf_t        *smcf;
    ngx_stream_spiffe_srv_conf_t  *sscf;

    sscf = ngx_stream_get_module_srv_conf(s, ngx_stream_spiffe_module);

    if (sscf->server.verify != NGX_SPIFFE_VERIFY_ON && sscf->rules == NULL) {
        return NGX_DECLINED;
    }

    c = s->connection;
    peer = ngx_spiffe_peer(c);

    if (peer == NULL || peer->status != NGX_SPIFFE_PEER_VERIFIED) {

        /* dry run relaxes the rules, not "spiffe_verify_client on" */

        if (sscf->dry_run && sscf->server.verify != NGX_SPIFFE_VERIFY_ON) {
            (void) ngx_spiffe_rules_no_id(c->log,
                                          peer ? &peer->verify
                                               : &ngx_stream_spiffe_none,
                                          NGX_SPIFFE_RULES_X509, 1);
            return NGX_DECLINED;
        }

        ngx_log_error(NGX_LOG_INFO, c->log, 0,
                      "spiffe: connection refused: no verified SPIFFE ID "
                      "(%V)", peer ? &peer->verify : &ngx_stream_spiffe_none);

        if (peer && peer->status == NGX_SPIFFE_PEER_NONE) {
            ngx_spiffe_stats_refused(NGX_SPIFFE_SIDE_CLIENT,
                                     SPIFFE_ERR_NO_CERTIFICATE);
        }

        ngx_spiffe_stats_count(NGX_SPIFFE_STAT_DENIED_NO_ID);
        goto refused;
    }

    if (sscf->rules == NULL) {
        return NGX_DECLINED;
    }

    smcf = ngx_stream_get_module_main_conf(s, ngx_stream_spiffe_module);

    if (ngx_spiffe_rules_decide(c->log, sscf->rules, &peer->id,
                                NGX_SPIFFE_RULES_X509, sscf->dry_run,
                                &s->variables[smcf->rule_index])
        != NGX_DECLINED)
    {
        return NGX_DECLINED;
    }

refused:

    /* what the client sent already is not read: no shutdown alert */

    if (c->ssl) {
        c->ssl->no_wait_shutdown = 1;
    }

    return NGX_STREAM_FORBIDDEN;
}


static ngx_int_t
ngx_stream_spiffe_variable(ngx_stream_session_t *s,
    ngx_stream_variable_value_t *v, uintptr_t data)
{
    return ngx_spiffe_peer_variable(s->connection, v, data);
}


static ngx_int_t
ngx_stream_spiffe_rule_variable(ngx_stream_session_t *s,
    ngx_stream_variable_value_t *v, uintptr_t data)
{
    v->not_found = 1;

    return NGX_OK;
}


/* those of the peer, ngx_spiffe_peer_variables[], and $spiffe_rule */

static ngx_int_t
ngx_stream_spiffe_add_variables(ngx_conf_t *cf)
{
    ngx_stream_variable_t  *var;
    ngx_spiffe_variable_t  *pv;

    static ngx_str_t  rule = ngx_string("spiffe_rule");

    for (pv = ngx_spiffe_peer_variables; pv->name.len; pv++) {
        var = ngx_stream_add_variable(cf, &pv->name,
                                      NGX_STREAM_VAR_NOCACHEABLE);
        if (var == NULL) {
            return NGX_ERROR;
        }

        var->get_handler = ngx_stream_spiffe_variable;
        var->data = pv->data;
    }

    /* set by the handler in the session's slot */

    var = ngx_stream_add_variable(cf, &rule, 0);
    if (var == NULL) {
        return NGX_ERROR;
    }

    var->get_handler = ngx_stream_spiffe_rule_variable;

    return NGX_OK;
}


static void *
ngx_stream_spiffe_create_srv_conf(ngx_conf_t *cf)
{
    ngx_stream_spiffe_srv_conf_t  *sscf;

    sscf = ngx_pcalloc(cf->pool, sizeof(ngx_stream_spiffe_srv_conf_t));
    if (sscf == NULL) {
        return NULL;
    }

    ngx_spiffe_ssl_create_server(&sscf->server);
    sscf->rules = NGX_CONF_UNSET_PTR;
    sscf->dry_run = NGX_CONF_UNSET;
    ngx_spiffe_upstream_create_conf(&sscf->proxy);

    return sscf;
}


static char *
ngx_stream_spiffe_merge_srv_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_stream_spiffe_srv_conf_t *prev = parent;
    ngx_stream_spiffe_srv_conf_t *conf = child;

    char                          *rv;
    ngx_stream_core_srv_conf_t    *cscf;
    ngx_stream_spiffe_ssl_conf_t  *ssl;

    ngx_conf_merge_ptr_value(conf->rules, prev->rules, NULL);
    ngx_conf_merge_value(conf->dry_run, prev->dry_run, 0);
    ngx_spiffe_upstream_merge_conf(&prev->proxy, &conf->proxy);

    cscf = ngx_stream_conf_get_module_srv_conf(cf, ngx_stream_core_module);
    ssl = ngx_stream_conf_get_module_srv_conf(cf, ngx_stream_ssl_module);

    rv = ngx_spiffe_ssl_server(cf, &prev->server, &conf->server, &ssl->ssl,
                               ssl->certificates, ssl->verify,
                               cscf->file_name, cscf->line);
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    return ngx_stream_spiffe_upstream_merge(cf, conf);
}


static ngx_int_t
ngx_stream_spiffe_init(ngx_conf_t *cf)
{
    ngx_stream_handler_pt        *h;
    ngx_spiffe_main_conf_t       *smcf;
    ngx_stream_core_main_conf_t  *cmcf;

    smcf = ngx_stream_conf_get_module_main_conf(cf, ngx_stream_spiffe_module);

    smcf->rule_index = ngx_spiffe_rules_index(cf,
                                              ngx_stream_get_variable_index);
    if (smcf->rule_index == NGX_ERROR) {
        return NGX_ERROR;
    }

    cmcf = ngx_stream_conf_get_module_main_conf(cf, ngx_stream_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_STREAM_PREREAD_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_stream_spiffe_handler;

#if (NGX_SPIFFE_STREAM_SSL_ANY_SERVER)
    if (ngx_stream_spiffe_listen_ssl(cf) != NGX_OK) {
        return NGX_ERROR;
    }
#endif

    return ngx_stream_spiffe_upstream_init(cf);
}


#if (NGX_SPIFFE_STREAM_SSL_ANY_SERVER)

/*
 * A server with spiffe_svid or spiffe_verify_client has an SSL context
 * whether it listens with "ssl" or not: without, it is refused, as older
 * nginx versions refuse it for want of a context
 */

static ngx_int_t
ngx_stream_spiffe_listen_ssl(ngx_conf_t *cf)
{
    ngx_uint_t                      i, p, a, s;
    const char                     *name;
    ngx_stream_conf_port_t         *port;
    ngx_stream_conf_addr_t         *addr;
    ngx_stream_core_srv_conf_t    **cscfp, **servers;
    ngx_stream_spiffe_srv_conf_t   *sscf;
    ngx_stream_core_main_conf_t    *cmcf;

    cmcf = ngx_stream_conf_get_module_main_conf(cf, ngx_stream_core_module);

    cscfp = cmcf->servers.elts;

    for (i = 0; i < cmcf->servers.nelts; i++) {

        sscf = cscfp[i]->ctx->srv_conf[ngx_stream_spiffe_module.ctx_index];

        name = ngx_spiffe_ssl_server_directive(&sscf->server);

        if (name == NULL) {
            continue;
        }

        port = cmcf->ports ? cmcf->ports->elts : NULL;

        for (p = 0; port && p < cmcf->ports->nelts; p++) {

            addr = port[p].addrs.elts;

            for (a = 0; a < port[p].addrs.nelts; a++) {

                if (!addr[a].opt.ssl) {
                    continue;
                }

                servers = addr[a].servers.elts;

                for (s = 0; s < addr[a].servers.nelts; s++) {
                    if (servers[s] == cscfp[i]) {
                        goto next;
                    }
                }
            }
        }

        ngx_log_error(NGX_LOG_EMERG, cf->log, 0, NGX_SPIFFE_NEEDS_TLS, name,
                      cscfp[i]->file_name, cscfp[i]->line);
        return NGX_ERROR;

    next:

        continue;
    }

    return NGX_OK;
}

#endif


static char *
ngx_stream_spiffe_svid(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_stream_spiffe_ssl_conf_t  *ssl;

    ssl = ngx_stream_conf_get_module_srv_conf(cf, ngx_stream_ssl_module);

    return ngx_spiffe_ssl_svid_directive(cf, cmd, conf, &ssl->certificates,
                                         &ssl->certificate_keys);
}
