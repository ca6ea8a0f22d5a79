/*
 * Copyright (C) ngx_spiffe developers
 */


/*
 * A Workload API JWTBundlesResponse made into a set of JWT bundles: the
 * input is decoded, then spiffe_workload_jwt_bundles().  Properties:
 * the set is sorted (shortest trust domain first, then by bytes), has no
 * two alike, each bundle is found by its trust domain, and the error
 * queue of OpenSSL is left empty.
 */

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>

#include <spiffe_id.h>
#include <spiffe_pb.h>
#include <spiffe_jwks.h>
#include <spiffe_jwt.h>
#include <spiffe_workload.h>

#include "fuzz.h"


static void
fuzz_resp(const uint8_t *data, size_t size)
{
    size_t                        i, n;
    const char                   *err;
    spiffe_jwks_t                *jwks;
    spiffe_jwt_bundles_t         *set;
    spiffe_pb_jwt_bundles_resp_t  resp;
    const spiffe_jwt_bundle_t    *b, *prev;

    if (spiffe_pb_decode_jwt_bundles_resp(data, size, &resp, &err) != 0) {
        return;
    }

    err = NULL;
    set = spiffe_workload_jwt_bundles(&resp, &err);
    FUZZ_CHECK_ERR();

    if (set == NULL) {
        FUZZ_CHECK(err != NULL);
        spiffe_pb_free_jwt_bundles_resp(&resp);
        return;
    }

    n = spiffe_jwt_bundles_count(set);
    FUZZ_CHECK(n <= resp.nbundles);

    for (i = 0, prev = NULL; i < n; i++, prev = b) {
        b = spiffe_jwt_bundles_get(set, i);
        FUZZ_CHECK(b != NULL && b->jwks != NULL);
        FUZZ_CHECK(spiffe_td_parse(b->td, b->td_len, &err) == 0);

        jwks = spiffe_jwt_bundles_find(set, b->td, b->td_len);
        FUZZ_CHECK(jwks == b->jwks);

        /* shortest first, then by bytes, no two alike */

        FUZZ_CHECK(prev == NULL || prev->td_len < b->td_len
                   || (prev->td_len == b->td_len
                       && memcmp(prev->td, b->td, b->td_len) < 0));
    }

    FUZZ_CHECK(spiffe_jwt_bundles_get(set, n) == NULL);

    spiffe_jwt_bundles_unref(spiffe_jwt_bundles_ref(set));
    spiffe_jwt_bundles_unref(set);
    spiffe_pb_free_jwt_bundles_resp(&resp);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_run(fuzz_resp, data, size);
}
