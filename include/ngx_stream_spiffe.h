
/*
 * Copyright (C) ngx_spiffe developers
 */


#ifndef _NGX_STREAM_SPIFFE_H_INCLUDED_
#define _NGX_STREAM_SPIFFE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_stream.h>

#include <ngx_spiffe.h>


typedef struct {
    ngx_array_t                  upstreams;     /* of ..._upstream_t */
    ngx_flag_t                   proxy_spiffe;  /* in some server */
    ngx_int_t                    rule_index;    /* of $spiffe_rule */
} ngx_stream_spiffe_main_conf_t;


typedef struct {
    ngx_spiffe_svid_t           *svid;
    ngx_uint_t                   verify;
    spiffe_rules_t              *rules;         /* spiffe_allow, deny */
    ngx_flag_t                   dry_run;
    ngx_spiffe_svid_t           *proxy_svid;
    spiffe_rules_t              *proxy_verify;
    ngx_spiffe_upstream_t       *upstream;      /* both, once merged */
} ngx_stream_spiffe_srv_conf_t;


/* an upstream whose balancer is wrapped, and its own per-session init */

typedef struct {
    ngx_stream_upstream_srv_conf_t    *upstream;
    ngx_stream_upstream_init_peer_pt   init;
} ngx_stream_spiffe_upstream_t;


/* proxy_ssl of the stream proxy module: ngx_stream_spiffe_upstream.c */

char *ngx_stream_spiffe_upstream_merge(ngx_conf_t *cf,
    ngx_stream_spiffe_srv_conf_t *sscf);
char *ngx_stream_spiffe_upstream_directive(ngx_conf_t *cf, void *post,
    void *data);
ngx_int_t ngx_stream_spiffe_upstream_init(ngx_conf_t *cf);


extern ngx_module_t  ngx_stream_spiffe_module;


#endif /* _NGX_STREAM_SPIFFE_H_INCLUDED_ */
