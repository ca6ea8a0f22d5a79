
/*
 * Copyright (C) ngx_spiffe developers
 */


#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <spiffe_id.h>
#include <spiffe_rules.h>


/*
 * The patterns form a tree: the root's children are trust domains, a
 * node's children its next path segment, found in one hash table of all
 * the tree's edges keyed by (parent, segment); a "*" segment is a child
 * of its own; a node keeps the first rule that ends there and the first
 * that ends there with a "**" segment.  A decision walks down the ID's
 * segments, into the exact child and the "*" child where both exist,
 * and keeps the lowest rule index that matches; a subtree whose lowest
 * rule comes after the best match so far is not entered, so no node is
 * visited twice and most are never visited.  Rules are added in order:
 * the rule that creates a node is the lowest of its subtree.
 */

#define SPIFFE_RULES_NO_RULE  UINT32_MAX
#define SPIFFE_RULES_MAX      (UINT32_MAX - 1)


typedef struct {
    int                     action;
    void                   *data;
} spiffe_rule_t;


typedef struct {
    uint32_t                index;
    spiffe_rules_match_pt   match;
    void                   *data;
} spiffe_rules_matcher_t;


typedef struct {
    uint32_t                min;      /* the first rule of the subtree */
    uint32_t                end;      /* the first rule ending here */
    uint32_t                any;      /* the first rule with "**" below */
    uint32_t                star;     /* the "*" child; 0: none */
} spiffe_rules_node_t;


typedef struct {
    uint32_t                parent;
    uint32_t                child;
    uint32_t                hash;
    uint32_t                label;    /* offset in labels */
    uint32_t                len;
} spiffe_rules_edge_t;


struct spiffe_rules_s {
    spiffe_rule_t          *rules;
    size_t                  nrules;
    size_t                  arules;

    spiffe_rules_matcher_t *matchers;
    size_t                  nmatchers;
    size_t                  amatchers;

    uint32_t                all;      /* the first "all" */

    spiffe_rules_node_t    *nodes;    /* nodes[0]: the root */
    size_t                  nnodes;
    size_t                  anodes;

    spiffe_rules_edge_t    *edges;
    size_t                  nedges;
    size_t                  aedges;

    /* open addressing: edge index + 1; at most half full */
    uint32_t               *slots;
    size_t                  nslots;

    char                   *labels;
    size_t                  nlabels;
    size_t                  alabels;
};


static int spiffe_rules_push(spiffe_rules_t *rules, int action, void *data);
static int spiffe_rules_insert(spiffe_rules_t *rules, const char *pattern,
    size_t len);
static uint32_t spiffe_rules_node(spiffe_rules_t *rules);
static uint32_t spiffe_rules_child(spiffe_rules_t *rules, uint32_t parent,
    const char *label, size_t len);
static int spiffe_rules_slots_grow(spiffe_rules_t *rules);
static uint32_t spiffe_rules_edge(const spiffe_rules_t *rules,
    uint32_t parent, const char *label, size_t len);
static void spiffe_rules_walk(const spiffe_rules_t *rules, uint32_t n,
    const char *p, const char *end, uint32_t *best);
static uint32_t spiffe_rules_hash(uint32_t parent, const char *s,
    size_t len);
static int spiffe_rules_reserve(void *array, size_t *alloc, size_t n,
    size_t size);
static int spiffe_regex_alternation(const char *re, size_t len);
static const char *spiffe_segment_end(const char *p, const char *end);


spiffe_rules_t *
spiffe_rules_create(void)
{
    spiffe_rules_t  *rules;

    rules = calloc(1, sizeof(spiffe_rules_t));
    if (rules == NULL) {
        return NULL;
    }

    rules->all = SPIFFE_RULES_NO_RULE;

    /* the root: node 0, which is also what a failure returns */

    (void) spiffe_rules_node(rules);

    if (rules->nnodes == 0) {
        free(rules);
        return NULL;
    }

    return rules;
}


void
spiffe_rules_free(spiffe_rules_t *rules)
{
    if (rules == NULL) {
        return;
    }

    free(rules->rules);
    free(rules->matchers);
    free(rules->nodes);
    free(rules->edges);
    free(rules->slots);
    free(rules->labels);
    free(rules);
}


