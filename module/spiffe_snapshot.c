
/*
 * Copyright (C) ngx_spiffe developers
 */


#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/err.h>

#include <spiffe_id.h>
#include <spiffe_x509.h>
#include <spiffe_tdset.h>
#include <spiffe_snapshot.h>


/* first the name: an element of a set keyed by trust domain */

typedef struct {
    spiffe_td_key_t          name;
    STACK_OF(X509)          *cas;
    X509_STORE              *store;
    unsigned char            digest[SPIFFE_DIGEST_LEN];
} spiffe_snapshot_td_t;


typedef struct {
    X509_CRL                *crl;
    X509                    *ca;        /* the bundle CA that signed it */
} spiffe_snapshot_crl_t;


/* an SVID of the workload and the strings it owns */

typedef struct {
    spiffe_snapshot_svid_t   svid;
    char                    *id;
    char                    *serial;
    char                    *hint;
} spiffe_snapshot_own_t;


struct spiffe_snapshot_s {
    unsigned                 refs;
    uint64_t                 version;
    spiffe_snapshot_own_t   *svids;     /* the snapshot's own one first */
    size_t                   nsvids;
    spiffe_snapshot_td_t    *tds;       /* sorted by name */
    size_t                   ntds;
    spiffe_snapshot_crl_t   *crls;
    size_t                   ncrls;
    char                    *no_x509;   /* "td, td", NULL when none */
};


static int spiffe_snapshot_add_bundles(spiffe_snapshot_t *snap,
    const spiffe_snapshot_bundle_t *bundles, size_t n, const char **err);
static int spiffe_snapshot_add_crls(spiffe_snapshot_t *snap,
    STACK_OF(X509_CRL) *crls, const char **err);
static int spiffe_snapshot_add_svids(spiffe_snapshot_t *snap,
    const spiffe_snapshot_parts_t *parts, time_t now, const char **err);
static int spiffe_snapshot_set_no_x509(spiffe_snapshot_t *snap,
    const spiffe_td_key_t *empty, size_t n, const char **err);
static int spiffe_snapshot_add_svid(spiffe_snapshot_t *snap,
    spiffe_snapshot_own_t *own, const spiffe_snapshot_other_t *in,
    time_t now, const char **err);
static void spiffe_snapshot_own_free(spiffe_snapshot_own_t *own);
static int spiffe_snapshot_digests(spiffe_snapshot_t *snap,
    const char **err);
static int spiffe_snapshot_digest_der(EVP_MD_CTX *md, void *obj,
    int (*i2d)(void *, unsigned char **));
static char *spiffe_snapshot_serial(X509 *x);
static int spiffe_snapshot_time(const ASN1_TIME *t, time_t *out);
static spiffe_err_t spiffe_snapshot_check_crls(
    const spiffe_snapshot_t *snap, STACK_OF(X509) *chain,
    const char **reason);
static const spiffe_snapshot_td_t *spiffe_snapshot_find(
    const spiffe_snapshot_t *snap, const char *td, size_t td_len);
static void spiffe_snapshot_other_free(const spiffe_snapshot_other_t *svid);
static void spiffe_snapshot_free(spiffe_snapshot_t *snap);


spiffe_snapshot_t *
spiffe_snapshot_create(const spiffe_snapshot_parts_t *parts, time_t now,
    const char **err)
{
    spiffe_snapshot_t  *snap;

    if (parts->own.leaf == NULL || parts->own.key == NULL) {
        *err = "no SVID";
        return NULL;
    }

    snap = calloc(1, sizeof(spiffe_snapshot_t));
    if (snap == NULL) {
        *err = "out of memory";
        return NULL;
    }

    snap->refs = 1;
    snap->version = parts->version;

    ERR_set_mark();

    /* the SVID last: it is checked against the bundle of its domain */

    if (spiffe_snapshot_add_bundles(snap, parts->bundles, parts->nbundles,
                                    err)
        != 0
        || spiffe_snapshot_add_crls(snap, parts->crls, err) != 0
        || spiffe_snapshot_digests(snap, err) != 0
        || spiffe_snapshot_add_svids(snap, parts, now, err) != 0
        || spiffe_snapshot_set_no_x509(snap, parts->empty, parts->nempty, err)
           != 0)
    {
        ERR_pop_to_mark();
        spiffe_snapshot_free(snap);
        return NULL;
    }

    ERR_pop_to_mark();

    return snap;
}


