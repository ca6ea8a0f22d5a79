/*
 * Copyright (C) ngx_spiffe developers
 */


/*
 * SPIFFE IDs, trust domains, patterns and rules.  The input is lines; a
 * line is a rule: "!" first makes it a deny rule, then "~TEXT" is a
 * matcher (an ID containing TEXT, as a regex would be), anything else a
 * pattern or "all".  What follows the "!" is also tried as an ID, a trust
 * domain and a path segment; then every line is decided by the rules.
 *
 * Properties: an accepted ID is at most 2048 bytes, starts with
 * "spiffe://", its views lie in the input and are valid parts; a valid
 * trust domain or segment makes a valid ID; an exact pattern is an ID and
 * matches itself; the oracle's pattern matcher (t/unit/rules_oracle.h,
 * which fuzz_rules.c holds the compiled rule lists to) agrees with a plain
 * segment-wise matcher on valid IDs; and spiffe_rules_decide() answers as
 * a first-match scan of the rules in order.
 */

#define _GNU_SOURCE     /* memmem() */

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <spiffe_id.h>
#include <spiffe_rules.h>

#include "../unit/rules_oracle.h"
#include "fuzz.h"


#define FUZZ_MAX_LINES  32
#define FUZZ_MAX_SEGS   (SPIFFE_ID_MAX_LEN / 2)  /* "/x" at least */

#define FUZZ_NONE     0
#define FUZZ_ALL      1
#define FUZZ_EXACT    2
#define FUZZ_GLOB     3
#define FUZZ_MATCHER  4


typedef struct {
    char          *s;         /* the line after "!", a buffer of its own */
    size_t         len;
    int            action;
    int            kind;      /* FUZZ_NONE: not a rule */
    int            id_valid;
} fuzz_line_t;


static int
fuzz_contains(void *data, const char *id, size_t len)
{
    fuzz_line_t  *l = data;

    if (l->len - 1 == 0) {
        return 1;
    }

    return len >= l->len - 1 && memmem(id, len, l->s + 1, l->len - 1) != NULL;
}


static int
fuzz_td_char(unsigned char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '.'
           || ch == '-' || ch == '_';
}


static void
fuzz_check_id(const char *s, size_t len, const spiffe_id_t *id)
{
    size_t       i;
    const char  *p, *seg, *end, *err;

    FUZZ_CHECK(len <= SPIFFE_ID_MAX_LEN);
    FUZZ_CHECK(len >= SPIFFE_SCHEME_LEN
               && memcmp(s, SPIFFE_SCHEME, SPIFFE_SCHEME_LEN) == 0);

    FUZZ_CHECK(id->td == s + SPIFFE_SCHEME_LEN);
    FUZZ_CHECK(id->td_len >= 1 && id->td_len <= SPIFFE_TD_MAX_LEN);
    FUZZ_CHECK(id->path == id->td + id->td_len);
    FUZZ_CHECK(id->path + id->path_len == s + len);
    FUZZ_CHECK(id->path_len == 0 || id->path[0] == '/');

    for (i = 0; i < id->td_len; i++) {
        FUZZ_CHECK(fuzz_td_char(id->td[i]));
    }

    FUZZ_CHECK(spiffe_td_parse(id->td, id->td_len, &err) == 0);

    end = id->path + id->path_len;

    for (p = id->path; p < end; p = seg) {
        seg = memchr(p + 1, '/', end - p - 1);
        seg = (seg != NULL) ? seg : end;

        FUZZ_CHECK(spiffe_path_segment_valid(p + 1, seg - p - 1, &err) == 0);
    }
}


/* "spiffe://" + a trust domain, or "spiffe://t/" + a segment, is an ID */

static void
fuzz_check_part(const char *prefix, const char *s, size_t len)
{
    char         *buf;
    size_t        n;
    const char   *err;
    spiffe_id_t   id;

    n = strlen(prefix);

    buf = malloc(n + len);
    FUZZ_CHECK(buf != NULL);

    memcpy(buf, prefix, n);
    memcpy(buf + n, s, len);

    if (n + len <= SPIFFE_ID_MAX_LEN) {
        FUZZ_CHECK(spiffe_id_parse(buf, n + len, &id, &err) == 0);
        fuzz_check_id(buf, n + len, &id);
    }

    free(buf);
}


