
/*
 * ngx_http_webpush_metrics: Prometheus text for webpush_metrics;.
 *
 * Copyright (C) ngx_webpush authors
 *
 * Sources:
 *   - a shared memory zone ("webpush_metrics"): requests by route and
 *     status (counted in the log phase by every worker), dependency
 *     failures, and the active subscriptions figure;
 *   - this worker's PostgreSQL pool (said so in HELP);
 *   - Redis, in one EVAL per scrape: queue depth and the senders'
 *     counters and latency histogram.  Redis down: the rest is still
 *     served, with webpush_redis_up 0.
 *
 * Active subscriptions are never counted per scrape: a per-worker timer
 * (webpush_active_subscriptions_refresh, default 30s) runs the count,
 * and a timestamp claimed with compare-and-swap in the zone makes one
 * worker per period do it.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_webpush.h"
#include "latency.h"


#define NGX_HTTP_WEBPUSH_STATUS_MAX    600
#define NGX_HTTP_WEBPUSH_SHM_SIZE      (256 * 1024)

/* Output size bound: routes x statuses seen, plus the fixed part. */
#define NGX_HTTP_WEBPUSH_METRICS_LINE  160
#define NGX_HTTP_WEBPUSH_METRICS_FIXED 8192


struct ngx_http_webpush_shm_s {
    ngx_atomic_t    requests[NGX_HTTP_WEBPUSH_MAX_ROUTES]
                            [NGX_HTTP_WEBPUSH_STATUS_MAX];
    ngx_atomic_t    upstream[NGX_HTTP_WEBPUSH_UPSTREAM_MAX];
    ngx_atomic_t    active_subscriptions;
    ngx_atomic_t    active_updated;     /* unix seconds, 0 = never */
    ngx_atomic_t    active_claimed;     /* unix seconds of the last claim */
};


typedef struct {
    ngx_http_request_t  *request;
    ngx_flag_t           redis_up;
    long long            queue[6];      /* xlen pending lag zsched zretry
                                           xdead */
    ngx_str_t            counters;      /* "name value\n"... */
    long long            latency[WP_LATENCY_BUCKETS];
    long long            latency_sum;
    long long            latency_count;
    ngx_flag_t           has_latency;
} ngx_http_webpush_scrape_t;


static ngx_int_t ngx_http_webpush_metrics_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
static void ngx_http_webpush_metrics_done(void *data, redisReply *reply,
    ngx_int_t rc);
static ngx_int_t ngx_http_webpush_metrics_send(ngx_http_request_t *r,
    ngx_http_webpush_scrape_t *sc);
static long long ngx_http_webpush_counter(ngx_str_t *lines,
    const char *name);
static void ngx_http_webpush_active_timer(ngx_event_t *ev);
static void ngx_http_webpush_active_done(void *data, PGresult *res,
    ngx_int_t rc);


static ngx_http_webpush_shm_t  *ngx_http_webpush_shm;
static ngx_event_t              ngx_http_webpush_active_ev;
static ngx_msec_t               ngx_http_webpush_active_period;
static ngx_uint_t               ngx_http_webpush_active_pending;


/*
 * KEYS: jobs, scheduled, retry, dead, metrics, metrics:latency;
 * ARGV[1]: the consumer group.  XINFO fails on a missing stream: pcall.
 */
static const char  ngx_http_webpush_metrics_lua[] =
    "local pending, lag = -1, -1 "
    "local ok, groups = pcall(redis.call, 'XINFO', 'GROUPS', KEYS[1]) "
    "if ok then for _, g in ipairs(groups) do "
    "  local h = {} "
    "  for i = 1, #g, 2 do h[g[i]] = g[i + 1] end "
    "  if h['name'] == ARGV[1] then "
    "    pending = h['pending'] "
    "    if type(h['lag']) == 'number' then lag = h['lag'] end "
    "  end "
    "end end "
    "return {redis.call('XLEN', KEYS[1]), pending, lag,"
    " redis.call('ZCARD', KEYS[2]), redis.call('ZCARD', KEYS[3]),"
    " redis.call('XLEN', KEYS[4]), redis.call('HGETALL', KEYS[5]),"
    " redis.call('HGETALL', KEYS[6])}";


/* the senders' hash fields, in output order */
static const char  *ngx_http_webpush_sender_fields[] = {
    "sent", "failed_4xx", "failed_5xx", "failed_network", "retried",
    "disabled", "expired", "jobs_done", NULL
};



