
/*
 * Copyright (C) ngx_spiffe developers
 */


#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <arpa/inet.h>

#include <openssl/x509.h>

#include <spiffe_id.h>
#include <spiffe_x509.h>
#include <spiffe_tdset.h>
#include <spiffe_workload.h>


static int spiffe_workload_parse_unix(const char *p, const char *end,
    spiffe_grpc_addr_t *addr, const char **err);
static int spiffe_workload_parse_tcp(const char *p, const char *end,
    spiffe_grpc_addr_t *addr, const char **err);
static const void *spiffe_workload_by_hint(const void *svids, size_t n,
    size_t size, size_t offset, const char *hint, size_t hint_len);
static int spiffe_workload_parse_svid(const spiffe_pb_x509_svid_t *svid,
    spiffe_snapshot_other_t *out, char *id, size_t *len, const char **err);


int
spiffe_workload_parse_address(const char *s, size_t len,
    spiffe_grpc_addr_t *addr, const char **err)
{
    spiffe_grpc_addr_t  check;

    if (addr == NULL) {
        addr = &check;
    }

    memset(addr, 0, sizeof(spiffe_grpc_addr_t));

    /* URL schemes are case-insensitive */

    if (spiffe_grpc_prefix(s, len, "unix:")) {
        addr->type = SPIFFE_GRPC_ADDR_UNIX;
        return spiffe_workload_parse_unix(s + 5, s + len, addr, err);
    }

    if (spiffe_grpc_prefix(s, len, "tcp:")) {
        addr->type = SPIFFE_GRPC_ADDR_TCP;
        return spiffe_workload_parse_tcp(s + 4, s + len, addr, err);
    }

    *err = "has an unknown scheme, expected \"unix:\" or \"tcp:\"";
    return -1;
}


static int
spiffe_workload_parse_unix(const char *p, const char *end,
    spiffe_grpc_addr_t *addr, const char **err)
{
    int     hi, lo;
    char   *d;
    size_t  n;

    if (end - p >= 2 && p[0] == '/' && p[1] == '/') {
        p += 2;

        if (p < end && *p != '/') {
            *err = "has a host in a unix address, expected \"unix:///path\"";
            return -1;
        }
    }

    if (p == end) {
        *err = "has an empty unix socket path";
        return -1;
    }

    if (*p != '/') {
        *err = "has a relative unix socket path";
        return -1;
    }

    /* the path is a URL path: percent-escapes are decoded, as go-spiffe does */

    d = addr->path;
    n = 0;

    while (p < end) {

        if (n == SPIFFE_GRPC_UNIX_PATH_MAX - 1) {
            *err = "has a unix socket path longer than 107 bytes";
            return -1;
        }

        switch (*p) {

        case '?':
            *err = "has a query";
            return -1;

        case '#':
            *err = "has a fragment";
            return -1;

        case '%':
            hi = (end - p >= 3) ? spiffe_grpc_hex(p[1]) : -1;
            lo = (end - p >= 3) ? spiffe_grpc_hex(p[2]) : -1;

            if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
                *err = "has a bad percent-escape in the unix socket path";
                return -1;
            }

            d[n++] = (char) (hi << 4 | lo);
            p += 3;
            break;

        case '\0':
            *err = "has a NUL in the unix socket path";
            return -1;

        default:
            d[n++] = *p++;
        }
    }

    d[n] = '\0';

    return 0;
}