int
spiffe_rules_add(spiffe_rules_t *rules, int action, const char *pattern,
    size_t len, void *data, const char **err)
{
    int  exact;

    if (len == 3 && memcmp(pattern, "all", 3) == 0) {

        if (spiffe_rules_push(rules, action, data) != 0) {
            *err = NULL;
            return -1;
        }

        if (rules->all == SPIFFE_RULES_NO_RULE) {
            rules->all = rules->nrules - 1;
        }

        return 0;
    }

    if (spiffe_pattern_valid(pattern, len, &exact, err) != 0) {
        return -1;
    }

    *err = NULL;

    /* room first, so that the rule inserted is surely pushed */

    if (rules->nrules >= SPIFFE_RULES_MAX
        || spiffe_rules_reserve(&rules->rules, &rules->arules, rules->nrules,
                                sizeof(spiffe_rule_t))
           != 0
        || spiffe_rules_insert(rules, pattern, len) != 0)
    {
        return -1;
    }

    return spiffe_rules_push(rules, action, data);
}


int
spiffe_rules_add_matcher(spiffe_rules_t *rules, int action,
    spiffe_rules_match_pt match, void *match_data, void *data)
{
    spiffe_rules_matcher_t  *m;

    if (spiffe_rules_reserve(&rules->matchers, &rules->amatchers,
                             rules->nmatchers,
                             sizeof(spiffe_rules_matcher_t))
        != 0)
    {
        return -1;
    }

    m = &rules->matchers[rules->nmatchers];
    m->index = rules->nrules;
    m->match = match;
    m->data = match_data;

    if (spiffe_rules_push(rules, action, data) != 0) {
        return -1;
    }

    rules->nmatchers++;

    return 0;
}


int
spiffe_rules_decide(const spiffe_rules_t *rules, const char *id, size_t len,
    void **data)
{
    size_t                         i;
    uint32_t                       n, best;
    const char                    *p;
    const spiffe_rules_matcher_t  *m;

    best = rules->all;

    if (rules->nedges
        && len > SPIFFE_SCHEME_LEN
        && memcmp(id, SPIFFE_SCHEME, SPIFFE_SCHEME_LEN) == 0)
    {
        p = memchr(id + SPIFFE_SCHEME_LEN, '/', len - SPIFFE_SCHEME_LEN);

        if (p != NULL) {
            n = spiffe_rules_edge(rules, 0, id + SPIFFE_SCHEME_LEN,
                                  p - id - SPIFFE_SCHEME_LEN);
            if (n) {
                spiffe_rules_walk(rules, n, p, id + len, &best);
            }
        }
    }

    /* a regex decides only when it comes before the tree's match */

    for (i = 0; i < rules->nmatchers; i++) {
        m = &rules->matchers[i];

        if (m->index >= best) {
            break;
        }

        if (m->match(m->data, id, len)) {
            best = m->index;
            break;
        }
    }

    if (best == SPIFFE_RULES_NO_RULE) {
        if (data) {
            *data = NULL;
        }

        return SPIFFE_RULES_NONE;
    }

    if (data) {
        *data = rules->rules[best].data;
    }

    return rules->rules[best].action;
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
        *err = spiffe_err_text(SPIFFE_ERR_ID_TOO_LONG);
        return -1;
    }

    if (len < SPIFFE_SCHEME_LEN
        || memcmp(pattern, SPIFFE_SCHEME, SPIFFE_SCHEME_LEN) != 0)
    {
        *err = spiffe_err_text(SPIFFE_ERR_ID_SCHEME);
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

    if (*exact && spiffe_id_parse(pattern, len, &id, err) != SPIFFE_OK) {
        return -1;
    }

    return 0;
}


size_t
spiffe_regex_prefix(const char *re, size_t len, char *buf)
{
    size_t          i, n;
    unsigned char   c;

    if (len == 0 || re[0] != '^' || spiffe_regex_alternation(re, len)) {
        return 0;
    }

    n = 0;

    for (i = 1; i < len; i++) {
        c = re[i];

        if (c == '\\' && i + 1 < len
            && ispunct((unsigned char) re[i + 1]))
        {
            c = re[++i];

        } else if (c < 0x20 || c >= 0x7f || strchr("\\^$.[]|()?*+{}", c))
        {
            break;
        }

        /* a quantified character may be absent */

        if (i + 1 < len && strchr("?*+{", re[i + 1])) {
            break;
        }

        buf[n++] = c;
    }

    return n;
}


static int
spiffe_rules_push(spiffe_rules_t *rules, int action, void *data)
{
    spiffe_rule_t  *rule;

    if (rules->nrules >= SPIFFE_RULES_MAX
        || spiffe_rules_reserve(&rules->rules, &rules->arules, rules->nrules,
                                sizeof(spiffe_rule_t))
           != 0)
    {
        return -1;
    }

    rule = &rules->rules[rules->nrules++];
    rule->action = action;
    rule->data = data;

    return 0;
}


/* a valid pattern into the tree, as the rule about to be pushed */

