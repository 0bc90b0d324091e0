/* webpush-sender: jobs, pages and records (see job.h; retries: retry.c). */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "audience.h"
#include "db.h"
#include "job.h"
#include "job_int.h"
#include "jobstate.h"
#include "shard.h"
#include "subscription.h"
#include "sendreq.h"

#define WP_JOB_MAX_BACKOFF   3600000 /* ms: one backoff step at most */
#define WP_JOB_SMALL_USERS    100    /* "small": userId, or this many userIds */
#define WP_JOB_SMALL_PAGES    2      /* or a topic of at most this many pages */
#define WP_JOB_SMALL_PER_PAGE 16     /* small jobs run between two pages */



int64_t
wp_job_now_ms(void)
{
    struct timeval  tv;

    gettimeofday(&tv, NULL);

    return (int64_t) tv.tv_sec * 1000 + tv.tv_usec / 1000;
}


int64_t
wp_job_expires_ms(const wp_send_req_t *req)
{
    int64_t  due;

    due = req->send_at_ms > req->created_at_ms ? req->send_at_ms
                                               : req->created_at_ms;

    return due + (req->ttl > 0 ? req->ttl : 1) * 1000;
}


int
wp_sender_init(wp_sender_t *s, wp_sender_conf_t *conf, wp_log_t *log,
    wp_queue_t *q, const volatile sig_atomic_t *stop, char *err,
    size_t errlen)
{
    memset(s, 0, sizeof(*s));
    s->conf = conf;
    s->log = log;
    s->q = q;
    s->stop = stop;

    return wp_engine_init(&s->engine, conf, log, &s->metrics, q, err, errlen);
}


void
wp_sender_free(wp_sender_t *s)
{
    if (s->pg) {
        PQfinish(s->pg);
        s->pg = NULL;
    }

    wp_engine_free(&s->engine);
}


/* The database connection, (re)connected when needed. */
PGconn *
wp_job_pg(wp_sender_t *s)
{
    char  err[WP_DB_ERRLEN];

    if (s->pg && PQstatus(s->pg) == CONNECTION_OK) {
        return s->pg;
    }

    if (s->pg) {
        PQfinish(s->pg);
        s->pg = NULL;
    }

    if (wp_db_connect(&s->pg, s->conf->database_url, "webpush-sender", err,
                      sizeof(err)) != WP_DB_OK)
    {
        wp_log(s->log, WP_LOG_WARN, "database unavailable", "error", err,
               NULL);
        s->pg = NULL;
        return NULL;
    }

    return s->pg;
}


/* One "PushError" row for a final failure (ENABLE_ERROR_TRACKING). */
static void
wp_job_push_error(wp_sender_t *s, const wp_send_req_t *req,
    const char *endpoint, const char *error, long status)
{
    char         code[16], msg[WP_DB_ERRLEN];
    PGconn      *pg;
    const char  *params[5];

    if (!s->conf->error_tracking) {
        return;
    }

    pg = wp_job_pg(s);
    if (pg == NULL) {
        return;
    }

    snprintf(code, sizeof(code), "%ld", status);
    params[0] = endpoint;
    params[1] = error;
    params[2] = status ? code : NULL;
    params[3] = req->id;
    params[4] = req->event_id;

    if (wp_db_exec(pg, "INSERT INTO \"PushError\" (\"endpoint\", \"error\","
                   " \"statusCode\", \"jobId\", \"eventId\")"
                   " VALUES ($1, $2, $3, $4, $5)", 5, params, NULL, msg,
                   sizeof(msg)) != WP_DB_OK)
    {
        wp_log(s->log, WP_LOG_WARN, "could not record PushError",
               "error", msg, NULL);
    }
}


/* What a fan-out walks: a whole job, or one shard of it (shard.h). */
typedef struct {
    const wp_queue_entry_t  *e;         /* entry id and job JSON */
    const wp_msg_t          *msg;
    const wp_shard_t        *shard;     /* NULL: the whole job */
    int64_t                  started_ms;
    int64_t                  total;     /* committed by this run */
    int64_t                  sent;
} wp_fanout_t;


/*
 * May this sender go on with the job (or shard)?  Not when another sender
 * took it over (it sat idle past WEBPUSH_CLAIM_IDLE, e.g. during an outage
 * here): that one resumes from the checkpoint.  Renews the lease when it
 * is ours.
 */
