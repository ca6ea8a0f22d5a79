
/*
 * Copyright (C) ngx_spiffe developers
 */


#include <limits.h>
#include <stdint.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <spiffe_x509.h>


static spiffe_err_t spiffe_x509_leaf_usage(X509 *leaf, uint32_t flags);
static spiffe_err_t spiffe_x509_refuse(spiffe_err_t code, const char **err);
static spiffe_err_t spiffe_x509_chain_error(int e);
static int spiffe_x509_check_time(X509 *x, time_t now, const char *expired,
    const char *not_yet, const char **err);
static int spiffe_x509_pem_next(BIO *bio, char **name, char **header,
    unsigned char **data, long *len, const char **err);
static OPENSSL_STACK *spiffe_x509_parse_pem_objs(const char *pem,
    size_t len, const char *type, d2i_of_void *d2i,
    OPENSSL_sk_freefunc free_obj, const char *bad, const char *none,
    const char **err);
static void *spiffe_x509_d2i_whole(d2i_of_void *d2i,
    OPENSSL_sk_freefunc free_obj, const unsigned char *der, long len);
static void spiffe_x509_pem_free(char *name, char *header,
    unsigned char *data, long len);


/* the reasons of spiffe_id_parse(), as they read after "URI SAN" */

static const char  *spiffe_x509_uri_san[] = {
    [SPIFFE_ERR_ID_TOO_LONG] =
        "URI SAN is longer than 2048 bytes",
    [SPIFFE_ERR_ID_SCHEME] =
        "URI SAN does not start with \"spiffe://\"",
    [SPIFFE_ERR_TD_EMPTY] =
        "URI SAN has an empty trust domain",
    [SPIFFE_ERR_TD_TOO_LONG] =
        "URI SAN has a trust domain longer than 255 bytes",
    [SPIFFE_ERR_TD_PORT] =
        "URI SAN has a port in the trust domain",
    [SPIFFE_ERR_TD_USERINFO] =
        "URI SAN has userinfo in the trust domain",
    [SPIFFE_ERR_TD_PERCENT] =
        "URI SAN has percent-encoding in the trust domain",
    [SPIFFE_ERR_TD_UPPERCASE] =
        "URI SAN has uppercase letters in the trust domain",
    [SPIFFE_ERR_TD_CHAR] =
        "URI SAN has a character not allowed in a trust domain",
    [SPIFFE_ERR_ID_QUERY] =
        "URI SAN has a query",
    [SPIFFE_ERR_ID_FRAGMENT] =
        "URI SAN has a fragment",
    [SPIFFE_ERR_PATH_EMPTY_SEGMENT] =
        "URI SAN has an empty path segment or a trailing \"/\"",
    [SPIFFE_ERR_PATH_DOT_SEGMENT] =
        "URI SAN has a \".\" or \"..\" path segment",
    [SPIFFE_ERR_PATH_PERCENT] =
        "URI SAN has percent-encoding in the path",
    [SPIFFE_ERR_PATH_CHAR] =
        "URI SAN has a character not allowed in a path segment",
};


spiffe_err_t
spiffe_x509_peer_id(X509 *leaf, char *buf, size_t *len, const char **err)
{
    int                    i, n, crit;
    uint32_t               flags;
    const char            *reason;
    spiffe_id_t            id;
    spiffe_err_t           rc;
    GENERAL_NAME          *gn;
    GENERAL_NAMES         *names;
    const ASN1_IA5STRING  *uri;

    ERR_set_mark();

    flags = X509_get_extension_flags(leaf);

    if (flags & EXFLAG_INVALID) {
        ERR_pop_to_mark();
        return spiffe_x509_refuse(SPIFFE_ERR_EXTENSIONS, err);
    }

    names = X509_get_ext_d2i(leaf, NID_subject_alt_name, &crit, NULL);

    ERR_pop_to_mark();

    if (names == NULL && crit != -1) {
        return spiffe_x509_refuse(SPIFFE_ERR_SAN, err);
    }

    uri = NULL;
    n = 0;

    for (i = 0; i < sk_GENERAL_NAME_num(names); i++) {
        gn = sk_GENERAL_NAME_value(names, i);

        if (gn->type == GEN_URI) {
            uri = gn->d.uniformResourceIdentifier;
            n++;
        }
    }

    if (n == 0) {
        rc = SPIFFE_ERR_NO_URI_SAN;
        goto done;
    }

    if (n > 1) {
        rc = (n == 2) ? SPIFFE_ERR_TWO_URI_SANS : SPIFFE_ERR_URI_SANS;
        goto done;
    }

    rc = spiffe_id_parse((const char *) ASN1_STRING_get0_data(uri),
                         ASN1_STRING_length(uri), &id, &reason);
    if (rc != SPIFFE_OK) {
        goto done;
    }

    if (id.path_len == 0) {
        rc = SPIFFE_ERR_NO_PATH;
        goto done;
    }

    rc = spiffe_x509_leaf_usage(leaf, flags);
    if (rc != SPIFFE_OK) {
        goto done;
    }

    /* spiffe_id_parse() has bounded the length */

    *len = ASN1_STRING_length(uri);
    memcpy(buf, ASN1_STRING_get0_data(uri), *len);
    buf[*len] = '\0';

done:

    GENERAL_NAMES_free(names);

    return (rc == SPIFFE_OK) ? SPIFFE_OK : spiffe_x509_refuse(rc, err);
}


