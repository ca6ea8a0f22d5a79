
/*
 * Copyright (C) ngx_spiffe developers
 */


#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#define PCRE2_CODE_UNIT_WIDTH  8
#include <pcre2.h>

#include <spiffe_rules.h>

#include "rules_oracle.h"


#define ALLOW  SPIFFE_RULES_ALLOW
#define DENY   SPIFFE_RULES_DENY
#define NONE   SPIFFE_RULES_NONE


static void
add(spiffe_rules_t *rules, int action, const char *pattern)
{
    const char  *err = "";

    if (spiffe_rules_add(rules, action, pattern, strlen(pattern),
                         (void *) pattern, &err)
        != 0)
    {
        fail_msg("\"%s\" refused: %s", pattern, err ? err : "no memory");
    }
}


static int
decide(spiffe_rules_t *rules, const char *id)
{
    return spiffe_rules_decide(rules, id, strlen(id), NULL);
}


/* a list of one pattern, and the oracle, on each case */

static void
test_pattern_match(void **state)
{
    int              match;
    size_t           i;
    spiffe_rules_t  *rules;

    static const struct {
        const char  *pattern;
        const char  *id;
        int          match;
    } cases[] = {
        { "spiffe://td/a/b", "spiffe://td/a/b", 1 },
        { "spiffe://td/a/b", "spiffe://td/a/b/c", 0 },
        { "spiffe://td/a/b", "spiffe://td/a", 0 },
        { "spiffe://td/a/b", "spiffe://td/a/B", 0 },
        { "spiffe://td/a/b", "spiffe://td2/a/b", 0 },
        { "spiffe://td/a/b", "spiffe://t/a/b", 0 },
        { "spiffe://td/ns/*/sa/web", "spiffe://td/ns/prod/sa/web", 1 },
        { "spiffe://td/ns/*/sa/web", "spiffe://td/ns/x/y/sa/web", 0 },
        { "spiffe://td/ns/*/sa/web", "spiffe://td/ns/sa/web", 0 },
        { "spiffe://td/ns/*/sa/web", "spiffe://td/ns/prod/sa/db", 0 },
        { "spiffe://td/*", "spiffe://td/a", 1 },
        { "spiffe://td/*", "spiffe://td/a/b", 0 },
        { "spiffe://td/*", "spiffe://td", 0 },
        { "spiffe://td/**", "spiffe://td/a", 1 },
        { "spiffe://td/**", "spiffe://td/a/b/c", 1 },
        { "spiffe://td/**", "spiffe://td", 0 },
        { "spiffe://td/**", "spiffe://tdx/a", 0 },
        { "spiffe://td/**", "spiffe://t/a", 0 },
        { "spiffe://td/ns/**", "spiffe://td/ns", 0 },
        { "spiffe://td/ns/**", "spiffe://td/ns/a", 1 },
        { "spiffe://td/ns/**", "spiffe://td/nsx/a", 0 },
        { "spiffe://td/*/x/**", "spiffe://td/a/x/b/c", 1 },
        { "spiffe://td/*/x/**", "spiffe://td/a/y/b", 0 },

        /* not valid IDs, but decided as before all the same */
        { "spiffe://td/a/**", "spiffe://td/a/", 1 },
        { "spiffe://td/*", "spiffe://td/", 1 },
        { "spiffe://td/a/*/c", "spiffe://td/a//c", 1 },
        { "spiffe://td/a/*", "spiffe://td/a/*", 1 },
        { "spiffe://td/a", "SPIFFE://td/a", 0 },
        { "spiffe://td/a", "spiffe://td/a/", 0 },
        { "spiffe://td/**", "spiffe:/td/a", 0 },
    };

    (void) state;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        rules = spiffe_rules_create();
        assert_non_null(rules);
        add(rules, ALLOW, cases[i].pattern);

        match = (decide(rules, cases[i].id) == ALLOW);

        if (match != cases[i].match
            || oracle_pattern_match(cases[i].pattern,
                                    strlen(cases[i].pattern), cases[i].id,
                                    strlen(cases[i].id))
               != cases[i].match)
        {
            fail_msg("\"%s\" ~ \"%s\": expected %d", cases[i].pattern,
                     cases[i].id, cases[i].match);
        }

        spiffe_rules_free(rules);
    }
}


