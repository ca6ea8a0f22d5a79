
/*
 * Copyright (C) ngx_spiffe developers
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>

#include <ngx_spiffe.h>
#include <spiffe_grpc.h>


static void *ngx_spiffe_create_conf(ngx_cycle_t *cycle);
static char *ngx_spiffe_init_conf(ngx_cycle_t *cycle, void *conf);
static ngx_int_t ngx_spiffe_init_module(ngx_cycle_t *cycle);
static ngx_int_t ngx_spiffe_init_process(ngx_cycle_t *cycle);
static void ngx_spiffe_exit_process(ngx_cycle_t *cycle);
static char *ngx_spiffe_workload_api(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);


static ngx_command_t  ngx_spiffe_commands[] = {

    { ngx_string("spiffe_workload_api"),
      NGX_MAIN_CONF|NGX_DIRECT_CONF|NGX_CONF_TAKE1,
      ngx_spiffe_workload_api,
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


/* a directive of the server in file:line needs the identity source */

ngx_int_t
ngx_spiffe_need_source(ngx_conf_t *cf, const char *directive, u_char *file,
    ngx_uint_t line)
{
    if (ngx_spiffe_get_conf(cf->cycle)->address.len) {
        return NGX_OK;
    }

    ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                  "\"%s\" in %s:%ui needs an identity source: "
                  "\"spiffe_workload_api\" or SPIFFE_ENDPOINT_SOCKET",
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

    if (scf->address.len == 0) {
        return NGX_OK;
    }

    return ngx_spiffe_source_start(cycle, scf);
}


static void
ngx_spiffe_exit_process(ngx_cycle_t *cycle)
{
    ngx_spiffe_source_stop();
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
     */

    scf->startup_timeout = NGX_CONF_UNSET_MSEC;

    if (ngx_spiffe_ssl_init(cycle->log) != NGX_OK) {
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

    if (spiffe_grpc_parse_address((char *) scf->address.data,
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

    value = cf->args->elts;

    if (spiffe_grpc_parse_address((char *) value[1].data, value[1].len, NULL,
                                  &err)
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