spiffe_err_t
spiffe_x509_verify_chain(X509_STORE *store, X509 *leaf,
    STACK_OF(X509) *untrusted, time_t now, STACK_OF(X509) **chain,
    const char **err)
{
    int                 e;
    spiffe_err_t        rc;
    X509_STORE_CTX     *ctx;
    X509_VERIFY_PARAM  *param;

    ERR_set_mark();

    rc = SPIFFE_ERR_NO_MEMORY;
    e = X509_V_OK;

    ctx = X509_STORE_CTX_new();
    if (ctx == NULL || X509_STORE_CTX_init(ctx, store, leaf, untrusted) != 1) {
        goto done;
    }

    /*
     * SPIFFE requires no extended key usage, so no purpose but "any";
     * CA certificates are still checked to be CAs.  A bundle is a set of
     * trust anchors, self-signed or not, as in go-spiffe.
     */

    param = X509_STORE_CTX_get0_param(ctx);

    if (X509_VERIFY_PARAM_set_purpose(param, X509_PURPOSE_ANY) != 1
        || X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_PARTIAL_CHAIN) != 1)
    {
        goto done;
    }

    X509_VERIFY_PARAM_set_depth(param, SPIFFE_X509_MAX_DEPTH);
    X509_VERIFY_PARAM_set_time(param, now);

    if (X509_verify_cert(ctx) != 1) {
        e = X509_STORE_CTX_get_error(ctx);
        rc = spiffe_x509_chain_error(e);
        goto done;
    }

    if (chain != NULL) {
        *chain = X509_STORE_CTX_get1_chain(ctx);
        if (*chain == NULL) {
            goto done;
        }
    }

    rc = SPIFFE_OK;

done:

    X509_STORE_CTX_free(ctx);
    ERR_pop_to_mark();

    /* OpenSSL's own text, as nginx shows it in $ssl_client_verify */

    if (rc != SPIFFE_OK) {
        *err = (e != X509_V_OK) ? X509_verify_cert_error_string(e)
                                : spiffe_err_text(rc);
    }

    return rc;
}


int
spiffe_x509_svid_check(X509 *leaf, STACK_OF(X509) *chain, EVP_PKEY *key,
    X509_STORE *store, time_t now, const char **err)
{
    int        i, match;
    char       id[SPIFFE_ID_MAX_LEN + 1];
    X509      *x;
    size_t     len;
    uint32_t   flags;
    EVP_PKEY  *pub;

    if (spiffe_x509_peer_id(leaf, id, &len, err) != SPIFFE_OK) {
        return -1;
    }

    /* a broken extension leaves an error in the queue: not ours to keep */

    ERR_set_mark();

    for (i = 0; i < sk_X509_num(chain); i++) {
        x = sk_X509_value(chain, i);
        flags = X509_get_extension_flags(x);

        if ((flags & EXFLAG_INVALID) || !(flags & EXFLAG_CA)) {
            ERR_pop_to_mark();
            *err = "chain certificate is not a CA";
            return -1;
        }

        if (!(flags & EXFLAG_KUSAGE)
            || !(X509_get_key_usage(x) & KU_KEY_CERT_SIGN))
        {
            ERR_pop_to_mark();
            *err = "chain certificate has no keyCertSign";
            return -1;
        }
    }

    pub = X509_get0_pubkey(leaf);
    match = (pub != NULL && key != NULL && EVP_PKEY_eq(pub, key) == 1);

    ERR_pop_to_mark();

    if (!match) {
        *err = "private key does not match the certificate";
        return -1;
    }

    if (spiffe_x509_check_time(leaf, now, "certificate has expired",
                               "certificate is not yet valid", err)
        != 0)
    {
        return -1;
    }

    for (i = 0; i < sk_X509_num(chain); i++) {
        if (spiffe_x509_check_time(sk_X509_value(chain, i), now,
                                   "chain certificate has expired",
                                   "chain certificate is not yet valid", err)
            != 0)
        {
            return -1;
        }
    }

    if (store == NULL) {
        return 0;
    }

    if (spiffe_x509_verify_chain(store, leaf, chain, now, NULL, err)
        != SPIFFE_OK)
    {
        return -1;
    }

    return 0;
}


