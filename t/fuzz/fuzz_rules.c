
/*
 * Copyright (C) ngx_spiffe developers
 */


/*
 * The compiled rule lists against the oracle, the linear evaluator of
 * t/unit/rules_oracle.h.  The input's first byte bounds the number of
 * rules; the next bytes make the rules (oracle_rules(): "all", matchers
 * and patterns from a small vocabulary, so that they share trust domains
 * and segments), the rest IDs (oracle_text()); the last 32 bytes also
 * make a path of raw bytes.  Every rule's text and every ID is decided
 * by both, which must name the same rule.
 */

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <spiffe_rules.h>

#include "../unit/rules_oracle.h"


#define FUZZ_MAX_RULES  128
#define FUZZ_MAX_IDS    64
#define FUZZ_RAW        32


static void
fuzz_check(spiffe_rules_t *compiled, oracle_rule_t *rules, size_t n,
    const char *id, size_t len)
{
    char  msg[512];

    if (oracle_check(compiled, rules, n, id, len, msg, sizeof(msg)) != 0) {
        fprintf(stderr, "property failed: %s\n", msg);
        abort();
    }
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char                   id[ORACLE_TEXT_MAX];
    size_t                 i, n, max, len, raw;
    oracle_bytes_t         b;
    spiffe_rules_t        *compiled;
    static oracle_rule_t   rules[FUZZ_MAX_RULES];

    if (size == 0) {
        return 0;
    }

    compiled = spiffe_rules_create();
    if (compiled == NULL) {
        abort();
    }

    b.p = data + 1;
    b.end = data + size;
    max = 1 + data[0] % FUZZ_MAX_RULES;

    n = oracle_rules(&b, compiled, rules, max);

    if (spiffe_rules_count(compiled) != n) {
        fprintf(stderr, "property failed: %zu rules counted, %zu added\n",
                spiffe_rules_count(compiled), n);
        abort();
    }

    for (i = 0; i < n; i++) {
        fuzz_check(compiled, rules, n, rules[i].text, rules[i].len);
    }

    for (i = 0; i < FUZZ_MAX_IDS && b.p < b.end; i++) {
        len = oracle_text(&b, id);
        fuzz_check(compiled, rules, n, id, len);
    }

    raw = (size < FUZZ_RAW) ? size : FUZZ_RAW;
    len = sizeof("spiffe://td/") - 1;

    memcpy(id, "spiffe://td/", len);
    memcpy(id + len, data + size - raw, raw);
    fuzz_check(compiled, rules, n, id, len + raw);

    spiffe_rules_free(compiled);

    return 0;
}
