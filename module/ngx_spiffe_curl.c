
/*
 * Copyright (C) ngx_spiffe developers
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>
#include <poll.h>
#include <openssl/err.h>

#include <ngx_spiffe.h>


/*
 * libcurl's multi_socket API on nginx events and timers.  libcurl owns the
 * sockets: they get an nginx connection for their events only, are never
 * closed here, and are watched level-triggered because libcurl does not
 * promise to read a socket until EAGAIN.
 */


typedef struct {
    ngx_spiffe_curl_done_pt     handler;
    void                       *data;
} ngx_spiffe_curl_easy_t;


static int ngx_spiffe_curl_socket(CURL *easy, curl_socket_t s, int what,
    void *userp, void *socketp);
static int ngx_spiffe_curl_timer(CURLM *multi, long timeout_ms, void *userp);
static ngx_int_t ngx_spiffe_curl_watch(ngx_event_t *ev, ngx_int_t event,
    ngx_uint_t want);
static void ngx_spiffe_curl_event_handler(ngx_event_t *ev);
static void ngx_spiffe_curl_timer_handler(ngx_event_t *ev);
static void ngx_spiffe_curl_action(ngx_spiffe_curl_t *cm, curl_socket_t s,
    int action);


ngx_int_t
ngx_spiffe_curl_init(ngx_spiffe_curl_t *cm, ngx_log_t *log)
{
    ngx_memzero(cm, sizeof(ngx_spiffe_curl_t));

    cm->multi = curl_multi_init();
    if (cm->multi == NULL) {
        ngx_log_error(NGX_LOG_ALERT, log, 0,
                      "spiffe: curl_multi_init() failed");
        return NGX_ERROR;
    }

    cm->log = log;
    ngx_queue_init(&cm->sockets);

    cm->timer.handler = ngx_spiffe_curl_timer_handler;
    cm->timer.data = cm;
    cm->timer.log = log;
    cm->timer.cancelable = 1;

    curl_multi_setopt(cm->multi, CURLMOPT_SOCKETFUNCTION,
                      ngx_spiffe_curl_socket);
    curl_multi_setopt(cm->multi, CURLMOPT_SOCKETDATA, cm);
    curl_multi_setopt(cm->multi, CURLMOPT_TIMERFUNCTION,
                      ngx_spiffe_curl_timer);
    curl_multi_setopt(cm->multi, CURLMOPT_TIMERDATA, cm);

    return NGX_OK;
}


ngx_int_t
ngx_spiffe_curl_add(ngx_spiffe_curl_t *cm, CURL *easy,
    ngx_spiffe_curl_done_pt handler, void *data)
{
    CURLMcode                rc;
    ngx_spiffe_curl_easy_t  *e;

    e = ngx_alloc(sizeof(ngx_spiffe_curl_easy_t), cm->log);
    if (e == NULL) {
        return NGX_ERROR;
    }

    e->handler = handler;
    e->data = data;

    curl_easy_setopt(easy, CURLOPT_PRIVATE, e);

    rc = curl_multi_add_handle(cm->multi, easy);
    if (rc != CURLM_OK) {
        ngx_log_error(NGX_LOG_ALERT, cm->log, 0,
                      "spiffe: curl_multi_add_handle() failed: %s",
                      curl_multi_strerror(rc));
        ngx_free(e);
        return NGX_ERROR;
    }

    return NGX_OK;
}


void
ngx_spiffe_curl_remove(ngx_spiffe_curl_t *cm, CURL *easy)
{
    ngx_spiffe_curl_easy_t  *e;

    if (curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **) &e) == CURLE_OK
        && e != NULL)
    {
        ngx_free(e);
        curl_easy_setopt(easy, CURLOPT_PRIVATE, NULL);
    }

    curl_multi_remove_handle(cm->multi, easy);

    ERR_clear_error();
}


