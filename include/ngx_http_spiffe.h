
/*
 * Copyright (C) ngx_spiffe developers
 */


#ifndef _NGX_HTTP_SPIFFE_H_INCLUDED_
#define _NGX_HTTP_SPIFFE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <ngx_spiffe.h>


typedef struct {
    ngx_array_t                  upstreams;     /* of ..._upstream_t */
} ngx_http_spiffe_main_conf_t;


typedef struct {
    spiffe_rules_t              *rules;         /* spiffe_allow, deny */
    ngx_flag_t                   proxy_svid;
    spiffe_rules_t              *proxy_verify;
} ngx_http_spiffe_loc_conf_t;


/* an upstream whose balancer is wrapped, and its own per-request init */

typedef struct {
    ngx_http_upstream_srv_conf_t    *upstream;
    ngx_http_upstream_init_peer_pt   init;
} ngx_http_spiffe_upstream_t;


/* TLS upstreams of the proxy and grpc modules: ngx_http_spiffe_upstream.c */

char *ngx_http_spiffe_upstream_merge(ngx_conf_t *cf,
    ngx_http_spiffe_loc_conf_t *slcf);
ngx_int_t ngx_http_spiffe_upstream_init(ngx_conf_t *cf);


extern ngx_module_t  ngx_http_spiffe_module;


#endif /* _NGX_HTTP_SPIFFE_H_INCLUDED_ */