static int
spiffe_rules_insert(spiffe_rules_t *rules, const char *pattern, size_t len)
{
    uint32_t     n, star, index;
    const char  *p, *end, *seg;

    index = rules->nrules;
    end = pattern + len;
    p = memchr(pattern + SPIFFE_SCHEME_LEN, '/', len - SPIFFE_SCHEME_LEN);

    n = spiffe_rules_child(rules, 0, pattern + SPIFFE_SCHEME_LEN,
                           p - pattern - SPIFFE_SCHEME_LEN);

    for ( /* void */ ; n && p < end; p = seg) {
        seg = spiffe_segment_end(p + 1, end);

        if (seg - p == 3 && p[1] == '*' && p[2] == '*') {
            if (rules->nodes[n].any == SPIFFE_RULES_NO_RULE) {
                rules->nodes[n].any = index;
            }

            return 0;
        }

        if (seg - p == 2 && p[1] == '*') {

            if (rules->nodes[n].star == 0) {
                star = spiffe_rules_node(rules);
                rules->nodes[n].star = star;
            }

            n = rules->nodes[n].star;
            continue;
        }

        n = spiffe_rules_child(rules, n, p + 1, seg - p - 1);
    }

    if (n == 0) {
        return -1;
    }

    if (rules->nodes[n].end == SPIFFE_RULES_NO_RULE) {
        rules->nodes[n].end = index;
    }

    return 0;
}


/* a new node for the rule about to be pushed; 0: no memory */

static uint32_t
spiffe_rules_node(spiffe_rules_t *rules)
{
    spiffe_rules_node_t  *node;

    if (rules->nnodes >= UINT32_MAX
        || spiffe_rules_reserve(&rules->nodes, &rules->anodes, rules->nnodes,
                                sizeof(spiffe_rules_node_t))
           != 0)
    {
        return 0;
    }

    node = &rules->nodes[rules->nnodes];
    node->min = rules->nrules;
    node->end = SPIFFE_RULES_NO_RULE;
    node->any = SPIFFE_RULES_NO_RULE;
    node->star = 0;

    return rules->nnodes++;
}


/* the child of parent under label, made if needed; 0: no memory */

static uint32_t
spiffe_rules_child(spiffe_rules_t *rules, uint32_t parent, const char *label,
    size_t len)
{
    size_t                i, mask;
    uint32_t              child;
    spiffe_rules_edge_t  *edge;

    child = spiffe_rules_edge(rules, parent, label, len);
    if (child) {
        return child;
    }

    if ((rules->nedges + 1) * 2 > rules->nslots
        && spiffe_rules_slots_grow(rules) != 0)
    {
        return 0;
    }

    if (rules->nedges >= UINT32_MAX - 1
        || rules->nlabels + len >= UINT32_MAX
        || spiffe_rules_reserve(&rules->edges, &rules->aedges, rules->nedges,
                                sizeof(spiffe_rules_edge_t))
           != 0
        || spiffe_rules_reserve(&rules->labels, &rules->alabels,
                                rules->nlabels + len, 1)
           != 0)
    {
        return 0;
    }

    child = spiffe_rules_node(rules);
    if (child == 0) {
        return 0;
    }

    edge = &rules->edges[rules->nedges];
    edge->parent = parent;
    edge->child = child;
    edge->hash = spiffe_rules_hash(parent, label, len);
    edge->label = rules->nlabels;
    edge->len = len;

    memcpy(rules->labels + rules->nlabels, label, len);
    rules->nlabels += len;

    mask = rules->nslots - 1;

    for (i = edge->hash & mask; rules->slots[i]; i = (i + 1) & mask) {
        /* void */
    }

    rules->slots[i] = ++rules->nedges;

    return child;
}


static int
spiffe_rules_slots_grow(spiffe_rules_t *rules)
{
    size_t     i, j, n, mask;
    uint32_t  *slots;

    n = rules->nslots ? rules->nslots * 2 : 16;

    slots = calloc(n, sizeof(uint32_t));
    if (slots == NULL) {
        return -1;
    }

    mask = n - 1;

    for (i = 0; i < rules->nedges; i++) {

        for (j = rules->edges[i].hash & mask; slots[j]; j = (j + 1) & mask) {
            /* void */
        }

        slots[j] = i + 1;
    }

    free(rules->slots);
    rules->slots = slots;
    rules->nslots = n;

    return 0;
}


/* the child of parent under label; 0: none */