static int
spiffe_workload_parse_tcp(const char *p, const char *end,
    spiffe_grpc_addr_t *addr, const char **err)
{
    char           host[SPIFFE_GRPC_IP_MAX];
    size_t         n;
    unsigned       port;
    const char    *h, *hend, *q;
    unsigned char  sa[sizeof(struct in6_addr)];

    if (end - p < 2 || p[0] != '/' || p[1] != '/') {
        *err = "is not \"tcp://IP:PORT\"";
        return -1;
    }

    p += 2;

    for (q = p; q < end; q++) {
        switch (*q) {

        case '@':
            *err = "has userinfo";
            return -1;

        case '/':
            *err = "has a path in a tcp address";
            return -1;

        case '?':
            *err = "has a query";
            return -1;

        case '#':
            *err = "has a fragment";
            return -1;
        }
    }

    if (p < end && *p == '[') {
        h = p + 1;
        hend = memchr(h, ']', end - h);

        if (hend == NULL) {
            *err = "has an IPv6 address without \"]\"";
            return -1;
        }

        p = hend + 1;
        addr->family = AF_INET6;

    } else {
        h = p;
        hend = memchr(h, ':', end - h);

        if (hend == NULL) {
            hend = end;

        } else if (memchr(hend + 1, ':', end - hend - 1) != NULL) {
            *err = "has an IPv6 address without brackets";
            return -1;
        }

        p = hend;
        addr->family = AF_INET;
    }

    n = hend - h;

    if (n == 0) {
        *err = "has no IP address";
        return -1;
    }

    if (n >= sizeof(host)) {
        *err = "has a host that is not an IP address (names are not allowed)";
        return -1;
    }

    memcpy(host, h, n);
    host[n] = '\0';

    if (inet_pton(addr->family, host, sa) != 1) {
        if (addr->family == AF_INET6) {
            *err = "has a bad IPv6 address";

        } else if (strspn(host, "0123456789.") == n) {
            *err = "has a bad IPv4 address";

        } else {
            *err = "has a host that is not an IP address "
                   "(names are not allowed)";
        }

        return -1;
    }

    if (inet_ntop(addr->family, sa, addr->ip, sizeof(addr->ip)) == NULL) {
        *err = "has a bad IP address";
        return -1;
    }

    if (p < end && *p != ':') {
        *err = "is not \"tcp://IP:PORT\"";
        return -1;
    }

    if (end - p < 2) {
        *err = "has no port";
        return -1;
    }

    for (p++, port = 0; p < end; p++) {

        if (*p < '0' || *p > '9') {
            *err = "has a bad port";
            return -1;
        }

        if (port <= 65535) {
            port = port * 10 + (*p - '0');
        }
    }

    if (port == 0 || port > 65535) {
        *err = "has a port out of range";
        return -1;
    }

    addr->port = port;

    return 0;
}


const spiffe_pb_x509_svid_t *
spiffe_workload_x509_svid(const spiffe_pb_x509_svid_resp_t *resp,
    const char *hint, size_t hint_len)
{
    return spiffe_workload_by_hint(resp->svids, resp->nsvids,
                                   sizeof(spiffe_pb_x509_svid_t),
                                   offsetof(spiffe_pb_x509_svid_t, hint),
                                   hint, hint_len);
}


const spiffe_pb_jwt_svid_t *
spiffe_workload_jwt_svid(const spiffe_pb_jwt_svid_resp_t *resp,
    const char *hint, size_t hint_len)
{
    return spiffe_workload_by_hint(resp->svids, resp->nsvids,
                                   sizeof(spiffe_pb_jwt_svid_t),
                                   offsetof(spiffe_pb_jwt_svid_t, hint),
                                   hint, hint_len);
}


/* the first of n SVIDs of size bytes whose hint, at offset, is hint */

static const void *
spiffe_workload_by_hint(const void *svids, size_t n, size_t size,
    size_t offset, const char *hint, size_t hint_len)
{
    size_t                 i;
    const unsigned char   *p;
    const spiffe_bytes_t  *h;

    p = svids;

    for (i = 0; i < n; i++, p += size) {
        h = (const spiffe_bytes_t *) (p + offset);

        /* no hint asked: any SVID will do */

        if (hint_len == 0
            || (h->len == hint_len && memcmp(h->data, hint, hint_len) == 0))
        {
            return p;
        }
    }

    return NULL;
}


