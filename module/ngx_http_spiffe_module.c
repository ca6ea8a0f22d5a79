
/*
 * Copyright (C) ngx_spiffe developers
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <ngx_http_spiffe.h>


typedef ngx_int_t (*ngx_http_spiffe_peer_var_pt)(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, ngx_spiffe_peer_t *peer);


static ngx_int_t ngx_http_spiffe_verify_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_spiffe_access_handler(ngx_http_request_t *r);
static ngx_spiffe_peer_t *ngx_http_spiffe_peer(ngx_http_request_t *r);
static ngx_int_t ngx_http_spiffe_peer_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_spiffe_svid_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_spiffe_rule_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_spiffe_add_variables(ngx_conf_t *cf);
static void *ngx_http_spiffe_create_srv_conf(ngx_conf_t *cf);
static char *ngx_http_spiffe_merge_srv_conf(ngx_conf_t *cf, void *parent,
    void *child);
static void *ngx_http_spiffe_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_spiffe_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static ngx_int_t ngx_http_spiffe_init(ngx_conf_t *cf);
#if (NGX_SPIFFE_HTTP_QUIC)
static ngx_int_t ngx_http_spiffe_quic(ngx_conf_t *cf);
#endif
static char *ngx_http_spiffe_svid(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_spiffe_jwt_audience(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_spiffe_status(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_spiffe_merge_jwt(ngx_conf_t *cf,
    ngx_http_spiffe_loc_conf_t *prev, ngx_http_spiffe_loc_conf_t *conf);


static ngx_conf_enum_t  ngx_http_spiffe_xfcc_forward[] = {
    { ngx_string("sanitize"), NGX_HTTP_SPIFFE_XFCC_SANITIZE },
    { ngx_string("forward_only"), NGX_HTTP_SPIFFE_XFCC_FORWARD_ONLY },
    { ngx_string("append_forward"), NGX_HTTP_SPIFFE_XFCC_APPEND_FORWARD },
    { ngx_string("sanitize_set"), NGX_HTTP_SPIFFE_XFCC_SANITIZE_SET },
    { ngx_null_string, 0 }
};


static ngx_conf_post_t  ngx_http_spiffe_proxy_post = {
    ngx_http_spiffe_upstream_directive
};


static ngx_command_t  ngx_http_spiffe_commands[] = {

    { ngx_string("spiffe_svid"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_CONF_TAKE1,
      ngx_http_spiffe_svid,
      NGX_HTTP_SRV_CONF_OFFSET,
      offsetof(ngx_spiffe_server_conf_t, svid),
      NULL },

    { ngx_string("spiffe_verify_client"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_HTTP_SRV_CONF_OFFSET,
      offsetof(ngx_spiffe_server_conf_t, verify),
      &ngx_spiffe_verify },

    { ngx_string("spiffe_allow"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_spiffe_rules_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_spiffe_loc_conf_t, rules),
      (void *) SPIFFE_RULES_ALLOW },

    { ngx_string("spiffe_deny"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_spiffe_rules_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_spiffe_loc_conf_t, rules),
      (void *) SPIFFE_RULES_DENY },

    { ngx_string("spiffe_dry_run"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_spiffe_loc_conf_t, dry_run),
      NULL },

    { ngx_string("spiffe_jwt"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_spiffe_loc_conf_t, jwt),
      &ngx_spiffe_verify },

    { ngx_string("spiffe_jwt_audience"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_spiffe_jwt_audience,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("spiffe_jwt_header"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_spiffe_loc_conf_t, jwt_header),
      NULL },

    { ngx_string("spiffe_jwt_allow"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_spiffe_rules_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_spiffe_loc_conf_t, jwt_rules),
      (void *) SPIFFE_RULES_ALLOW },

    { ngx_string("spiffe_jwt_deny"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_spiffe_rules_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_spiffe_loc_conf_t, jwt_rules),
      (void *) SPIFFE_RULES_DENY },

    { ngx_string("spiffe_jwt_svid_audience"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_spiffe_loc_conf_t, jwt_svid_audience),
      NULL },

    { ngx_string("spiffe_status"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS|NGX_CONF_TAKE1,
      ngx_http_spiffe_status,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("spiffe_proxy_svid"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_spiffe_svid_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_spiffe_loc_conf_t, proxy.svid),
      &ngx_http_spiffe_proxy_post },

    { ngx_string("spiffe_proxy_verify"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_spiffe_rules_patterns,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_spiffe_loc_conf_t, proxy.verify),
      &ngx_http_spiffe_proxy_post },

    { ngx_string("spiffe_xfcc_forward"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_spiffe_loc_conf_t, xfcc_forward),
      &ngx_http_spiffe_xfcc_forward },

    { ngx_string("spiffe_xfcc_details"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_spiffe_xfcc_details,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

      ngx_null_command
};


static ngx_str_t  ngx_http_spiffe_none = ngx_string("NONE");


/* and those of the peer, ngx_spiffe_peer_variables[] */

