/*
 * Copyright (C) ngx_spiffe developers
 */


/*
 * What the fuzz targets share (t/fuzz/fuzz.c, linked into each): the
 * property checks, the time format of their inputs, a reference base64
 * encoder, the properties of every identity snapshot, libcurl's global
 * init, and the checked feeding of a gRPC reader with the sink of its
 * messages.
 */

#ifndef FUZZ_H_INCLUDED_
#define FUZZ_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <openssl/err.h>

#include <spiffe_grpc.h>
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

/* the message limit a gRPC input may pick instead of the default */

#define FUZZ_GRPC_SMALL_MAX  4096


/* where the messages of a gRPC reader go, to be checked against the body */

typedef struct {
    const unsigned char  *body;
    size_t                len;
    size_t                off;      /* where the next prefix starts */
    size_t                max;
    uint64_t              n;
    uint64_t              fail_at;  /* 1-based, 0: none */
} fuzz_grpc_sink_t;


/* fn on the input, with OpenSSL's error queue left empty around it */
int fuzz_run(void (*fn)(const uint8_t *data, size_t size),
    const uint8_t *data, size_t size);

/*
 * fuzz_run() for the targets that make libcurl handles: libcurl's global
 * init comes once, before the first input and outside the check of the
 * error queue.
 */
int fuzz_run_curl(void (*fn)(const uint8_t *data, size_t size),
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

/*
 * The spiffe_grpc_message_pt of a fuzz_grpc_sink_t: the message is no
 * larger than max and is where the next prefix of the body says; it
 * refuses the fail_at-th message.
 */
int fuzz_grpc_message(void *data, const unsigned char *msg, size_t len);

/*
 * spiffe_grpc_reader_feed() on a copy of p of its own size (an overread
 * shows): 0 with the reader fine, or -1 with a reason and a failed reader.
 */
int fuzz_grpc_feed(spiffe_grpc_reader_t *r, const unsigned char *p,
    size_t len);


#endif /* FUZZ_H_INCLUDED_ */
