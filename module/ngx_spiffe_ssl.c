
/*
 * Copyright (C) ngx_spiffe developers
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>

#include <openssl/pem.h>

#include <ngx_spiffe.h>
#include <spiffe_id.h>
#include <spiffe_x509.h>


/*
 * TLS hooks shared by the http and stream modules: the certificate
 * callback serves the worker's current SVID, the verify callback checks a
 * peer against the bundle of its own trust domain, and a resumed session
 * is accepted only while the bundle it was verified under is unchanged.
 */


#define NGX_SPIFFE_SESSION_TAG  1
#define NGX_SPIFFE_SESSION_HDR  (1 + SPIFFE_DIGEST_LEN)


static int ngx_spiffe_ssl_certificate(ngx_ssl_conn_t *ssl_conn, void *arg);
static int ngx_spiffe_ssl_verify(X509_STORE_CTX *x509_store, void *arg);
static SSL_TICKET_RETURN ngx_spiffe_ssl_ticket(ngx_ssl_conn_t *ssl_conn,
    SSL_SESSION *sess, const unsigned char *keyname, size_t keyname_len,
    SSL_TICKET_STATUS status, void *arg);
static SSL_SESSION *ngx_spiffe_ssl_cached_session(ngx_ssl_conn_t *ssl_conn,
    const u_char *id, int len, int *copy);
static int ngx_spiffe_ssl_session_new(SSL_SESSION *sess, ngx_str_t *id,
    u_char *digest);
static ngx_int_t ngx_spiffe_ssl_session_resume(ngx_ssl_conn_t *ssl_conn,
    SSL_SESSION *sess);
static ngx_int_t ngx_spiffe_ssl_placeholder(ngx_conf_t *cf,
    ngx_array_t **certs, ngx_array_t **keys);
static ngx_int_t ngx_spiffe_ssl_only_placeholder(ngx_array_t *certs);
static ngx_int_t ngx_spiffe_ssl_make_placeholder(ngx_conf_t *cf,
    ngx_str_t *cert, ngx_str_t *key);
static ngx_int_t ngx_spiffe_ssl_pem(ngx_conf_t *cf, BIO *bio, ngx_str_t *s);


static int  ngx_spiffe_ssl_ctx_index = -1;
static int  ngx_spiffe_ssl_upstream_index = -1;

static ngx_cycle_t  *ngx_spiffe_placeholder_cycle;
static ngx_str_t     ngx_spiffe_placeholder_cert;
static ngx_str_t     ngx_spiffe_placeholder_key;

/* once per process */

