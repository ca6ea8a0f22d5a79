
/*
 * Copyright (C) ngx_spiffe developers
 */


#ifndef _SPIFFE_TDSET_H_INCLUDED_
#define _SPIFFE_TDSET_H_INCLUDED_


#include <stddef.h>


/*
 * A set keyed by trust domain: an array of elements of one size, each
 * starting with the members of spiffe_td_key_t, sorted once and then
 * searched by name.
 */

typedef struct {
    const char  *td;                    /* without "spiffe://" */
    size_t       td_len;
} spiffe_td_key_t;


/*
 * The order of the set: by length first, then bytes; a total order is
 * all the search needs, and most names differ in length.
 */
int spiffe_td_cmp(const char *a, size_t alen, const char *b, size_t blen);

/* sorts the set; -1 when a trust domain is in it twice */
int spiffe_tdset_sort(void *elts, size_t n, size_t size);

/* the element of a trust domain in a sorted set, or NULL */
void *spiffe_tdset_find(const void *elts, size_t n, size_t size,
    const char *td, size_t td_len);

/* the first element of a trust domain in an array not sorted, or NULL */
void *spiffe_tdset_lfind(const void *elts, size_t n, size_t size,
    const char *td, size_t td_len);


#endif /* _SPIFFE_TDSET_H_INCLUDED_ */
