
/*
 * Copyright (C) ngx_spiffe developers
 */


#ifndef _SPIFFE_ERR_H_INCLUDED_
#define _SPIFFE_ERR_H_INCLUDED_


/*
 * The reasons a SPIFFE ID or a peer's X.509-SVID is refused, each with a
 * static message and the kind it counts as in the metrics.  Errors of
 * loading and parsing, which nothing tells apart, stay plain texts.
 */

typedef enum {
    SPIFFE_OK = 0,

    /* a SPIFFE ID: spiffe_id_parse(); the messages read after "SPIFFE ID" */
    SPIFFE_ERR_ID_TOO_LONG,
    SPIFFE_ERR_ID_SCHEME,
    SPIFFE_ERR_TD_EMPTY,
    SPIFFE_ERR_TD_TOO_LONG,
    SPIFFE_ERR_TD_PORT,
    SPIFFE_ERR_TD_USERINFO,
    SPIFFE_ERR_TD_PERCENT,
    SPIFFE_ERR_TD_UPPERCASE,
    SPIFFE_ERR_TD_CHAR,
    SPIFFE_ERR_ID_QUERY,
    SPIFFE_ERR_ID_FRAGMENT,
    SPIFFE_ERR_PATH_EMPTY_SEGMENT,
    SPIFFE_ERR_PATH_DOT_SEGMENT,
    SPIFFE_ERR_PATH_PERCENT,
    SPIFFE_ERR_PATH_CHAR,

    /* the leaf rules of an X.509-SVID: spiffe_x509_peer_id() */
    SPIFFE_ERR_EXTENSIONS,
    SPIFFE_ERR_SAN,
    SPIFFE_ERR_NO_URI_SAN,
    SPIFFE_ERR_TWO_URI_SANS,
    SPIFFE_ERR_URI_SANS,
    SPIFFE_ERR_NO_PATH,
    SPIFFE_ERR_LEAF_CA,
    SPIFFE_ERR_NO_KEY_USAGE,
    SPIFFE_ERR_LEAF_CERT_SIGN,
    SPIFFE_ERR_LEAF_CRL_SIGN,
    SPIFFE_ERR_NO_DIGITAL_SIGNATURE,

    /* its chain to the bundle of its trust domain, then the CRLs */
    SPIFFE_ERR_NO_BUNDLE,
    SPIFFE_ERR_EXPIRED,
    SPIFFE_ERR_NOT_YET_VALID,
    SPIFFE_ERR_REVOKED,
    SPIFFE_ERR_CHAIN,
    SPIFFE_ERR_NO_MEMORY,

    /* a peer refused before or after those checks */
    SPIFFE_ERR_NO_TRUST_BUNDLE,
    SPIFFE_ERR_NOT_ALLOWED,
    SPIFFE_ERR_NO_CERTIFICATE,

    SPIFFE_ERR_N
} spiffe_err_t;


/* what a refused peer counts as; the order is that of the status page */

typedef enum {
    SPIFFE_ERR_KIND_BAD_ID = 0,
    SPIFFE_ERR_KIND_LEAF_RULES,
    SPIFFE_ERR_KIND_NO_BUNDLE,
    SPIFFE_ERR_KIND_EXPIRED,
    SPIFFE_ERR_KIND_NOT_YET_VALID,
    SPIFFE_ERR_KIND_REVOKED,
    SPIFFE_ERR_KIND_NOT_ALLOWED,
    SPIFFE_ERR_KIND_CHAIN,
    SPIFFE_ERR_KIND_NO_CERTIFICATE,

    SPIFFE_ERR_KIND_N
} spiffe_err_kind_t;


/* NULL for SPIFFE_OK and codes out of range */
const char *spiffe_err_text(spiffe_err_t code);

/* SPIFFE_ERR_KIND_CHAIN for codes out of range */
spiffe_err_kind_t spiffe_err_kind(spiffe_err_t code);

/* the metric label of a kind, e.g. "bad_id"; NULL out of range */
const char *spiffe_err_kind_label(spiffe_err_kind_t kind);


#endif /* _SPIFFE_ERR_H_INCLUDED_ */