static int
wp_job_keep(wp_sender_t *s, const wp_fanout_t *fo)
{
    int  rc;

    rc = fo->shard != NULL
         ? wp_shard_renew(s->q, fo->shard, wp_job_now_ms(),
                          s->conf->claim_idle_ms)
         : wp_queue_renew(s->q, fo->e->id);

    if (rc == 0) {
        wp_log(s->log, WP_LOG_WARN, "job taken over by another sender:"
               " stopping here", "job", fo->msg->req->id, "entry",
               fo->e->id, NULL);
    }

    return rc > 0;
}


/*
 * Subscription changes, one statement each (rare: 404/410 and key
 * mismatches).  The flag goes only to a subscription that still exists.
 */
int
wp_job_mark_subs(wp_sender_t *s, const wp_work_t *w, int n)
{
    int          i, np;
    char         msg[WP_DB_ERRLEN];
    PGconn      *pg;
    const char  *sql, *params[3];

    pg = NULL;

    for (i = 0; i < n; i++) {
        params[0] = w[i].sub_id;

        switch (w[i].result) {

        case WP_RESULT_DISABLE:
            sql = "UPDATE \"PushSubscription\" SET \"enabled\" = false"
                  " WHERE \"id\" = $1";
            np = 1;
            break;

        case WP_RESULT_KEY_MISMATCH:
            sql = "INSERT INTO \"PushSubscriptionKeyMismatch\""
                  " (\"subscriptionId\", \"vapidKey\", \"reason\")"
                  " SELECT \"id\", $2, $3 FROM \"PushSubscription\""
                  " WHERE \"id\" = $1"
                  " ON CONFLICT (\"subscriptionId\") DO UPDATE SET"
                  " \"vapidKey\" = EXCLUDED.\"vapidKey\","
                  " \"reason\" = EXCLUDED.\"reason\","
                  " \"createdAt\" = CURRENT_TIMESTAMP";
            params[1] = wp_vapid_key_public(s->conf->vapid);
            params[2] = w[i].reason;
            np = 3;
            break;

        default:
            continue;
        }

        if (pg == NULL && (pg = wp_job_pg(s)) == NULL) {
            return -1;
        }

        if (wp_db_exec(pg, sql, np, params, NULL, msg, sizeof(msg))
            != WP_DB_OK)
        {
            wp_log(s->log, WP_LOG_WARN, "could not update subscription",
                   "subscription", w[i].sub_id, "result",
                   wp_result_name(w[i].result), "error", msg, NULL);
            return -1;
        }
    }

    return 0;
}


/* Full-jitter exponential backoff: uniform in [0, base * 2^attempt). */
static int64_t
wp_job_backoff(int64_t base, int attempt)
{
    int64_t  cap;

    cap = base << (attempt < 20 ? attempt : 20);
    if (cap > WP_JOB_MAX_BACKOFF) {
        cap = WP_JOB_MAX_BACKOFF;
    }

    return (int64_t) (drand48() * (double) cap);
}


