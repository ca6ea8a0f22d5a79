/*
 * Copyright (C) ngx_spiffe developers
 */


#ifndef _SPIFFE_GRPC_H_INCLUDED_
#define _SPIFFE_GRPC_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>


#define SPIFFE_GRPC_MAX_MSG          (4 * 1024 * 1024)
#define SPIFFE_GRPC_PREFIX_LEN       5
#define SPIFFE_GRPC_UNIX_PATH_MAX    108    /* sun_path, with the NUL */
#define SPIFFE_GRPC_IP_MAX           46     /* INET6_ADDRSTRLEN */
#define SPIFFE_GRPC_MESSAGE_MAX      512    /* kept of a status message */
#define SPIFFE_GRPC_CONNECT_TIMEOUT  5000   /* ms */
#define SPIFFE_GRPC_BUFFER_SIZE      (512 * 1024)
#define SPIFFE_GRPC_USER_AGENT       "ngx_spiffe/0.1"

#define SPIFFE_GRPC_OK                   0
#define SPIFFE_GRPC_CANCELLED            1
#define SPIFFE_GRPC_UNKNOWN              2
#define SPIFFE_GRPC_INVALID_ARGUMENT     3
#define SPIFFE_GRPC_DEADLINE_EXCEEDED    4
#define SPIFFE_GRPC_NOT_FOUND            5
#define SPIFFE_GRPC_ALREADY_EXISTS       6
#define SPIFFE_GRPC_PERMISSION_DENIED    7
#define SPIFFE_GRPC_RESOURCE_EXHAUSTED   8
#define SPIFFE_GRPC_FAILED_PRECONDITION  9
#define SPIFFE_GRPC_ABORTED              10
#define SPIFFE_GRPC_OUT_OF_RANGE         11
#define SPIFFE_GRPC_UNIMPLEMENTED        12
#define SPIFFE_GRPC_INTERNAL             13
#define SPIFFE_GRPC_UNAVAILABLE          14
#define SPIFFE_GRPC_DATA_LOSS            15
#define SPIFFE_GRPC_UNAUTHENTICATED      16

#define SPIFFE_GRPC_ADDR_UNIX  1
#define SPIFFE_GRPC_ADDR_TCP   2


/* where a call goes (spiffe_workload_parse_address() reads one) */

typedef struct {
    int                       type;
    int                       family;     /* tcp: AF_INET or AF_INET6 */
    char                      path[SPIFFE_GRPC_UNIX_PATH_MAX];
    char                      ip[SPIFFE_GRPC_IP_MAX];   /* no brackets */
    unsigned                  port;
} spiffe_grpc_addr_t;


/* returns 0 or -1; -1 stops the stream */
typedef int (*spiffe_grpc_message_pt)(void *data, const unsigned char *msg,
    size_t len);


/*
 * Cuts a response body, fed in chunks split anywhere, into messages. It
 * holds at most one message and one prefix. After a failure it stays
 * failed: status is the gRPC code to report, err the reason.
 */

typedef struct {
    spiffe_grpc_message_pt    handler;
    void                     *data;
    size_t                    max;
    unsigned char             prefix[SPIFFE_GRPC_PREFIX_LEN];
    size_t                    nprefix;
    unsigned char            *buf;
    size_t                    size;       /* allocated in buf */
    size_t                    need;       /* length of the current message */
    size_t                    have;
    uint64_t                  nmessages;
    int                       status;     /* 0 until a failure */
    const char               *err;
} spiffe_grpc_reader_t;


typedef struct {
    const spiffe_grpc_addr_t  *addr;
    const char                *method;    /* e.g. "FetchX509SVID" */
    const unsigned char       *request;   /* serialized; NULL if empty */
    size_t                     request_len;
    size_t                     max_message;    /* 0: SPIFFE_GRPC_MAX_MSG */
    spiffe_grpc_message_pt     on_message;
    void                      *data;
} spiffe_grpc_call_conf_t;


/*
 * One call on its own easy handle, driven by the caller's multi handle
 * (the address must outlive the call).  The outcome
 * (status, message) is valid after spiffe_grpc_call_done().
 */

typedef struct {
    CURL                      *easy;
    const spiffe_grpc_addr_t  *addr;
    struct curl_slist         *headers;
    unsigned char             *body;
    spiffe_grpc_reader_t       reader;

    long                       http_status;     /* 0 until the status line */
    int                        grpc_status;     /* -1: none, -2: malformed */
    unsigned                   content_grpc:1;
    char                       grpc_message[SPIFFE_GRPC_MESSAGE_MAX];
    char                       errbuf[CURL_ERROR_SIZE];

    int                        status;
    unsigned                   from_server:1;   /* the server sent status */
    char                       message[SPIFFE_GRPC_MESSAGE_MAX];
} spiffe_grpc_call_t;


/* whether s starts with a lowercase prefix, ignoring the case of s */
int spiffe_grpc_prefix(const char *s, size_t len, const char *prefix);
/* the value of a hex digit, or -1 */
int spiffe_grpc_hex(unsigned char ch);

/* the name of a code, e.g. "UNAVAILABLE"; "UNKNOWN" for unknown codes */
const char *spiffe_grpc_status_name(int status);

/* writes SPIFFE_GRPC_PREFIX_LEN + len bytes to out */
int spiffe_grpc_frame(const unsigned char *msg, size_t len,
    unsigned char *out, const char **err);

void spiffe_grpc_reader_init(spiffe_grpc_reader_t *r, size_t max,
    spiffe_grpc_message_pt handler, void *data);
int spiffe_grpc_reader_feed(spiffe_grpc_reader_t *r, const unsigned char *p,
    size_t len, const char **err);
/* whether the body stopped inside a message */
int spiffe_grpc_reader_partial(const spiffe_grpc_reader_t *r);
void spiffe_grpc_reader_free(spiffe_grpc_reader_t *r);

spiffe_grpc_call_t *spiffe_grpc_call_create(
    const spiffe_grpc_call_conf_t *conf, const char **err);
/* remove call->easy from its multi handle first */
void spiffe_grpc_call_destroy(spiffe_grpc_call_t *call);
/* what the header callback does with each header or trailer line */
void spiffe_grpc_call_header(spiffe_grpc_call_t *call, const char *line,
    size_t len);
/* the result of the transfer, from curl_multi_info_read() */
void spiffe_grpc_call_done(spiffe_grpc_call_t *call, CURLcode rc);


#endif /* _SPIFFE_GRPC_H_INCLUDED_ */
