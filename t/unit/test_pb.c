/*
 * Copyright (C) ngx_spiffe developers
 */


#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <spiffe_pb.h>


/* fixtures are read from $SPIFFE_FIXTURES, else relative to the repo root */
#define FIXTURES  "t/unit/fixtures"


typedef struct {
    unsigned char  *data;
    size_t          len;
} fixture_t;


static void
fixture_load(const char *name, fixture_t *fx)
{
    char        path[1024];
    long        size;
    FILE       *f;
    const char  *dir;

    dir = getenv("SPIFFE_FIXTURES");
    if (dir == NULL) {
        dir = FIXTURES;
    }

    snprintf(path, sizeof(path), "%s/%s", dir, name);

    f = fopen(path, "rb");
    if (f == NULL) {
        fail_msg("cannot open %s (run from the repo root or set "
                 "SPIFFE_FIXTURES)", path);
    }

    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    size = ftell(f);
    assert_true(size > 0);
    rewind(f);

    fx->data = malloc(size);
    assert_non_null(fx->data);
    fx->len = size;

    assert_int_equal(fread(fx->data, 1, size, f), (size_t) size);
    fclose(f);
}


static int
bytes_eq(const spiffe_bytes_t *b, const char *s)
{
    size_t  len;

    len = strlen(s);

    return b->len == len && (len == 0 || memcmp(b->data, s, len) == 0);
}


static int
bytes_within(const spiffe_bytes_t *b, const fixture_t *fx)
{
    return b->data >= fx->data && b->data + b->len <= fx->data + fx->len;
}


static int
bytes_contains(const spiffe_bytes_t *b, const char *s)
{
    size_t  i, len;

    len = strlen(s);

    for (i = 0; i + len <= b->len; i++) {
        if (memcmp(b->data + i, s, len) == 0) {
            return 1;
        }
    }

    return 0;
}


/* the number of concatenated DER SEQUENCEs, 0 if anything else is there */

static size_t
der_count(const spiffe_bytes_t *b)
{
    size_t  i, n, len, k;

    for (i = 0, n = 0; i < b->len; n++) {

        if (b->len - i < 2 || b->data[i] != 0x30) {
            return 0;
        }

        len = b->data[i + 1];
        i += 2;

        if (len & 0x80) {
            k = len & 0x7f;

            if (k > 3 || b->len - i < k) {
                return 0;
            }

            for (len = 0; k > 0; k--) {
                len = (len << 8) | b->data[i++];
            }
        }

        if (b->len - i < len) {
            return 0;
        }

        i += len;
    }

    return n;
}


static void
test_fixture_x509_svid_resp(void **state)
{
    fixture_t                    fx;
    const char                  *err;
    spiffe_pb_x509_svid_resp_t   r;

    (void) state;

    fixture_load("pb_x509_svid_resp.bin", &fx);

    assert_int_equal(spiffe_pb_decode_x509_svid_resp(fx.data, fx.len, &r,
                                                     &err), 0);

    assert_int_equal(r.nsvids, 2);
    assert_true(bytes_eq(&r.svids[0].spiffe_id, "spiffe://example.org/web"));
    assert_true(bytes_eq(&r.svids[0].hint, "web"));
    assert_int_equal(der_count(&r.svids[0].x509_svid), 2);
    assert_int_equal(der_count(&r.svids[0].x509_svid_key), 1);
    assert_int_equal(der_count(&r.svids[0].bundle), 1);
    assert_true(bytes_within(&r.svids[0].x509_svid, &fx));
    assert_true(bytes_within(&r.svids[0].x509_svid_key, &fx));

    assert_true(bytes_eq(&r.svids[1].spiffe_id, "spiffe://example.org/db"));
    assert_int_equal(r.svids[1].hint.len, 0);
    assert_int_equal(der_count(&r.svids[1].x509_svid), 1);
    assert_int_equal(der_count(&r.svids[1].bundle), 1);

    assert_int_equal(r.ncrls, 1);
    assert_int_equal(der_count(&r.crls[0]), 1);
    assert_int_equal(r.nbundles, 0);

    spiffe_pb_free_x509_svid_resp(&r);
    free(fx.data);
}