spiffe_snapshot_t *
spiffe_workload_x509_snapshot(const spiffe_pb_x509_svid_resp_t *resp,
    const char *hint, size_t hint_len, uint64_t version, time_t now,
    const char **err)
{
    char                          id[SPIFFE_ID_MAX_LEN + 1];
    size_t                        i, len;
    X509_CRL                     *crl;
    const char                   *reason;
    spiffe_id_t                   parsed;
    spiffe_td_key_t              *empty, *e;
    spiffe_snapshot_t            *snap;
    spiffe_snapshot_other_t      *others;
    spiffe_snapshot_parts_t       parts;
    spiffe_snapshot_bundle_t     *bundles, *b;
    const spiffe_pb_x509_svid_t  *svid;

    if (resp->nsvids == 0) {
        *err = "no SVIDs";
        return NULL;
    }

    svid = spiffe_workload_x509_svid(resp, hint, hint_len);
    if (svid == NULL) {
        *err = "no SVID with the requested hint";
        return NULL;
    }

    if (svid->x509_svid.len == 0) {
        *err = "SVID has no certificate";
        return NULL;
    }

    if (svid->x509_svid_key.len == 0) {
        *err = "SVID has no private key";
        return NULL;
    }

    if (svid->bundle.len == 0) {
        *err = "SVID has no bundle";
        return NULL;
    }

    snap = NULL;
    memset(&parts, 0, sizeof(spiffe_snapshot_parts_t));

    bundles = calloc(resp->nbundles + 1, sizeof(spiffe_snapshot_bundle_t));
    empty = calloc(resp->nbundles + 1, sizeof(spiffe_td_key_t));
    others = calloc(resp->nsvids, sizeof(spiffe_snapshot_other_t));

    if (bundles == NULL || empty == NULL || others == NULL) {
        free(bundles);
        free(empty);
        free(others);
        *err = "out of memory";
        return NULL;
    }

    parts.others = others;
    parts.bundles = bundles;
    parts.empty = empty;

    /* the others: one that is not a well-formed SVID is left out */

    for (i = 0; i < resp->nsvids; i++) {
        if (&resp->svids[i] != svid
            && spiffe_workload_parse_svid(&resp->svids[i],
                                          &others[parts.nothers], id, &len,
                                          &reason)
               == 0)
        {
            parts.nothers++;
        }
    }

    if (spiffe_workload_parse_svid(svid, &parts.own, id, &len, err) != 0) {
        goto done;
    }

    /* spiffe_x509_peer_id() has checked the ID */

    (void) spiffe_id_parse(id, len, &parsed, &reason);

    bundles[0].td = parsed.td;
    bundles[0].td_len = parsed.td_len;
    bundles[0].certs = spiffe_x509_parse_der_certs(svid->bundle.data,
                                                   svid->bundle.len, &reason);
    if (bundles[0].certs == NULL) {
        *err = "bad SVID bundle";
        goto done;
    }

    parts.nbundles = 1;

    for (i = 0; i < resp->nbundles; i++) {
        b = &bundles[parts.nbundles];

        if (spiffe_td_from_string((const char *) resp->bundles[i].key.data,
                                  resp->bundles[i].key.len, &b->td,
                                  &b->td_len, &reason)
            != 0)
        {
            *err = "bad trust domain in federated bundles";
            goto done;
        }

        /*
         * SPIRE's agent sends the X.509 authorities of a JWT-only or fully
         * revoked trust domain as an empty bundle: that domain's X.509
         * peers are refused, the rest of the message stands.
         */

        if (resp->bundles[i].value.len == 0) {
            e = &empty[parts.nempty++];
            e->td = b->td;
            e->td_len = b->td_len;
            continue;
        }

        b->certs = spiffe_x509_parse_der_certs(resp->bundles[i].value.data,
                                               resp->bundles[i].value.len,
                                               &reason);
        if (b->certs == NULL) {
            *err = "bad federated bundle";
            goto done;
        }

        parts.nbundles++;
    }

    if (resp->ncrls != 0) {
        parts.crls = sk_X509_CRL_new_null();
        if (parts.crls == NULL) {
            *err = "out of memory";
            goto done;
        }

        for (i = 0; i < resp->ncrls; i++) {
            crl = spiffe_x509_parse_der_crl(resp->crls[i].data,
                                            resp->crls[i].len, err);
            if (crl == NULL) {
                goto done;
            }

            if (sk_X509_CRL_push(parts.crls, crl) == 0) {
                X509_CRL_free(crl);
                *err = "out of memory";
                goto done;
            }
        }
    }

    parts.version = version;

    snap = spiffe_snapshot_create(&parts, now, err);

done:

    spiffe_snapshot_parts_free(&parts);
    free(bundles);
    free(empty);
    free(others);

    return snap;
}


