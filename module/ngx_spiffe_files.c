
/*
 * Copyright (C) ngx_spiffe developers
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>

#include <ngx_spiffe.h>


/*
 * Files that an agent writes: the SVID set of spiffe_svid_dir and the
 * bundles of spiffe_bundle.  Each worker stats them on a timer.  A change
 * is read once the files have stayed the same for one interval, and used
 * only when the whole set is valid: tbot writes the key, the certificate
 * and the bundle one after another, in place, so for a moment the key
 * does not match the certificate.  A set that fails is logged once per
 * reason, and the last good one stays.
 */


#define NGX_SPIFFE_WATCH_FILES      4
#define NGX_SPIFFE_WATCH_INTERVAL   5000
#define NGX_SPIFFE_REASON_LEN       512


/* what stat() says of a file; compared whole, so zeroed first */

typedef struct {
    ngx_uint_t                  name;       /* which name was found */
    ngx_err_t                   err;
    dev_t                       dev;
    ino_t                       ino;
    off_t                       size;
    time_t                      sec;
    long                        nsec;
} ngx_spiffe_file_sig_t;


typedef struct {
    ngx_str_t                   names[2];   /* the file or its alternative */
    ngx_uint_t                  nnames;
    ngx_uint_t                  optional;
} ngx_spiffe_watched_t;


typedef struct ngx_spiffe_watch_s  ngx_spiffe_watch_t;

typedef ngx_int_t (*ngx_spiffe_watch_load_pt)(ngx_spiffe_watch_t *w,
    ngx_str_t *texts);

struct ngx_spiffe_watch_s {
    ngx_event_t                 timer;
    ngx_msec_t                  interval;
    ngx_spiffe_watched_t        files[NGX_SPIFFE_WATCH_FILES];
    ngx_uint_t                  nfiles;
    ngx_spiffe_file_sig_t       seen[NGX_SPIFFE_WATCH_FILES];
    ngx_spiffe_file_sig_t       loaded[NGX_SPIFFE_WATCH_FILES];
    ngx_spiffe_file_sig_t       failed[NGX_SPIFFE_WATCH_FILES];
    ngx_uint_t                  found[NGX_SPIFFE_WATCH_FILES];
    ngx_spiffe_watch_load_pt    load;
    ngx_str_t                   name;       /* DIR, or the trust domain */
    ngx_uint_t                  trust;      /* spiffe_bundle: its index */
    u_char                      reason[NGX_SPIFFE_REASON_LEN];
    u_char                      logged[NGX_SPIFFE_REASON_LEN];
    uint64_t                    version;
    uint64_t                    failures;
    unsigned                    has_loaded:1;
    unsigned                    has_failed:1;
};


static ngx_spiffe_watch_t *ngx_spiffe_watch_add(ngx_cycle_t *cycle,
    ngx_str_t *name, ngx_msec_t interval, ngx_spiffe_watch_load_pt load);
static ngx_int_t ngx_spiffe_watch_file(ngx_cycle_t *cycle,
    ngx_spiffe_watch_t *w, ngx_str_t *dir, ngx_str_t *name,
    const char **defaults, ngx_uint_t optional);
static void ngx_spiffe_watch_check(ngx_spiffe_watch_t *w,
    ngx_uint_t settled);
static void ngx_spiffe_watch_stat(ngx_spiffe_watch_t *w,
    ngx_spiffe_file_sig_t *sig);
static ngx_int_t ngx_spiffe_watch_read(ngx_spiffe_watch_t *w,
    ngx_spiffe_file_sig_t *sig, ngx_str_t *texts);
static void ngx_spiffe_watch_timer(ngx_event_t *ev);
static ngx_int_t ngx_spiffe_svid_files_load(ngx_spiffe_watch_t *w,
    ngx_str_t *texts);
static ngx_int_t ngx_spiffe_bundle_file_load(ngx_spiffe_watch_t *w,
    ngx_str_t *texts);
static const char *ngx_spiffe_errno_reason(ngx_err_t err);


/* tbot's names first, then the other names some of its docs use */

static const char  *ngx_spiffe_cert_names[] = { "svid.pem", NULL };
static const char  *ngx_spiffe_key_names[] = {
    "svid_key.pem", "svid.key", NULL
};
static const char  *ngx_spiffe_bundle_names[] = {
    "svid_bundle.pem", "bundle.pem", NULL
};
static const char  *ngx_spiffe_crl_names[] = { "svid_crl.pem", NULL };


