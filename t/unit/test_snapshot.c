
/*
 * Copyright (C) ngx_spiffe developers
 */


#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <openssl/err.h>

#include <spiffe_x509.h>
#include <spiffe_snapshot.h>

#include "certs.h"


#define OWN_ID    "spiffe://example.org/nginx"
#define OTHER_ID  "spiffe://example.org/other"
#define FED_TD    "federated.test"
#define OWN_TD    "example.org"
#define OWN_SERIAL  0x1a2b
#define INT_SERIAL  100


typedef struct {
    EVP_PKEY    *root_key;          /* example.org */
    EVP_PKEY    *int_key;
    EVP_PKEY    *fed_key;           /* federated.test */
    EVP_PKEY    *leaf_key;
    EVP_PKEY    *other_key;
    X509        *root;
    X509        *inter;
    X509        *fed_root;
    X509        *own;               /* OWN_ID, issued by inter */
    X509        *other;             /* OTHER_ID, issued by root */
} env_t;


/* an X509SVIDResponse as the decoder would give it */

typedef struct {
    spiffe_pb_x509_svid_resp_t   resp;
    spiffe_pb_x509_svid_t        svids[2];
    spiffe_pb_entry_t            bundles[3];
    spiffe_bytes_t               crls[2];
    unsigned char               *bufs[16];
    size_t                       nbufs;
} msg_t;


static spiffe_bytes_t
msg_keep(msg_t *m, unsigned char *buf, size_t len)
{
    spiffe_bytes_t  b;

    assert_non_null(buf);
    assert_true(m->nbufs < sizeof(m->bufs) / sizeof(m->bufs[0]));

    m->bufs[m->nbufs++] = buf;

    b.data = buf;
    b.len = len;

    return b;
}


static spiffe_bytes_t
msg_certs(msg_t *m, X509 *a, X509 *b)
{
    X509           *certs[2];
    size_t          len;
    unsigned char  *buf;

    certs[0] = a;
    certs[1] = b;

    buf = test_der_certs(certs, (b != NULL) ? 2 : 1, &len);

    return msg_keep(m, buf, len);
}


static spiffe_bytes_t
msg_key(msg_t *m, EVP_PKEY *key)
{
    size_t          len;
    unsigned char  *buf;

    buf = test_der_key(key, &len);

    return msg_keep(m, buf, len);
}


static spiffe_bytes_t
msg_crl(msg_t *m, X509_CRL *crl)
{
    size_t          len;
    unsigned char  *buf;

    assert_non_null(crl);
    buf = test_der_crl(crl, &len);
    X509_CRL_free(crl);

    return msg_keep(m, buf, len);
}


static spiffe_bytes_t
msg_str(const char *s)
{
    spiffe_bytes_t  b;

    b.data = (const unsigned char *) s;
    b.len = strlen(s);

    return b;
}


/* two SVIDs of example.org and the bundle of federated.test */

static void
msg_init(msg_t *m, env_t *env)
{
    memset(m, 0, sizeof(msg_t));

    m->svids[0].spiffe_id = msg_str(OWN_ID);
    m->svids[0].x509_svid = msg_certs(m, env->own, env->inter);
    m->svids[0].x509_svid_key = msg_key(m, env->leaf_key);
    m->svids[0].bundle = msg_certs(m, env->root, NULL);
    m->svids[0].hint = msg_str("default");

    m->svids[1].spiffe_id = msg_str(OTHER_ID);
    m->svids[1].x509_svid = msg_certs(m, env->other, NULL);
    m->svids[1].x509_svid_key = msg_key(m, env->other_key);
    m->svids[1].bundle = m->svids[0].bundle;
    m->svids[1].hint = msg_str("other");

    m->bundles[0].key = msg_str("spiffe://" FED_TD);
    m->bundles[0].value = msg_certs(m, env->fed_root, NULL);

    m->resp.svids = m->svids;
    m->resp.nsvids = 2;
    m->resp.bundles = m->bundles;
    m->resp.nbundles = 1;
    m->resp.crls = m->crls;
    m->resp.ncrls = 0;
}


static void
msg_free(msg_t *m)
{
    size_t  i;

    for (i = 0; i < m->nbufs; i++) {
        free(m->bufs[i]);
    }
}


