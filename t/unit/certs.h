
/*
 * Copyright (C) ngx_spiffe developers
 */


#ifndef _TEST_CERTS_H_INCLUDED_
#define _TEST_CERTS_H_INCLUDED_


/*
 * Certificates, keys and CRLs minted in memory for the unit tests: EC
 * P-256 keys, SHA-256 signatures, validity relative to time(NULL).
 */

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/ec.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>


/* keyUsage bits, by their number in the BIT STRING */
#define TEST_KU_DS      (1 << 0)    /* digitalSignature */
#define TEST_KU_KE      (1 << 2)    /* keyEncipherment */
#define TEST_KU_CERT    (1 << 5)    /* keyCertSign */
#define TEST_KU_CRL     (1 << 6)    /* cRLSign */

#define TEST_BC_NONE    0
#define TEST_BC_LEAF    1           /* cA false */
#define TEST_BC_CA      2           /* cA true */


typedef struct {
    const char  *cn;
    const char  *uris[3];           /* URI SANs */
    const char  *dns;               /* a DNS SAN */
    int          bc;                /* TEST_BC_* */
    int          ku;                /* TEST_KU_* bits, 0: no keyUsage */
    int          eku;               /* an extended key usage NID, or 0 */
    long         from;              /* notBefore, seconds from now */
    long         to;                /* notAfter, seconds from now */
    long         serial;
} test_cert_t;


static inline EVP_PKEY *
test_key(void)
{
    return EVP_EC_gen("P-256");
}


static inline int
test_add_ext(X509 *x, int nid, void *value, int crit)
{
    return X509_add1_ext_i2d(x, nid, value, crit, X509V3_ADD_DEFAULT) == 1;
}


/* issuer NULL: self-signed with key */

static inline X509 *
test_cert(const test_cert_t *c, EVP_PKEY *key, X509 *issuer,
    EVP_PKEY *issuer_key)
{
    int                      i, ok;
    X509                    *x;
    X509_NAME               *name;
    GENERAL_NAME            *gn;
    GENERAL_NAMES           *gens;
    ASN1_IA5STRING          *ia5;
    ASN1_BIT_STRING         *ku;
    BASIC_CONSTRAINTS       *bc;
    EXTENDED_KEY_USAGE      *eku;

    x = X509_new();
    name = X509_NAME_new();

    ok = x != NULL && name != NULL
         && X509_set_version(x, X509_VERSION_3)
         && ASN1_INTEGER_set(X509_get_serialNumber(x),
                             c->serial != 0 ? c->serial : 1)
         && X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                       (const unsigned char *) c->cn, -1,
                                       -1, 0)
         && X509_set_subject_name(x, name)
         && X509_set_issuer_name(x, issuer != NULL
                                    ? X509_get_subject_name(issuer) : name)
         && X509_gmtime_adj(X509_getm_notBefore(x),
                            (c->from || c->to) ? c->from : -3600)
         && X509_gmtime_adj(X509_getm_notAfter(x),
                            (c->from || c->to) ? c->to : 3600)
         && X509_set_pubkey(x, key);

    X509_NAME_free(name);

    if (ok && (c->uris[0] != NULL || c->dns != NULL)) {
        gens = GENERAL_NAMES_new();
        ok = gens != NULL;

        for (i = 0; ok && i < 4; i++) {
            if (i < 3 && c->uris[i] == NULL) {
                continue;
            }

            if (i == 3 && c->dns == NULL) {
                break;
            }

            gn = GENERAL_NAME_new();
            ia5 = ASN1_IA5STRING_new();

            ok = gn != NULL && ia5 != NULL
                 && ASN1_STRING_set(ia5, i < 3 ? c->uris[i] : c->dns, -1);

            if (!ok) {
                GENERAL_NAME_free(gn);
                ASN1_IA5STRING_free(ia5);
                break;
            }

            GENERAL_NAME_set0_value(gn, i < 3 ? GEN_URI : GEN_DNS, ia5);
            ok = sk_GENERAL_NAME_push(gens, gn) > 0;

            if (!ok) {
                GENERAL_NAME_free(gn);
            }
        }

        ok = ok && test_add_ext(x, NID_subject_alt_name, gens, 0);
        GENERAL_NAMES_free(gens);
    }

    if (ok && c->bc != TEST_BC_NONE) {
        bc = BASIC_CONSTRAINTS_new();
        ok = bc != NULL;

        if (ok) {
            bc->ca = (c->bc == TEST_BC_CA) ? 0xff : 0;
            ok = test_add_ext(x, NID_basic_constraints, bc, 1);
            BASIC_CONSTRAINTS_free(bc);
        }
    }

    if (ok && c->ku != 0) {
        ku = ASN1_BIT_STRING_new();
        ok = ku != NULL;

        for (i = 0; ok && i < 9; i++) {
            if (c->ku & (1 << i)) {
                ok = ASN1_BIT_STRING_set_bit(ku, i, 1);
            }
        }

        ok = ok && test_add_ext(x, NID_key_usage, ku, 1);
        ASN1_BIT_STRING_free(ku);
    }

    if (ok && c->eku != 0) {
        eku = sk_ASN1_OBJECT_new_null();
        ok = eku != NULL
             && sk_ASN1_OBJECT_push(eku, OBJ_nid2obj(c->eku)) > 0
             && test_add_ext(x, NID_ext_key_usage, eku, 0);
        sk_ASN1_OBJECT_free(eku);
    }

    ok = ok && X509_sign(x, issuer_key != NULL ? issuer_key : key,
                         EVP_sha256())
               > 0;

    if (!ok) {
        X509_free(x);
        return NULL;
    }

    return x;
}


