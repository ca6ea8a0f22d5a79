
/*
 * Copyright (C) ngx_spiffe developers
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include <ngx_spiffe.h>


/*
 * Counters and each worker's identity in a shared memory zone, for the
 * status page: counters are atomic adds, with no lock on the request path;
 * a worker's slot is written by that worker only, under a sequence number
 * that readers check, so that they never show a half-written slot.
 */


/* the counters and slots, and room for the slab pool's own pages */
#define NGX_SPIFFE_STATS_SIZE  (sizeof(ngx_spiffe_stats_t) + 16 * ngx_pagesize)


static ngx_int_t ngx_spiffe_stats_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);


static ngx_spiffe_stats_t  *ngx_spiffe_stats;

static ngx_str_t  ngx_spiffe_stats_zone = ngx_string("ngx_spiffe_status");


ngx_int_t
ngx_spiffe_stats_add_zone(ngx_conf_t *cf)
{
    ngx_shm_zone_t  *shm_zone;

    shm_zone = ngx_shared_memory_add(cf, &ngx_spiffe_stats_zone,
                                     ngx_align(NGX_SPIFFE_STATS_SIZE,
                                               ngx_pagesize),
                                     &ngx_spiffe_module);
    if (shm_zone == NULL) {
        return NGX_ERROR;
    }

    shm_zone->init = ngx_spiffe_stats_init_zone;

    return NGX_OK;
}


/*
 * The zone of the configuration this worker runs: a reload may have
 * dropped it, and a pointer kept from the previous one would be unmapped.
 */

void
ngx_spiffe_stats_init_process(ngx_cycle_t *cycle)
{
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_shm_zone_t   *zone;

    ngx_spiffe_stats = NULL;

    part = &cycle->shared_memory.part;
    zone = part->elts;

    for (i = 0; /* void */ ; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                return;
            }

            part = part->next;
            zone = part->elts;
            i = 0;
        }

        if (zone[i].tag == &ngx_spiffe_module
            && zone[i].shm.name.len == ngx_spiffe_stats_zone.len
            && ngx_strncmp(zone[i].shm.name.data, ngx_spiffe_stats_zone.data,
                           ngx_spiffe_stats_zone.len)
               == 0)
        {
            ngx_spiffe_stats = zone[i].data;
            return;
        }
    }
}


ngx_spiffe_stats_t *
ngx_spiffe_stats_get(void)
{
    return ngx_spiffe_stats;
}


void
ngx_spiffe_stats_count(ngx_uint_t counter)
{
    if (ngx_spiffe_stats) {
        (void) ngx_atomic_fetch_add(&ngx_spiffe_stats->counters[counter], 1);
    }
}


/* a refused peer, counted by the kind of its reason */

void
ngx_spiffe_stats_refused(ngx_uint_t side, spiffe_err_t reason)
{
    ngx_atomic_t  *counter;

    if (ngx_spiffe_stats == NULL) {
        return;
    }

    counter = &ngx_spiffe_stats->refused[side][spiffe_err_kind(reason)];

    (void) ngx_atomic_fetch_add(counter, 1);
}


/* this worker's slot, between ngx_spiffe_stats_end() and this */

ngx_spiffe_worker_stats_t *
ngx_spiffe_stats_begin(void)
{
    ngx_spiffe_worker_stats_t  *ws;

    /* after a reload, the slot is the new worker's */

    if (ngx_spiffe_stats == NULL || ngx_worker >= NGX_SPIFFE_MAX_WORKERS
        || ngx_exiting || ngx_quit)
    {
        return NULL;
    }

    ws = &ngx_spiffe_stats->workers[ngx_worker];

    (void) ngx_atomic_fetch_add(&ws->seq, 1);
    ngx_memory_barrier();

    ws->pid = ngx_pid;

    return ws;
}


void
ngx_spiffe_stats_end(ngx_spiffe_worker_stats_t *ws)
{
    ngx_memory_barrier();
    (void) ngx_atomic_fetch_add(&ws->seq, 1);
}


/* a consistent copy of a worker's slot; NGX_DECLINED: none there */

ngx_int_t
ngx_spiffe_stats_worker(ngx_uint_t i, ngx_spiffe_worker_stats_t *copy)
{
    ngx_uint_t                  tries;
    ngx_atomic_uint_t           seq;
    ngx_spiffe_worker_stats_t  *ws;

    ws = &ngx_spiffe_stats->workers[i];

    for (tries = 0; tries < 100; tries++) {
        seq = ws->seq;

        if (seq & 1) {
            continue;
        }

        ngx_memory_barrier();
        ngx_memcpy(copy, ws, sizeof(ngx_spiffe_worker_stats_t));
        ngx_memory_barrier();

        if (ws->seq == seq) {
            return copy->pid ? NGX_OK : NGX_DECLINED;
        }
    }

    return NGX_DECLINED;
}


static ngx_int_t
ngx_spiffe_stats_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_slab_pool_t  *shpool;

    if (data) {
        /* a reload keeps the counters */
        shm_zone->data = data;
        ngx_spiffe_stats = data;
        return NGX_OK;
    }

    shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (shm_zone->shm.exists) {
        shm_zone->data = shpool->data;
        ngx_spiffe_stats = shpool->data;
        return NGX_OK;
    }

    ngx_spiffe_stats = ngx_slab_calloc(shpool, sizeof(ngx_spiffe_stats_t));
    if (ngx_spiffe_stats == NULL) {
        return NGX_ERROR;
    }

    shpool->data = ngx_spiffe_stats;
    shm_zone->data = ngx_spiffe_stats;

    return NGX_OK;
}