static spiffe_snapshot_t *
snap_of(msg_t *m, const char *hint, const char **err)
{
    return spiffe_snapshot_from_x509_svid_resp(&m->resp, hint,
                                               hint ? strlen(hint) : 0, 1,
                                               time(NULL), err);
}


static void
expect_error(msg_t *m, const char *hint, const char *want)
{
    const char  *err;

    err = NULL;

    if (snap_of(m, hint, &err) != NULL) {
        fail_msg("snapshot created, want \"%s\"", want);
    }

    assert_non_null(err);
    assert_string_equal(err, want);
}


static X509 *
leaf_with(env_t *env, const char *uri, long serial, long from, long to,
    X509 *issuer, EVP_PKEY *issuer_key)
{
    X509         *x;
    test_cert_t   c;

    memset(&c, 0, sizeof(test_cert_t));
    c.cn = "peer";
    c.uris[0] = uri;
    c.bc = TEST_BC_LEAF;
    c.ku = TEST_KU_DS;
    c.serial = serial;
    c.from = from;
    c.to = to;

    x = test_cert(&c, env->other_key, issuer, issuer_key);
    assert_non_null(x);

    return x;
}


static int
setup(void **state)
{
    env_t        *env;
    test_cert_t   c;

    env = calloc(1, sizeof(env_t));
    if (env == NULL) {
        return -1;
    }

    env->root_key = test_key();
    env->int_key = test_key();
    env->fed_key = test_key();
    env->leaf_key = test_key();
    env->other_key = test_key();

    env->root = test_ca("example.org root", env->root_key, NULL, NULL);
    env->fed_root = test_ca("federated.test root", env->fed_key, NULL, NULL);

    memset(&c, 0, sizeof(test_cert_t));
    c.cn = "example.org intermediate";
    c.bc = TEST_BC_CA;
    c.ku = TEST_KU_CERT | TEST_KU_CRL;
    c.serial = INT_SERIAL;

    env->inter = test_cert(&c, env->int_key, env->root, env->root_key);
    env->own = test_leaf(OWN_ID, OWN_SERIAL, env->leaf_key, env->inter,
                         env->int_key);
    env->other = test_leaf(OTHER_ID, 2, env->other_key, env->root,
                           env->root_key);

    if (env->root == NULL || env->fed_root == NULL || env->inter == NULL
        || env->own == NULL || env->other == NULL)
    {
        return -1;
    }

    *state = env;

    return 0;
}


static int
teardown(void **state)
{
    env_t  *env;

    env = *state;

    X509_free(env->root);
    X509_free(env->inter);
    X509_free(env->fed_root);
    X509_free(env->own);
    X509_free(env->other);
    EVP_PKEY_free(env->root_key);
    EVP_PKEY_free(env->int_key);
    EVP_PKEY_free(env->fed_key);
    EVP_PKEY_free(env->leaf_key);
    EVP_PKEY_free(env->other_key);
    free(env);

    return 0;
}


static void
test_first_svid(void **state)
{
    time_t                         now;
    msg_t                          m;
    env_t                         *env;
    const char                    *err;
    spiffe_snapshot_t             *snap;
    const spiffe_snapshot_svid_t  *svid;

    env = *state;
    msg_init(&m, env);

    now = time(NULL);
    snap = spiffe_snapshot_from_x509_svid_resp(&m.resp, NULL, 0, 42, now,
                                               &err);
    assert_non_null(snap);

    svid = spiffe_snapshot_svid(snap);
    assert_string_equal(svid->id, OWN_ID);
    assert_int_equal(svid->id_len, strlen(OWN_ID));
    assert_int_equal(X509_cmp(svid->leaf, env->own), 0);
    assert_int_equal(sk_X509_num(svid->chain), 1);
    assert_int_equal(X509_cmp(sk_X509_value(svid->chain, 0), env->inter), 0);
    assert_int_equal(EVP_PKEY_eq(svid->key, env->leaf_key), 1);
    assert_string_equal(svid->serial, "1a2b");
    assert_string_equal(svid->hint, "default");
    assert_int_equal(svid->hint_len, 7);
    assert_true(svid->not_after >= now + 3600 - 10);
    assert_true(svid->not_after <= now + 3600 + 10);
    assert_int_equal(spiffe_snapshot_version(snap), 42);

    assert_non_null(spiffe_snapshot_store(snap, "example.org", 11));
    assert_non_null(spiffe_snapshot_store(snap, FED_TD, strlen(FED_TD)));
    assert_null(spiffe_snapshot_store(snap, "example.com", 11));
    assert_null(spiffe_snapshot_store(snap, "example.or", 10));
    assert_null(spiffe_snapshot_store(snap, "spiffe://example.org", 20));
    assert_true(spiffe_snapshot_store(snap, "example.org", 11)
                != spiffe_snapshot_store(snap, FED_TD, strlen(FED_TD)));

    spiffe_snapshot_unref(snap);

    /* an empty hint is no hint */

    snap = snap_of(&m, "", &err);
    assert_non_null(snap);
    assert_string_equal(spiffe_snapshot_svid(snap)->id, OWN_ID);
    spiffe_snapshot_unref(snap);

    msg_free(&m);

    assert_int_equal(ERR_peek_error(), 0);
}