spiffe_snapshot_t *
spiffe_snapshot_from_pem(const spiffe_snapshot_pem_t *pem, uint64_t version,
    time_t now, int *part, const char **err)
{
    char                       id[SPIFFE_ID_MAX_LEN + 1];
    size_t                     len;
    spiffe_id_t                parsed;
    spiffe_snapshot_t         *snap;
    spiffe_snapshot_parts_t    parts;
    spiffe_snapshot_bundle_t   bundle;

    snap = NULL;
    memset(&parts, 0, sizeof(spiffe_snapshot_parts_t));
    memset(&bundle, 0, sizeof(spiffe_snapshot_bundle_t));

    parts.bundles = &bundle;
    parts.nbundles = 1;

    *part = SPIFFE_PEM_CERT;

    parts.own.chain = spiffe_x509_parse_pem_certs(pem->cert, pem->cert_len,
                                                  err);
    if (parts.own.chain == NULL) {
        goto done;
    }

    parts.own.leaf = sk_X509_shift(parts.own.chain);

    if (spiffe_x509_peer_id(parts.own.leaf, id, &len, err) != 0) {
        goto done;
    }

    *part = SPIFFE_PEM_KEY;

    parts.own.key = spiffe_x509_parse_pem_key(pem->key, pem->key_len, err);
    if (parts.own.key == NULL) {
        goto done;
    }

    *part = SPIFFE_PEM_BUNDLE;

    /* spiffe_x509_peer_id() has checked the ID */

    (void) spiffe_id_parse(id, len, &parsed, err);

    bundle.td = parsed.td;
    bundle.td_len = parsed.td_len;
    bundle.certs = spiffe_x509_parse_pem_certs(pem->bundle, pem->bundle_len,
                                               err);
    if (bundle.certs == NULL) {
        goto done;
    }

    *part = SPIFFE_PEM_CRL;

    if (pem->crl_len != 0) {
        parts.crls = spiffe_x509_parse_pem_crls(pem->crl, pem->crl_len, err);
        if (parts.crls == NULL) {
            goto done;
        }
    }

    /* what is wrong now is the set: a key of another, a foreign chain */

    *part = SPIFFE_PEM_SET;

    parts.own.hint = "";
    parts.version = version;

    snap = spiffe_snapshot_create(&parts, now, err);

done:

    spiffe_snapshot_parts_free(&parts);

    return snap;
}


void
spiffe_snapshot_parts_free(const spiffe_snapshot_parts_t *parts)
{
    size_t  i;

    spiffe_snapshot_other_free(&parts->own);

    for (i = 0; i < parts->nothers; i++) {
        spiffe_snapshot_other_free(&parts->others[i]);
    }

    for (i = 0; i < parts->nbundles; i++) {
        spiffe_x509_free_certs(parts->bundles[i].certs);
    }

    sk_X509_CRL_pop_free(parts->crls, X509_CRL_free);
}