ngx_int_t
ngx_spiffe_ssl_init(ngx_log_t *log)
{
    if (ngx_spiffe_ssl_ctx_index == -1) {
        ngx_spiffe_ssl_ctx_index = SSL_CTX_get_ex_new_index(0, NULL, NULL,
                                                            NULL, NULL);
        ngx_spiffe_ssl_upstream_index = SSL_CTX_get_ex_new_index(0, NULL,
                                                                 NULL, NULL,
                                                                 NULL);

        if (ngx_spiffe_ssl_ctx_index == -1
            || ngx_spiffe_ssl_upstream_index == -1)
        {
            ngx_ssl_error(NGX_LOG_EMERG, log, 0,
                          "spiffe: SSL_get_ex_new_index() failed");
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/*
 * nginx creates no SSL context for an ssl server without a certificate;
 * a throwaway self-signed one, never served, stands in for the SVID that
 * the certificate callback sets on every handshake.
 */

static ngx_int_t
ngx_spiffe_ssl_placeholder(ngx_conf_t *cf, ngx_array_t **certs,
    ngx_array_t **keys)
{
    ngx_str_t  *s;

    if (ngx_spiffe_placeholder_cycle != cf->cycle) {
        if (ngx_spiffe_ssl_make_placeholder(cf, &ngx_spiffe_placeholder_cert,
                                            &ngx_spiffe_placeholder_key)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        ngx_spiffe_placeholder_cycle = cf->cycle;
    }

    if (*certs == NGX_CONF_UNSET_PTR || *certs == NULL) {
        *certs = ngx_array_create(cf->pool, 1, sizeof(ngx_str_t));
        if (*certs == NULL) {
            return NGX_ERROR;
        }
    }

    if (*keys == NGX_CONF_UNSET_PTR || *keys == NULL) {
        *keys = ngx_array_create(cf->pool, 1, sizeof(ngx_str_t));
        if (*keys == NULL) {
            return NGX_ERROR;
        }
    }

    s = ngx_array_push(*certs);
    if (s == NULL) {
        return NGX_ERROR;
    }

    *s = ngx_spiffe_placeholder_cert;

    s = ngx_array_push(*keys);
    if (s == NULL) {
        return NGX_ERROR;
    }

    *s = ngx_spiffe_placeholder_key;

    return NGX_OK;
}


/*
 * spiffe_svid and spiffe_proxy_svid: on | off | hint=HINT | spiffe://ID,
 * into the ngx_spiffe_svid_t pointer at cmd->offset (NULL for "off"), then
 * the command's post handler, as ngx_conf_set_flag_slot() does
 */

char *
ngx_spiffe_svid_slot(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    char  *p = conf;

    ngx_str_t           *value;
    spiffe_id_t          id;
    const char          *err;
    ngx_conf_post_t     *post;
    ngx_spiffe_conf_t   *scf;
    ngx_spiffe_svid_t  **field, *svid, **choice;

    /* one for all: its lack is logged once, whichever server says it */
    static ngx_spiffe_svid_t  on = { NGX_SPIFFE_SVID_ON, ngx_null_string,
                                     ngx_string("on"), 0 };

    field = (ngx_spiffe_svid_t **) (p + cmd->offset);

    if (*field != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "off") == 0) {
        *field = NULL;
        goto post;
    }

    if (ngx_strcmp(value[1].data, "on") == 0) {
        svid = &on;
        goto done;
    }

    svid = ngx_pcalloc(cf->pool, sizeof(ngx_spiffe_svid_t));
    if (svid == NULL) {
        return NGX_CONF_ERROR;
    }

    svid->name = value[1];

    if (ngx_strncmp(value[1].data, "hint=", 5) == 0 && value[1].len > 5) {
        svid->by = NGX_SPIFFE_SVID_HINT;
        svid->value.data = value[1].data + 5;
        svid->value.len = value[1].len - 5;

    } else if (ngx_strncmp(value[1].data, SPIFFE_SCHEME, SPIFFE_SCHEME_LEN)
               == 0)
    {
        if (spiffe_id_parse((char *) value[1].data, value[1].len, &id, &err)
            != SPIFFE_OK)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid SPIFFE ID \"%V\" in \"%V\": %s",
                               &value[1], &cmd->name, err);
            return NGX_CONF_ERROR;
        }

        svid->by = NGX_SPIFFE_SVID_ID;
        svid->value = value[1];

    } else {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid value \"%V\" in \"%V\" directive, it "
                           "must be \"on\", \"off\", \"hint=HINT\" or a "
                           "SPIFFE ID", &value[1], &cmd->name);
        return NGX_CONF_ERROR;
    }

done:

    *field = svid;

    /* for the status page */

    scf = ngx_spiffe_get_conf(cf->cycle);

    if (scf->svids == NULL) {
        scf->svids = ngx_array_create(cf->pool, 4,
                                      sizeof(ngx_spiffe_svid_t *));
        if (scf->svids == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    choice = ngx_array_push(scf->svids);
    if (choice == NULL) {
        return NGX_CONF_ERROR;
    }

    *choice = svid;

post:

    post = cmd->post;

    return post ? post->post_handler(cf, post, field) : NGX_CONF_OK;
}


/* spiffe_svid: the placeholder must be there before the ssl module merges */

char *
ngx_spiffe_ssl_svid_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf, ngx_array_t **certs, ngx_array_t **keys)
{
    char  *rv;

    rv = ngx_spiffe_svid_slot(cf, cmd, conf);

    if (rv != NGX_CONF_OK
        || *(ngx_spiffe_svid_t **) ((char *) conf + cmd->offset) == NULL)
    {
        return rv;
    }

    if (ngx_spiffe_ssl_placeholder(cf, certs, keys) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* whether the placeholder is the only certificate */

static ngx_int_t
ngx_spiffe_ssl_only_placeholder(ngx_array_t *certs)
{
    ngx_str_t  *cert;

    if (certs == NULL || certs->nelts != 1) {
        return 0;
    }

    cert = certs->elts;

    return cert->data == ngx_spiffe_placeholder_cert.data;
}


void
ngx_spiffe_ssl_create_server(ngx_spiffe_server_conf_t *conf)
{
    conf->svid = NGX_CONF_UNSET_PTR;
    conf->verify = NGX_CONF_UNSET_UINT;
}


/* the directive that asks for TLS hooks in a server, or NULL */

const char *
ngx_spiffe_ssl_server_directive(ngx_spiffe_server_conf_t *conf)
{
    if (conf->svid) {
        return "spiffe_svid";
    }

    if (conf->verify != NGX_SPIFFE_VERIFY_OFF) {
        return "spiffe_verify_client";
    }

    return NULL;
}


/*
 * spiffe_svid and spiffe_verify_client on one server, http or stream,
 * merged: certificates and ssl_verify are that server's ssl_certificate and
 * ssl_verify_client, file and line where the server is.
 */

char *
ngx_spiffe_ssl_server(ngx_conf_t *cf, ngx_spiffe_server_conf_t *prev,
    ngx_spiffe_server_conf_t *conf, ngx_ssl_t *ssl,
    ngx_array_t *certificates, ngx_uint_t ssl_verify, u_char *file,
    ngx_uint_t line)
{
    ngx_uint_t          verify;
    const char         *name;
    ngx_spiffe_svid_t  *svid;

    ngx_conf_merge_ptr_value(conf->svid, prev->svid, NULL);
    ngx_conf_merge_uint_value(conf->verify, prev->verify,
                              NGX_SPIFFE_VERIFY_OFF);

    svid = conf->svid;
    verify = conf->verify;
    name = ngx_spiffe_ssl_server_directive(conf);

    if (name == NULL) {

        /* "spiffe_svid off" under a level with it on: nothing to serve */

        if (ssl->ctx && ngx_spiffe_ssl_only_placeholder(certificates)) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "no \"ssl_certificate\" for the server in "
                          "%s:%ui, where \"spiffe_svid\" is off",
                          file, line);
            return NGX_CONF_ERROR;
        }

        return NGX_CONF_OK;
    }

    if (ngx_spiffe_need_source(cf, name, file, line) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    if (svid && !ngx_spiffe_ssl_only_placeholder(certificates)) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"spiffe_svid %V\" cannot be combined with "
                      "\"ssl_certificate\" in the server in %s:%ui",
                      &svid->name, file, line);
        return NGX_CONF_ERROR;
    }

    if (verify != NGX_SPIFFE_VERIFY_OFF && ssl_verify) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"spiffe_verify_client\" cannot be combined with "
                      "\"ssl_verify_client\" in the server in %s:%ui",
                      file, line);
        return NGX_CONF_ERROR;
    }

    if (ssl->ctx == NULL) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0, NGX_SPIFFE_NEEDS_TLS,
                      name, file, line);
        return NGX_CONF_ERROR;
    }


    if (svid) {
        SSL_CTX_set_cert_cb(ssl->ctx, ngx_spiffe_ssl_certificate, svid);
    }

    if (verify == NGX_SPIFFE_VERIFY_OFF) {
        return NGX_CONF_OK;
    }

    /*
     * as with ssl_verify_client, the handshake completes whatever the
     * client sent, and the protocol module refuses the connection before
     * serving it: a refused handshake would be logged at "crit"
     */

    SSL_CTX_set_verify(ssl->ctx, SSL_VERIFY_PEER, NULL);
    SSL_CTX_set_cert_verify_callback(ssl->ctx, ngx_spiffe_ssl_verify, NULL);

    /*
     * a session is resumed only while the peer's bundle is the one it was
     * verified under: tickets through the ticket callback, the shared
     * cache through its lookup; OpenSSL's own cache cannot be checked
     */

    SSL_CTX_set_session_ticket_cb(ssl->ctx, NULL, ngx_spiffe_ssl_ticket,
                                  NULL);

    if (SSL_CTX_sess_get_get_cb(ssl->ctx)) {

        if (SSL_CTX_set_ex_data(ssl->ctx, ngx_spiffe_ssl_ctx_index,
                                SSL_CTX_sess_get_get_cb(ssl->ctx))
            == 0)
        {
            ngx_ssl_error(NGX_LOG_EMERG, cf->log, 0,
                          "SSL_CTX_set_ex_data() failed");
            return NGX_CONF_ERROR;
        }

        SSL_CTX_sess_set_get_cb(ssl->ctx, ngx_spiffe_ssl_cached_session);
    }

    SSL_CTX_set_session_cache_mode(ssl->ctx,
                                   SSL_CTX_get_session_cache_mode(ssl->ctx)
                                   | SSL_SESS_CACHE_NO_INTERNAL_LOOKUP);

    return NGX_CONF_OK;
}


