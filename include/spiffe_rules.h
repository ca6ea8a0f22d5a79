
/*
 * Copyright (C) ngx_spiffe developers
 */


#ifndef _SPIFFE_RULES_H_INCLUDED_
#define _SPIFFE_RULES_H_INCLUDED_


#include <stddef.h>


/*
 * An ordered list of allow/deny rules on SPIFFE IDs; the first rule that
 * matches decides.  The patterns are compiled as they are added into a
 * tree of trust domains and path segments, so that a decision walks the
 * ID once, whatever the number of rules; only external matchers (regexes)
 * are tried one by one, and only those written before the best match the
 * tree found.
 */

#define SPIFFE_RULES_NONE   0
#define SPIFFE_RULES_ALLOW  1
#define SPIFFE_RULES_DENY   2


typedef struct spiffe_rules_s  spiffe_rules_t;

/* returns 1 on a match, 0 otherwise */
typedef int (*spiffe_rules_match_pt)(void *data, const char *id, size_t len);


spiffe_rules_t *spiffe_rules_create(void);
void spiffe_rules_free(spiffe_rules_t *rules);

/*
 * Adds "all", an exact ID, or a pattern with "*" segments and an optional
 * trailing "**" segment; data is what spiffe_rules_decide() gives back
 * when this rule decides.  Returns 0, or -1 with *err set (NULL *err: no
 * memory).
 */
int spiffe_rules_add(spiffe_rules_t *rules, int action, const char *pattern,
    size_t len, void *data, const char **err);
int spiffe_rules_add_matcher(spiffe_rules_t *rules, int action,
    spiffe_rules_match_pt match, void *match_data, void *data);

/*
 * SPIFFE_RULES_ALLOW, SPIFFE_RULES_DENY, or SPIFFE_RULES_NONE; *data (if
 * data is not NULL) is the deciding rule's data, NULL with no match
 */
int spiffe_rules_decide(const spiffe_rules_t *rules, const char *id,
    size_t len, void **data);
size_t spiffe_rules_count(const spiffe_rules_t *rules);

/* checks a pattern without adding it */
int spiffe_pattern_valid(const char *pattern, size_t len, int *exact,
    const char **err);

/*
 * The literal text that every subject a PCRE regex matches starts with,
 * into buf (len bytes at most): what follows a leading "^" up to the first
 * character with a meaning of its own, unescaped.  Returns its length, 0
 * when there is none or the regex has a construct this reading does not
 * follow; a prefix is never longer than the truth.
 */
size_t spiffe_regex_prefix(const char *re, size_t len, char *buf);


#endif /* _SPIFFE_RULES_H_INCLUDED_ */
