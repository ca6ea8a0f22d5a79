
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
    spiffe_rules_t              *rules;         /* spiffe_allow, deny */
    ngx_flag_t                   dry_run;
    ngx_spiffe_upstream_conf_t   proxy;
    u_char                      *proxy_verify_file;
    ngx_uint_t                   proxy_verify_line;

    ngx_uint_t                   jwt;
    const char                 **jwt_aud;       /* spiffe_jwt_audience */
    size_t                      *jwt_aud_len;
    ngx_uint_t                   jwt_naud;
    ngx_str_t                    jwt_header;
    spiffe_rules_t              *jwt_rules;     /* spiffe_jwt_allow, deny */
    ngx_str_t                    jwt_svid_audience;

    ngx_uint_t                   status;        /* NGX_HTTP_SPIFFE_STATUS_* */

    ngx_uint_t                   xfcc_forward;  /* NGX_HTTP_SPIFFE_XFCC_* */
    ngx_uint_t                   xfcc_details;  /* ..._XFCC_CERT etc. */
} ngx_http_spiffe_loc_conf_t;


#define NGX_HTTP_SPIFFE_STATUS_JSON        1
#define NGX_HTTP_SPIFFE_STATUS_PROMETHEUS  2
#define NGX_HTTP_SPIFFE_STATUS_READY       3


/* spiffe_xfcc_forward, as Envoy's forward_client_cert_details */

#define NGX_HTTP_SPIFFE_XFCC_SANITIZE        0
#define NGX_HTTP_SPIFFE_XFCC_FORWARD_ONLY    1
#define NGX_HTTP_SPIFFE_XFCC_APPEND_FORWARD  2
#define NGX_HTTP_SPIFFE_XFCC_SANITIZE_SET    3

/* spiffe_xfcc_details */

#define NGX_HTTP_SPIFFE_XFCC_OFF             0x01
#define NGX_HTTP_SPIFFE_XFCC_CERT            0x02
#define NGX_HTTP_SPIFFE_XFCC_CHAIN           0x04
#define NGX_HTTP_SPIFFE_XFCC_SUBJECT         0x08
#define NGX_HTTP_SPIFFE_XFCC_DNS             0x10


/* the request's JWT-SVID, validated once per location settings */

typedef struct {
    void                        *conf;          /* validated under */
    ngx_str_t                    id;
    ngx_str_t                    td;
    ngx_str_t                    path;
    ngx_str_t                    claims;
    ngx_str_t                    verify;
    ngx_uint_t                   status;        /* NGX_SPIFFE_PEER_* */
} ngx_http_spiffe_jwt_ctx_t;


/* a walk over the request headers of one name; it starts zeroed */

typedef struct {
    ngx_list_part_t             *part;
    ngx_uint_t                   i;
} ngx_http_spiffe_headers_t;


ngx_http_variable_value_t *ngx_http_spiffe_rule_slot(
    ngx_http_request_t *r);
ngx_table_elt_t *ngx_http_spiffe_header(ngx_http_request_t *r,
    ngx_str_t *name, ngx_http_spiffe_headers_t *walk);
const spiffe_snapshot_svid_t *ngx_http_spiffe_server_svid(
    ngx_http_request_t *r);


/* TLS upstreams of the proxy and grpc modules: ngx_http_spiffe_upstream.c */

char *ngx_http_spiffe_upstream_directive(ngx_conf_t *cf, void *post,
    void *data);
char *ngx_http_spiffe_upstream_merge(ngx_conf_t *cf,
    ngx_http_spiffe_loc_conf_t *slcf);
ngx_int_t ngx_http_spiffe_upstream_init(ngx_conf_t *cf);


/* JWT-SVIDs: ngx_http_spiffe_jwt.c */

ngx_int_t ngx_http_spiffe_jwt_access(ngx_http_request_t *r);
ngx_int_t ngx_http_spiffe_jwt_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
ngx_int_t ngx_http_spiffe_jwt_svid_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);


/* X-Forwarded-Client-Cert: ngx_http_spiffe_xfcc.c */

ngx_int_t ngx_http_spiffe_xfcc_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
ngx_int_t ngx_http_spiffe_xfcc_forward_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
char *ngx_http_spiffe_xfcc_details(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);


/* the status page: ngx_http_spiffe_status.c */

ngx_int_t ngx_http_spiffe_status_handler(ngx_http_request_t *r);


extern ngx_module_t  ngx_http_spiffe_module;


#endif /* _NGX_HTTP_SPIFFE_H_INCLUDED_ */