static void
test_hint(void **state)
{
    msg_t                          m;
    env_t                         *env;
    const char                    *err;
    spiffe_snapshot_t             *snap;
    const spiffe_snapshot_svid_t  *svid;

    env = *state;
    msg_init(&m, env);

    snap = snap_of(&m, "other", &err);
    assert_non_null(snap);

    svid = spiffe_snapshot_svid(snap);
    assert_string_equal(svid->id, OTHER_ID);
    assert_string_equal(svid->hint, "other");
    assert_int_equal(sk_X509_num(svid->chain), 0);
    assert_int_equal(EVP_PKEY_eq(svid->key, env->other_key), 1);
    assert_string_equal(svid->serial, "02");
    spiffe_snapshot_unref(snap);

    snap = snap_of(&m, "default", &err);
    assert_non_null(snap);
    assert_string_equal(spiffe_snapshot_svid(snap)->id, OWN_ID);
    spiffe_snapshot_unref(snap);

    expect_error(&m, "missing", "no SVID with the requested hint");
    expect_error(&m, "othe", "no SVID with the requested hint");
    expect_error(&m, "others", "no SVID with the requested hint");

    msg_free(&m);
}


static void
test_bad_svid(void **state)
{
    msg_t        m;
    env_t       *env;
    X509        *x;
    test_cert_t  c;

    env = *state;

    msg_init(&m, env);
    m.resp.nsvids = 0;
    expect_error(&m, NULL, "no SVIDs");
    msg_free(&m);

    msg_init(&m, env);
    m.svids[0].x509_svid.len = 0;
    expect_error(&m, NULL, "SVID has no certificate");
    msg_free(&m);

    msg_init(&m, env);
    m.svids[0].x509_svid_key.len = 0;
    expect_error(&m, NULL, "SVID has no private key");
    msg_free(&m);

    msg_init(&m, env);
    m.svids[0].bundle.len = 0;
    expect_error(&m, NULL, "SVID has no bundle");
    msg_free(&m);

    msg_init(&m, env);
    m.svids[0].x509_svid.len--;
    expect_error(&m, NULL, "bad SVID certificate");
    msg_free(&m);

    msg_init(&m, env);
    m.svids[0].x509_svid_key.len--;
    expect_error(&m, NULL, "bad SVID private key");
    msg_free(&m);

    msg_init(&m, env);
    m.svids[0].bundle.len--;
    expect_error(&m, NULL, "bad SVID bundle");
    msg_free(&m);

    /* the key of another SVID */

    msg_init(&m, env);
    m.svids[0].x509_svid_key = m.svids[1].x509_svid_key;
    expect_error(&m, NULL, "private key does not match the certificate");
    msg_free(&m);

    /* the spiffe_id field is not the URI SAN */

    msg_init(&m, env);
    m.svids[0].spiffe_id = msg_str(OTHER_ID);
    expect_error(&m, NULL, "SVID spiffe_id does not match its certificate");
    m.svids[0].spiffe_id = msg_str(OWN_ID "/x");
    expect_error(&m, NULL, "SVID spiffe_id does not match its certificate");
    m.svids[0].spiffe_id.len = 0;
    expect_error(&m, NULL, "SVID spiffe_id does not match its certificate");
    msg_free(&m);

    /* expired */

    msg_init(&m, env);
    x = leaf_with(env, OWN_ID, 3, -7200, -60, env->root, env->root_key);
    m.svids[0].x509_svid = msg_certs(&m, x, NULL);
    m.svids[0].x509_svid_key = msg_key(&m, env->other_key);
    X509_free(x);
    expect_error(&m, NULL, "certificate has expired");
    msg_free(&m);

    /* a chain certificate that is not a CA */

    msg_init(&m, env);
    memset(&c, 0, sizeof(test_cert_t));
    c.cn = "example.org intermediate";
    c.bc = TEST_BC_LEAF;
    c.ku = TEST_KU_CERT;
    c.serial = INT_SERIAL;
    x = test_cert(&c, env->int_key, env->root, env->root_key);
    assert_non_null(x);
    m.svids[0].x509_svid = msg_certs(&m, env->own, x);
    X509_free(x);
    expect_error(&m, NULL, "chain certificate is not a CA");
    msg_free(&m);

    /* the leaf rules */

    msg_init(&m, env);
    memset(&c, 0, sizeof(test_cert_t));
    c.cn = "leaf";
    c.uris[0] = OWN_ID;
    c.bc = TEST_BC_LEAF;
    c.ku = TEST_KU_DS | TEST_KU_CERT;
    x = test_cert(&c, env->leaf_key, env->inter, env->int_key);
    assert_non_null(x);
    m.svids[0].x509_svid = msg_certs(&m, x, env->inter);
    X509_free(x);
    expect_error(&m, NULL, "leaf has keyCertSign");
    msg_free(&m);

    /* a bundle that does not hold the SVID's root */

    msg_init(&m, env);
    m.svids[0].bundle = m.bundles[0].value;
    expect_error(&m, NULL, X509_verify_cert_error_string(
                               X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY));
    msg_free(&m);

    /* a bundle without a CA */

    msg_init(&m, env);
    m.svids[0].bundle = m.svids[1].x509_svid;
    expect_error(&m, NULL, "bundle has no CA certificate");
    msg_free(&m);

    assert_int_equal(ERR_peek_error(), 0);
}


