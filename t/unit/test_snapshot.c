
/*
 * Copyright (C) ngx_spiffe developers
 */


#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <openssl/err.h>
#include <openssl/pem.h>

#include <spiffe_x509.h>
#include <spiffe_snapshot.h>

#include "certs.h"
#include "svid_msg.h"


static void
test_refcount(void **state)
{
    msg_t               m;
    env_t              *env;
    const char         *err;
    spiffe_snapshot_t  *snap, *ref;

    env = *state;
    msg_init(&m, env);

    snap = snap_of(&m, NULL, &err);
    assert_non_null(snap);

    /* the snapshot does not point into the message */

    msg_free(&m);

    ref = spiffe_snapshot_ref(snap);
    assert_ptr_equal(ref, snap);
    spiffe_snapshot_ref(snap);

    spiffe_snapshot_unref(snap);
    spiffe_snapshot_unref(snap);
    assert_string_equal(spiffe_snapshot_svid(ref)->id, OWN_ID);
    assert_int_equal(X509_cmp(spiffe_snapshot_svid(ref)->leaf, env->own), 0);

    spiffe_snapshot_unref(ref);
    spiffe_snapshot_unref(NULL);
}


static void
test_create(void **state)
{
    env_t                     *env;
    const char                *err;
    STACK_OF(X509)            *chain, *certs;
    spiffe_snapshot_t         *snap;
    spiffe_snapshot_parts_t    parts;
    spiffe_snapshot_bundle_t   bundle;

    env = *state;

    chain = sk_X509_new_null();
    certs = sk_X509_new_null();
    assert_non_null(chain);
    assert_non_null(certs);
    sk_X509_push(chain, env->inter);
    sk_X509_push(certs, env->root);

    /* no bundle at all: the SVID is checked without a chain to it */

    memset(&parts, 0, sizeof(spiffe_snapshot_parts_t));
    parts.own.leaf = env->own;
    parts.own.chain = chain;
    parts.own.key = env->leaf_key;

    snap = spiffe_snapshot_create(&parts, time(NULL), &err);
    assert_non_null(snap);
    assert_string_equal(spiffe_snapshot_svid(snap)->hint, "");
    assert_null(spiffe_snapshot_store(snap, "example.org", 11));
    spiffe_snapshot_unref(snap);

    parts.own.chain = NULL;
    parts.own.leaf = env->other;
    parts.own.key = env->other_key;

    snap = spiffe_snapshot_create(&parts, time(NULL), &err);
    assert_non_null(snap);
    assert_int_equal(sk_X509_num(spiffe_snapshot_svid(snap)->chain), 0);
    spiffe_snapshot_unref(snap);

    bundle.td = "Example.org";
    bundle.td_len = 11;
    bundle.certs = certs;
    parts.bundles = &bundle;
    parts.nbundles = 1;

    assert_null(spiffe_snapshot_create(&parts, time(NULL), &err));
    assert_string_equal(err, "bad trust domain name");

    bundle.td = "example.org";

    snap = spiffe_snapshot_create(&parts, time(NULL), &err);
    assert_non_null(snap);
    spiffe_snapshot_unref(snap);

    parts.own.leaf = NULL;
    assert_null(spiffe_snapshot_create(&parts, time(NULL), &err));
    assert_string_equal(err, "no SVID");

    sk_X509_free(chain);
    sk_X509_free(certs);
}