ngx_int_t
ngx_http_webpush_metrics_init_conf(ngx_conf_t *cf,
    ngx_http_webpush_main_conf_t *wmcf)
{
    ngx_str_t  name = ngx_string("webpush_metrics");

    wmcf->shm_zone = ngx_shared_memory_add(cf, &name,
                                           NGX_HTTP_WEBPUSH_SHM_SIZE,
                                           &ngx_http_webpush_module);
    if (wmcf->shm_zone == NULL) {
        return NGX_ERROR;
    }

    wmcf->shm_zone->init = ngx_http_webpush_metrics_init_zone;

    return NGX_OK;
}


/* The counters survive a reload: the zone is reused with its data. */

static ngx_int_t
ngx_http_webpush_metrics_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_slab_pool_t         *shpool;
    ngx_http_webpush_shm_t  *sh;

    if (data) {
        shm_zone->data = data;
        return NGX_OK;
    }

    shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (shm_zone->shm.exists) {
        shm_zone->data = shpool->data;
        return NGX_OK;
    }

    sh = ngx_slab_calloc(shpool, sizeof(ngx_http_webpush_shm_t));
    if (sh == NULL) {
        return NGX_ERROR;
    }

    shpool->data = sh;
    shm_zone->data = sh;

    return NGX_OK;
}


ngx_int_t
ngx_http_webpush_metrics_log_handler(ngx_http_request_t *r)
{
    ngx_uint_t                    route, status;
    ngx_http_webpush_loc_conf_t  *wlcf;

    wlcf = ngx_http_get_module_loc_conf(r, ngx_http_webpush_module);

    if (wlcf == NULL || wlcf->route == NULL || ngx_http_webpush_shm == NULL) {
        return NGX_OK;
    }

    route = wlcf->route - ngx_http_webpush_routes;

    if (route >= NGX_HTTP_WEBPUSH_MAX_ROUTES) {
        return NGX_OK;
    }

    /* what the access log would say */
    status = r->err_status ? r->err_status : r->headers_out.status;

    if (status >= NGX_HTTP_WEBPUSH_STATUS_MAX) {
        status = 0;
    }

    (void) ngx_atomic_fetch_add(&ngx_http_webpush_shm->requests[route][status],
                                1);

    return NGX_OK;
}


void
ngx_http_webpush_metrics_upstream(ngx_uint_t what)
{
    if (ngx_http_webpush_shm && what < NGX_HTTP_WEBPUSH_UPSTREAM_MAX) {
        (void) ngx_atomic_fetch_add(&ngx_http_webpush_shm->upstream[what], 1);
    }
}


ngx_int_t
ngx_http_webpush_metrics_init_process(ngx_cycle_t *cycle)
{
    ngx_http_webpush_main_conf_t  *wmcf;

    if (ngx_http_cycle_get_module_main_conf(cycle, ngx_http_core_module)
        == NULL)
    {
        return NGX_OK;
    }

    wmcf = ngx_http_cycle_get_module_main_conf(cycle,
                                               ngx_http_webpush_module);
    if (wmcf == NULL || wmcf->shm_zone == NULL) {
        return NGX_OK;
    }

    ngx_http_webpush_shm = wmcf->shm_zone->data;

    if (wmcf->pg.url.len == 0) {
        return NGX_OK;
    }

    ngx_http_webpush_active_period = wmcf->active_refresh;
    ngx_http_webpush_active_pending = 0;

    ngx_memzero(&ngx_http_webpush_active_ev, sizeof(ngx_event_t));
    ngx_http_webpush_active_ev.handler = ngx_http_webpush_active_timer;
    ngx_http_webpush_active_ev.log = cycle->log;
    ngx_http_webpush_active_ev.data = &ngx_http_webpush_active_ev;

    /* a pending refresh must not hold up a graceful shutdown */
    ngx_http_webpush_active_ev.cancelable = 1;

    /* soon after start, once the pool had a moment to connect */
    ngx_add_timer(&ngx_http_webpush_active_ev, 500);

    return NGX_OK;
}


