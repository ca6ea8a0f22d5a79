/*
 * Copyright (C) ngx_spiffe developers
 */


/*
 * The files of spiffe_svid_dir, and the configured trust domains that win
 * over them.  The input is NOW(4) CERT NUL KEY NUL BUNDLE NUL CRL
 * [NUL TD NUL TEXT]...: the files through spiffe_snapshot_from_pem() (an
 * empty CRL is no CRL file), then up to 8 configured trust domains, each
 * TEXT through spiffe_bundle_parse() (none yet when it fails), joined to
 * the snapshot with spiffe_snapshot_compose().
 *
 * NOW is a big-endian time_t.  Properties: the error queue of OpenSSL is
 * left empty; from files, the only trust domain is the SVID's, with CAs
 * only.  A composition keeps the SVID, trusts each configured domain with
 * a CA through its own CAs only, drops the others that are configured
 * and keeps the rest of the base; it may fail only for a bad or repeated
 * name or for the SVID's own domain.
 */

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509.h>

#include <spiffe_id.h>
#include <spiffe_x509.h>
#include <spiffe_jwks.h>
#include <spiffe_snapshot.h>

#include "fuzz.h"


#define FUZZ_MAX_TDS  8

/* the next field of a NUL-separated input; *p is NULL after the last */

static int
fuzz_next(const char **p, size_t *left, const char **field, size_t *len)
{
    const char  *nul;

    if (*p == NULL) {
        return -1;
    }

    *field = *p;
    nul = memchr(*p, '\0', *left);

    if (nul == NULL) {
        *len = *left;
        *p = NULL;
        return 0;
    }

    *len = nul - *p;
    *left -= *len + 1;
    *p = nul + 1;

    return 0;
}

static size_t
fuzz_ncas(STACK_OF(X509) *certs)
{
    int     i;
    size_t  n;

    n = 0;

    for (i = 0; i < sk_X509_num(certs); i++) {
        n += spiffe_x509_is_ca(sk_X509_value(certs, i));
    }

    FUZZ_CHECK_ERR();

    return n;
}

static int
fuzz_same(const char *a, size_t alen, const char *b, size_t blen)
{
    return alen == blen && memcmp(a, b, alen) == 0;
}

static void
fuzz_compose(spiffe_snapshot_t *base, const spiffe_snapshot_bundle_t *extra,
    size_t n, time_t now)
{
    int                            fine, named;
    size_t                         i, k, len, ncas, base_ncas, ntds;
    size_t                         cas[FUZZ_MAX_TDS];
    const char                    *err, *name;
    spiffe_id_t                    id;
    unsigned char                  d1[SPIFFE_DIGEST_LEN];
    unsigned char                  d2[SPIFFE_DIGEST_LEN];
    STACK_OF(X509)                *sk;
    spiffe_snapshot_t             *snap;
    const spiffe_snapshot_svid_t  *svid, *bsvid;

    bsvid = spiffe_snapshot_svid(base);
    FUZZ_CHECK(spiffe_id_parse(bsvid->id, bsvid->id_len, &id, &err) == 0);

    /* the refusals allowed: a bad or repeated name, the SVID's domain */

    fine = 1;

    for (k = 0; k < n; k++) {
        cas[k] = fuzz_ncas(extra[k].certs);

        if (cas[k] == 0) {
            continue;
        }

        if (spiffe_td_parse(extra[k].td, extra[k].td_len, &err) != 0
            || fuzz_same(extra[k].td, extra[k].td_len, id.td, id.td_len))
        {
            fine = 0;
        }

        for (i = 0; i < k; i++) {
            if (cas[i] != 0
                && fuzz_same(extra[k].td, extra[k].td_len, extra[i].td,
                             extra[i].td_len))
            {
                fine = 0;
            }
        }
    }

    err = NULL;
    snap = spiffe_snapshot_compose(base, extra, n, FUZZ_VERSION, now, &err);
    FUZZ_CHECK_ERR();

    if (snap == NULL) {
        FUZZ_CHECK(err != NULL && !fine);
        return;
    }

    svid = spiffe_snapshot_svid(snap);
    FUZZ_CHECK(svid->leaf == bsvid->leaf && svid->key == bsvid->key);
    FUZZ_CHECK(strcmp(svid->id, bsvid->id) == 0);

    /* each domain: configured with CAs, or the base's and not configured */

    ntds = 0;

    for (k = 0; k < n; k++) {
        ntds += (cas[k] != 0);
    }

    for (i = 0; i < spiffe_snapshot_ntds(base); i++) {
        name = spiffe_snapshot_td(base, i, &len, &ncas);

        for (k = 0; k < n; k++) {
            if (fuzz_same(name, len, extra[k].td, extra[k].td_len)) {
                break;
            }
        }

        ntds += (k == n);
    }

    FUZZ_CHECK(spiffe_snapshot_ntds(snap) == ntds);

    for (i = 0; i < ntds; i++) {
        name = spiffe_snapshot_td(snap, i, &len, &ncas);
        sk = spiffe_snapshot_cas(snap, name, len);
        FUZZ_CHECK(sk != NULL && (size_t) sk_X509_num(sk) == ncas);

        named = 0;

        for (k = 0; k < n; k++) {
            if (!fuzz_same(name, len, extra[k].td, extra[k].td_len)) {
                continue;
            }

            named = 1;

            if (cas[k] != 0) {
                FUZZ_CHECK(ncas == cas[k]);
                break;
            }
        }

        if (named) {
            FUZZ_CHECK(k < n);
            continue;
        }

        FUZZ_CHECK(spiffe_snapshot_cas(base, name, len) != NULL);
        base_ncas = sk_X509_num(spiffe_snapshot_cas(base, name, len));
        FUZZ_CHECK(ncas == base_ncas);
        FUZZ_CHECK(spiffe_snapshot_td_digest(base, name, len, d1) == 0
                   && spiffe_snapshot_td_digest(snap, name, len, d2) == 0
                   && memcmp(d1, d2, SPIFFE_DIGEST_LEN) == 0);
    }

    fuzz_check_snapshot(snap, bsvid->id, bsvid->id_len, bsvid->hint,
                  bsvid->hint_len,
                  spiffe_snapshot_cas(snap, id.td, id.td_len) != NULL, now);

    spiffe_snapshot_unref(snap);
}