spiffe_snapshot_t *
spiffe_snapshot_compose(const spiffe_snapshot_t *base,
    const spiffe_snapshot_bundle_t *extra, size_t nextra, uint64_t version,
    time_t now, const char **err)
{
    int                            cas, j;
    size_t                         i, k, n;
    STACK_OF(X509_CRL)            *crls;
    spiffe_snapshot_t             *snap;
    spiffe_snapshot_other_t       *others;
    spiffe_snapshot_parts_t        parts;
    spiffe_snapshot_bundle_t      *bundles;
    const spiffe_snapshot_td_t    *td;
    const spiffe_snapshot_svid_t  *svid;

    bundles = calloc(base->ntds + nextra, sizeof(spiffe_snapshot_bundle_t));
    others = calloc(base->nsvids, sizeof(spiffe_snapshot_other_t));
    crls = sk_X509_CRL_new_null();

    if (bundles == NULL || others == NULL || crls == NULL) {
        free(bundles);
        free(others);
        sk_X509_CRL_free(crls);
        *err = "out of memory";
        return NULL;
    }

    /* the snapshot's own SVID first */

    for (i = 0; i < base->nsvids; i++) {
        svid = &base->svids[i].svid;
        others[i].leaf = svid->leaf;
        others[i].chain = svid->chain;
        others[i].key = svid->key;
        others[i].hint = svid->hint;
        others[i].hint_len = svid->hint_len;
    }

    n = 0;

    for (i = 0; i < base->ntds; i++) {
        td = &base->tds[i];

        if (spiffe_tdset_lfind(extra, nextra, sizeof(spiffe_snapshot_bundle_t),
                               td->name.td, td->name.td_len)
            == NULL)
        {
            bundles[n].td = td->name.td;
            bundles[n].td_len = td->name.td_len;
            bundles[n].certs = td->cas;
            n++;
        }
    }

    /* a configured bundle without a CA leaves its trust domain untrusted */

    for (k = 0; k < nextra; k++) {
        cas = 0;

        /* certs may be NULL: sk_X509_num() is -1 then */

        for (j = 0; j < sk_X509_num(extra[k].certs); j++) {
            cas += spiffe_x509_is_ca(sk_X509_value(extra[k].certs, j));
        }

        if (cas != 0) {
            bundles[n++] = extra[k];
        }
    }

    for (i = 0; i < base->ncrls; i++) {
        if (sk_X509_CRL_push(crls, base->crls[i].crl) == 0) {
            *err = "out of memory";
            snap = NULL;
            goto done;
        }
    }

    memset(&parts, 0, sizeof(spiffe_snapshot_parts_t));

    parts.own = others[0];
    parts.others = others + 1;
    parts.nothers = base->nsvids - 1;
    parts.bundles = bundles;
    parts.nbundles = n;
    parts.crls = crls;
    parts.version = version;

    snap = spiffe_snapshot_create(&parts, now, err);

done:

    free(bundles);
    free(others);
    sk_X509_CRL_free(crls);

    return snap;
}


spiffe_snapshot_t *
spiffe_snapshot_ref(spiffe_snapshot_t *snap)
{
    snap->refs++;

    return snap;
}


void
spiffe_snapshot_unref(spiffe_snapshot_t *snap)
{
    if (snap == NULL) {
        return;
    }

    if (--snap->refs == 0) {
        spiffe_snapshot_free(snap);
    }
}


const spiffe_snapshot_svid_t *
spiffe_snapshot_svid(const spiffe_snapshot_t *snap)
{
    return &snap->svids[0].svid;
}


const spiffe_snapshot_svid_t *
spiffe_snapshot_find_svid(const spiffe_snapshot_t *snap, int by,
    const char *value, size_t len)
{
    size_t                         i;
    const spiffe_snapshot_svid_t  *svid;

    for (i = 0; i < snap->nsvids; i++) {
        svid = &snap->svids[i].svid;

        if (by == SPIFFE_SNAPSHOT_BY_ID
            ? (svid->id_len == len && memcmp(svid->id, value, len) == 0)
            : (svid->hint_len == len && memcmp(svid->hint, value, len) == 0))
        {
            return svid;
        }
    }

    return NULL;
}


uint64_t
spiffe_snapshot_version(const spiffe_snapshot_t *snap)
{
    return snap->version;
}


STACK_OF(X509) *
spiffe_snapshot_cas(const spiffe_snapshot_t *snap, const char *td,
    size_t td_len)
{
    const spiffe_snapshot_td_t  *t;

    t = spiffe_snapshot_find(snap, td, td_len);

    return t ? t->cas : NULL;
}


X509_STORE *
spiffe_snapshot_store(const spiffe_snapshot_t *snap, const char *td,
    size_t td_len)
{
    const spiffe_snapshot_td_t  *t;

    t = spiffe_snapshot_find(snap, td, td_len);

    return (t != NULL) ? t->store : NULL;
}


