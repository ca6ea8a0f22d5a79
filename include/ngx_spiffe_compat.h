
/*
 * Copyright (C) ngx_spiffe developers
 */


#ifndef _NGX_SPIFFE_COMPAT_H_INCLUDED_
#define _NGX_SPIFFE_COMPAT_H_INCLUDED_


/*
 * Every difference between the nginx versions the module builds against,
 * from the oldest supported one (config) to the current mainline: what
 * changed, and in which version.  Included by ngx_spiffe.h, after
 * ngx_http.h or ngx_stream.h.
 */


#include <ngx_config.h>
#include <ngx_core.h>


/*
 * 1.23.0: headers of one name are linked through ngx_table_elt_t's next,
 * which ngx_list_push() leaves unset
 */

#if (nginx_version >= 1023000)
#define ngx_spiffe_header_single(h)  (h)->next = NULL
#else
#define ngx_spiffe_header_single(h)
#endif


/*
 * 1.23.1: locations and stream servers that set no "proxy_ssl_*" (or
 * "grpc_ssl_*") directive share the upstream SSL context of the level
 * above.  A level that has "spiffe_proxy_svid" or "spiffe_proxy_verify"
 * marks itself as such a directive would: its "proxy_ssl_conf_command"
 * (or "grpc_ssl_conf_command") list is set, to none, so its context is its
 * own, shared only with the levels that inherit its SPIFFE settings.
 */

#if (nginx_version >= 1023001)
#define NGX_SPIFFE_SHARED_UPSTREAM_SSL  1
#endif


/* 1.25.0: HTTP/3 over QUIC ("listen ... quic") */

#if (NGX_HTTP_V3 && nginx_version >= 1025000)
#define NGX_SPIFFE_HTTP_QUIC  1
#endif


#ifdef _NGX_STREAM_H_INCLUDED_

/*
 * 1.25.5: the stream SSL configuration is per server; its type was
 * renamed and a server with certificates has an SSL context even without
 * "listen ... ssl"
 */

#if (nginx_version >= 1025005)
typedef ngx_stream_ssl_srv_conf_t  ngx_stream_spiffe_ssl_conf_t;
#define NGX_SPIFFE_STREAM_SSL_ANY_SERVER  1
#else
typedef ngx_stream_ssl_conf_t      ngx_stream_spiffe_ssl_conf_t;
#endif

#endif /* _NGX_STREAM_H_INCLUDED_ */


#endif /* _NGX_SPIFFE_COMPAT_H_INCLUDED_ */
