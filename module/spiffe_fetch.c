
/*
 * Copyright (C) ngx_spiffe developers
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <spiffe_id.h>
#include <spiffe_x509.h>
#include <spiffe_fetch.h>


static size_t spiffe_fetch_write(char *ptr, size_t size, size_t nmemb,
    void *userdata);
static CURLcode spiffe_fetch_ssl_ctx(CURL *easy, void *ssl_ctx, void *arg);
static int spiffe_fetch_verify(X509_STORE_CTX *xctx, void *arg);


spiffe_fetch_t *
spiffe_fetch_create(const spiffe_fetch_conf_t *conf, const char **err)
{
    int              i, failed;
    CURL            *e;
    spiffe_fetch_t  *f;

    f = calloc(1, sizeof(spiffe_fetch_t));
    if (f == NULL) {
        *err = "out of memory";
        return NULL;
    }

    f->max = conf->max;

    f->easy = curl_easy_init();
    f->body = malloc(1);

    if (f->easy == NULL || f->body == NULL) {
        *err = "out of memory";
        goto failed;
    }

    f->body[0] = '\0';

    e = f->easy;
    failed = 0;

    failed |= curl_easy_setopt(e, CURLOPT_URL, conf->url) != CURLE_OK;
#if LIBCURL_VERSION_NUM >= 0x075500
    failed |= curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "https") != CURLE_OK;
#else
    failed |= curl_easy_setopt(e, CURLOPT_PROTOCOLS, (long) CURLPROTO_HTTPS)
              != CURLE_OK;
#endif
    failed |= curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK;
    failed |= curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, spiffe_fetch_write)
              != CURLE_OK;
    failed |= curl_easy_setopt(e, CURLOPT_WRITEDATA, f) != CURLE_OK;
    failed |= curl_easy_setopt(e, CURLOPT_ERRORBUFFER, f->curl_error)
              != CURLE_OK;
    failed |= curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L) != CURLE_OK;
    failed |= curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, conf->timeout_ms)
              != CURLE_OK;
    failed |= curl_easy_setopt(e, CURLOPT_USERAGENT, "ngx_spiffe")
              != CURLE_OK;

    /*
     * a new connection each time: a kept-alive one, or a resumed TLS
     * session, would skip the checks below
     */

    failed |= curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L) != CURLE_OK;
    failed |= curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L) != CURLE_OK;

    failed |= curl_easy_setopt(e, CURLOPT_SSL_SESSIONID_CACHE, 0L)
              != CURLE_OK;

    if (!conf->https_spiffe) {
        failed |= curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L) != CURLE_OK;
        failed |= curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L) != CURLE_OK;

        if (conf->ca_file != NULL) {
            failed |= curl_easy_setopt(e, CURLOPT_CAINFO, conf->ca_file)
                      != CURLE_OK;
        }

        if (failed) {
            *err = "cannot set up libcurl";
            goto failed;
        }

        return f;
    }

    f->endpoint_id = strdup(conf->endpoint_id);
    f->anchors = X509_STORE_new();

    if (f->endpoint_id == NULL || f->anchors == NULL) {
        *err = "out of memory";
        goto failed;
    }

    for (i = 0; i < sk_X509_num(conf->anchors); i++) {
        if (X509_STORE_add_cert(f->anchors, sk_X509_value(conf->anchors, i))
            != 1)
        {
            ERR_clear_error();
            *err = "cannot use the endpoint's bundle";
            goto failed;
        }
    }

    /* libcurl's own checks off: the SSL_CTX gets the SPIFFE one */

    failed |= curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L) != CURLE_OK;
    failed |= curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L) != CURLE_OK;
    failed |= curl_easy_setopt(e, CURLOPT_SSL_CTX_FUNCTION,
                               spiffe_fetch_ssl_ctx)
              != CURLE_OK;
    failed |= curl_easy_setopt(e, CURLOPT_SSL_CTX_DATA, f) != CURLE_OK;

    if (failed) {
        *err = "libcurl cannot check the endpoint's SVID (needs OpenSSL)";
        goto failed;
    }

    return f;