/* an SVID of a message: its ID, checked against its certificate, in id */

static int
spiffe_workload_parse_svid(const spiffe_pb_x509_svid_t *svid,
    spiffe_snapshot_other_t *out, char *id, size_t *len, const char **err)
{
    const char      *reason;
    STACK_OF(X509)  *certs;

    memset(out, 0, sizeof(spiffe_snapshot_other_t));

    certs = spiffe_x509_parse_der_certs(svid->x509_svid.data,
                                        svid->x509_svid.len, &reason);
    if (certs == NULL) {
        *err = "bad SVID certificate";
        return -1;
    }

    out->leaf = sk_X509_shift(certs);
    out->chain = certs;

    out->key = spiffe_x509_parse_der_key(svid->x509_svid_key.data,
                                         svid->x509_svid_key.len, &reason);
    if (out->key == NULL) {
        *err = "bad SVID private key";
        goto failed;
    }

    if (spiffe_x509_peer_id(out->leaf, id, len, err) != 0) {
        goto failed;
    }

    if (svid->spiffe_id.len != *len
        || memcmp(svid->spiffe_id.data, id, *len) != 0)
    {
        *err = "SVID spiffe_id does not match its certificate";
        goto failed;
    }

    out->hint = (const char *) svid->hint.data;
    out->hint_len = svid->hint.len;

    return 0;

failed:

    X509_free(out->leaf);
    spiffe_x509_free_certs(out->chain);
    EVP_PKEY_free(out->key);
    memset(out, 0, sizeof(spiffe_snapshot_other_t));

    return -1;
}


spiffe_jwt_bundles_t *
spiffe_workload_jwt_bundles(const spiffe_pb_jwt_bundles_resp_t *resp,
    const char **err)
{
    size_t                    i, n, len;
    const char               *td, *reason;
    spiffe_jwt_bundle_t      *bundles, *same;
    spiffe_jwt_bundles_t     *set;
    const spiffe_pb_entry_t  *e;

    set = NULL;
    n = 0;

    bundles = calloc(resp->nbundles + 1, sizeof(spiffe_jwt_bundle_t));
    if (bundles == NULL) {
        *err = "out of memory";
        return NULL;
    }

    for (i = 0; i < resp->nbundles; i++) {
        e = &resp->bundles[i];

        if (spiffe_td_from_string((const char *) e->key.data, e->key.len, &td,
                                  &len, &reason)
            != 0)
        {
            *err = "bad trust domain in JWT bundles";
            goto done;
        }

        bundles[n].jwks = spiffe_jwks_parse_jwt_bundle(
                              (const char *) e->value.data, e->value.len,
                              err);
        if (bundles[n].jwks == NULL) {
            goto done;
        }

        /* a later entry for the same trust domain replaces this one */

        same = spiffe_tdset_lfind(bundles, n, sizeof(spiffe_jwt_bundle_t),
                                  td, len);

        if (same != NULL) {
            spiffe_jwks_unref(same->jwks);
            same->jwks = bundles[n].jwks;
            bundles[n].jwks = NULL;

        } else {
            bundles[n].td = td;
            bundles[n].td_len = len;
            n++;
        }
    }

    set = spiffe_jwt_bundles_create(bundles, n, err);

done:

    for (i = 0; i <= n; i++) {
        spiffe_jwks_unref(bundles[i].jwks);
    }

    free(bundles);

    return set;
}
