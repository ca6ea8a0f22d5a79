/*
 * Copyright (C) ngx_spiffe developers
 */


#include <stdlib.h>
#include <string.h>

#include <spiffe_pb.h>


#define SPIFFE_PB_VARINT      0
#define SPIFFE_PB_I64         1
#define SPIFFE_PB_LEN         2
#define SPIFFE_PB_SGROUP      3
#define SPIFFE_PB_EGROUP      4
#define SPIFFE_PB_I32         5

#define SPIFFE_PB_VARINT_MAX  10


typedef struct {
    const unsigned char  *pos;
    const unsigned char  *end;
} spiffe_pb_buf_t;


typedef struct {
    uint32_t              number;
    unsigned              type;
    spiffe_bytes_t        bytes;        /* the payload of a SPIFFE_PB_LEN */
} spiffe_pb_field_t;


static void spiffe_pb_buf_init(spiffe_pb_buf_t *b, const unsigned char *data,
    size_t len);
static int spiffe_pb_varint(spiffe_pb_buf_t *b, uint64_t *v, const char **err);
static int spiffe_pb_next(spiffe_pb_buf_t *b, spiffe_pb_field_t *f,
    const char **err);
static int spiffe_pb_len(spiffe_pb_field_t *f, spiffe_bytes_t *out,
    const char **err);
static void *spiffe_pb_grow(void *arr, size_t n, size_t size);
static int spiffe_pb_decode_entry(const spiffe_bytes_t *msg,
    spiffe_pb_entry_t *entry, const char **err);
static int spiffe_pb_add_entry(spiffe_pb_field_t *f,
    spiffe_pb_entry_t **entries, size_t *n, const char **err);
static int spiffe_pb_add_bytes(spiffe_pb_field_t *f, spiffe_bytes_t **arr,
    size_t *n, const char **err);
static int spiffe_pb_decode_x509_svid(const spiffe_bytes_t *msg,
    spiffe_pb_x509_svid_t *svid, const char **err);
static int spiffe_pb_decode_fields(const spiffe_bytes_t *msg,
    spiffe_bytes_t **fields, size_t n, const char **err);
static int spiffe_pb_decode_jwt_svid(const spiffe_bytes_t *msg,
    spiffe_pb_jwt_svid_t *svid, const char **err);
static size_t spiffe_pb_varint_len(uint64_t v);
static unsigned char *spiffe_pb_put_varint(unsigned char *p, uint64_t v);
static int spiffe_pb_add_len(size_t *total, size_t len);


int
spiffe_pb_decode_x509_svid_resp(const unsigned char *buf, size_t len,
    spiffe_pb_x509_svid_resp_t *resp, const char **err)
{
    void               *p;
    spiffe_pb_buf_t     b;
    spiffe_pb_field_t   f;
    spiffe_bytes_t      msg;

    memset(resp, 0, sizeof(*resp));

    spiffe_pb_buf_init(&b, buf, len);

    while (b.pos < b.end) {

        if (spiffe_pb_next(&b, &f, err) != 0) {
            goto failed;
        }

        switch (f.number) {

        case 1:
            if (spiffe_pb_len(&f, &msg, err) != 0) {
                goto failed;
            }

            p = spiffe_pb_grow(resp->svids, resp->nsvids,
                               sizeof(spiffe_pb_x509_svid_t));
            if (p == NULL) {
                *err = "out of memory";
                goto failed;
            }

            resp->svids = p;

            if (spiffe_pb_decode_x509_svid(&msg, &resp->svids[resp->nsvids++],
                                           err)
                != 0)
            {
                goto failed;
            }

            break;

        case 2:
            if (spiffe_pb_add_bytes(&f, &resp->crls, &resp->ncrls, err) != 0)
            {
                goto failed;
            }

            break;

        case 3:
            if (spiffe_pb_add_entry(&f, &resp->bundles, &resp->nbundles, err)
                != 0)
            {
                goto failed;
            }

            break;
        }
    }

    return 0;

failed:

    spiffe_pb_free_x509_svid_resp(resp);

    return -1;
}


void
spiffe_pb_free_x509_svid_resp(spiffe_pb_x509_svid_resp_t *resp)
{
    free(resp->svids);
    free(resp->crls);
    free(resp->bundles);

    memset(resp, 0, sizeof(*resp));
}