static ngx_array_t  *ngx_spiffe_watches;       /* of ngx_spiffe_watch_t * */
static ngx_spiffe_watch_t  *ngx_spiffe_svid_watch;


ngx_int_t
ngx_spiffe_files_start(ngx_cycle_t *cycle, ngx_spiffe_conf_t *scf)
{
    ngx_uint_t                   i;
    ngx_spiffe_watch_t          *w;
    ngx_spiffe_trust_conf_t     *tc;
    ngx_spiffe_svid_dir_conf_t  *sd;

    ngx_spiffe_watches = ngx_array_create(cycle->pool, 2,
                                          sizeof(ngx_spiffe_watch_t *));
    if (ngx_spiffe_watches == NULL) {
        return NGX_ERROR;
    }

    tc = scf->trust ? scf->trust->elts : NULL;

    for (i = 0; scf->trust && i < scf->trust->nelts; i++) {
        if (tc[i].file.len == 0) {
            continue;
        }

        w = ngx_spiffe_watch_add(cycle, &tc[i].td, NGX_SPIFFE_WATCH_INTERVAL,
                                 ngx_spiffe_bundle_file_load);
        if (w == NULL
            || ngx_spiffe_watch_file(cycle, w, NULL, &tc[i].file, NULL, 0)
               != NGX_OK)
        {
            return NGX_ERROR;
        }

        w->trust = i;
    }

    sd = &scf->svid_dir;

    if (sd->dir.len) {
        w = ngx_spiffe_watch_add(cycle, &sd->dir, sd->interval,
                                 ngx_spiffe_svid_files_load);
        if (w == NULL
            || ngx_spiffe_watch_file(cycle, w, &sd->dir, &sd->cert,
                                     ngx_spiffe_cert_names, 0)
               != NGX_OK
            || ngx_spiffe_watch_file(cycle, w, &sd->dir, &sd->key,
                                     ngx_spiffe_key_names, 0)
               != NGX_OK
            || ngx_spiffe_watch_file(cycle, w, &sd->dir, &sd->bundle,
                                     ngx_spiffe_bundle_names, 0)
               != NGX_OK
            || ngx_spiffe_watch_file(cycle, w, &sd->dir, NULL,
                                     ngx_spiffe_crl_names, 1)
               != NGX_OK)
        {
            return NGX_ERROR;
        }

        ngx_spiffe_svid_watch = w;
    }

    /* the first reading does not wait: no connection is accepted yet */

    for (i = 0; i < ngx_spiffe_watches->nelts; i++) {
        w = ((ngx_spiffe_watch_t **) ngx_spiffe_watches->elts)[i];

        ngx_spiffe_watch_check(w, 1);
        ngx_add_timer(&w->timer, w->interval);
    }

    if (ngx_spiffe_svid_watch != NULL) {
        ngx_spiffe_identity_report(ngx_spiffe_svid_watch->has_loaded
                                   ? "loaded" : "error",
                                   ngx_spiffe_svid_watch->logged,
                                   ngx_spiffe_svid_watch->failures, 0);
    }

    return NGX_OK;
}


void
ngx_spiffe_files_stop(void)
{
    ngx_uint_t           i;
    ngx_spiffe_watch_t  *w;

    for (i = 0; ngx_spiffe_watches && i < ngx_spiffe_watches->nelts; i++) {
        w = ((ngx_spiffe_watch_t **) ngx_spiffe_watches->elts)[i];

        if (w->timer.timer_set) {
            ngx_del_timer(&w->timer);
        }
    }

    ngx_spiffe_watches = NULL;
    ngx_spiffe_svid_watch = NULL;
}


static ngx_spiffe_watch_t *
ngx_spiffe_watch_add(ngx_cycle_t *cycle, ngx_str_t *name,
    ngx_msec_t interval, ngx_spiffe_watch_load_pt load)
{
    ngx_spiffe_watch_t  *w, **wp;

    w = ngx_pcalloc(cycle->pool, sizeof(ngx_spiffe_watch_t));
    wp = ngx_array_push(ngx_spiffe_watches);

    if (w == NULL || wp == NULL) {
        return NULL;
    }

    *wp = w;

    w->name = *name;
    w->interval = interval;
    w->load = load;

    w->timer.handler = ngx_spiffe_watch_timer;
    w->timer.data = w;
    w->timer.log = cycle->log;
    w->timer.cancelable = 1;

    return w;
}