spiffe_err_t
spiffe_snapshot_verify_peer(const spiffe_snapshot_t *snap, X509 *leaf,
    STACK_OF(X509) *untrusted, time_t now, char *id_buf, size_t *id_len,
    const char **reason)
{
    size_t                       len;
    spiffe_id_t                  id;
    spiffe_err_t                 rc;
    STACK_OF(X509)              *chain;
    const spiffe_snapshot_td_t  *td;

    *id_len = 0;

    rc = spiffe_x509_peer_id(leaf, id_buf, &len, reason);
    if (rc != SPIFFE_OK) {
        return rc;
    }

    rc = spiffe_id_parse(id_buf, len, &id, reason);
    if (rc != SPIFFE_OK) {
        goto done;
    }

    td = spiffe_snapshot_find(snap, id.td, id.td_len);
    if (td == NULL) {
        rc = SPIFFE_ERR_NO_BUNDLE;
        *reason = spiffe_err_text(rc);
        goto done;
    }

    rc = spiffe_x509_verify_chain(td->store, leaf, untrusted, now, &chain,
                                  reason);
    if (rc != SPIFFE_OK) {
        goto done;
    }

    rc = spiffe_snapshot_check_crls(snap, chain, reason);

    spiffe_x509_free_certs(chain);

done:

    if (rc != SPIFFE_OK) {
        id_buf[0] = '\0';
        return rc;
    }

    *id_len = len;

    return SPIFFE_OK;
}


const char *
spiffe_snapshot_no_x509(const spiffe_snapshot_t *snap)
{
    return (snap->no_x509 != NULL) ? snap->no_x509 : "";
}


size_t
spiffe_snapshot_ntds(const spiffe_snapshot_t *snap)
{
    return snap->ntds;
}


const char *
spiffe_snapshot_td(const spiffe_snapshot_t *snap, size_t i, size_t *len,
    size_t *ncas)
{
    *len = snap->tds[i].name.td_len;
    *ncas = (size_t) sk_X509_num(snap->tds[i].cas);

    return snap->tds[i].name.td;
}


int
spiffe_snapshot_td_digest(const spiffe_snapshot_t *snap, const char *td,
    size_t td_len, unsigned char *digest)
{
    const spiffe_snapshot_td_t  *t;

    t = spiffe_snapshot_find(snap, td, td_len);
    if (t == NULL) {
        return -1;
    }

    memcpy(digest, t->digest, SPIFFE_DIGEST_LEN);

    return 0;
}


static int
spiffe_snapshot_add_bundles(spiffe_snapshot_t *snap,
    const spiffe_snapshot_bundle_t *bundles, size_t n, const char **err)
{
    int                    i;
    X509                  *x;
    char                  *name;
    size_t                 k;
    const char            *reason;
    spiffe_snapshot_td_t  *td;

    if (n == 0) {
        return 0;
    }

    snap->tds = calloc(n, sizeof(spiffe_snapshot_td_t));
    if (snap->tds == NULL) {
        *err = "out of memory";
        return -1;
    }

    for (k = 0; k < n; k++) {
        if (spiffe_td_parse(bundles[k].td, bundles[k].td_len, &reason) != 0) {
            *err = "bad trust domain name";
            return -1;
        }

        td = &snap->tds[snap->ntds++];

        name = malloc(bundles[k].td_len + 1);
        td->name.td = name;
        td->cas = sk_X509_new_null();
        td->store = X509_STORE_new();

        if (name == NULL || td->cas == NULL || td->store == NULL) {
            *err = "out of memory";
            return -1;
        }

        memcpy(name, bundles[k].td, bundles[k].td_len);
        name[bundles[k].td_len] = '\0';
        td->name.td_len = bundles[k].td_len;

        for (i = 0; i < sk_X509_num(bundles[k].certs); i++) {
            x = sk_X509_value(bundles[k].certs, i);

            if (!spiffe_x509_is_ca(x)) {
                continue;
            }

            if (sk_X509_push(td->cas, x) == 0) {
                *err = "out of memory";
                return -1;
            }

            X509_up_ref(x);

            if (X509_STORE_add_cert(td->store, x) != 1) {
                *err = "out of memory";
                return -1;
            }
        }

        if (sk_X509_num(td->cas) == 0) {
            *err = "bundle has no CA certificate";
            return -1;
        }
    }

    if (spiffe_tdset_sort(snap->tds, snap->ntds, sizeof(spiffe_snapshot_td_t))
        != 0)
    {
        *err = "duplicate trust domain";
        return -1;
    }

    return 0;
}