int
spiffe_pb_decode_x509_bundles_resp(const unsigned char *buf, size_t len,
    spiffe_pb_x509_bundles_resp_t *resp, const char **err)
{
    spiffe_pb_buf_t    b;
    spiffe_pb_field_t  f;

    memset(resp, 0, sizeof(*resp));

    spiffe_pb_buf_init(&b, buf, len);

    while (b.pos < b.end) {

        if (spiffe_pb_next(&b, &f, err) != 0) {
            goto failed;
        }

        switch (f.number) {

        case 1:
            if (spiffe_pb_add_bytes(&f, &resp->crls, &resp->ncrls, err) != 0)
            {
                goto failed;
            }

            break;

        case 2:
            if (spiffe_pb_add_entry(&f, &resp->bundles, &resp->nbundles, err)
                != 0)
            {
                goto failed;
            }

            break;
        }
    }

    return 0;

failed:

    spiffe_pb_free_x509_bundles_resp(resp);

    return -1;
}


void
spiffe_pb_free_x509_bundles_resp(spiffe_pb_x509_bundles_resp_t *resp)
{
    free(resp->crls);
    free(resp->bundles);

    memset(resp, 0, sizeof(*resp));
}


int
spiffe_pb_decode_jwt_svid_resp(const unsigned char *buf, size_t len,
    spiffe_pb_jwt_svid_resp_t *resp, const char **err)
{
    void               *p;
    spiffe_pb_buf_t     b;
    spiffe_pb_field_t   f;
    spiffe_bytes_t      msg;

    memset(resp, 0, sizeof(*resp));

    spiffe_pb_buf_init(&b, buf, len);

    while (b.pos < b.end) {

        if (spiffe_pb_next(&b, &f, err) != 0) {
            goto failed;
        }

        if (f.number != 1) {
            continue;
        }

        if (spiffe_pb_len(&f, &msg, err) != 0) {
            goto failed;
        }

        p = spiffe_pb_grow(resp->svids, resp->nsvids,
                           sizeof(spiffe_pb_jwt_svid_t));
        if (p == NULL) {
            *err = "out of memory";
            goto failed;
        }

        resp->svids = p;

        if (spiffe_pb_decode_jwt_svid(&msg, &resp->svids[resp->nsvids++], err)
            != 0)
        {
            goto failed;
        }
    }

    return 0;

failed:

    spiffe_pb_free_jwt_svid_resp(resp);

    return -1;
}


void
spiffe_pb_free_jwt_svid_resp(spiffe_pb_jwt_svid_resp_t *resp)
{
    free(resp->svids);

    memset(resp, 0, sizeof(*resp));
}


int
spiffe_pb_decode_jwt_bundles_resp(const unsigned char *buf, size_t len,
    spiffe_pb_jwt_bundles_resp_t *resp, const char **err)
{
    spiffe_pb_buf_t    b;
    spiffe_pb_field_t  f;

    memset(resp, 0, sizeof(*resp));

    spiffe_pb_buf_init(&b, buf, len);

    while (b.pos < b.end) {

        if (spiffe_pb_next(&b, &f, err) != 0) {
            goto failed;
        }

        if (f.number != 1) {
            continue;
        }

        if (spiffe_pb_add_entry(&f, &resp->bundles, &resp->nbundles, err)
            != 0)
        {
            goto failed;
        }
    }

    return 0;

failed:

    spiffe_pb_free_jwt_bundles_resp(resp);

    return -1;
}


void
spiffe_pb_free_jwt_bundles_resp(spiffe_pb_jwt_bundles_resp_t *resp)
{
    free(resp->bundles);

    memset(resp, 0, sizeof(*resp));
}


