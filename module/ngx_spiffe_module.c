
/*
 * Copyright (C) ngx_spiffe developers
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>

#include <ngx_spiffe.h>
#include <spiffe_workload.h>


static void *ngx_spiffe_create_conf(ngx_cycle_t *cycle);
static char *ngx_spiffe_init_conf(ngx_cycle_t *cycle, void *conf);
static ngx_int_t ngx_spiffe_init_module(ngx_cycle_t *cycle);
static ngx_int_t ngx_spiffe_init_process(ngx_cycle_t *cycle);
static void ngx_spiffe_exit_process(ngx_cycle_t *cycle);
static char *ngx_spiffe_workload_api(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_spiffe_svid_dir(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_spiffe_bundle(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_spiffe_federate(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static ngx_spiffe_trust_conf_t *ngx_spiffe_trust_add(ngx_conf_t *cf,
    ngx_spiffe_conf_t *scf, ngx_str_t *td);
static char *ngx_spiffe_check_bundle_file(ngx_conf_t *cf, ngx_str_t *file,
    ngx_uint_t x509_only);
static ngx_int_t ngx_spiffe_option(ngx_str_t *arg, const char *name,
    ngx_str_t *value);


static ngx_command_t  ngx_spiffe_commands[] = {

    { ngx_string("spiffe_workload_api"),
      NGX_MAIN_CONF|NGX_DIRECT_CONF|NGX_CONF_TAKE1,
      ngx_spiffe_workload_api,
      0,
      0,
      NULL },

    { ngx_string("spiffe_svid_dir"),
      NGX_MAIN_CONF|NGX_DIRECT_CONF|NGX_CONF_1MORE,
      ngx_spiffe_svid_dir,
      0,
      0,
      NULL },

    { ngx_string("spiffe_bundle"),
      NGX_MAIN_CONF|NGX_DIRECT_CONF|NGX_CONF_TAKE2,
      ngx_spiffe_bundle,
      0,
      0,
      NULL },

    { ngx_string("spiffe_federate"),
      NGX_MAIN_CONF|NGX_DIRECT_CONF|NGX_CONF_2MORE,
      ngx_spiffe_federate,
      0,
      0,
      NULL },

    { ngx_string("spiffe_svid_hint"),
      NGX_MAIN_CONF|NGX_DIRECT_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      0,
      offsetof(ngx_spiffe_conf_t, hint),
      NULL },

    { ngx_string("spiffe_startup_timeout"),
      NGX_MAIN_CONF|NGX_DIRECT_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      0,
      offsetof(ngx_spiffe_conf_t, startup_timeout),
      NULL },

      ngx_null_command
};


static ngx_core_module_t  ngx_spiffe_module_ctx = {
    ngx_string("spiffe"),
    ngx_spiffe_create_conf,
    ngx_spiffe_init_conf
};


ngx_module_t  ngx_spiffe_module = {
    NGX_MODULE_V1,
    &ngx_spiffe_module_ctx,                /* module context */
    ngx_spiffe_commands,                   /* module directives */
    NGX_CORE_MODULE,                       /* module type */
    NULL,                                  /* init master */
    ngx_spiffe_init_module,                /* init module */
    ngx_spiffe_init_process,               /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_spiffe_exit_process,               /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


ngx_spiffe_conf_t *
ngx_spiffe_get_conf(ngx_cycle_t *cycle)
{
    return (ngx_spiffe_conf_t *) ngx_get_conf(cycle->conf_ctx,
                                              ngx_spiffe_module);
}


/* the SVID comes from the Workload API or from files */

ngx_int_t
ngx_spiffe_has_source(ngx_cycle_t *cycle)
{
    ngx_spiffe_conf_t  *scf;

    scf = ngx_spiffe_get_conf(cycle);

    return scf->address.len != 0 || scf->svid_dir.dir.len != 0;
}


/* a directive of the server in file:line needs the identity source */

ngx_int_t
ngx_spiffe_need_source(ngx_conf_t *cf, const char *directive, u_char *file,
    ngx_uint_t line)
{
    if (ngx_spiffe_has_source(cf->cycle)) {
        return NGX_OK;
    }

    ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                  "\"%s\" in %s:%ui " NGX_SPIFFE_NO_SOURCE,
                  directive, file, line);

    return NGX_ERROR;
}


/* a JWT-SVID for this audience is kept fresh in every worker */