failed:

    spiffe_fetch_destroy(f);

    return NULL;
}


int
spiffe_fetch_done(spiffe_fetch_t *f, CURLcode result)
{
    long  status;

    /*
     * After a refused handshake libcurl leaves "shutdown while in init"
     * in OpenSSL's queue, where nginx's next SSL call would find it.
     */

    ERR_clear_error();

    if (f->too_long) {
        snprintf(f->error, SPIFFE_FETCH_ERROR_LEN,
                 "the bundle is larger than %zu bytes", f->max);
        return -1;
    }

    if (result != CURLE_OK) {
        if (f->error[0] == '\0') {
            snprintf(f->error, SPIFFE_FETCH_ERROR_LEN, "%s",
                     f->curl_error[0] ? f->curl_error
                                      : curl_easy_strerror(result));
        }

        return -1;
    }

    status = 0;
    curl_easy_getinfo(f->easy, CURLINFO_RESPONSE_CODE, &status);

    if (status != 200) {
        snprintf(f->error, SPIFFE_FETCH_ERROR_LEN, "HTTP status %ld", status);
        return -1;
    }

    return 0;
}


void
spiffe_fetch_destroy(spiffe_fetch_t *f)
{
    if (f == NULL) {
        return;
    }

    if (f->easy != NULL) {
        curl_easy_cleanup(f->easy);
    }

    X509_STORE_free(f->anchors);
    free(f->endpoint_id);
    free(f->body);
    free(f);
}


static size_t
spiffe_fetch_write(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    spiffe_fetch_t  *f = userdata;

    char    *p;
    size_t   n;

    n = size * nmemb;

    if (n > f->max - f->len) {
        f->too_long = 1;
        return 0;
    }

    p = realloc(f->body, f->len + n + 1);
    if (p == NULL) {
        return 0;
    }

    memcpy(p + f->len, ptr, n);
    f->body = p;
    f->len += n;
    f->body[f->len] = '\0';

    return n;
}


static CURLcode
spiffe_fetch_ssl_ctx(CURL *easy, void *ssl_ctx, void *arg)
{
    (void) easy;

    SSL_CTX_set_verify(ssl_ctx, SSL_VERIFY_PEER, NULL);
    SSL_CTX_set_cert_verify_callback(ssl_ctx, spiffe_fetch_verify, arg);

    return CURLE_OK;
}


static int
spiffe_fetch_verify(X509_STORE_CTX *xctx, void *arg)
{
    spiffe_fetch_t  *f = arg;

    char         id[SPIFFE_ID_MAX_LEN + 1];
    X509        *leaf;
    size_t       len;
    const char  *err;

    leaf = X509_STORE_CTX_get0_cert(xctx);

    if (leaf == NULL) {
        snprintf(f->error, SPIFFE_FETCH_ERROR_LEN,
                 "the endpoint sent no certificate");
        goto refused;
    }

    if (spiffe_x509_peer_id(leaf, id, &len, &err) != 0) {
        snprintf(f->error, SPIFFE_FETCH_ERROR_LEN,
                 "the endpoint's certificate is not an X.509-SVID: %s", err);
        goto refused;
    }

    if (strcmp(id, f->endpoint_id) != 0) {
        snprintf(f->error, SPIFFE_FETCH_ERROR_LEN,
                 "the endpoint is \"%.100s\", not endpoint_id \"%.100s\"", id,
                 f->endpoint_id);
        goto refused;
    }

    if (spiffe_x509_verify_chain(f->anchors, leaf,
                                 X509_STORE_CTX_get0_untrusted(xctx),
                                 time(NULL), NULL, &err)
        != 0)
    {
        snprintf(f->error, SPIFFE_FETCH_ERROR_LEN,
                 "the endpoint's X.509-SVID \"%.150s\": %s", id, err);
        goto refused;
    }

    return 1;

refused:

    X509_STORE_CTX_set_error(xctx, X509_V_ERR_APPLICATION_VERIFICATION);

    return 0;
}
