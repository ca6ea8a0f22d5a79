
/*
 * Copyright (C) ngx_spiffe developers
 */


#ifndef _SPIFFE_FETCH_H_INCLUDED_
#define _SPIFFE_FETCH_H_INCLUDED_


#include <stddef.h>

#include <curl/curl.h>
#include <openssl/x509.h>


/*
 * A GET of a SPIFFE bundle endpoint, as a libcurl easy handle that the
 * caller runs.  https_web: the server is checked as a web server, against
 * ca_file or the system's CAs.  https_spiffe: it must present an
 * X.509-SVID whose ID is exactly endpoint_id, valid against anchors (the
 * bundle of the endpoint's trust domain); host names play no part.
 */

#define SPIFFE_FETCH_ERROR_LEN  256


typedef struct {
    const char          *url;
    int                  https_spiffe;
    const char          *endpoint_id;   /* https_spiffe */
    STACK_OF(X509)      *anchors;       /* https_spiffe */
    const char          *ca_file;       /* https_web; NULL: the system's */
    long                 timeout_ms;
    size_t               max;           /* body */
} spiffe_fetch_conf_t;


typedef struct {
    CURL                *easy;
    char                *body;
    size_t               len;
    size_t               max;
    int                  too_long;
    char                *endpoint_id;
    X509_STORE          *anchors;
    char                 error[SPIFFE_FETCH_ERROR_LEN];
    char                 curl_error[CURL_ERROR_SIZE];
} spiffe_fetch_t;


spiffe_fetch_t *spiffe_fetch_create(const spiffe_fetch_conf_t *conf,
    const char **err);

/*
 * Once libcurl has finished the transfer: 0 with the body in body/len
 * (NUL-terminated), or -1 with the reason in error.  OpenSSL's error
 * queue is left empty.
 */
int spiffe_fetch_done(spiffe_fetch_t *f, CURLcode result);

void spiffe_fetch_destroy(spiffe_fetch_t *f);


#endif /* _SPIFFE_FETCH_H_INCLUDED_ */