static void
test_fixture_x509_svid_resp_fed(void **state)
{
    fixture_t                    fx;
    const char                  *err;
    spiffe_pb_x509_svid_resp_t   r;

    (void) state;

    fixture_load("pb_x509_svid_resp_fed.bin", &fx);

    assert_int_equal(spiffe_pb_decode_x509_svid_resp(fx.data, fx.len, &r,
                                                     &err), 0);

    assert_int_equal(r.nsvids, 2);
    assert_int_equal(r.ncrls, 1);
    assert_int_equal(r.nbundles, 2);

    /* the runtime sorts map keys when asked to be deterministic */
    assert_true(bytes_eq(&r.bundles[0].key, "spiffe://other.org"));
    assert_int_equal(der_count(&r.bundles[0].value), 1);
    assert_true(bytes_within(&r.bundles[0].value, &fx));
    assert_true(bytes_eq(&r.bundles[1].key, "third.org"));
    assert_int_equal(r.bundles[1].value.len, 0);

    spiffe_pb_free_x509_svid_resp(&r);
    free(fx.data);
}


static void
test_fixture_future_fields(void **state)
{
    fixture_t                    fx;
    const char                  *err;
    spiffe_pb_x509_svid_resp_t   r;

    (void) state;

    fixture_load("pb_x509_svid_resp_future.bin", &fx);

    assert_int_equal(spiffe_pb_decode_x509_svid_resp(fx.data, fx.len, &r,
                                                     &err), 0);

    assert_int_equal(r.nsvids, 1);
    assert_true(bytes_eq(&r.svids[0].spiffe_id, "spiffe://example.org/web"));
    assert_true(bytes_eq(&r.svids[0].hint, "web"));
    assert_int_equal(der_count(&r.svids[0].x509_svid), 2);
    assert_int_equal(der_count(&r.svids[0].x509_svid_key), 1);
    assert_int_equal(der_count(&r.svids[0].bundle), 1);
    assert_int_equal(r.ncrls, 1);
    assert_int_equal(r.nbundles, 1);
    assert_true(bytes_eq(&r.bundles[0].key, "spiffe://other.org"));

    spiffe_pb_free_x509_svid_resp(&r);
    free(fx.data);
}


static void
test_fixture_x509_bundles_resp(void **state)
{
    fixture_t                       fx;
    const char                     *err;
    spiffe_pb_x509_bundles_resp_t   r;

    (void) state;

    fixture_load("pb_x509_bundles_resp.bin", &fx);

    assert_int_equal(spiffe_pb_decode_x509_bundles_resp(fx.data, fx.len, &r,
                                                        &err), 0);

    assert_int_equal(r.ncrls, 1);
    assert_int_equal(der_count(&r.crls[0]), 1);
    assert_int_equal(r.nbundles, 2);
    assert_true(bytes_eq(&r.bundles[0].key, "spiffe://example.org"));
    assert_int_equal(der_count(&r.bundles[0].value), 1);
    assert_true(bytes_eq(&r.bundles[1].key, "spiffe://other.org"));
    assert_int_equal(der_count(&r.bundles[1].value), 1);

    spiffe_pb_free_x509_bundles_resp(&r);
    free(fx.data);
}


static void
test_fixture_jwt_bundles_resp(void **state)
{
    fixture_t                      fx;
    const char                    *err;
    spiffe_pb_jwt_bundles_resp_t   r;

    (void) state;

    fixture_load("pb_jwt_bundles_resp.bin", &fx);

    assert_int_equal(spiffe_pb_decode_jwt_bundles_resp(fx.data, fx.len, &r,
                                                       &err), 0);

    assert_int_equal(r.nbundles, 1);
    assert_true(bytes_eq(&r.bundles[0].key, "spiffe://example.org"));
    assert_true(r.bundles[0].value.len > 20);
    assert_int_equal(r.bundles[0].value.data[0], '{');
    assert_int_equal(r.bundles[0].value.data[r.bundles[0].value.len - 1],
                     '}');

    spiffe_pb_free_jwt_bundles_resp(&r);
    free(fx.data);
}