static void
test_verify_peer(void **state)
{
    char                buf[SPIFFE_ID_MAX_LEN + 1];
    X509               *x, *leaf;
    msg_t               m;
    env_t              *env;
    size_t              len;
    const char         *err;
    test_cert_t         c;
    STACK_OF(X509)     *sk;
    spiffe_snapshot_t  *snap;

    env = *state;
    msg_init(&m, env);

    snap = snap_of(&m, NULL, &err);
    assert_non_null(snap);
    msg_free(&m);

    sk = sk_X509_new_null();
    assert_non_null(sk);

    /* directly from the root, no chain sent */

    assert_int_equal(spiffe_snapshot_verify_peer(snap, env->other, NULL,
                                                 time(NULL), buf, &len, &err),
                     0);
    assert_string_equal(buf, OTHER_ID);
    assert_int_equal(len, strlen(OTHER_ID));

    /* via the intermediate, with and without the leaf in the chain */

    sk_X509_push(sk, env->inter);
    assert_int_equal(spiffe_snapshot_verify_peer(snap, env->own, sk,
                                                 time(NULL), buf, &len, &err),
                     0);
    assert_string_equal(buf, OWN_ID);

    sk_X509_unshift(sk, env->own);
    assert_int_equal(spiffe_snapshot_verify_peer(snap, env->own, sk,
                                                 time(NULL), buf, &len, &err),
                     0);
    assert_string_equal(buf, OWN_ID);

    /* the intermediate is not sent */

    assert_int_equal(spiffe_snapshot_verify_peer(snap, env->own, NULL,
                                                 time(NULL), buf, &len, &err),
                     SPIFFE_ERR_CHAIN);
    assert_string_equal(err, X509_verify_cert_error_string(
                                 X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY));
    assert_int_equal(len, 0);
    assert_string_equal(buf, "");

    /* a federated peer */

    leaf = leaf_with(env, "spiffe://" FED_TD "/api", 5, 0, 0, env->fed_root,
                     env->fed_key);
    assert_int_equal(spiffe_snapshot_verify_peer(snap, leaf, NULL,
                                                 time(NULL), buf, &len, &err),
                     0);
    assert_string_equal(buf, "spiffe://" FED_TD "/api");
    X509_free(leaf);

    /* across trust domains, both bundles present */

    leaf = leaf_with(env, "spiffe://" FED_TD "/api", 5, 0, 0, env->root,
                     env->root_key);
    assert_int_equal(spiffe_snapshot_verify_peer(snap, leaf, NULL,
                                                 time(NULL), buf, &len, &err),
                     SPIFFE_ERR_CHAIN);
    assert_string_equal(err, X509_verify_cert_error_string(
                                 X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY));
    X509_free(leaf);

    leaf = leaf_with(env, "spiffe://example.org/x", 5, 0, 0, env->fed_root,
                     env->fed_key);
    assert_int_equal(spiffe_snapshot_verify_peer(snap, leaf, NULL,
                                                 time(NULL), buf, &len, &err),
                     SPIFFE_ERR_CHAIN);
    assert_string_equal(err, X509_verify_cert_error_string(
                                 X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY));
    X509_free(leaf);

    /* an unknown trust domain */

    leaf = leaf_with(env, "spiffe://unknown.test/x", 5, 0, 0, env->root,
                     env->root_key);
    assert_int_equal(spiffe_snapshot_verify_peer(snap, leaf, NULL,
                                                 time(NULL), buf, &len, &err),
                     SPIFFE_ERR_NO_BUNDLE);
    assert_string_equal(err, "no bundle for trust domain");
    assert_int_equal(len, 0);
    X509_free(leaf);

    /* validity */

    leaf = leaf_with(env, "spiffe://example.org/x", 5, -7200, -60, env->root,
                     env->root_key);
    assert_int_equal(spiffe_snapshot_verify_peer(snap, leaf, NULL,
                                                 time(NULL), buf, &len, &err),
                     SPIFFE_ERR_EXPIRED);
    assert_string_equal(err, "certificate has expired");
    X509_free(leaf);

    leaf = leaf_with(env, "spiffe://example.org/x", 5, 600, 7200, env->root,
                     env->root_key);
    assert_int_equal(spiffe_snapshot_verify_peer(snap, leaf, NULL,
                                                 time(NULL), buf, &len, &err),
                     SPIFFE_ERR_NOT_YET_VALID);
    assert_string_equal(err, "certificate is not yet valid");
    assert_int_equal(spiffe_snapshot_verify_peer(snap, leaf, NULL,
                                                 time(NULL) + 1800, buf, &len,
                                                 &err),
                     0);
    X509_free(leaf);

    /* self-signed */

    leaf = leaf_with(env, "spiffe://example.org/x", 5, 0, 0, NULL, NULL);
    assert_int_equal(spiffe_snapshot_verify_peer(snap, leaf, NULL,
                                                 time(NULL), buf, &len, &err),
                     SPIFFE_ERR_CHAIN);
    assert_string_equal(err, X509_verify_cert_error_string(
                                 X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT));
    X509_free(leaf);

    /* an intermediate that is not a CA */

    memset(&c, 0, sizeof(test_cert_t));
    c.cn = "example.org intermediate";
    c.bc = TEST_BC_LEAF;
    c.ku = TEST_KU_CERT;
    c.serial = INT_SERIAL;
    x = test_cert(&c, env->int_key, env->root, env->root_key);
    assert_non_null(x);
    sk_X509_set(sk, 1, x);

    assert_int_equal(spiffe_snapshot_verify_peer(snap, env->own, sk,
                                                 time(NULL), buf, &len, &err),
                     SPIFFE_ERR_CHAIN);
    assert_string_equal(err, X509_verify_cert_error_string(
                                 X509_V_ERR_INVALID_CA));
    X509_free(x);

    /* the leaf rules come first */

    memset(&c, 0, sizeof(test_cert_t));
    c.cn = "peer";
    c.uris[0] = "spiffe://example.org/x";
    c.bc = TEST_BC_CA;
    c.ku = TEST_KU_DS;
    leaf = test_cert(&c, env->other_key, env->root, env->root_key);
    assert_non_null(leaf);
    assert_int_equal(spiffe_snapshot_verify_peer(snap, leaf, NULL,
                                                 time(NULL), buf, &len, &err),
                     SPIFFE_ERR_LEAF_CA);
    assert_string_equal(err, "leaf is a CA");
    X509_free(leaf);

    leaf = leaf_with(env, NULL, 5, 0, 0, env->root, env->root_key);
    assert_int_equal(spiffe_snapshot_verify_peer(snap, leaf, NULL,
                                                 time(NULL), buf, &len, &err),
                     SPIFFE_ERR_NO_URI_SAN);
    assert_string_equal(err, "no URI SAN");
    X509_free(leaf);

    sk_X509_free(sk);
    spiffe_snapshot_unref(snap);

    assert_int_equal(ERR_peek_error(), 0);
}