static void
ngx_http_webpush_active_timer(ngx_event_t *ev)
{
    ngx_atomic_uint_t        last, now, period;
    ngx_http_webpush_shm_t  *sh;

    if (ngx_exiting || ngx_quit || ngx_terminate) {
        return;
    }

    sh = ngx_http_webpush_shm;
    now = (ngx_atomic_uint_t) ngx_time();
    period = ngx_http_webpush_active_period / 1000;

    if (period > 0) {
        period--;       /* timers of other workers drift: allow a second */
    }

    last = sh->active_claimed;

    if (!ngx_http_webpush_active_pending
        && now - last >= period
        && ngx_atomic_cmp_set(&sh->active_claimed, last, now))
    {
        if (ngx_http_webpush_pg_query(NULL, ev->log,
                                      "SELECT count(*) FROM "
                                      "\"PushSubscription\" WHERE \"enabled\"",
                                      0, NULL, ngx_http_webpush_active_done,
                                      NULL)
            == NGX_OK)
        {
            ngx_http_webpush_active_pending = 1;

        } else {
            /* let another worker (or our next tick) try */
            sh->active_claimed = 0;
        }
    }

    ngx_add_timer(ev, ngx_http_webpush_active_period);
}


static void
ngx_http_webpush_active_done(void *data, PGresult *res, ngx_int_t rc)
{
    ngx_int_t  n;
    char      *v;

    ngx_http_webpush_active_pending = 0;

    if (rc != NGX_OK || PQresultStatus(res) != PGRES_TUPLES_OK
        || PQntuples(res) != 1)
    {
        if (ngx_http_webpush_shm) {
            ngx_http_webpush_shm->active_claimed = 0;
        }

        return;
    }

    v = PQgetvalue(res, 0, 0);
    n = ngx_atoi((u_char *) v, ngx_strlen(v));

    if (n == NGX_ERROR || ngx_http_webpush_shm == NULL) {
        return;
    }

    ngx_http_webpush_shm->active_subscriptions = (ngx_atomic_uint_t) n;
    ngx_http_webpush_shm->active_updated = (ngx_atomic_uint_t) ngx_time();
}


/* The route */


