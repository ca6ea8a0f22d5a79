
/*
 * Copyright (C) ngx_spiffe developers
 */


#ifndef _TEST_RULES_ORACLE_H_INCLUDED_
#define _TEST_RULES_ORACLE_H_INCLUDED_


/*
 * The oracle of the compiled rule lists: the linear evaluator the module
 * had before them (each rule tried in order, a pattern matched segment by
 * segment), and a generator of rule lists and IDs from a string of bytes
 * (random in the unit test, the input in the fuzz target), drawn from a
 * small vocabulary so that rules and IDs meet often.  Inline: a user of
 * one part is not warned of the others.
 */

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <spiffe_id.h>
#include <spiffe_rules.h>


#define ORACLE_ALL      0
#define ORACLE_PATTERN  1
#define ORACLE_MATCHER  2

#define ORACLE_TEXT_MAX  128


typedef struct {
    int           action;
    int           kind;
    char          text[ORACLE_TEXT_MAX];   /* pattern; matcher: needle */
    size_t        len;
} oracle_rule_t;


typedef struct {
    const unsigned char  *p;
    const unsigned char  *end;
} oracle_bytes_t;


static const char  *oracle_tds[] = { "td", "td2", "t", "a.b", "", "TD" };
static const char  *oracle_segs[] = { "a", "b", "ab", "*", "c", "**", "",
                                      "A" };
static const char  *oracle_needles[] = { "/a", "b/", "td2", "ab", "/*" };


static inline const char *
oracle_segment_end(const char *p, const char *end)
{
    const char  *slash;

    slash = memchr(p, '/', end - p);

    return slash ? slash : end;
}


/* the matcher of the pattern language before it was compiled */

static inline int
oracle_pattern_match(const char *pattern, size_t plen, const char *id,
    size_t len)
{
    const char  *p, *pend, *pseg, *i, *iend, *iseg;

    p = memchr(pattern + SPIFFE_SCHEME_LEN, '/', plen - SPIFFE_SCHEME_LEN);
    i = (len > SPIFFE_SCHEME_LEN)
        ? memchr(id + SPIFFE_SCHEME_LEN, '/', len - SPIFFE_SCHEME_LEN)
        : NULL;

    if (p == NULL || i == NULL || p - pattern != i - id
        || memcmp(pattern, id, p - pattern) != 0)
    {
        return 0;
    }

    pend = pattern + plen;
    iend = id + len;

    while (p < pend && i < iend) {
        pseg = oracle_segment_end(p + 1, pend);
        iseg = oracle_segment_end(i + 1, iend);

        if (pseg - p == 3 && p[1] == '*' && p[2] == '*') {
            return 1;
        }

        if (!(pseg - p == 2 && p[1] == '*')
            && (pseg - p != iseg - i || memcmp(p, i, pseg - p) != 0))
        {
            return 0;
        }

        p = pseg;
        i = iseg;
    }

    return p == pend && i == iend;
}


/* a matcher as a regex would be: the ID contains the needle */

static inline int
oracle_contains(void *data, const char *id, size_t len)
{
    oracle_rule_t  *rule = data;

    size_t  i;

    for (i = 0; i + rule->len <= len; i++) {
        if (memcmp(id + i, rule->text, rule->len) == 0) {
            return 1;
        }
    }

    return 0;
}


/* the index of the first rule that matches; n: none */

static inline size_t
oracle_decide(oracle_rule_t *rules, size_t n, const char *id, size_t len)
{
    size_t  i;

    for (i = 0; i < n; i++) {

        switch (rules[i].kind) {

        case ORACLE_ALL:
            return i;

        case ORACLE_PATTERN:
            if (oracle_pattern_match(rules[i].text, rules[i].len, id, len)) {
                return i;
            }

            break;

        default: /* ORACLE_MATCHER */
            if (oracle_contains(&rules[i], id, len)) {
                return i;
            }
        }
    }

    return n;
}


