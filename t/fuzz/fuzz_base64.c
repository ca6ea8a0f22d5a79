/*
 * Copyright (C) ngx_spiffe developers
 */


/*
 * Strict base64.  The input is FLAGS(1) TEXT: spiffe_base64_decode()
 * with bit 0 of FLAGS as SPIFFE_BASE64_URL; what decodes encodes back to
 * TEXT exactly (the decoder is strict), and TEXT taken as bytes encodes
 * and decodes back to itself.
 */

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>

#include <spiffe_base64.h>

#include "fuzz.h"


static void
fuzz_base64(const uint8_t *data, size_t size)
{
    int             url;
    char           *s, *back;
    size_t          len, n, m;
    unsigned char  *out;

    if (size < 1) {
        return;
    }

    url = data[0] & 1;
    data++;
    size--;

    s = malloc(size > 0 ? size : 1);
    out = malloc(SPIFFE_BASE64_DECODED_LEN(size));
    FUZZ_CHECK(s != NULL && out != NULL);

    memcpy(s, data, size);

    /* decoded, then encoded back: the same text */

    if (spiffe_base64_decode(s, size, url ? SPIFFE_BASE64_URL
                                          : SPIFFE_BASE64_STD,
                             out, &len)
        == 0)
    {
        FUZZ_CHECK(len <= SPIFFE_BASE64_DECODED_LEN(size));

        back = malloc(len / 3 * 4 + 5);
        FUZZ_CHECK(back != NULL);

        n = fuzz_b64(out, len, url, back);
        FUZZ_CHECK(n == size && memcmp(back, s, size) == 0);

        free(back);
    }

    /* the input as bytes, encoded, then decoded */

    back = malloc(size / 3 * 4 + 5);
    FUZZ_CHECK(back != NULL);

    n = fuzz_b64(data, size, url, back);

    free(out);
    out = malloc(SPIFFE_BASE64_DECODED_LEN(n));
    FUZZ_CHECK(out != NULL);

    FUZZ_CHECK(spiffe_base64_decode(back, n, url ? SPIFFE_BASE64_URL
                                                 : SPIFFE_BASE64_STD,
                                    out, &m)
               == 0);
    FUZZ_CHECK(m == size && memcmp(out, data, size) == 0);

    free(s);
    free(out);
    free(back);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_run(fuzz_base64, data, size);
}
