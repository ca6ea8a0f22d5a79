
/*
 * Copyright (C) ngx_spiffe developers
 */


#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <spiffe_id.h>
#include <spiffe_rules.h>


#define SPIFFE_RULE_EXACT    0
#define SPIFFE_RULE_GLOB     1
#define SPIFFE_RULE_ALL      2
#define SPIFFE_RULE_MATCHER  3

#define SPIFFE_RULES_NO_SLOT  ((size_t) -1)


typedef struct {
    int                     action;
    int                     kind;
    char                   *pattern;
    size_t                  len;
    uint32_t                hash;
    spiffe_rules_match_pt   match;
    void                   *data;
} spiffe_rule_t;


struct spiffe_rules_s {
    spiffe_rule_t          *rules;
    size_t                  nrules;
    size_t                  nalloc;

    /* indices of the rules that are not exact IDs, in order */
    size_t                 *patterns;
    size_t                  npatterns;

    /* open addressing: rule index + 1 of the first rule for an exact ID */
    size_t                 *slots;
    size_t                  nslots;
    size_t                  nexact;
};


static int spiffe_rules_push(spiffe_rules_t *rules, spiffe_rule_t *rule);
static int spiffe_rules_hash_add(spiffe_rules_t *rules, size_t index);
static size_t spiffe_rules_hash_find(const spiffe_rules_t *rules,
    const char *id, size_t len, uint32_t hash);
static int spiffe_rules_hash_grow(spiffe_rules_t *rules);
static uint32_t spiffe_rules_hash(const char *s, size_t len);
static const char *spiffe_segment_end(const char *p, const char *end);


spiffe_rules_t *
spiffe_rules_create(void)
{
    return calloc(1, sizeof(spiffe_rules_t));
}


void
spiffe_rules_free(spiffe_rules_t *rules)
{
    size_t  i;

    if (rules == NULL) {
        return;
    }

    for (i = 0; i < rules->nrules; i++) {
        free(rules->rules[i].pattern);
    }

    free(rules->rules);
    free(rules->patterns);
    free(rules->slots);
    free(rules);
}


int
spiffe_rules_add(spiffe_rules_t *rules, int action, const char *pattern,
    size_t len, const char **err)
{
    int            exact;
    spiffe_rule_t  rule;

    memset(&rule, 0, sizeof(spiffe_rule_t));
    rule.action = action;

    if (len == 3 && memcmp(pattern, "all", 3) == 0) {
        rule.kind = SPIFFE_RULE_ALL;

    } else {
        if (spiffe_pattern_valid(pattern, len, &exact, err) != 0) {
            return -1;
        }

        rule.kind = exact ? SPIFFE_RULE_EXACT : SPIFFE_RULE_GLOB;
        rule.len = len;
        rule.hash = spiffe_rules_hash(pattern, len);

        rule.pattern = malloc(len);
        if (rule.pattern == NULL) {
            *err = NULL;
            return -1;
        }

        memcpy(rule.pattern, pattern, len);
    }

    if (spiffe_rules_push(rules, &rule) != 0) {
        free(rule.pattern);
        *err = NULL;
        return -1;
    }

    return 0;
}


int
spiffe_rules_add_matcher(spiffe_rules_t *rules, int action,
    spiffe_rules_match_pt match, void *data)
{
    spiffe_rule_t  rule;

    memset(&rule, 0, sizeof(spiffe_rule_t));
    rule.action = action;
    rule.kind = SPIFFE_RULE_MATCHER;
    rule.match = match;
    rule.data = data;

    return spiffe_rules_push(rules, &rule);
}


int
spiffe_rules_decide(const spiffe_rules_t *rules, const char *id, size_t len)
{
    size_t                i, exact;
    const spiffe_rule_t  *rule;

    exact = SPIFFE_RULES_NO_SLOT;

    if (rules->nexact) {
        exact = spiffe_rules_hash_find(rules, id, len,
                                       spiffe_rules_hash(id, len));
    }

    /* a pattern wins over an exact ID only when it comes first */

    for (i = 0; i < rules->npatterns; i++) {

        if (rules->patterns[i] > exact) {
            break;
        }

        rule = &rules->rules[rules->patterns[i]];

        switch (rule->kind) {

        case SPIFFE_RULE_ALL:
            return rule->action;

        case SPIFFE_RULE_GLOB:
            if (spiffe_pattern_match(rule->pattern, rule->len, id, len)) {
                return rule->action;
            }
            break;

        default: /* SPIFFE_RULE_MATCHER */
            if (rule->match(rule->data, id, len)) {
                return rule->action;
            }
        }
    }

    if (exact != SPIFFE_RULES_NO_SLOT) {
        return rules->rules[exact].action;
    }

    return SPIFFE_RULES_NONE;
}


size_t
spiffe_rules_count(const spiffe_rules_t *rules)
{
    return rules->nrules;
}