static uint32_t
spiffe_rules_edge(const spiffe_rules_t *rules, uint32_t parent,
    const char *label, size_t len)
{
    size_t                      i, mask;
    uint32_t                    hash;
    const spiffe_rules_edge_t  *edge;

    if (rules->nslots == 0) {
        return 0;
    }

    hash = spiffe_rules_hash(parent, label, len);
    mask = rules->nslots - 1;

    for (i = hash & mask; rules->slots[i]; i = (i + 1) & mask) {
        edge = &rules->edges[rules->slots[i] - 1];

        if (edge->hash == hash && edge->parent == parent && edge->len == len
            && memcmp(rules->labels + edge->label, label, len) == 0)
        {
            return edge->child;
        }
    }

    return 0;
}


/*
 * The ID from p (a "/" or the end) down from node n: *best becomes the
 * lowest index of a rule below n that matches, if lower.
 */

static void
spiffe_rules_walk(const spiffe_rules_t *rules, uint32_t n, const char *p,
    const char *end, uint32_t *best)
{
    uint32_t                    child, first, second;
    const char                 *seg;
    const spiffe_rules_node_t  *node;

    for ( ;; ) {
        node = &rules->nodes[n];

        if (node->min >= *best) {
            return;
        }

        if (p == end) {
            if (node->end < *best) {
                *best = node->end;
            }

            return;
        }

        /* at least one segment follows */

        if (node->any < *best) {
            *best = node->any;
        }

        seg = spiffe_segment_end(p + 1, end);
        child = spiffe_rules_edge(rules, n, p + 1, seg - p - 1);

        if (child && node->star) {

            /* the earlier subtree first: its match may prune the other */

            first = child;
            second = node->star;

            if (rules->nodes[second].min < rules->nodes[first].min) {
                first = node->star;
                second = child;
            }

            spiffe_rules_walk(rules, first, seg, end, best);
            n = second;

        } else if (child) {
            n = child;

        } else if (node->star) {
            n = node->star;

        } else {
            return;
        }

        p = seg;
    }
}


static uint32_t
spiffe_rules_hash(uint32_t parent, const char *s, size_t len)
{
    size_t    i;
    uint32_t  h;

    /* FNV-1a over the parent's index, then the label */

    h = 2166136261u;

    for (i = 0; i < 4; i++) {
        h ^= (parent >> (i * 8)) & 0xff;
        h *= 16777619u;
    }

    for (i = 0; i < len; i++) {
        h ^= (unsigned char) s[i];
        h *= 16777619u;
    }

    return h;
}


/* *array of *alloc elements of size bytes holds at least n + 1 */

static int
spiffe_rules_reserve(void *array, size_t *alloc, size_t n, size_t size)
{
    void   **a = array;

    void    *p;
    size_t   k;

    if (n < *alloc) {
        return 0;
    }

    k = *alloc ? *alloc : 8;

    while (k <= n) {
        k *= 2;
    }

    p = realloc(*a, k * size);
    if (p == NULL) {
        return -1;
    }

    *a = p;
    *alloc = k;

    return 0;
}


/*
 * 1 when the regex may have a "|" outside any group (which would make its
 * "^" anchor one branch only), or a construct that hides what is a group
 * from a plain reading: "\Q" and "\E" quoting (a lone "\E" is nothing,
 * and so may stand between a character and its quantifier), "(?#"
 * comments, the "x" option (comments again), "(*" verbs.
 */

static int
spiffe_regex_alternation(const char *re, size_t len)
{
    size_t  i, j, depth;

    depth = 0;

    for (i = 0; i < len; i++) {

        switch (re[i]) {

        case '\\':
            if (i + 1 < len && (re[i + 1] == 'Q' || re[i + 1] == 'E')) {
                return 1;
            }

            i++;
            break;

        case '[':
            /* a class: "]" first is a member; a backslash escapes */

            j = i + 1;

            if (j < len && re[j] == '^') {
                j++;
            }

            if (j < len && re[j] == ']') {
                j++;
            }

            for ( /* void */ ; j < len && re[j] != ']'; j++) {
                if (re[j] == '\\') {
                    j++;

                } else if (re[j] == '[' && j + 1 < len && re[j + 1] == ':')
                {
                    return 1;
                }
            }

            i = j;
            break;

        case '(':
            if (i + 1 < len && re[i + 1] == '*') {
                return 1;
            }

            if (i + 1 < len && re[i + 1] == '?') {
                for (j = i + 2; j < len && re[j] != ')' && re[j] != ':'; j++)
                {
                    if (re[j] == '#' || re[j] == 'x') {
                        return 1;
                    }
                }
            }

            depth++;
            break;

        case ')':
            if (depth == 0) {
                return 1;
            }

            depth--;
            break;

        case '|':
            if (depth == 0) {
                return 1;
            }
        }
    }

    return 0;
}


static const char *
spiffe_segment_end(const char *p, const char *end)
{
    const char  *slash;

    slash = memchr(p, '/', end - p);

    return slash ? slash : end;
}
