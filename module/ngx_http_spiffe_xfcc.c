
/*
 * Copyright (C) ngx_spiffe developers
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <spiffe_xfcc.h>
#include <ngx_http_spiffe.h>


/*
 * Envoy's X-Forwarded-Client-Cert: $spiffe_xfcc is our element for the
 * verified client, $spiffe_xfcc_forward the header to send upstream per
 * spiffe_xfcc_forward.  As in Envoy, a client that is not verified gets
 * nothing forwarded, whatever it sent: its header cannot be trusted.
 */


#define NGX_HTTP_SPIFFE_XFCC_MAX_DNS  64


static ngx_int_t ngx_http_spiffe_xfcc_element(ngx_http_request_t *r,
    ngx_uint_t details, ngx_str_t *out);
static ngx_int_t ngx_http_spiffe_xfcc_pem(ngx_http_request_t *r, X509 *leaf,
    STACK_OF(X509) *chain, ngx_str_t *pem);
static ngx_int_t ngx_http_spiffe_xfcc_subject(ngx_http_request_t *r,
    X509 *leaf, ngx_str_t *subject);
static ngx_int_t ngx_http_spiffe_xfcc_received(ngx_http_request_t *r,
    ngx_str_t *out);
static ngx_int_t ngx_http_spiffe_xfcc_bio(ngx_http_request_t *r, BIO *bio,
    ngx_str_t *out);


static ngx_str_t  ngx_http_spiffe_xfcc_header =
    ngx_string("X-Forwarded-Client-Cert");


static ngx_conf_bitmask_t  ngx_http_spiffe_xfcc_parts[] = {
    { ngx_string("cert"), NGX_HTTP_SPIFFE_XFCC_CERT },
    { ngx_string("chain"), NGX_HTTP_SPIFFE_XFCC_CHAIN },
    { ngx_string("subject"), NGX_HTTP_SPIFFE_XFCC_SUBJECT },
    { ngx_string("dns"), NGX_HTTP_SPIFFE_XFCC_DNS },
    { ngx_null_string, 0 }
};


ngx_int_t
ngx_http_spiffe_xfcc_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_int_t                    rc;
    ngx_str_t                    element;
    ngx_http_spiffe_loc_conf_t  *slcf;

    slcf = ngx_http_get_module_loc_conf(r, ngx_http_spiffe_module);

    rc = ngx_http_spiffe_xfcc_element(r, slcf->xfcc_details, &element);

    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    ngx_spiffe_variable(v, rc == NGX_OK ? &element : NULL);

    return NGX_OK;
}


ngx_int_t
ngx_http_spiffe_xfcc_forward_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    u_char                      *p;
    ngx_int_t                    rc;
    ngx_str_t                    element, received, out;
    ngx_http_spiffe_loc_conf_t  *slcf;

    slcf = ngx_http_get_module_loc_conf(r, ngx_http_spiffe_module);

    if (slcf->xfcc_forward == NGX_HTTP_SPIFFE_XFCC_SANITIZE) {
        ngx_spiffe_variable(v, NULL);
        return NGX_OK;
    }

    rc = ngx_http_spiffe_xfcc_element(r, slcf->xfcc_details, &element);

    if (rc != NGX_OK) {
        ngx_spiffe_variable(v, NULL);
        return rc == NGX_ERROR ? NGX_ERROR : NGX_OK;
    }

    if (slcf->xfcc_forward == NGX_HTTP_SPIFFE_XFCC_SANITIZE_SET) {
        ngx_spiffe_variable(v, &element);
        return NGX_OK;
    }

    if (ngx_http_spiffe_xfcc_received(r, &received) != NGX_OK) {
        return NGX_ERROR;
    }

    if (slcf->xfcc_forward == NGX_HTTP_SPIFFE_XFCC_FORWARD_ONLY
        || received.len == 0)
    {
        ngx_spiffe_variable(v, slcf->xfcc_forward
                               == NGX_HTTP_SPIFFE_XFCC_FORWARD_ONLY
                               ? &received : &element);
        return NGX_OK;
    }

    /* append_forward */

    out.len = received.len + 1 + element.len;
    out.data = ngx_pnalloc(r->pool, out.len);
    if (out.data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_cpymem(out.data, received.data, received.len);
    *p++ = ',';
    ngx_memcpy(p, element.data, element.len);

    ngx_spiffe_variable(v, &out);

    return NGX_OK;
}


/* our element for the verified client; NGX_DECLINED: there is none */