static void
test_pattern_invalid(void **state)
{
    int          exact;
    size_t       i;
    const char  *err;

    static const struct {
        const char  *pattern;
        const char  *err;
    } cases[] = {
        { "example.org/a", "does not start with \"spiffe://\"" },
        { "spiffe://example.org",
          "has no path and so matches no workload "
          "(\"spiffe://TD/**\" matches any workload of TD)" },
        { "spiffe://*/a", "has a character not allowed in a trust domain" },
        { "spiffe://Example.org/a",
          "has uppercase letters in the trust domain" },
        { "spiffe://td/**/a", "has \"**\" before the last segment" },
        { "spiffe://td/a*",
          "has \"*\" inside a segment (\"*\" stands for a whole segment)" },
        { "spiffe://td/*a/b",
          "has \"*\" inside a segment (\"*\" stands for a whole segment)" },
        { "spiffe://td/***",
          "has \"*\" inside a segment (\"*\" stands for a whole segment)" },
        { "spiffe://td/a/", "has an empty path segment or a trailing \"/\"" },
        { "spiffe://td/*/", "has an empty path segment or a trailing \"/\"" },
        { "spiffe://td/../*", "has a \".\" or \"..\" path segment" },
        { "spiffe://td/%2e/*", "has percent-encoding in the path" },
        { "spiffe://td/a?b", "has a query" },
        { "spiffe://td:1/a", "has a port in the trust domain" },
    };

    (void) state;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        err = NULL;

        if (spiffe_pattern_valid(cases[i].pattern, strlen(cases[i].pattern),
                                 &exact, &err)
            == 0)
        {
            fail_msg("\"%s\" accepted", cases[i].pattern);
        }

        if (strcmp(err, cases[i].err) != 0) {
            fail_msg("\"%s\": \"%s\", expected \"%s\"", cases[i].pattern, err,
                     cases[i].err);
        }
    }

    assert_int_equal(spiffe_pattern_valid("spiffe://td/a", 13, &exact, &err),
                     0);
    assert_int_equal(exact, 1);
    assert_int_equal(spiffe_pattern_valid("spiffe://td/*", 13, &exact, &err),
                     0);
    assert_int_equal(exact, 0);
}


static void
test_rules_order(void **state)
{
    spiffe_rules_t  *rules;

    (void) state;

    rules = spiffe_rules_create();
    assert_non_null(rules);

    add(rules, DENY, "spiffe://td/ns/prod/sa/db");
    add(rules, ALLOW, "spiffe://td/ns/prod/**");
    add(rules, ALLOW, "spiffe://td/ns/test/sa/web");
    add(rules, DENY, "spiffe://td/ns/*/sa/web");
    add(rules, ALLOW, "spiffe://td/ns/dev/sa/web");
    add(rules, DENY, "spiffe://td/ns/prod/sa/db");

    assert_int_equal(spiffe_rules_count(rules), 6);

    /* an exact rule before the patterns wins */
    assert_int_equal(decide(rules, "spiffe://td/ns/prod/sa/db"), DENY);
    assert_int_equal(decide(rules, "spiffe://td/ns/prod/sa/web"), ALLOW);
    assert_int_equal(decide(rules, "spiffe://td/ns/test/sa/web"), ALLOW);

    /* a pattern before the exact rule wins over it */
    assert_int_equal(decide(rules, "spiffe://td/ns/dev/sa/web"), DENY);

    assert_int_equal(decide(rules, "spiffe://td/ns/dev/sa/db"), NONE);
    assert_int_equal(decide(rules, "spiffe://other/ns/prod/sa/db"), NONE);

    add(rules, ALLOW, "all");
    assert_int_equal(decide(rules, "spiffe://other/ns/prod/sa/db"), ALLOW);
    assert_int_equal(decide(rules, "spiffe://td/ns/prod/sa/db"), DENY);

    spiffe_rules_free(rules);
}


static int
match_suffix(void *data, const char *id, size_t len)
{
    size_t  n = strlen(data);

    return len >= n && memcmp(id + len - n, data, n) == 0;
}