static void
test_fixture_jwt_svid_resp(void **state)
{
    fixture_t                   fx;
    const char                 *err;
    spiffe_pb_jwt_svid_resp_t   r;

    (void) state;

    fixture_load("pb_jwt_svid_resp.bin", &fx);

    assert_int_equal(spiffe_pb_decode_jwt_svid_resp(fx.data, fx.len, &r,
                                                    &err), 0);

    assert_int_equal(r.nsvids, 1);
    assert_true(bytes_eq(&r.svids[0].spiffe_id, "spiffe://example.org/web"));
    assert_true(bytes_eq(&r.svids[0].svid, "eyJhbGciOiJFUzI1NiJ9.e30.c2ln"));
    assert_true(bytes_eq(&r.svids[0].hint, "web"));

    spiffe_pb_free_jwt_svid_resp(&r);
    free(fx.data);
}


static const spiffe_pb_entry_t *
entry_find(const spiffe_pb_entry_t *e, size_t n, const char *key)
{
    size_t  i;

    for (i = 0; i < n; i++) {
        if (bytes_eq(&e[i].key, key)) {
            return &e[i];
        }
    }

    return NULL;
}


/* captured from t/agent/agent.py by t/agent/capture.py */

static void
test_captured_x509_svid_resp(void **state)
{
    fixture_t                    fx;
    const char                  *err;
    spiffe_pb_x509_svid_resp_t   r;

    (void) state;

    fixture_load("x509_svid_resp.bin", &fx);

    assert_int_equal(spiffe_pb_decode_x509_svid_resp(fx.data, fx.len, &r,
                                                     &err), 0);

    assert_int_equal(r.nsvids, 1);
    assert_true(bytes_eq(&r.svids[0].spiffe_id,
                         "spiffe://example.org/nginx"));
    assert_int_equal(r.svids[0].hint.len, 0);
    assert_true(der_count(&r.svids[0].x509_svid) >= 1);
    assert_int_equal(der_count(&r.svids[0].x509_svid_key), 1);
    assert_true(der_count(&r.svids[0].bundle) >= 1);
    assert_int_equal(r.ncrls, 0);
    assert_int_equal(r.nbundles, 0);

    spiffe_pb_free_x509_svid_resp(&r);
    free(fx.data);
}


static void
test_captured_x509_svid_resp_fed(void **state)
{
    fixture_t                    fx;
    const char                  *err;
    const spiffe_pb_entry_t     *e;
    spiffe_pb_x509_svid_resp_t   r;

    (void) state;

    fixture_load("x509_svid_resp_fed.bin", &fx);

    assert_int_equal(spiffe_pb_decode_x509_svid_resp(fx.data, fx.len, &r,
                                                     &err), 0);

    assert_int_equal(r.nsvids, 2);
    assert_true(bytes_eq(&r.svids[0].spiffe_id,
                         "spiffe://example.org/nginx"));
    assert_true(bytes_eq(&r.svids[0].hint, "internal"));
    assert_true(bytes_eq(&r.svids[1].spiffe_id,
                         "spiffe://example.org/nginx-ext"));
    assert_true(bytes_eq(&r.svids[1].hint, "external"));
    assert_int_equal(der_count(&r.svids[1].x509_svid_key), 1);

    assert_int_equal(r.ncrls, 1);
    assert_int_equal(der_count(&r.crls[0]), 1);

    assert_int_equal(r.nbundles, 1);
    e = entry_find(r.bundles, r.nbundles, "spiffe://other.org");
    assert_non_null(e);
    assert_true(der_count(&e->value) >= 1);

    spiffe_pb_free_x509_svid_resp(&r);
    free(fx.data);
}


static void
test_captured_x509_bundles_resp(void **state)
{
    fixture_t                       fx;
    const char                     *err;
    const spiffe_pb_entry_t        *e;
    spiffe_pb_x509_bundles_resp_t   r;

    (void) state;

    fixture_load("x509_bundles_resp.bin", &fx);

    assert_int_equal(spiffe_pb_decode_x509_bundles_resp(fx.data, fx.len, &r,
                                                        &err), 0);

    assert_int_equal(r.ncrls, 1);
    assert_int_equal(der_count(&r.crls[0]), 1);
    assert_int_equal(r.nbundles, 2);

    e = entry_find(r.bundles, r.nbundles, "spiffe://example.org");
    assert_non_null(e);
    assert_true(der_count(&e->value) >= 1);

    e = entry_find(r.bundles, r.nbundles, "spiffe://other.org");
    assert_non_null(e);
    assert_true(der_count(&e->value) >= 1);

    spiffe_pb_free_x509_bundles_resp(&r);
    free(fx.data);
}