/*
 * An upstream context of a location or a stream server: our SVID when the
 * upstream asks for a client certificate, and the upstream's SVID checked
 * against the patterns.  A refusal fails the handshake: no byte is sent.
 *
 * nginx 1.23.1 and later give one context to the locations or servers
 * that set no proxy_ssl_* directive of their own; the hooks are the
 * context's, so such users must agree on them: NGX_DECLINED otherwise.
 */

ngx_int_t
ngx_spiffe_ssl_client(ngx_conf_t *cf, ngx_ssl_t *ssl,
    ngx_spiffe_upstream_t *up)
{
    unsigned int            len;
    ngx_spiffe_upstream_t  *prev;

    /*
     * the sessions it makes are tagged with what it presents (OpenSSL
     * copies the context's session ID context into them, and keeps it
     * when nginx saves them): ngx_spiffe_upstream.c compares the tags
     */

    if (up->presents.len) {
        if (EVP_Digest(up->presents.data, up->presents.len, up->tag, &len,
                       EVP_sha256(), NULL)
            != 1)
        {
            ngx_ssl_error(NGX_LOG_EMERG, cf->log, 0, "EVP_Digest() failed");
            return NGX_ERROR;
        }

        up->tag_len = len;
    }

    prev = SSL_CTX_get_ex_data(ssl->ctx, ngx_spiffe_ssl_upstream_index);

    if (prev) {
        return (prev->rules == up->rules
                && prev->presents.len == up->presents.len
                && ngx_memcmp(prev->presents.data, up->presents.data,
                              up->presents.len)
                   == 0)
               ? NGX_OK : NGX_DECLINED;
    }

    if (SSL_CTX_set_ex_data(ssl->ctx, ngx_spiffe_ssl_upstream_index, up)
        == 0)
    {
        ngx_ssl_error(NGX_LOG_EMERG, cf->log, 0,
                      "SSL_CTX_set_ex_data() failed");
        return NGX_ERROR;
    }

    if (up->svid) {
        SSL_CTX_set_cert_cb(ssl->ctx, ngx_spiffe_ssl_certificate, up->svid);
    }

    if (up->tag_len
        && SSL_CTX_set_session_id_context(ssl->ctx, up->tag, up->tag_len)
           != 1)
    {
        ngx_ssl_error(NGX_LOG_EMERG, cf->log, 0,
                      "SSL_CTX_set_session_id_context() failed");
        return NGX_ERROR;
    }

    if (up->rules) {
        SSL_CTX_set_verify(ssl->ctx, SSL_VERIFY_PEER, NULL);
        SSL_CTX_set_cert_verify_callback(ssl->ctx, ngx_spiffe_ssl_verify,
                                         up);
    }

    return NGX_OK;
}