static ngx_int_t
ngx_http_spiffe_xfcc_element(ngx_http_request_t *r, ngx_uint_t details,
    ngx_str_t *out)
{
    int                            i, n;
    X509                          *leaf;
    unsigned int                   md_len;
    const char                    *dns[NGX_HTTP_SPIFFE_XFCC_MAX_DNS];
    size_t                         dns_len[NGX_HTTP_SPIFFE_XFCC_MAX_DNS];
    ngx_int_t                      rc;
    ngx_str_t                      cert, chain, subject;
    spiffe_xfcc_t                  x;
    GENERAL_NAME                  *gn;
    ngx_spiffe_peer_t             *peer;
    GENERAL_NAMES                 *names;
    const spiffe_snapshot_svid_t  *svid;
    u_char                         md[EVP_MAX_MD_SIZE];

    if (r->connection->ssl == NULL) {
        return NGX_DECLINED;
    }

    peer = ngx_spiffe_peer(r->connection);
    svid = ngx_http_spiffe_server_svid(r);

    if (peer == NULL || peer->id.len == 0 || svid == NULL) {
        return NGX_DECLINED;
    }

    leaf = SSL_get0_peer_certificate(r->connection->ssl->connection);

    if (leaf == NULL || X509_digest(leaf, EVP_sha256(), md, &md_len) != 1) {
        return NGX_DECLINED;
    }

    ngx_memzero(&x, sizeof(spiffe_xfcc_t));

    x.by = svid->id;
    x.by_len = svid->id_len;
    x.hash = md;
    x.hash_len = md_len;
    x.uri = (const char *) peer->id.data;
    x.uri_len = peer->id.len;

    if (details & NGX_HTTP_SPIFFE_XFCC_CERT) {
        if (ngx_http_spiffe_xfcc_pem(r, leaf, NULL, &cert) != NGX_OK) {
            return NGX_ERROR;
        }

        x.cert = (const char *) cert.data;
        x.cert_len = cert.len;
    }

    if (details & NGX_HTTP_SPIFFE_XFCC_CHAIN) {

        /* the server side's chain is without the leaf */

        if (ngx_http_spiffe_xfcc_pem(r, leaf,
                SSL_get_peer_cert_chain(r->connection->ssl->connection),
                &chain)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        x.chain = (const char *) chain.data;
        x.chain_len = chain.len;
    }

    if (details & NGX_HTTP_SPIFFE_XFCC_SUBJECT) {
        if (ngx_http_spiffe_xfcc_subject(r, leaf, &subject) != NGX_OK) {
            return NGX_ERROR;
        }

        x.subject = (const char *) subject.data;
        x.subject_len = subject.len;
    }

    names = NULL;

    if (details & NGX_HTTP_SPIFFE_XFCC_DNS) {
        names = X509_get_ext_d2i(leaf, NID_subject_alt_name, NULL, NULL);
        n = names ? sk_GENERAL_NAME_num(names) : 0;

        for (i = 0; i < n && x.ndns < NGX_HTTP_SPIFFE_XFCC_MAX_DNS; i++) {
            gn = sk_GENERAL_NAME_value(names, i);

            if (gn->type == GEN_DNS) {
                dns[x.ndns] = (const char *)
                                  ASN1_STRING_get0_data(gn->d.dNSName);
                dns_len[x.ndns] = ASN1_STRING_length(gn->d.dNSName);
                x.ndns++;
            }
        }

        x.dns = dns;
        x.dns_len = dns_len;
    }

    rc = NGX_OK;

    out->len = spiffe_xfcc_element(NULL, &x);
    out->data = ngx_pnalloc(r->pool, out->len);

    if (out->data == NULL) {
        rc = NGX_ERROR;

    } else {
        (void) spiffe_xfcc_element((char *) out->data, &x);
    }

    GENERAL_NAMES_free(names);

    return rc;
}


/* the leaf, then the chain when there is one, in PEM */

static ngx_int_t
ngx_http_spiffe_xfcc_pem(ngx_http_request_t *r, X509 *leaf,
    STACK_OF(X509) *chain, ngx_str_t *pem)
{
    int   i;
    BIO  *bio;

    bio = BIO_new(BIO_s_mem());
    if (bio == NULL) {
        return NGX_ERROR;
    }

    if (PEM_write_bio_X509(bio, leaf) != 1) {
        BIO_free(bio);
        return NGX_ERROR;
    }

    for (i = 0; chain && i < sk_X509_num(chain); i++) {
        if (PEM_write_bio_X509(bio, sk_X509_value(chain, i)) != 1) {
            BIO_free(bio);
            return NGX_ERROR;
        }
    }

    return ngx_http_spiffe_xfcc_bio(r, bio, pem);
}


/* RFC 2253, as Envoy writes it: '"', non-ASCII and controls escaped */

static ngx_int_t
ngx_http_spiffe_xfcc_subject(ngx_http_request_t *r, X509 *leaf,
    ngx_str_t *subject)
{
    BIO  *bio;

    bio = BIO_new(BIO_s_mem());
    if (bio == NULL) {
        return NGX_ERROR;
    }

    if (X509_NAME_print_ex(bio, X509_get_subject_name(leaf), 0,
                           XN_FLAG_RFC2253)
        < 0)
    {
        BIO_free(bio);
        return NGX_ERROR;
    }

    return ngx_http_spiffe_xfcc_bio(r, bio, subject);
}


/* a copy of a memory BIO's text in the request's pool; frees the BIO */

static ngx_int_t
ngx_http_spiffe_xfcc_bio(ngx_http_request_t *r, BIO *bio, ngx_str_t *out)
{
    long   len;
    char  *data;

    len = BIO_get_mem_data(bio, &data);

    out->len = len > 0 ? (size_t) len : 0;
    out->data = ngx_pnalloc(r->pool, out->len + 1);

    if (out->data != NULL) {
        ngx_memcpy(out->data, data, out->len);
    }

    BIO_free(bio);

    return out->data ? NGX_OK : NGX_ERROR;
}


/* every X-Forwarded-Client-Cert line the client sent, joined by ',' */

static ngx_int_t
ngx_http_spiffe_xfcc_received(ngx_http_request_t *r, ngx_str_t *out)
{
    u_char                     *p;
    size_t                      len;
    ngx_uint_t                  pass;
    ngx_table_elt_t            *h;
    ngx_http_spiffe_headers_t   walk;

    len = 0;
    p = NULL;

    /* the first pass measures, the second copies */

    for (pass = 0; pass < 2; pass++) {

        ngx_memzero(&walk, sizeof(ngx_http_spiffe_headers_t));

        for ( ;; ) {
            h = ngx_http_spiffe_header(r, &ngx_http_spiffe_xfcc_header,
                                       &walk);
            if (h == NULL) {
                break;
            }

            if (h->value.len == 0) {
                continue;
            }

            if (pass == 0) {
                len += (len ? 1 : 0) + h->value.len;
                continue;
            }

            if (p != out->data) {
                *p++ = ',';
            }

            p = ngx_cpymem(p, h->value.data, h->value.len);
        }

        if (pass == 0) {
            out->len = len;
            out->data = ngx_pnalloc(r->pool, len + 1);

            if (out->data == NULL) {
                return NGX_ERROR;
            }

            p = out->data;
        }
    }

    return NGX_OK;
}


char *
ngx_http_spiffe_xfcc_details(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_spiffe_loc_conf_t *slcf = conf;

    ngx_str_t   *value;
    ngx_uint_t   i, m;

    if (slcf->xfcc_details != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (cf->args->nelts == 2 && ngx_strcmp(value[1].data, "off") == 0) {
        slcf->xfcc_details = NGX_HTTP_SPIFFE_XFCC_OFF;
        return NGX_CONF_OK;
    }

    slcf->xfcc_details = 0;

    for (i = 1; i < cf->args->nelts; i++) {

        for (m = 0; ngx_http_spiffe_xfcc_parts[m].name.len; m++) {
            if (ngx_strcmp(value[i].data,
                           ngx_http_spiffe_xfcc_parts[m].name.data)
                == 0)
            {
                break;
            }
        }

        if (ngx_http_spiffe_xfcc_parts[m].name.len == 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid value \"%V\" in \"%V\", it must be "
                               "\"off\" or any of \"cert\", \"chain\", "
                               "\"subject\" and \"dns\"",
                               &value[i], &cmd->name);
            return NGX_CONF_ERROR;
        }

        if (slcf->xfcc_details & ngx_http_spiffe_xfcc_parts[m].mask) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "duplicate value \"%V\" in \"%V\"",
                               &value[i], &cmd->name);
            return NGX_CONF_ERROR;
        }

        slcf->xfcc_details |= ngx_http_spiffe_xfcc_parts[m].mask;
    }

    return NGX_CONF_OK;
}