/* Turn a result into counters and what comes next (retry, dead letter). */
void
wp_job_decide(wp_sender_t *s, const wp_work_t *w, int64_t now,
    wp_jobdelta_t *d, wp_next_t *nx)
{
    int64_t  due;

    memset(nx, 0, sizeof(*nx));

    switch (w->result) {

    case WP_RESULT_SENT:
        d->sent++;
        return;

    case WP_RESULT_DISABLE:
        d->failed++;
        d->disabled++;
        s->metrics.disabled++;
        wp_job_push_error(s, w->msg->req, w->endpoint, w->reason, w->status);
        return;

    case WP_RESULT_FAIL:
    case WP_RESULT_KEY_MISMATCH:
        d->failed++;
        wp_job_push_error(s, w->msg->req, w->endpoint, w->reason, w->status);
        return;

    case WP_RESULT_EXPIRED:
        d->failed++;
        d->expired++;
        s->metrics.expired++;
        nx->kind = 2;
        snprintf(nx->reason, sizeof(nx->reason), "%s", w->reason);
        wp_job_push_error(s, w->msg->req, w->endpoint, w->reason, 0);
        return;

    case WP_RESULT_DEFER:
        due = w->defer_until_ms;
        nx->attempt = w->attempt;
        break;

    default:            /* RETRY, CONFIG */
        if (w->attempt >= s->conf->retry_attempts) {
            d->failed++;
            nx->kind = 2;
            snprintf(nx->reason, sizeof(nx->reason),
                     "gave up after %d attempts: %.250s", w->attempt + 1,
                     w->reason);
            wp_job_push_error(s, w->msg->req, w->endpoint, nx->reason,
                              w->status);
            return;
        }

        due = now + (w->retry_after_s >= 0
                     ? w->retry_after_s * 1000
                     : wp_job_backoff(s->conf->retry_delay_ms, w->attempt));

        if (w->result == WP_RESULT_CONFIG && due < w->defer_until_ms) {
            due = w->defer_until_ms;
        }

        nx->attempt = w->attempt + 1;
        break;
    }

    /* Never retry past the message's TTL. */
    if (due >= w->msg->expires_ms) {
        d->failed++;
        d->expired++;
        s->metrics.expired++;
        nx->kind = 2;
        snprintf(nx->reason, sizeof(nx->reason),
                 "TTL would pass before the retry: %.250s", w->reason);
        wp_job_push_error(s, w->msg->req, w->endpoint, nx->reason, w->status);
        return;
    }

    if (w->result == WP_RESULT_DEFER) {
        d->deferred++;
    } else {
        d->retried++;
        s->metrics.retried++;
    }

    nx->kind = 1;
    nx->due_ms = due;
}


/* The "NotificationLog" row; idempotent on the job id. */
static int
wp_job_record(wp_sender_t *s, const wp_send_req_t *r, const wp_jobstate_t *st)
{
    char         counts[3][24], meta[600], msg[WP_DB_ERRLEN];
    PGconn      *pg;
    const char  *params[9];

    pg = wp_job_pg(s);
    if (pg == NULL) {
        return -1;
    }

    snprintf(counts[0], sizeof(counts[0]), "%lld", (long long) st->c.total);
    snprintf(counts[1], sizeof(counts[1]), "%lld", (long long) st->c.sent);
    snprintf(counts[2], sizeof(counts[2]), "%lld", (long long) st->c.failed);

    snprintf(meta, sizeof(meta),
             "{\"jobId\":\"%s\",\"expired\":%s,\"expiredCount\":%lld,"
             "\"retried\":%lld,\"deferred\":%lld,\"disabled\":%lld,"
             "\"queuedMs\":%lld,\"durationMs\":%lld,\"ttl\":%lld}",
             r->id, st->expired_job ? "true" : "false",
             (long long) st->c.expired, (long long) st->c.retried,
             (long long) st->c.deferred, (long long) st->c.disabled,
             (long long) (st->started_ms - r->created_at_ms),
             (long long) (wp_job_now_ms() - st->started_ms),
             (long long) r->ttl);

    params[0] = r->id;
    params[1] = r->type;
    params[2] = r->event_id;
    params[3] = r->to == WP_SEND_TO_USER ? r->user_ids[0] : NULL;
    params[4] = counts[0];
    params[5] = counts[1];
    params[6] = counts[2];
    params[7] = r->payload;
    params[8] = meta;

    if (wp_db_exec(pg, "INSERT INTO \"NotificationLog\" (\"id\", \"type\","
                   " \"eventId\", \"userId\", \"subscriptionCount\","
                   " \"sentCount\", \"failedCount\", \"payload\","
                   " \"metadata\") VALUES ($1, $2, $3, $4, $5, $6, $7,"
                   " $8::jsonb, $9::jsonb) ON CONFLICT (\"id\") DO NOTHING",
                   9, params, NULL, msg, sizeof(msg)) != WP_DB_OK)
    {
        wp_log(s->log, WP_LOG_WARN, "could not record NotificationLog",
               "job", r->id, "error", msg, NULL);
        return -1;
    }

    return 0;
}