/*
 * Whether the verified peer of a kept-alive connection still stands as a
 * session must to resume: the bundle of its trust domain is the one it was
 * verified under, and its certificate has not expired
 */

ngx_int_t
ngx_spiffe_ssl_peer_current(ngx_connection_t *c, const char **reason)
{
    ngx_str_t     id;
    SSL_SESSION  *sess;

    sess = SSL_get0_session(c->ssl->connection);

    if (sess == NULL) {
        *reason = "no session";
        return 0;
    }

    switch (ngx_spiffe_ssl_session_check(sess, ngx_spiffe_snapshot(), &id,
                                         reason))
    {
    case NGX_OK:
        return 1;

    case NGX_DECLINED:
        *reason = "no verified ID in its session";
        return 0;

    default:
        return 0;
    }
}


ngx_int_t
ngx_spiffe_ssl_session_allowed(SSL_SESSION *sess, spiffe_rules_t *rules)
{
    ngx_str_t    id;
    const char  *reason;

    return ngx_spiffe_ssl_session_check(sess, ngx_spiffe_snapshot(), &id,
                                        &reason)
           == NGX_OK
           && spiffe_rules_decide(rules, (char *) id.data, id.len, NULL)
              == SPIFFE_RULES_ALLOW;
}


/* whether an upstream session was made presenting what up presents */