int
spiffe_x509_is_ca(X509 *x)
{
    int  rc;

    ERR_set_mark();
    rc = (X509_check_ca(x) == 1);
    ERR_pop_to_mark();

    return rc;
}


STACK_OF(X509) *
spiffe_x509_parse_der_certs(const unsigned char *der, size_t len,
    const char **err)
{
    X509                 *x;
    const unsigned char  *p, *end;
    STACK_OF(X509)       *certs;

    if (len == 0) {
        *err = "no certificate";
        return NULL;
    }

    if (len > LONG_MAX) {
        *err = "certificates too long";
        return NULL;
    }

    ERR_set_mark();

    certs = sk_X509_new_null();
    if (certs == NULL) {
        *err = "out of memory";
        goto failed;
    }

    p = der;
    end = der + len;

    while (p < end) {
        x = d2i_X509(NULL, &p, end - p);
        if (x == NULL) {
            *err = (sk_X509_num(certs) == 0) ? "bad certificate"
                                             : "trailing data after "
                                               "certificates";
            goto failed;
        }

        if (sk_X509_push(certs, x) == 0) {
            X509_free(x);
            *err = "out of memory";
            goto failed;
        }
    }

    ERR_pop_to_mark();

    return certs;

failed:

    sk_X509_pop_free(certs, X509_free);
    ERR_pop_to_mark();

    return NULL;
}


STACK_OF(X509) *
spiffe_x509_parse_pem_certs(const char *pem, size_t len, const char **err)
{
    return (STACK_OF(X509) *) spiffe_x509_parse_pem_objs(pem, len,
                                   "CERTIFICATE", (d2i_of_void *) d2i_X509,
                                   (OPENSSL_sk_freefunc) X509_free,
                                   "bad certificate", "no certificate", err);
}


STACK_OF(X509_CRL) *
spiffe_x509_parse_pem_crls(const char *pem, size_t len, const char **err)
{
    return (STACK_OF(X509_CRL) *) spiffe_x509_parse_pem_objs(pem, len,
                                   "X509 CRL", (d2i_of_void *) d2i_X509_CRL,
                                   (OPENSSL_sk_freefunc) X509_CRL_free,
                                   "bad CRL", "no CRL", err);
}


/*
 * The PEM blocks of one type, each decoded whole; blocks of other types,
 * such as a key in the same file, are not ours and are skipped.
 */

static OPENSSL_STACK *
spiffe_x509_parse_pem_objs(const char *pem, size_t len, const char *type,
    d2i_of_void *d2i, OPENSSL_sk_freefunc free_obj, const char *bad,
    const char *none, const char **err)
{
    int                   rc;
    BIO                  *bio;
    void                 *obj;
    long                  dlen;
    char                 *name, *header;
    unsigned char        *data;
    OPENSSL_STACK        *objs;

    if (len > INT_MAX) {
        *err = "PEM too long";
        return NULL;
    }

    ERR_set_mark();

    objs = OPENSSL_sk_new_null();
    bio = BIO_new_mem_buf(pem, (int) len);

    if (objs == NULL || bio == NULL) {
        *err = "out of memory";
        goto failed;
    }

    for ( ;; ) {
        rc = spiffe_x509_pem_next(bio, &name, &header, &data, &dlen, err);

        if (rc == 0) {
            break;
        }

        if (rc == -1) {
            goto failed;
        }

        if (strcmp(name, type) != 0) {
            spiffe_x509_pem_free(name, header, data, dlen);
            continue;
        }

        obj = spiffe_x509_d2i_whole(d2i, free_obj, data, dlen);

        spiffe_x509_pem_free(name, header, data, dlen);

        if (obj == NULL) {
            *err = bad;
            goto failed;
        }

        if (OPENSSL_sk_push(objs, obj) == 0) {
            free_obj(obj);
            *err = "out of memory";
            goto failed;
        }
    }

    if (OPENSSL_sk_num(objs) == 0) {
        *err = none;
        goto failed;
    }

    BIO_free(bio);
    ERR_pop_to_mark();

    return objs;

failed:

    BIO_free(bio);
    OPENSSL_sk_pop_free(objs, free_obj);
    ERR_pop_to_mark();

    return NULL;
}