ngx_int_t
ngx_http_webpush_metrics_handler(ngx_http_request_t *r)
{
    size_t                      len[6];
    u_char                     *keys[6], *p;
    ngx_int_t                   rc;
    ngx_str_t                  *prefix;
    ngx_uint_t                  i;
    const char                 *argv[10];
    size_t                      argvlen[10];
    ngx_http_webpush_scrape_t  *sc;

    static const char  *names[6] = {
        "jobs", "scheduled", "retry", "dead", "metrics", "metrics:latency"
    };

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    sc = ngx_pcalloc(r->pool, sizeof(ngx_http_webpush_scrape_t));
    if (sc == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    sc->request = r;

    if (!ngx_http_webpush_redis_configured()) {
        return ngx_http_webpush_metrics_send(r, sc);
    }

    prefix = ngx_http_webpush_redis_prefix();

    for (i = 0; i < 6; i++) {
        len[i] = prefix->len + ngx_strlen(names[i]);

        keys[i] = ngx_pnalloc(r->pool, len[i]);
        if (keys[i] == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        p = ngx_cpymem(keys[i], prefix->data, prefix->len);
        (void) ngx_cpymem(p, names[i], ngx_strlen(names[i]));

        argv[3 + i] = (const char *) keys[i];
        argvlen[3 + i] = len[i];
    }

    argv[0] = "EVAL";
    argvlen[0] = 4;
    argv[1] = ngx_http_webpush_metrics_lua;
    argvlen[1] = sizeof(ngx_http_webpush_metrics_lua) - 1;
    argv[2] = "6";
    argvlen[2] = 1;
    argv[9] = "senders";
    argvlen[9] = sizeof("senders") - 1;

    if (ngx_http_webpush_redis_command(r->pool, r->connection->log,
                                       ngx_http_webpush_metrics_done, sc,
                                       10, argv, argvlen)
        != NGX_OK)
    {
        return ngx_http_webpush_metrics_send(r, sc);
    }

    r->main->count++;

    return NGX_DONE;
}


static void
ngx_http_webpush_metrics_done(void *data, redisReply *reply, ngx_int_t rc)
{
    ngx_http_webpush_scrape_t *sc = data;

    u_char       *p;
    size_t        i, j, len;
    redisReply   *e, *h;

    if (rc != NGX_OK || reply == NULL || reply->type != REDIS_REPLY_ARRAY
        || reply->elements != 8)
    {
        if (rc != NGX_OK) {
            ngx_http_webpush_metrics_upstream(
                                     NGX_HTTP_WEBPUSH_UPSTREAM_REDIS_ERROR);
        }

        goto send;
    }

    sc->redis_up = 1;

    for (i = 0; i < 6; i++) {
        e = reply->element[i];
        sc->queue[i] = (e->type == REDIS_REPLY_INTEGER) ? e->integer : -1;
    }

    /* the senders' counters: copy (hiredis frees the reply) */

    h = reply->element[6];
    len = 0;

    if (h->type == REDIS_REPLY_ARRAY) {
        for (i = 0; i + 1 < h->elements; i += 2) {
            len += h->element[i]->len + h->element[i + 1]->len + 2;
        }
    }

    sc->counters.data = ngx_pnalloc(sc->request->pool, len + 1);
    if (sc->counters.data == NULL) {
        goto send;
    }

    p = sc->counters.data;

    if (h->type == REDIS_REPLY_ARRAY) {
        for (i = 0; i + 1 < h->elements; i += 2) {
            if (h->element[i]->type != REDIS_REPLY_STRING
                || h->element[i + 1]->type != REDIS_REPLY_STRING)
            {
                continue;
            }

            p = ngx_cpymem(p, h->element[i]->str, h->element[i]->len);
            *p++ = ' ';
            p = ngx_cpymem(p, h->element[i + 1]->str,
                           h->element[i + 1]->len);
            *p++ = '\n';
        }
    }

    sc->counters.len = p - sc->counters.data;

    h = reply->element[7];

    if (h->type == REDIS_REPLY_ARRAY && h->elements >= 2) {
        sc->has_latency = 1;

        for (i = 0; i + 1 < h->elements; i += 2) {
            e = h->element[i];

            if (e->type != REDIS_REPLY_STRING
                || h->element[i + 1]->type != REDIS_REPLY_STRING)
            {
                continue;
            }

            rc = ngx_atoi((u_char *) h->element[i + 1]->str,
                          h->element[i + 1]->len);
            if (rc == NGX_ERROR) {
                continue;
            }

            for (j = 0; j < WP_LATENCY_BUCKETS; j++) {
                if (ngx_strlen(wp_latency_field[j]) == e->len
                    && ngx_strncmp(wp_latency_field[j], e->str, e->len) == 0)
                {
                    sc->latency[j] = rc;
                }
            }

            if (e->len == 6 && ngx_strncmp(e->str, "sum_ms", 6) == 0) {
                sc->latency_sum = rc;

            } else if (e->len == 5 && ngx_strncmp(e->str, "count", 5) == 0) {
                sc->latency_count = rc;
            }
        }
    }

send:

    ngx_http_finalize_request(sc->request,
                            ngx_http_webpush_metrics_send(sc->request, sc));
}


/* Look a sender counter up in "name value\n" lines; -1 when absent. */

static long long
ngx_http_webpush_counter(ngx_str_t *lines, const char *name)
{
    u_char     *p, *last, *eol;
    size_t      n;
    ngx_int_t   v;

    n = ngx_strlen(name);
    p = lines->data;
    last = p + lines->len;

    while (p < last) {
        eol = ngx_strlchr(p, last, '\n');
        if (eol == NULL) {
            break;
        }

        if ((size_t) (eol - p) > n + 1 && p[n] == ' '
            && ngx_strncmp(p, name, n) == 0)
        {
            v = ngx_atoi(p + n + 1, eol - p - n - 1);
            return v == NGX_ERROR ? -1 : v;
        }

        p = eol + 1;
    }

    return -1;
}


static ngx_int_t
ngx_http_webpush_metrics_send(ngx_http_request_t *r,
    ngx_http_webpush_scrape_t *sc)
{
    u_char                       *body, *p, *last;
    size_t                        size;
    ngx_uint_t                    i, s, nroutes, first;
    long long                     v, cum;
    ngx_str_t                     type, cc;
    ngx_atomic_uint_t             n;
    ngx_http_webpush_shm_t       *sh;
    ngx_http_webpush_pg_stats_t   st;

    static const char  *failed[3][2] = {
        { "failed_4xx", "4xx" },
        { "failed_5xx", "5xx" },
        { "failed_network", "network" }
    };

    sh = ngx_http_webpush_shm;

    for (nroutes = 0; ngx_http_webpush_routes[nroutes].name.len; nroutes++) {
        /* void */
    }

    nroutes = ngx_min(nroutes, NGX_HTTP_WEBPUSH_MAX_ROUTES);

    /* bound: every (route, status) pair seen, plus the fixed part */
    size = NGX_HTTP_WEBPUSH_METRICS_FIXED
           + WP_LATENCY_BUCKETS * NGX_HTTP_WEBPUSH_METRICS_LINE;

    if (sh) {
        for (i = 0; i < nroutes; i++) {
            for (s = 0; s < NGX_HTTP_WEBPUSH_STATUS_MAX; s++) {
                if (sh->requests[i][s]) {
                    size += NGX_HTTP_WEBPUSH_METRICS_LINE;
                }
            }
        }
    }

    body = ngx_pnalloc(r->pool, size);
    if (body == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = body;
    last = body + size;

    p = ngx_slprintf(p, last,
            "# HELP webpush_http_requests_total Requests answered by the "
            "webpush routes, by route and status (all workers).\n"
            "# TYPE webpush_http_requests_total counter\n");

    if (sh) {
        for (i = 0; i < nroutes; i++) {
            for (s = 0; s < NGX_HTTP_WEBPUSH_STATUS_MAX; s++) {
                n = sh->requests[i][s];
                if (n == 0) {
                    continue;
                }

                /* "webpush_subscribe" -> route="subscribe" */
                p = ngx_slprintf(p, last,
                        "webpush_http_requests_total{route=\"%*s\","
                        "status=\"%ui\"} %uA\n",
                        ngx_http_webpush_routes[i].name.len - 8,
                        ngx_http_webpush_routes[i].name.data + 8, s, n);
            }
        }
    }

    ngx_http_webpush_pg_stats(&st);

    p = ngx_slprintf(p, last,
            "# HELP webpush_db_pool_connections PostgreSQL connections of "
            "the worker that answered this scrape, by state.\n"
            "# TYPE webpush_db_pool_connections gauge\n"
            "webpush_db_pool_connections{state=\"in_use\"} %ui\n"
            "webpush_db_pool_connections{state=\"idle\"} %ui\n"
            "webpush_db_pool_connections{state=\"connecting\"} %ui\n"
            "# HELP webpush_db_pool_waiting Queries waiting for a "
            "connection in the worker that answered this scrape.\n"
            "# TYPE webpush_db_pool_waiting gauge\n"
            "webpush_db_pool_waiting %ui\n"
            "# HELP webpush_db_pool_errors_total Connection and query "
            "errors of the worker that answered this scrape.\n"
            "# TYPE webpush_db_pool_errors_total counter\n"
            "webpush_db_pool_errors_total %ui\n"
            "# HELP webpush_db_pool_timeouts_total Connect, query and wait "
            "timeouts of the worker that answered this scrape.\n"
            "# TYPE webpush_db_pool_timeouts_total counter\n"
            "webpush_db_pool_timeouts_total %ui\n",
            st.in_use, st.idle, st.connecting, st.waiting, st.errors,
            st.timeouts);

    if (sh) {
        p = ngx_slprintf(p, last,
            "# HELP webpush_upstream_failures_total Requests that failed "
            "on a dependency (all workers).\n"
            "# TYPE webpush_upstream_failures_total counter\n"
            "webpush_upstream_failures_total{upstream=\"postgres\","
            "kind=\"error\"} %uA\n"
            "webpush_upstream_failures_total{upstream=\"postgres\","
            "kind=\"busy\"} %uA\n"
            "webpush_upstream_failures_total{upstream=\"redis\","
            "kind=\"error\"} %uA\n",
            sh->upstream[NGX_HTTP_WEBPUSH_UPSTREAM_PG_ERROR],
            sh->upstream[NGX_HTTP_WEBPUSH_UPSTREAM_PG_BUSY],
            sh->upstream[NGX_HTTP_WEBPUSH_UPSTREAM_REDIS_ERROR]);

        if (sh->active_updated) {
            p = ngx_slprintf(p, last,
                "# HELP webpush_active_subscriptions Enabled subscriptions, "
                "counted periodically.\n"
                "# TYPE webpush_active_subscriptions gauge\n"
                "webpush_active_subscriptions %uA\n"
                "# HELP webpush_active_subscriptions_updated_seconds When "
                "that count was taken (unix time).\n"
                "# TYPE webpush_active_subscriptions_updated_seconds gauge\n"
                "webpush_active_subscriptions_updated_seconds %uA\n",
                sh->active_subscriptions, sh->active_updated);
        }
    }

    p = ngx_slprintf(p, last,
            "# HELP webpush_redis_up Whether Redis answered this scrape.\n"
            "# TYPE webpush_redis_up gauge\n"
            "webpush_redis_up %d\n", sc->redis_up ? 1 : 0);

    if (sc->redis_up) {
        /* waiting: the group's lag when Redis knows it, else the length */
        v = sc->queue[2] >= 0 ? sc->queue[2] : sc->queue[0];

        p = ngx_slprintf(p, last,
            "# HELP webpush_queue_jobs Jobs in the queue by state.\n"
            "# TYPE webpush_queue_jobs gauge\n"
            "webpush_queue_jobs{state=\"waiting\"} %L\n"
            "webpush_queue_jobs{state=\"pending\"} %L\n"
            "webpush_queue_jobs{state=\"scheduled\"} %L\n"
            "webpush_queue_jobs{state=\"retrying\"} %L\n"
            "webpush_queue_jobs{state=\"dead\"} %L\n"
            "# HELP webpush_queue_stream_length Entries in the job stream.\n"
            "# TYPE webpush_queue_stream_length gauge\n"
            "webpush_queue_stream_length %L\n",
            v, sc->queue[1] >= 0 ? sc->queue[1] : 0, sc->queue[3],
            sc->queue[4], sc->queue[5], sc->queue[0]);

        first = 1;

        for (i = 0; ngx_http_webpush_sender_fields[i]; i++) {
            v = ngx_http_webpush_counter(&sc->counters,
                                         ngx_http_webpush_sender_fields[i]);
            if (v < 0) {
                v = 0;
            }

            if (ngx_strncmp(ngx_http_webpush_sender_fields[i], "failed_", 7)
                == 0)
            {
                if (first) {
                    p = ngx_slprintf(p, last,
                        "# HELP webpush_sender_failed_total Failed "
                        "deliveries by cause (all senders).\n"
                        "# TYPE webpush_sender_failed_total counter\n");
                    first = 0;
                }

                for (s = 0; s < 3; s++) {
                    if (ngx_strcmp(failed[s][0],
                                   ngx_http_webpush_sender_fields[i])
                        == 0)
                    {
                        p = ngx_slprintf(p, last,
                            "webpush_sender_failed_total{class=\"%s\"} %L\n",
                            failed[s][1], v);
                    }
                }

                continue;
            }

            p = ngx_slprintf(p, last,
                "# HELP webpush_sender_%s_total Sender counter \"%s\" "
                "(all senders).\n"
                "# TYPE webpush_sender_%s_total counter\n"
                "webpush_sender_%s_total %L\n",
                ngx_http_webpush_sender_fields[i],
                ngx_http_webpush_sender_fields[i],
                ngx_http_webpush_sender_fields[i],
                ngx_http_webpush_sender_fields[i], v);
        }

        /* the senders keep one count per bucket: Prometheus wants sums */
        p = ngx_slprintf(p, last,
            "# HELP webpush_sender_delivery_latency_ms Push service answer "
            "time (all senders).\n"
            "# TYPE webpush_sender_delivery_latency_ms histogram\n");

        cum = 0;

        for (i = 0; i < WP_LATENCY_BUCKETS; i++) {
            cum += sc->latency[i];
            p = ngx_slprintf(p, last,
                                 "webpush_sender_delivery_latency_ms_bucket");
            if (i < WP_LATENCY_BUCKETS - 1) {
                p = ngx_slprintf(p, last, "{le=\"%L\"} %L\n",
                                 (int64_t) wp_latency_le_ms[i], cum);
            } else {
                p = ngx_slprintf(p, last, "{le=\"+Inf\"} %L\n", cum);
            }
        }

        p = ngx_slprintf(p, last,
            "webpush_sender_delivery_latency_ms_sum %L\n"
            "webpush_sender_delivery_latency_ms_count %L\n",
            sc->latency_sum, sc->latency_count);
    }

    ngx_str_set(&type, "text/plain; version=0.0.4; charset=utf-8");
    ngx_str_set(&cc, "no-store");

    return ngx_http_webpush_send_body(r, NGX_HTTP_OK, &type, body,
                                      p - body, &cc);
}
