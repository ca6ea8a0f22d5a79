
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
#include <time.h>
#include <cmocka.h>

#include <jansson.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <spiffe_pb.h>
#include <spiffe_grpc.h>
#include <spiffe_snapshot.h>
#include <spiffe_jwks.h>
#include <spiffe_workload.h>

#include "certs.h"
#include "jose.h"
#include "svid_msg.h"


/* fixtures are read from $SPIFFE_FIXTURES, else relative to the repo root */
#define FIXTURES  "t/unit/fixtures"


/* the keys of the JWT bundles */

typedef struct {
    EVP_PKEY    *ec256;
    EVP_PKEY    *ec384;
    EVP_PKEY    *rsa;
} keys_t;


typedef struct {
    const char  *in;
    int          type;
    const char  *where;      /* path or IP */
    unsigned     port;
    const char  *err;
} addr_case_t;


static void
test_parse_address(void **state)
{
    size_t               i;
    const char          *err;
    spiffe_grpc_addr_t   a;

    static const addr_case_t  cases[] = {
        { "unix:/run/spire/agent.sock", SPIFFE_GRPC_ADDR_UNIX,
          "/run/spire/agent.sock", 0, NULL },
        { "unix:///tmp/spire-agent/public/api.sock", SPIFFE_GRPC_ADDR_UNIX,
          "/tmp/spire-agent/public/api.sock", 0, NULL },
        { "UNIX:///a", SPIFFE_GRPC_ADDR_UNIX, "/a", 0, NULL },
        { "unix:///my%20dir/s", SPIFFE_GRPC_ADDR_UNIX, "/my dir/s", 0,
          NULL },
        { "unix:/", SPIFFE_GRPC_ADDR_UNIX, "/", 0, NULL },
        { "unix:relative/path", 0, NULL, 0,
          "has a relative unix socket path" },
        { "unix:", 0, NULL, 0, "has an empty unix socket path" },
        { "unix://", 0, NULL, 0, "has an empty unix socket path" },
        { "unix://host/path", 0, NULL, 0,
          "has a host in a unix address, expected \"unix:///path\"" },
        { "unix:///a?b", 0, NULL, 0, "has a query" },
        { "unix:///a#b", 0, NULL, 0, "has a fragment" },
        { "unix:///a%2", 0, NULL, 0,
          "has a bad percent-escape in the unix socket path" },
        { "unix:///a%zz", 0, NULL, 0,
          "has a bad percent-escape in the unix socket path" },
        { "unix:///a%00", 0, NULL, 0,
          "has a bad percent-escape in the unix socket path" },
        { "tcp://127.0.0.1:8081", SPIFFE_GRPC_ADDR_TCP, "127.0.0.1", 8081,
          NULL },
        { "tcp://1.2.3.4:5", SPIFFE_GRPC_ADDR_TCP, "1.2.3.4", 5, NULL },
        { "TCP://10.0.0.1:65535", SPIFFE_GRPC_ADDR_TCP, "10.0.0.1", 65535,
          NULL },
        { "tcp://[::1]:443", SPIFFE_GRPC_ADDR_TCP, "::1", 443, NULL },
        { "tcp://[0:0::1]:443", SPIFFE_GRPC_ADDR_TCP, "::1", 443, NULL },
        { "tcp://localhost:8081", 0, NULL, 0,
          "has a host that is not an IP address (names are not allowed)" },
        { "tcp://spire.example.org:8081", 0, NULL, 0,
          "has a host that is not an IP address (names are not allowed)" },
        { "tcp://1.2.3.256:80", 0, NULL, 0, "has a bad IPv4 address" },
        { "tcp://1.2.3:80", 0, NULL, 0, "has a bad IPv4 address" },
        { "tcp://[::g]:80", 0, NULL, 0, "has a bad IPv6 address" },
        { "tcp://[::1:80", 0, NULL, 0, "has an IPv6 address without \"]\"" },
        { "tcp://::1:80", 0, NULL, 0, "has an IPv6 address without brackets" },
        { "tcp://1.2.3.4", 0, NULL, 0, "has no port" },
        { "tcp://1.2.3.4:", 0, NULL, 0, "has no port" },
        { "tcp://[::1]", 0, NULL, 0, "has no port" },
        { "tcp://[::1]80", 0, NULL, 0, "is not \"tcp://IP:PORT\"" },
        { "tcp://1.2.3.4:0", 0, NULL, 0, "has a port out of range" },
        { "tcp://1.2.3.4:65536", 0, NULL, 0, "has a port out of range" },
        { "tcp://1.2.3.4:99999999999999999999", 0, NULL, 0,
          "has a port out of range" },
        { "tcp://1.2.3.4:8x", 0, NULL, 0, "has a bad port" },
        { "tcp://1.2.3.4:-1", 0, NULL, 0, "has a bad port" },
        { "tcp://:80", 0, NULL, 0, "has no IP address" },
        { "tcp://", 0, NULL, 0, "has no IP address" },
        { "tcp://1.2.3.4:80/", 0, NULL, 0, "has a path in a tcp address" },
        { "tcp://1.2.3.4:80?x", 0, NULL, 0, "has a query" },
        { "tcp://u@1.2.3.4:80", 0, NULL, 0, "has userinfo" },
        { "tcp:1.2.3.4:80", 0, NULL, 0, "is not \"tcp://IP:PORT\"" },
        { "http://1.2.3.4:80", 0, NULL, 0,
          "has an unknown scheme, expected \"unix:\" or \"tcp:\"" },
        { "/run/agent.sock", 0, NULL, 0,
          "has an unknown scheme, expected \"unix:\" or \"tcp:\"" },
        { "", 0, NULL, 0,
          "has an unknown scheme, expected \"unix:\" or \"tcp:\"" },
    };

    (void) state;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        err = NULL;

        if (cases[i].err != NULL) {
            if (spiffe_workload_parse_address(cases[i].in,
                                              strlen(cases[i].in), &a, &err)
                != -1)
            {
                fail_msg("\"%s\" accepted", cases[i].in);
            }

            if (strcmp(err, cases[i].err) != 0) {
                fail_msg("\"%s\": \"%s\", expected \"%s\"", cases[i].in, err,
                         cases[i].err);
            }

            assert_int_equal(spiffe_workload_parse_address(cases[i].in,
                                                           strlen(cases[i].in),
                                                           NULL, &err), -1);
            continue;
        }

        if (spiffe_workload_parse_address(cases[i].in, strlen(cases[i].in),
                                          &a, &err)
            != 0)
        {
            fail_msg("\"%s\" refused: %s", cases[i].in, err);
        }

        assert_int_equal(a.type, cases[i].type);

        if (a.type == SPIFFE_GRPC_ADDR_UNIX) {
            assert_string_equal(a.path, cases[i].where);

        } else {
            assert_string_equal(a.ip, cases[i].where);
            assert_int_equal(a.port, cases[i].port);
        }

        assert_int_equal(spiffe_workload_parse_address(cases[i].in,
                                                       strlen(cases[i].in),
                                                       NULL, &err), 0);
    }
}