void
ngx_spiffe_curl_cleanup(ngx_spiffe_curl_t *cm)
{
    if (cm->multi == NULL) {
        return;
    }

    /* the owners removed their handles; this frees what libcurl kept */

    curl_multi_cleanup(cm->multi);
    cm->multi = NULL;

    if (cm->timer.timer_set) {
        ngx_del_timer(&cm->timer);
    }
}


/*
 * A small event loop of its own, for libcurl and nginx timers, until
 * ready() says so or the time is up: only while a worker starts, before it
 * accepts any connection.
 */

void
ngx_spiffe_curl_run(ngx_spiffe_curl_t *cm, ngx_msec_t timeout,
    ngx_spiffe_curl_ready_pt ready, void *data)
{
    int                      n, i;
    ngx_msec_t               start, wait;
    ngx_queue_t             *q;
    struct pollfd            fds[NGX_SPIFFE_CURL_MAX_POLL];
    ngx_spiffe_curl_sock_t  *s;

    ngx_time_update();
    start = ngx_current_msec;

    while (!ready(data)) {

        if (ngx_current_msec - start >= timeout) {
            return;
        }

        wait = ngx_min(timeout - (ngx_current_msec - start),
                       ngx_event_find_timer());

        n = 0;

        for (q = ngx_queue_head(&cm->sockets);
             q != ngx_queue_sentinel(&cm->sockets)
             && n < NGX_SPIFFE_CURL_MAX_POLL;
             q = ngx_queue_next(q))
        {
            s = ngx_queue_data(q, ngx_spiffe_curl_sock_t, queue);

            fds[n].fd = s->fd;
            fds[n].events = ((s->what & CURL_POLL_IN) ? POLLIN : 0)
                            | ((s->what & CURL_POLL_OUT) ? POLLOUT : 0);
            fds[n].revents = 0;
            n++;
        }

        if (poll(fds, n, (int) wait) == -1 && ngx_errno != NGX_EINTR) {
            ngx_log_error(NGX_LOG_ALERT, cm->log, ngx_errno,
                          "spiffe: poll() failed");
            return;
        }

        ngx_time_update();

        for (i = 0; i < n; i++) {
            if (fds[i].revents) {
                ngx_spiffe_curl_action(cm, fds[i].fd,
                    ((fds[i].revents & (POLLIN|POLLERR|POLLHUP))
                     ? CURL_CSELECT_IN : 0)
                    | ((fds[i].revents & POLLOUT) ? CURL_CSELECT_OUT : 0));
            }
        }

        ngx_event_expire_timers();
    }
}


static int
ngx_spiffe_curl_socket(CURL *easy, curl_socket_t fd, int what, void *userp,
    void *socketp)
{
    ngx_spiffe_curl_t       *cm = userp;
    ngx_spiffe_curl_sock_t  *s = socketp;

    ngx_connection_t  *c;

    if (what == CURL_POLL_REMOVE) {

        if (s == NULL) {
            return 0;
        }

        /* libcurl still has the socket open: it tells us before closing */

        c = s->connection;

        if (c->read->active) {
            ngx_del_event(c->read, NGX_READ_EVENT, 0);
        }

        if (c->write->active) {
            ngx_del_event(c->write, NGX_WRITE_EVENT, 0);
        }

        if (c->read->posted) {
            ngx_delete_posted_event(c->read);
        }

        if (c->write->posted) {
            ngx_delete_posted_event(c->write);
        }

        ngx_free_connection(c);
        c->fd = (ngx_socket_t) -1;

        ngx_queue_remove(&s->queue);
        ngx_free(s);

        curl_multi_assign(cm->multi, fd, NULL);

        return 0;
    }

    if (s == NULL) {
        s = ngx_alloc(sizeof(ngx_spiffe_curl_sock_t), cm->log);
        if (s == NULL) {
            return -1;
        }

        c = ngx_get_connection(fd, cm->log);
        if (c == NULL) {
            ngx_free(s);
            return -1;
        }

        c->data = cm;
        c->read->handler = ngx_spiffe_curl_event_handler;
        c->write->handler = ngx_spiffe_curl_event_handler;
        c->read->log = cm->log;
        c->write->log = cm->log;

        s->connection = c;
        s->fd = fd;
        ngx_queue_insert_tail(&cm->sockets, &s->queue);

        curl_multi_assign(cm->multi, fd, s);
    }

    s->what = what;
    c = s->connection;

    if (ngx_spiffe_curl_watch(c->read, NGX_READ_EVENT, what & CURL_POLL_IN)
        != NGX_OK
        || ngx_spiffe_curl_watch(c->write, NGX_WRITE_EVENT,
                                 what & CURL_POLL_OUT)
           != NGX_OK)
    {
        return -1;
    }

    return 0;
}


