/*
 * Copyright (C) ngx_spiffe developers
 */


/*
 * What the fuzz targets share (t/fuzz/fuzz.c, linked into each): the
 * property checks, the time format of their inputs, a reference base64
 * encoder and the properties of every identity snapshot.
 */

#ifndef FUZZ_H_INCLUDED_
#define FUZZ_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <openssl/err.h>

#include <spiffe_snapshot.h>


/* a broken property aborts like a crash, and names itself in the log */

#define FUZZ_CHECK(cond)                                                      \
    do {                                                                      \
        if (!(cond)) {                                                        \
            fprintf(stderr, "%s:%d: property failed: %s\n",                   \
                    __FILE__, __LINE__, #cond);                               \
            abort();                                                          \
        }                                                                     \
    } while (0)

/* "OpenSSL's error queue is left as it was found" (spiffe_x509.h) */

#define FUZZ_CHECK_ERR()                                                      \
    do {                                                                      \
        if (ERR_peek_error() != 0) {                                          \
            fprintf(stderr, "%s:%d: property failed: OpenSSL error queue "    \
                    "not empty:\n", __FILE__, __LINE__);                      \
            ERR_print_errors_fp(stderr);                                      \
            abort();                                                          \
        }                                                                     \
    } while (0)

/* the version the targets give their snapshots */

#define FUZZ_VERSION  7


/* fn on the input, with OpenSSL's error queue left empty around it */
int fuzz_run(void (*fn)(const uint8_t *data, size_t size),
    const uint8_t *data, size_t size);

/* NOW(4) of an input: a big-endian time_t, so that it replays later */
time_t fuzz_time(const uint8_t *p);

/* base64 of in (url: the URL alphabet, unpadded), NUL-terminated */
size_t fuzz_b64(const unsigned char *in, size_t len, int url, char *out);

/*
 * What every snapshot must hold: an SVID valid at now, of that ID (when
 * not NULL) and hint, with a lowercase hex serial, a store and a digest
 * for its trust domain when bundle is set; its own SVID verified as a
 * peer gives its ID or a reason.
 */
void fuzz_check_snapshot(spiffe_snapshot_t *snap, const char *id,
    size_t id_len, const char *hint, size_t hint_len, int bundle, time_t now);


#endif /* FUZZ_H_INCLUDED_ */
