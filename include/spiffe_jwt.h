
/*
 * Copyright (C) ngx_spiffe developers
 */


#ifndef _SPIFFE_JWT_H_INCLUDED_
#define _SPIFFE_JWT_H_INCLUDED_


#include <stddef.h>
#include <time.h>

#include <spiffe_jwks.h>


/* longer tokens are refused unparsed */
#define SPIFFE_JWT_MAX_LEN   16384

/* seconds allowed for clock skew on exp, nbf and iat */
#define SPIFFE_JWT_LEEWAY    60


/* a verified JWT-SVID; the strings are malloc()ed and NUL-terminated */

typedef struct {
    char        *id;            /* sub, a SPIFFE ID with a path */
    size_t       id_len;
    size_t       td_off;        /* the trust domain in id */
    size_t       td_len;
    size_t       path_off;      /* the path in id, "/..." */
    size_t       path_len;
    time_t       exp;
    char        *claims;        /* compact JSON, keys sorted */
    size_t       claims_len;
} spiffe_jwt_svid_t;


/*
 * A JWT-SVID (compact JWS) against the JWT bundle of its subject's trust
 * domain, at the time now, for one of the audiences (at least one is
 * required).  Returns 0 and fills out, or -1 with *err set to a short
 * static reason, e.g. "alg not allowed", and out zeroed.  OpenSSL's error
 * queue is left as it was found.
 */
int spiffe_jwt_validate(const char *token, size_t len,
    const spiffe_jwt_bundles_t *bundles, const char *const *audiences,
    const size_t *aud_lens, size_t naudiences, time_t now,
    spiffe_jwt_svid_t *out, const char **err);

/* frees what out holds, not out itself; zeroes it */
void spiffe_jwt_svid_free(spiffe_jwt_svid_t *svid);

/*
 * The "exp" of a JWT-SVID, NOT verified: only to know when our own token,
 * fresh from the Workload API, needs renewing.
 */
int spiffe_jwt_peek_exp(const char *token, size_t len, time_t *exp,
    const char **err);


#endif /* _SPIFFE_JWT_H_INCLUDED_ */
