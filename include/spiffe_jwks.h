
/*
 * Copyright (C) ngx_spiffe developers
 */


#ifndef _SPIFFE_JWKS_H_INCLUDED_
#define _SPIFFE_JWKS_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>


/* spiffe_jwk_t types: the key type and, for EC, the curve */
#define SPIFFE_JWK_RSA          1
#define SPIFFE_JWK_EC_P256      2
#define SPIFFE_JWK_EC_P384      3
#define SPIFFE_JWK_EC_P521      4

#define SPIFFE_JWK_RSA_MIN_BITS  2048


/*
 * A SPIFFE bundle in JWKS form, one trust domain's: the X.509 authorities
 * (use "x509-svid") and the JWT authorities (use "jwt-svid").  Immutable
 * once parsed and freed when its last reference goes; the counters are
 * not atomic, a bundle or a set belongs to one thread.
 */

typedef struct spiffe_jwks_s          spiffe_jwks_t;
typedef struct spiffe_jwt_bundles_s   spiffe_jwt_bundles_t;


/* a JWT authority, valid as long as its bundle */

typedef struct {
    const char     *kid;                /* NUL-terminated */
    size_t          kid_len;
    unsigned        type;               /* SPIFFE_JWK_* */
    EVP_PKEY       *pkey;               /* public key only */
} spiffe_jwk_t;


/* an element of a set keyed by trust domain (spiffe_tdset.h) */

typedef struct {
    const char     *td;                 /* without "spiffe://" */
    size_t          td_len;
    spiffe_jwks_t  *jwks;
} spiffe_jwt_bundle_t;


/*
 * Functions returning int return 0 on success and -1 on failure, the
 * others NULL on failure; on failure *err points to a short static reason.
 * OpenSSL's error queue is left as it was found.
 */

/*
 * Keys with an unknown "use" or "kty", and keys whose material is unusable
 * (an x5c that is not a CA certificate, a point not on its curve, an RSA
 * modulus under 2048 bits, a jwt-svid key without "kid", a duplicate
 * "kid") are skipped and counted; only a document that is not a bundle
 * ("keys" missing, bad "spiffe_sequence", ...) is refused.  An empty
 * "keys" is a valid bundle that trusts nothing.
 */
spiffe_jwks_t *spiffe_jwks_parse(const char *json, size_t len,
    const char **err);

/*
 * A JWT bundle as the Workload API's FetchJWTBundles sends it: a JWK Set
 * whose keys may have no "use" (SPIRE's agent and go-spiffe leave it
 * out), each such key a JWT authority, "kid" still required.  Otherwise
 * as spiffe_jwks_parse().
 */
spiffe_jwks_t *spiffe_jwks_parse_jwt_bundle(const char *json, size_t len,
    const char **err);

spiffe_jwks_t *spiffe_jwks_ref(spiffe_jwks_t *jwks);
void spiffe_jwks_unref(spiffe_jwks_t *jwks);

/* the JWT authority with this kid, or NULL */
const spiffe_jwk_t *spiffe_jwks_find(const spiffe_jwks_t *jwks,
    const char *kid, size_t kid_len);

size_t spiffe_jwks_nkeys(const spiffe_jwks_t *jwks);
const spiffe_jwk_t *spiffe_jwks_key(const spiffe_jwks_t *jwks, size_t i);

/* how many elements of "keys" were skipped */
size_t spiffe_jwks_nignored(const spiffe_jwks_t *jwks);

/*
 * The X.509 authorities (CA certificates), never NULL, possibly empty;
 * owned by the bundle: X509_up_ref() what must outlive it.
 */
STACK_OF(X509) *spiffe_jwks_x509_authorities(const spiffe_jwks_t *jwks);

/*
 * A bundle as a file holds it: a SPIFFE JWKS document (it starts with
 * "{") or PEM certificates.  certs receives the X.509 authorities (free
 * with spiffe_x509_free_certs()), jwks the document or NULL for PEM.
 */
int spiffe_bundle_parse(const char *text, size_t len, STACK_OF(X509) **certs,
    spiffe_jwks_t **jwks, const char **err);

/* -1 when the bundle has no "spiffe_sequence" */
int spiffe_jwks_sequence(const spiffe_jwks_t *jwks, uint64_t *seq);

/* "spiffe_refresh_hint" in seconds; 0 when absent (use the default) */
int64_t spiffe_jwks_refresh_hint(const spiffe_jwks_t *jwks);


/*
 * A set of bundles by trust domain, immutable and refcounted.  A trust
 * domain may be given as "td" or "spiffe://td"; the set takes its own
 * references to the bundles.  Two bundles for one trust domain: refused.
 */
spiffe_jwt_bundles_t *spiffe_jwt_bundles_create(
    const spiffe_jwt_bundle_t *bundles, size_t n, const char **err);

/*
 * The bundles of base (or none when NULL) with those of extra, named
 * without "spiffe://", where a trust domain of extra replaces base's:
 * configured bundles win over what a source gives.  A bundle of extra
 * whose jwks is NULL leaves its trust domain with no JWT bundle.  The
 * X.509 twin is spiffe_snapshot_compose().
 */
spiffe_jwt_bundles_t *spiffe_jwt_bundles_compose(
    const spiffe_jwt_bundles_t *base, const spiffe_jwt_bundle_t *extra,
    size_t nextra, const char **err);

spiffe_jwt_bundles_t *spiffe_jwt_bundles_ref(spiffe_jwt_bundles_t *set);
void spiffe_jwt_bundles_unref(spiffe_jwt_bundles_t *set);

/* the bundle of a trust domain (without "spiffe://"), or NULL */
spiffe_jwks_t *spiffe_jwt_bundles_find(const spiffe_jwt_bundles_t *set,
    const char *td, size_t td_len);

/* in the order of trust domain names, shortest first */
size_t spiffe_jwt_bundles_count(const spiffe_jwt_bundles_t *set);
const spiffe_jwt_bundle_t *spiffe_jwt_bundles_get(
    const spiffe_jwt_bundles_t *set, size_t i);


#endif /* _SPIFFE_JWKS_H_INCLUDED_ */