static void
test_rules_matcher(void **state)
{
    spiffe_rules_t  *rules;

    (void) state;

    rules = spiffe_rules_create();
    add(rules, ALLOW, "spiffe://td/a/web");
    assert_int_equal(spiffe_rules_add_matcher(rules, DENY, match_suffix,
                                              "/web", NULL),
                     0);
    add(rules, ALLOW, "spiffe://td/b/web");
    add(rules, DENY, "all");

    assert_int_equal(decide(rules, "spiffe://td/a/web"), ALLOW);
    assert_int_equal(decide(rules, "spiffe://td/b/web"), DENY);
    assert_int_equal(decide(rules, "spiffe://td/b/db"), DENY);

    spiffe_rules_free(rules);

    rules = spiffe_rules_create();
    add(rules, DENY, "all");
    add(rules, ALLOW, "spiffe://td/a/web");
    assert_int_equal(decide(rules, "spiffe://td/a/web"), DENY);
    spiffe_rules_free(rules);

    rules = spiffe_rules_create();
    assert_int_equal(decide(rules, "spiffe://td/a/web"), NONE);
    spiffe_rules_free(rules);
}


static void
test_rules_data(void **state)
{
    int              a, b, c, d;
    void            *data;
    const char      *err;
    spiffe_rules_t  *rules;

    (void) state;

    rules = spiffe_rules_create();

    assert_int_equal(spiffe_rules_add_matcher(rules, DENY, match_suffix,
                                              "/db", &a),
                     0);
    assert_int_equal(spiffe_rules_add(rules, ALLOW, "spiffe://td/ns/*/sa/web",
                                      23, &b, &err),
                     0);
    assert_int_equal(spiffe_rules_add(rules, DENY, "spiffe://td/ns/x/sa/web",
                                      23, &c, &err),
                     0);
    assert_int_equal(spiffe_rules_add(rules, DENY, "spiffe://td/**", 14, &d,
                                      &err),
                     0);

    assert_int_equal(spiffe_rules_decide(rules, "spiffe://td/ns/x/sa/db", 22,
                                         &data),
                     DENY);
    assert_ptr_equal(data, &a);
    assert_int_equal(spiffe_rules_decide(rules, "spiffe://td/ns/x/sa/web", 23,
                                         &data),
                     ALLOW);
    assert_ptr_equal(data, &b);
    assert_int_equal(spiffe_rules_decide(rules, "spiffe://td/ns/x/sa", 19,
                                         &data),
                     DENY);
    assert_ptr_equal(data, &d);
    assert_int_equal(spiffe_rules_decide(rules, "spiffe://td2/a", 14, &data),
                     NONE);
    assert_null(data);

    spiffe_rules_free(rules);
}


/* thousands of patterns: the last one decides, at every depth */

static void
test_rules_many(void **state)
{
    int              i;
    char             id[64];
    spiffe_rules_t  *rules;

    (void) state;

    rules = spiffe_rules_create();

    for (i = 0; i < 10000; i++) {
        snprintf(id, sizeof(id), "spiffe://td/ns/n%d/sa/web", i);
        add(rules, (i % 2) ? DENY : ALLOW, id);
    }

    for (i = 0; i < 10000; i++) {
        snprintf(id, sizeof(id), "spiffe://td/ns/*/sa/svc%d", i);
        add(rules, (i % 2) ? DENY : ALLOW, id);
        snprintf(id, sizeof(id), "spiffe://td/team%d/**", i);
        add(rules, (i % 2) ? ALLOW : DENY, id);
    }

    add(rules, DENY, "spiffe://td/*/*/*/*");
    add(rules, ALLOW, "spiffe://td/*/**");

    assert_int_equal(spiffe_rules_count(rules), 30002);

    for (i = 0; i < 10000; i++) {
        snprintf(id, sizeof(id), "spiffe://td/ns/n%d/sa/web", i);
        assert_int_equal(decide(rules, id), (i % 2) ? DENY : ALLOW);
        snprintf(id, sizeof(id), "spiffe://td/ns/n%d/sa/svc%d", i + 1, i);
        assert_int_equal(decide(rules, id), (i % 2) ? DENY : ALLOW);
        snprintf(id, sizeof(id), "spiffe://td/team%d/a/b", i);
        assert_int_equal(decide(rules, id), (i % 2) ? ALLOW : DENY);
    }

    assert_int_equal(decide(rules, "spiffe://td/ns/n10000/sa/web"), DENY);
    assert_int_equal(decide(rules, "spiffe://td/ns/n1/sa/we"), DENY);
    assert_int_equal(decide(rules, "spiffe://td/team/a/b/c/d"), ALLOW);
    assert_int_equal(decide(rules, "spiffe://td/team10000/x"), ALLOW);
    assert_int_equal(decide(rules, "spiffe://td/team10000"), NONE);
    assert_int_equal(decide(rules, "spiffe://td"), NONE);

    spiffe_rules_free(rules);
}