ngx_int_t
ngx_spiffe_ssl_session_presents(SSL_SESSION *sess, ngx_spiffe_upstream_t *up)
{
    unsigned int   len;
    const u_char  *tag;

    if (sess == NULL) {
        return 0;
    }

    tag = SSL_SESSION_get0_id_context(sess, &len);

    return len == up->tag_len && ngx_memcmp(tag, up->tag, len) == 0;
}


/* the SVID a server or an upstream connection presents, or NULL */

const spiffe_snapshot_svid_t *
ngx_spiffe_ssl_svid(spiffe_snapshot_t *snap, ngx_spiffe_svid_t *svid)
{
    if (snap == NULL) {
        return NULL;
    }

    if (svid == NULL || svid->by == NGX_SPIFFE_SVID_ON) {
        return spiffe_snapshot_svid(snap);
    }

    return spiffe_snapshot_find_svid(snap,
                                     (svid->by == NGX_SPIFFE_SVID_ID)
                                     ? SPIFFE_SNAPSHOT_BY_ID
                                     : SPIFFE_SNAPSHOT_BY_HINT,
                                     (char *) svid->value.data,
                                     svid->value.len);
}


static int
ngx_spiffe_ssl_certificate(ngx_ssl_conn_t *ssl_conn, void *arg)
{
    ngx_spiffe_svid_t  *choice = arg;

    uint64_t                       version;
    ngx_uint_t                     level;
    ngx_connection_t              *c;
    spiffe_snapshot_t             *snap;
    const spiffe_snapshot_svid_t  *svid;

    c = ngx_ssl_get_connection(ssl_conn);

    snap = ngx_spiffe_snapshot();
    svid = ngx_spiffe_ssl_svid(snap, choice);

    if (svid != NULL && svid->not_after > ngx_time()) {

        if (SSL_use_cert_and_key(ssl_conn, svid->leaf, svid->key,
                                 svid->chain, 1)
            != 1)
        {
            ngx_ssl_error(NGX_LOG_ERR, c->log, 0,
                          "spiffe: SSL_use_cert_and_key() failed");
            return 0;
        }

        return 1;
    }

    /*
     * without a valid SVID every handshake of this choice fails: said once
     * per snapshot, not once per client
     */

    version = 1 + (snap ? spiffe_snapshot_version(snap) : 0);
    level = (choice->logged == version) ? NGX_LOG_DEBUG : NGX_LOG_ERR;
    choice->logged = version;

    if (snap == NULL) {
        ngx_log_error(level, c->log, 0, "spiffe: no SVID to serve yet");

    } else if (svid == NULL) {
        ngx_log_error(level, c->log, 0,
                      "spiffe: no SVID for \"%V\" in the current "
                      "X509SVIDResponse", &choice->name);

    } else {
        ngx_log_error(level, c->log, 0,
                      "spiffe: SVID \"%s\" has expired and no new one "
                      "came", svid->id);
    }

    return 0;
}


/*
 * Both sides: arg is NULL for a client's certificate, which is refused
 * later by the protocol module, and the spiffe_proxy_verify of the location
 * or stream server for an upstream's.
 */