static void
test_captured_jwt_bundles_resp(void **state)
{
    fixture_t                      fx;
    const char                    *err;
    spiffe_pb_jwt_bundles_resp_t   r;

    (void) state;

    fixture_load("jwt_bundles_resp.bin", &fx);

    assert_int_equal(spiffe_pb_decode_jwt_bundles_resp(fx.data, fx.len, &r,
                                                       &err), 0);

    assert_int_equal(r.nbundles, 1);
    assert_true(bytes_eq(&r.bundles[0].key, "spiffe://example.org"));
    assert_int_equal(r.bundles[0].value.data[0], '{');
    assert_true(bytes_contains(&r.bundles[0].value,
                               "\"kid\":\"fixture-key-1\""));

    spiffe_pb_free_jwt_bundles_resp(&r);
    free(fx.data);
}


static void
test_encode_matches_runtime(void **state)
{
    size_t          len;
    fixture_t       fx;
    unsigned char  *out;
    spiffe_bytes_t  aud[2], id;

    (void) state;

    fixture_load("pb_jwt_svid_req.bin", &fx);

    aud[0].data = (const unsigned char *) "spiffe://example.org/api";
    aud[0].len = strlen("spiffe://example.org/api");
    aud[1].data = NULL;
    aud[1].len = 0;
    id.data = (const unsigned char *) "spiffe://example.org/web";
    id.len = strlen("spiffe://example.org/web");

    assert_int_equal(spiffe_pb_encode_jwt_svid_req(aud, 2, &id, &out, &len),
                     0);
    assert_int_equal(len, fx.len);
    assert_memory_equal(out, fx.data, len);

    free(out);
    free(fx.data);
}


static void
test_encode_edges(void **state)
{
    size_t          len;
    unsigned char  *out, big[300];
    spiffe_bytes_t  aud, id;

    (void) state;

    /* an empty request */

    assert_int_equal(spiffe_pb_encode_jwt_svid_req(NULL, 0, NULL, &out, &len),
                     0);
    assert_non_null(out);
    assert_int_equal(len, 0);
    free(out);

    id.data = NULL;
    id.len = 0;

    assert_int_equal(spiffe_pb_encode_jwt_svid_req(NULL, 0, &id, &out, &len),
                     0);
    assert_int_equal(len, 0);
    free(out);

    /* a length that needs a two-byte varint */

    memset(big, 'a', sizeof(big));
    aud.data = big;
    aud.len = sizeof(big);

    assert_int_equal(spiffe_pb_encode_jwt_svid_req(&aud, 1, NULL, &out, &len),
                     0);
    assert_int_equal(len, 3 + sizeof(big));
    assert_int_equal(out[0], 0x0a);
    assert_int_equal(out[1], 0xac);
    assert_int_equal(out[2], 0x02);
    assert_memory_equal(out + 3, big, sizeof(big));
    free(out);
}


#define DECODE_X509(m, r, err)                                               \
    spiffe_pb_decode_x509_svid_resp(m, sizeof(m), r, err)

#define EXPECT_X509_ERROR(m, reason)                                         \
    do {                                                                     \
        spiffe_pb_x509_svid_resp_t  r_;                                      \
        const char                 *err_ = NULL;                             \
                                                                             \
        assert_int_equal(DECODE_X509(m, &r_, &err_), -1);                    \
        assert_non_null(err_);                                               \
        assert_string_equal(err_, reason);                                   \
        assert_null(r_.svids);                                               \
        assert_null(r_.crls);                                                \
        assert_null(r_.bundles);                                             \
        assert_int_equal(r_.nsvids + r_.ncrls + r_.nbundles, 0);             \
    } while (0)


static void
test_empty(void **state)
{
    const char                     *err;
    spiffe_pb_jwt_svid_resp_t       js;
    spiffe_pb_x509_svid_resp_t      r;
    spiffe_pb_jwt_bundles_resp_t    jb;
    spiffe_pb_x509_bundles_resp_t   b;

    (void) state;

    assert_int_equal(spiffe_pb_decode_x509_svid_resp(NULL, 0, &r, &err), 0);
    assert_int_equal(r.nsvids + r.ncrls + r.nbundles, 0);
    spiffe_pb_free_x509_svid_resp(&r);

    assert_int_equal(spiffe_pb_decode_x509_bundles_resp(NULL, 0, &b, &err), 0);
    spiffe_pb_free_x509_bundles_resp(&b);

    assert_int_equal(spiffe_pb_decode_jwt_svid_resp(NULL, 0, &js, &err), 0);
    spiffe_pb_free_jwt_svid_resp(&js);

    assert_int_equal(spiffe_pb_decode_jwt_bundles_resp(NULL, 0, &jb, &err), 0);
    spiffe_pb_free_jwt_bundles_resp(&jb);
}