static void
test_revocation(void **state)
{
    char                buf[SPIFFE_ID_MAX_LEN + 1];
    long                serials[2];
    X509               *by_root, *by_int, *revoked_root, *revoked_int;
    msg_t               m;
    env_t              *env;
    size_t              len;
    const char         *err;
    STACK_OF(X509)     *sk;
    spiffe_snapshot_t  *snap;

    env = *state;

    sk = sk_X509_new_null();
    assert_non_null(sk);
    sk_X509_push(sk, env->inter);

    by_root = leaf_with(env, "spiffe://example.org/a", 50, 0, 0, env->root,
                        env->root_key);
    revoked_root = leaf_with(env, "spiffe://example.org/b", 51, 0, 0,
                             env->root, env->root_key);
    by_int = leaf_with(env, "spiffe://example.org/c", 60, 0, 0, env->inter,
                       env->int_key);
    revoked_int = leaf_with(env, "spiffe://example.org/d", 61, 0, 0,
                            env->inter, env->int_key);

    /* a CRL of the root and one of the intermediate */

    msg_init(&m, env);
    serials[0] = 51;
    m.crls[0] = msg_crl(&m, test_crl(env->root, env->root_key, serials, 1));
    serials[0] = 61;
    serials[1] = 62;
    m.crls[1] = msg_crl(&m, test_crl(env->inter, env->int_key, serials, 2));
    m.resp.ncrls = 2;

    snap = snap_of(&m, NULL, &err);
    assert_non_null(snap);

    assert_int_equal(spiffe_snapshot_verify_peer(snap, by_root, NULL,
                                                 time(NULL), buf, &len, &err),
                     0);
    assert_int_equal(spiffe_snapshot_verify_peer(snap, revoked_root, NULL,
                                                 time(NULL), buf, &len, &err),
                     SPIFFE_ERR_REVOKED);
    assert_string_equal(err, "revoked");
    assert_int_equal(len, 0);

    assert_int_equal(spiffe_snapshot_verify_peer(snap, by_int, sk,
                                                 time(NULL), buf, &len, &err),
                     0);
    assert_int_equal(spiffe_snapshot_verify_peer(snap, revoked_int, sk,
                                                 time(NULL), buf, &len, &err),
                     SPIFFE_ERR_REVOKED);
    assert_string_equal(err, "revoked");

    /* no CRL for federated.test: no revocation check there */

    spiffe_snapshot_unref(snap);
    msg_free(&m);

    /* the intermediate revoked by the root: all its leaves are */

    msg_init(&m, env);
    serials[0] = INT_SERIAL;
    m.crls[0] = msg_crl(&m, test_crl(env->root, env->root_key, serials, 1));
    m.resp.ncrls = 1;

    snap = snap_of(&m, NULL, &err);
    assert_non_null(snap);

    assert_int_equal(spiffe_snapshot_verify_peer(snap, by_int, sk,
                                                 time(NULL), buf, &len, &err),
                     SPIFFE_ERR_REVOKED);
    assert_string_equal(err, "revoked");
    assert_int_equal(spiffe_snapshot_verify_peer(snap, by_root, NULL,
                                                 time(NULL), buf, &len, &err),
                     0);

    spiffe_snapshot_unref(snap);
    msg_free(&m);

    /* CRLs in the names of the root and intermediate, with bad signatures */

    msg_init(&m, env);
    serials[0] = 51;
    serials[1] = INT_SERIAL;
    m.crls[0] = msg_crl(&m, test_crl(env->root, env->fed_key, serials, 2));
    serials[0] = 61;
    m.crls[1] = msg_crl(&m, test_crl(env->inter, env->root_key, serials, 1));
    m.resp.ncrls = 2;

    snap = snap_of(&m, NULL, &err);
    assert_non_null(snap);

    assert_int_equal(spiffe_snapshot_verify_peer(snap, revoked_root, NULL,
                                                 time(NULL), buf, &len, &err),
                     0);
    assert_int_equal(spiffe_snapshot_verify_peer(snap, revoked_int, sk,
                                                 time(NULL), buf, &len, &err),
                     0);
    assert_string_equal(buf, "spiffe://example.org/d");

    spiffe_snapshot_unref(snap);

    /* a CRL that does not parse refuses the message */

    m.crls[1].len--;
    expect_error(&m, NULL, "bad CRL");

    msg_free(&m);

    X509_free(by_root);
    X509_free(revoked_root);
    X509_free(by_int);
    X509_free(revoked_int);
    sk_X509_free(sk);

    assert_int_equal(ERR_peek_error(), 0);
}


/* both snapshots trust td, and the same way */

static int
same_trust(spiffe_snapshot_t *a, spiffe_snapshot_t *b, const char *td)
{
    unsigned char  da[SPIFFE_DIGEST_LEN], db[SPIFFE_DIGEST_LEN];

    return spiffe_snapshot_td_digest(a, td, strlen(td), da) == 0
           && spiffe_snapshot_td_digest(b, td, strlen(td), db) == 0
           && memcmp(da, db, SPIFFE_DIGEST_LEN) == 0;
}