static ngx_http_variable_t  ngx_http_spiffe_vars[] = {

    { ngx_string("spiffe_xfcc"), NULL, ngx_http_spiffe_xfcc_variable,
      0, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("spiffe_xfcc_forward"), NULL,
      ngx_http_spiffe_xfcc_forward_variable, 0, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("spiffe_jwt_id"), NULL, ngx_http_spiffe_jwt_variable,
      offsetof(ngx_http_spiffe_jwt_ctx_t, id), NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("spiffe_jwt_trust_domain"), NULL,
      ngx_http_spiffe_jwt_variable,
      offsetof(ngx_http_spiffe_jwt_ctx_t, td), NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("spiffe_jwt_path"), NULL, ngx_http_spiffe_jwt_variable,
      offsetof(ngx_http_spiffe_jwt_ctx_t, path), NGX_HTTP_VAR_NOCACHEABLE,
      0 },

    { ngx_string("spiffe_jwt_claims"), NULL, ngx_http_spiffe_jwt_variable,
      offsetof(ngx_http_spiffe_jwt_ctx_t, claims), NGX_HTTP_VAR_NOCACHEABLE,
      0 },

    { ngx_string("spiffe_jwt_verify"), NULL, ngx_http_spiffe_jwt_variable,
      offsetof(ngx_http_spiffe_jwt_ctx_t, verify), NGX_HTTP_VAR_NOCACHEABLE,
      0 },

    { ngx_string("spiffe_jwt_svid"), NULL, ngx_http_spiffe_jwt_svid_variable,
      0, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("spiffe_svid_id"), NULL, ngx_http_spiffe_svid_variable,
      0, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("spiffe_svid_expires"), NULL, ngx_http_spiffe_svid_variable,
      1, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    /* set by the access phase in the request's slot */
    { ngx_string("spiffe_rule"), NULL, ngx_http_spiffe_rule_variable,
      0, 0, 0 },

      ngx_http_null_variable
};


static ngx_http_module_t  ngx_http_spiffe_module_ctx = {
    ngx_http_spiffe_add_variables,         /* preconfiguration */
    ngx_http_spiffe_init,                  /* postconfiguration */

    ngx_spiffe_upstream_create_main_conf,  /* create main configuration */
    NULL,                                  /* init main configuration */

    ngx_http_spiffe_create_srv_conf,       /* create server configuration */
    ngx_http_spiffe_merge_srv_conf,        /* merge server configuration */

    ngx_http_spiffe_create_loc_conf,       /* create location configuration */
    ngx_http_spiffe_merge_loc_conf         /* merge location configuration */
};


ngx_module_t  ngx_http_spiffe_module = {
    NGX_MODULE_V1,
    &ngx_http_spiffe_module_ctx,           /* module context */
    ngx_http_spiffe_commands,              /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    NULL,                                  /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    NULL,                                  /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


/*
 * spiffe_verify_client on: a connection without a verified peer gets 400
 * before any other handler runs, as with ssl_verify_client on
 */

static ngx_int_t
ngx_http_spiffe_verify_handler(ngx_http_request_t *r)
{
    ngx_spiffe_peer_t         *peer;
    ngx_spiffe_server_conf_t  *sscf;

    sscf = ngx_http_get_module_srv_conf(r, ngx_http_spiffe_module);

    if (sscf->verify != NGX_SPIFFE_VERIFY_ON || r->connection->ssl == NULL) {
        return NGX_DECLINED;
    }

    peer = ngx_spiffe_peer(r->connection);

    if (peer == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (peer->status == NGX_SPIFFE_PEER_VERIFIED) {
        return NGX_DECLINED;
    }

    if (peer->status == NGX_SPIFFE_PEER_NONE) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "spiffe: client sent no required SPIFFE SVID");

        /* once per connection, however many requests it carries */

        if (!peer->counted) {
            peer->counted = 1;
            ngx_spiffe_stats_refused(NGX_SPIFFE_SIDE_CLIENT,
                                     SPIFFE_ERR_NO_CERTIFICATE);
        }

        return NGX_HTTPS_NO_CERT;
    }

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "spiffe: client SVID refused (%V)", &peer->verify);

    return NGX_HTTPS_CERT_ERROR;
}