static void
test_varints(void **state)
{
    const char                  *err;
    spiffe_pb_x509_svid_resp_t   r;

    /* field 9 (unknown) as a varint */
    static const unsigned char  trunc_tag[] = { 0x80 };
    static const unsigned char  trunc_val[] = { 0x48, 0xff, 0xff };
    static const unsigned char  trunc_len[] = { 0x12, 0x80 };
    static const unsigned char  overlong[] = {
        0x48, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x80, 0x01
    };
    static const unsigned char  overflow[] = {
        0x48, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02
    };
    static const unsigned char  max[] = {
        0x48, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,
        0x12, 0x01, 'c'
    };
    static const unsigned char  padded[] = {
        0x48, 0x80, 0x80, 0x00, 0x92, 0x80, 0x00, 0x81, 0x00, 'c'
    };
    static const unsigned char  tag_over_32[] = {
        0x80, 0x80, 0x80, 0x80, 0x10, 0x00
    };
    static const unsigned char  max_field[] = {
        0xf8, 0xff, 0xff, 0xff, 0x0f, 0x00, 0x12, 0x00
    };

    (void) state;

    EXPECT_X509_ERROR(trunc_tag, "truncated varint");
    EXPECT_X509_ERROR(trunc_val, "truncated varint");
    EXPECT_X509_ERROR(trunc_len, "truncated varint");
    EXPECT_X509_ERROR(overlong, "varint longer than 10 bytes");
    EXPECT_X509_ERROR(overflow, "varint overflows 64 bits");
    EXPECT_X509_ERROR(tag_over_32, "field number out of range");

    assert_int_equal(DECODE_X509(max, &r, &err), 0);
    assert_int_equal(r.ncrls, 1);
    assert_true(bytes_eq(&r.crls[0], "c"));
    spiffe_pb_free_x509_svid_resp(&r);

    /* non-minimal varints are valid protobuf, as long as they fit 10 bytes */

    assert_int_equal(DECODE_X509(padded, &r, &err), 0);
    assert_int_equal(r.ncrls, 1);
    assert_true(bytes_eq(&r.crls[0], "c"));
    spiffe_pb_free_x509_svid_resp(&r);

    assert_int_equal(DECODE_X509(max_field, &r, &err), 0);
    assert_int_equal(r.ncrls, 1);
    assert_int_equal(r.crls[0].len, 0);
    spiffe_pb_free_x509_svid_resp(&r);
}


static void
test_lengths(void **state)
{
    static const unsigned char  past[] = { 0x12, 0x05, 'a', 'b' };
    static const unsigned char  huge[] = {
        0x12, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 'a'
    };
    static const unsigned char  unknown_past[] = { 0x5a, 0x02, 'a' };
    static const unsigned char  i64_short[] = { 0x51, 1, 2, 3, 4, 5, 6, 7 };
    static const unsigned char  i32_short[] = { 0x65, 1, 2, 3 };

    (void) state;

    EXPECT_X509_ERROR(past, "length past the end of the message");
    EXPECT_X509_ERROR(huge, "length past the end of the message");
    EXPECT_X509_ERROR(unknown_past, "length past the end of the message");
    EXPECT_X509_ERROR(i64_short, "truncated 64-bit field");
    EXPECT_X509_ERROR(i32_short, "truncated 32-bit field");
}