int
spiffe_pb_encode_jwt_svid_req(const spiffe_bytes_t *audiences,
    size_t naudiences, const spiffe_bytes_t *spiffe_id, unsigned char **out,
    size_t *out_len)
{
    size_t          i, total;
    unsigned char  *buf, *p;

    total = 0;

    for (i = 0; i < naudiences; i++) {
        if (spiffe_pb_add_len(&total, audiences[i].len) != 0) {
            return -1;
        }
    }

    /* proto3 leaves an empty singular string out */

    if (spiffe_id != NULL && spiffe_id->len > 0) {
        if (spiffe_pb_add_len(&total, spiffe_id->len) != 0) {
            return -1;
        }
    }

    buf = malloc(total > 0 ? total : 1);
    if (buf == NULL) {
        return -1;
    }

    p = buf;

    for (i = 0; i < naudiences; i++) {
        *p++ = (1 << 3) | SPIFFE_PB_LEN;
        p = spiffe_pb_put_varint(p, audiences[i].len);

        if (audiences[i].len > 0) {
            memcpy(p, audiences[i].data, audiences[i].len);
            p += audiences[i].len;
        }
    }

    if (spiffe_id != NULL && spiffe_id->len > 0) {
        *p++ = (2 << 3) | SPIFFE_PB_LEN;
        p = spiffe_pb_put_varint(p, spiffe_id->len);
        memcpy(p, spiffe_id->data, spiffe_id->len);
    }

    *out = buf;
    *out_len = total;

    return 0;
}


static void
spiffe_pb_buf_init(spiffe_pb_buf_t *b, const unsigned char *data, size_t len)
{
    /* an empty message may come as NULL, and NULL + 0 is undefined */

    b->pos = data;
    b->end = (len > 0) ? data + len : data;
}


static int
spiffe_pb_varint(spiffe_pb_buf_t *b, uint64_t *v, const char **err)
{
    unsigned        i;
    uint64_t        value;
    unsigned char   ch;

    value = 0;

    for (i = 0; /* void */; i++) {

        if (b->pos == b->end) {
            *err = "truncated varint";
            return -1;
        }

        ch = *b->pos++;

        /* the tenth byte holds bit 63 alone */

        if (i == SPIFFE_PB_VARINT_MAX - 1 && ch > 1) {
            *err = (ch & 0x80) ? "varint longer than 10 bytes"
                               : "varint overflows 64 bits";
            return -1;
        }

        value |= (uint64_t) (ch & 0x7f) << (7 * i);

        if ((ch & 0x80) == 0) {
            *v = value;
            return 0;
        }
    }
}


static int
spiffe_pb_next(spiffe_pb_buf_t *b, spiffe_pb_field_t *f, const char **err)
{
    uint64_t  tag, v;

    if (spiffe_pb_varint(b, &tag, err) != 0) {
        return -1;
    }

    if (tag > 0xffffffff) {
        *err = "field number out of range";
        return -1;
    }

    f->number = (uint32_t) (tag >> 3);
    f->type = (unsigned) (tag & 7);
    f->bytes.data = NULL;
    f->bytes.len = 0;

    if (f->number == 0) {
        *err = "field number 0";
        return -1;
    }

    switch (f->type) {

    case SPIFFE_PB_VARINT:
        return spiffe_pb_varint(b, &v, err);

    case SPIFFE_PB_I64:
        if (b->end - b->pos < 8) {
            *err = "truncated 64-bit field";
            return -1;
        }

        b->pos += 8;
        return 0;

    case SPIFFE_PB_LEN:
        if (spiffe_pb_varint(b, &v, err) != 0) {
            return -1;
        }

        if (v > (uint64_t) (b->end - b->pos)) {
            *err = "length past the end of the message";
            return -1;
        }

        f->bytes.data = b->pos;
        f->bytes.len = (size_t) v;
        b->pos += v;
        return 0;

    case SPIFFE_PB_I32:
        if (b->end - b->pos < 4) {
            *err = "truncated 32-bit field";
            return -1;
        }

        b->pos += 4;
        return 0;

    case SPIFFE_PB_SGROUP:
    case SPIFFE_PB_EGROUP:
        *err = "group wire type";
        return -1;

    default:
        *err = "invalid wire type";
        return -1;
    }
}


static int
spiffe_pb_len(spiffe_pb_field_t *f, spiffe_bytes_t *out, const char **err)
{
    if (f->type != SPIFFE_PB_LEN) {
        *err = "wrong wire type for a known field";
        return -1;
    }

    *out = f->bytes;

    return 0;
}


/*
 * Arrays have no capacity field: the room is implied by the count, which
 * doubles from 4 at each power of two; every element costs at least two
 * input bytes, so the input size bounds the growth.
 */

