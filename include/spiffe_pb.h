
/*
 * Copyright (C) ngx_spiffe developers
 */


#ifndef _SPIFFE_PB_H_INCLUDED_
#define _SPIFFE_PB_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>


/*
 * The Workload API messages, decoded without copying: every spiffe_bytes_t
 * points into the buffer that was decoded, which must outlive the result.
 * Only the arrays are allocated; the *_free() functions release them.
 */

typedef struct {
    const unsigned char  *data;
    size_t                len;
} spiffe_bytes_t;


typedef struct {
    spiffe_bytes_t        key;
    spiffe_bytes_t        value;
} spiffe_pb_entry_t;


typedef struct {
    spiffe_bytes_t        spiffe_id;
    spiffe_bytes_t        x509_svid;        /* DER certificates, leaf first */
    spiffe_bytes_t        x509_svid_key;    /* PKCS#8 DER */
    spiffe_bytes_t        bundle;           /* DER CA certificates */
    spiffe_bytes_t        hint;
} spiffe_pb_x509_svid_t;


typedef struct {
    spiffe_pb_x509_svid_t  *svids;
    size_t                  nsvids;
    spiffe_bytes_t         *crls;
    size_t                  ncrls;
    spiffe_pb_entry_t      *bundles;        /* federated_bundles */
    size_t                  nbundles;
} spiffe_pb_x509_svid_resp_t;


typedef struct {
    spiffe_bytes_t         *crls;
    size_t                  ncrls;
    spiffe_pb_entry_t      *bundles;
    size_t                  nbundles;
} spiffe_pb_x509_bundles_resp_t;


typedef struct {
    spiffe_bytes_t          spiffe_id;
    spiffe_bytes_t          svid;           /* compact JWS */
    spiffe_bytes_t          hint;
} spiffe_pb_jwt_svid_t;


typedef struct {
    spiffe_pb_jwt_svid_t   *svids;
    size_t                  nsvids;
} spiffe_pb_jwt_svid_resp_t;


typedef struct {
    spiffe_pb_entry_t      *bundles;        /* trust domain -> JWKS JSON */
    size_t                  nbundles;
} spiffe_pb_jwt_bundles_resp_t;


/*
 * Decoders return 0 on success, -1 on malformed input with *err set to a
 * static reason; on failure nothing needs to be freed.
 */

int spiffe_pb_decode_x509_svid_resp(const unsigned char *buf, size_t len,
    spiffe_pb_x509_svid_resp_t *resp, const char **err);
void spiffe_pb_free_x509_svid_resp(spiffe_pb_x509_svid_resp_t *resp);

int spiffe_pb_decode_x509_bundles_resp(const unsigned char *buf, size_t len,
    spiffe_pb_x509_bundles_resp_t *resp, const char **err);
void spiffe_pb_free_x509_bundles_resp(spiffe_pb_x509_bundles_resp_t *resp);

int spiffe_pb_decode_jwt_svid_resp(const unsigned char *buf, size_t len,
    spiffe_pb_jwt_svid_resp_t *resp, const char **err);
void spiffe_pb_free_jwt_svid_resp(spiffe_pb_jwt_svid_resp_t *resp);

int spiffe_pb_decode_jwt_bundles_resp(const unsigned char *buf, size_t len,
    spiffe_pb_jwt_bundles_resp_t *resp, const char **err);
void spiffe_pb_free_jwt_bundles_resp(spiffe_pb_jwt_bundles_resp_t *resp);

/*
 * JWTSVIDRequest: returns a malloc()ed encoding in *out (free() it), or -1
 * when out of memory.
 */

int spiffe_pb_encode_jwt_svid_req(const spiffe_bytes_t *audiences,
    size_t naudiences, const spiffe_bytes_t *spiffe_id, unsigned char **out,
    size_t *out_len);


#endif /* _SPIFFE_PB_H_INCLUDED_ */
