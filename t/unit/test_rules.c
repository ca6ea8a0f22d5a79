
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

#include <spiffe_rules.h>


#define ALLOW  SPIFFE_RULES_ALLOW
#define DENY   SPIFFE_RULES_DENY
#define NONE   SPIFFE_RULES_NONE


static void
add(spiffe_rules_t *rules, int action, const char *pattern)
{
    const char  *err = "";

    if (spiffe_rules_add(rules, action, pattern, strlen(pattern), &err) != 0)
    {
        fail_msg("\"%s\" refused: %s", pattern, err ? err : "no memory");
    }
}


static int
decide(spiffe_rules_t *rules, const char *id)
{
    return spiffe_rules_decide(rules, id, strlen(id));
}


static void
test_pattern_match(void **state)
{
    size_t  i;

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
    };

    (void) state;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        if (spiffe_pattern_match(cases[i].pattern, strlen(cases[i].pattern),
                                 cases[i].id, strlen(cases[i].id))
            != cases[i].match)
        {
            fail_msg("\"%s\" ~ \"%s\": expected %d", cases[i].pattern,
                     cases[i].id, cases[i].match);
        }
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
                                              "/web"),
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
        snprintf(id, sizeof(id), "spiffe://td/ns/n%d/sa/web", i);
        assert_int_equal(decide(rules, id), (i % 2) ? DENY : ALLOW);
    }

    assert_int_equal(decide(rules, "spiffe://td/ns/n10000/sa/web"), NONE);
    assert_int_equal(decide(rules, "spiffe://td/ns/n1/sa/we"), NONE);

    spiffe_rules_free(rules);
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_pattern_match),
        cmocka_unit_test(test_pattern_invalid),
        cmocka_unit_test(test_rules_order),
        cmocka_unit_test(test_rules_matcher),
        cmocka_unit_test(test_rules_many),
    };

    return cmocka_run_group_tests_name("spiffe_rules", tests, NULL, NULL);
}
