
/*
 * Copyright (C) ngx_spiffe developers
 */


#include <stddef.h>

#include <spiffe_err.h>


typedef struct {
    const char         *text;
    spiffe_err_kind_t   kind;
} spiffe_err_info_t;


static const spiffe_err_info_t  spiffe_errs[SPIFFE_ERR_N] = {

    [SPIFFE_ERR_ID_TOO_LONG] =
        { "is longer than 2048 bytes", SPIFFE_ERR_KIND_BAD_ID },
    [SPIFFE_ERR_ID_SCHEME] =
        { "does not start with \"spiffe://\"", SPIFFE_ERR_KIND_BAD_ID },
    [SPIFFE_ERR_TD_EMPTY] =
        { "has an empty trust domain", SPIFFE_ERR_KIND_BAD_ID },
    [SPIFFE_ERR_TD_TOO_LONG] =
        { "has a trust domain longer than 255 bytes",
          SPIFFE_ERR_KIND_BAD_ID },
    [SPIFFE_ERR_TD_PORT] =
        { "has a port in the trust domain", SPIFFE_ERR_KIND_BAD_ID },
    [SPIFFE_ERR_TD_USERINFO] =
        { "has userinfo in the trust domain", SPIFFE_ERR_KIND_BAD_ID },
    [SPIFFE_ERR_TD_PERCENT] =
        { "has percent-encoding in the trust domain",
          SPIFFE_ERR_KIND_BAD_ID },
    [SPIFFE_ERR_TD_UPPERCASE] =
        { "has uppercase letters in the trust domain",
          SPIFFE_ERR_KIND_BAD_ID },
    [SPIFFE_ERR_TD_CHAR] =
        { "has a character not allowed in a trust domain",
          SPIFFE_ERR_KIND_BAD_ID },
    [SPIFFE_ERR_ID_QUERY] =
        { "has a query", SPIFFE_ERR_KIND_BAD_ID },
    [SPIFFE_ERR_ID_FRAGMENT] =
        { "has a fragment", SPIFFE_ERR_KIND_BAD_ID },
    [SPIFFE_ERR_PATH_EMPTY_SEGMENT] =
        { "has an empty path segment or a trailing \"/\"",
          SPIFFE_ERR_KIND_BAD_ID },
    [SPIFFE_ERR_PATH_DOT_SEGMENT] =
        { "has a \".\" or \"..\" path segment", SPIFFE_ERR_KIND_BAD_ID },
    [SPIFFE_ERR_PATH_PERCENT] =
        { "has percent-encoding in the path", SPIFFE_ERR_KIND_BAD_ID },
    [SPIFFE_ERR_PATH_CHAR] =
        { "has a character not allowed in a path segment",
          SPIFFE_ERR_KIND_BAD_ID },

    /* a malformed certificate counts with the chain errors */

    [SPIFFE_ERR_EXTENSIONS] =
        { "bad certificate extensions", SPIFFE_ERR_KIND_CHAIN },
    [SPIFFE_ERR_SAN] =
        { "bad subjectAltName", SPIFFE_ERR_KIND_CHAIN },
    [SPIFFE_ERR_NO_URI_SAN] =
        { "no URI SAN", SPIFFE_ERR_KIND_BAD_ID },
    [SPIFFE_ERR_TWO_URI_SANS] =
        { "2 URI SANs", SPIFFE_ERR_KIND_BAD_ID },
    [SPIFFE_ERR_URI_SANS] =
        { "more than 2 URI SANs", SPIFFE_ERR_KIND_BAD_ID },
    [SPIFFE_ERR_NO_PATH] =
        { "SPIFFE ID has no path", SPIFFE_ERR_KIND_BAD_ID },
    [SPIFFE_ERR_LEAF_CA] =
        { "leaf is a CA", SPIFFE_ERR_KIND_LEAF_RULES },
    [SPIFFE_ERR_NO_KEY_USAGE] =
        { "no keyUsage", SPIFFE_ERR_KIND_LEAF_RULES },
    [SPIFFE_ERR_LEAF_CERT_SIGN] =
        { "leaf has keyCertSign", SPIFFE_ERR_KIND_LEAF_RULES },
    [SPIFFE_ERR_LEAF_CRL_SIGN] =
        { "leaf has cRLSign", SPIFFE_ERR_KIND_LEAF_RULES },
    [SPIFFE_ERR_NO_DIGITAL_SIGNATURE] =
        { "no digitalSignature", SPIFFE_ERR_KIND_LEAF_RULES },

    [SPIFFE_ERR_NO_BUNDLE] =
        { "no bundle for trust domain", SPIFFE_ERR_KIND_NO_BUNDLE },
    [SPIFFE_ERR_EXPIRED] =
        { "certificate has expired", SPIFFE_ERR_KIND_EXPIRED },
    [SPIFFE_ERR_NOT_YET_VALID] =
        { "certificate is not yet valid", SPIFFE_ERR_KIND_NOT_YET_VALID },
    [SPIFFE_ERR_REVOKED] =
        { "revoked", SPIFFE_ERR_KIND_REVOKED },
    [SPIFFE_ERR_CHAIN] =
        { "certificate verification failed", SPIFFE_ERR_KIND_CHAIN },
    [SPIFFE_ERR_NO_MEMORY] =
        { "out of memory", SPIFFE_ERR_KIND_CHAIN },

    [SPIFFE_ERR_NO_TRUST_BUNDLE] =
        { "no trust bundle yet", SPIFFE_ERR_KIND_NO_BUNDLE },
    [SPIFFE_ERR_NOT_ALLOWED] =
        { "its ID matches no spiffe_proxy_verify pattern",
          SPIFFE_ERR_KIND_NOT_ALLOWED },
    [SPIFFE_ERR_NO_CERTIFICATE] =
        { "no certificate", SPIFFE_ERR_KIND_NO_CERTIFICATE },
};


static const char  *spiffe_err_kind_labels[SPIFFE_ERR_KIND_N] = {
    [SPIFFE_ERR_KIND_BAD_ID] = "bad_id",
    [SPIFFE_ERR_KIND_LEAF_RULES] = "leaf_rules",
    [SPIFFE_ERR_KIND_NO_BUNDLE] = "no_bundle",
    [SPIFFE_ERR_KIND_EXPIRED] = "expired",
    [SPIFFE_ERR_KIND_NOT_YET_VALID] = "not_yet_valid",
    [SPIFFE_ERR_KIND_REVOKED] = "revoked",
    [SPIFFE_ERR_KIND_NOT_ALLOWED] = "not_allowed",
    [SPIFFE_ERR_KIND_CHAIN] = "chain",
    [SPIFFE_ERR_KIND_NO_CERTIFICATE] = "no_certificate",
};


const char *
spiffe_err_text(spiffe_err_t code)
{
    if ((unsigned) code >= SPIFFE_ERR_N) {
        return NULL;
    }

    return spiffe_errs[code].text;
}


spiffe_err_kind_t
spiffe_err_kind(spiffe_err_t code)
{
    if (code <= SPIFFE_OK || code >= SPIFFE_ERR_N) {
        return SPIFFE_ERR_KIND_CHAIN;
    }

    return spiffe_errs[code].kind;
}


const char *
spiffe_err_kind_label(spiffe_err_kind_t kind)
{
    if ((unsigned) kind >= SPIFFE_ERR_KIND_N) {
        return NULL;
    }

    return spiffe_err_kind_labels[kind];
}
