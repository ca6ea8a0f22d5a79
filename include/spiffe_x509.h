
/*
 * Copyright (C) ngx_spiffe developers
 */


#ifndef _SPIFFE_X509_H_INCLUDED_
#define _SPIFFE_X509_H_INCLUDED_


#include <stddef.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <spiffe_err.h>
#include <spiffe_id.h>


/* intermediate CAs allowed between a leaf and its trust anchor */
#define SPIFFE_X509_MAX_DEPTH  8


/*
 * X.509-SVID rules.  The checks of a peer return SPIFFE_OK (0) or the
 * reason's code; other functions returning int return 0 on success and -1
 * on failure, the rest NULL on failure.  On failure *err points to a short
 * static text, e.g. "2 URI SANs".  OpenSSL's error queue is left as it was
 * found.
 */

/*
 * The leaf rules of a peer X.509-SVID: exactly one URI SAN holding a
 * SPIFFE ID with a non-root path, not a CA, keyUsage with digitalSignature
 * and neither keyCertSign nor cRLSign.  The ID is copied NUL-terminated to
 * buf, which has room for SPIFFE_ID_MAX_LEN + 1 bytes.  A URI SAN that is
 * not a SPIFFE ID gives the code of spiffe_id_parse(), its text read after
 * "URI SAN", e.g. "URI SAN has a query".
 */
spiffe_err_t spiffe_x509_peer_id(X509 *leaf, char *buf, size_t *len,
    const char **err);

/*
 * RFC 5280 validation of leaf at the time now against store, with any
 * extended key usage, each certificate in store a trust anchor.
 * untrusted may hold the leaf too.  When chain is not NULL it receives
 * the verified chain, leaf first; free it with spiffe_x509_free_certs().
 * On failure the code tells expired, not yet valid and revoked apart from
 * other SPIFFE_ERR_CHAIN errors, and *err is OpenSSL's text of its own
 * error, as in "certificate has expired".
 */
spiffe_err_t spiffe_x509_verify_chain(X509_STORE *store, X509 *leaf,
    STACK_OF(X509) *untrusted, time_t now, STACK_OF(X509) **chain,
    const char **err);

/*
 * Our own SVID before it is served: the leaf rules, every chain
 * certificate a CA with keyCertSign, key matching the leaf, all of them
 * valid at now, and, when store (the bundle of the SVID's own trust
 * domain) is not NULL, a chain to it.
 */
int spiffe_x509_svid_check(X509 *leaf, STACK_OF(X509) *chain, EVP_PKEY *key,
    X509_STORE *store, time_t now, const char **err);

/*
 * 1 for a certificate that may be a trust anchor: cA true and, when it
 * has keyUsage, keyCertSign
 */
int spiffe_x509_is_ca(X509 *x);

STACK_OF(X509) *spiffe_x509_parse_der_certs(const unsigned char *der,
    size_t len, const char **err);
STACK_OF(X509) *spiffe_x509_parse_pem_certs(const char *pem, size_t len,
    const char **err);
void spiffe_x509_free_certs(STACK_OF(X509) *certs);

/* unencrypted PKCS#8 only */
EVP_PKEY *spiffe_x509_parse_der_key(const unsigned char *der, size_t len,
    const char **err);
EVP_PKEY *spiffe_x509_parse_pem_key(const char *pem, size_t len,
    const char **err);

STACK_OF(X509_CRL) *spiffe_x509_parse_pem_crls(const char *pem, size_t len,
    const char **err);
X509_CRL *spiffe_x509_parse_der_crl(const unsigned char *der, size_t len,
    const char **err);


#endif /* _SPIFFE_X509_H_INCLUDED_ */