static void
test_unknown_fields_skipped(void **state)
{
    const char                  *err;
    spiffe_pb_x509_svid_resp_t   r;

    static const unsigned char  m[] = {
        0x48, 0x96, 0x01,                               /* 9: varint */
        0x12, 0x01, 'x',                                /* crl */
        0x51, 1, 2, 3, 4, 5, 6, 7, 8,                   /* 10: i64 */
        0x5a, 0x03, 0x12, 0x01, 'y',                    /* 11: LEN */
        0x65, 1, 2, 3, 4,                               /* 12: i32 */
        0x0a, 0x1c,                                     /* svid */
              0x30, 0x01,                               /* 6: varint */
              0x0a, 0x03, 's', 'i', 'd',                /* spiffe_id */
              0x39, 1, 2, 3, 4, 5, 6, 7, 8,             /* 7: i64 */
              0x42, 0x02, 0x0a, 0x00,                   /* 8: LEN */
              0x4d, 1, 2, 3, 4,                         /* 9: i32 */
              0x2a, 0x01, 'h',                          /* hint */
        0x1a, 0x0b,                                     /* bundle entry */
              0x0a, 0x02, 't', 'd',
              0x18, 0x05,                               /* 3: varint */
              0x25, 1, 2, 3, 4,                         /* 4: i32 */
        0xfa, 0x01, 0x00                                /* 31: empty LEN */
    };

    (void) state;

    assert_int_equal(DECODE_X509(m, &r, &err), 0);

    assert_int_equal(r.ncrls, 1);
    assert_true(bytes_eq(&r.crls[0], "x"));
    assert_int_equal(r.nsvids, 1);
    assert_true(bytes_eq(&r.svids[0].spiffe_id, "sid"));
    assert_true(bytes_eq(&r.svids[0].hint, "h"));
    assert_int_equal(r.svids[0].x509_svid.len, 0);
    assert_null(r.svids[0].x509_svid.data);
    assert_int_equal(r.nbundles, 1);
    assert_true(bytes_eq(&r.bundles[0].key, "td"));
    assert_int_equal(r.bundles[0].value.len, 0);

    spiffe_pb_free_x509_svid_resp(&r);
}


static void
test_bad_wire_types(void **state)
{
    static const unsigned char  sgroup[] = { 0x4b, 0x4c };
    static const unsigned char  egroup[] = { 0x4c };
    static const unsigned char  wt6[] = { 0x4e, 0x00 };
    static const unsigned char  wt7[] = { 0x4f, 0x00 };
    static const unsigned char  field0[] = { 0x02, 0x00 };
    static const unsigned char  field0_varint[] = { 0x00, 0x00 };
    static const unsigned char  svids_varint[] = { 0x08, 0x01 };
    static const unsigned char  crl_i32[] = { 0x15, 1, 2, 3, 4 };
    static const unsigned char  map_i64[] = {
        0x19, 1, 2, 3, 4, 5, 6, 7, 8
    };
    static const unsigned char  svid_field_varint[] = {
        0x0a, 0x02, 0x10, 0x01
    };
    static const unsigned char  entry_key_varint[] = {
        0x1a, 0x02, 0x08, 0x01
    };
    static const unsigned char  group_in_svid[] = {
        0x0a, 0x02, 0x33, 0x34
    };

    (void) state;

    EXPECT_X509_ERROR(sgroup, "group wire type");
    EXPECT_X509_ERROR(egroup, "group wire type");
    EXPECT_X509_ERROR(wt6, "invalid wire type");
    EXPECT_X509_ERROR(wt7, "invalid wire type");
    EXPECT_X509_ERROR(field0, "field number 0");
    EXPECT_X509_ERROR(field0_varint, "field number 0");
    EXPECT_X509_ERROR(svids_varint, "wrong wire type for a known field");
    EXPECT_X509_ERROR(crl_i32, "wrong wire type for a known field");
    EXPECT_X509_ERROR(map_i64, "wrong wire type for a known field");
    EXPECT_X509_ERROR(svid_field_varint, "wrong wire type for a known field");
    EXPECT_X509_ERROR(entry_key_varint, "wrong wire type for a known field");
    EXPECT_X509_ERROR(group_in_svid, "group wire type");
}


static void
test_nested_truncated(void **state)
{
    /* the svid fits in the response; its spiffe_id does not fit the svid */
    static const unsigned char  svid[] = {
        0x0a, 0x04, 0x0a, 0x05, 'a', 'b', 0x12, 0x01, 'c'
    };
    static const unsigned char  svid_varint[] = {
        0x0a, 0x01, 0x80, 0x12, 0x01, 'c'
    };
    static const unsigned char  entry[] = {
        0x12, 0x01, 'c', 0x1a, 0x03, 0x0a, 0x03, 'a', 'b', 'c'
    };
    /* a valid svid first, then a broken one: nothing must leak */
    static const unsigned char  second[] = {
        0x0a, 0x03, 0x0a, 0x01, 'a',
        0x0a, 0x02, 0x12, 0x07
    };

    (void) state;

    EXPECT_X509_ERROR(svid, "length past the end of the message");
    EXPECT_X509_ERROR(svid_varint, "truncated varint");
    EXPECT_X509_ERROR(entry, "length past the end of the message");
    EXPECT_X509_ERROR(second, "length past the end of the message");
}