/*
 * The configured name, or the default names, of which the first found is
 * read; relative to dir unless absolute.
 */

static ngx_int_t
ngx_spiffe_watch_file(ngx_cycle_t *cycle, ngx_spiffe_watch_t *w,
    ngx_str_t *dir, ngx_str_t *name, const char **defaults,
    ngx_uint_t optional)
{
    u_char                *p;
    ngx_str_t              n, *path;
    ngx_uint_t             k;
    ngx_spiffe_watched_t  *f;

    f = &w->files[w->nfiles++];
    f->optional = optional;

    for (k = 0; k < 2; k++) {

        if (name != NULL && name->len != 0) {
            if (k != 0) {
                break;
            }

            n = *name;

        } else {
            if (defaults[k] == NULL) {
                break;
            }

            n.data = (u_char *) defaults[k];
            n.len = ngx_strlen(defaults[k]);
        }

        path = &f->names[f->nnames++];

        if (dir == NULL || n.data[0] == '/') {
            path->data = ngx_pnalloc(cycle->pool, n.len + 1);
            if (path->data == NULL) {
                return NGX_ERROR;
            }

            p = ngx_cpymem(path->data, n.data, n.len);

        } else {
            path->data = ngx_pnalloc(cycle->pool, dir->len + 1 + n.len + 1);
            if (path->data == NULL) {
                return NGX_ERROR;
            }

            p = ngx_cpymem(path->data, dir->data, dir->len);
            *p++ = '/';
            p = ngx_cpymem(p, n.data, n.len);
        }

        *p = '\0';
        path->len = p - path->data;
    }

    return NGX_OK;
}


static void
ngx_spiffe_watch_timer(ngx_event_t *ev)
{
    ngx_spiffe_watch_t  *w = ev->data;

    if (ngx_exiting || ngx_quit || ngx_spiffe_watches == NULL) {
        return;
    }

    ngx_spiffe_watch_check(w, 0);

    ngx_add_timer(&w->timer, w->interval);
}


/* settled: read a change at once, without waiting for it to settle */

static void
ngx_spiffe_watch_check(ngx_spiffe_watch_t *w, ngx_uint_t settled)
{
    size_t                  len;
    ngx_str_t               texts[NGX_SPIFFE_WATCH_FILES];
    ngx_uint_t              i, level;
    ngx_int_t               rc;
    ngx_spiffe_file_sig_t   sig[NGX_SPIFFE_WATCH_FILES];

    len = w->nfiles * sizeof(ngx_spiffe_file_sig_t);

    ngx_spiffe_watch_stat(w, sig);

    if (w->has_loaded && ngx_memcmp(sig, w->loaded, len) == 0) {
        ngx_memcpy(w->seen, sig, len);
        return;
    }

    if (!settled && ngx_memcmp(sig, w->seen, len) != 0) {
        ngx_memcpy(w->seen, sig, len);
        return;
    }

    ngx_memcpy(w->seen, sig, len);

    if (w->has_failed && ngx_memcmp(sig, w->failed, len) == 0) {
        return;
    }

    ngx_memzero(texts, sizeof(texts));

    rc = ngx_spiffe_watch_read(w, sig, texts);

    if (rc == NGX_OK) {
        rc = w->load(w, texts);
    }

    for (i = 0; i < w->nfiles; i++) {
        if (texts[i].data != NULL) {
            ngx_explicit_memzero(texts[i].data, texts[i].len);
            ngx_free(texts[i].data);
        }
    }

    if (rc == NGX_OK) {
        ngx_memcpy(w->loaded, sig, len);
        w->has_loaded = 1;
        w->has_failed = 0;
        w->logged[0] = '\0';
        return;
    }

    ngx_memcpy(w->failed, sig, len);
    w->has_failed = 1;
    w->failures++;

    if (ngx_strcmp(w->reason, w->logged) == 0) {
        return;
    }

    ngx_cpystrn(w->logged, w->reason, NGX_SPIFFE_REASON_LEN);

    /* a warning while the last good set is served, else an error */

    level = w->has_loaded ? NGX_LOG_WARN : NGX_LOG_ERR;

    if (w == ngx_spiffe_svid_watch) {
        ngx_log_error(level, w->timer.log, 0,
                      "spiffe: SVID files in \"%V\" not used: %s%s", &w->name,
                      w->reason, w->has_loaded ? "; keeping the last good "
                                                 "set" : "");
        ngx_spiffe_identity_report(w->has_loaded ? "loaded" : "error",
                                   w->logged, w->failures, 0);

    } else {
        ngx_log_error(level, w->timer.log, 0,
                      "spiffe: bundle of \"%V\" not used: %s%s", &w->name,
                      w->reason, w->has_loaded ? "; keeping the last good "
                                                 "one" : "");
    }
}


