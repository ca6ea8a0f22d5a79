
/*
 * Copyright (C) ngx_spiffe developers
 */


#ifndef _NGX_SPIFFE_H_INCLUDED_
#define _NGX_SPIFFE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>
#include <ngx_event_connect.h>
#include <curl/curl.h>

#include <ngx_spiffe_compat.h>

#include <spiffe_id.h>
#include <spiffe_jwks.h>
#include <spiffe_rules.h>
#include <spiffe_snapshot.h>
#include <spiffe_x509.h>


#define NGX_SPIFFE_CURL_MAX_POLL  16
#define NGX_SPIFFE_CURL_MAX_RUNS  16


/* libcurl on nginx events: ngx_spiffe_curl.c */

typedef void (*ngx_spiffe_curl_done_pt)(void *data, CURL *easy,
    CURLcode result);
typedef int (*ngx_spiffe_curl_ready_pt)(void *data);

typedef struct {
    ngx_queue_t                 queue;
    ngx_connection_t           *connection;
    curl_socket_t               fd;
    int                         what;
} ngx_spiffe_curl_sock_t;

typedef struct {
    CURLM                      *multi;
    ngx_event_t                 timer;
    ngx_queue_t                 sockets;
    ngx_log_t                  *log;
    unsigned                    run_now:1;
} ngx_spiffe_curl_t;


ngx_int_t ngx_spiffe_curl_init(ngx_spiffe_curl_t *cm, ngx_log_t *log);
ngx_int_t ngx_spiffe_curl_add(ngx_spiffe_curl_t *cm, CURL *easy,
    ngx_spiffe_curl_done_pt handler, void *data);
void ngx_spiffe_curl_remove(ngx_spiffe_curl_t *cm, CURL *easy);
void ngx_spiffe_curl_run(ngx_spiffe_curl_t *cm, ngx_msec_t timeout,
    ngx_spiffe_curl_ready_pt ready, void *data);
void ngx_spiffe_curl_cleanup(ngx_spiffe_curl_t *cm);


/* main-context configuration: ngx_spiffe_module.c */

#define NGX_SPIFFE_HTTPS_WEB        1
#define NGX_SPIFFE_HTTPS_SPIFFE     2

/* spiffe_svid_dir */

typedef struct {
    ngx_str_t                   dir;            /* empty: not used */
    ngx_str_t                   cert;           /* empty: the defaults */
    ngx_str_t                   key;
    ngx_str_t                   bundle;
    ngx_msec_t                  interval;
} ngx_spiffe_svid_dir_conf_t;

/*
 * spiffe_svid and spiffe_proxy_svid: which SVID of the current
 * X509SVIDResponse a server or an upstream connection presents; NULL is
 * "off"
 */

#define NGX_SPIFFE_SVID_ON          0   /* the snapshot's own */
#define NGX_SPIFFE_SVID_HINT        1
#define NGX_SPIFFE_SVID_ID          2

typedef struct {
    ngx_uint_t                  by;
    ngx_str_t                   value;      /* the hint or the ID */
    ngx_str_t                   name;       /* as written: "hint=db" */
    uint64_t                    logged;     /* 1 + the snapshot version
                                               whose lack was logged */
} ngx_spiffe_svid_t;


/* a configured trust domain: spiffe_bundle or spiffe_federate */

typedef struct {
    ngx_str_t                   td;
    ngx_str_t                   file;           /* spiffe_bundle */
    ngx_str_t                   url;            /* spiffe_federate */
    ngx_uint_t                  profile;
    ngx_str_t                   endpoint_id;
    ngx_str_t                   ca_file;        /* bundle= */
    u_char                     *conf_file;
    ngx_uint_t                  conf_line;
} ngx_spiffe_trust_conf_t;

