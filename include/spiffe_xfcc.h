
/*
 * Copyright (C) ngx_spiffe developers
 */


#ifndef _SPIFFE_XFCC_H_INCLUDED_
#define _SPIFFE_XFCC_H_INCLUDED_


#include <stddef.h>


/*
 * An element of Envoy's X-Forwarded-Client-Cert header, written as Envoy
 * writes it: By, Hash, then the optional Cert, Chain, Subject, then URI
 * and one DNS pair per name.  Parts with a NULL pointer are left out.
 */

typedef struct {
    const char            *by;          /* our SPIFFE ID */
    size_t                 by_len;
    const unsigned char   *hash;        /* SHA-256 of the client's leaf */
    size_t                 hash_len;
    const char            *cert;        /* PEM of the leaf */
    size_t                 cert_len;
    const char            *chain;       /* PEM of the leaf and the chain */
    size_t                 chain_len;
    const char            *subject;     /* RFC 2253, its own escapes */
    size_t                 subject_len;
    const char            *uri;         /* the client's SPIFFE ID */
    size_t                 uri_len;
    const char           **dns;         /* DNS names of the leaf */
    const size_t          *dns_len;
    size_t                 ndns;
} spiffe_xfcc_t;


/*
 * Both write at most as many bytes as they return when dst is NULL, and
 * return how many they wrote.
 */

/* the element; a DNS name with a control or non-ASCII byte is left out */
size_t spiffe_xfcc_element(char *dst, const spiffe_xfcc_t *x);

/*
 * A value: double-quoted when it holds ',', ';' or '=', every '"'
 * written as \"
 */
size_t spiffe_xfcc_value(char *dst, const char *s, size_t len);


#endif /* _SPIFFE_XFCC_H_INCLUDED_ */
