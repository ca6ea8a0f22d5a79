
/*
 * Copyright (C) ngx_spiffe developers
 */


#ifndef _TEST_SVID_MSG_H_INCLUDED_
#define _TEST_SVID_MSG_H_INCLUDED_


/*
 * For the unit tests of spiffe_snapshot and spiffe_workload: the
 * certificates of example.org and federated.test (a cmocka group state),
 * and an X509SVIDResponse of two SVIDs as the decoder gives it.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/x509.h>

#include <spiffe_pb.h>
#include <spiffe_snapshot.h>
#include <spiffe_workload.h>

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
    spiffe_pb_entry_t            bundles[5];
    spiffe_bytes_t               crls[2];
    unsigned char               *bufs[16];
    size_t                       nbufs;
} msg_t;


static inline spiffe_bytes_t
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


static inline spiffe_bytes_t
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


static inline spiffe_bytes_t
msg_key(msg_t *m, EVP_PKEY *key)
{
    size_t          len;
    unsigned char  *buf;

    buf = test_der_key(key, &len);

    return msg_keep(m, buf, len);
}


static inline spiffe_bytes_t
msg_crl(msg_t *m, X509_CRL *crl)
{
    size_t          len;
    unsigned char  *buf;

    assert_non_null(crl);
    buf = test_der_crl(crl, &len);
    X509_CRL_free(crl);

    return msg_keep(m, buf, len);
}


static inline spiffe_bytes_t
msg_str(const char *s)
{
    spiffe_bytes_t  b;

    b.data = (const unsigned char *) s;
    b.len = strlen(s);

    return b;
}


/* two SVIDs of example.org and the bundle of federated.test */

static inline void
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


static inline void
msg_free(msg_t *m)
{
    size_t  i;

    for (i = 0; i < m->nbufs; i++) {
        free(m->bufs[i]);
    }
}


static inline spiffe_snapshot_t *
snap_of(msg_t *m, const char *hint, const char **err)
{
    return spiffe_workload_x509_snapshot(&m->resp, hint,
                                         hint ? strlen(hint) : 0, 1,
                                         time(NULL), err);
}


static inline void
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


static inline X509 *
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


static inline int
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


static inline int
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


/* the snapshot serves OWN_ID with its intermediate, made at now */

static inline void
expect_own_svid(spiffe_snapshot_t *snap, env_t *env, const char *hint,
    uint64_t version, time_t now)
{
    const spiffe_snapshot_svid_t  *svid;

    svid = spiffe_snapshot_svid(snap);
    assert_string_equal(svid->id, OWN_ID);
    assert_int_equal(svid->id_len, strlen(OWN_ID));
    assert_int_equal(X509_cmp(svid->leaf, env->own), 0);
    assert_int_equal(sk_X509_num(svid->chain), 1);
    assert_int_equal(X509_cmp(sk_X509_value(svid->chain, 0), env->inter), 0);
    assert_int_equal(EVP_PKEY_eq(svid->key, env->leaf_key), 1);
    assert_string_equal(svid->serial, "1a2b");
    assert_string_equal(svid->hint, hint);
    assert_int_equal(svid->hint_len, strlen(hint));
    assert_true(svid->not_after >= now + 3600 - 10);
    assert_true(svid->not_after <= now + 3600 + 10);
    assert_int_equal(spiffe_snapshot_version(snap), version);
}


#endif /* _TEST_SVID_MSG_H_INCLUDED_ */
