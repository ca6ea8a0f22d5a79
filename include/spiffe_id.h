
/*
 * Copyright (C) ngx_spiffe developers
 */


#ifndef _SPIFFE_ID_H_INCLUDED_
#define _SPIFFE_ID_H_INCLUDED_


#include <stddef.h>

#include <spiffe_err.h>


#define SPIFFE_ID_MAX_LEN      2048
#define SPIFFE_TD_MAX_LEN      255
#define SPIFFE_SCHEME          "spiffe://"
#define SPIFFE_SCHEME_LEN      (sizeof(SPIFFE_SCHEME) - 1)


/* a parsed SPIFFE ID; both parts point into the parsed string */

typedef struct {
    const char  *td;
    size_t       td_len;
    const char  *path;        /* "" for the root ID, else "/a/b" */
    size_t       path_len;
} spiffe_id_t;


/*
 * All functions return SPIFFE_OK (0) on success and the reason's code on
 * failure, with *err pointing to its text, which reads after
 * "SPIFFE ID ...", e.g. "has a query".
 */

spiffe_err_t spiffe_id_parse(const char *s, size_t len, spiffe_id_t *id,
    const char **err);
spiffe_err_t spiffe_td_parse(const char *s, size_t len, const char **err);
spiffe_err_t spiffe_path_segment_valid(const char *s, size_t len,
    const char **err);

/*
 * A trust domain as configurations and Workload API maps name it, "td" or
 * "spiffe://td": *td and *td_len are the name without the scheme, within
 * s.  A lone "spiffe://" is read as a name, and refused.
 */
spiffe_err_t spiffe_td_from_string(const char *s, size_t len, const char **td,
    size_t *td_len, const char **err);


#endif /* _SPIFFE_ID_H_INCLUDED_ */