/* the names, in their order and once each, none with a bundle */

static int
spiffe_snapshot_set_no_x509(spiffe_snapshot_t *snap,
    const spiffe_td_key_t *empty, size_t n, const char **err)
{
    char    *p;
    size_t   i, size;

    if (n == 0) {
        return 0;
    }

    size = 0;

    for (i = 0; i < n; i++) {
        if (spiffe_snapshot_find(snap, empty[i].td, empty[i].td_len)
            != NULL)
        {
            *err = "duplicate trust domain";
            return -1;
        }

        size += empty[i].td_len + 2;
    }

    snap->no_x509 = malloc(size);
    if (snap->no_x509 == NULL) {
        *err = "out of memory";
        return -1;
    }

    p = snap->no_x509;

    for (i = 0; i < n; i++) {
        if (spiffe_tdset_lfind(empty, i, sizeof(spiffe_td_key_t), empty[i].td,
                               empty[i].td_len)
            != NULL)
        {
            continue;
        }

        if (p != snap->no_x509) {
            *p++ = ',';
            *p++ = ' ';
        }

        memcpy(p, empty[i].td, empty[i].td_len);
        p += empty[i].td_len;
    }

    *p = '\0';

    return 0;
}


static int
spiffe_snapshot_add_crls(spiffe_snapshot_t *snap, STACK_OF(X509_CRL) *crls,
    const char **err)
{
    int                     i, j, n;
    X509                   *ca;
    size_t                  k;
    EVP_PKEY               *pub;
    X509_CRL               *crl;
    spiffe_snapshot_crl_t  *c;

    n = sk_X509_CRL_num(crls);
    if (n <= 0) {
        return 0;
    }

    snap->crls = calloc(n, sizeof(spiffe_snapshot_crl_t));
    if (snap->crls == NULL) {
        *err = "out of memory";
        return -1;
    }

    for (i = 0; i < n; i++) {
        crl = sk_X509_CRL_value(crls, i);

        X509_CRL_up_ref(crl);

        c = &snap->crls[snap->ncrls++];
        c->crl = crl;

        /*
         * A CRL signed by a bundle CA is checked once here; others are
         * checked against the issuer found in the peer's chain.
         */

        for (k = 0; k < snap->ntds && c->ca == NULL; k++) {
            for (j = 0; j < sk_X509_num(snap->tds[k].cas); j++) {
                ca = sk_X509_value(snap->tds[k].cas, j);
                pub = X509_get0_pubkey(ca);

                if (pub != NULL
                    && X509_NAME_cmp(X509_CRL_get_issuer(crl),
                                     X509_get_subject_name(ca))
                       == 0
                    && X509_CRL_verify(crl, pub) == 1)
                {
                    c->ca = ca;
                    break;
                }
            }
        }
    }

    return 0;
}


/*
 * What a trust domain trusts, as one value that is the same in every
 * worker: its CAs and all CRLs (a CRL of an intermediate may concern it).
 */

static int
spiffe_snapshot_digests(spiffe_snapshot_t *snap, const char **err)
{
    int            i, rc;
    size_t         k, c;
    EVP_MD_CTX    *md;

    md = EVP_MD_CTX_new();
    if (md == NULL) {
        *err = "out of memory";
        return -1;
    }

    rc = 0;

    for (k = 0; k < snap->ntds && rc == 0; k++) {
        rc = (EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1) ? 0 : -1;

        for (i = 0; i < sk_X509_num(snap->tds[k].cas) && rc == 0; i++) {
            rc = spiffe_snapshot_digest_der(md,
                                            sk_X509_value(snap->tds[k].cas, i),
                                            (int (*)(void *, unsigned char **))
                                            i2d_X509);
        }

        for (c = 0; c < snap->ncrls && rc == 0; c++) {
            rc = spiffe_snapshot_digest_der(md, snap->crls[c].crl,
                                            (int (*)(void *, unsigned char **))
                                            i2d_X509_CRL);
        }

        if (rc == 0
            && EVP_DigestFinal_ex(md, snap->tds[k].digest, NULL) != 1)
        {
            rc = -1;
        }
    }

    EVP_MD_CTX_free(md);

    if (rc != 0) {
        *err = "cannot digest the bundles";
    }

    return rc;
}


