/*
 * Copyright (C) ngx_spiffe developers
 */


/*
 * X.509 loaders, the leaf rules and identity snapshots.  The first byte
 * picks what the rest is:
 *
 *   0  DER certificates      spiffe_x509_parse_der_certs(), then
 *   1  PEM certificates      spiffe_x509_svid_check() without a key,
 *                            spiffe_x509_verify_chain() up to the last
 *                            one, and spiffe_x509_peer_id() and _is_ca()
 *                            for each
 *   2  PKCS#8 DER key        spiffe_x509_parse_der_key()
 *   3  PEM key               spiffe_x509_parse_pem_key()
 *   4  DER CRL               spiffe_x509_parse_der_crl()
 *   5  NOW(4) HINT_LEN(1) HINT X509SVIDResponse: decoded, then
 *      spiffe_workload_x509_snapshot(), and every SVID of the response
 *      verified as a peer against the snapshot
 *   6  NOW(4) PEM: the certificates (leaf, intermediates, and the last
 *      one as the bundle when there are two or more), the key and the
 *      CRLs (spiffe_x509_parse_pem_crls()) of one text, made into a
 *      snapshot with spiffe_snapshot_create()
 *   7  NOW(4) CERT NUL KEY NUL BUNDLE NUL CRL [NUL TD NUL TEXT]...: the
 *      files of spiffe_svid_dir through spiffe_snapshot_from_pem() (an
 *      empty CRL is no CRL file), then up to 8 configured trust domains,
 *      each TEXT through spiffe_bundle_parse() (none yet when it fails),
 *      joined to it with spiffe_snapshot_compose()
 *   8  TEXT: spiffe_bundle_parse()
 *
 * NOW is a big-endian time_t, so that inputs replay the same way later.
 * Properties: the error queue of OpenSSL is left empty, a peer ID is a
 * valid SPIFFE ID with a path, and a snapshot serves an SVID valid at NOW
 * whose ID is the one its response announced.  From files, the only trust
 * domain is the SVID's.  A composition keeps the SVID, trusts each
 * configured domain with a CA through its own CAs only, drops the others
 * that are configured and keeps the rest of the base; it may fail only
 * for a bad or repeated name or for the SVID's own domain.  A bundle is
 * JWKS when its first byte after JSON whitespace is "{", and then reads
 * as spiffe_jwks_parse() does, else as spiffe_x509_parse_pem_certs().
 */

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509.h>

#include <spiffe_id.h>
#include <spiffe_pb.h>
#include <spiffe_x509.h>
#include <spiffe_jwks.h>
#include <spiffe_snapshot.h>
#include <spiffe_workload.h>


