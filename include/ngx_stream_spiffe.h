
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
    ngx_spiffe_server_conf_t     server;
    spiffe_rules_t              *rules;         /* spiffe_allow, deny */
    ngx_flag_t                   dry_run;
    ngx_spiffe_upstream_conf_t   proxy;
} ngx_stream_spiffe_srv_conf_t;


/* proxy_ssl of the stream proxy module: ngx_stream_spiffe_upstream.c */

char *ngx_stream_spiffe_upstream_merge(ngx_conf_t *cf,
    ngx_stream_spiffe_srv_conf_t *sscf);
char *ngx_stream_spiffe_upstream_directive(ngx_conf_t *cf, void *post,
    void *data);
ngx_int_t ngx_stream_spiffe_upstream_init(ngx_conf_t *cf);


extern ngx_module_t  ngx_stream_spiffe_module;


#endif /* _NGX_STREAM_SPIFFE_H_INCLUDED_ */
