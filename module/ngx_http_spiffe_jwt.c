
/*
 * Copyright (C) ngx_spiffe developers
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <ngx_http_spiffe.h>
#include <spiffe_jwt.h>


/*
 * JWT-SVIDs: the caller's token, validated once per request in the access
 * phase against the JWT bundle of its subject's trust domain, and our own
 * token for an audience, kept fresh by the source, for the egress side.
 */


static ngx_http_spiffe_jwt_ctx_t *ngx_http_spiffe_jwt_ctx(
    ngx_http_request_t *r);
static ngx_int_t ngx_http_spiffe_jwt_token(ngx_http_request_t *r,
    ngx_http_spiffe_loc_conf_t *slcf, ngx_str_t *token);
static ngx_int_t ngx_http_spiffe_jwt_result(ngx_http_request_t *r,
    ngx_http_spiffe_jwt_ctx_t *ctx, spiffe_jwt_svid_t *svid,
    const char *reason, ngx_uint_t level);
static ngx_int_t ngx_http_spiffe_jwt_unauthorized(ngx_http_request_t *r,
    ngx_http_spiffe_jwt_ctx_t *ctx);


static ngx_str_t  ngx_http_spiffe_jwt_success = ngx_string("SUCCESS");
static ngx_str_t  ngx_http_spiffe_jwt_none = ngx_string("NONE");


ngx_int_t
ngx_http_spiffe_jwt_access(ngx_http_request_t *r)
{
    ngx_int_t                    rc;
    ngx_http_spiffe_jwt_ctx_t   *ctx;
    ngx_http_spiffe_loc_conf_t  *slcf;

    slcf = ngx_http_get_module_loc_conf(r, ngx_http_spiffe_module);

    if (slcf->jwt == NGX_SPIFFE_VERIFY_OFF && slcf->jwt_rules == NULL) {
        return NGX_DECLINED;
    }

    ctx = ngx_http_spiffe_jwt_ctx(r);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ctx->status != NGX_SPIFFE_PEER_VERIFIED) {

        if (slcf->jwt == NGX_SPIFFE_VERIFY_ON) {
            return ngx_http_spiffe_jwt_unauthorized(r, ctx);
        }

        if (slcf->jwt_rules == NULL) {
            return NGX_DECLINED;
        }

        (void) ngx_http_spiffe_rule_slot(r);

        rc = ngx_spiffe_rules_no_id(r->connection->log, &ctx->verify,
                                    NGX_SPIFFE_RULES_JWT, slcf->dry_run);

        return (rc == NGX_DONE) ? NGX_DECLINED : NGX_HTTP_FORBIDDEN;
    }

    if (slcf->jwt_rules == NULL) {
        return NGX_OK;
    }

    /* dry run: a valid token lets the request in, as without rules */

    rc = ngx_spiffe_rules_decide(r->connection->log, slcf->jwt_rules,
                                 &ctx->id, NGX_SPIFFE_RULES_JWT,
                                 slcf->dry_run, ngx_http_spiffe_rule_slot(r));

    return (rc == NGX_DECLINED) ? NGX_HTTP_FORBIDDEN : NGX_OK;
}


ngx_int_t
ngx_http_spiffe_jwt_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_http_spiffe_jwt_ctx_t  *ctx;

    ctx = ngx_http_spiffe_jwt_ctx(r);
    if (ctx == NULL) {
        return NGX_ERROR;
    }

    ngx_spiffe_variable(v, (ngx_str_t *) ((char *) ctx + data));

    return NGX_OK;
}


/*
 * $spiffe_jwt_svid: our own token for the location's audience, copied: the
 * worker frees it when it fetches the next one
 */

ngx_int_t
ngx_http_spiffe_jwt_svid_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    const char                  *reason;
    ngx_str_t                    token;
    ngx_http_spiffe_loc_conf_t  *slcf;

    slcf = ngx_http_get_module_loc_conf(r, ngx_http_spiffe_module);

    if (slcf->jwt_svid_audience.len == 0) {
        v->not_found = 1;
        return NGX_OK;
    }

    if (ngx_spiffe_jwt_svid(&slcf->jwt_svid_audience, &token, &reason)
        != NGX_OK)
    {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "spiffe: no JWT-SVID for audience \"%V\": %s",
                      &slcf->jwt_svid_audience, reason);
        v->not_found = 1;
        return NGX_OK;
    }

    token.data = ngx_pstrdup(r->pool, &token);
    if (token.data == NULL) {
        return NGX_ERROR;
    }

    ngx_spiffe_variable(v, &token);

    return NGX_OK;
}


/* the token of the request, validated once whatever asks first */