ngx_int_t
ngx_spiffe_need_jwt_svid(ngx_conf_t *cf, ngx_str_t *audience)
{
    ngx_str_t          *aud;
    ngx_uint_t          i;
    ngx_spiffe_conf_t  *scf;

    scf = ngx_spiffe_get_conf(cf->cycle);

    if (scf->jwt_audiences == NULL) {
        scf->jwt_audiences = ngx_array_create(cf->pool, 2, sizeof(ngx_str_t));
        if (scf->jwt_audiences == NULL) {
            return NGX_ERROR;
        }
    }

    aud = scf->jwt_audiences->elts;

    for (i = 0; i < scf->jwt_audiences->nelts; i++) {
        if (aud[i].len == audience->len
            && ngx_strncmp(aud[i].data, audience->data, audience->len) == 0)
        {
            return NGX_OK;
        }
    }

    aud = ngx_array_push(scf->jwt_audiences);
    if (aud == NULL) {
        return NGX_ERROR;
    }

    *aud = *audience;

    return NGX_OK;
}


static ngx_int_t
ngx_spiffe_init_module(ngx_cycle_t *cycle)
{
    CURLcode  rc;

    /* once, in the master: libcurl's global init is not thread-safe */

    rc = curl_global_init(CURL_GLOBAL_DEFAULT);
    if (rc != CURLE_OK) {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, 0,
                      "spiffe: curl_global_init() failed: %s",
                      curl_easy_strerror(rc));
        return NGX_ERROR;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_spiffe_init_process(ngx_cycle_t *cycle)
{
    ngx_spiffe_conf_t  *scf;

    if (ngx_process != NGX_PROCESS_WORKER
        && ngx_process != NGX_PROCESS_SINGLE)
    {
        return NGX_OK;
    }

    ngx_spiffe_stats_init_process(cycle);

    scf = ngx_spiffe_get_conf(cycle);

    /* the SVID first: an https_spiffe endpoint may be checked with it */

    if (ngx_spiffe_identity_init(cycle, scf) != NGX_OK
        || ngx_spiffe_files_start(cycle, scf) != NGX_OK
        || (scf->address.len
            && ngx_spiffe_source_start(cycle, scf) != NGX_OK))
    {
        return NGX_ERROR;
    }

    return ngx_spiffe_federate_start(cycle, scf);
}


static void
ngx_spiffe_exit_process(ngx_cycle_t *cycle)
{
    ngx_spiffe_source_stop();
    ngx_spiffe_files_stop();
    ngx_spiffe_federate_stop();
    ngx_spiffe_identity_stop();
}


static void *
ngx_spiffe_create_conf(ngx_cycle_t *cycle)
{
    char               *env;
    ngx_str_t           value;
    ngx_spiffe_conf_t  *scf;

    scf = ngx_pcalloc(cycle->pool, sizeof(ngx_spiffe_conf_t));
    if (scf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     scf->hint = { 0, NULL };
     *     scf->directive = 0;
     *     scf->jwt_bundles = 0;
     *     scf->jwt_audiences = NULL;
     *     scf->svid_dir = { 0 };
     *     scf->trust = NULL;
     *     scf->svids = NULL;
     *     scf->bundles_zone = NULL;
     */

    scf->startup_timeout = NGX_CONF_UNSET_MSEC;

    if (ngx_spiffe_ssl_init(cycle->log) != NGX_OK
        || ngx_spiffe_peer_init(cycle->log) != NGX_OK)
    {
        return NULL;
    }

    /*
     * the environment is read before the configuration is parsed: the
     * http and stream blocks need to know the source when they merge
     */

    env = getenv("SPIFFE_ENDPOINT_SOCKET");

    if (env != NULL && env[0] != '\0') {
        value.len = ngx_strlen(env);
        value.data = (u_char *) env;

        scf->address.data = ngx_pstrdup(cycle->pool, &value);
        if (scf->address.data == NULL) {
            return NULL;
        }

        scf->address.len = value.len;
    }

    return scf;
}


static char *
ngx_spiffe_init_conf(ngx_cycle_t *cycle, void *conf)
{
    ngx_spiffe_conf_t  *scf = conf;

    const char  *err;

    ngx_conf_init_msec_value(scf->startup_timeout, 5000);

    if (scf->address.len == 0 || scf->directive) {
        return NGX_CONF_OK;
    }

    if (spiffe_workload_parse_address((char *) scf->address.data,
                                      scf->address.len, NULL, &err)
        != 0)
    {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, 0,
                      "invalid SPIFFE_ENDPOINT_SOCKET \"%V\": %s",
                      &scf->address, err);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static char *
ngx_spiffe_workload_api(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_spiffe_conf_t  *scf = conf;

    ngx_str_t   *value;
    const char  *err;

    if (scf->directive) {
        return "is duplicate";
    }

    if (scf->svid_dir.dir.len) {
        return "cannot be used with \"spiffe_svid_dir\"";
    }

    value = cf->args->elts;

    if (spiffe_workload_parse_address((char *) value[1].data, value[1].len,
                                      NULL, &err)
        != 0)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid Workload API address \"%V\" in "
                           "\"spiffe_workload_api\": %s", &value[1], err);
        return NGX_CONF_ERROR;
    }

    scf->address = value[1];
    scf->directive = 1;

    return NGX_CONF_OK;
}


static char *
ngx_spiffe_svid_dir(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_spiffe_conf_t  *scf = conf;

    ngx_str_t                   *value, v;
    ngx_int_t                    interval;
    ngx_uint_t                   i;
    ngx_spiffe_svid_dir_conf_t  *sd;

    sd = &scf->svid_dir;

    if (sd->dir.len) {
        return "is duplicate";
    }

    if (scf->directive) {
        return "cannot be used with \"spiffe_workload_api\"";
    }

    value = cf->args->elts;

    sd->dir = value[1];

    if (sd->dir.len == 0
        || ngx_conf_full_name(cf->cycle, &sd->dir, 1) != NGX_OK)
    {
        return "has an invalid directory";
    }

    sd->interval = 5000;

    for (i = 2; i < cf->args->nelts; i++) {

        if (ngx_spiffe_option(&value[i], "cert=", &sd->cert) == NGX_OK
            || ngx_spiffe_option(&value[i], "key=", &sd->key) == NGX_OK
            || ngx_spiffe_option(&value[i], "bundle=", &sd->bundle) == NGX_OK)
        {
            continue;
        }

        if (ngx_spiffe_option(&value[i], "interval=", &v) == NGX_OK) {
            interval = ngx_parse_time(&v, 0);

            if (interval == NGX_ERROR || interval == 0) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid interval \"%V\" in "
                                   "\"spiffe_svid_dir\"", &v);
                return NGX_CONF_ERROR;
            }

            sd->interval = (ngx_msec_t) interval;
            continue;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\" in \"spiffe_svid_dir\"",
                           &value[i]);
        return NGX_CONF_ERROR;
    }

    /* the directive wins over the environment */

    ngx_str_null(&scf->address);

    return NGX_CONF_OK;
}