typedef struct {
    ngx_str_t                   address;
    ngx_str_t                   hint;
    ngx_msec_t                  startup_timeout;
    ngx_flag_t                  directive;      /* not the environment */
    ngx_spiffe_svid_dir_conf_t  svid_dir;
    ngx_array_t                *trust;          /* ngx_spiffe_trust_conf_t */
    ngx_array_t                *svids;          /* ngx_spiffe_svid_t *, of
                                                   spiffe_svid and
                                                   spiffe_proxy_svid */
    ngx_shm_zone_t             *bundles_zone;

    /* what the protocol modules need, set when they merge */
    ngx_flag_t                  jwt_bundles;
    ngx_array_t                *jwt_audiences;      /* of ngx_str_t */
} ngx_spiffe_conf_t;


#define NGX_SPIFFE_NO_SOURCE                                                 \
    "needs an identity source: \"spiffe_workload_api\", "                  \
    "\"spiffe_svid_dir\" or SPIFFE_ENDPOINT_SOCKET"

ngx_spiffe_conf_t *ngx_spiffe_get_conf(ngx_cycle_t *cycle);
ngx_int_t ngx_spiffe_has_source(ngx_cycle_t *cycle);
ngx_int_t ngx_spiffe_need_source(ngx_conf_t *cf, const char *directive,
    u_char *file, ngx_uint_t line);
ngx_int_t ngx_spiffe_need_jwt_svid(ngx_conf_t *cf, ngx_str_t *audience);

/* the Workload API stream of this worker: ngx_spiffe_source.c */

ngx_int_t ngx_spiffe_source_start(ngx_cycle_t *cycle, ngx_spiffe_conf_t *scf);
void ngx_spiffe_source_stop(void);
ngx_int_t ngx_spiffe_jwt_svid(ngx_str_t *audience, ngx_str_t *token,
    const char **reason);


/* the worker's snapshot and the bundles joined to it: ngx_spiffe_identity.c */

ngx_int_t ngx_spiffe_identity_init(ngx_cycle_t *cycle,
    ngx_spiffe_conf_t *scf);
void ngx_spiffe_identity_stop(void);
spiffe_snapshot_t *ngx_spiffe_snapshot(void);
spiffe_jwt_bundles_t *ngx_spiffe_jwt_bundles(void);
void ngx_spiffe_identity_set_svid(spiffe_snapshot_t *snap);
void ngx_spiffe_identity_set_jwt_bundles(spiffe_jwt_bundles_t *set);
STACK_OF(X509) *ngx_spiffe_identity_bundle(ngx_uint_t i);
ngx_uint_t ngx_spiffe_identity_trusted(ngx_uint_t i);
time_t ngx_spiffe_identity_bundle_updated(const char *td, size_t len);
void ngx_spiffe_identity_set_bundle(ngx_uint_t i, STACK_OF(X509) *certs,
    spiffe_jwks_t *jwks);
void ngx_spiffe_identity_report(const char *state, const u_char *error,
    uint64_t failures, time_t last_message);


/* spiffe_svid_dir and spiffe_bundle files: ngx_spiffe_files.c */

#define NGX_SPIFFE_BUNDLE_MAX       (512 * 1024)

ngx_int_t ngx_spiffe_files_start(ngx_cycle_t *cycle, ngx_spiffe_conf_t *scf);
void ngx_spiffe_files_stop(void);
ngx_int_t ngx_spiffe_read_file(ngx_str_t *path, size_t max, ngx_str_t *out,
    ngx_log_t *log, const char **err);


/* spiffe_federate: ngx_spiffe_federate.c */

ngx_int_t ngx_spiffe_federate_zone(ngx_conf_t *cf, ngx_spiffe_conf_t *scf);
ngx_int_t ngx_spiffe_federate_start(ngx_cycle_t *cycle,
    ngx_spiffe_conf_t *scf);
void ngx_spiffe_federate_stop(void);


/* counters and worker slots in shared memory: ngx_spiffe_stats.c */

#define NGX_SPIFFE_MAX_WORKERS              64
#define NGX_SPIFFE_REASONS                  SPIFFE_ERR_KIND_N