static size_t
fuzz_segments(const char *path, const char *end, const char **segs,
    size_t *lens, size_t max)
{
    size_t       n;
    const char  *p, *seg;

    for (n = 0, p = path; p < end && n < max; p = seg, n++) {
        seg = memchr(p + 1, '/', end - p - 1);
        seg = (seg != NULL) ? seg : end;

        segs[n] = p + 1;
        lens[n] = seg - p - 1;
    }

    return n;
}


/* the reference: a valid pattern against a valid ID, segment by segment */

static int
fuzz_match(const char *pat, size_t plen, const char *s, size_t len)
{
    size_t               i, np, ni;
    const char          *ptd, *err;
    spiffe_id_t          id;

    /* static: large, and ASan would poison them on the stack each call */

    static size_t        lp[FUZZ_MAX_SEGS], li[FUZZ_MAX_SEGS];
    static const char   *ps[FUZZ_MAX_SEGS], *is[FUZZ_MAX_SEGS];

    FUZZ_CHECK(spiffe_id_parse(s, len, &id, &err) == 0);

    ptd = memchr(pat + SPIFFE_SCHEME_LEN, '/', plen - SPIFFE_SCHEME_LEN);

    if ((size_t) (ptd - pat - SPIFFE_SCHEME_LEN) != id.td_len
        || memcmp(pat + SPIFFE_SCHEME_LEN, id.td, id.td_len) != 0)
    {
        return 0;
    }

    np = fuzz_segments(ptd, pat + plen, ps, lp, FUZZ_MAX_SEGS);
    ni = fuzz_segments(id.path, id.path + id.path_len, is, li,
                       FUZZ_MAX_SEGS);

    if (np > 0 && lp[np - 1] == 2 && memcmp(ps[np - 1], "**", 2) == 0) {
        if (ni < np) {
            return 0;
        }

        np--;

    } else if (ni != np) {
        return 0;
    }

    for (i = 0; i < np; i++) {
        if (lp[i] == 1 && ps[i][0] == '*') {
            continue;
        }

        if (lp[i] != li[i] || memcmp(ps[i], is[i], lp[i]) != 0) {
            return 0;
        }
    }

    return 1;
}


static int
fuzz_decide(const fuzz_line_t *lines, size_t n, const char *s, size_t len)
{
    size_t              i;
    const fuzz_line_t  *l;

    for (i = 0; i < n; i++) {
        l = &lines[i];

        switch (l->kind) {

        case FUZZ_ALL:
            return l->action;

        case FUZZ_EXACT:
            if (l->len == len && memcmp(l->s, s, len) == 0) {
                return l->action;
            }

            break;

        case FUZZ_GLOB:
            if (oracle_pattern_match(l->s, l->len, s, len)) {
                return l->action;
            }

            break;

        case FUZZ_MATCHER:
            if (fuzz_contains((void *) l, s, len)) {
                return l->action;
            }

            break;
        }
    }

    return SPIFFE_RULES_NONE;
}