/* Write the NotificationLog of a finished job and forget its state. */
int
wp_job_finalize(wp_sender_t *s, const char *entry)
{
    int            rc;
    char           n[3][24];
    wp_err_t       perr;
    wp_jobstate_t  st;
    wp_send_req_t  req;

    if (wp_jobstate_get(s->q, entry, &st) != 0) {
        return -1;
    }

    memset(&req, 0, sizeof(req));

    if (st.job == NULL
        || wp_send_job_parse(st.job, st.job_len, &req, &perr) != 0)
    {
        /* Nothing to record from: do not loop on it. */
        wp_log(s->log, WP_LOG_ERROR, "finished job without state",
               "entry", entry, NULL);
        wp_jobstate_free(&st);
        wp_send_req_free(&req);
        return wp_jobstate_forget(s->q, entry);
    }

    rc = wp_job_record(s, &req, &st);
    if (rc == 0) {
        rc = wp_jobstate_forget(s->q, entry);
        s->metrics.jobs_done++;
        s->jobs_done++;

        snprintf(n[0], sizeof(n[0]), "%lld", (long long) st.c.total);
        snprintf(n[1], sizeof(n[1]), "%lld", (long long) st.c.sent);
        snprintf(n[2], sizeof(n[2]), "%lld", (long long) st.c.failed);
        wp_log(s->log, WP_LOG_INFO, st.expired_job ? "job expired"
                                                   : "job done",
               "job", req.id, "type", req.type, "subscriptions", n[0],
               "sent", n[1], "failed", n[2], NULL);
    }

    wp_jobstate_free(&st);
    wp_send_req_free(&req);

    return rc;
}


/*
 * A page of the audience in the pipeline: its rows, its work items (a
 * batch in the engine) and the checkpoint it moves to once committed.
 */
typedef struct wp_page_s  wp_page_t;

struct wp_page_s {
    wp_page_t   *next;
    wp_batch_t   b;
    PGresult    *rows;
    wp_work_t   *w;
    int          n;
    int          seq;           /* 1, 2, ... in this run */
    int          overlap;       /* pages in the pipeline when it joined */
    char         after[WP_AUDIENCE_ID_MAX + 1];
};


static void
wp_job_page_free(wp_page_t *p)
{
    if (p->rows) {
        PQclear(p->rows);
    }

    free(p->w);
    free(p);
}


/* The audience's current page as work for the engine. */
static wp_page_t *
wp_job_page_new(wp_audience_t *aud, const wp_msg_t *msg, int n)
{
    int         i;
    wp_page_t  *p;

    p = calloc(1, sizeof(wp_page_t));
    if (p == NULL) {
        return NULL;
    }

    p->w = calloc(n, sizeof(wp_work_t));
    if (p->w == NULL) {
        free(p);
        return NULL;
    }

    p->rows = wp_audience_take_page(aud);
    p->n = n;
    snprintf(p->after, sizeof(p->after), "%s", aud->after);

    for (i = 0; i < n; i++) {
        p->w[i].msg = msg;
        p->w[i].sub_id = PQgetvalue(p->rows, i, WP_AUD_ID);
        p->w[i].endpoint = PQgetvalue(p->rows, i, WP_AUD_ENDPOINT);
        p->w[i].p256dh = PQgetvalue(p->rows, i, WP_AUD_P256DH);
        p->w[i].auth = PQgetvalue(p->rows, i, WP_AUD_AUTH);
    }

    return p;
}


/*
 * Commit a delivered page: its PushError rows, subscription changes,
 * counters, retry items, dead letters and the checkpoint after it.
 * Returns 0 committed, -1 not (the page is redone by whoever resumes the
 * job).
 */