static int
ngx_spiffe_curl_timer(CURLM *multi, long timeout_ms, void *userp)
{
    ngx_spiffe_curl_t  *cm = userp;

    /* nginx would keep an earlier timer less than 300 ms away */

    if (cm->timer.timer_set) {
        ngx_del_timer(&cm->timer);
    }

    if (timeout_ms < 0) {
        return 0;
    }

    if (timeout_ms == 0) {
        cm->run_now = 1;
    }

    ngx_add_timer(&cm->timer, (ngx_msec_t) timeout_ms);

    return 0;
}


static ngx_int_t
ngx_spiffe_curl_watch(ngx_event_t *ev, ngx_int_t event, ngx_uint_t want)
{
    if (want && !ev->active) {
        return ngx_add_event(ev, event, NGX_LEVEL_EVENT);
    }

    if (!want && ev->active) {
        return ngx_del_event(ev, event, 0);
    }

    return NGX_OK;
}


static void
ngx_spiffe_curl_event_handler(ngx_event_t *ev)
{
    ngx_connection_t   *c = ev->data;
    ngx_spiffe_curl_t  *cm = c->data;

    ngx_spiffe_curl_action(cm, c->fd,
                           ev->write ? CURL_CSELECT_OUT : CURL_CSELECT_IN);
}


static void
ngx_spiffe_curl_timer_handler(ngx_event_t *ev)
{
    ngx_spiffe_curl_action(ev->data, CURL_SOCKET_TIMEOUT, 0);
}


static void
ngx_spiffe_curl_action(ngx_spiffe_curl_t *cm, curl_socket_t s, int action)
{
    int                      running, left;
    ngx_uint_t               n;
    CURL                    *easy;
    CURLMsg                 *msg;
    CURLcode                 result;
    ngx_spiffe_curl_easy_t  *e;

    /* the connection of s may be gone once this returns */

    cm->run_now = 0;

    curl_multi_socket_action(cm->multi, s, action, &running);

    /*
     * what libcurl has read but not yet handed over it asks to be run for
     * at once: do it now, not on the next turn of the event loop
     */

    for (n = 0; cm->run_now && n < NGX_SPIFFE_CURL_MAX_RUNS; n++) {
        cm->run_now = 0;
        curl_multi_socket_action(cm->multi, CURL_SOCKET_TIMEOUT, 0,
                                 &running);
    }

    while ((msg = curl_multi_info_read(cm->multi, &left)) != NULL) {

        if (msg->msg != CURLMSG_DONE) {
            continue;
        }

        easy = msg->easy_handle;
        result = msg->data.result;

        if (curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **) &e)
            != CURLE_OK
            || e == NULL)
        {
            continue;
        }

        /* the handler removes the handle, and may add another */
        e->handler(e->data, easy, result);
    }

    /*
     * libcurl's TLS connections run in nginx's thread and may leave errors
     * in OpenSSL's queue; nginx would take them for its own connections'
     * ("ignoring stale global SSL error") and log them at alert
     */

    ERR_clear_error();
}
