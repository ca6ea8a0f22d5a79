
/*
 * Copyright (C) ngx_spiffe developers
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>

#include <ngx_spiffe.h>


/*
 * The peer of a TLS connection, http or stream, as the verify callback or
 * a resumed session found it (ngx_spiffe_ssl.c), kept with the connection
 * for the rules and the $spiffe_* variables.
 */


static int  ngx_spiffe_peer_index = -1;

static ngx_str_t  ngx_spiffe_verify_success = ngx_string("SUCCESS");
static ngx_str_t  ngx_spiffe_verify_none = ngx_string("NONE");


/* spiffe_verify_client and spiffe_jwt: whether a peer must prove an ID */

ngx_conf_enum_t  ngx_spiffe_verify[] = {
    { ngx_string("off"), NGX_SPIFFE_VERIFY_OFF },
    { ngx_string("on"), NGX_SPIFFE_VERIFY_ON },
    { ngx_string("optional"), NGX_SPIFFE_VERIFY_OPTIONAL },
    { ngx_null_string, 0 }
};


ngx_spiffe_variable_t  ngx_spiffe_peer_variables[] = {
    { ngx_string("spiffe_id"), offsetof(ngx_spiffe_peer_t, id) },
    { ngx_string("spiffe_trust_domain"), offsetof(ngx_spiffe_peer_t, td) },
    { ngx_string("spiffe_path"), offsetof(ngx_spiffe_peer_t, path) },
    { ngx_string("spiffe_verify"), offsetof(ngx_spiffe_peer_t, verify) },
    { ngx_null_string, 0 }
};


/* once per process, before any variable or rule may look at a peer */

ngx_int_t
ngx_spiffe_peer_init(ngx_log_t *log)
{
    if (ngx_spiffe_peer_index == -1) {
        ngx_spiffe_peer_index = SSL_get_ex_new_index(0, NULL, NULL, NULL,
                                                     NULL);

        if (ngx_spiffe_peer_index == -1) {
            ngx_ssl_error(NGX_LOG_EMERG, log, 0,
                          "spiffe: SSL_get_ex_new_index() failed");
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/*
 * The peer of a connection, found once: by the verify callback on a full
 * handshake, from the session on a resumed one.
 */

ngx_spiffe_peer_t *
ngx_spiffe_peer(ngx_connection_t *c)
{
    int                 reused;
    ngx_int_t           rc;
    ngx_str_t           id;
    const char         *reason;
    SSL_SESSION        *sess;
    ngx_connection_t   *owner;
    ngx_spiffe_peer_t  *peer;

    if (c->ssl == NULL) {
        return NULL;
    }

    peer = SSL_get_ex_data(c->ssl->connection, ngx_spiffe_peer_index);
    reused = SSL_session_reused(c->ssl->connection);

    /* a session allowed at the handshake may still have been declined */

    if (peer && (reused || !peer->resumed)) {
        return peer;
    }

    /* an HTTP/2 stream has a connection of its own; the pool is the TLS one */

    owner = ngx_ssl_get_connection(c->ssl->connection);
    sess = SSL_get0_session(c->ssl->connection);

    if (!reused || sess == NULL) {
        return ngx_spiffe_peer_create(owner, NULL, 0, NULL);
    }

    /* resumed without our callbacks, e.g. by a server chosen by SNI */

    rc = ngx_spiffe_ssl_session_check(sess, ngx_spiffe_snapshot(), &id,
                                      &reason);

    return ngx_spiffe_peer_create(owner, (char *) id.data, id.len,
                                  rc == NGX_ERROR ? reason : NULL);
}


/* $spiffe_id and its kin, for http and stream */

ngx_int_t
ngx_spiffe_peer_variable(ngx_connection_t *c, ngx_variable_value_t *v,
    uintptr_t data)
{
    ngx_spiffe_peer_t  *peer;

    peer = c->ssl ? ngx_spiffe_peer(c) : NULL;

    if (peer == NULL) {
        ngx_spiffe_variable(v, (data == offsetof(ngx_spiffe_peer_t, verify))
                               ? &ngx_spiffe_verify_none : NULL);
        return NGX_OK;
    }

    ngx_spiffe_variable(v, (ngx_str_t *) ((char *) peer + data));

    return NGX_OK;
}


void
ngx_spiffe_variable(ngx_variable_value_t *v, ngx_str_t *s)
{
    if (s == NULL || s->len == 0) {
        v->not_found = 1;
        return;
    }

    v->len = s->len;
    v->data = s->data;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;
}


ngx_int_t
ngx_spiffe_peer_allowed(ngx_connection_t *c, spiffe_rules_t *rules)
{
    ngx_spiffe_peer_t  *peer;

    peer = ngx_spiffe_peer(c);

    return peer != NULL && peer->status == NGX_SPIFFE_PEER_VERIFIED
           && spiffe_rules_decide(rules, (char *) peer->id.data,
                                  peer->id.len, NULL)
              == SPIFFE_RULES_ALLOW;
}


ngx_spiffe_peer_t *
ngx_spiffe_peer_create(ngx_connection_t *c, const char *id, size_t len,
    const char *reason)
{
    u_char             *p;
    const char         *err;
    spiffe_id_t         parsed;
    ngx_spiffe_peer_t  *peer;

    peer = ngx_pcalloc(c->pool, sizeof(ngx_spiffe_peer_t));
    if (peer == NULL) {
        return NULL;
    }

    if (reason) {
        len = sizeof("FAILED:") - 1 + ngx_strlen(reason);

        p = ngx_pnalloc(c->pool, len);
        if (p == NULL) {
            return NULL;
        }

        peer->verify.len = ngx_sprintf(p, "FAILED:%s", reason) - p;
        peer->verify.data = p;
        peer->status = NGX_SPIFFE_PEER_FAILED;

    } else if (len == 0) {
        peer->verify = ngx_spiffe_verify_none;
        peer->status = NGX_SPIFFE_PEER_NONE;

    } else {
        peer->id.data = ngx_pstrdup(c->pool,
                                    &(ngx_str_t) { len, (u_char *) id });
        if (peer->id.data == NULL) {
            return NULL;
        }

        peer->id.len = len;

        if (spiffe_id_parse((char *) peer->id.data, len, &parsed, &err)
            != SPIFFE_OK)
        {
            return NULL;
        }

        peer->td.data = (u_char *) parsed.td;
        peer->td.len = parsed.td_len;
        peer->path.data = (u_char *) parsed.path;
        peer->path.len = parsed.path_len;
        peer->verify = ngx_spiffe_verify_success;
        peer->status = NGX_SPIFFE_PEER_VERIFIED;
    }

    if (SSL_set_ex_data(c->ssl->connection, ngx_spiffe_peer_index, peer) == 0) {
        return NULL;
    }

    return peer;
}