static void
test_td_digest(void **state)
{
    long                serial;
    msg_t               m;
    env_t              *env;
    const char         *err;
    spiffe_snapshot_t  *a, *b, *a_crl;

    env = *state;
    msg_init(&m, env);

    a = snap_of(&m, NULL, &err);
    b = snap_of(&m, "other", &err);
    assert_non_null(a);
    assert_non_null(b);

    /* another SVID, the same trust */

    assert_true(same_trust(a, b, OWN_TD));
    assert_true(same_trust(a, b, FED_TD));
    assert_true(same_trust(a, a, FED_TD));
    assert_false(same_trust(a, b, "unknown.test"));
    spiffe_snapshot_unref(b);

    m.resp.nbundles = 0;
    b = snap_of(&m, NULL, &err);
    assert_non_null(b);
    assert_true(same_trust(a, b, OWN_TD));
    assert_false(same_trust(a, b, FED_TD));
    spiffe_snapshot_unref(b);

    m.resp.nbundles = 1;
    m.bundles[0].value = msg_certs(&m, env->fed_root, env->root);
    b = snap_of(&m, NULL, &err);
    assert_non_null(b);
    assert_false(same_trust(a, b, FED_TD));
    spiffe_snapshot_unref(b);

    m.bundles[0].key = msg_str("spiffe://other.test");
    m.bundles[0].value = msg_certs(&m, env->fed_root, NULL);
    b = snap_of(&m, NULL, &err);
    assert_non_null(b);
    assert_false(same_trust(a, b, FED_TD));
    spiffe_snapshot_unref(b);

    m.bundles[0].key = msg_str(FED_TD);
    m.bundles[0].value = m.svids[0].bundle;
    b = snap_of(&m, NULL, &err);
    assert_non_null(b);
    assert_false(same_trust(a, b, FED_TD));
    spiffe_snapshot_unref(b);

    m.bundles[0].value = msg_certs(&m, env->fed_root, NULL);
    serial = 9;
    m.crls[0] = msg_crl(&m, test_crl(env->root, env->root_key, &serial, 1));
    m.resp.ncrls = 1;
    a_crl = snap_of(&m, NULL, &err);
    assert_non_null(a_crl);
    assert_false(same_trust(a, a_crl, OWN_TD));
    assert_false(same_trust(a, a_crl, FED_TD));

    serial = 10;
    m.crls[0] = msg_crl(&m, test_crl(env->root, env->root_key, &serial, 1));
    b = snap_of(&m, NULL, &err);
    assert_non_null(b);
    assert_false(same_trust(a_crl, b, OWN_TD));
    spiffe_snapshot_unref(b);
    spiffe_snapshot_unref(a_crl);

    m.resp.ncrls = 0;
    b = snap_of(&m, NULL, &err);
    assert_non_null(b);
    assert_true(same_trust(a, b, OWN_TD));
    assert_true(same_trust(a, b, FED_TD));
    spiffe_snapshot_unref(b);

    spiffe_snapshot_unref(a);
    msg_free(&m);
}


/* the PEM files of an SVID: certificates, key, bundle and CRLs */

#define FILE_CERT    0
#define FILE_KEY     1
#define FILE_BUNDLE  2
#define FILE_CRL     3

typedef struct {
    BIO                    *bio[4];
    spiffe_snapshot_pem_t   pem;
} files_t;


/* texts for one file, the others fine */

static const struct {
    int          file;
    const char  *text;
    const char  *err;
} bad_texts[] = {
    { FILE_CERT, "", "no certificate" },
    { FILE_CERT, "-----BEGIN CERTIFICATE-----\n*\n-----END CERTIFICATE-----\n",
      "bad PEM" },
    { FILE_KEY, "", "no private key" },
    { FILE_KEY, "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMAMCAQE=\n"
                "-----END ENCRYPTED PRIVATE KEY-----\n",
      "private key is encrypted" },
    { FILE_BUNDLE, "", "no certificate" },
    { FILE_BUNDLE, "-----BEGIN CERTIFICATE-----\nMIIB\n", "bad PEM" },
    { FILE_CRL, "no CRL here\n", "no CRL" },
    { FILE_CRL, "-----BEGIN X509 CRL-----\nMAMCAQE=\n-----END X509 CRL-----\n",
      "bad CRL" },
};


static void
files_point(files_t *f, int i, const char *text, size_t len)
{
    switch (i) {

    case FILE_CERT:
        f->pem.cert = text;
        f->pem.cert_len = len;
        break;

    case FILE_KEY:
        f->pem.key = text;
        f->pem.key_len = len;
        break;

    case FILE_BUNDLE:
        f->pem.bundle = text;
        f->pem.bundle_len = len;
        break;

    default:
        f->pem.crl = text;
        f->pem.crl_len = len;
    }
}


/* rewrites one file: the certificates, key and CRL that are not NULL */

static void
files_set(files_t *f, int i, X509 *a, X509 *b, EVP_PKEY *key, X509_CRL *crl)
{
    long   n;
    char  *text;

    if (f->bio[i] == NULL) {
        f->bio[i] = BIO_new(BIO_s_mem());
        assert_non_null(f->bio[i]);

    } else {
        assert_int_equal(BIO_reset(f->bio[i]), 1);
    }

    assert_true(a == NULL || PEM_write_bio_X509(f->bio[i], a) == 1);
    assert_true(b == NULL || PEM_write_bio_X509(f->bio[i], b) == 1);
    assert_true(key == NULL
                || PEM_write_bio_PrivateKey(f->bio[i], key, NULL, NULL, 0,
                                            NULL, NULL)
                   == 1);
    assert_true(crl == NULL || PEM_write_bio_X509_CRL(f->bio[i], crl) == 1);

    n = BIO_get_mem_data(f->bio[i], &text);
    assert_true(n >= 0);

    files_point(f, i, text, n);
}


static void
files_text(files_t *f, int i, const char *text)
{
    files_point(f, i, text, strlen(text));
}


/*
 * OWN_ID with its intermediate, its key, the root of example.org, no CRL;
 * f zeroed the first time
 */

static void
files_init(files_t *f, env_t *env)
{
    files_set(f, FILE_CERT, env->own, env->inter, NULL, NULL);
    files_set(f, FILE_KEY, NULL, NULL, env->leaf_key, NULL);
    files_set(f, FILE_BUNDLE, env->root, NULL, NULL, NULL);
    files_set(f, FILE_CRL, NULL, NULL, NULL, NULL);
}


static void
files_free(files_t *f)
{
    int  i;

    for (i = 0; i < 4; i++) {
        BIO_free(f->bio[i]);
    }
}


static void
files_refused(files_t *f, time_t now, const char *want)
{
    int          part;
    const char  *err;

    err = NULL;
    part = -2;

    if (spiffe_snapshot_from_pem(&f->pem, 5, now, &part, &err) != NULL) {
        fail_msg("snapshot created from files, want \"%s\"", want);
    }

    assert_in_range(part + 1, SPIFFE_PEM_SET + 1, SPIFFE_PEM_CRL + 1);
    assert_non_null(err);
    assert_string_equal(err, want);
    assert_int_equal(ERR_peek_error(), 0);
}