#define NGX_SPIFFE_SIDE_CLIENT              0
#define NGX_SPIFFE_SIDE_UPSTREAM            1

#define NGX_SPIFFE_STAT_CLIENT_VERIFIED     0
#define NGX_SPIFFE_STAT_UPSTREAM_VERIFIED   1
#define NGX_SPIFFE_STAT_RESUMED             2
#define NGX_SPIFFE_STAT_ALLOWED             3
#define NGX_SPIFFE_STAT_DENIED              4
#define NGX_SPIFFE_STAT_DENIED_NO_ID        5
#define NGX_SPIFFE_STAT_JWT_VALID           6
#define NGX_SPIFFE_STAT_JWT_INVALID         7
#define NGX_SPIFFE_STAT_JWT_MISSING         8
#define NGX_SPIFFE_STAT_JWT_ALLOWED         9
#define NGX_SPIFFE_STAT_JWT_DENIED          10
#define NGX_SPIFFE_STAT_SVID_UPDATES        11
#define NGX_SPIFFE_STAT_DISCARDED           12
#define NGX_SPIFFE_STAT_FAILURES            13
#define NGX_SPIFFE_STAT_DRY_RUN_DENIED      14
#define NGX_SPIFFE_STAT_JWT_DRY_RUN_DENIED  15
#define NGX_SPIFFE_STAT_N                   16


typedef struct {
    ngx_atomic_t                seq;
    ngx_pid_t                   pid;
    char                        id[SPIFFE_ID_MAX_LEN + 1];
    char                        serial[128];
    char                        hint[2048];
    char                        state[16];
    char                        last_error[160];
    time_t                      not_after;
    time_t                      updated;        /* the SVID came */
    time_t                      last_message;
    uint64_t                    version;
    uint64_t                    failures;
} ngx_spiffe_worker_stats_t;


typedef struct {
    ngx_atomic_t                counters[NGX_SPIFFE_STAT_N];
    ngx_atomic_t                refused[2][NGX_SPIFFE_REASONS];
    ngx_spiffe_worker_stats_t   workers[NGX_SPIFFE_MAX_WORKERS];
} ngx_spiffe_stats_t;


ngx_int_t ngx_spiffe_stats_add_zone(ngx_conf_t *cf);
void ngx_spiffe_stats_init_process(ngx_cycle_t *cycle);
ngx_spiffe_stats_t *ngx_spiffe_stats_get(void);
void ngx_spiffe_stats_count(ngx_uint_t counter);
void ngx_spiffe_stats_refused(ngx_uint_t side, spiffe_err_t reason);
ngx_spiffe_worker_stats_t *ngx_spiffe_stats_begin(void);
void ngx_spiffe_stats_end(ngx_spiffe_worker_stats_t *ws);
ngx_int_t ngx_spiffe_stats_worker(ngx_uint_t i,
    ngx_spiffe_worker_stats_t *copy);


/* allow/deny rules from the configuration: ngx_spiffe_rules.c */

#define NGX_SPIFFE_RULES_X509   0
#define NGX_SPIFFE_RULES_JWT    1

typedef ngx_int_t (*ngx_spiffe_variable_index_pt)(ngx_conf_t *cf,
    ngx_str_t *name);