static int
wp_job_commit(wp_sender_t *s, wp_fanout_t *fo, const wp_page_t *p)
{
    int              i, rc, n, nadds, ndeads;
    int64_t          now;
    wp_next_t        nx;
    wp_work_t       *w;
    wp_jobdelta_t    d;
    wp_retry_add_t  *adds;
    wp_dead_add_t   *deads;

    const wp_msg_t          *msg = fo->msg;
    const wp_queue_entry_t  *e = fo->e;

    n = p->n;
    w = p->w;
    adds = calloc(n, sizeof(wp_retry_add_t));
    deads = calloc(n, sizeof(wp_dead_add_t));
    rc = -1;

    if (adds == NULL || deads == NULL) {
        goto done;
    }

    /* Still ours after the deliveries (a stall here may have outlasted
     * the claim idle)?  Only then this page's PushError rows and
     * subscription changes: a sender that was taken over writes none. */
    if (!wp_job_keep(s, fo)) {
        goto done;
    }

    memset(&d, 0, sizeof(d));
    d.total = n;
    nadds = ndeads = 0;
    now = wp_job_now_ms();

    for (i = 0; i < n; i++) {
        wp_job_decide(s, &w[i], now, &d, &nx);

        if (nx.kind == 1) {
            if (wp_retry_member(adds[nadds].member,
                                sizeof(adds[nadds].member), e->id,
                                nx.attempt, w[i].sub_id) == 0)
            {
                adds[nadds++].due_ms = nx.due_ms;
                d.pending++;
            }

        } else if (nx.kind == 2) {
            deads[ndeads].sub_id = w[i].sub_id;
            deads[ndeads].attempts = w[i].attempt + 1;
            snprintf(deads[ndeads].reason, sizeof(deads[ndeads].reason),
                     "%s", nx.reason);
            ndeads++;
        }
    }

    if (wp_job_mark_subs(s, w, n) != 0 || !wp_job_keep(s, fo)) {
        goto done;
    }

    if (wp_jobstate_commit_page(s->q, e->id, msg->req->id, e->job,
                                e->job_len, fo->started_ms,
                                msg->req->ttl + WP_JOB_KEEP_S,
                                fo->shard ? fo->shard->k : -1, p->after, &d,
                                adds, nadds, deads, ndeads) != 0)
    {
        wp_log(s->log, WP_LOG_WARN, "checkpoint failed", "job",
               msg->req->id, "error", s->q->err, NULL);
        goto done;
    }

    fo->total += d.total;
    fo->sent += d.sent;
    rc = 0;

done:

    free(adds);
    free(deads);

    return rc;
}


/*
 * Give up the pages still in the pipeline (not committed: whoever resumes
 * the job redoes them): none of their items starts any more, the ones in
 * flight are waited for (their buffers are ours), then they go.
 */
static void
wp_job_drop_pages(wp_sender_t *s, wp_page_t *head)
{
    wp_page_t  *p, *next;

    for (p = head; p != NULL; p = p->next) {
        wp_engine_cancel(&s->engine, &p->b);
    }

    for (p = head; p != NULL; p = next) {
        next = p->next;

        while (p->b.inflight > 0) {
            if (wp_engine_step(&s->engine, s->stop) != 0) {
                break;      /* cut: nothing of ours is in flight now */
            }
        }

        wp_engine_remove(&s->engine, &p->b);
        wp_job_page_free(p);
    }
}


/*
 * The next entry, when it is a topic job whose usable audience fits in
 * WP_JOB_SMALL_PAGES pages (counted in the database, no further): small
 * enough to go between a broadcast's pages too.  1 with *e, else 0.
 */
static int
wp_job_next_small_topic(wp_sender_t *s, wp_queue_entry_t *e)
{
    char      id[64], topic[WP_SUB_MAX_TOPIC_LEN + 1], err[WP_DB_ERRLEN];
    int64_t   n, limit;
    PGconn   *pg;

    /* a topic sized once stays big: no count at every page boundary */
    if (wp_queue_next_topic(s->q, id, sizeof(id), topic, sizeof(topic))
        != 1 || strcmp(id, s->big_topic) == 0)
    {
        return 0;
    }

    pg = wp_job_pg(s);
    if (pg == NULL) {
        return 0;
    }

    limit = (int64_t) WP_JOB_SMALL_PAGES * s->conf->page_size;
    n = wp_audience_topic_size(pg, topic, limit, err, sizeof(err));
    if (n < 0 || n > limit) {
        if (n > limit) {
            snprintf(s->big_topic, sizeof(s->big_topic), "%s", id);
        }
        return 0;
    }

    return wp_queue_take_next(s->q, id, e) == 1;
}


/*
 * Between two pages of a broadcast: the jobs for one user or a few, or
 * for a topic of a page or two, that wait next in the stream go out now
 * (each a whole job of its own: checkpoint, ack, NotificationLog),
 * instead of after the broadcast.  Not from inside one of them, and at
 * most WP_JOB_SMALL_PER_PAGE at a time, so the broadcast keeps going.  A
 * job that fails stays pending as usual.
 */