/* a peer's ID, or its reason prefixed with "!" */

static const char *
peer_of(spiffe_snapshot_t *snap, X509 *leaf, X509 *inter)
{
    size_t           len;
    const char      *reason;
    STACK_OF(X509)  *sk;

    static char      buf[SPIFFE_ID_MAX_LEN + 1];
    static char      out[SPIFFE_ID_MAX_LEN + 2];

    sk = sk_X509_new_null();
    assert_non_null(sk);
    assert_true(inter == NULL || sk_X509_push(sk, inter) > 0);

    if (spiffe_snapshot_verify_peer(snap, leaf, sk, time(NULL), buf, &len,
                                    &reason)
        == 0)
    {
        assert_int_equal(len, strlen(buf));
        strcpy(out, buf);

    } else {
        assert_int_equal(len, 0);
        snprintf(out, sizeof(out), "!%s", reason);
    }

    sk_X509_free(sk);

    assert_int_equal(ERR_peek_error(), 0);

    return out;
}


#define UNABLE  "unable to get local issuer certificate"


static void
test_from_pem(void **state)
{
    int                 part;
    long                serial;
    X509               *x, *peer, *fed_peer, *revoked;
    size_t              i, len, ncas;
    X509_CRL           *crl;
    env_t              *env;
    time_t              now;
    files_t             f;
    const char         *err, *td;
    test_cert_t         c;
    STACK_OF(X509)     *cas;
    spiffe_snapshot_t  *snap;

    env = *state;
    now = time(NULL);

    peer = leaf_with(env, "spiffe://example.org/peer", 50, 0, 0, env->root,
                     env->root_key);
    revoked = leaf_with(env, "spiffe://example.org/revoked", 51, 0, 0,
                        env->root, env->root_key);
    fed_peer = leaf_with(env, "spiffe://" FED_TD "/api", 52, 0, 0,
                         env->fed_root, env->fed_key);

    /* tbot's files: the SVID and its chain, a PKCS#8 key, the bundle */

    memset(&f, 0, sizeof(files_t));
    files_init(&f, env);

    snap = spiffe_snapshot_from_pem(&f.pem, 5, now, &part, &err);
    assert_non_null(snap);
    expect_own_svid(snap, env, "", 5, now);

    /* one trust domain, the SVID's, with the bundle's CA */

    assert_int_equal(spiffe_snapshot_ntds(snap), 1);
    td = spiffe_snapshot_td(snap, 0, &len, &ncas);
    assert_int_equal(len, strlen(OWN_TD));
    assert_memory_equal(td, OWN_TD, len);
    assert_int_equal(ncas, 1);

    cas = spiffe_snapshot_cas(snap, OWN_TD, strlen(OWN_TD));
    assert_non_null(cas);
    assert_int_equal(sk_X509_num(cas), 1);
    assert_int_equal(X509_cmp(sk_X509_value(cas, 0), env->root), 0);
    assert_null(spiffe_snapshot_cas(snap, FED_TD, strlen(FED_TD)));
    assert_null(spiffe_snapshot_cas(snap, "spiffe://" OWN_TD, 20));
    assert_null(spiffe_snapshot_cas(snap, OWN_TD, 10));

    assert_string_equal(peer_of(snap, peer, NULL), "spiffe://example.org/peer");
    assert_string_equal(peer_of(snap, revoked, NULL),
                        "spiffe://example.org/revoked");
    assert_string_equal(peer_of(snap, env->own, env->inter), OWN_ID);
    assert_string_equal(peer_of(snap, fed_peer, NULL),
                        "!no bundle for trust domain");
    spiffe_snapshot_unref(snap);

    /*
     * The key file may hold the certificates too; the bundle's non-CA
     * certificates are skipped; the CRL file is not read when empty.
     */

    files_set(&f, FILE_KEY, env->own, env->inter, env->leaf_key, NULL);
    files_set(&f, FILE_BUNDLE, env->other, env->root, NULL, NULL);
    f.pem.crl = "not read";

    snap = spiffe_snapshot_from_pem(&f.pem, 5, now, &part, &err);
    assert_non_null(snap);
    assert_int_equal(sk_X509_num(spiffe_snapshot_cas(snap, OWN_TD,
                                                     strlen(OWN_TD))),
                     1);
    spiffe_snapshot_unref(snap);

    /* a CRL of the root */

    files_init(&f, env);

    serial = 51;
    crl = test_crl(env->root, env->root_key, &serial, 1);
    assert_non_null(crl);
    files_set(&f, FILE_CRL, NULL, NULL, NULL, crl);
    X509_CRL_free(crl);

    snap = spiffe_snapshot_from_pem(&f.pem, 5, now, &part, &err);
    assert_non_null(snap);
    assert_string_equal(peer_of(snap, peer, NULL), "spiffe://example.org/peer");
    assert_string_equal(peer_of(snap, revoked, NULL), "!revoked");
    spiffe_snapshot_unref(snap);

    /* an SVID of another trust domain: its bundle is that domain's */

    files_init(&f, env);
    files_set(&f, FILE_CERT, fed_peer, NULL, NULL, NULL);
    files_set(&f, FILE_KEY, NULL, NULL, env->other_key, NULL);
    files_set(&f, FILE_BUNDLE, env->fed_root, NULL, NULL, NULL);

    snap = spiffe_snapshot_from_pem(&f.pem, 5, now, &part, &err);
    assert_non_null(snap);
    assert_string_equal(spiffe_snapshot_svid(snap)->id,
                        "spiffe://" FED_TD "/api");
    assert_int_equal(sk_X509_num(spiffe_snapshot_svid(snap)->chain), 0);
    assert_int_equal(spiffe_snapshot_ntds(snap), 1);
    assert_non_null(spiffe_snapshot_cas(snap, FED_TD, strlen(FED_TD)));
    assert_null(spiffe_snapshot_cas(snap, OWN_TD, strlen(OWN_TD)));
    assert_string_equal(peer_of(snap, peer, NULL),
                        "!no bundle for trust domain");
    spiffe_snapshot_unref(snap);

    /* an intermediate as the bundle: a trust anchor, root or not */

    files_init(&f, env);
    files_set(&f, FILE_BUNDLE, env->inter, NULL, NULL, NULL);

    snap = spiffe_snapshot_from_pem(&f.pem, 5, now, &part, &err);
    assert_non_null(snap);
    assert_string_equal(peer_of(snap, peer, NULL), "!" UNABLE);
    spiffe_snapshot_unref(snap);

    /* what is not in a file */

    files_init(&f, env);
    files_set(&f, FILE_CERT, NULL, NULL, env->leaf_key, NULL);
    files_refused(&f, now, "no certificate");

    files_init(&f, env);
    files_set(&f, FILE_KEY, env->own, env->inter, NULL, NULL);
    files_refused(&f, now, "no private key");

    files_init(&f, env);
    files_set(&f, FILE_BUNDLE, NULL, NULL, NULL, NULL);
    files_refused(&f, now, "no certificate");

    files_init(&f, env);
    files_set(&f, FILE_CRL, env->root, NULL, NULL, NULL);
    files_refused(&f, now, "no CRL");

    /* texts */

    for (i = 0; i < sizeof(bad_texts) / sizeof(bad_texts[0]); i++) {
        files_init(&f, env);
        files_text(&f, bad_texts[i].file, bad_texts[i].text);
        files_refused(&f, now, bad_texts[i].err);
    }

    /* keys */

    files_init(&f, env);
    files_set(&f, FILE_KEY, NULL, NULL, env->other_key, NULL);
    files_refused(&f, now, "private key does not match the certificate");

    files_init(&f, env);
    assert_int_equal(BIO_reset(f.bio[FILE_KEY]), 1);
    assert_int_equal(PEM_write_bio_PrivateKey_traditional(
                         f.bio[FILE_KEY], env->leaf_key, NULL, NULL, 0, NULL,
                         NULL),
                     1);
    f.pem.key_len = BIO_get_mem_data(f.bio[FILE_KEY],
                                     (char **) &f.pem.key);
    files_refused(&f, now, "private key is not PKCS#8");

    /* certificates that are no SVID */

    files_init(&f, env);
    x = leaf_with(env, NULL, 3, 0, 0, env->root, env->root_key);
    files_set(&f, FILE_CERT, x, NULL, NULL, NULL);
    files_set(&f, FILE_KEY, NULL, NULL, env->other_key, NULL);
    X509_free(x);
    files_refused(&f, now, "no URI SAN");

    x = leaf_with(env, "spiffe://example.org", 3, 0, 0, env->root,
                  env->root_key);
    files_set(&f, FILE_CERT, x, NULL, NULL, NULL);
    X509_free(x);
    files_refused(&f, now, "SPIFFE ID has no path");

    /* the chain */

    files_init(&f, env);
    files_set(&f, FILE_CERT, env->own, NULL, NULL, NULL);
    files_refused(&f, now, UNABLE);

    files_set(&f, FILE_CERT, env->own, env->other, NULL, NULL);
    files_refused(&f, now, "chain certificate is not a CA");

    files_init(&f, env);
    files_set(&f, FILE_BUNDLE, env->fed_root, NULL, NULL, NULL);
    files_refused(&f, now, UNABLE);

    files_set(&f, FILE_BUNDLE, env->other, NULL, NULL, NULL);
    files_refused(&f, now, "bundle has no CA certificate");

    /* validity */

    files_init(&f, env);
    files_refused(&f, now + 7200, "certificate has expired");
    files_refused(&f, now - 7200, "certificate is not yet valid");

    memset(&c, 0, sizeof(test_cert_t));
    c.cn = "example.org intermediate";
    c.bc = TEST_BC_CA;
    c.ku = TEST_KU_CERT | TEST_KU_CRL;
    c.serial = INT_SERIAL;
    c.from = -7200;
    c.to = -60;
    x = test_cert(&c, env->int_key, env->root, env->root_key);
    assert_non_null(x);
    files_set(&f, FILE_CERT, env->own, x, NULL, NULL);
    X509_free(x);
    files_refused(&f, now, "chain certificate has expired");

    files_free(&f);
    X509_free(peer);
    X509_free(revoked);
    X509_free(fed_peer);

    assert_int_equal(ERR_peek_error(), 0);
}