static int
ngx_spiffe_ssl_verify(X509_STORE_CTX *x509_store, void *arg)
{
    ngx_spiffe_upstream_t  *up = arg;

    int                 ok;
    size_t              len;
    const char         *reason, *err;
    spiffe_err_t        code;
    ngx_ssl_conn_t     *ssl_conn;
    ngx_connection_t   *c;
    ngx_spiffe_peer_t  *peer;
    spiffe_snapshot_t  *snap;
    u_char             *last;
    u_char              digest[SPIFFE_DIGEST_LEN];
    u_char              where[NGX_SPIFFE_WHERE_LEN];
    char                buf[SPIFFE_ID_MAX_LEN + 1];

    ssl_conn = X509_STORE_CTX_get_ex_data(x509_store,
                                        SSL_get_ex_data_X509_STORE_CTX_idx());
    c = ngx_ssl_get_connection(ssl_conn);

    snap = ngx_spiffe_snapshot();
    len = 0;
    buf[0] = '\0';

    if (snap == NULL) {
        code = SPIFFE_ERR_NO_TRUST_BUNDLE;
        reason = spiffe_err_text(code);

    } else {
        code = spiffe_snapshot_verify_peer(snap,
                                   X509_STORE_CTX_get0_cert(x509_store),
                                   X509_STORE_CTX_get0_untrusted(x509_store),
                                   ngx_time(), buf, &len, &reason);
    }

    if (code == SPIFFE_OK && up
        && spiffe_rules_decide(up->rules, buf, len, NULL)
           != SPIFFE_RULES_ALLOW)
    {
        code = SPIFFE_ERR_NOT_ALLOWED;
        reason = spiffe_err_text(code);
    }

    ok = (code == SPIFFE_OK);

    peer = ngx_spiffe_peer_create(c, buf, ok ? len : 0, ok ? NULL : reason);
    if (peer == NULL) {
        return 0;
    }

    if (!ok) {
        X509_STORE_CTX_set_error(x509_store,
                                 X509_V_ERR_APPLICATION_VERIFICATION);

        ngx_spiffe_stats_refused(up ? NGX_SPIFFE_SIDE_UPSTREAM
                                    : NGX_SPIFFE_SIDE_CLIENT, code);

        if (up == NULL) {
            ngx_log_error(NGX_LOG_INFO, c->log, 0,
                          "spiffe: peer X.509-SVID refused: %s", reason);
            return 1;
        }

        /* a refusal by pattern is the location's policy, not a failure */
        peer->mismatch = (len != 0);

        if (len == 0) {
            /* the ID it claims, unverified, for the log only */
            (void) spiffe_x509_peer_id(X509_STORE_CTX_get0_cert(x509_store),
                                       buf, &len, &err);
        }

        last = up->where(c, where, sizeof(where));

        ngx_log_error(NGX_LOG_ERR, c->log, 0,
                      "spiffe: upstream X.509-SVID%s%s%s refused in %*s: %s",
                      len ? " \"" : "", buf, len ? "\"" : "", last - where,
                      where, reason);

        /* nginx logs the failed handshake at the level of this reason */
        ERR_raise(ERR_LIB_SSL, SSL_R_CALLBACK_FAILED);

        return 0;
    }

    X509_STORE_CTX_set_error(x509_store, X509_V_OK);

    ngx_spiffe_stats_count(up ? NGX_SPIFFE_STAT_UPSTREAM_VERIFIED
                              : NGX_SPIFFE_STAT_CLIENT_VERIFIED);

    /* bind the session to the bundle the peer was verified under */

    if (spiffe_snapshot_td_digest(snap, (char *) peer->td.data,
                                  peer->td.len, digest)
        == 0)
    {
        (void) ngx_spiffe_ssl_session_new(SSL_get_session(ssl_conn),
                                          &peer->id, digest);
    }

    ngx_log_debug1(NGX_LOG_DEBUG_EVENT, c->log, 0,
                   "spiffe: peer \"%V\" verified", &peer->id);

    return 1;
}