static char *
ngx_spiffe_bundle(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_spiffe_conf_t  *scf = conf;

    ngx_str_t                *value;
    ngx_spiffe_trust_conf_t  *tc;

    value = cf->args->elts;

    tc = ngx_spiffe_trust_add(cf, scf, &value[1]);
    if (tc == NULL) {
        return NGX_CONF_ERROR;
    }

    tc->file = value[2];

    return ngx_spiffe_check_bundle_file(cf, &tc->file, 0);
}


static char *
ngx_spiffe_federate(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_spiffe_conf_t  *scf = conf;

    ngx_str_t                *value, v;
    ngx_uint_t                i;
    spiffe_id_t               eid;
    const char               *err;
    ngx_spiffe_trust_conf_t  *tc;

    value = cf->args->elts;

    tc = ngx_spiffe_trust_add(cf, scf, &value[1]);
    if (tc == NULL) {
        return NGX_CONF_ERROR;
    }

    tc->url = value[2];
    tc->profile = NGX_SPIFFE_HTTPS_WEB;

    if (tc->url.len <= sizeof("https://") - 1
        || ngx_strncasecmp(tc->url.data, (u_char *) "https://",
                           sizeof("https://") - 1)
           != 0)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"spiffe_federate\" needs an https:// URL, "
                           "not \"%V\"", &tc->url);
        return NGX_CONF_ERROR;
    }

    for (i = 3; i < cf->args->nelts; i++) {

        if (ngx_spiffe_option(&value[i], "profile=", &v) == NGX_OK) {
            if (v.len == 9 && ngx_strncmp(v.data, "https_web", 9) == 0) {
                tc->profile = NGX_SPIFFE_HTTPS_WEB;

            } else if (v.len == 12
                       && ngx_strncmp(v.data, "https_spiffe", 12) == 0)
            {
                tc->profile = NGX_SPIFFE_HTTPS_SPIFFE;

            } else {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid profile \"%V\" in "
                                   "\"spiffe_federate\": https_web or "
                                   "https_spiffe", &v);
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (ngx_spiffe_option(&value[i], "endpoint_id=", &tc->endpoint_id)
            == NGX_OK
            || ngx_spiffe_option(&value[i], "bundle=", &tc->ca_file) == NGX_OK)
        {
            continue;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\" in \"spiffe_federate\"",
                           &value[i]);
        return NGX_CONF_ERROR;
    }

    if (tc->profile == NGX_SPIFFE_HTTPS_WEB && tc->endpoint_id.len) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"endpoint_id\" needs \"profile=https_spiffe\" "
                           "in \"spiffe_federate\"");
        return NGX_CONF_ERROR;
    }

    if (tc->profile == NGX_SPIFFE_HTTPS_SPIFFE) {
        if (tc->endpoint_id.len == 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"profile=https_spiffe\" needs "
                               "\"endpoint_id\" in \"spiffe_federate\"");
            return NGX_CONF_ERROR;
        }

        if (spiffe_id_parse((char *) tc->endpoint_id.data,
                            tc->endpoint_id.len, &eid, &err)
            != 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid endpoint_id \"%V\" in "
                               "\"spiffe_federate\": SPIFFE ID %s",
                               &tc->endpoint_id, err);
            return NGX_CONF_ERROR;
        }

        /* the endpoint of the fetched domain: its first fetch needs help */

        if (tc->ca_file.len == 0
            && eid.td_len == tc->td.len
            && ngx_strncmp(eid.td, tc->td.data, tc->td.len) == 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"spiffe_federate\" needs \"bundle=FILE\": "
                               "the endpoint \"%V\" is in the trust domain "
                               "being fetched", &tc->endpoint_id);
            return NGX_CONF_ERROR;
        }
    }

    if (tc->ca_file.len
        && ngx_spiffe_check_bundle_file(cf, &tc->ca_file, 1) != NGX_CONF_OK)
    {
        return NGX_CONF_ERROR;
    }

    if (ngx_spiffe_federate_zone(cf, scf) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* a trust domain, once: "example.org" or "spiffe://example.org" */

static ngx_spiffe_trust_conf_t *
ngx_spiffe_trust_add(ngx_conf_t *cf, ngx_spiffe_conf_t *scf, ngx_str_t *td)
{
    ngx_str_t                 name;
    ngx_uint_t                i;
    const char               *p, *err;
    ngx_spiffe_trust_conf_t  *tc;

    if (spiffe_td_from_string((char *) td->data, td->len, &p, &name.len,
                              &err)
        != 0)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid trust domain \"%V\" in \"%V\": %s",
                           td, &((ngx_str_t *) cf->args->elts)[0], err);
        return NULL;
    }

    name.data = (u_char *) p;

    if (scf->trust == NULL) {
        scf->trust = ngx_array_create(cf->pool, 2,
                                      sizeof(ngx_spiffe_trust_conf_t));
        if (scf->trust == NULL) {
            return NULL;
        }
    }

    tc = scf->trust->elts;

    for (i = 0; i < scf->trust->nelts; i++) {
        if (tc[i].td.len == name.len
            && ngx_strncmp(tc[i].td.data, name.data, name.len) == 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "trust domain \"%V\" is already configured "
                               "in %s:%ui", &name, tc[i].conf_file,
                               tc[i].conf_line);
            return NULL;
        }
    }

    tc = ngx_array_push(scf->trust);
    if (tc == NULL) {
        return NULL;
    }

    ngx_memzero(tc, sizeof(ngx_spiffe_trust_conf_t));

    tc->td = name;
    tc->conf_file = cf->conf_file->file.name.data;
    tc->conf_line = cf->conf_file->line;

    return tc;
}