/* compose base with one configured bundle of td, certificates a and b */

static spiffe_snapshot_t *
compose1(spiffe_snapshot_t *base, const char *td, X509 *a, X509 *b,
    time_t now, const char **err)
{
    STACK_OF(X509)            *certs;
    spiffe_snapshot_t         *snap;
    spiffe_snapshot_bundle_t   extra;

    certs = sk_X509_new_null();
    assert_non_null(certs);
    assert_true(a == NULL || sk_X509_push(certs, a) > 0);
    assert_true(b == NULL || sk_X509_push(certs, b) > 0);

    extra.td = td;
    extra.td_len = strlen(td);
    extra.certs = certs;

    *err = NULL;
    snap = spiffe_snapshot_compose(base, &extra, 1, 9, now, err);

    sk_X509_free(certs);

    assert_int_equal(ERR_peek_error(), 0);

    return snap;
}


/* the trust domains of snap, in lookup order, "name:ncas name:ncas" */

static const char *
tds_of(spiffe_snapshot_t *snap)
{
    char        *p;
    size_t       i, len, ncas;
    const char  *td;

    static char  out[256];

    p = out;
    *p = '\0';

    for (i = 0; i < spiffe_snapshot_ntds(snap); i++) {
        td = spiffe_snapshot_td(snap, i, &len, &ncas);
        p += snprintf(p, out + sizeof(out) - p, "%s%.*s:%zu",
                      i ? " " : "", (int) len, td, ncas);
    }

    return out;
}