static int
spiffe_snapshot_digest_der(EVP_MD_CTX *md, void *obj,
    int (*i2d)(void *, unsigned char **))
{
    int             len, rc;
    unsigned char  *der;

    der = NULL;

    len = i2d(obj, &der);
    if (len <= 0) {
        return -1;
    }

    rc = (EVP_DigestUpdate(md, der, len) == 1) ? 0 : -1;

    OPENSSL_free(der);

    return rc;
}


/*
 * The snapshot's own SVID, then the others that pass the same checks; the
 * bundles are in by now
 */

static int
spiffe_snapshot_add_svids(spiffe_snapshot_t *snap,
    const spiffe_snapshot_parts_t *parts, time_t now, const char **err)
{
    size_t       i;
    const char  *reason;

    snap->svids = calloc(1 + parts->nothers, sizeof(spiffe_snapshot_own_t));
    if (snap->svids == NULL) {
        *err = "out of memory";
        return -1;
    }

    snap->nsvids = 1;

    if (spiffe_snapshot_add_svid(snap, &snap->svids[0], &parts->own, now,
                                 err)
        != 0)
    {
        return -1;
    }

    for (i = 0; i < parts->nothers; i++) {
        if (parts->others[i].leaf == NULL || parts->others[i].key == NULL
            || spiffe_snapshot_add_svid(snap, &snap->svids[snap->nsvids],
                                        &parts->others[i], now, &reason)
               != 0)
        {
            spiffe_snapshot_own_free(&snap->svids[snap->nsvids]);
            memset(&snap->svids[snap->nsvids], 0,
                   sizeof(spiffe_snapshot_own_t));
            continue;
        }

        snap->nsvids++;
    }

    return 0;
}


static int
spiffe_snapshot_add_svid(spiffe_snapshot_t *snap, spiffe_snapshot_own_t *own,
    const spiffe_snapshot_other_t *in, time_t now, const char **err)
{
    char         id[SPIFFE_ID_MAX_LEN + 1];
    size_t       len;
    spiffe_id_t  parsed;
    X509_STORE  *store;

    if (spiffe_x509_peer_id(in->leaf, id, &len, err) != 0) {
        return -1;
    }

    (void) spiffe_id_parse(id, len, &parsed, err);

    store = spiffe_snapshot_store(snap, parsed.td, parsed.td_len);

    if (spiffe_x509_svid_check(in->leaf, in->chain, in->key, store, now,
                               err)
        != 0)
    {
        return -1;
    }

    if (spiffe_snapshot_time(X509_get0_notAfter(in->leaf),
                             &own->svid.not_after)
        != 0)
    {
        *err = "bad certificate validity";
        return -1;
    }

    own->id = malloc(len + 1);
    own->hint = malloc(in->hint_len + 1);
    own->serial = spiffe_snapshot_serial(in->leaf);
    own->svid.chain = (in->chain != NULL) ? X509_chain_up_ref(in->chain)
                                          : sk_X509_new_null();

    if (own->id == NULL || own->hint == NULL || own->serial == NULL
        || own->svid.chain == NULL)
    {
        *err = "out of memory";
        return -1;
    }

    memcpy(own->id, id, len + 1);

    if (in->hint_len != 0) {
        memcpy(own->hint, in->hint, in->hint_len);
    }

    own->hint[in->hint_len] = '\0';

    X509_up_ref(in->leaf);
    EVP_PKEY_up_ref(in->key);

    own->svid.id = own->id;
    own->svid.id_len = len;
    own->svid.leaf = in->leaf;
    own->svid.key = in->key;
    own->svid.serial = own->serial;
    own->svid.hint = own->hint;
    own->svid.hint_len = in->hint_len;

    return 0;
}


static void
spiffe_snapshot_own_free(spiffe_snapshot_own_t *own)
{
    X509_free(own->svid.leaf);
    spiffe_x509_free_certs(own->svid.chain);
    EVP_PKEY_free(own->svid.key);

    free(own->id);
    free(own->serial);
    free(own->hint);
}