static void *
spiffe_pb_grow(void *arr, size_t n, size_t size)
{
    size_t  cap;

    if (n > 0 && (n < 4 || (n & (n - 1)) != 0)) {
        return arr;
    }

    cap = (n == 0) ? 4 : n * 2;

    if (cap > SIZE_MAX / size) {
        return NULL;
    }

    return realloc(arr, cap * size);
}


static int
spiffe_pb_add_bytes(spiffe_pb_field_t *f, spiffe_bytes_t **arr, size_t *n,
    const char **err)
{
    void            *p;
    spiffe_bytes_t   bytes;

    if (spiffe_pb_len(f, &bytes, err) != 0) {
        return -1;
    }

    p = spiffe_pb_grow(*arr, *n, sizeof(spiffe_bytes_t));
    if (p == NULL) {
        *err = "out of memory";
        return -1;
    }

    *arr = p;
    (*arr)[(*n)++] = bytes;

    return 0;
}


static int
spiffe_pb_add_entry(spiffe_pb_field_t *f, spiffe_pb_entry_t **entries,
    size_t *n, const char **err)
{
    void            *p;
    spiffe_bytes_t   msg;

    if (spiffe_pb_len(f, &msg, err) != 0) {
        return -1;
    }

    p = spiffe_pb_grow(*entries, *n, sizeof(spiffe_pb_entry_t));
    if (p == NULL) {
        *err = "out of memory";
        return -1;
    }

    *entries = p;

    return spiffe_pb_decode_entry(&msg, &(*entries)[(*n)++], err);
}


static int
spiffe_pb_decode_entry(const spiffe_bytes_t *msg, spiffe_pb_entry_t *entry,
    const char **err)
{
    spiffe_bytes_t  *fields[] = { &entry->key, &entry->value };

    return spiffe_pb_decode_fields(msg, fields, 2, err);
}


static int
spiffe_pb_decode_x509_svid(const spiffe_bytes_t *msg,
    spiffe_pb_x509_svid_t *svid, const char **err)
{
    spiffe_bytes_t  *fields[] = { &svid->spiffe_id, &svid->x509_svid,
                                  &svid->x509_svid_key, &svid->bundle,
                                  &svid->hint };

    return spiffe_pb_decode_fields(msg, fields, 5, err);
}


static int
spiffe_pb_decode_jwt_svid(const spiffe_bytes_t *msg,
    spiffe_pb_jwt_svid_t *svid, const char **err)
{
    spiffe_bytes_t  *fields[] = { &svid->spiffe_id, &svid->svid,
                                  &svid->hint };

    return spiffe_pb_decode_fields(msg, fields, 3, err);
}


/*
 * A message whose fields 1..n are all length-delimited: field i goes to
 * *fields[i - 1], other fields are skipped.
 */

static int
spiffe_pb_decode_fields(const spiffe_bytes_t *msg, spiffe_bytes_t **fields,
    size_t n, const char **err)
{
    size_t              i;
    spiffe_pb_buf_t     b;
    spiffe_pb_field_t   f;

    for (i = 0; i < n; i++) {
        fields[i]->data = NULL;
        fields[i]->len = 0;
    }

    spiffe_pb_buf_init(&b, msg->data, msg->len);

    while (b.pos < b.end) {

        if (spiffe_pb_next(&b, &f, err) != 0) {
            return -1;
        }

        if (f.number >= 1 && f.number <= n
            && spiffe_pb_len(&f, fields[f.number - 1], err) != 0)
        {
            return -1;
        }
    }

    return 0;
}


static size_t
spiffe_pb_varint_len(uint64_t v)
{
    size_t  n;

    for (n = 1; v >= 0x80; n++) {
        v >>= 7;
    }

    return n;
}


static unsigned char *
spiffe_pb_put_varint(unsigned char *p, uint64_t v)
{
    while (v >= 0x80) {
        *p++ = (unsigned char) (v | 0x80);
        v >>= 7;
    }

    *p++ = (unsigned char) v;

    return p;
}


/* adds a length-delimited field with a one-byte tag to *total */

static int
spiffe_pb_add_len(size_t *total, size_t len)
{
    size_t  n;

    n = 1 + spiffe_pb_varint_len(len);

    if (len > SIZE_MAX - n || *total > SIZE_MAX - n - len) {
        return -1;
    }

    *total += n + len;

    return 0;
}
