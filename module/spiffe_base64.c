
/*
 * Copyright (C) ngx_spiffe developers
 */


#include <stdint.h>

#include <spiffe_base64.h>


static int spiffe_base64_value(unsigned char ch, unsigned flags);


int
spiffe_base64_decode(const char *s, size_t len, unsigned flags,
    unsigned char *out, size_t *out_len)
{
    int            v;
    size_t         i, n, pad;
    uint32_t       acc;
    unsigned char  *p;

    pad = 0;

    if (flags & SPIFFE_BASE64_URL) {
        if (len % 4 == 1) {
            return -1;
        }

    } else {
        if (len % 4 != 0) {
            return -1;
        }

        while (pad < 2 && pad < len && s[len - 1 - pad] == '=') {
            pad++;
        }
    }

    n = len - pad;
    p = out;
    acc = 0;

    for (i = 0; i < n; i++) {
        v = spiffe_base64_value((unsigned char) s[i], flags);
        if (v < 0) {
            return -1;
        }

        acc = (acc << 6) | (uint32_t) v;

        if (i % 4 == 3) {
            *p++ = (unsigned char) (acc >> 16);
            *p++ = (unsigned char) (acc >> 8);
            *p++ = (unsigned char) acc;
            acc = 0;
        }
    }

    /* 2 or 3 characters left: 1 or 2 bytes, the unused bits zero */

    switch (n % 4) {

    case 0:
        break;

    case 2:
        if (acc & 0x0f) {
            return -1;
        }

        *p++ = (unsigned char) (acc >> 4);
        break;

    case 3:
        if (acc & 0x03) {
            return -1;
        }

        *p++ = (unsigned char) (acc >> 10);
        *p++ = (unsigned char) (acc >> 2);
        break;

    default:
        return -1;
    }

    *out_len = p - out;

    return 0;
}


static int
spiffe_base64_value(unsigned char ch, unsigned flags)
{
    if (ch >= 'A' && ch <= 'Z') {
        return ch - 'A';
    }

    if (ch >= 'a' && ch <= 'z') {
        return ch - 'a' + 26;
    }

    if (ch >= '0' && ch <= '9') {
        return ch - '0' + 52;
    }

    if (flags & SPIFFE_BASE64_URL) {
        return (ch == '-') ? 62 : (ch == '_') ? 63 : -1;
    }

    return (ch == '+') ? 62 : (ch == '/') ? 63 : -1;
}