static char *
spiffe_snapshot_serial(X509 *x)
{
    char    *hex, *p, *s;
    size_t   len;
    BIGNUM  *bn;

    s = NULL;

    bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
    if (bn == NULL) {
        return NULL;
    }

    hex = BN_bn2hex(bn);
    BN_free(bn);

    if (hex == NULL) {
        return NULL;
    }

    len = strlen(hex);

    s = malloc(len + 1);
    if (s != NULL) {
        for (p = hex; *p != '\0'; p++) {
            s[p - hex] = (*p >= 'A' && *p <= 'F') ? *p - 'A' + 'a' : *p;
        }

        s[len] = '\0';
    }

    OPENSSL_free(hex);

    return s;
}


static int
spiffe_snapshot_time(const ASN1_TIME *t, time_t *out)
{
    int         rc, days, secs;
    ASN1_TIME  *epoch;

    epoch = ASN1_TIME_set(NULL, 0);
    if (epoch == NULL) {
        return -1;
    }

    rc = ASN1_TIME_diff(&days, &secs, epoch, t);

    ASN1_TIME_free(epoch);

    if (rc != 1) {
        return -1;
    }

    *out = (time_t) days * 86400 + secs;

    return 0;
}


/*
 * Revocation is checked only where there is a CRL for the issuer, and a
 * CRL counts only if the issuer in the verified chain signed it: the
 * OpenSSL CRL flags would refuse every issuer without a CRL.
 */

static spiffe_err_t
spiffe_snapshot_check_crls(const spiffe_snapshot_t *snap,
    STACK_OF(X509) *chain, const char **reason)
{
    int                           i, n;
    spiffe_err_t                  rc;
    X509                         *x, *issuer;
    size_t                        k;
    EVP_PKEY                     *pub;
    X509_REVOKED                 *rev;
    const spiffe_snapshot_crl_t  *c;

    if (snap->ncrls == 0) {
        return SPIFFE_OK;
    }

    ERR_set_mark();

    rc = SPIFFE_OK;
    n = sk_X509_num(chain);

    for (i = 0; i + 1 < n; i++) {
        x = sk_X509_value(chain, i);
        issuer = sk_X509_value(chain, i + 1);

        for (k = 0; k < snap->ncrls; k++) {
            c = &snap->crls[k];

            if (X509_NAME_cmp(X509_CRL_get_issuer(c->crl),
                              X509_get_issuer_name(x))
                != 0)
            {
                continue;
            }

            if (c->ca == NULL || X509_cmp(c->ca, issuer) != 0) {
                pub = X509_get0_pubkey(issuer);

                if (pub == NULL || X509_CRL_verify(c->crl, pub) != 1) {
                    continue;
                }
            }

            if (X509_CRL_get0_by_cert(c->crl, &rev, x) == 1) {
                rc = SPIFFE_ERR_REVOKED;
                *reason = spiffe_err_text(rc);
                goto done;
            }
        }
    }

done:

    ERR_pop_to_mark();

    return rc;
}


static const spiffe_snapshot_td_t *
spiffe_snapshot_find(const spiffe_snapshot_t *snap, const char *td,
    size_t td_len)
{
    return spiffe_tdset_find(snap->tds, snap->ntds,
                             sizeof(spiffe_snapshot_td_t), td, td_len);
}


static void
spiffe_snapshot_other_free(const spiffe_snapshot_other_t *svid)
{
    X509_free(svid->leaf);
    spiffe_x509_free_certs(svid->chain);
    EVP_PKEY_free(svid->key);
}


static void
spiffe_snapshot_free(spiffe_snapshot_t *snap)
{
    size_t  k;

    for (k = 0; k < snap->ncrls; k++) {
        X509_CRL_free(snap->crls[k].crl);
    }

    for (k = 0; k < snap->ntds; k++) {
        free((char *) snap->tds[k].name.td);
        spiffe_x509_free_certs(snap->tds[k].cas);
        X509_STORE_free(snap->tds[k].store);
    }

    free(snap->crls);
    free(snap->tds);

    for (k = 0; k < snap->nsvids; k++) {
        spiffe_snapshot_own_free(&snap->svids[k]);
    }

    free(snap->svids);
    free(snap->no_x509);
    free(snap);
}