static void
test_compose(void **state)
{
    long                       serial;
    X509                      *fed2_root, *fed_peer, *fed2_peer, *own_peer;
    X509                      *revoked, *x;
    msg_t                      m;
    env_t                     *env;
    time_t                     now;
    EVP_PKEY                  *fed2_key;
    const char                *err;
    STACK_OF(X509)            *cas;
    spiffe_snapshot_t         *base, *snap;
    spiffe_snapshot_bundle_t   extra[2];

    env = *state;
    now = time(NULL);

    fed2_key = test_key();
    assert_non_null(fed2_key);
    fed2_root = test_ca("federated.test new root", fed2_key, NULL, NULL);
    assert_non_null(fed2_root);

    fed_peer = leaf_with(env, "spiffe://" FED_TD "/api", 5, 0, 0,
                         env->fed_root, env->fed_key);
    fed2_peer = leaf_with(env, "spiffe://" FED_TD "/api", 6, 0, 0, fed2_root,
                          fed2_key);
    own_peer = leaf_with(env, "spiffe://example.org/peer", 50, 0, 0,
                         env->root, env->root_key);
    revoked = leaf_with(env, "spiffe://example.org/revoked", 51, 0, 0,
                        env->root, env->root_key);

    /* the source's snapshot: example.org, federated.test, a CRL */

    msg_init(&m, env);
    serial = 51;
    m.crls[0] = msg_crl(&m, test_crl(env->root, env->root_key, &serial, 1));
    m.resp.ncrls = 1;
    base = snap_of(&m, "default", &err);
    assert_non_null(base);
    msg_free(&m);

    assert_string_equal(tds_of(base), "example.org:1 federated.test:1");
    assert_string_equal(peer_of(base, fed_peer, NULL),
                        "spiffe://" FED_TD "/api");

    /* a configured federated.test replaces the source's */

    snap = compose1(base, FED_TD, fed2_root, NULL, now, &err);
    assert_non_null(snap);
    assert_string_equal(tds_of(snap), "example.org:1 federated.test:1");

    cas = spiffe_snapshot_cas(snap, FED_TD, strlen(FED_TD));
    assert_non_null(cas);
    assert_int_equal(X509_cmp(sk_X509_value(cas, 0), fed2_root), 0);
    cas = spiffe_snapshot_cas(snap, OWN_TD, strlen(OWN_TD));
    assert_int_equal(sk_X509_num(cas), 1);
    assert_ptr_equal(sk_X509_value(cas, 0),
                     sk_X509_value(spiffe_snapshot_cas(base, OWN_TD,
                                                       strlen(OWN_TD)),
                                   0));

    assert_string_equal(peer_of(snap, fed_peer, NULL), "!" UNABLE);
    assert_string_equal(peer_of(snap, fed2_peer, NULL),
                        "spiffe://" FED_TD "/api");
    assert_string_equal(peer_of(snap, own_peer, NULL),
                        "spiffe://example.org/peer");

    /* the CRLs stay, and so does what example.org trusts */

    assert_string_equal(peer_of(snap, revoked, NULL), "!revoked");
    assert_true(same_trust(base, snap, OWN_TD));
    assert_false(same_trust(base, snap, FED_TD));

    /* the SVID is the base's, the version the new one */

    assert_int_equal(spiffe_snapshot_version(snap), 9);
    assert_string_equal(spiffe_snapshot_svid(snap)->id, OWN_ID);
    assert_string_equal(spiffe_snapshot_svid(snap)->hint, "default");
    assert_string_equal(spiffe_snapshot_svid(snap)->serial, "1a2b");
    assert_ptr_equal(spiffe_snapshot_svid(snap)->leaf,
                     spiffe_snapshot_svid(base)->leaf);
    assert_ptr_equal(spiffe_snapshot_svid(snap)->key,
                     spiffe_snapshot_svid(base)->key);
    assert_int_equal(sk_X509_num(spiffe_snapshot_svid(snap)->chain), 1);

    /* the base is left as it was */

    assert_int_equal(spiffe_snapshot_version(base), 1);
    assert_string_equal(peer_of(base, fed_peer, NULL),
                        "spiffe://" FED_TD "/api");
    assert_string_equal(peer_of(base, fed2_peer, NULL), "!" UNABLE);
    spiffe_snapshot_unref(snap);

    /* a new trust domain; non-CA certificates skipped */

    snap = compose1(base, "a.test", fed2_root, fed2_peer, now, &err);
    assert_non_null(snap);
    assert_string_equal(tds_of(snap),
                        "a.test:1 example.org:1 federated.test:1");
    assert_string_equal(peer_of(snap, fed_peer, NULL),
                        "spiffe://" FED_TD "/api");
    spiffe_snapshot_unref(snap);

    /* a bundle without a CA: the trust domain is no longer trusted */

    snap = compose1(base, FED_TD, fed2_peer, NULL, now, &err);
    assert_non_null(snap);
    assert_string_equal(tds_of(snap), "example.org:1");
    assert_null(spiffe_snapshot_cas(snap, FED_TD, strlen(FED_TD)));
    assert_null(spiffe_snapshot_store(snap, FED_TD, strlen(FED_TD)));
    assert_string_equal(peer_of(snap, fed_peer, NULL),
                        "!no bundle for trust domain");
    spiffe_snapshot_unref(snap);

    snap = compose1(base, FED_TD, NULL, NULL, now, &err);
    assert_non_null(snap);
    assert_string_equal(tds_of(snap), "example.org:1");
    spiffe_snapshot_unref(snap);

    extra[0].td = FED_TD;
    extra[0].td_len = strlen(FED_TD);
    extra[0].certs = NULL;

    snap = spiffe_snapshot_compose(base, extra, 1, 9, now, &err);
    assert_non_null(snap);
    assert_string_equal(tds_of(snap), "example.org:1");
    spiffe_snapshot_unref(snap);

    /* the own trust domain: the SVID must chain to its new bundle */

    snap = compose1(base, OWN_TD, env->root, fed2_root, now, &err);
    assert_non_null(snap);
    assert_string_equal(tds_of(snap), "example.org:2 federated.test:1");
    assert_string_equal(peer_of(snap, own_peer, NULL),
                        "spiffe://example.org/peer");
    spiffe_snapshot_unref(snap);

    snap = compose1(base, OWN_TD, env->inter, NULL, now, &err);
    assert_non_null(snap);
    assert_string_equal(tds_of(snap), "example.org:1 federated.test:1");
    assert_string_equal(peer_of(snap, own_peer, NULL), "!" UNABLE);
    assert_string_equal(peer_of(snap, env->own, env->inter), OWN_ID);
    spiffe_snapshot_unref(snap);

    assert_null(compose1(base, OWN_TD, fed2_root, NULL, now, &err));
    assert_string_equal(err, UNABLE);

    /* without a CA, the own trust domain is untrusted, the SVID served */

    snap = compose1(base, OWN_TD, env->other, NULL, now, &err);
    assert_non_null(snap);
    assert_string_equal(tds_of(snap), "federated.test:1");
    assert_string_equal(spiffe_snapshot_svid(snap)->id, OWN_ID);
    assert_string_equal(peer_of(snap, own_peer, NULL),
                        "!no bundle for trust domain");
    spiffe_snapshot_unref(snap);

    /* two bundles: both taken */

    extra[0].td = FED_TD;
    extra[0].td_len = strlen(FED_TD);
    extra[0].certs = spiffe_snapshot_cas(base, OWN_TD, strlen(OWN_TD));
    extra[1].td = "b.test";
    extra[1].td_len = 6;
    extra[1].certs = spiffe_snapshot_cas(base, FED_TD, strlen(FED_TD));

    snap = spiffe_snapshot_compose(base, extra, 2, 9, now, &err);
    assert_non_null(snap);
    assert_string_equal(tds_of(snap),
                        "b.test:1 example.org:1 federated.test:1");
    assert_string_equal(peer_of(snap, fed_peer, NULL), "!" UNABLE);
    spiffe_snapshot_unref(snap);

    /* nothing configured: the same trust */

    snap = spiffe_snapshot_compose(base, NULL, 0, 9, now, &err);
    assert_non_null(snap);
    assert_string_equal(tds_of(snap), "example.org:1 federated.test:1");
    assert_true(same_trust(base, snap, OWN_TD));
    assert_true(same_trust(base, snap, FED_TD));
    spiffe_snapshot_unref(snap);

    /* refusals */

    extra[1].td = FED_TD;
    extra[1].td_len = strlen(FED_TD);
    assert_null(spiffe_snapshot_compose(base, extra, 2, 9, now, &err));
    assert_string_equal(err, "duplicate trust domain");

    assert_null(compose1(base, "Federated.test", fed2_root, NULL, now, &err));
    assert_string_equal(err, "bad trust domain name");

    assert_null(compose1(base, "spiffe://" FED_TD, fed2_root, NULL, now,
                         &err));
    assert_string_equal(err, "bad trust domain name");

    assert_null(compose1(base, FED_TD, fed2_root, NULL, now + 7200, &err));
    assert_string_equal(err, "certificate has expired");

    /* the composition holds its own references */

    snap = compose1(base, FED_TD, fed2_root, NULL, now, &err);
    assert_non_null(snap);
    x = X509_dup(spiffe_snapshot_svid(base)->leaf);
    assert_non_null(x);
    spiffe_snapshot_unref(base);
    X509_free(fed2_root);
    assert_int_equal(X509_cmp(spiffe_snapshot_svid(snap)->leaf, x), 0);
    assert_string_equal(peer_of(snap, fed2_peer, NULL),
                        "spiffe://" FED_TD "/api");
    assert_string_equal(peer_of(snap, revoked, NULL), "!revoked");
    spiffe_snapshot_unref(snap);
    X509_free(x);

    X509_free(fed_peer);
    X509_free(fed2_peer);
    X509_free(own_peer);
    X509_free(revoked);
    EVP_PKEY_free(fed2_key);

    assert_int_equal(ERR_peek_error(), 0);
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_refcount),
        cmocka_unit_test(test_create),
        cmocka_unit_test(test_verify_peer),
        cmocka_unit_test(test_revocation),
        cmocka_unit_test(test_td_digest),
        cmocka_unit_test(test_from_pem),
        cmocka_unit_test(test_compose),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