/* a whole DER object, nothing after it */

static void *
spiffe_x509_d2i_whole(d2i_of_void *d2i, OPENSSL_sk_freefunc free_obj,
    const unsigned char *der, long len)
{
    void                 *obj;
    const unsigned char  *p;

    p = der;
    obj = d2i(NULL, &p, len);

    if (obj != NULL && p != der + len) {
        free_obj(obj);
        return NULL;
    }

    return obj;
}


void
spiffe_x509_free_certs(STACK_OF(X509) *certs)
{
    sk_X509_pop_free(certs, X509_free);
}


EVP_PKEY *
spiffe_x509_parse_der_key(const unsigned char *der, size_t len,
    const char **err)
{
    EVP_PKEY             *pkey;
    const unsigned char  *p;
    PKCS8_PRIV_KEY_INFO  *p8;

    if (len == 0) {
        *err = "no private key";
        return NULL;
    }

    if (len > LONG_MAX) {
        *err = "private key too long";
        return NULL;
    }

    ERR_set_mark();

    p = der;
    p8 = d2i_PKCS8_PRIV_KEY_INFO(NULL, &p, (long) len);

    if (p8 == NULL) {
        ERR_pop_to_mark();
        *err = "bad PKCS#8 private key";
        return NULL;
    }

    if (p != der + len) {
        PKCS8_PRIV_KEY_INFO_free(p8);
        ERR_pop_to_mark();
        *err = "trailing data after private key";
        return NULL;
    }

    pkey = EVP_PKCS82PKEY(p8);
    PKCS8_PRIV_KEY_INFO_free(p8);

    ERR_pop_to_mark();

    if (pkey == NULL) {
        *err = "unsupported private key";
        return NULL;
    }

    return pkey;
}


EVP_PKEY *
spiffe_x509_parse_pem_key(const char *pem, size_t len, const char **err)
{
    int             rc;
    BIO            *bio;
    long            dlen;
    char           *name, *header;
    size_t          nlen;
    EVP_PKEY       *pkey;
    const char     *reason;
    unsigned char  *data;

    if (len > INT_MAX) {
        *err = "PEM too long";
        return NULL;
    }

    ERR_set_mark();

    pkey = NULL;

    bio = BIO_new_mem_buf(pem, (int) len);
    if (bio == NULL) {
        *err = "out of memory";
        goto failed;
    }

    for ( ;; ) {
        rc = spiffe_x509_pem_next(bio, &name, &header, &data, &dlen, err);

        if (rc == 0) {
            break;
        }

        if (rc == -1) {
            goto failed;
        }

        nlen = strlen(name);

        if (nlen < sizeof("PRIVATE KEY") - 1
            || strcmp(name + nlen - (sizeof("PRIVATE KEY") - 1),
                      "PRIVATE KEY") != 0)
        {
            spiffe_x509_pem_free(name, header, data, dlen);
            continue;
        }

        reason = NULL;

        if (pkey != NULL) {
            reason = "more than one private key";

        } else if (strcmp(name, "ENCRYPTED PRIVATE KEY") == 0
                   || header[0] != '\0')
        {
            reason = "private key is encrypted";

        } else if (strcmp(name, "PRIVATE KEY") != 0) {
            reason = "private key is not PKCS#8";

        } else {
            pkey = spiffe_x509_parse_der_key(data, dlen, &reason);
        }

        spiffe_x509_pem_free(name, header, data, dlen);

        if (reason != NULL) {
            *err = reason;
            goto failed;
        }
    }

    if (pkey == NULL) {
        *err = "no private key";
        goto failed;
    }

    BIO_free(bio);
    ERR_pop_to_mark();

    return pkey;

failed:

    EVP_PKEY_free(pkey);
    BIO_free(bio);
    ERR_pop_to_mark();

    return NULL;
}