static void
test_map_entries(void **state)
{
    const char                     *err;
    spiffe_pb_x509_bundles_resp_t   r;

    static const unsigned char  m[] = {
        0x12, 0x05, 0x0a, 0x03, 'a', 'b', 'c',          /* no value */
        0x12, 0x03, 0x12, 0x01, 'v',                    /* no key */
        0x12, 0x00,                                     /* neither */
        0x12, 0x09, 0x12, 0x01, '1', 0x0a, 0x01, 'k',   /* out of order, */
              0x12, 0x01, '2',                          /* value twice */
        0x0a, 0x01, 'r'
    };

    (void) state;

    assert_int_equal(spiffe_pb_decode_x509_bundles_resp(m, sizeof(m), &r,
                                                        &err), 0);

    assert_int_equal(r.nbundles, 4);
    assert_true(bytes_eq(&r.bundles[0].key, "abc"));
    assert_int_equal(r.bundles[0].value.len, 0);
    assert_int_equal(r.bundles[1].key.len, 0);
    assert_true(bytes_eq(&r.bundles[1].value, "v"));
    assert_int_equal(r.bundles[2].key.len, 0);
    assert_int_equal(r.bundles[2].value.len, 0);
    assert_true(bytes_eq(&r.bundles[3].key, "k"));
    assert_true(bytes_eq(&r.bundles[3].value, "2"));
    assert_int_equal(r.ncrls, 1);
    assert_true(bytes_eq(&r.crls[0], "r"));

    spiffe_pb_free_x509_bundles_resp(&r);
}


static void
test_last_value_wins(void **state)
{
    const char                  *err;
    spiffe_pb_jwt_svid_resp_t    js;
    spiffe_pb_x509_svid_resp_t   r;

    static const unsigned char  x[] = {
        0x0a, 0x0b,
              0x0a, 0x01, 'a', 0x2a, 0x01, 'h', 0x0a, 0x01, 'b',
              0x2a, 0x00
    };
    static const unsigned char  j[] = {
        0x0a, 0x0c,
              0x12, 0x01, 't', 0x0a, 0x01, 'a', 0x12, 0x02, 't', 't',
              0x1a, 0x00,
        0x0a, 0x00
    };

    (void) state;

    assert_int_equal(DECODE_X509(x, &r, &err), 0);
    assert_int_equal(r.nsvids, 1);
    assert_true(bytes_eq(&r.svids[0].spiffe_id, "b"));
    assert_int_equal(r.svids[0].hint.len, 0);
    assert_non_null(r.svids[0].hint.data);
    spiffe_pb_free_x509_svid_resp(&r);

    assert_int_equal(spiffe_pb_decode_jwt_svid_resp(j, sizeof(j), &js, &err),
                     0);
    assert_int_equal(js.nsvids, 2);
    assert_true(bytes_eq(&js.svids[0].spiffe_id, "a"));
    assert_true(bytes_eq(&js.svids[0].svid, "tt"));
    assert_int_equal(js.svids[0].hint.len, 0);
    assert_int_equal(js.svids[1].spiffe_id.len, 0);
    spiffe_pb_free_jwt_svid_resp(&js);
}