static SSL_TICKET_RETURN
ngx_spiffe_ssl_ticket(ngx_ssl_conn_t *ssl_conn, SSL_SESSION *sess,
    const unsigned char *keyname, size_t keyname_len,
    SSL_TICKET_STATUS status, void *arg)
{
    if (status != SSL_TICKET_SUCCESS && status != SSL_TICKET_SUCCESS_RENEW) {
        return SSL_TICKET_RETURN_IGNORE_RENEW;
    }

    if (ngx_spiffe_ssl_session_resume(ssl_conn, sess) != NGX_OK) {
        return SSL_TICKET_RETURN_IGNORE_RENEW;
    }

    return (status == SSL_TICKET_SUCCESS) ? SSL_TICKET_RETURN_USE
                                          : SSL_TICKET_RETURN_USE_RENEW;
}


static SSL_SESSION *
ngx_spiffe_ssl_cached_session(ngx_ssl_conn_t *ssl_conn, const u_char *id,
    int len, int *copy)
{
    SSL_CTX       *ctx;
    SSL_SESSION   *sess;
    SSL_SESSION *(*get)(ngx_ssl_conn_t *, const u_char *, int, int *);

    ctx = SSL_get_SSL_CTX(ssl_conn);
    get = SSL_CTX_get_ex_data(ctx, ngx_spiffe_ssl_ctx_index);

    sess = get(ssl_conn, id, len, copy);

    if (sess && ngx_spiffe_ssl_session_resume(ssl_conn, sess) != NGX_OK) {
        SSL_SESSION_free(sess);
        return NULL;
    }

    return sess;
}


/*
 * Whether a client may resume sess: it is decided here, during the
 * handshake, as a full handshake would be, and the peer is kept for the
 * connection; a bundle change after this point does not concern it.
 */

static ngx_int_t
ngx_spiffe_ssl_session_resume(ngx_ssl_conn_t *ssl_conn, SSL_SESSION *sess)
{
    ngx_int_t           rc;
    ngx_str_t           id;
    const char         *reason;
    ngx_connection_t   *c;
    ngx_spiffe_peer_t  *peer;

    c = ngx_ssl_get_connection(ssl_conn);

    rc = ngx_spiffe_ssl_session_check(sess, ngx_spiffe_snapshot(), &id,
                                      &reason);

    if (rc == NGX_DECLINED && SSL_SESSION_get0_peer(sess) != NULL) {
        /* its certificate was refused: let it be refused again */
        rc = NGX_ERROR;
        reason = "the peer certificate was not verified";
    }

    if (rc == NGX_ERROR) {
        ngx_log_debug1(NGX_LOG_DEBUG_EVENT, c->log, 0,
                       "spiffe: session not resumed: %s", reason);
        return NGX_DECLINED;
    }

    peer = ngx_spiffe_peer_create(c, (char *) id.data, id.len, NULL);
    if (peer == NULL) {
        return NGX_ERROR;
    }

    peer->resumed = 1;

    if (rc == NGX_OK) {
        ngx_spiffe_stats_count(NGX_SPIFFE_STAT_RESUMED);
    }

    return NGX_OK;
}


static int
ngx_spiffe_ssl_session_new(SSL_SESSION *sess, ngx_str_t *id, u_char *digest)
{
    u_char  buf[NGX_SPIFFE_SESSION_HDR + SPIFFE_ID_MAX_LEN];

    if (sess == NULL) {
        return 0;
    }

    buf[0] = NGX_SPIFFE_SESSION_TAG;
    ngx_memcpy(buf + 1, digest, SPIFFE_DIGEST_LEN);
    ngx_memcpy(buf + NGX_SPIFFE_SESSION_HDR, id->data, id->len);

    return SSL_SESSION_set1_ticket_appdata(sess, buf,
                                           NGX_SPIFFE_SESSION_HDR + id->len);
}


/*
 * NGX_OK: the session holds a verified ID, in *id, that still stands under
 * snap; NGX_DECLINED: it holds none; NGX_ERROR: it no longer stands.
 */

