
/*
 * Copyright (C) ngx_spiffe developers
 */


#include <string.h>

#include <spiffe_xfcc.h>


static size_t spiffe_xfcc_put(char *dst, size_t n, const char *s,
    size_t len);
static size_t spiffe_xfcc_pem(char *dst, size_t n, const char *key,
    const char *pem, size_t len);
static int spiffe_xfcc_printable(const char *s, size_t len);


static const char  spiffe_xfcc_hex[] = "0123456789abcdef";


size_t
spiffe_xfcc_element(char *dst, const spiffe_xfcc_t *x)
{
    size_t  i, n;

    n = spiffe_xfcc_put(dst, 0, "By=", 3);
    n += spiffe_xfcc_value(dst ? dst + n : NULL, x->by, x->by_len);

    if (x->hash) {
        n = spiffe_xfcc_put(dst, n, ";Hash=", 6);

        for (i = 0; i < x->hash_len; i++) {
            if (dst) {
                dst[n] = spiffe_xfcc_hex[x->hash[i] >> 4];
                dst[n + 1] = spiffe_xfcc_hex[x->hash[i] & 0xf];
            }

            n += 2;
        }
    }

    if (x->cert) {
        n = spiffe_xfcc_pem(dst, n, ";Cert=\"", x->cert, x->cert_len);
    }

    if (x->chain) {
        n = spiffe_xfcc_pem(dst, n, ";Chain=\"", x->chain, x->chain_len);
    }

    if (x->subject) {
        /* always quoted; RFC 2253 has already escaped its '"' as \" */
        n = spiffe_xfcc_put(dst, n, ";Subject=\"", 10);
        n = spiffe_xfcc_put(dst, n, x->subject, x->subject_len);
        n = spiffe_xfcc_put(dst, n, "\"", 1);
    }

    if (x->uri) {
        n = spiffe_xfcc_put(dst, n, ";URI=", 5);
        n += spiffe_xfcc_value(dst ? dst + n : NULL, x->uri, x->uri_len);
    }

    for (i = 0; i < x->ndns; i++) {

        /* a header line must not be cut or extended by a name */

        if (!spiffe_xfcc_printable(x->dns[i], x->dns_len[i])) {
            continue;
        }

        n = spiffe_xfcc_put(dst, n, ";DNS=", 5);
        n += spiffe_xfcc_value(dst ? dst + n : NULL, x->dns[i],
                               x->dns_len[i]);
    }

    return n;
}


size_t
spiffe_xfcc_value(char *dst, const char *s, size_t len)
{
    size_t  i, n;
    int     quote;

    quote = 0;

    for (i = 0; i < len; i++) {
        if (s[i] == ',' || s[i] == ';' || s[i] == '=') {
            quote = 1;
            break;
        }
    }

    n = quote ? spiffe_xfcc_put(dst, 0, "\"", 1) : 0;

    for (i = 0; i < len; i++) {
        if (s[i] == '"') {
            n = spiffe_xfcc_put(dst, n, "\\", 1);
        }

        n = spiffe_xfcc_put(dst, n, &s[i], 1);
    }

    return quote ? spiffe_xfcc_put(dst, n, "\"", 1) : n;
}


static size_t
spiffe_xfcc_put(char *dst, size_t n, const char *s, size_t len)
{
    if (dst) {
        memcpy(dst + n, s, len);
    }

    return n + len;
}


/* key, then the PEM URL-encoded (all but RFC 3986's unreserved), quoted */

static size_t
spiffe_xfcc_pem(char *dst, size_t n, const char *key, const char *pem,
    size_t len)
{
    size_t          i;
    unsigned char   c;

    n = spiffe_xfcc_put(dst, n, key, strlen(key));

    for (i = 0; i < len; i++) {
        c = (unsigned char) pem[i];

        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
            || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_'
            || c == '~')
        {
            n = spiffe_xfcc_put(dst, n, (const char *) &c, 1);
            continue;
        }

        if (dst) {
            dst[n] = '%';
            dst[n + 1] = "0123456789ABCDEF"[c >> 4];
            dst[n + 2] = "0123456789ABCDEF"[c & 0xf];
        }

        n += 3;
    }

    return spiffe_xfcc_put(dst, n, "\"", 1);
}


static int
spiffe_xfcc_printable(const char *s, size_t len)
{
    size_t  i;

    for (i = 0; i < len; i++) {
        if ((unsigned char) s[i] < 0x20 || (unsigned char) s[i] >= 0x7f) {
            return 0;
        }
    }

    return 1;
}
