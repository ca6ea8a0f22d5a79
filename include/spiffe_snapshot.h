
/*
 * Copyright (C) ngx_spiffe developers
 */


#ifndef _SPIFFE_SNAPSHOT_H_INCLUDED_
#define _SPIFFE_SNAPSHOT_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <spiffe_err.h>
#include <spiffe_tdset.h>


/*
 * An identity snapshot: our SVID, the X.509 bundles by trust domain (one
 * X509_STORE each) and the CRLs.  It is immutable once created and freed
 * when its last reference goes; the counter is not atomic, a snapshot
 * belongs to one thread.
 */

#define SPIFFE_DIGEST_LEN  32


typedef struct spiffe_snapshot_s  spiffe_snapshot_t;


/* an element of a set keyed by trust domain (spiffe_tdset.h) */

typedef struct {
    const char                      *td;        /* without "spiffe://" */
    size_t                           td_len;
    STACK_OF(X509)                  *certs;     /* non-CAs are skipped */
} spiffe_snapshot_bundle_t;


/* an SVID of the workload, told apart from others by its hint or ID */

typedef struct {
    X509                            *leaf;
    STACK_OF(X509)                  *chain;     /* intermediates, or NULL */
    EVP_PKEY                        *key;
    const char                      *hint;
    size_t                           hint_len;
} spiffe_snapshot_other_t;


/*
 * what a snapshot is made of; create() takes its own references.  An
 * other SVID that fails the checks of the first is left out: looking for
 * it finds nothing.  empty names trust domains without an X.509
 * authority, for spiffe_snapshot_no_x509().
 */

typedef struct {
    spiffe_snapshot_other_t          own;       /* the snapshot's SVID */
    const spiffe_snapshot_other_t   *others;
    size_t                           nothers;
    const spiffe_snapshot_bundle_t  *bundles;
    size_t                           nbundles;
    const spiffe_td_key_t           *empty;
    size_t                           nempty;
    STACK_OF(X509_CRL)              *crls;      /* or NULL */
    uint64_t                         version;
} spiffe_snapshot_parts_t;


/* the snapshot's SVID, valid as long as the snapshot */

typedef struct {
    const char                      *id;        /* NUL-terminated */
    size_t                           id_len;
    X509                            *leaf;
    STACK_OF(X509)                  *chain;     /* without the leaf */
    EVP_PKEY                        *key;
    time_t                           not_after;
    const char                      *serial;    /* lowercase hex */
    const char                      *hint;      /* NUL-terminated */
    size_t                           hint_len;
} spiffe_snapshot_svid_t;


/*
 * Constructors return NULL with *err set to a short static reason; the
 * own SVID is checked with spiffe_x509_svid_check() against the bundle of
 * its trust domain when there is one.
 */

spiffe_snapshot_t *spiffe_snapshot_create(
    const spiffe_snapshot_parts_t *parts, time_t now, const char **err);

/*
 * The trust domains that the parts named without an X.509 authority (as
 * SPIRE's agent sends an empty federated bundle for a JWT-only or fully
 * revoked domain): "td, td" in their order, or "".
 */
const char *spiffe_snapshot_no_x509(const spiffe_snapshot_t *snap);

/* frees what a caller took references to for create(): all of parts */
void spiffe_snapshot_parts_free(const spiffe_snapshot_parts_t *parts);

/* an SVID from files: PEM texts, the CRLs optional (crl_len 0) */

typedef struct {
    const char                      *cert;      /* leaf, then chain */
    size_t                           cert_len;
    const char                      *key;       /* PKCS#8 */
    size_t                           key_len;
    const char                      *bundle;    /* its trust domain's */
    size_t                           bundle_len;
    const char                      *crl;
    size_t                           crl_len;
} spiffe_snapshot_pem_t;

/* which text *part names, on failure */
#define SPIFFE_PEM_SET      -1
#define SPIFFE_PEM_CERT     0
#define SPIFFE_PEM_KEY      1
#define SPIFFE_PEM_BUNDLE   2
#define SPIFFE_PEM_CRL      3

spiffe_snapshot_t *spiffe_snapshot_from_pem(const spiffe_snapshot_pem_t *pem,
    uint64_t version, time_t now, int *part, const char **err);

/*
 * The SVID and CRLs of base with its bundles and those of extra, where a
 * trust domain of extra replaces base's: configured bundles win over what
 * a source gives.  A bundle of extra without a CA certificate leaves its
 * trust domain with no bundle, so untrusted.
 */
spiffe_snapshot_t *spiffe_snapshot_compose(const spiffe_snapshot_t *base,
    const spiffe_snapshot_bundle_t *extra, size_t nextra, uint64_t version,
    time_t now, const char **err);

spiffe_snapshot_t *spiffe_snapshot_ref(spiffe_snapshot_t *snap);
void spiffe_snapshot_unref(spiffe_snapshot_t *snap);

const spiffe_snapshot_svid_t *spiffe_snapshot_svid(
    const spiffe_snapshot_t *snap);

/* the first SVID (the snapshot's own one first) with this hint, or ID */
#define SPIFFE_SNAPSHOT_BY_HINT  0
#define SPIFFE_SNAPSHOT_BY_ID    1

const spiffe_snapshot_svid_t *spiffe_snapshot_find_svid(
    const spiffe_snapshot_t *snap, int by, const char *value, size_t len);
uint64_t spiffe_snapshot_version(const spiffe_snapshot_t *snap);

/* the store of a trust domain, or NULL; td is without "spiffe://" */
X509_STORE *spiffe_snapshot_store(const spiffe_snapshot_t *snap,
    const char *td, size_t td_len);

/*
 * A peer's X.509-SVID: the leaf rules, the chain against the bundle of
 * the peer's own trust domain at the time now, then the CRLs.  untrusted
 * is the chain the peer sent, with or without the leaf.  Returns SPIFFE_OK
 * with the peer's ID in id_buf (SPIFFE_ID_MAX_LEN + 1 bytes), or the
 * reason's code with *reason its text and *id_len 0.
 */
spiffe_err_t spiffe_snapshot_verify_peer(const spiffe_snapshot_t *snap,
    X509 *leaf, STACK_OF(X509) *untrusted, time_t now, char *id_buf,
    size_t *id_len, const char **reason);

/* the CAs of a trust domain, or NULL; owned by the snapshot */
STACK_OF(X509) *spiffe_snapshot_cas(const spiffe_snapshot_t *snap,
    const char *td, size_t td_len);

/* the trust domains, in lookup order: name, and how many CAs it trusts */
size_t spiffe_snapshot_ntds(const spiffe_snapshot_t *snap);
const char *spiffe_snapshot_td(const spiffe_snapshot_t *snap, size_t i,
    size_t *len, size_t *ncas);

/*
 * A SHA-256 of what a trust domain trusts (its CAs and the CRLs), into
 * digest (SPIFFE_DIGEST_LEN bytes): equal digests, equal trust.  -1 when
 * the trust domain has no bundle.
 */
int spiffe_snapshot_td_digest(const spiffe_snapshot_t *snap, const char *td,
    size_t td_len, unsigned char *digest);


#endif /* _SPIFFE_SNAPSHOT_H_INCLUDED_ */