static ngx_http_spiffe_jwt_ctx_t *
ngx_http_spiffe_jwt_ctx(ngx_http_request_t *r)
{
    ngx_int_t                    rc;
    ngx_str_t                    token;
    ngx_uint_t                   level;
    const char                  *reason;
    spiffe_jwt_svid_t            svid;
    spiffe_jwt_bundles_t        *bundles;
    ngx_http_spiffe_jwt_ctx_t   *ctx;
    ngx_http_spiffe_loc_conf_t  *slcf;

    slcf = ngx_http_get_module_loc_conf(r, ngx_http_spiffe_module);

    /*
     * a rewrite to another location keeps the context but not the
     * audiences and header the token was judged by
     */

    ctx = ngx_http_get_module_ctx(r, ngx_http_spiffe_module);

    if (ctx == NULL) {
        ctx = ngx_palloc(r->pool, sizeof(ngx_http_spiffe_jwt_ctx_t));
        if (ctx == NULL) {
            return NULL;
        }

        ngx_http_set_ctx(r, ctx, ngx_http_spiffe_module);

    } else if (ctx->conf == slcf) {
        return ctx;
    }

    ngx_memzero(ctx, sizeof(ngx_http_spiffe_jwt_ctx_t));
    ctx->conf = slcf;

    rc = ngx_http_spiffe_jwt_token(r, slcf, &token);

    if (rc == NGX_DECLINED) {
        ctx->verify = ngx_http_spiffe_jwt_none;
        ngx_spiffe_stats_count(NGX_SPIFFE_STAT_JWT_MISSING);
        return ctx;
    }

    ngx_memzero(&svid, sizeof(spiffe_jwt_svid_t));
    bundles = ngx_spiffe_jwt_bundles();

    /* not the caller's fault: a variable read where no token is checked */
    level = NGX_LOG_INFO;

    if (slcf->jwt_naud == 0) {
        reason = "no spiffe_jwt_audience here";
        level = NGX_LOG_DEBUG;

    } else if (rc == NGX_ERROR) {
        reason = "more than one token header";

    } else if (bundles == NULL) {
        reason = "no JWT bundles yet";

    } else if (spiffe_jwt_validate((char *) token.data, token.len, bundles,
                                   slcf->jwt_aud, slcf->jwt_aud_len,
                                   slcf->jwt_naud, ngx_time(),
                                   &svid, &reason)
               == 0)
    {
        reason = NULL;
    }

    rc = ngx_http_spiffe_jwt_result(r, ctx, &svid, reason, level);

    ngx_spiffe_stats_count(reason ? NGX_SPIFFE_STAT_JWT_INVALID
                                  : NGX_SPIFFE_STAT_JWT_VALID);

    spiffe_jwt_svid_free(&svid);

    return (rc == NGX_OK) ? ctx : NULL;
}


/*
 * NGX_DECLINED: no token presented; NGX_ERROR: the header more than once,
 * since what is checked here and what a backend reads could then differ
 */

static ngx_int_t
ngx_http_spiffe_jwt_token(ngx_http_request_t *r,
    ngx_http_spiffe_loc_conf_t *slcf, ngx_str_t *token)
{
    ngx_str_t                  *value;
    ngx_table_elt_t            *h;
    ngx_http_spiffe_headers_t   walk;

    value = NULL;
    ngx_memzero(&walk, sizeof(ngx_http_spiffe_headers_t));

    for ( ;; ) {
        h = ngx_http_spiffe_header(r, &slcf->jwt_header, &walk);
        if (h == NULL) {
            break;
        }

        if (value != NULL) {
            return NGX_ERROR;
        }

        value = &h->value;
    }

    if (value == NULL || value->len == 0) {
        return NGX_DECLINED;
    }

    *token = *value;

    if (token->len > sizeof("Bearer ") - 1
        && ngx_strncasecmp(token->data, (u_char *) "Bearer ",
                           sizeof("Bearer ") - 1)
           == 0)
    {
        token->data += sizeof("Bearer ") - 1;
        token->len -= sizeof("Bearer ") - 1;

        while (token->len && token->data[0] == ' ') {
            token->data++;
            token->len--;
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_spiffe_jwt_result(ngx_http_request_t *r,
    ngx_http_spiffe_jwt_ctx_t *ctx, spiffe_jwt_svid_t *svid,
    const char *reason, ngx_uint_t level)
{
    u_char  *p;
    size_t   len;

    if (reason) {

        /* the token is never logged, only why it was refused */

        ngx_log_error(level, r->connection->log, 0,
                      "spiffe: JWT-SVID refused: %s", reason);

        len = sizeof("FAILED:") - 1 + ngx_strlen(reason);

        p = ngx_pnalloc(r->pool, len);
        if (p == NULL) {
            return NGX_ERROR;
        }

        ctx->verify.len = ngx_sprintf(p, "FAILED:%s", reason) - p;
        ctx->verify.data = p;
        ctx->status = NGX_SPIFFE_PEER_FAILED;

        return NGX_OK;
    }

    p = ngx_pnalloc(r->pool, svid->id_len + svid->claims_len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    ctx->id.data = p;
    ctx->id.len = svid->id_len;
    p = ngx_cpymem(p, svid->id, svid->id_len);

    ctx->td.data = ctx->id.data + svid->td_off;
    ctx->td.len = svid->td_len;
    ctx->path.data = ctx->id.data + svid->path_off;
    ctx->path.len = svid->path_len;

    ctx->claims.data = p;
    ctx->claims.len = svid->claims_len;
    ngx_memcpy(p, svid->claims, svid->claims_len);

    ctx->verify = ngx_http_spiffe_jwt_success;
    ctx->status = NGX_SPIFFE_PEER_VERIFIED;

    return NGX_OK;
}


static ngx_int_t
ngx_http_spiffe_jwt_unauthorized(ngx_http_request_t *r,
    ngx_http_spiffe_jwt_ctx_t *ctx)
{
    ngx_table_elt_t  *h;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* RFC 6750: no error code when no token came */

    h->hash = 1;
    ngx_spiffe_header_single(h);
    ngx_str_set(&h->key, "WWW-Authenticate");

    if (ctx->status == NGX_SPIFFE_PEER_NONE) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "spiffe: no JWT-SVID in the request");
        ngx_str_set(&h->value, "Bearer");

    } else {
        ngx_str_set(&h->value, "Bearer error=\"invalid_token\"");
    }

    r->headers_out.www_authenticate = h;

    return NGX_HTTP_UNAUTHORIZED;
}