#define FUZZ_CHECK(cond)                                                      \
    do {                                                                      \
        if (!(cond)) {                                                        \
            fprintf(stderr, "%s:%d: property failed: %s\n",                   \
                    __FILE__, __LINE__, #cond);                               \
            abort();                                                          \
        }                                                                     \
    } while (0)

/* "OpenSSL's error queue is left as it was found" (spiffe_x509.h) */

#define FUZZ_CHECK_ERR()                                                      \
    do {                                                                      \
        if (ERR_peek_error() != 0) {                                          \
            fprintf(stderr, "%s:%d: property failed: OpenSSL error queue "    \
                    "not empty:\n", __FILE__, __LINE__);                      \
            ERR_print_errors_fp(stderr);                                      \
            abort();                                                          \
        }                                                                     \
    } while (0)

#define FUZZ_NOW      1767225600        /* 2026-01-01, for modes 0 and 1 */
#define FUZZ_VERSION  7
#define FUZZ_MAX_TDS  8


static void
fuzz_check_peer_id(X509 *x)
{
    char          buf[SPIFFE_ID_MAX_LEN + 1];
    size_t        len;
    const char   *err;
    spiffe_id_t   id;

    memset(buf, 'x', sizeof(buf));
    err = NULL;

    if (spiffe_x509_peer_id(x, buf, &len, &err) != 0) {
        FUZZ_CHECK_ERR();
        FUZZ_CHECK(err != NULL);
        return;
    }

    FUZZ_CHECK_ERR();
    FUZZ_CHECK(len <= SPIFFE_ID_MAX_LEN);
    FUZZ_CHECK(buf[len] == '\0' && strlen(buf) == len);
    FUZZ_CHECK(spiffe_id_parse(buf, len, &id, &err) == 0);
    FUZZ_CHECK(id.path_len > 0);
}


static void
fuzz_certs(STACK_OF(X509) *certs)
{
    int              i, n;
    X509_STORE      *store;
    const char      *err;
    STACK_OF(X509)  *chain, *verified;

    n = sk_X509_num(certs);
    FUZZ_CHECK(n > 0);

    /*
     * First, while OpenSSL has not yet cached the extensions of the
     * certificates: no key, so the chain rules run, then the key does not
     * match.
     */

    chain = sk_X509_dup(certs);
    FUZZ_CHECK(chain != NULL);

    (void) sk_X509_shift(chain);

    FUZZ_CHECK(spiffe_x509_svid_check(sk_X509_value(certs, 0), chain, NULL,
                                      NULL, FUZZ_NOW, &err)
               == -1);
    FUZZ_CHECK_ERR();

    /* the last certificate as the trust anchor of the others */

    if (n >= 2) {
        store = X509_STORE_new();
        FUZZ_CHECK(store != NULL);
        FUZZ_CHECK(X509_STORE_add_cert(store, sk_X509_value(certs, n - 1))
                   == 1);
        ERR_clear_error();

        verified = NULL;

        if (spiffe_x509_verify_chain(store, sk_X509_value(certs, 0), chain,
                                     FUZZ_NOW, &verified, &err)
            == 0)
        {
            FUZZ_CHECK(sk_X509_num(verified) >= 1);
            FUZZ_CHECK(X509_cmp(sk_X509_value(verified, 0),
                                sk_X509_value(certs, 0))
                       == 0);
            spiffe_x509_free_certs(verified);

        } else {
            FUZZ_CHECK(err != NULL && verified == NULL);
        }

        FUZZ_CHECK_ERR();
        X509_STORE_free(store);
    }

    sk_X509_free(chain);

    for (i = 0; i < n; i++) {
        fuzz_check_peer_id(sk_X509_value(certs, i));

        (void) spiffe_x509_is_ca(sk_X509_value(certs, i));
        FUZZ_CHECK_ERR();
    }
}


static time_t
fuzz_time(const uint8_t *p)
{
    return (time_t) ((uint32_t) p[0] << 24 | (uint32_t) p[1] << 16
                     | (uint32_t) p[2] << 8 | p[3]);
}


/* what every snapshot must hold, and a peer check of its own SVID */

static void
fuzz_snapshot(spiffe_snapshot_t *snap, const char *id, size_t id_len,
    const char *hint, size_t hint_len, int bundle, time_t now)
{
    char                           buf[SPIFFE_ID_MAX_LEN + 1];
    size_t                         len, td_len;
    const char                    *p, *reason;
    spiffe_id_t                    parsed;
    unsigned char                  digest[SPIFFE_DIGEST_LEN];
    const spiffe_snapshot_svid_t  *svid;

    svid = spiffe_snapshot_svid(snap);

    FUZZ_CHECK(spiffe_snapshot_version(snap) == FUZZ_VERSION);
    FUZZ_CHECK(svid->leaf != NULL && svid->key != NULL);
    FUZZ_CHECK(svid->chain != NULL);
    FUZZ_CHECK(svid->id != NULL && strlen(svid->id) == svid->id_len);
    FUZZ_CHECK(spiffe_id_parse(svid->id, svid->id_len, &parsed, &reason)
               == 0);
    FUZZ_CHECK(parsed.path_len > 0);

    if (id != NULL) {
        FUZZ_CHECK(svid->id_len == id_len
                   && memcmp(svid->id, id, id_len) == 0);
    }

    FUZZ_CHECK(svid->hint != NULL && strlen(svid->hint) <= svid->hint_len);
    FUZZ_CHECK(svid->hint_len == hint_len
               && (hint_len == 0 || memcmp(svid->hint, hint, hint_len) == 0));

    /* never an expired SVID */

    FUZZ_CHECK(svid->not_after > now);

    FUZZ_CHECK(svid->serial != NULL && svid->serial[0] != '\0');

    for (p = svid->serial; *p != '\0'; p++) {
        FUZZ_CHECK((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')
                   || *p == '-');
    }

    td_len = parsed.td_len;

    FUZZ_CHECK((spiffe_snapshot_store(snap, parsed.td, td_len) != NULL)
               == bundle);
    FUZZ_CHECK((spiffe_snapshot_td_digest(snap, parsed.td, td_len, digest)
                == 0)
               == bundle);
    FUZZ_CHECK(spiffe_snapshot_store(snap, "", 0) == NULL);

    reason = NULL;

    if (spiffe_snapshot_verify_peer(snap, svid->leaf, svid->chain, now, buf,
                                    &len, &reason)
        == 0)
    {
        FUZZ_CHECK(len == svid->id_len && strcmp(buf, svid->id) == 0);

    } else {
        FUZZ_CHECK(reason != NULL && len == 0);
    }

    FUZZ_CHECK_ERR();

    spiffe_snapshot_unref(spiffe_snapshot_ref(snap));
}


static void
fuzz_peer(spiffe_snapshot_t *snap, const spiffe_bytes_t *der, time_t now)
{
    char             buf[SPIFFE_ID_MAX_LEN + 1];
    X509            *leaf;
    size_t           len;
    const char      *reason;
    STACK_OF(X509)  *certs;

    certs = spiffe_x509_parse_der_certs(der->data, der->len, &reason);
    FUZZ_CHECK_ERR();

    if (certs == NULL) {
        return;
    }

    leaf = sk_X509_shift(certs);

    if (spiffe_snapshot_verify_peer(snap, leaf, certs, now, buf, &len,
                                    &reason)
        == 0)
    {
        FUZZ_CHECK(len > 0 && len <= SPIFFE_ID_MAX_LEN && buf[len] == '\0');

    } else {
        FUZZ_CHECK(reason != NULL && len == 0);
    }

    FUZZ_CHECK_ERR();

    X509_free(leaf);
    spiffe_x509_free_certs(certs);
}


static void
fuzz_resp(const uint8_t *data, size_t size)
{
    size_t                        i, hint_len;
    time_t                        now;
    const char                   *err, *hint;
    spiffe_snapshot_t            *snap;
    const spiffe_pb_x509_svid_t  *svid;
    spiffe_pb_x509_svid_resp_t    resp;

    if (size < 5) {
        return;
    }

    now = fuzz_time(data);
    hint_len = data[4];

    data += 5;
    size -= 5;

    if (size < hint_len) {
        return;
    }

    hint = (const char *) data;

    if (spiffe_pb_decode_x509_svid_resp(data + hint_len, size - hint_len,
                                        &resp, &err)
        != 0)
    {
        return;
    }

    err = NULL;
    snap = spiffe_workload_x509_snapshot(&resp, hint, hint_len, FUZZ_VERSION,
                                         now, &err);
    FUZZ_CHECK_ERR();

    if (snap == NULL) {
        FUZZ_CHECK(err != NULL);
        spiffe_pb_free_x509_svid_resp(&resp);
        return;
    }

    svid = &resp.svids[0];

    for (i = 0; hint_len != 0 && i < resp.nsvids; i++) {
        svid = &resp.svids[i];

        if (svid->hint.len == hint_len
            && memcmp(svid->hint.data, hint, hint_len) == 0)
        {
            break;
        }
    }

    fuzz_snapshot(snap, (const char *) svid->spiffe_id.data,
                  svid->spiffe_id.len, (const char *) svid->hint.data,
                  svid->hint.len, 1, now);

    for (i = 0; i < resp.nsvids; i++) {
        fuzz_peer(snap, &resp.svids[i].x509_svid, now);
    }

    spiffe_snapshot_unref(snap);
    spiffe_pb_free_x509_svid_resp(&resp);
}


static void
fuzz_dir(const uint8_t *data, size_t size)
{
    int                        i, n;
    char                       id[SPIFFE_ID_MAX_LEN + 1];
    size_t                     len;
    time_t                     now;
    EVP_PKEY                  *key;
    const char                *err;
    spiffe_id_t                parsed;
    STACK_OF(X509)            *certs, *chain, *ca;
    STACK_OF(X509_CRL)        *crls;
    spiffe_snapshot_t         *snap;
    spiffe_snapshot_parts_t    parts;
    spiffe_snapshot_bundle_t   bundle;

    if (size < 4) {
        return;
    }

    now = fuzz_time(data);

    data += 4;
    size -= 4;

    certs = spiffe_x509_parse_pem_certs((const char *) data, size, &err);
    FUZZ_CHECK_ERR();

    key = spiffe_x509_parse_pem_key((const char *) data, size, &err);
    FUZZ_CHECK_ERR();

    if (certs == NULL || key == NULL) {
        spiffe_x509_free_certs(certs);
        EVP_PKEY_free(key);
        return;
    }

    crls = spiffe_x509_parse_pem_crls((const char *) data, size, &err);
    FUZZ_CHECK_ERR();
    FUZZ_CHECK(crls == NULL || sk_X509_CRL_num(crls) > 0);

    n = sk_X509_num(certs);

    chain = sk_X509_new_null();
    ca = sk_X509_new_null();
    FUZZ_CHECK(chain != NULL && ca != NULL);

    FUZZ_CHECK(n < 2 || sk_X509_push(ca, sk_X509_value(certs, n - 1)) > 0);

    for (i = 1; i < n - 1; i++) {
        FUZZ_CHECK(sk_X509_push(chain, sk_X509_value(certs, i)) > 0);
    }

    (void) spiffe_x509_svid_check(sk_X509_value(certs, 0), chain, key, NULL,
                                  now, &err);
    FUZZ_CHECK_ERR();

    /* the bundle belongs to the leaf's trust domain, or to example.org */

    bundle.td = "example.org";
    bundle.td_len = sizeof("example.org") - 1;
    bundle.certs = ca;

    if (spiffe_x509_peer_id(sk_X509_value(certs, 0), id, &len, &err) == 0) {
        FUZZ_CHECK(spiffe_id_parse(id, len, &parsed, &err) == 0);
        bundle.td = parsed.td;
        bundle.td_len = parsed.td_len;
    }

    FUZZ_CHECK_ERR();

    memset(&parts, 0, sizeof(parts));
    parts.own.leaf = sk_X509_value(certs, 0);
    parts.own.chain = chain;
    parts.own.key = key;
    parts.own.hint = "dir";
    parts.own.hint_len = 3;
    parts.bundles = &bundle;
    parts.nbundles = (n >= 2) ? 1 : 0;
    parts.crls = crls;
    parts.version = FUZZ_VERSION;

    err = NULL;
    snap = spiffe_snapshot_create(&parts, now, &err);
    FUZZ_CHECK_ERR();

    if (snap != NULL) {
        fuzz_snapshot(snap, NULL, 0, "dir", 3, n >= 2, now);
        spiffe_snapshot_unref(snap);

    } else {
        FUZZ_CHECK(err != NULL);
    }

    sk_X509_free(chain);
    sk_X509_free(ca);
    sk_X509_CRL_pop_free(crls, X509_CRL_free);
    spiffe_x509_free_certs(certs);
    EVP_PKEY_free(key);
}


/* the next field of a NUL-separated input; *p is NULL after the last */

static int
fuzz_next(const char **p, size_t *left, const char **field, size_t *len)
{
    const char  *nul;

    if (*p == NULL) {
        return -1;
    }

    *field = *p;
    nul = memchr(*p, '\0', *left);

    if (nul == NULL) {
        *len = *left;
        *p = NULL;
        return 0;
    }

    *len = nul - *p;
    *left -= *len + 1;
    *p = nul + 1;

    return 0;
}


static size_t
fuzz_ncas(STACK_OF(X509) *certs)
{
    int     i;
    size_t  n;

    n = 0;

    for (i = 0; i < sk_X509_num(certs); i++) {
        n += spiffe_x509_is_ca(sk_X509_value(certs, i));
    }

    FUZZ_CHECK_ERR();

    return n;
}


static int
fuzz_same(const char *a, size_t alen, const char *b, size_t blen)
{
    return alen == blen && memcmp(a, b, alen) == 0;
}


/*
 * The same certificates, in the same order; both NULL is the same.
 * X509_cmp() caches extensions: one that does not decode queues an error,
 * the target's own.
 */

static void
fuzz_same_certs(STACK_OF(X509) *a, STACK_OF(X509) *b)
{
    int  i;

    FUZZ_CHECK(sk_X509_num(a) == sk_X509_num(b));

    ERR_set_mark();

    for (i = 0; i < sk_X509_num(a); i++) {
        FUZZ_CHECK(X509_cmp(sk_X509_value(a, i), sk_X509_value(b, i)) == 0);
    }

    ERR_pop_to_mark();
}


static void
fuzz_bundle(const char *text, size_t len)
{
    int              i, rc;
    size_t           ws;
    const char      *err, *ref_err;
    spiffe_jwks_t   *jwks, *ref_jwks;
    STACK_OF(X509)  *certs, *ref;

    for (ws = 0; ws < len && memchr(" \t\r\n", text[ws], 4) != NULL; ws++) {
        /* void */
    }

    err = NULL;
    rc = spiffe_bundle_parse(text, len, &certs, &jwks, &err);
    FUZZ_CHECK_ERR();
    FUZZ_CHECK((rc == 0) == (certs != NULL));
    FUZZ_CHECK(rc == 0 || (jwks == NULL && err != NULL));

    ref_err = NULL;

    if (ws < len && text[ws] == '{') {
        ref_jwks = spiffe_jwks_parse(text, len, &ref_err);
        FUZZ_CHECK_ERR();
        FUZZ_CHECK((ref_jwks != NULL) == (rc == 0));
        FUZZ_CHECK((jwks != NULL) == (rc == 0));

        ref = (ref_jwks != NULL) ? spiffe_jwks_x509_authorities(ref_jwks)
                                 : NULL;
        fuzz_same_certs(certs, ref);
        spiffe_jwks_unref(ref_jwks);

    } else {
        FUZZ_CHECK(jwks == NULL);

        ref = spiffe_x509_parse_pem_certs(text, len, &ref_err);
        FUZZ_CHECK_ERR();
        FUZZ_CHECK((ref != NULL) == (rc == 0));
        fuzz_same_certs(certs, ref);
        spiffe_x509_free_certs(ref);
    }

    FUZZ_CHECK(rc == 0 || strcmp(err, ref_err) == 0);

    if (jwks != NULL) {
        ref = spiffe_jwks_x509_authorities(jwks);
        FUZZ_CHECK(certs != ref && sk_X509_num(certs) == sk_X509_num(ref));

        for (i = 0; i < sk_X509_num(ref); i++) {
            FUZZ_CHECK(sk_X509_value(certs, i) == sk_X509_value(ref, i));
        }
    }

    spiffe_jwks_unref(jwks);
    spiffe_x509_free_certs(certs);
    FUZZ_CHECK_ERR();
}


static void
fuzz_compose(spiffe_snapshot_t *base, const spiffe_snapshot_bundle_t *extra,
    size_t n, time_t now)
{
    int                            fine, named;
    size_t                         i, k, len, ncas, base_ncas, ntds;
    size_t                         cas[FUZZ_MAX_TDS];
    const char                    *err, *name;
    spiffe_id_t                    id;
    unsigned char                  d1[SPIFFE_DIGEST_LEN];
    unsigned char                  d2[SPIFFE_DIGEST_LEN];
    STACK_OF(X509)                *sk;
    spiffe_snapshot_t             *snap;
    const spiffe_snapshot_svid_t  *svid, *bsvid;

    bsvid = spiffe_snapshot_svid(base);
    FUZZ_CHECK(spiffe_id_parse(bsvid->id, bsvid->id_len, &id, &err) == 0);

    /* the refusals allowed: a bad or repeated name, the SVID's domain */

    fine = 1;

    for (k = 0; k < n; k++) {
        cas[k] = fuzz_ncas(extra[k].certs);

        if (cas[k] == 0) {
            continue;
        }

        if (spiffe_td_parse(extra[k].td, extra[k].td_len, &err) != 0
            || fuzz_same(extra[k].td, extra[k].td_len, id.td, id.td_len))
        {
            fine = 0;
        }

        for (i = 0; i < k; i++) {
            if (cas[i] != 0
                && fuzz_same(extra[k].td, extra[k].td_len, extra[i].td,
                             extra[i].td_len))
            {
                fine = 0;
            }
        }
    }

    err = NULL;
    snap = spiffe_snapshot_compose(base, extra, n, FUZZ_VERSION, now, &err);
    FUZZ_CHECK_ERR();

    if (snap == NULL) {
        FUZZ_CHECK(err != NULL && !fine);
        return;
    }

    svid = spiffe_snapshot_svid(snap);
    FUZZ_CHECK(svid->leaf == bsvid->leaf && svid->key == bsvid->key);
    FUZZ_CHECK(strcmp(svid->id, bsvid->id) == 0);

    /* each domain: configured with CAs, or the base's and not configured */

    ntds = 0;

    for (k = 0; k < n; k++) {
        ntds += (cas[k] != 0);
    }

    for (i = 0; i < spiffe_snapshot_ntds(base); i++) {
        name = spiffe_snapshot_td(base, i, &len, &ncas);

        for (k = 0; k < n; k++) {
            if (fuzz_same(name, len, extra[k].td, extra[k].td_len)) {
                break;
            }
        }

        ntds += (k == n);
    }

    FUZZ_CHECK(spiffe_snapshot_ntds(snap) == ntds);

    for (i = 0; i < ntds; i++) {
        name = spiffe_snapshot_td(snap, i, &len, &ncas);
        sk = spiffe_snapshot_cas(snap, name, len);
        FUZZ_CHECK(sk != NULL && (size_t) sk_X509_num(sk) == ncas);

        named = 0;

        for (k = 0; k < n; k++) {
            if (!fuzz_same(name, len, extra[k].td, extra[k].td_len)) {
                continue;
            }

            named = 1;

            if (cas[k] != 0) {
                FUZZ_CHECK(ncas == cas[k]);
                break;
            }
        }

        if (named) {
            FUZZ_CHECK(k < n);
            continue;
        }

        FUZZ_CHECK(spiffe_snapshot_cas(base, name, len) != NULL);
        base_ncas = sk_X509_num(spiffe_snapshot_cas(base, name, len));
        FUZZ_CHECK(ncas == base_ncas);
        FUZZ_CHECK(spiffe_snapshot_td_digest(base, name, len, d1) == 0
                   && spiffe_snapshot_td_digest(snap, name, len, d2) == 0
                   && memcmp(d1, d2, SPIFFE_DIGEST_LEN) == 0);
    }

    fuzz_snapshot(snap, bsvid->id, bsvid->id_len, bsvid->hint,
                  bsvid->hint_len,
                  spiffe_snapshot_cas(snap, id.td, id.td_len) != NULL, now);

    spiffe_snapshot_unref(snap);
}


static void
fuzz_files(const uint8_t *data, size_t size)
{
    int                        part;
    size_t                     i, n, len, ncas, left;
    time_t                     now;
    const char                *p, *err, *td, *text;
    spiffe_id_t                id;
    spiffe_jwks_t             *jwks;
    STACK_OF(X509)            *cas;
    spiffe_snapshot_t         *snap;
    spiffe_snapshot_pem_t      pem;
    spiffe_snapshot_bundle_t   extra[FUZZ_MAX_TDS];

    if (size < 4) {
        return;
    }

    now = fuzz_time(data);
    p = (const char *) data + 4;
    left = size - 4;

    if (fuzz_next(&p, &left, &pem.cert, &pem.cert_len) != 0
        || fuzz_next(&p, &left, &pem.key, &pem.key_len) != 0
        || fuzz_next(&p, &left, &pem.bundle, &pem.bundle_len) != 0
        || fuzz_next(&p, &left, &pem.crl, &pem.crl_len) != 0)
    {
        return;
    }

    err = NULL;
    snap = spiffe_snapshot_from_pem(&pem, FUZZ_VERSION, now, &part, &err);
    FUZZ_CHECK_ERR();

    if (snap == NULL) {
        FUZZ_CHECK(err != NULL);
        return;
    }

    fuzz_snapshot(snap, NULL, 0, "", 0, 1, now);

    /* one trust domain, the SVID's, and CAs only */

    FUZZ_CHECK(spiffe_id_parse(spiffe_snapshot_svid(snap)->id,
                               spiffe_snapshot_svid(snap)->id_len, &id, &err)
               == 0);
    FUZZ_CHECK(spiffe_snapshot_ntds(snap) == 1);

    td = spiffe_snapshot_td(snap, 0, &len, &ncas);
    FUZZ_CHECK(fuzz_same(td, len, id.td, id.td_len));

    cas = spiffe_snapshot_cas(snap, id.td, id.td_len);
    FUZZ_CHECK(ncas > 0 && fuzz_ncas(cas) == ncas);

    /* the configured trust domains; a bundle that fails is none yet */

    n = 0;

    while (n < FUZZ_MAX_TDS
           && fuzz_next(&p, &left, &extra[n].td, &extra[n].td_len) == 0
           && fuzz_next(&p, &left, &text, &len) == 0)
    {
        if (spiffe_bundle_parse(text, len, &extra[n].certs, &jwks, &err)
            == 0)
        {
            spiffe_jwks_unref(jwks);
        }

        FUZZ_CHECK_ERR();
        n++;
    }

    if (n != 0) {
        fuzz_compose(snap, extra, n, now);
    }

    for (i = 0; i < n; i++) {
        spiffe_x509_free_certs(extra[i].certs);
    }

    spiffe_snapshot_unref(snap);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    X509_CRL        *crl;
    EVP_PKEY        *key;
    const char      *err;
    const uint8_t   *p;
    STACK_OF(X509)  *certs;

    if (size == 0) {
        return 0;
    }

    ERR_clear_error();

    p = data + 1;
    size--;
    err = NULL;

    switch (data[0] % 9) {

    case 0:
    case 1:
        certs = (data[0] % 9 == 0)
                ? spiffe_x509_parse_der_certs(p, size, &err)
                : spiffe_x509_parse_pem_certs((const char *) p, size, &err);
        FUZZ_CHECK_ERR();

        if (certs == NULL) {
            FUZZ_CHECK(err != NULL);
            break;
        }

        fuzz_certs(certs);
        spiffe_x509_free_certs(certs);
        break;

    case 2:
    case 3:
        key = (data[0] % 9 == 2)
              ? spiffe_x509_parse_der_key(p, size, &err)
              : spiffe_x509_parse_pem_key((const char *) p, size, &err);
        FUZZ_CHECK_ERR();
        FUZZ_CHECK(key != NULL || err != NULL);

        EVP_PKEY_free(key);
        break;

    case 4:
        crl = spiffe_x509_parse_der_crl(p, size, &err);
        FUZZ_CHECK_ERR();
        FUZZ_CHECK(crl != NULL || err != NULL);

        X509_CRL_free(crl);
        break;

    case 5:
        fuzz_resp(p, size);
        break;

    case 6:
        fuzz_dir(p, size);
        break;

    case 7:
        fuzz_files(p, size);
        break;

    default:
        fuzz_bundle((const char *) p, size);
        break;
    }

    FUZZ_CHECK_ERR();

    return 0;
}