/*
 * A bundle file must be usable when nginx starts; later, a broken one is
 * logged and the last good one kept.  x509_only: CA certificates in PEM.
 */

static char *
ngx_spiffe_check_bundle_file(ngx_conf_t *cf, ngx_str_t *file,
    ngx_uint_t x509_only)
{
    ngx_str_t        text;
    const char      *err;
    spiffe_jwks_t   *jwks;
    STACK_OF(X509)  *certs;

    if (ngx_conf_full_name(cf->cycle, file, 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    if (ngx_spiffe_read_file(file, NGX_SPIFFE_BUNDLE_MAX, &text, cf->log,
                             &err)
        != NGX_OK)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "bundle \"%V\": %s",
                           file, err);
        return NGX_CONF_ERROR;
    }

    if (x509_only) {
        certs = spiffe_x509_parse_pem_certs((char *) text.data, text.len,
                                            &err);
        jwks = NULL;

    } else if (spiffe_bundle_parse((char *) text.data, text.len, &certs,
                                   &jwks, &err)
               != 0)
    {
        certs = NULL;
    }

    ngx_free(text.data);

    if (certs == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "bundle \"%V\": %s",
                           file, err);
        return NGX_CONF_ERROR;
    }

    spiffe_x509_free_certs(certs);
    spiffe_jwks_unref(jwks);

    return NGX_CONF_OK;
}


/* "name=value": NGX_OK with the value, else not this option */

static ngx_int_t
ngx_spiffe_option(ngx_str_t *arg, const char *name, ngx_str_t *value)
{
    size_t  len;

    len = ngx_strlen(name);

    if (arg->len < len || ngx_strncmp(arg->data, name, len) != 0) {
        return NGX_DECLINED;
    }

    if (arg->len == len) {
        return NGX_ERROR;       /* "name=" alone is an invalid parameter */
    }

    value->data = arg->data + len;
    value->len = arg->len - len;

    return NGX_OK;
}
