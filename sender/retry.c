/* webpush-sender: retry items and the periodic work (see job.h). */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audience.h"
#include "db.h"
#include "job.h"
#include "job_int.h"
#include "jobstate.h"
#include "sendreq.h"

#define WP_JOB_RETRY_MAX     500     /* retry items per batch */
#define WP_JOB_FINISH_MAX    32

typedef struct {
    char           entry[64];
    wp_send_req_t  req;
    wp_msg_t       msg;
    int            ok;
} wp_retry_job_t;


/* Close a retry item whose job or subscription is gone. */
static void
wp_job_retry_drop(wp_sender_t *s, const wp_retry_item_t *it,
    const char *jobid, const char *why, int64_t now)
{
    int            fin;
    wp_jobdelta_t  d;
    wp_dead_add_t  dead;

    memset(&d, 0, sizeof(d));
    d.failed = 1;
    memset(&dead, 0, sizeof(dead));
    dead.sub_id = it->sub_id;
    dead.attempts = it->attempt;
    snprintf(dead.reason, sizeof(dead.reason), "%s", why);

    (void) now;
    fin = wp_jobstate_resolve(s->q, it, jobid, NULL, 0, &d, &dead);
    if (fin == 1) {
        wp_job_finalize(s, it->entry);
    }
}


static void
wp_job_retries(wp_sender_t *s)
{
    int              i, j, n, nj, nw, rows, fin;
    char             err[WP_DB_ERRLEN], member[WP_RETRY_MEMBER_MAX];
    int64_t          now;
    PGconn          *pg;
    PGresult        *res;
    wp_err_t         perr;
    wp_next_t        nx;
    wp_work_t       *w;
    const char     **ids;
    wp_jobdelta_t    d;
    wp_dead_add_t    dead;
    wp_jobstate_t    st;
    wp_retry_job_t  *jobs;
    wp_retry_item_t *items;
    int             *witem;

    n = 0;
    nj = 0;
    res = NULL;
    items = calloc(WP_JOB_RETRY_MAX, sizeof(wp_retry_item_t));
    jobs = calloc(WP_JOB_RETRY_MAX, sizeof(wp_retry_job_t));
    w = calloc(WP_JOB_RETRY_MAX, sizeof(wp_work_t));
    witem = calloc(WP_JOB_RETRY_MAX, sizeof(int));
    ids = calloc(WP_JOB_RETRY_MAX, sizeof(char *));

    if (items == NULL || jobs == NULL || w == NULL || witem == NULL
        || ids == NULL)
    {
        goto done;
    }

    pg = wp_job_pg(s);
    if (pg == NULL) {
        goto done;
    }

    now = wp_job_now_ms();
    n = wp_jobstate_lease(s->q, now,
                          2 * s->conf->request_timeout_ms
                          + s->conf->stop_timeout_ms + 10000,
                          items, WP_JOB_RETRY_MAX);
    if (n <= 0) {
        n = 0;
        goto done;
    }

    /* The jobs the items belong to. */
    for (i = 0; i < n; i++) {
        for (j = 0; j < nj; j++) {
            if (strcmp(jobs[j].entry, items[i].entry) == 0) {
                break;
            }
        }

        if (j == nj) {
            snprintf(jobs[nj].entry, sizeof(jobs[nj].entry), "%s",
                     items[i].entry);
            if (wp_jobstate_get(s->q, items[i].entry, &st) == 0
                && st.job != NULL
                && wp_send_job_parse(st.job, st.job_len, &jobs[nj].req,
                                     &perr) == 0)
            {
                jobs[nj].ok = 1;
                jobs[nj].msg.req = &jobs[nj].req;
                jobs[nj].msg.expires_ms = wp_job_expires_ms(&jobs[nj].req);
            }
            wp_jobstate_free(&st);
            nj++;
        }

        ids[i] = items[i].sub_id;
    }

    rows = wp_audience_by_ids(pg, ids, n, &res, err, sizeof(err));
    if (rows < 0) {
        wp_log(s->log, WP_LOG_WARN, "retry lookup failed", "error", err,
               NULL);
        goto done;          /* leases run out; tried again then */
    }

    nw = 0;
    for (i = 0; i < n; i++) {
        for (j = 0; j < nj; j++) {
            if (strcmp(jobs[j].entry, items[i].entry) == 0) {
                break;
            }
        }

        if (!jobs[j].ok) {
            wp_job_retry_drop(s, &items[i], "", "job state lost", now);
            continue;
        }

        for (rows = 0; rows < PQntuples(res); rows++) {
            if (strcmp(PQgetvalue(res, rows, WP_AUD_ID), items[i].sub_id)
                == 0)
            {
                break;
            }
        }

        if (rows == PQntuples(res)) {
            wp_job_retry_drop(s, &items[i], jobs[j].req.id,
                              "subscription disabled or deleted", now);
            continue;
        }

        w[nw].msg = &jobs[j].msg;
        w[nw].sub_id = items[i].sub_id;
        w[nw].endpoint = PQgetvalue(res, rows, WP_AUD_ENDPOINT);
        w[nw].p256dh = PQgetvalue(res, rows, WP_AUD_P256DH);
        w[nw].auth = PQgetvalue(res, rows, WP_AUD_AUTH);
        w[nw].attempt = items[i].attempt;
        witem[nw] = i;
        nw++;
    }

    if (nw == 0 || wp_engine_run(&s->engine, w, nw, s->stop) != 0) {
        goto done;
    }

    if (wp_job_mark_subs(s, w, nw) != 0) {
        goto done;
    }

    now = wp_job_now_ms();

    for (i = 0; i < nw; i++) {
        memset(&d, 0, sizeof(d));
        wp_job_decide(s, &w[i], now, &d, &nx);

        memset(&dead, 0, sizeof(dead));
        dead.sub_id = w[i].sub_id;
        dead.attempts = w[i].attempt + 1;
        snprintf(dead.reason, sizeof(dead.reason), "%s", nx.reason);

        member[0] = '\0';
        if (nx.kind == 1
            && wp_retry_member(member, sizeof(member), items[witem[i]].entry,
                               nx.attempt, w[i].sub_id) != 0)
        {
            member[0] = '\0';
        }

        fin = wp_jobstate_resolve(s->q, &items[witem[i]],
                                  w[i].msg->req->id,
                                  nx.kind == 1 ? member : NULL, nx.due_ms,
                                  &d, nx.kind == 2 ? &dead : NULL);
        if (fin == 1) {
            wp_job_finalize(s, items[witem[i]].entry);
        }
    }

done:

    if (res) {
        PQclear(res);
    }

    for (j = 0; jobs && j < nj; j++) {
        wp_send_req_free(&jobs[j].req);
    }

    free(items);
    free(jobs);
    free(w);
    free(witem);
    free(ids);
}