static void
wp_job_run_small(wp_sender_t *s, const wp_fanout_t *outer)
{
    int               i;
    wp_queue_entry_t  e;

    if (s->nested) {
        return;
    }

    s->nested = 1;

    for (i = 0; i < WP_JOB_SMALL_PER_PAGE && !*s->stop && s->q->rc; i++) {
        memset(&e, 0, sizeof(e));

        if (wp_queue_next_small(s->q, WP_JOB_SMALL_USERS, &e) != 1
            && !wp_job_next_small_topic(s, &e))
        {
            break;
        }

        wp_log(s->log, WP_LOG_DEBUG, "small job between broadcast pages",
               "entry", e.id, NULL);
        (void) wp_job_run(s, &e);
        wp_queue_entry_free(&e);

        /* a small job may meet a slow push service: keep the broadcast
         * (or its shard) ours meanwhile (its next page checks it anyway) */
        if (!wp_job_keep(s, outer)) {
            break;
        }
    }

    s->nested = 0;
}


/*
 * Pipelined fan-out of fo's audience from `after` (to its shard's end):
 * the next pages are read and started while the earlier ones wait for
 * their answers, as long as the engine has room for them (its in-flight
 * target) and at most WEBPUSH_PIPELINE_PAGES are uncommitted; a page is
 * committed when it and every page before it are finished, so the
 * checkpoint only moves over finished pages.  Returns 1 when every page
 * is committed, 0 when it stopped before (stopping, an outage, taken
 * over): the rest is redone from the checkpoint.
 */
static int
wp_job_fanout(wp_sender_t *s, wp_fanout_t *fo, const char *after)
{
    int                   n, npages, seq, end, rc;
    char                  err[WP_DB_ERRLEN], num[4][16];
    PGconn               *pg;
    wp_page_t            *head, **tail, *p;
    wp_audience_t         aud;
    const wp_send_req_t  *req;

    req = fo->msg->req;

    pg = wp_job_pg(s);
    if (pg == NULL) {
        return 0;
    }

    if (wp_audience_init(&aud, pg, req, s->conf->page_size, after, err,
                         sizeof(err)) != 0)
    {
        return 0;
    }

    aud.hi = fo->shard != NULL ? fo->shard->hi : NULL;
    head = NULL;
    tail = &head;
    npages = seq = 0;
    end = rc = 0;

    for ( ;; ) {
        while (!end && !*s->stop && npages < s->conf->pipeline_pages
               && (npages == 0 || wp_engine_room(&s->engine) > 0))
        {
            /* ours, and kept ours while its pages are delivered */
            if (!wp_job_keep(s, fo)) {
                goto out;
            }

            n = wp_audience_next(&aud, err, sizeof(err));
            if (n < 0) {
                wp_log(s->log, WP_LOG_WARN, "audience query failed",
                       "job", req->id, "error", err, NULL);
                goto out;
            }

            if (n == 0) {
                end = 1;
                break;
            }

            p = wp_job_page_new(&aud, fo->msg, n);
            if (p == NULL) {
                goto out;
            }

            p->seq = ++seq;
            p->overlap = ++npages;
            *tail = p;
            tail = &p->next;
            wp_engine_add(&s->engine, &p->b, p->w, n, s->nested);
        }

        while (head != NULL && head->b.left == 0) {
            p = head;
            wp_engine_remove(&s->engine, &p->b);

            if (wp_job_commit(s, fo, p) != 0) {
                goto out;
            }

            snprintf(num[0], sizeof(num[0]), "%d", p->seq);
            snprintf(num[1], sizeof(num[1]), "%d", p->overlap);
            snprintf(num[2], sizeof(num[2]), "%d", s->engine.target);
            snprintf(num[3], sizeof(num[3]), "%d",
                     s->engine.nslots - s->engine.nfree);
            wp_log(s->log, WP_LOG_DEBUG, "page committed", "job", req->id,
                   "page", num[0], "pages_in_flight", num[1],
                   "inflight_target", num[2], "inflight", num[3], NULL);

            head = p->next;
            if (head == NULL) {
                tail = &head;
            }
            wp_job_page_free(p);
            npages--;

            if (*s->stop) {
                continue;
            }

            /* Retries and other periodic work go on during a long
             * fan-out, and small jobs next in line go out between its
             * pages. */
            wp_sender_tick(s, 0);

            if (req->to == WP_SEND_TO_TOPIC || req->to == WP_SEND_TO_ALL) {
                wp_job_run_small(s, fo);
            }
        }

        if (head == NULL) {
            if (end) {
                rc = 1;
                break;
            }

            if (*s->stop || (pg = wp_job_pg(s)) == NULL) {
                break;
            }

            aud.conn = pg;
            continue;
        }

        if (head->b.cancelled) {
            break;      /* stopping: the rest never went out */
        }

        if (wp_engine_step(&s->engine, s->stop) != 0) {
            break;      /* stopping, and the time to finish is over */
        }
    }

out:

    wp_job_drop_pages(s, head);
    wp_audience_free(&aud);

    return rc;
}