static void
test_federated(void **state)
{
    msg_t               m;
    env_t              *env;
    size_t              i;
    const char         *err;
    spiffe_snapshot_t  *snap;

    static const char  *bad[] = {
        "", "spiffe://", "spiffe://Federated.test", "spiffe://fed.test/",
        "spiffe://fed.test/a", "fed.test:443", "spiffe:fed.test",
        "https://fed.test", "SPIFFE://fed.test"
    };

    env = *state;

    /* "spiffe://td" and bare "td" keys */

    msg_init(&m, env);
    m.bundles[0].key = msg_str(FED_TD);
    m.bundles[1].key = msg_str("spiffe://b.test");
    m.bundles[1].value = m.bundles[0].value;
    m.bundles[2].key = msg_str("a.test");
    m.bundles[2].value = msg_certs(&m, env->fed_root, env->root);
    m.resp.nbundles = 3;

    snap = snap_of(&m, NULL, &err);
    assert_non_null(snap);
    assert_non_null(spiffe_snapshot_store(snap, FED_TD, strlen(FED_TD)));
    assert_non_null(spiffe_snapshot_store(snap, "b.test", 6));
    assert_non_null(spiffe_snapshot_store(snap, "a.test", 6));
    assert_non_null(spiffe_snapshot_store(snap, "example.org", 11));
    assert_null(spiffe_snapshot_store(snap, "c.test", 6));
    spiffe_snapshot_unref(snap);

    /* no federated bundles at all */

    m.resp.nbundles = 0;
    snap = snap_of(&m, NULL, &err);
    assert_non_null(snap);
    assert_null(spiffe_snapshot_store(snap, FED_TD, strlen(FED_TD)));
    spiffe_snapshot_unref(snap);

    m.resp.nbundles = 1;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        m.bundles[0].key = msg_str(bad[i]);
        expect_error(&m, NULL, "bad trust domain in federated bundles");
    }

    m.bundles[0].key = msg_str("spiffe://example.org");
    expect_error(&m, NULL, "duplicate trust domain");

    m.bundles[0].key = msg_str(FED_TD);
    m.bundles[1].key = msg_str("spiffe://" FED_TD);
    m.bundles[1].value = m.bundles[0].value;
    m.resp.nbundles = 2;
    expect_error(&m, NULL, "duplicate trust domain");

    m.resp.nbundles = 1;
    m.bundles[0].value.len--;
    expect_error(&m, NULL, "bad federated bundle");

    m.bundles[0].value.len = 0;
    expect_error(&m, NULL, "bad federated bundle");

    m.bundles[0].value = m.svids[1].x509_svid;
    expect_error(&m, NULL, "bundle has no CA certificate");

    msg_free(&m);
}


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
    parts.leaf = env->own;
    parts.chain = chain;
    parts.key = env->leaf_key;

    snap = spiffe_snapshot_create(&parts, time(NULL), &err);
    assert_non_null(snap);
    assert_string_equal(spiffe_snapshot_svid(snap)->hint, "");
    assert_null(spiffe_snapshot_store(snap, "example.org", 11));
    spiffe_snapshot_unref(snap);

    parts.chain = NULL;
    parts.leaf = env->other;
    parts.key = env->other_key;

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

    parts.leaf = NULL;
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
                     -1);
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
                     -1);
    assert_string_equal(err, X509_verify_cert_error_string(
                                 X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY));
    X509_free(leaf);

    leaf = leaf_with(env, "spiffe://example.org/x", 5, 0, 0, env->fed_root,
                     env->fed_key);
    assert_int_equal(spiffe_snapshot_verify_peer(snap, leaf, NULL,
                                                 time(NULL), buf, &len, &err),
                     -1);
    assert_string_equal(err, X509_verify_cert_error_string(
                                 X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY));
    X509_free(leaf);

    /* an unknown trust domain */

    leaf = leaf_with(env, "spiffe://unknown.test/x", 5, 0, 0, env->root,
                     env->root_key);
    assert_int_equal(spiffe_snapshot_verify_peer(snap, leaf, NULL,
                                                 time(NULL), buf, &len, &err),
                     -1);
    assert_string_equal(err, "no bundle for trust domain");
    assert_int_equal(len, 0);
    X509_free(leaf);

    /* validity */

    leaf = leaf_with(env, "spiffe://example.org/x", 5, -7200, -60, env->root,
                     env->root_key);
    assert_int_equal(spiffe_snapshot_verify_peer(snap, leaf, NULL,
                                                 time(NULL), buf, &len, &err),
                     -1);
    assert_string_equal(err, "certificate has expired");
    X509_free(leaf);

    leaf = leaf_with(env, "spiffe://example.org/x", 5, 600, 7200, env->root,
                     env->root_key);
    assert_int_equal(spiffe_snapshot_verify_peer(snap, leaf, NULL,
                                                 time(NULL), buf, &len, &err),
                     -1);
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
                     -1);
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
                     -1);
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
                     -1);
    assert_string_equal(err, "leaf is a CA");
    X509_free(leaf);

    leaf = leaf_with(env, NULL, 5, 0, 0, env->root, env->root_key);
    assert_int_equal(spiffe_snapshot_verify_peer(snap, leaf, NULL,
                                                 time(NULL), buf, &len, &err),
                     -1);
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
                     -1);
    assert_string_equal(err, "revoked");
    assert_int_equal(len, 0);

    assert_int_equal(spiffe_snapshot_verify_peer(snap, by_int, sk,
                                                 time(NULL), buf, &len, &err),
                     0);
    assert_int_equal(spiffe_snapshot_verify_peer(snap, revoked_int, sk,
                                                 time(NULL), buf, &len, &err),
                     -1);
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
                     -1);
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


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_first_svid),
        cmocka_unit_test(test_hint),
        cmocka_unit_test(test_bad_svid),
        cmocka_unit_test(test_federated),
        cmocka_unit_test(test_refcount),
        cmocka_unit_test(test_create),
        cmocka_unit_test(test_verify_peer),
        cmocka_unit_test(test_revocation),
        cmocka_unit_test(test_td_digest),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
