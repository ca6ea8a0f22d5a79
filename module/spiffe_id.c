
/*
 * Copyright (C) ngx_spiffe developers
 */


#include <string.h>

#include <spiffe_id.h>


static int spiffe_td_char(unsigned char ch);
static int spiffe_path_char(unsigned char ch);
static const char *spiffe_char_error(unsigned char ch, int td);


int
spiffe_id_parse(const char *s, size_t len, spiffe_id_t *id, const char **err)
{
    const char  *p, *end, *seg, *slash;

    if (len > SPIFFE_ID_MAX_LEN) {
        *err = "is longer than 2048 bytes";
        return -1;
    }

    if (len < SPIFFE_SCHEME_LEN
        || memcmp(s, SPIFFE_SCHEME, SPIFFE_SCHEME_LEN) != 0)
    {
        *err = "does not start with \"spiffe://\"";
        return -1;
    }

    p = s + SPIFFE_SCHEME_LEN;
    end = s + len;

    slash = memchr(p, '/', end - p);
    if (slash == NULL) {
        slash = end;
    }

    if (spiffe_td_parse(p, slash - p, err) != 0) {
        return -1;
    }

    id->td = p;
    id->td_len = slash - p;
    id->path = slash;
    id->path_len = end - slash;

    /* each "/segment" of the path */

    for (p = slash; p < end; p = seg) {
        seg = memchr(p + 1, '/', end - p - 1);
        if (seg == NULL) {
            seg = end;
        }

        if (spiffe_path_segment_valid(p + 1, seg - p - 1, err) != 0) {
            return -1;
        }
    }

    return 0;
}


int
spiffe_td_parse(const char *s, size_t len, const char **err)
{
    size_t  i;

    if (len == 0) {
        *err = "has an empty trust domain";
        return -1;
    }

    if (len > SPIFFE_TD_MAX_LEN) {
        *err = "has a trust domain longer than 255 bytes";
        return -1;
    }

    for (i = 0; i < len; i++) {
        if (!spiffe_td_char(s[i])) {
            *err = spiffe_char_error(s[i], 1);
            return -1;
        }
    }

    return 0;
}


int
spiffe_td_from_string(const char *s, size_t len, const char **td,
    size_t *td_len, const char **err)
{
    if (len > SPIFFE_SCHEME_LEN
        && memcmp(s, SPIFFE_SCHEME, SPIFFE_SCHEME_LEN) == 0)
    {
        s += SPIFFE_SCHEME_LEN;
        len -= SPIFFE_SCHEME_LEN;
    }

    if (spiffe_td_parse(s, len, err) != 0) {
        return -1;
    }

    *td = s;
    *td_len = len;

    return 0;
}


int
spiffe_path_segment_valid(const char *s, size_t len, const char **err)
{
    size_t  i;

    if (len == 0) {
        *err = "has an empty path segment or a trailing \"/\"";
        return -1;
    }

    if ((len == 1 && s[0] == '.') || (len == 2 && s[0] == '.' && s[1] == '.'))
    {
        *err = "has a \".\" or \"..\" path segment";
        return -1;
    }

    for (i = 0; i < len; i++) {
        if (!spiffe_path_char(s[i])) {
            *err = spiffe_char_error(s[i], 0);
            return -1;
        }
    }

    return 0;
}


static int
spiffe_td_char(unsigned char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9')
           || ch == '.' || ch == '-' || ch == '_';
}


static int
spiffe_path_char(unsigned char ch)
{
    return spiffe_td_char(ch) || (ch >= 'A' && ch <= 'Z');
}


static const char *
spiffe_char_error(unsigned char ch, int td)
{
    switch (ch) {

    case '%':
        return td ? "has percent-encoding in the trust domain"
                  : "has percent-encoding in the path";

    case '?':
        return "has a query";

    case '#':
        return "has a fragment";
    }

    if (!td) {
        return "has a character not allowed in a path segment";
    }

    if (ch == ':') {
        return "has a port in the trust domain";
    }

    if (ch == '@') {
        return "has userinfo in the trust domain";
    }

    if (ch >= 'A' && ch <= 'Z') {
        return "has uppercase letters in the trust domain";
    }

    return "has a character not allowed in a trust domain";
}
