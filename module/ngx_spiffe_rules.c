
/*
 * Copyright (C) ngx_spiffe developers
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include <ngx_spiffe.h>


typedef struct {
    ngx_regex_t                 *regex;
    ngx_str_t                    prefix;    /* every match starts so */
} ngx_spiffe_rules_regex_t;


static char *ngx_spiffe_rules_add(ngx_conf_t *cf, spiffe_rules_t **rules,
    int action, ngx_str_t *value, ngx_str_t *directive);
static ngx_str_t *ngx_spiffe_rules_name(ngx_conf_t *cf);
static int ngx_spiffe_rules_regex_match(void *data, const char *id,
    size_t len);
static void ngx_spiffe_rules_cleanup(void *data);


/* allowed, denied, denied in dry run; by kind */

static ngx_uint_t  ngx_spiffe_rules_counters[][3] = {
    { NGX_SPIFFE_STAT_ALLOWED, NGX_SPIFFE_STAT_DENIED,
      NGX_SPIFFE_STAT_DRY_RUN_DENIED },
    { NGX_SPIFFE_STAT_JWT_ALLOWED, NGX_SPIFFE_STAT_JWT_DENIED,
      NGX_SPIFFE_STAT_JWT_DRY_RUN_DENIED }
};


/* a refusal, and one that dry run lets through */

static ngx_uint_t   ngx_spiffe_rules_levels[] = { NGX_LOG_INFO, NGX_LOG_WARN };
static const char  *ngx_spiffe_rules_would[] = { "", "would be " };
static const char  *ngx_spiffe_rules_dry[] = { "", " (dry run)" };


/*
 * spiffe_allow, spiffe_deny and their JWT kin, in http and stream: one
 * pattern into the list at cmd->offset of conf; cmd->post is the action
 */

char *
ngx_spiffe_rules_slot(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    char  *p = conf;

    ngx_str_t  *value;

    value = cf->args->elts;

    return ngx_spiffe_rules_add(cf, (spiffe_rules_t **) (p + cmd->offset),
                                (int) (intptr_t) cmd->post, &value[1],
                                &cmd->name);
}


/*
 * Adds a pattern, "~regex" or "all" to *rules, creating the list (freed
 * with the configuration) on first use; errors name the directive.  The
 * rule is named by its file and line, for the log and $spiffe_rule.
 */

static char *
ngx_spiffe_rules_add(ngx_conf_t *cf, spiffe_rules_t **rules, int action,
    ngx_str_t *value, ngx_str_t *directive)
{
    const char                *err;
    ngx_str_t                 *name;
    ngx_pool_cleanup_t        *cln;
    ngx_regex_compile_t        rc;
    ngx_spiffe_rules_regex_t  *re;
    u_char                     errstr[NGX_MAX_CONF_ERRSTR];

    if (*rules == NGX_CONF_UNSET_PTR || *rules == NULL) {
        *rules = spiffe_rules_create();
        if (*rules == NULL) {
            return NGX_CONF_ERROR;
        }

        cln = ngx_pool_cleanup_add(cf->pool, 0);
        if (cln == NULL) {
            spiffe_rules_free(*rules);
            return NGX_CONF_ERROR;
        }

        cln->handler = ngx_spiffe_rules_cleanup;
        cln->data = *rules;
    }

    name = ngx_spiffe_rules_name(cf);
    if (name == NULL) {
        return NGX_CONF_ERROR;
    }

    if (value->len > 1 && value->data[0] == '~') {

        ngx_memzero(&rc, sizeof(ngx_regex_compile_t));

        rc.pattern.len = value->len - 1;
        rc.pattern.data = value->data + 1;
        rc.pool = cf->pool;
        rc.err.len = NGX_MAX_CONF_ERRSTR;
        rc.err.data = errstr;

        if (ngx_regex_compile(&rc) != NGX_OK) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid regex \"%V\" in \"%V\": %V",
                               value, directive, &rc.err);
            return NGX_CONF_ERROR;
        }

        re = ngx_palloc(cf->pool, sizeof(ngx_spiffe_rules_regex_t));
        if (re == NULL) {
            return NGX_CONF_ERROR;
        }

        re->regex = rc.regex;

        /* PCRE only for the IDs that start as every match does */

        re->prefix.data = ngx_pnalloc(cf->pool, rc.pattern.len);
        if (re->prefix.data == NULL) {
            return NGX_CONF_ERROR;
        }

        re->prefix.len = spiffe_regex_prefix((char *) rc.pattern.data,
                                             rc.pattern.len,
                                             (char *) re->prefix.data);

        if (spiffe_rules_add_matcher(*rules, action,
                                     ngx_spiffe_rules_regex_match, re, name)
            != 0)
        {
            return NGX_CONF_ERROR;
        }

        return NGX_CONF_OK;
    }

    if (spiffe_rules_add(*rules, action, (char *) value->data, value->len,
                         name, &err)
        != 0)
    {
        if (err == NULL) {
            return NGX_CONF_ERROR;
        }

        /* the log line must keep the reason of an over-long pattern */

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid SPIFFE ID pattern \"%*s%s\" in \"%V\": "
                           "it %s",
                           ngx_min(value->len, 128), value->data,
                           value->len > 128 ? "..." : "", directive, err);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* spiffe_proxy_verify PATTERN ...: the list is at cmd->offset of conf */