static void
ngx_spiffe_watch_stat(ngx_spiffe_watch_t *w, ngx_spiffe_file_sig_t *sig)
{
    ngx_uint_t              i, k;
    ngx_file_info_t         fi;
    ngx_spiffe_watched_t   *f;

    ngx_memzero(sig, w->nfiles * sizeof(ngx_spiffe_file_sig_t));

    for (i = 0; i < w->nfiles; i++) {
        f = &w->files[i];

        for (k = 0; k < f->nnames; k++) {
            if (ngx_file_info(f->names[k].data, &fi) != NGX_FILE_ERROR) {
                break;
            }

            sig[i].err = ngx_errno;
        }

        if (k == f->nnames) {
            sig[i].name = 0;
            continue;
        }

        sig[i].name = k;
        sig[i].err = 0;
        sig[i].dev = fi.st_dev;
        sig[i].ino = fi.st_ino;
        sig[i].size = fi.st_size;
        sig[i].sec = fi.st_mtim.tv_sec;
        sig[i].nsec = fi.st_mtim.tv_nsec;
    }
}


static ngx_int_t
ngx_spiffe_watch_read(ngx_spiffe_watch_t *w, ngx_spiffe_file_sig_t *sig,
    ngx_str_t *texts)
{
    ngx_str_t              *path;
    ngx_uint_t              i;
    const char             *err;
    ngx_spiffe_watched_t   *f;

    for (i = 0; i < w->nfiles; i++) {
        f = &w->files[i];
        path = &f->names[sig[i].name];
        w->found[i] = sig[i].name;

        if (sig[i].err == NGX_ENOENT && f->optional) {
            continue;
        }

        if (sig[i].err == 0
            && ngx_spiffe_read_file(path, NGX_SPIFFE_BUNDLE_MAX, &texts[i],
                                    w->timer.log, &err)
               == NGX_OK)
        {
            continue;
        }

        if (sig[i].err) {
            err = ngx_spiffe_errno_reason(sig[i].err);
        }

        ngx_snprintf(w->reason, NGX_SPIFFE_REASON_LEN - 1, "\"%V\": %s%Z",
                     path, err);

        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * A whole small file, NUL-terminated; err says why not.  Reading a local
 * file is what nginx does for its own files too.  Opened without waiting:
 * a FIFO or a device put in a file's place must not hang the worker.
 */

ngx_int_t
ngx_spiffe_read_file(ngx_str_t *path, size_t max, ngx_str_t *out,
    ngx_log_t *log, const char **err)
{
    u_char           *p;
    size_t            size;
    ssize_t           n;
    ngx_fd_t          fd;
    ngx_file_info_t   fi;

    fd = ngx_open_file(path->data, NGX_FILE_RDONLY|NGX_FILE_NONBLOCK,
                       NGX_FILE_OPEN, 0);

    if (fd == NGX_INVALID_FILE) {
        *err = ngx_spiffe_errno_reason(ngx_errno);
        return NGX_ERROR;
    }

    p = NULL;
    size = 0;

    if (ngx_fd_info(fd, &fi) == NGX_FILE_ERROR) {
        *err = ngx_spiffe_errno_reason(ngx_errno);
        goto failed;
    }

    if (!ngx_is_file(&fi)) {
        *err = "not a regular file";
        goto failed;
    }

    if ((size_t) ngx_file_size(&fi) > max) {
        *err = "too large";
        goto failed;
    }

    size = (size_t) ngx_file_size(&fi);

    p = ngx_alloc(size + 1, log);
    if (p == NULL) {
        *err = "out of memory";
        goto failed;
    }

    n = ngx_read_fd(fd, p, size);

    if (n == -1) {
        *err = ngx_spiffe_errno_reason(ngx_errno);
        goto failed;
    }

    if ((size_t) n != size) {
        *err = "changed while read";
        goto failed;
    }

    p[size] = '\0';

    ngx_close_file(fd);

    out->data = p;
    out->len = size;

    return NGX_OK;

failed:

    if (p != NULL) {
        ngx_explicit_memzero(p, size);
        ngx_free(p);
    }

    ngx_close_file(fd);

    return NGX_ERROR;
}


static ngx_int_t
ngx_spiffe_svid_files_load(ngx_spiffe_watch_t *w, ngx_str_t *texts)
{
    int                            part;
    ngx_uint_t                     level;
    const char                    *err;
    spiffe_snapshot_t             *snap;
    spiffe_snapshot_pem_t          pem;
    const spiffe_snapshot_svid_t  *svid;

    pem.cert = (char *) texts[SPIFFE_PEM_CERT].data;
    pem.cert_len = texts[SPIFFE_PEM_CERT].len;
    pem.key = (char *) texts[SPIFFE_PEM_KEY].data;
    pem.key_len = texts[SPIFFE_PEM_KEY].len;
    pem.bundle = (char *) texts[SPIFFE_PEM_BUNDLE].data;
    pem.bundle_len = texts[SPIFFE_PEM_BUNDLE].len;
    pem.crl = (char *) texts[SPIFFE_PEM_CRL].data;
    pem.crl_len = texts[SPIFFE_PEM_CRL].len;

    snap = spiffe_snapshot_from_pem(&pem, w->version + 1, ngx_time(), &part,
                                    &err);

    if (snap == NULL) {
        if (part == SPIFFE_PEM_SET) {
            ngx_cpystrn(w->reason, (u_char *) err, NGX_SPIFFE_REASON_LEN);

        } else {
            ngx_snprintf(w->reason, NGX_SPIFFE_REASON_LEN - 1, "\"%V\": %s%Z",
                         &w->files[part].names[w->found[part]], err);
        }

        return NGX_ERROR;
    }

    w->version++;

    ngx_spiffe_stats_count(NGX_SPIFFE_STAT_SVID_UPDATES);

    svid = spiffe_snapshot_svid(snap);

    level = w->has_failed ? NGX_LOG_NOTICE : NGX_LOG_INFO;

    ngx_log_error(level, w->timer.log, 0,
                  "spiffe: SVID \"%s\" serial %s from \"%V\", version %uL",
                  svid->id, svid->serial, &w->name, w->version);

    ngx_spiffe_identity_set_svid(snap);
    ngx_spiffe_identity_report("loaded", (u_char *) "", w->failures,
                               ngx_time());

    return NGX_OK;
}


static ngx_int_t
ngx_spiffe_bundle_file_load(ngx_spiffe_watch_t *w, ngx_str_t *texts)
{
    ngx_uint_t       level;
    const char      *err;
    spiffe_jwks_t   *jwks;
    STACK_OF(X509)  *certs;

    if (spiffe_bundle_parse((char *) texts[0].data, texts[0].len, &certs,
                            &jwks, &err)
        != 0)
    {
        ngx_snprintf(w->reason, NGX_SPIFFE_REASON_LEN - 1, "\"%V\": %s%Z",
                     &w->files[0].names[0], err);
        return NGX_ERROR;
    }

    level = w->has_failed ? NGX_LOG_NOTICE : NGX_LOG_INFO;

    ngx_log_error(level, w->timer.log, 0,
                  "spiffe: bundle of \"%V\" from \"%V\": %d X.509 "
                  "authorities, %uz JWT authorities", &w->name,
                  &w->files[0].names[0], sk_X509_num(certs),
                  jwks ? spiffe_jwks_nkeys(jwks) : 0);

    ngx_spiffe_identity_set_bundle(w->trust, certs, jwks);

    return NGX_OK;
}


static const char *
ngx_spiffe_errno_reason(ngx_err_t err)
{
    switch (err) {

    case NGX_ENOENT:
        return "no such file";

    case NGX_EACCES:
        return "permission denied";

    default:
        return strerror(err);
    }
}