static ngx_int_t
ngx_http_spiffe_access_handler(ngx_http_request_t *r)
{
    ngx_int_t                    rc;
    ngx_spiffe_peer_t           *peer;
    ngx_http_variable_value_t   *rule;
    ngx_http_spiffe_loc_conf_t  *slcf;

    slcf = ngx_http_get_module_loc_conf(r, ngx_http_spiffe_module);

    if (slcf->rules == NULL) {
        return NGX_DECLINED;
    }

    rule = ngx_http_spiffe_rule_slot(r);
    peer = ngx_http_spiffe_peer(r);

    if (peer == NULL || peer->id.len == 0) {
        rc = ngx_spiffe_rules_no_id(r->connection->log,
                                    peer ? &peer->verify
                                         : &ngx_http_spiffe_none,
                                    NGX_SPIFFE_RULES_X509, slcf->dry_run);

    } else {
        rc = ngx_spiffe_rules_decide(r->connection->log, slcf->rules,
                                     &peer->id, NGX_SPIFFE_RULES_X509,
                                     slcf->dry_run, rule);
    }

    if (rc == NGX_DECLINED) {
        return NGX_HTTP_FORBIDDEN;
    }

    /* a refusal in dry run has no say, as if there were no rules */

    return (rc == NGX_OK) ? NGX_OK : NGX_DECLINED;
}


/*
 * The slot of $spiffe_rule in the request, emptied for a decision to
 * come: the access phase sets it, the variable's handler never does.
 */

ngx_http_variable_value_t *
ngx_http_spiffe_rule_slot(ngx_http_request_t *r)
{
    ngx_spiffe_main_conf_t     *smcf;
    ngx_http_variable_value_t  *v;

    smcf = ngx_http_get_module_main_conf(r, ngx_http_spiffe_module);

    v = &r->variables[smcf->rule_index];
    v->valid = 0;
    v->not_found = 1;

    return v;
}


/*
 * The next request header named name, in the order the client sent them,
 * or NULL after the last
 */

ngx_table_elt_t *
ngx_http_spiffe_header(ngx_http_request_t *r, ngx_str_t *name,
    ngx_http_spiffe_headers_t *walk)
{
    ngx_table_elt_t  *h;

    if (walk->part == NULL) {
        walk->part = &r->headers_in.headers.part;
        walk->i = 0;
    }

    for ( ;; ) {

        if (walk->i >= walk->part->nelts) {
            if (walk->part->next == NULL) {
                return NULL;
            }

            walk->part = walk->part->next;
            walk->i = 0;
            continue;
        }

        h = (ngx_table_elt_t *) walk->part->elts + walk->i++;

        if (h->key.len == name->len
            && ngx_strncasecmp(h->key.data, name->data, name->len) == 0)
        {
            return h;
        }
    }
}


static ngx_spiffe_peer_t *
ngx_http_spiffe_peer(ngx_http_request_t *r)
{
    if (r->connection->ssl == NULL) {
        return NULL;
    }

    return ngx_spiffe_peer(r->connection);
}


static ngx_int_t
ngx_http_spiffe_peer_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    return ngx_spiffe_peer_variable(r->connection, v, data);
}


static ngx_int_t
ngx_http_spiffe_svid_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    u_char                        *p;
    const spiffe_snapshot_svid_t  *svid;

    svid = ngx_http_spiffe_server_svid(r);

    if (svid == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    /* a copy: the snapshot may be freed before the request ends */

    if (data == 0) {
        p = ngx_pnalloc(r->pool, svid->id_len);
        if (p == NULL) {
            return NGX_ERROR;
        }

        v->len = ngx_cpymem(p, svid->id, svid->id_len) - p;
        v->data = p;

    } else {
        p = ngx_pnalloc(r->pool, NGX_TIME_T_LEN);
        if (p == NULL) {
            return NGX_ERROR;
        }

        v->len = ngx_sprintf(p, "%T", svid->not_after) - p;
        v->data = p;
    }

    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;

    return NGX_OK;
}