static void
test_parse_address_lengths(void **state)
{
    char                 in[256];
    const char          *err;
    spiffe_grpc_addr_t   a;

    (void) state;

    /* "unix://" and a path of 107 bytes fits sun_path, 108 does not */

    memset(in, 'p', sizeof(in));
    memcpy(in, "unix:///", 8);

    assert_int_equal(spiffe_workload_parse_address(in, 7 + 107, &a, &err),
                     0);
    assert_int_equal(strlen(a.path), 107);

    assert_int_equal(spiffe_workload_parse_address(in, 7 + 108, &a, &err),
                     -1);
    assert_string_equal(err, "has a unix socket path longer than 107 bytes");

    /* only len bytes are read */

    assert_int_equal(spiffe_workload_parse_address("unix:/abc", 7, &a, &err),
                     0);
    assert_string_equal(a.path, "/a");

    assert_int_equal(spiffe_workload_parse_address("unix:/a\0b", 9, &a,
                                                   &err),
                     -1);
    assert_string_equal(err, "has a NUL in the unix socket path");
}


static void
test_svid_choice(void **state)
{
    spiffe_pb_jwt_svid_t         jwt[3];
    spiffe_pb_x509_svid_t        x509[3];
    spiffe_pb_jwt_svid_resp_t    jresp;
    spiffe_pb_x509_svid_resp_t   xresp;

    (void) state;

    memset(jwt, 0, sizeof(jwt));
    memset(x509, 0, sizeof(x509));
    memset(&jresp, 0, sizeof(jresp));
    memset(&xresp, 0, sizeof(xresp));

    jwt[0].hint = msg_str("");
    jwt[1].hint = msg_str("web");
    jwt[2].hint = msg_str("web");
    x509[0].hint = msg_str("default");
    x509[1].hint = msg_str("");
    x509[2].hint = msg_str("web");

    /* none in the message: none chosen, with or without a hint */

    assert_null(spiffe_workload_jwt_svid(&jresp, NULL, 0));
    assert_null(spiffe_workload_x509_svid(&xresp, "web", 3));

    jresp.svids = jwt;
    jresp.nsvids = 3;
    xresp.svids = x509;
    xresp.nsvids = 3;

    /* no hint: the first; a hint: the first that has it, exactly */

    assert_ptr_equal(spiffe_workload_jwt_svid(&jresp, NULL, 0), &jwt[0]);
    assert_ptr_equal(spiffe_workload_jwt_svid(&jresp, "web", 3), &jwt[1]);
    assert_null(spiffe_workload_jwt_svid(&jresp, "we", 2));
    assert_null(spiffe_workload_jwt_svid(&jresp, "webs", 4));

    assert_ptr_equal(spiffe_workload_x509_svid(&xresp, "", 0), &x509[0]);
    assert_ptr_equal(spiffe_workload_x509_svid(&xresp, "web", 3), &x509[2]);
    assert_ptr_equal(spiffe_workload_x509_svid(&xresp, "default", 7),
                     &x509[0]);
    assert_null(spiffe_workload_x509_svid(&xresp, "Web", 3));
}


