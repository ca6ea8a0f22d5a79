
/*
 * Copyright (C) ngx_spiffe developers
 */


#include <string.h>

#include <spiffe_id.h>


static int spiffe_td_char(unsigned char ch);
static int spiffe_path_char(unsigned char ch);
static spiffe_err_t spiffe_char_error(unsigned char ch, int td);
static spiffe_err_t spiffe_id_error(spiffe_err_t code, const char **err);


spiffe_err_t
spiffe_id_parse(const char *s, size_t len, spiffe_id_t *id, const char **err)
{
    const char    *p, *end, *seg, *slash;
    spiffe_err_t   rc;

    if (len > SPIFFE_ID_MAX_LEN) {
        return spiffe_id_error(SPIFFE_ERR_ID_TOO_LONG, err);
    }

    if (len < SPIFFE_SCHEME_LEN
        || memcmp(s, SPIFFE_SCHEME, SPIFFE_SCHEME_LEN) != 0)
    {
        return spiffe_id_error(SPIFFE_ERR_ID_SCHEME, err);
    }

    p = s + SPIFFE_SCHEME_LEN;
    end = s + len;

    slash = memchr(p, '/', end - p);
    if (slash == NULL) {
        slash = end;
    }

    rc = spiffe_td_parse(p, slash - p, err);
    if (rc != SPIFFE_OK) {
        return rc;
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

        rc = spiffe_path_segment_valid(p + 1, seg - p - 1, err);
        if (rc != SPIFFE_OK) {
            return rc;
        }
    }

    return SPIFFE_OK;
}


spiffe_err_t
spiffe_td_parse(const char *s, size_t len, const char **err)
{
    size_t  i;

    if (len == 0) {
        return spiffe_id_error(SPIFFE_ERR_TD_EMPTY, err);
    }

    if (len > SPIFFE_TD_MAX_LEN) {
        return spiffe_id_error(SPIFFE_ERR_TD_TOO_LONG, err);
    }

    for (i = 0; i < len; i++) {
        if (!spiffe_td_char(s[i])) {
            return spiffe_id_error(spiffe_char_error(s[i], 1), err);
        }
    }

    return SPIFFE_OK;
}


spiffe_err_t
spiffe_td_from_string(const char *s, size_t len, const char **td,
    size_t *td_len, const char **err)
{
    spiffe_err_t  rc;

    if (len > SPIFFE_SCHEME_LEN
        && memcmp(s, SPIFFE_SCHEME, SPIFFE_SCHEME_LEN) == 0)
    {
        s += SPIFFE_SCHEME_LEN;
        len -= SPIFFE_SCHEME_LEN;
    }

    rc = spiffe_td_parse(s, len, err);
    if (rc != SPIFFE_OK) {
        return rc;
    }

    *td = s;
    *td_len = len;

    return SPIFFE_OK;
}


spiffe_err_t
spiffe_path_segment_valid(const char *s, size_t len, const char **err)
{
    size_t  i;

    if (len == 0) {
        return spiffe_id_error(SPIFFE_ERR_PATH_EMPTY_SEGMENT, err);
    }

    if ((len == 1 && s[0] == '.') || (len == 2 && s[0] == '.' && s[1] == '.'))
    {
        return spiffe_id_error(SPIFFE_ERR_PATH_DOT_SEGMENT, err);
    }

    for (i = 0; i < len; i++) {
        if (!spiffe_path_char(s[i])) {
            return spiffe_id_error(spiffe_char_error(s[i], 0), err);
        }
    }

    return SPIFFE_OK;
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


static spiffe_err_t
spiffe_char_error(unsigned char ch, int td)
{
    switch (ch) {

    case '%':
        return td ? SPIFFE_ERR_TD_PERCENT : SPIFFE_ERR_PATH_PERCENT;

    case '?':
        return SPIFFE_ERR_ID_QUERY;

    case '#':
        return SPIFFE_ERR_ID_FRAGMENT;
    }

    if (!td) {
        return SPIFFE_ERR_PATH_CHAR;
    }

    if (ch == ':') {
        return SPIFFE_ERR_TD_PORT;
    }

    if (ch == '@') {
        return SPIFFE_ERR_TD_USERINFO;
    }

    if (ch >= 'A' && ch <= 'Z') {
        return SPIFFE_ERR_TD_UPPERCASE;
    }

    return SPIFFE_ERR_TD_CHAR;
}


static spiffe_err_t
spiffe_id_error(spiffe_err_t code, const char **err)
{
    *err = spiffe_err_text(code);

    return code;
}
