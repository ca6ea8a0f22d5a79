
/*
 * Copyright (C) ngx_spiffe developers
 */


#ifndef _SPIFFE_WORKLOAD_H_INCLUDED_
#define _SPIFFE_WORKLOAD_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <spiffe_pb.h>
#include <spiffe_grpc.h>
#include <spiffe_snapshot.h>
#include <spiffe_jwks.h>


/*
 * The Workload API as a workload sees it: where the agent listens, and
 * what its messages mean as snapshots and JWT bundle sets.  Functions
 * returning int return 0 or -1, the others NULL on failure; on failure
 * *err points to a short static reason.
 */

/*
 * An address as SPIFFE_ENDPOINT_SOCKET gives it: "unix:/p", "unix:///p"
 * or "tcp://IP:PORT"; addr may be NULL to check the address only.
 */
int spiffe_workload_parse_address(const char *s, size_t len,
    spiffe_grpc_addr_t *addr, const char **err);

/*
 * The SVID of a response that a workload uses: the first one, or the
 * first whose hint is hint when hint_len is not 0; NULL when there is
 * none.
 */
const spiffe_pb_x509_svid_t *spiffe_workload_x509_svid(
    const spiffe_pb_x509_svid_resp_t *resp, const char *hint,
    size_t hint_len);
const spiffe_pb_jwt_svid_t *spiffe_workload_jwt_svid(
    const spiffe_pb_jwt_svid_resp_t *resp, const char *hint,
    size_t hint_len);

/*
 * An X509SVIDResponse as a snapshot: the SVID of spiffe_workload_x509_svid()
 * is the snapshot's SVID, and the others are kept for
 * spiffe_snapshot_find_svid(); its bundle is the bundle of its trust
 * domain, federated bundles are keyed "spiffe://td" or "td"; an empty one
 * names a trust domain without an X.509 authority
 * (spiffe_snapshot_no_x509()).
 */
spiffe_snapshot_t *spiffe_workload_x509_snapshot(
    const spiffe_pb_x509_svid_resp_t *resp, const char *hint,
    size_t hint_len, uint64_t version, time_t now, const char **err);

/*
 * A JWTBundlesResponse as a set (each bundle read with
 * spiffe_jwks_parse_jwt_bundle()): one bad trust domain or one bundle that
 * is not a bundle refuses the whole message, so that the caller keeps its
 * last good set.  A trust domain repeated in the map: the last entry wins,
 * as protobuf wants for maps.
 */
spiffe_jwt_bundles_t *spiffe_workload_jwt_bundles(
    const spiffe_pb_jwt_bundles_resp_t *resp, const char **err);


#endif /* _SPIFFE_WORKLOAD_H_INCLUDED_ */