/* Fan-out finished: mark the job done (and ack it); its record if due. */
static int
wp_job_fanout_done(wp_sender_t *s, const char *entry, const char *job,
    size_t job_len, int64_t started_ms, int expired, int64_t ttl)
{
    int  fin;

    fin = wp_jobstate_fanout_done(s->q, entry, job, job_len, started_ms,
                                  expired, ttl + WP_JOB_KEEP_S);
    if (fin == 1) {
        wp_job_finalize(s, entry);
    }

    return fin >= 0 ? 0 : -1;
}


/*
 * A topic or "all" job bigger than WEBPUSH_SHARD_SIZE: cut it into
 * shards any sender can take (shard.h).  1 when it is sharded (the entry
 * is acked: the shards carry it on), 0 when it is too small for that, -1
 * on an outage (it stays pending).
 */
static int
wp_job_shard_plan(wp_sender_t *s, const wp_queue_entry_t *e,
    const wp_send_req_t *req, const char *after, int64_t started_ms)
{
    int          i, n, rc;
    char         err[WP_DB_ERRLEN], num[16];
    PGconn      *pg;
    PGresult    *res;
    const char **bounds;

    if (s->conf->shard_size == 0 || s->nested
        || (req->to != WP_SEND_TO_TOPIC && req->to != WP_SEND_TO_ALL))
    {
        return 0;
    }

    pg = wp_job_pg(s);
    if (pg == NULL) {
        return -1;
    }

    n = wp_audience_bounds(pg, req, after, s->conf->shard_size, &res, err,
                           sizeof(err));
    if (n <= 0) {
        if (n < 0) {
            wp_log(s->log, WP_LOG_WARN, "audience query failed", "job",
                   req->id, "error", err, NULL);
        }
        if (res) {
            PQclear(res);
        }
        return n;
    }

    bounds = calloc(n, sizeof(char *));
    if (bounds == NULL) {
        PQclear(res);
        return -1;
    }

    for (i = 0; i < n; i++) {
        bounds[i] = PQgetvalue(res, i, 0);
    }

    rc = wp_shard_create(s->q, e->id, e->job, e->job_len, started_ms,
                         req->ttl + WP_JOB_KEEP_S, after, bounds, n);
    free(bounds);
    PQclear(res);

    if (rc < 0) {
        wp_log(s->log, WP_LOG_WARN, "could not create shards", "job",
               req->id, "error", s->q->err, NULL);
        return -1;
    }

    snprintf(num, sizeof(num), "%d", n + 1);
    wp_log(s->log, WP_LOG_INFO, "job split into shards", "job", req->id,
           "shards", num, NULL);

    return 1;
}


int
wp_job_run_shard(wp_sender_t *s)
{
    int                rc;
    char               num[3][24];
    wp_err_t           perr;
    wp_msg_t           msg;
    wp_shard_t         sh;
    wp_fanout_t        fo;
    wp_send_req_t      req;
    wp_queue_entry_t   e;

    rc = wp_shard_take(s->q, wp_job_now_ms(), s->conf->claim_idle_ms, &sh);
    if (rc != 1) {
        return rc;
    }

    memset(&req, 0, sizeof(req));

    if (wp_send_job_parse(sh.job, sh.job_len, &req, &perr) != 0) {
        /* it was parsed before it was cut: its state is damaged */
        wp_log(s->log, WP_LOG_ERROR, "shard of an unreadable job: dropped",
               "entry", sh.entry, "error", perr.message, NULL);
        (void) wp_shard_finish(s->q, &sh);
        goto done;
    }

    memset(&e, 0, sizeof(e));
    snprintf(e.id, sizeof(e.id), "%s", sh.entry);
    e.job = sh.job;
    e.job_len = sh.job_len;

    msg.req = &req;
    msg.expires_ms = wp_job_expires_ms(&req);

    memset(&fo, 0, sizeof(fo));
    fo.e = &e;
    fo.msg = &msg;
    fo.shard = &sh;
    fo.started_ms = sh.started_ms;

    snprintf(num[0], sizeof(num[0]), "%d/%d", sh.k + 1, sh.n);
    wp_log(s->log, WP_LOG_DEBUG, "shard taken", "job", req.id, "shard",
           num[0], NULL);

    if (wp_job_fanout(s, &fo, sh.after) != 1) {
        if (*s->stop && s->q->rc) {
            /* another sender goes on with it now, not after the lease */
            (void) wp_shard_release(s->q, &sh);
        }
        goto done;
    }

    snprintf(num[1], sizeof(num[1]), "%lld", (long long) fo.total);
    snprintf(num[2], sizeof(num[2]), "%lld", (long long) fo.sent);
    wp_log(s->log, WP_LOG_INFO, "shard done", "job", req.id, "shard",
           num[0], "subscriptions", num[1], "sent", num[2], NULL);

    if (wp_shard_finish(s->q, &sh) == 2) {
        /* the last shard: the job's fan-out is over */
        (void) wp_job_fanout_done(s, sh.entry, sh.job, sh.job_len,
                                  sh.started_ms, 0, req.ttl);
    }

done:

    wp_send_req_free(&req);
    wp_shard_free(&sh);

    return 1;
}


