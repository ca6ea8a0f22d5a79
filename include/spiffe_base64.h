
/*
 * Copyright (C) ngx_spiffe developers
 */


#ifndef _SPIFFE_BASE64_H_INCLUDED_
#define _SPIFFE_BASE64_H_INCLUDED_


#include <stddef.h>


/* spiffe_base64_decode() flags */
#define SPIFFE_BASE64_STD       0       /* RFC 4648 section 4, padded */
#define SPIFFE_BASE64_URL       1       /* section 5, unpadded */

/* room enough for the decoding of n characters */
#define SPIFFE_BASE64_DECODED_LEN(n)  ((n) / 4 * 3 + 3)


/*
 * Strict base64: the alphabet of flags, no whitespace, zero trailing bits;
 * SPIFFE_BASE64_STD requires the padding, SPIFFE_BASE64_URL refuses it.
 * out has room for SPIFFE_BASE64_DECODED_LEN(len) bytes.  Returns 0, or
 * -1 when s is not such base64.
 */
int spiffe_base64_decode(const char *s, size_t len, unsigned flags,
    unsigned char *out, size_t *out_len);


#endif /* _SPIFFE_BASE64_H_INCLUDED_ */