/* the SVID that the request's server presents, by its spiffe_svid */

const spiffe_snapshot_svid_t *
ngx_http_spiffe_server_svid(ngx_http_request_t *r)
{
    ngx_spiffe_server_conf_t  *sscf;

    sscf = ngx_http_get_module_srv_conf(r, ngx_http_spiffe_module);

    return ngx_spiffe_ssl_svid(ngx_spiffe_snapshot(), sscf->svid);
}


static ngx_int_t
ngx_http_spiffe_rule_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    v->not_found = 1;

    return NGX_OK;
}


static ngx_int_t
ngx_http_spiffe_add_variables(ngx_conf_t *cf)
{
    ngx_http_variable_t    *var, *v;
    ngx_spiffe_variable_t  *pv;

    for (v = ngx_http_spiffe_vars; v->name.len; v++) {
        var = ngx_http_add_variable(cf, &v->name, v->flags);
        if (var == NULL) {
            return NGX_ERROR;
        }

        var->get_handler = v->get_handler;
        var->data = v->data;
    }

    for (pv = ngx_spiffe_peer_variables; pv->name.len; pv++) {
        var = ngx_http_add_variable(cf, &pv->name, NGX_HTTP_VAR_NOCACHEABLE);
        if (var == NULL) {
            return NGX_ERROR;
        }

        var->get_handler = ngx_http_spiffe_peer_variable;
        var->data = pv->data;
    }

    return NGX_OK;
}


static void *
ngx_http_spiffe_create_srv_conf(ngx_conf_t *cf)
{
    ngx_spiffe_server_conf_t  *sscf;

    sscf = ngx_pcalloc(cf->pool, sizeof(ngx_spiffe_server_conf_t));
    if (sscf == NULL) {
        return NULL;
    }

    ngx_spiffe_ssl_create_server(sscf);

    return sscf;
}


static char *
ngx_http_spiffe_merge_srv_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_spiffe_server_conf_t  *prev = parent;
    ngx_spiffe_server_conf_t  *conf = child;

    ngx_http_ssl_srv_conf_t   *ssl;
    ngx_http_core_srv_conf_t  *cscf;

    cscf = ngx_http_conf_get_module_srv_conf(cf, ngx_http_core_module);
    ssl = ngx_http_conf_get_module_srv_conf(cf, ngx_http_ssl_module);

    return ngx_spiffe_ssl_server(cf, prev, conf, &ssl->ssl, ssl->certificates,
                                 ssl->verify, cscf->file_name, cscf->line);
}


static void *
ngx_http_spiffe_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_spiffe_loc_conf_t  *conf;

    conf = ngx_pcalloc(cf->pool, sizeof(ngx_http_spiffe_loc_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     conf->jwt_aud_len = NULL;
     *     conf->jwt_naud = 0;
     *     conf->jwt_header = { 0, NULL };
     *     conf->jwt_svid_audience = { 0, NULL };
     *     conf->status = 0;
     */

    conf->rules = NGX_CONF_UNSET_PTR;
    conf->dry_run = NGX_CONF_UNSET;
    ngx_spiffe_upstream_create_conf(&conf->proxy);
    conf->proxy_verify_file = NGX_CONF_UNSET_PTR;
    conf->proxy_verify_line = NGX_CONF_UNSET_UINT;
    conf->jwt = NGX_CONF_UNSET_UINT;
    conf->jwt_aud = NGX_CONF_UNSET_PTR;
    conf->jwt_rules = NGX_CONF_UNSET_PTR;
    conf->xfcc_forward = NGX_CONF_UNSET_UINT;
    conf->xfcc_details = NGX_CONF_UNSET_UINT;

    return conf;
}


static char *
ngx_http_spiffe_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_spiffe_loc_conf_t  *prev = parent;
    ngx_http_spiffe_loc_conf_t  *conf = child;

    ngx_conf_merge_ptr_value(conf->rules, prev->rules, NULL);
    ngx_conf_merge_value(conf->dry_run, prev->dry_run, 0);
    ngx_spiffe_upstream_merge_conf(&prev->proxy, &conf->proxy);
    ngx_conf_merge_uint_value(conf->xfcc_forward, prev->xfcc_forward,
                              NGX_HTTP_SPIFFE_XFCC_SANITIZE_SET);
    ngx_conf_merge_uint_value(conf->xfcc_details, prev->xfcc_details,
                              NGX_HTTP_SPIFFE_XFCC_OFF);
    ngx_conf_merge_ptr_value(conf->proxy_verify_file, prev->proxy_verify_file,
                             NULL);
    ngx_conf_merge_uint_value(conf->proxy_verify_line,
                              prev->proxy_verify_line, 0);

    if ((conf->proxy.svid || conf->proxy.verify)
        && !ngx_spiffe_has_source(cf->cycle))
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%s\" " NGX_SPIFFE_NO_SOURCE,
                           conf->proxy.svid ? "spiffe_proxy_svid"
                                            : "spiffe_proxy_verify");
        return NGX_CONF_ERROR;
    }

    if (ngx_http_spiffe_merge_jwt(cf, prev, conf) != NGX_CONF_OK) {
        return NGX_CONF_ERROR;
    }

    return ngx_http_spiffe_upstream_merge(cf, conf);
}