int
wp_job_run(wp_sender_t *s, const wp_queue_entry_t *e)
{
    int                  rc, sharded;
    wp_msg_t             msg;
    wp_err_t             perr;
    wp_fanout_t          fo;
    wp_send_req_t        req;
    wp_jobstate_t        p;

    memset(&req, 0, sizeof(req));

    if (e->job == NULL) {
        wp_log(s->log, WP_LOG_ERROR, "queue entry without a job",
               "entry", e->id, NULL);
        return wp_queue_dead(s->q, e, "entry has no job field");
    }

    if (wp_send_job_parse(e->job, e->job_len, &req, &perr) != 0) {
        wp_log(s->log, WP_LOG_ERROR, "malformed job, dead-lettered",
               "entry", e->id, "error", perr.message, NULL);
        wp_send_req_free(&req);
        return wp_queue_dead(s->q, e, perr.message);
    }

    msg.req = &req;
    msg.expires_ms = wp_job_expires_ms(&req);
    rc = -1;

    if (req.send_at_ms > wp_job_now_ms()) {
        /* Not due yet: park it; the main loop promotes it when due. */
        if (wp_queue_schedule(s->q, e->job, e->job_len, req.send_at_ms) == 0
            && wp_queue_ack(s->q, e->id) == 0)
        {
            wp_log(s->log, WP_LOG_INFO, "job scheduled", "job", req.id,
                   NULL);
            rc = 0;
        }
        goto done;
    }

    /* The checkpoint (after, started) only: the entry holds the job. */
    if (wp_jobstate_get(s->q, e->id, &p) != 0) {
        goto done;
    }

    wp_jobstate_free(&p);

    if (p.started_ms == 0) {
        p.started_ms = wp_job_now_ms();
    }

    if (wp_job_now_ms() >= msg.expires_ms) {
        /* Not sent at all: recorded as expired. */
        s->metrics.expired++;
        rc = wp_job_fanout_done(s, e->id, e->job, e->job_len, p.started_ms,
                                1, req.ttl);
        goto done;
    }

    /* A big one is shared with the other senders; the main loop takes
     * its shards (this sender too) */
    sharded = wp_job_shard_plan(s, e, &req, p.after, p.started_ms);
    if (sharded != 0) {
        rc = sharded == 1 ? 0 : -1;
        goto done;
    }

    memset(&fo, 0, sizeof(fo));
    fo.e = e;
    fo.msg = &msg;
    fo.started_ms = p.started_ms;

    if (wp_job_fanout(s, &fo, p.after) == 1) {
        rc = wp_job_fanout_done(s, e->id, e->job, e->job_len, p.started_ms,
                                0, req.ttl);
    }

    if (rc != 0 && *s->stop && s->q->rc) {
        /* Let another sender resume it now rather than after claim idle. */
        wp_queue_handback(s->q, e->id, s->conf->claim_idle_ms + 1000);
        wp_log(s->log, WP_LOG_INFO, "job handed back", "job", req.id, NULL);
    }

done:

    wp_send_req_free(&req);

    return rc;
}