static inline unsigned
oracle_byte(oracle_bytes_t *b)
{
    return (b->p < b->end) ? *b->p++ : 0;
}


/*
 * An ID, or a pattern, into buf (ORACLE_TEXT_MAX bytes): mostly
 * "spiffe://TD/SEG/SEG..." from the vocabulary, sometimes with another
 * scheme, no path or a trailing "/"; returns its length.
 */

static inline size_t
oracle_text(oracle_bytes_t *b, char *buf)
{
    int          n;
    unsigned     c, i, nsegs;
    const char  *scheme;

    c = oracle_byte(b);
    scheme = (c % 32 == 0) ? "SPIFFE://" : (c % 32 == 1) ? "spiffe:/"
                                                          : "spiffe://";

    n = snprintf(buf, ORACLE_TEXT_MAX, "%s%s", scheme,
                 oracle_tds[(c >> 5) % 6]);

    c = oracle_byte(b);
    nsegs = c % 6;

    for (i = 0; i < nsegs; i++) {
        n += snprintf(buf + n, ORACLE_TEXT_MAX - n, "/%s",
                      oracle_segs[(oracle_byte(b) >> 2) % 8]);
    }

    if ((c >> 3) % 16 == 0) {
        n += snprintf(buf + n, ORACLE_TEXT_MAX - n, "/");
    }

    return n;
}


/*
 * Up to max rules from the bytes, added to both the oracle's list and the
 * compiled one (with the oracle's rule as data); a pattern the compiled
 * list refuses is left out of both.  Returns the number of rules.
 */

static inline size_t
oracle_rules(oracle_bytes_t *b, spiffe_rules_t *compiled,
    oracle_rule_t *rules, size_t max)
{
    int             rc;
    size_t          n;
    unsigned        c;
    const char     *err;
    oracle_rule_t  *r;

    n = 0;

    while (n < max && b->p < b->end) {
        c = oracle_byte(b);
        r = &rules[n];
        r->action = (c & 1) ? SPIFFE_RULES_DENY : SPIFFE_RULES_ALLOW;

        switch ((c >> 1) % 16) {

        case 0:
            r->kind = ORACLE_ALL;
            r->len = 3;
            memcpy(r->text, "all", 3);
            break;

        case 1:
        case 2:
            r->kind = ORACLE_MATCHER;
            strcpy(r->text, oracle_needles[(c >> 5) % 5]);
            r->len = strlen(r->text);
            break;

        default:
            r->kind = ORACLE_PATTERN;
            r->len = oracle_text(b, r->text);
        }

        if (r->kind == ORACLE_MATCHER) {
            rc = spiffe_rules_add_matcher(compiled, r->action,
                                          oracle_contains, r, r);

        } else {
            rc = spiffe_rules_add(compiled, r->action, r->text, r->len, r,
                                  &err);
        }

        if (rc == 0) {
            n++;
        }
    }

    return n;
}


/*
 * 0 when the compiled list decides the ID as the oracle does (the same
 * rule, so the same action); else -1, with what differs in msg.
 */

static inline int
oracle_check(spiffe_rules_t *compiled, oracle_rule_t *rules, size_t n,
    const char *id, size_t len, char *msg, size_t size)
{
    int      action;
    void    *data;
    size_t   i, j;

    action = spiffe_rules_decide(compiled, id, len, &data);
    i = oracle_decide(rules, n, id, len);

    if (i < n && data == &rules[i] && action == rules[i].action) {
        return 0;
    }

    if (i == n && data == NULL && action == SPIFFE_RULES_NONE) {
        return 0;
    }

    j = data ? (size_t) ((oracle_rule_t *) data - rules) : n;

    snprintf(msg, size, "\"%.*s\": the oracle says rule %zu, the compiled "
             "list rule %zu (action %d) of %zu", (int) len, id, i, j,
             action, n);

    return -1;
}


#endif /* _TEST_RULES_ORACLE_H_INCLUDED_ */