char *
ngx_spiffe_rules_patterns(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    spiffe_rules_t  **rules = (spiffe_rules_t **) ((char *) conf
                                                   + cmd->offset);

    char             *rv;
    ngx_str_t        *value;
    ngx_uint_t        i;
    ngx_conf_post_t  *post;

    if (*rules != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;

    /* "off": no check here, whatever the level above asks */

    if (cf->args->nelts == 2 && ngx_strcmp(value[1].data, "off") == 0) {
        *rules = NULL;
        goto done;
    }

    for (i = 1; i < cf->args->nelts; i++) {
        rv = ngx_spiffe_rules_add(cf, rules, SPIFFE_RULES_ALLOW, &value[i],
                                  &cmd->name);
        if (rv != NGX_CONF_OK) {
            return rv;
        }
    }

done:

    if (cmd->post) {
        post = cmd->post;
        return post->post_handler(cf, post, rules);
    }

    return NGX_CONF_OK;
}


/*
 * The decision on a verified ID, logged and counted: NGX_OK allowed,
 * NGX_DECLINED refused, NGX_DONE refused in dry run (logged at warn: the
 * caller lets the request go on as if there were no rules).  kind is
 * NGX_SPIFFE_RULES_X509 or _JWT.  The rule that decided, if any, goes to
 * var ($spiffe_rule), if not NULL.
 */

ngx_int_t
ngx_spiffe_rules_decide(ngx_log_t *log, spiffe_rules_t *rules,
    ngx_str_t *id, ngx_uint_t kind, ngx_flag_t dry_run,
    ngx_variable_value_t *var)
{
    int                 action;
    void               *data;
    ngx_str_t          *name;
    static const char  *names[] = { "", "JWT " };

    action = spiffe_rules_decide(rules, (char *) id->data, id->len, &data);
    name = data;

    if (var) {
        var->valid = 0;
        ngx_spiffe_variable(var, name);
    }

    switch (action) {

    case SPIFFE_RULES_ALLOW:
        ngx_log_debug3(NGX_LOG_DEBUG_CORE, log, 0,
                       "spiffe: access allowed by the %srule at %V for "
                       "\"%V\"", names[kind], name, id);
        ngx_spiffe_stats_count(ngx_spiffe_rules_counters[kind][0]);
        return NGX_OK;

    case SPIFFE_RULES_DENY:
        ngx_log_error(ngx_spiffe_rules_levels[dry_run], log, 0,
                      "spiffe: access %sforbidden by the %srule at %V for "
                      "\"%V\"%s", ngx_spiffe_rules_would[dry_run],
                      names[kind], name, id, ngx_spiffe_rules_dry[dry_run]);
        break;

    default: /* SPIFFE_RULES_NONE */
        ngx_log_error(ngx_spiffe_rules_levels[dry_run], log, 0,
                      "spiffe: access %sforbidden: no %srule allows "
                      "\"%V\"%s", ngx_spiffe_rules_would[dry_run],
                      names[kind], id, ngx_spiffe_rules_dry[dry_run]);
    }

    ngx_spiffe_stats_count(ngx_spiffe_rules_counters[kind][1 + dry_run]);

    return dry_run ? NGX_DONE : NGX_DECLINED;
}


/*
 * Rules apply and the request has no verified ID (verify says why): as a
 * refusal of ngx_spiffe_rules_decide(), NGX_DECLINED or, in dry run,
 * NGX_DONE.  Counted as no_verified_id (X.509) or as a dry-run refusal.
 */

ngx_int_t
ngx_spiffe_rules_no_id(ngx_log_t *log, ngx_str_t *verify, ngx_uint_t kind,
    ngx_flag_t dry_run)
{
    static const char  *names[] = { "SPIFFE ID", "JWT-SVID" };

    ngx_log_error(ngx_spiffe_rules_levels[dry_run], log, 0,
                  "spiffe: access %sforbidden: no verified %s (%V)%s",
                  ngx_spiffe_rules_would[dry_run], names[kind], verify,
                  ngx_spiffe_rules_dry[dry_run]);

    if (dry_run) {
        ngx_spiffe_stats_count(ngx_spiffe_rules_counters[kind][2]);
        return NGX_DONE;
    }

    if (kind == NGX_SPIFFE_RULES_X509) {
        ngx_spiffe_stats_count(NGX_SPIFFE_STAT_DENIED_NO_ID);
    }

    return NGX_DECLINED;
}


/*
 * The index of $spiffe_rule, by the http or the stream module's
 * get_variable_index(): ngx_spiffe_rules_decide() sets it in the request's
 * or the session's slot, its get handler never does
 */

ngx_int_t
ngx_spiffe_rules_index(ngx_conf_t *cf, ngx_spiffe_variable_index_pt index)
{
    static ngx_str_t  name = ngx_string("spiffe_rule");

    return index(cf, &name);
}


/* "FILE:LINE" of the directive being read */

static ngx_str_t *
ngx_spiffe_rules_name(ngx_conf_t *cf)
{
    size_t      len;
    ngx_str_t  *name;
    u_char      line[NGX_INT_T_LEN];

    len = ngx_sprintf(line, ":%ui", cf->conf_file->line) - line;

    name = ngx_palloc(cf->pool, sizeof(ngx_str_t)
                                + cf->conf_file->file.name.len + len);
    if (name == NULL) {
        return NULL;
    }

    name->data = (u_char *) (name + 1);
    name->len = ngx_sprintf(name->data, "%V%*s", &cf->conf_file->file.name,
                            len, line)
                - name->data;

    return name;
}


static int
ngx_spiffe_rules_regex_match(void *data, const char *id, size_t len)
{
    ngx_spiffe_rules_regex_t  *re = data;

    ngx_str_t  s;

    if (len < re->prefix.len
        || ngx_memcmp(id, re->prefix.data, re->prefix.len) != 0)
    {
        return 0;
    }

    s.len = len;
    s.data = (u_char *) id;

    return ngx_regex_exec(re->regex, &s, NULL, 0) >= 0;
}


static void
ngx_spiffe_rules_cleanup(void *data)
{
    spiffe_rules_free(data);
}