static void
fuzz_files(const uint8_t *data, size_t size)
{
    int                        part;
    size_t                     i, n, len, ncas, left;
    time_t                     now;
    const char                *p, *err, *td, *text;
    spiffe_id_t                id;
    spiffe_jwks_t             *jwks;
    STACK_OF(X509)            *cas;
    spiffe_snapshot_t         *snap;
    spiffe_snapshot_pem_t      pem;
    spiffe_snapshot_bundle_t   extra[FUZZ_MAX_TDS];

    if (size < 4) {
        return;
    }

    now = fuzz_time(data);
    p = (const char *) data + 4;
    left = size - 4;

    if (fuzz_next(&p, &left, &pem.cert, &pem.cert_len) != 0
        || fuzz_next(&p, &left, &pem.key, &pem.key_len) != 0
        || fuzz_next(&p, &left, &pem.bundle, &pem.bundle_len) != 0
        || fuzz_next(&p, &left, &pem.crl, &pem.crl_len) != 0)
    {
        return;
    }

    err = NULL;
    snap = spiffe_snapshot_from_pem(&pem, FUZZ_VERSION, now, &part, &err);
    FUZZ_CHECK_ERR();

    if (snap == NULL) {
        FUZZ_CHECK(err != NULL);
        return;
    }

    fuzz_check_snapshot(snap, NULL, 0, "", 0, 1, now);

    /* one trust domain, the SVID's, and CAs only */

    FUZZ_CHECK(spiffe_id_parse(spiffe_snapshot_svid(snap)->id,
                               spiffe_snapshot_svid(snap)->id_len, &id, &err)
               == 0);
    FUZZ_CHECK(spiffe_snapshot_ntds(snap) == 1);

    td = spiffe_snapshot_td(snap, 0, &len, &ncas);
    FUZZ_CHECK(fuzz_same(td, len, id.td, id.td_len));

    cas = spiffe_snapshot_cas(snap, id.td, id.td_len);
    FUZZ_CHECK(ncas > 0 && fuzz_ncas(cas) == ncas);

    /* the configured trust domains; a bundle that fails is none yet */

    n = 0;

    while (n < FUZZ_MAX_TDS
           && fuzz_next(&p, &left, &extra[n].td, &extra[n].td_len) == 0
           && fuzz_next(&p, &left, &text, &len) == 0)
    {
        if (spiffe_bundle_parse(text, len, &extra[n].certs, &jwks, &err)
            == 0)
        {
            spiffe_jwks_unref(jwks);
        }

        FUZZ_CHECK_ERR();
        n++;
    }

    if (n != 0) {
        fuzz_compose(snap, extra, n, now);
    }

    for (i = 0; i < n; i++) {
        spiffe_x509_free_certs(extra[i].certs);
    }

    spiffe_snapshot_unref(snap);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_run(fuzz_files, data, size);
}