static void
test_jwt_errors(void **state)
{
    const char                    *err;
    spiffe_pb_jwt_svid_resp_t      js;
    spiffe_pb_jwt_bundles_resp_t   jb;

    static const unsigned char  svid_varint[] = { 0x08, 0x00 };
    static const unsigned char  svid_field[] = { 0x0a, 0x02, 0x10, 0x00 };
    static const unsigned char  bundle_i32[] = { 0x0d, 1, 2, 3, 4 };
    static const unsigned char  bundle_unknown[] = {
        0x12, 0x01, 'x', 0x0a, 0x03, 0x0a, 0x01, 'k'
    };

    (void) state;

    assert_int_equal(spiffe_pb_decode_jwt_svid_resp(svid_varint,
                                                    sizeof(svid_varint), &js,
                                                    &err), -1);
    assert_string_equal(err, "wrong wire type for a known field");
    assert_null(js.svids);

    assert_int_equal(spiffe_pb_decode_jwt_svid_resp(svid_field,
                                                    sizeof(svid_field), &js,
                                                    &err), -1);
    assert_string_equal(err, "wrong wire type for a known field");

    assert_int_equal(spiffe_pb_decode_jwt_bundles_resp(bundle_i32,
                                                       sizeof(bundle_i32), &jb,
                                                       &err), -1);
    assert_string_equal(err, "wrong wire type for a known field");
    assert_null(jb.bundles);

    assert_int_equal(spiffe_pb_decode_jwt_bundles_resp(bundle_unknown,
                                                       sizeof(bundle_unknown),
                                                       &jb, &err), 0);
    assert_int_equal(jb.nbundles, 1);
    assert_true(bytes_eq(&jb.bundles[0].key, "k"));
    spiffe_pb_free_jwt_bundles_resp(&jb);
}


static void
test_many_repeated(void **state)
{
    size_t                          i, n, len;
    const char                     *err;
    unsigned char                  *m, *p;
    spiffe_pb_x509_svid_resp_t      r;
    spiffe_pb_x509_bundles_resp_t   b;

    (void) state;

    n = 100000;
    len = n * 2 + n * 5 + n * 2;

    m = malloc(len);
    assert_non_null(m);

    /* interleaved: an empty crl, an svid with a one-byte hint, an entry */

    for (i = 0, p = m; i < n; i++) {
        *p++ = 0x12;
        *p++ = 0x00;
        *p++ = 0x0a;
        *p++ = 0x03;
        *p++ = 0x2a;
        *p++ = 0x01;
        *p++ = (unsigned char) ('a' + i % 26);
        *p++ = 0x1a;
        *p++ = 0x00;
    }

    assert_int_equal(spiffe_pb_decode_x509_svid_resp(m, len, &r, &err), 0);
    assert_int_equal(r.ncrls, n);
    assert_int_equal(r.nsvids, n);
    assert_int_equal(r.nbundles, n);

    for (i = 0; i < n; i++) {
        assert_int_equal(r.svids[i].hint.len, 1);
        assert_int_equal(r.svids[i].hint.data[0], 'a' + i % 26);
        assert_ptr_equal(r.svids[i].hint.data, m + i * 9 + 6);
    }

    spiffe_pb_free_x509_svid_resp(&r);

    /* every count around the powers of two where the arrays grow */

    for (i = 0, p = m; i < 1025; i++) {
        *p++ = 0x0a;
        *p++ = 0x00;
    }

    for (n = 1; n <= 1025; n++) {
        assert_int_equal(spiffe_pb_decode_x509_bundles_resp(m, n * 2, &b,
                                                            &err), 0);
        assert_int_equal(b.ncrls, n);
        assert_int_equal(b.nbundles, 0);
        spiffe_pb_free_x509_bundles_resp(&b);
    }

    free(m);
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_fixture_x509_svid_resp),
        cmocka_unit_test(test_fixture_x509_svid_resp_fed),
        cmocka_unit_test(test_fixture_future_fields),
        cmocka_unit_test(test_fixture_x509_bundles_resp),
        cmocka_unit_test(test_fixture_jwt_bundles_resp),
        cmocka_unit_test(test_fixture_jwt_svid_resp),
        cmocka_unit_test(test_captured_x509_svid_resp),
        cmocka_unit_test(test_captured_x509_svid_resp_fed),
        cmocka_unit_test(test_captured_x509_bundles_resp),
        cmocka_unit_test(test_captured_jwt_bundles_resp),
        cmocka_unit_test(test_encode_matches_runtime),
        cmocka_unit_test(test_encode_edges),
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_varints),
        cmocka_unit_test(test_lengths),
        cmocka_unit_test(test_unknown_fields_skipped),
        cmocka_unit_test(test_bad_wire_types),
        cmocka_unit_test(test_nested_truncated),
        cmocka_unit_test(test_map_entries),
        cmocka_unit_test(test_last_value_wins),
        cmocka_unit_test(test_jwt_errors),
        cmocka_unit_test(test_many_repeated),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