static uint64_t
prng(uint64_t *s)
{
    /* xorshift64*: the same cases on every run */

    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;

    return *s * 2685821657736338717ULL;
}


/* generated lists and IDs: the compiled list decides as the oracle */

static void
property(uint64_t seed, size_t max, size_t nids, size_t *checked)
{
    char              msg[512], id[ORACLE_TEXT_MAX];
    size_t            i, n, len, size;
    uint64_t          s;
    oracle_rule_t    *orules;
    unsigned char    *buf;
    oracle_bytes_t    b;
    spiffe_rules_t   *rules;

    size = max * 16 + nids * 8;

    buf = malloc(size);
    orules = malloc(max * sizeof(oracle_rule_t));
    rules = spiffe_rules_create();
    assert_non_null(buf);
    assert_non_null(orules);
    assert_non_null(rules);

    s = seed * 0x9e3779b97f4a7c15ULL + 1;

    for (i = 0; i < size; i++) {
        buf[i] = prng(&s) >> 56;
    }

    b.p = buf;
    b.end = buf + max * 16;

    n = oracle_rules(&b, rules, orules, max);

    for (i = 0; i < n + nids; i++) {

        if (i < n) {
            len = orules[i].len;
            memcpy(id, orules[i].text, len);

        } else {
            b.end = buf + size;
            len = oracle_text(&b, id);
        }

        if (oracle_check(rules, orules, n, id, len, msg, sizeof(msg)) != 0)
        {
            fail_msg("seed %llu: %s", (unsigned long long) seed, msg);
        }

        (*checked)++;
    }

    spiffe_rules_free(rules);
    free(orules);
    free(buf);
}


static void
test_rules_oracle(void **state)
{
    size_t    checked;
    uint64_t  seed;

    (void) state;

    checked = 0;

    for (seed = 1; seed <= 20000; seed++) {
        property(seed, 1 + seed % 40, 40, &checked);
    }

    for (seed = 1; seed <= 20; seed++) {
        property(seed, 3000, 3000, &checked);
    }

    print_message("%zu decisions as the oracle's\n", checked);
}


static void
test_regex_prefix(void **state)
{
    size_t  i, n;
    char    buf[128];

    static const struct {
        const char  *re;
        const char  *prefix;
    } cases[] = {
        { "^spiffe://example\\.org/ns/ops-1/sa/[a-z]+$",
          "spiffe://example.org/ns/ops-1/sa/" },
        { "^spiffe://example\\.org/ns/(a|b)/", "spiffe://example.org/ns/" },
        { "^spiffe://td/ab?c", "spiffe://td/a" },
        { "^spiffe://td/ab*", "spiffe://td/a" },
        { "^spiffe://td/ab+", "spiffe://td/a" },
        { "^spiffe://td/ab{2}", "spiffe://td/a" },
        { "^spiffe://td/a\\d", "spiffe://td/a" },
        { "^spiffe://td/a\\/b\\", "spiffe://td/a/b" },
        { "^spiffe://td/a.b", "spiffe://td/a" },
        { "spiffe://td/a", "" },
        { "/sa/web", "" },
        { "^spiffe://a|b", "" },
        { "^spiffe://a(b)|c", "" },
        { "^spiffe://a[|]b", "spiffe://a" },
        { "^spiffe://a[]|]b", "spiffe://a" },
        { "^spiffe://a[[:alpha:]|]b", "" },
        { "^spiffe://a(?x)#(\n|b", "" },
        { "^spiffe://a(?#(|)b", "" },
        { "^spiffe://a\\Q|\\Eb", "" },
        { "^spiffe://a(*MARK:()|b", "" },
        { "^?a", "" },
        { "^", "" },
        { "", "" },
    };

    (void) state;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        n = spiffe_regex_prefix(cases[i].re, strlen(cases[i].re), buf);

        if (n != strlen(cases[i].prefix)
            || memcmp(buf, cases[i].prefix, n) != 0)
        {
            fail_msg("\"%s\": prefix \"%.*s\", expected \"%s\"",
                     cases[i].re, (int) n, buf, cases[i].prefix);
        }
    }
}