static inline X509 *
test_ca(const char *cn, EVP_PKEY *key, X509 *issuer, EVP_PKEY *issuer_key)
{
    test_cert_t  c;

    memset(&c, 0, sizeof(test_cert_t));
    c.cn = cn;
    c.bc = TEST_BC_CA;
    c.ku = TEST_KU_CERT | TEST_KU_CRL;

    return test_cert(&c, key, issuer, issuer_key);
}


static inline X509 *
test_leaf(const char *uri, long serial, EVP_PKEY *key, X509 *issuer,
    EVP_PKEY *issuer_key)
{
    test_cert_t  c;

    memset(&c, 0, sizeof(test_cert_t));
    c.cn = "leaf";
    c.uris[0] = uri;
    c.bc = TEST_BC_LEAF;
    c.ku = TEST_KU_DS;
    c.serial = serial;

    return test_cert(&c, key, issuer, issuer_key);
}


/* certificates DER-encoded and concatenated, in a malloc()ed buffer */

static inline unsigned char *
test_der_certs(X509 **certs, size_t n, size_t *len)
{
    int             l;
    size_t          i;
    unsigned char  *buf, *p;

    *len = 0;

    for (i = 0; i < n; i++) {
        l = i2d_X509(certs[i], NULL);
        if (l <= 0) {
            return NULL;
        }

        *len += l;
    }

    buf = malloc(*len + 1);
    if (buf == NULL) {
        return NULL;
    }

    p = buf;

    for (i = 0; i < n; i++) {
        i2d_X509(certs[i], &p);
    }

    return buf;
}


/* PKCS#8 DER in a malloc()ed buffer */

static inline unsigned char *
test_der_key(EVP_PKEY *key, size_t *len)
{
    int                   l;
    unsigned char        *buf, *p;
    PKCS8_PRIV_KEY_INFO  *p8;

    *len = 0;

    p8 = EVP_PKEY2PKCS8(key);
    if (p8 == NULL) {
        return NULL;
    }

    l = i2d_PKCS8_PRIV_KEY_INFO(p8, NULL);
    buf = (l > 0) ? malloc(l) : NULL;

    if (buf != NULL) {
        p = buf;
        i2d_PKCS8_PRIV_KEY_INFO(p8, &p);
        *len = l;
    }

    PKCS8_PRIV_KEY_INFO_free(p8);

    return buf;
}


/* a CRL by issuer, signed with key, revoking serials */

static inline X509_CRL *
test_crl(X509 *issuer, EVP_PKEY *key, const long *serials, size_t n)
{
    int            ok;
    size_t         i;
    X509_CRL      *crl;
    ASN1_TIME     *t;
    ASN1_INTEGER  *serial;
    X509_REVOKED  *rev;

    crl = X509_CRL_new();
    t = X509_gmtime_adj(NULL, -60);

    ok = crl != NULL && t != NULL
         && X509_CRL_set_version(crl, X509_CRL_VERSION_2)
         && X509_CRL_set_issuer_name(crl, X509_get_subject_name(issuer))
         && X509_CRL_set1_lastUpdate(crl, t)
         && X509_gmtime_adj(t, 3600) != NULL
         && X509_CRL_set1_nextUpdate(crl, t);

    for (i = 0; ok && i < n; i++) {
        rev = X509_REVOKED_new();
        serial = ASN1_INTEGER_new();

        ok = rev != NULL && serial != NULL
             && ASN1_INTEGER_set(serial, serials[i])
             && X509_REVOKED_set_serialNumber(rev, serial)
             && X509_REVOKED_set_revocationDate(rev, t)
             && X509_CRL_add0_revoked(crl, rev);

        ASN1_INTEGER_free(serial);

        if (!ok) {
            X509_REVOKED_free(rev);
        }
    }

    ASN1_TIME_free(t);

    ok = ok && X509_CRL_sort(crl) && X509_CRL_sign(crl, key, EVP_sha256()) > 0;

    if (!ok) {
        X509_CRL_free(crl);
        return NULL;
    }

    return crl;
}


static inline unsigned char *
test_der_crl(X509_CRL *crl, size_t *len)
{
    int             l;
    unsigned char  *buf, *p;

    *len = 0;

    l = i2d_X509_CRL(crl, NULL);
    buf = (l > 0) ? malloc(l) : NULL;

    if (buf != NULL) {
        p = buf;
        i2d_X509_CRL(crl, &p);
        *len = l;
    }

    return buf;
}


#endif /* _TEST_CERTS_H_INCLUDED_ */