int
spiffe_pattern_valid(const char *pattern, size_t len, int *exact,
    const char **err)
{
    const char  *p, *end, *seg;
    spiffe_id_t  id;

    *exact = 1;

    if (len > SPIFFE_ID_MAX_LEN) {
        *err = "is longer than 2048 bytes";
        return -1;
    }

    if (len < SPIFFE_SCHEME_LEN
        || memcmp(pattern, SPIFFE_SCHEME, SPIFFE_SCHEME_LEN) != 0)
    {
        *err = "does not start with \"spiffe://\"";
        return -1;
    }

    end = pattern + len;
    p = memchr(pattern + SPIFFE_SCHEME_LEN, '/', len - SPIFFE_SCHEME_LEN);

    if (p == NULL) {
        *err = "has no path and so matches no workload "
               "(\"spiffe://TD/**\" matches any workload of TD)";
        return -1;
    }

    if (spiffe_td_parse(pattern + SPIFFE_SCHEME_LEN,
                        p - pattern - SPIFFE_SCHEME_LEN, err)
        != 0)
    {
        return -1;
    }

    for ( /* void */ ; p < end; p = seg) {
        seg = spiffe_segment_end(p + 1, end);

        if (seg - p == 2 && p[1] == '*') {
            *exact = 0;
            continue;
        }

        if (seg - p == 3 && p[1] == '*' && p[2] == '*') {

            if (seg != end) {
                *err = "has \"**\" before the last segment";
                return -1;
            }

            *exact = 0;
            continue;
        }

        if (memchr(p + 1, '*', seg - p - 1) != NULL) {
            *err = "has \"*\" inside a segment (\"*\" stands for "
                   "a whole segment)";
            return -1;
        }

        if (spiffe_path_segment_valid(p + 1, seg - p - 1, err) != 0) {
            return -1;
        }
    }

    if (*exact) {
        return spiffe_id_parse(pattern, len, &id, err);
    }

    return 0;
}


int
spiffe_pattern_match(const char *pattern, size_t plen, const char *id,
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
        pseg = spiffe_segment_end(p + 1, pend);
        iseg = spiffe_segment_end(i + 1, iend);

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


static int
spiffe_rules_push(spiffe_rules_t *rules, spiffe_rule_t *rule)
{
    size_t          n, *patterns;
    spiffe_rule_t  *r;

    if (rules->nrules == rules->nalloc) {
        n = rules->nalloc ? rules->nalloc * 2 : 8;

        r = realloc(rules->rules, n * sizeof(spiffe_rule_t));
        if (r == NULL) {
            return -1;
        }

        rules->rules = r;
        rules->nalloc = n;
    }

    if (rule->kind == SPIFFE_RULE_EXACT) {
        rules->rules[rules->nrules] = *rule;

        if (spiffe_rules_hash_add(rules, rules->nrules) != 0) {
            return -1;
        }

    } else {
        patterns = realloc(rules->patterns,
                           (rules->npatterns + 1) * sizeof(size_t));
        if (patterns == NULL) {
            return -1;
        }

        rules->patterns = patterns;
        rules->patterns[rules->npatterns++] = rules->nrules;
        rules->rules[rules->nrules] = *rule;
    }

    rules->nrules++;

    return 0;
}


static int
spiffe_rules_hash_add(spiffe_rules_t *rules, size_t index)
{
    size_t          i, mask;
    spiffe_rule_t  *rule;

    if ((rules->nexact + 1) * 2 > rules->nslots) {
        if (spiffe_rules_hash_grow(rules) != 0) {
            return -1;
        }
    }

    rule = &rules->rules[index];

    if (spiffe_rules_hash_find(rules, rule->pattern, rule->len, rule->hash)
        != SPIFFE_RULES_NO_SLOT)
    {
        /* the same ID again: the earlier rule wins */
        return 0;
    }

    mask = rules->nslots - 1;

    for (i = rule->hash & mask; rules->slots[i]; i = (i + 1) & mask) {
        /* void */
    }

    rules->slots[i] = index + 1;
    rules->nexact++;

    return 0;
}


static size_t
spiffe_rules_hash_find(const spiffe_rules_t *rules, const char *id,
    size_t len, uint32_t hash)
{
    size_t                i, mask;
    const spiffe_rule_t  *rule;

    mask = rules->nslots - 1;

    for (i = hash & mask; rules->slots[i]; i = (i + 1) & mask) {
        rule = &rules->rules[rules->slots[i] - 1];

        if (rule->hash == hash && rule->len == len
            && memcmp(rule->pattern, id, len) == 0)
        {
            return rules->slots[i] - 1;
        }
    }

    return SPIFFE_RULES_NO_SLOT;
}


static int
spiffe_rules_hash_grow(spiffe_rules_t *rules)
{
    size_t   i, j, n, mask, *slots;

    n = rules->nslots ? rules->nslots * 2 : 16;

    slots = calloc(n, sizeof(size_t));
    if (slots == NULL) {
        return -1;
    }

    mask = n - 1;

    for (i = 0; i < rules->nslots; i++) {

        if (rules->slots[i] == 0) {
            continue;
        }

        j = rules->rules[rules->slots[i] - 1].hash & mask;

        while (slots[j]) {
            j = (j + 1) & mask;
        }

        slots[j] = rules->slots[i];
    }

    free(rules->slots);
    rules->slots = slots;
    rules->nslots = n;

    return 0;
}


static uint32_t
spiffe_rules_hash(const char *s, size_t len)
{
    size_t    i;
    uint32_t  h;

    /* FNV-1a */

    h = 2166136261u;

    for (i = 0; i < len; i++) {
        h ^= (unsigned char) s[i];
        h *= 16777619u;
    }

    return h;
}


static const char *
spiffe_segment_end(const char *p, const char *end)
{
    const char  *slash;

    slash = memchr(p, '/', end - p);

    return slash ? slash : end;
}