static void
fuzz_line(fuzz_line_t *l, spiffe_rules_t *rules, size_t *nrules)
{
    int           rc, exact;
    const char   *err, *err2;
    spiffe_id_t   id;

    err = NULL;

    if (spiffe_id_parse(l->s, l->len, &id, &err) == 0) {
        fuzz_check_id(l->s, l->len, &id);
        l->id_valid = 1;

    } else {
        FUZZ_CHECK(err != NULL);
    }

    if (spiffe_td_parse(l->s, l->len, &err) == 0) {
        FUZZ_CHECK(l->len >= 1 && l->len <= SPIFFE_TD_MAX_LEN);
        fuzz_check_part(SPIFFE_SCHEME, l->s, l->len);
    }

    if (spiffe_path_segment_valid(l->s, l->len, &err) == 0) {
        fuzz_check_part(SPIFFE_SCHEME "td/", l->s, l->len);
    }

    /* the rule */

    if (l->len >= 1 && l->s[0] == '~') {
        FUZZ_CHECK(spiffe_rules_add_matcher(rules, l->action, fuzz_contains,
                                            l, l)
                   == 0);
        l->kind = FUZZ_MATCHER;
        (*nrules)++;
        return;
    }

    err = NULL;
    rc = spiffe_pattern_valid(l->s, l->len, &exact, &err);

    err2 = NULL;

    if (spiffe_rules_add(rules, l->action, l->s, l->len, l, &err2) == 0) {
        (*nrules)++;

        if (l->len == 3 && memcmp(l->s, "all", 3) == 0) {
            l->kind = FUZZ_ALL;
            return;
        }

        FUZZ_CHECK(rc == 0);

    } else {
        FUZZ_CHECK(err2 != NULL);
        FUZZ_CHECK(rc == -1 && err == err2);
        return;
    }

    if (exact) {
        l->kind = FUZZ_EXACT;
        FUZZ_CHECK(l->id_valid && id.path_len > 0);
        FUZZ_CHECK(oracle_pattern_match(l->s, l->len, l->s, l->len));
        FUZZ_CHECK(memchr(l->s, '*', l->len) == NULL);

    } else {
        l->kind = FUZZ_GLOB;
        FUZZ_CHECK(!l->id_valid);
        FUZZ_CHECK(memchr(l->s, '*', l->len) != NULL);
    }

    /* an ID with a path is an exact pattern */

    if (l->id_valid && id.path_len > 0) {
        FUZZ_CHECK(rc == 0 && exact);
    }
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int              d;
    size_t           i, j, n, len, nrules;
    fuzz_line_t      lines[FUZZ_MAX_LINES];
    const uint8_t   *p, *end, *nl;
    spiffe_rules_t  *rules;

    rules = spiffe_rules_create();
    FUZZ_CHECK(rules != NULL);

    p = data;
    end = data + size;
    n = 0;

    while (p < end && n < FUZZ_MAX_LINES) {
        nl = memchr(p, '\n', end - p);
        len = (nl != NULL) ? (size_t) (nl - p) : (size_t) (end - p);

        lines[n].action = SPIFFE_RULES_ALLOW;
        lines[n].kind = FUZZ_NONE;
        lines[n].id_valid = 0;

        if (len > 0 && p[0] == '!') {
            lines[n].action = SPIFFE_RULES_DENY;
            p++;
            len--;
        }

        /* a buffer of the exact size: an overread shows */

        lines[n].s = malloc(len > 0 ? len : 1);
        FUZZ_CHECK(lines[n].s != NULL);

        if (len > 0) {
            memcpy(lines[n].s, p, len);
        }

        lines[n].len = len;
        n++;

        p += len + 1;
    }

    nrules = 0;

    for (i = 0; i < n; i++) {
        fuzz_line(&lines[i], rules, &nrules);
    }

    FUZZ_CHECK(spiffe_rules_count(rules) == nrules);

    for (i = 0; i < n; i++) {
        d = spiffe_rules_decide(rules, lines[i].s, lines[i].len, NULL);
        FUZZ_CHECK(d == fuzz_decide(lines, n, lines[i].s, lines[i].len));

        if (!lines[i].id_valid) {
            continue;
        }

        for (j = 0; j < n; j++) {
            if (lines[j].kind == FUZZ_EXACT || lines[j].kind == FUZZ_GLOB) {
                FUZZ_CHECK(oracle_pattern_match(lines[j].s, lines[j].len,
                                                lines[i].s, lines[i].len)
                           == fuzz_match(lines[j].s, lines[j].len,
                                         lines[i].s, lines[i].len));
            }
        }
    }

    spiffe_rules_free(rules);

    for (i = 0; i < n; i++) {
        free(lines[i].s);
    }

    return 0;
}
