
/*
 * Copyright (C) ngx_spiffe developers
 */


#include <stdlib.h>
#include <string.h>

#include <spiffe_tdset.h>


static int spiffe_tdset_cmp(const void *a, const void *b);


int
spiffe_td_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
    if (alen != blen) {
        return (alen < blen) ? -1 : 1;
    }

    return memcmp(a, b, alen);
}


int
spiffe_tdset_sort(void *elts, size_t n, size_t size)
{
    size_t          i;
    unsigned char  *p;

    if (n < 2) {
        return 0;
    }

    qsort(elts, n, size, spiffe_tdset_cmp);

    p = elts;

    for (i = 1; i < n; i++) {
        if (spiffe_tdset_cmp(p + (i - 1) * size, p + i * size) == 0) {
            return -1;
        }
    }

    return 0;
}


void *
spiffe_tdset_find(const void *elts, size_t n, size_t size, const char *td,
    size_t td_len)
{
    int                     rc;
    size_t                  lo, hi, mid;
    const unsigned char    *p;
    const spiffe_td_key_t  *key;

    p = elts;
    lo = 0;
    hi = n;

    while (lo < hi) {
        mid = lo + (hi - lo) / 2;
        key = (const spiffe_td_key_t *) (p + mid * size);

        rc = spiffe_td_cmp(td, td_len, key->td, key->td_len);
        if (rc == 0) {
            return (void *) key;
        }

        if (rc < 0) {
            hi = mid;

        } else {
            lo = mid + 1;
        }
    }

    return NULL;
}


void *
spiffe_tdset_lfind(const void *elts, size_t n, size_t size, const char *td,
    size_t td_len)
{
    size_t                  i;
    const unsigned char    *p;
    const spiffe_td_key_t  *key;

    p = elts;

    for (i = 0; i < n; i++) {
        key = (const spiffe_td_key_t *) (p + i * size);

        if (spiffe_td_cmp(td, td_len, key->td, key->td_len) == 0) {
            return (void *) key;
        }
    }

    return NULL;
}


static int
spiffe_tdset_cmp(const void *a, const void *b)
{
    const spiffe_td_key_t  *ka, *kb;

    ka = a;
    kb = b;

    return spiffe_td_cmp(ka->td, ka->td_len, kb->td, kb->td_len);
}