static ngx_int_t
ngx_http_spiffe_init(ngx_conf_t *cf)
{
    ngx_http_handler_pt        *h;
    ngx_spiffe_main_conf_t     *smcf;
    ngx_http_core_main_conf_t  *cmcf;

    smcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_spiffe_module);

    smcf->rule_index = ngx_spiffe_rules_index(cf, ngx_http_get_variable_index);
    if (smcf->rule_index == NGX_ERROR) {
        return NGX_ERROR;
    }

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_ACCESS_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_spiffe_access_handler;

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_ACCESS_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_spiffe_jwt_access;

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_POST_READ_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_spiffe_verify_handler;

#if (NGX_SPIFFE_HTTP_QUIC)
    if (ngx_http_spiffe_quic(cf) != NGX_OK) {
        return NGX_ERROR;
    }
#endif

    return ngx_http_spiffe_upstream_init(cf);
}


#if (NGX_SPIFFE_HTTP_QUIC)

/*
 * The TLS hooks are not tested over QUIC: a server that listens on QUIC
 * is refused with them, rather than served without them
 */

static ngx_int_t
ngx_http_spiffe_quic(ngx_conf_t *cf)
{
    ngx_uint_t                  p, a, s;
    const char                 *name;
    ngx_http_conf_ctx_t        *ctx;
    ngx_http_conf_port_t       *port;
    ngx_http_conf_addr_t       *addr;
    ngx_http_core_srv_conf_t  **cscfp;
    ngx_http_core_main_conf_t  *cmcf;

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    if (cmcf->ports == NULL) {
        return NGX_OK;
    }

    port = cmcf->ports->elts;

    for (p = 0; p < cmcf->ports->nelts; p++) {

        addr = port[p].addrs.elts;

        for (a = 0; a < port[p].addrs.nelts; a++) {

            if (!addr[a].opt.quic) {
                continue;
            }

            cscfp = addr[a].servers.elts;

            for (s = 0; s < addr[a].servers.nelts; s++) {

                ctx = cscfp[s]->ctx;
                name = ngx_spiffe_ssl_server_directive(
                           ctx->srv_conf[ngx_http_spiffe_module.ctx_index]);

                if (name == NULL) {
                    continue;
                }

                ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                              "\"%s\" is not supported over QUIC: the "
                              "server in %s:%ui has \"listen ... quic\"",
                              name, cscfp[s]->file_name, cscfp[s]->line);
                return NGX_ERROR;
            }
        }
    }

    return NGX_OK;
}

#endif