X509_CRL *
spiffe_x509_parse_der_crl(const unsigned char *der, size_t len,
    const char **err)
{
    X509_CRL  *crl;

    if (len == 0 || len > LONG_MAX) {
        *err = "bad CRL";
        return NULL;
    }

    ERR_set_mark();
    crl = spiffe_x509_d2i_whole((d2i_of_void *) d2i_X509_CRL,
                                (OPENSSL_sk_freefunc) X509_CRL_free, der,
                                (long) len);
    ERR_pop_to_mark();

    if (crl == NULL) {
        *err = "bad CRL";
    }

    return crl;
}


/* a leaf is no CA and signs with its key, neither certificates nor CRLs */

static spiffe_err_t
spiffe_x509_leaf_usage(X509 *leaf, uint32_t flags)
{
    uint32_t  ku;

    if (flags & EXFLAG_CA) {
        return SPIFFE_ERR_LEAF_CA;
    }

    if (!(flags & EXFLAG_KUSAGE)) {
        return SPIFFE_ERR_NO_KEY_USAGE;
    }

    ku = X509_get_key_usage(leaf);

    if (ku & KU_KEY_CERT_SIGN) {
        return SPIFFE_ERR_LEAF_CERT_SIGN;
    }

    if (ku & KU_CRL_SIGN) {
        return SPIFFE_ERR_LEAF_CRL_SIGN;
    }

    if (!(ku & KU_DIGITAL_SIGNATURE)) {
        return SPIFFE_ERR_NO_DIGITAL_SIGNATURE;
    }

    return SPIFFE_OK;
}


/* a reason of the leaf rules; an ID's reads after "URI SAN" */

static spiffe_err_t
spiffe_x509_refuse(spiffe_err_t code, const char **err)
{
    if ((size_t) code < sizeof(spiffe_x509_uri_san)
                        / sizeof(spiffe_x509_uri_san[0])
        && spiffe_x509_uri_san[code] != NULL)
    {
        *err = spiffe_x509_uri_san[code];

    } else {
        *err = spiffe_err_text(code);
    }

    return code;
}


static spiffe_err_t
spiffe_x509_chain_error(int e)
{
    switch (e) {

    case X509_V_ERR_CERT_HAS_EXPIRED:
    case X509_V_ERR_CRL_HAS_EXPIRED:
        return SPIFFE_ERR_EXPIRED;

    case X509_V_ERR_CERT_NOT_YET_VALID:
    case X509_V_ERR_CRL_NOT_YET_VALID:
        return SPIFFE_ERR_NOT_YET_VALID;

    case X509_V_ERR_CERT_REVOKED:
        return SPIFFE_ERR_REVOKED;

    default:
        return SPIFFE_ERR_CHAIN;
    }
}


static int
spiffe_x509_check_time(X509 *x, time_t now, const char *expired,
    const char *not_yet, const char **err)
{
    int  before, after;

    ERR_set_mark();
    before = X509_cmp_time(X509_get0_notBefore(x), &now);
    after = X509_cmp_time(X509_get0_notAfter(x), &now);
    ERR_pop_to_mark();

    if (before == 0 || after == 0) {
        *err = "bad certificate validity";
        return -1;
    }

    if (before > 0) {
        *err = not_yet;
        return -1;
    }

    if (after < 0) {
        *err = expired;
        return -1;
    }

    return 0;
}


/* returns 1 with a block, 0 at the end of the input, -1 on bad PEM */

static int
spiffe_x509_pem_next(BIO *bio, char **name, char **header,
    unsigned char **data, long *len, const char **err)
{
    unsigned long  e;

    if (PEM_read_bio(bio, name, header, data, len) == 1) {
        return 1;
    }

    e = ERR_peek_last_error();

    if (ERR_GET_LIB(e) == ERR_LIB_PEM
        && ERR_GET_REASON(e) == PEM_R_NO_START_LINE)
    {
        return 0;
    }

    *err = "bad PEM";

    return -1;
}


static void
spiffe_x509_pem_free(char *name, char *header, unsigned char *data, long len)
{
    OPENSSL_free(name);
    OPENSSL_free(header);
    OPENSSL_clear_free(data, len);
}