void
wp_sender_tick(wp_sender_t *s, int force)
{
    int      i, n;
    char     due[WP_JOB_FINISH_MAX][64];
    int64_t  now;

    if (s->q->rc == NULL) {
        return;
    }

    now = wp_job_now_ms();

    if (force || now - s->last_promote_ms >= 1000) {
        s->last_promote_ms = now;
        n = wp_queue_promote(s->q, now);
        if (n > 0) {
            wp_log(s->log, WP_LOG_DEBUG, "scheduled jobs promoted", NULL);
        }
    }

    if (force || now - s->last_retry_ms >= 200) {
        s->last_retry_ms = now;
        if (!*s->stop) {
            wp_job_retries(s);
        }
    }

    /* NotificationLog rows that could not be written when due. */
    if (force || now - s->last_finish_ms >= 5000) {
        s->last_finish_ms = now;
        n = wp_jobstate_due(s->q, due, WP_JOB_FINISH_MAX);
        for (i = 0; i < n; i++) {
            wp_job_finalize(s, due[i]);
        }
    }

    if (s->conf->metrics && (force || now - s->last_flush_ms >= 1000)) {
        s->last_flush_ms = now;
        wp_metrics_flush(&s->metrics, s->q);
    } else if (!s->conf->metrics) {
        memset(&s->metrics, 0, sizeof(s->metrics));
    }
}