static char *
ngx_http_spiffe_merge_jwt(ngx_conf_t *cf, ngx_http_spiffe_loc_conf_t *prev,
    ngx_http_spiffe_loc_conf_t *conf)
{
    ngx_uint_t                 set;
    ngx_spiffe_conf_t         *scf;
    ngx_http_core_loc_conf_t  *clcf;

    set = (conf->jwt != NGX_CONF_UNSET_UINT);

    ngx_conf_merge_uint_value(conf->jwt, prev->jwt, NGX_SPIFFE_VERIFY_OFF);
    ngx_conf_merge_str_value(conf->jwt_header, prev->jwt_header,
                             "Authorization");
    ngx_conf_merge_ptr_value(conf->jwt_rules, prev->jwt_rules, NULL);
    ngx_conf_merge_str_value(conf->jwt_svid_audience,
                             prev->jwt_svid_audience, "");

    if (conf->jwt_aud == NGX_CONF_UNSET_PTR) {
        if (prev->jwt_aud == NGX_CONF_UNSET_PTR) {
            conf->jwt_aud = NULL;

        } else {
            conf->jwt_aud = prev->jwt_aud;
            conf->jwt_aud_len = prev->jwt_aud_len;
            conf->jwt_naud = prev->jwt_naud;
        }
    }

    scf = ngx_spiffe_get_conf(cf->cycle);
    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    if (conf->jwt != NGX_SPIFFE_VERIFY_OFF || conf->jwt_rules) {

        /* where a token is checked, an audience is required */

        if (conf->jwt_naud == 0 && (set || clcf->name.len)) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"spiffe_jwt\" and \"spiffe_jwt_allow\" "
                               "need \"spiffe_jwt_audience\"%s%V%s",
                               clcf->name.len ? " in location \"" : "",
                               &clcf->name, clcf->name.len ? "\"" : "");
            return NGX_CONF_ERROR;
        }

        scf->jwt_bundles = 1;
    }

    if (scf->jwt_bundles && !ngx_spiffe_has_source(cf->cycle)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "JWT-SVID validation " NGX_SPIFFE_NO_SOURCE);
        return NGX_CONF_ERROR;
    }

    if (conf->jwt_svid_audience.len && scf->address.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"spiffe_jwt_svid_audience\" needs the Workload "
                           "API: \"spiffe_workload_api\" or "
                           "SPIFFE_ENDPOINT_SOCKET");
        return NGX_CONF_ERROR;
    }

    if (conf->jwt_svid_audience.len
        && ngx_spiffe_need_jwt_svid(cf, &conf->jwt_svid_audience) != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_spiffe_svid(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_ssl_srv_conf_t  *ssl;

    ssl = ngx_http_conf_get_module_srv_conf(cf, ngx_http_ssl_module);

    return ngx_spiffe_ssl_svid_directive(cf, cmd, conf, &ssl->certificates,
                                         &ssl->certificate_keys);
}


static char *
ngx_http_spiffe_jwt_audience(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_spiffe_loc_conf_t *slcf = conf;

    ngx_str_t   *value;
    ngx_uint_t   i, n;

    if (slcf->jwt_aud != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;
    n = cf->args->nelts - 1;

    slcf->jwt_aud = ngx_palloc(cf->pool, n * sizeof(char *));
    slcf->jwt_aud_len = ngx_palloc(cf->pool, n * sizeof(size_t));

    if (slcf->jwt_aud == NULL || slcf->jwt_aud_len == NULL) {
        return NGX_CONF_ERROR;
    }

    for (i = 0; i < n; i++) {

        if (value[i + 1].len == 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "empty audience in \"%V\"", &cmd->name);
            return NGX_CONF_ERROR;
        }

        slcf->jwt_aud[i] = (char *) value[i + 1].data;
        slcf->jwt_aud_len[i] = value[i + 1].len;
    }

    slcf->jwt_naud = n;

    return NGX_CONF_OK;
}


static char *
ngx_http_spiffe_status(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_spiffe_loc_conf_t *slcf = conf;

    ngx_str_t                 *value;
    ngx_http_core_loc_conf_t  *clcf;

    if (slcf->status) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (cf->args->nelts == 1 || ngx_strcmp(value[1].data, "json") == 0) {
        slcf->status = NGX_HTTP_SPIFFE_STATUS_JSON;

    } else if (ngx_strcmp(value[1].data, "prometheus") == 0) {
        slcf->status = NGX_HTTP_SPIFFE_STATUS_PROMETHEUS;

    } else if (ngx_strcmp(value[1].data, "ready") == 0) {
        slcf->status = NGX_HTTP_SPIFFE_STATUS_READY;

    } else {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid value \"%V\" in \"%V\", it must be "
                           "\"json\", \"prometheus\" or \"ready\"",
                           &value[1], &cmd->name);
        return NGX_CONF_ERROR;
    }

    if (ngx_spiffe_stats_add_zone(cf) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_spiffe_status_handler;

    return NGX_CONF_OK;
}