/*
 * Generated regexes and subjects: whatever PCRE2 matches starts with the
 * prefix (and the prefixes are not all empty: the check has teeth).
 */

static void
test_regex_prefix_pcre(void **state)
{
    int                  rc;
    char                 re[64], subject[64], prefix[64];
    const char          *t;
    size_t               i, j, k, n, rlen, slen, matched, prefixed;
    uint64_t             s;
    PCRE2_SIZE           off;
    pcre2_code          *code;
    pcre2_match_data    *md;

    static const char   *tokens[] = {
        "a", "b", "/", ":", "-", ".", "\\.", "\\/", "\\d", "\\w", "*",
        "+", "?", "{2}", "{1,}", "|", "(", ")", "(?:", "(?i)", "(?x)",
        "(?#", "[ab]", "[^a]", "[]|]", "[|]", "[[:alpha:]]", "\\Q",
        "\\E", "$", "^", "#", "\n", "A", "\\", "(*MARK:a)", "(?=a)",
        "(?!b)", "ab", "ba", "//"
    };

    static const char   *alphabet = "ab/:-.A\n#|";

    (void) state;

    md = pcre2_match_data_create(16, NULL);
    assert_non_null(md);

    s = 42;
    matched = 0;
    prefixed = 0;

    for (i = 0; i < 200000; i++) {
        re[0] = '^';
        rlen = 1;

        for (k = 1 + prng(&s) % 8; k > 0; k--) {
            t = tokens[prng(&s) % (sizeof(tokens) / sizeof(char *))];
            n = strlen(t);

            if (rlen + n >= sizeof(re)) {
                break;
            }

            memcpy(re + rlen, t, n);
            rlen += n;
        }

        code = pcre2_compile((PCRE2_SPTR) re, rlen, 0, &rc, &off, NULL);
        if (code == NULL) {
            continue;
        }

        n = spiffe_regex_prefix(re, rlen, prefix);

        if (n) {
            prefixed++;
        }

        for (j = 0; j < 20; j++) {
            slen = prng(&s) % 12;

            for (k = 0; k < slen; k++) {
                subject[k] = alphabet[prng(&s) % strlen(alphabet)];
            }

            /* often the prefix itself, and more */

            if (n && n <= sizeof(subject) - 12 && prng(&s) % 2) {
                memcpy(subject, prefix, n);
                slen = n + prng(&s) % 4;

                for (k = n; k < slen; k++) {
                    subject[k] = alphabet[prng(&s) % strlen(alphabet)];
                }
            }

            if (pcre2_match(code, (PCRE2_SPTR) subject, slen, 0, 0, md, NULL)
                < 0)
            {
                continue;
            }

            matched++;

            if (slen < n || memcmp(subject, prefix, n) != 0) {
                fail_msg("\"%.*s\" matches \"%.*s\" without the prefix "
                         "\"%.*s\"", (int) rlen, re, (int) slen, subject,
                         (int) n, prefix);
            }
        }

        pcre2_code_free(code);
    }

    pcre2_match_data_free(md);

    print_message("%zu matches checked, %zu regexes with a prefix\n",
                  matched, prefixed);

    assert_true(matched > 1000);
    assert_true(prefixed > 1000);
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_pattern_match),
        cmocka_unit_test(test_pattern_invalid),
        cmocka_unit_test(test_rules_order),
        cmocka_unit_test(test_rules_matcher),
        cmocka_unit_test(test_rules_data),
        cmocka_unit_test(test_rules_many),
        cmocka_unit_test(test_rules_oracle),
        cmocka_unit_test(test_regex_prefix),
        cmocka_unit_test(test_regex_prefix_pcre),
    };

    return cmocka_run_group_tests_name("spiffe_rules", tests, NULL, NULL);
}