static void
test_first_svid(void **state)
{
    time_t              now;
    msg_t               m;
    env_t              *env;
    const char         *err;
    spiffe_snapshot_t  *snap;

    env = *state;
    msg_init(&m, env);

    now = time(NULL);
    snap = spiffe_workload_x509_snapshot(&m.resp, NULL, 0, 42, now, &err);
    assert_non_null(snap);
    expect_own_svid(snap, env, "default", 42, now);

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


/* every SVID of the message is found by its hint or ID, composed too */

static void
test_other_svids(void **state)
{
    msg_t                          m;
    env_t                         *env;
    const char                    *err;
    spiffe_snapshot_t             *snap, *composed;
    const spiffe_snapshot_svid_t  *svid;

    env = *state;
    msg_init(&m, env);

    snap = snap_of(&m, NULL, &err);
    assert_non_null(snap);

    composed = spiffe_snapshot_compose(snap, NULL, 0, 2, time(NULL), &err);
    assert_non_null(composed);
    spiffe_snapshot_unref(snap);

    svid = spiffe_snapshot_find_svid(composed, SPIFFE_SNAPSHOT_BY_HINT,
                                     "other", 5);
    assert_non_null(svid);
    assert_string_equal(svid->id, OTHER_ID);
    assert_int_equal(EVP_PKEY_eq(svid->key, env->other_key), 1);
    assert_string_equal(svid->serial, "02");

    svid = spiffe_snapshot_find_svid(composed, SPIFFE_SNAPSHOT_BY_ID,
                                     OWN_ID, strlen(OWN_ID));
    assert_ptr_equal(svid, spiffe_snapshot_svid(composed));

    svid = spiffe_snapshot_find_svid(composed, SPIFFE_SNAPSHOT_BY_ID,
                                     OTHER_ID, strlen(OTHER_ID));
    assert_non_null(svid);
    assert_string_equal(svid->hint, "other");

    assert_null(spiffe_snapshot_find_svid(composed, SPIFFE_SNAPSHOT_BY_HINT,
                                          "othe", 4));
    assert_null(spiffe_snapshot_find_svid(composed, SPIFFE_SNAPSHOT_BY_ID,
                                          OTHER_ID, strlen(OTHER_ID) - 1));
    spiffe_snapshot_unref(composed);

    /* a bad other SVID is left out; the snapshot's own one stands */

    m.svids[1].x509_svid_key = m.svids[0].x509_svid_key;

    snap = snap_of(&m, NULL, &err);
    assert_non_null(snap);
    assert_string_equal(spiffe_snapshot_svid(snap)->id, OWN_ID);
    assert_null(spiffe_snapshot_find_svid(snap, SPIFFE_SNAPSHOT_BY_HINT,
                                          "other", 5));
    spiffe_snapshot_unref(snap);

    msg_free(&m);

    assert_int_equal(ERR_peek_error(), 0);
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

    m.bundles[0].value = m.svids[1].x509_svid;
    expect_error(&m, NULL, "bundle has no CA certificate");

    msg_free(&m);
}


/*
 * An empty federated bundle: SPIRE's for a JWT-only or fully revoked
 * trust domain.  That domain has no X.509 authority; the rest stands.
 */

static void
test_federated_empty(void **state)
{
    msg_t               m;
    env_t              *env;
    const char         *err;
    spiffe_snapshot_t  *snap;

    env = *state;

    msg_init(&m, env);
    snap = snap_of(&m, NULL, &err);
    assert_non_null(snap);
    assert_string_equal(spiffe_snapshot_no_x509(snap), "");
    spiffe_snapshot_unref(snap);

    m.bundles[1].key = msg_str("jwt.test");
    m.bundles[1].value.len = 0;
    m.bundles[2].key = msg_str("spiffe://b.test");
    m.bundles[2].value = m.bundles[0].value;
    m.bundles[3].key = msg_str("spiffe://jwt.test");
    m.bundles[4].key = msg_str("spiffe://a.test");
    m.resp.nbundles = 5;

    snap = snap_of(&m, NULL, &err);
    assert_non_null(snap);
    assert_string_equal(spiffe_snapshot_svid(snap)->id, OWN_ID);
    assert_non_null(spiffe_snapshot_store(snap, FED_TD, strlen(FED_TD)));
    assert_non_null(spiffe_snapshot_store(snap, "b.test", 6));
    assert_null(spiffe_snapshot_store(snap, "jwt.test", 8));
    assert_null(spiffe_snapshot_store(snap, "a.test", 6));
    assert_int_equal(spiffe_snapshot_ntds(snap), 3);
    assert_string_equal(spiffe_snapshot_no_x509(snap), "jwt.test, a.test");
    spiffe_snapshot_unref(snap);

    /* an empty entry does not hide a bundle given for the same domain */

    m.bundles[4].key = msg_str("spiffe://b.test");
    expect_error(&m, NULL, "duplicate trust domain");

    m.bundles[0].value.len = 0;
    m.resp.nbundles = 1;
    m.bundles[0].key = msg_str("example.org");
    expect_error(&m, NULL, "duplicate trust domain");

    m.bundles[0].key = msg_str("spiffe://Jwt.test");
    expect_error(&m, NULL, "bad trust domain in federated bundles");

    msg_free(&m);
}


static int
keys_setup(void **state)
{
    keys_t  *keys;

    keys = calloc(1, sizeof(keys_t));
    if (keys == NULL) {
        return -1;
    }

    keys->ec256 = EVP_EC_gen("P-256");
    keys->ec384 = EVP_EC_gen("P-384");
    keys->rsa = EVP_RSA_gen(2048);

    if (keys->ec256 == NULL || keys->ec384 == NULL || keys->rsa == NULL) {
        return -1;
    }

    *state = keys;

    return 0;
}


static int
keys_teardown(void **state)
{
    keys_t  *keys;

    keys = *state;

    EVP_PKEY_free(keys->ec256);
    EVP_PKEY_free(keys->ec384);
    EVP_PKEY_free(keys->rsa);
    free(keys);

    return 0;
}


static spiffe_bytes_t
bytes(const char *s)
{
    spiffe_bytes_t  b;

    b.data = (const unsigned char *) s;
    b.len = strlen(s);

    return b;
}


static void
test_jwt_bundles(void **state)
{
    keys_t                        *keys;
    char                          *j1, *j2;
    json_t                        *d1, *d2;
    const char                    *err;
    spiffe_pb_entry_t              e[3];
    spiffe_jwt_bundles_t          *set;
    spiffe_pb_jwt_bundles_resp_t   resp;

    keys = *state;

    d1 = jose_jwks(jose_jwk(keys->ec256, "one"), NULL, NULL);
    d2 = jose_jwks(jose_jwk(keys->rsa, "two"), NULL, NULL);
    j1 = json_dumps(d1, JSON_COMPACT);
    j2 = json_dumps(d2, JSON_COMPACT);
    json_decref(d1);
    json_decref(d2);

    e[0].key = bytes("spiffe://example.org");
    e[0].value = bytes(j1);
    e[1].key = bytes("other.org");
    e[1].value = bytes(j2);
    e[2].key = bytes("spiffe://empty.org");
    e[2].value = bytes("{\"keys\":[]}");

    resp.bundles = e;
    resp.nbundles = 3;

    set = spiffe_workload_jwt_bundles(&resp, &err);
    assert_non_null(set);
    assert_int_equal(spiffe_jwt_bundles_count(set), 3);
    assert_non_null(spiffe_jwks_find(
                        spiffe_jwt_bundles_find(set, "example.org", 11),
                        "one", 3));
    assert_non_null(spiffe_jwks_find(
                        spiffe_jwt_bundles_find(set, "other.org", 9),
                        "two", 3));
    assert_int_equal(spiffe_jwks_nkeys(
                         spiffe_jwt_bundles_find(set, "empty.org", 9)),
                     0);
    spiffe_jwt_bundles_unref(set);

    /* the same trust domain twice: the last entry wins */

    e[1].key = bytes("example.org");
    set = spiffe_workload_jwt_bundles(&resp, &err);
    assert_non_null(set);
    assert_int_equal(spiffe_jwt_bundles_count(set), 2);
    assert_null(spiffe_jwks_find(
                    spiffe_jwt_bundles_find(set, "example.org", 11),
                    "one", 3));
    assert_non_null(spiffe_jwks_find(
                        spiffe_jwt_bundles_find(set, "example.org", 11),
                        "two", 3));
    spiffe_jwt_bundles_unref(set);

    /* one bad bundle or one bad trust domain refuses the message */

    e[1].key = bytes("other.org");
    e[2].value = bytes("{\"keys\":[]");
    assert_null(spiffe_workload_jwt_bundles(&resp, &err));
    assert_string_equal(err, "bundle is not valid JSON");

    e[2].value = bytes("{\"spiffe_sequence\":3}");
    assert_null(spiffe_workload_jwt_bundles(&resp, &err));
    assert_string_equal(err, "bundle has no \"keys\" array");

    e[2].value = bytes("{\"keys\":[]}");
    e[2].key = bytes("spiffe://Empty.org");
    assert_null(spiffe_workload_jwt_bundles(&resp, &err));
    assert_string_equal(err, "bad trust domain in JWT bundles");

    e[2].key = bytes("");
    assert_null(spiffe_workload_jwt_bundles(&resp, &err));
    assert_string_equal(err, "bad trust domain in JWT bundles");

    /* nothing: nothing trusted */

    resp.nbundles = 0;
    set = spiffe_workload_jwt_bundles(&resp, &err);
    assert_non_null(set);
    assert_int_equal(spiffe_jwt_bundles_count(set), 0);
    spiffe_jwt_bundles_unref(set);

    free(j1);
    free(j2);
}


/*
 * FetchJWTBundles as SPIRE's agent marshals it: a plain JWK Set, indented,
 * whose keys carry no "use"; "kid" is still required.  The same document
 * read as a SPIFFE bundle keeps "use" required.
 */

static void
test_jwt_bundles_form(void **state)
{
    char                          *j;
    size_t                         i;
    json_t                        *doc, *k;
    keys_t                        *keys;
    const char                    *err;
    spiffe_jwks_t                 *jwks;
    spiffe_pb_entry_t              e;
    spiffe_jwt_bundles_t          *set;
    spiffe_pb_jwt_bundles_resp_t   resp;

    keys = *state;

    doc = jose_jwks(jose_jwk(keys->ec256, "ec"), jose_jwk(keys->rsa, "rsa"),
                 jose_jwk(keys->ec384, "nokid"));

    for (i = 0; i < 3; i++) {
        json_object_del(json_array_get(json_object_get(doc, "keys"), i),
                        "use");
    }

    json_object_del(json_array_get(json_object_get(doc, "keys"), 2), "kid");

    k = jose_jwk(keys->ec256, "tagged");
    json_array_append_new(json_object_get(doc, "keys"), k);
    k = jose_jwk(keys->ec256, "enc");
    json_object_set_new(k, "use", json_string("enc"));
    json_array_append_new(json_object_get(doc, "keys"), k);
    k = jose_jwk(keys->ec256, "intuse");
    json_object_set_new(k, "use", json_integer(1));
    json_array_append_new(json_object_get(doc, "keys"), k);

    j = json_dumps(doc, JSON_INDENT(4));
    json_decref(doc);
    assert_non_null(j);

    e.key = bytes("spiffe://example.org");
    e.value = bytes(j);
    resp.bundles = &e;
    resp.nbundles = 1;

    set = spiffe_workload_jwt_bundles(&resp, &err);
    assert_non_null(set);
    jwks = spiffe_jwt_bundles_find(set, "example.org", 11);
    assert_non_null(jwks);
    assert_int_equal(spiffe_jwks_nkeys(jwks), 3);
    assert_int_equal(spiffe_jwks_nignored(jwks), 3);
    assert_int_equal(spiffe_jwks_find(jwks, "ec", 2)->type,
                     SPIFFE_JWK_EC_P256);
    assert_int_equal(spiffe_jwks_find(jwks, "rsa", 3)->type, SPIFFE_JWK_RSA);
    assert_non_null(spiffe_jwks_find(jwks, "tagged", 6));
    assert_null(spiffe_jwks_find(jwks, "enc", 3));
    assert_null(spiffe_jwks_find(jwks, "intuse", 6));
    assert_int_equal(sk_X509_num(spiffe_jwks_x509_authorities(jwks)), 0);
    spiffe_jwt_bundles_unref(set);

    /* a SPIFFE bundle document: the keys without "use" are skipped */

    jwks = spiffe_jwks_parse(j, strlen(j), &err);
    assert_non_null(jwks);
    assert_int_equal(spiffe_jwks_nkeys(jwks), 1);
    assert_non_null(spiffe_jwks_find(jwks, "tagged", 6));
    assert_null(spiffe_jwks_find(jwks, "ec", 2));
    spiffe_jwks_unref(jwks);

    free(j);
}


static void
test_jwt_bundles_fixture(void **state)
{
    char                          path[1024];
    long                          size;
    FILE                         *f;
    uint64_t                      seq;
    const char                   *dir, *err;
    spiffe_jwks_t                *jwks;
    unsigned char                *buf;
    const spiffe_jwk_t           *k;
    spiffe_jwt_bundles_t         *set;
    spiffe_pb_jwt_bundles_resp_t  resp;

    (void) state;

    dir = getenv("SPIFFE_FIXTURES");
    snprintf(path, sizeof(path), "%s/jwt_bundles_resp.bin",
             dir != NULL ? dir : FIXTURES);

    f = fopen(path, "rb");
    if (f == NULL) {
        fail_msg("cannot open %s (run from the repo root or set "
                 "SPIFFE_FIXTURES)", path);
    }

    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    size = ftell(f);
    assert_true(size > 0);
    rewind(f);
    buf = malloc(size);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, size, f), (size_t) size);
    fclose(f);

    assert_int_equal(spiffe_pb_decode_jwt_bundles_resp(buf, size, &resp,
                                                       &err),
                     0);

    set = spiffe_workload_jwt_bundles(&resp, &err);
    assert_non_null(set);

    jwks = spiffe_jwt_bundles_find(set, "example.org", 11);
    assert_non_null(jwks);

    k = spiffe_jwks_find(jwks, "fixture-key-1", 13);
    assert_non_null(k);
    assert_int_equal(k->type, SPIFFE_JWK_EC_P256);
    assert_int_equal(spiffe_jwks_sequence(jwks, &seq), 0);
    assert_int_equal(seq, 1);
    assert_int_equal(spiffe_jwks_refresh_hint(jwks), 300);

    spiffe_jwt_bundles_unref(set);
    spiffe_pb_free_jwt_bundles_resp(&resp);
    free(buf);
}


int
main(void)
{
    int                      rc;
    const struct CMUnitTest  address[] = {
        cmocka_unit_test(test_parse_address),
        cmocka_unit_test(test_parse_address_lengths),
        cmocka_unit_test(test_svid_choice),
    };
    const struct CMUnitTest  x509[] = {
        cmocka_unit_test(test_first_svid),
        cmocka_unit_test(test_hint),
        cmocka_unit_test(test_other_svids),
        cmocka_unit_test(test_bad_svid),
        cmocka_unit_test(test_federated),
        cmocka_unit_test(test_federated_empty),
    };
    const struct CMUnitTest  jwt[] = {
        cmocka_unit_test(test_jwt_bundles),
        cmocka_unit_test(test_jwt_bundles_form),
        cmocka_unit_test(test_jwt_bundles_fixture),
    };

    rc = cmocka_run_group_tests_name("spiffe_workload", address, NULL, NULL);
    rc += cmocka_run_group_tests_name("spiffe_workload X.509", x509, setup,
                                      teardown);
    rc += cmocka_run_group_tests_name("spiffe_workload JWT", jwt, keys_setup,
                                      keys_teardown);

    return rc;
}