char *ngx_spiffe_rules_slot(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
char *ngx_spiffe_rules_patterns(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
ngx_int_t ngx_spiffe_rules_decide(ngx_log_t *log, spiffe_rules_t *rules,
    ngx_str_t *id, ngx_uint_t kind, ngx_flag_t dry_run,
    ngx_variable_value_t *var);
ngx_int_t ngx_spiffe_rules_no_id(ngx_log_t *log, ngx_str_t *verify,
    ngx_uint_t kind, ngx_flag_t dry_run);
ngx_int_t ngx_spiffe_rules_index(ngx_conf_t *cf,
    ngx_spiffe_variable_index_pt index);


/* TLS hooks: ngx_spiffe_ssl.c */

#define NGX_SPIFFE_PLACEHOLDER_CN   "ngx_spiffe placeholder, never served"

#define NGX_SPIFFE_NEEDS_TLS                                                 \
    "\"%s\" needs TLS in the server in %s:%ui: add \"ssl\" to \"listen\" " \
    "and \"spiffe_svid on\" or \"ssl_certificate\""


/*
 * spiffe_proxy_svid and spiffe_proxy_verify of one location or server, and
 * for the log where an upstream connection of its comes from (location
 * "/a/"): the locations or servers that inherit them share an SSL context
 */

#define NGX_SPIFFE_WHERE_LEN        256

typedef u_char *(*ngx_spiffe_upstream_where_pt)(ngx_connection_t *c,
    u_char *buf, size_t len);

typedef struct {
    ngx_spiffe_svid_t             *svid;
    ngx_str_t                      presents; /* empty: no SVID */
    spiffe_rules_t                *rules;   /* NULL: the peer is not checked */
    ngx_spiffe_upstream_where_pt   where;

    /* the session ID context of its TLS sessions: presents, hashed */
    u_char                         tag[SPIFFE_DIGEST_LEN];
    size_t                         tag_len;
} ngx_spiffe_upstream_t;


/* spiffe_svid and spiffe_verify_client of an http or a stream server */

typedef struct {
    ngx_spiffe_svid_t             *svid;
    ngx_uint_t                     verify;
} ngx_spiffe_server_conf_t;


ngx_int_t ngx_spiffe_ssl_init(ngx_log_t *log);
char *ngx_spiffe_svid_slot(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
char *ngx_spiffe_ssl_svid_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf, ngx_array_t **certs, ngx_array_t **keys);
const spiffe_snapshot_svid_t *ngx_spiffe_ssl_svid(spiffe_snapshot_t *snap,
    ngx_spiffe_svid_t *svid);
void ngx_spiffe_ssl_create_server(ngx_spiffe_server_conf_t *conf);
const char *ngx_spiffe_ssl_server_directive(ngx_spiffe_server_conf_t *conf);
char *ngx_spiffe_ssl_server(ngx_conf_t *cf, ngx_spiffe_server_conf_t *prev,
    ngx_spiffe_server_conf_t *conf, ngx_ssl_t *ssl,
    ngx_array_t *certificates, ngx_uint_t ssl_verify, u_char *file,
    ngx_uint_t line);
ngx_int_t ngx_spiffe_ssl_client(ngx_conf_t *cf, ngx_ssl_t *ssl,
    ngx_spiffe_upstream_t *up);
ngx_int_t ngx_spiffe_ssl_peer_current(ngx_connection_t *c,
    const char **reason);
ngx_int_t ngx_spiffe_ssl_session_check(SSL_SESSION *sess,
    spiffe_snapshot_t *snap, ngx_str_t *id, const char **reason);
ngx_int_t ngx_spiffe_ssl_session_allowed(SSL_SESSION *sess,
    spiffe_rules_t *rules);
ngx_int_t ngx_spiffe_ssl_session_presents(SSL_SESSION *sess,
    ngx_spiffe_upstream_t *up);


/* a TLS peer, found once per connection: ngx_spiffe_peer.c */

/* spiffe_verify_client and spiffe_jwt: ngx_spiffe_verify[] */

#define NGX_SPIFFE_VERIFY_OFF       0
#define NGX_SPIFFE_VERIFY_ON        1
#define NGX_SPIFFE_VERIFY_OPTIONAL  2

#define NGX_SPIFFE_PEER_NONE        0
#define NGX_SPIFFE_PEER_VERIFIED    1
#define NGX_SPIFFE_PEER_FAILED      2

typedef struct {
    ngx_uint_t                  status;
    ngx_str_t                   id;         /* empty when not verified */
    ngx_str_t                   td;
    ngx_str_t                   path;
    ngx_str_t                   verify;     /* SUCCESS, NONE, FAILED:... */
    unsigned                    resumed:1;  /* from a session */
    unsigned                    mismatch:1; /* verified, not allowed */
    unsigned                    counted:1;  /* refusal in the stats */
} ngx_spiffe_peer_t;


/* $spiffe_id and its kin: the data of each is the field's offset */

typedef struct {
    ngx_str_t                   name;
    uintptr_t                   data;
} ngx_spiffe_variable_t;


ngx_int_t ngx_spiffe_peer_init(ngx_log_t *log);
ngx_spiffe_peer_t *ngx_spiffe_peer(ngx_connection_t *c);
ngx_spiffe_peer_t *ngx_spiffe_peer_create(ngx_connection_t *c,
    const char *id, size_t len, const char *reason);
ngx_int_t ngx_spiffe_peer_variable(ngx_connection_t *c,
    ngx_variable_value_t *v, uintptr_t data);
void ngx_spiffe_variable(ngx_variable_value_t *v, ngx_str_t *s);
ngx_int_t ngx_spiffe_peer_allowed(ngx_connection_t *c,
    spiffe_rules_t *rules);


extern ngx_conf_enum_t        ngx_spiffe_verify[];
extern ngx_spiffe_variable_t  ngx_spiffe_peer_variables[];


/*
 * balancers of upstreams that a location or server with spiffe_proxy_svid
 * or spiffe_proxy_verify may use, and the configuration that the http and
 * stream modules share for them: ngx_spiffe_upstream.c
 */

/* the main configuration of the http and the stream modules */

typedef struct {
    ngx_array_t                    hooks;         /* wrapped upstreams */
    ngx_flag_t                     proxy_spiffe;  /* both, somewhere */
    ngx_int_t                      rule_index;    /* of $spiffe_rule */
} ngx_spiffe_main_conf_t;


/* spiffe_proxy_svid and spiffe_proxy_verify of a location or a server */

typedef struct {
    ngx_spiffe_svid_t             *svid;
    spiffe_rules_t                *verify;
    ngx_spiffe_upstream_t         *upstream;  /* both, once merged */
} ngx_spiffe_upstream_conf_t;


/*
 * the per-request (http) or per-session (stream) init of an upstream's
 * balancer: called only as its own type, ngx_http_upstream_init_peer_pt or
 * ngx_stream_upstream_init_peer_pt
 */

typedef ngx_int_t (*ngx_spiffe_upstream_init_pt)(void *r, void *us);


extern ngx_spiffe_upstream_t  ngx_spiffe_upstream_none;

void *ngx_spiffe_upstream_create_main_conf(ngx_conf_t *cf);
void ngx_spiffe_upstream_create_conf(ngx_spiffe_upstream_conf_t *conf);
void ngx_spiffe_upstream_merge_conf(ngx_spiffe_upstream_conf_t *prev,
    ngx_spiffe_upstream_conf_t *conf);
ngx_int_t ngx_spiffe_upstream_ssl(ngx_conf_t *cf,
    ngx_spiffe_main_conf_t *smcf, ngx_spiffe_upstream_conf_t *conf,
    ngx_ssl_t *ssl, ngx_flag_t *ssl_verify,
    ngx_spiffe_upstream_where_pt where);
ngx_int_t ngx_spiffe_upstream_hook(ngx_spiffe_main_conf_t *smcf,
    ngx_array_t *upstreams, size_t offset,
    ngx_spiffe_upstream_init_pt handler);
ngx_spiffe_upstream_init_pt ngx_spiffe_upstream_own_init(
    ngx_spiffe_main_conf_t *smcf, void *us);
ngx_int_t ngx_spiffe_upstream_wrap(ngx_peer_connection_t *pc,
    ngx_spiffe_upstream_conf_t *conf, ngx_pool_t *pool);
void *ngx_spiffe_upstream_field(ngx_module_t *m, void *conf,
    const char *directive);


extern ngx_module_t  ngx_spiffe_module;


#endif /* _NGX_SPIFFE_H_INCLUDED_ */