ngx_int_t
ngx_spiffe_ssl_session_check(SSL_SESSION *sess, spiffe_snapshot_t *snap,
    ngx_str_t *id, const char **reason)
{
    void         *data;
    size_t        len;
    const char   *err;
    spiffe_id_t   parsed;
    u_char        digest[SPIFFE_DIGEST_LEN];

    ngx_str_null(id);

    if (SSL_SESSION_get0_peer(sess) == NULL
        || SSL_SESSION_get0_ticket_appdata(sess, &data, &len) != 1
        || len <= NGX_SPIFFE_SESSION_HDR
        || ((u_char *) data)[0] != NGX_SPIFFE_SESSION_TAG)
    {
        return NGX_DECLINED;
    }

    if (X509_cmp_time(X509_get0_notAfter(SSL_SESSION_get0_peer(sess)), NULL)
        <= 0)
    {
        *reason = "certificate has expired";
        return NGX_ERROR;
    }

    if (snap == NULL
        || spiffe_id_parse((char *) data + NGX_SPIFFE_SESSION_HDR,
                           len - NGX_SPIFFE_SESSION_HDR, &parsed, &err)
           != SPIFFE_OK
        || spiffe_snapshot_td_digest(snap, parsed.td, parsed.td_len, digest)
           != 0
        || ngx_memcmp(digest, (u_char *) data + 1, SPIFFE_DIGEST_LEN) != 0)
    {
        *reason = "resumed session predates a bundle change";
        return NGX_ERROR;
    }

    id->data = (u_char *) data + NGX_SPIFFE_SESSION_HDR;
    id->len = len - NGX_SPIFFE_SESSION_HDR;

    return NGX_OK;
}


static ngx_int_t
ngx_spiffe_ssl_make_placeholder(ngx_conf_t *cf, ngx_str_t *cert,
    ngx_str_t *key)
{
    BIO        *bio;
    X509       *x509;
    EVP_PKEY   *pkey;
    ngx_int_t   rc;
    X509_NAME  *name;

    rc = NGX_ERROR;
    bio = NULL;
    x509 = NULL;

    pkey = EVP_EC_gen("P-256");
    if (pkey == NULL) {
        goto failed;
    }

    x509 = X509_new();
    bio = BIO_new(BIO_s_mem());

    if (x509 == NULL || bio == NULL) {
        goto failed;
    }

    name = X509_get_subject_name(x509);

    if (X509_set_version(x509, 2) != 1
        || ASN1_INTEGER_set(X509_get_serialNumber(x509), 1) != 1
        || X509_gmtime_adj(X509_getm_notBefore(x509), 0) == NULL
        || X509_gmtime_adj(X509_getm_notAfter(x509), 60) == NULL
        || X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                      (u_char *) NGX_SPIFFE_PLACEHOLDER_CN,
                                      -1, -1, 0)
           != 1
        || X509_set_issuer_name(x509, name) != 1
        || X509_set_pubkey(x509, pkey) != 1
        || X509_sign(x509, pkey, EVP_sha256()) == 0
        || PEM_write_bio_X509(bio, x509) != 1
        || ngx_spiffe_ssl_pem(cf, bio, cert) != NGX_OK
        || PEM_write_bio_PrivateKey(bio, pkey, NULL, NULL, 0, NULL, NULL)
           != 1
        || ngx_spiffe_ssl_pem(cf, bio, key) != NGX_OK)
    {
        goto failed;
    }

    rc = NGX_OK;

failed:

    if (rc != NGX_OK) {
        ngx_ssl_error(NGX_LOG_EMERG, cf->log, 0,
                      "spiffe: cannot make the placeholder certificate");
    }

    BIO_free(bio);
    X509_free(x509);
    EVP_PKEY_free(pkey);

    return rc;
}


/* moves what the BIO holds into a "data:" string, and empties the BIO */

static ngx_int_t
ngx_spiffe_ssl_pem(ngx_conf_t *cf, BIO *bio, ngx_str_t *s)
{
    long     len;
    char    *pem;

    len = BIO_get_mem_data(bio, &pem);
    if (len <= 0) {
        return NGX_ERROR;
    }

    s->len = sizeof("data:") - 1 + len;
    s->data = ngx_pnalloc(cf->cycle->pool, s->len + 1);
    if (s->data == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(s->data, "data:%*s%Z", (size_t) len, pem);

    return (BIO_reset(bio) == 1) ? NGX_OK : NGX_ERROR;
}
