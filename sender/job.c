/* webpush-sender: one job from queue entry to record (see job.h). */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <yajl/yajl_gen.h>

#include "audience.h"
#include "b64.h"
#include "db.h"
#include "job.h"
#include "sendreq.h"

/*
 * Inline retries wait at most this long each: this engine delivers one
 * request at a time, so a long Retry-After would stall every other push.
 */
#define WP_JOB_MAX_INLINE_WAIT_MS  5000

typedef struct {
    wp_sender_t          *s;
    const char           *entry_id;       /* stream entry: ack, progress */
    const char           *job_id;         /* the job's id: records */
    const wp_send_req_t  *req;
    int64_t               expires_ms;     /* created + ttl */
    wp_queue_progress_t   p;
} wp_job_t;


static int64_t
wp_job_now_ms(void)
{
    struct timeval  tv;

    gettimeofday(&tv, NULL);

    return (int64_t) tv.tv_sec * 1000 + tv.tv_usec / 1000;
}


int
wp_sender_init(wp_sender_t *s, wp_sender_conf_t *conf, wp_log_t *log,
    wp_queue_t *q, char *err, size_t errlen)
{
    wp_err_t           e;
    wp_deliver_opts_t  opts;

    memset(s, 0, sizeof(*s));
    s->conf = conf;
    s->log = log;
    s->q = q;

    s->ece = wp_ece_new(&e);
    if (s->ece == NULL) {
        snprintf(err, errlen, "%s", e.message);
        return -1;
    }

    memset(&opts, 0, sizeof(opts));
    opts.ca_file = conf->ca_file;
    opts.connect_timeout_ms = (long) conf->connect_timeout_ms;
    opts.timeout_ms = (long) conf->request_timeout_ms;

    s->slot = wp_deliver_new(&opts, &e);
    if (s->slot == NULL) {
        snprintf(err, errlen, "%s", e.message);
        wp_ece_free(s->ece);
        s->ece = NULL;
        return -1;
    }

    return 0;
}


void
wp_sender_free(wp_sender_t *s)
{
    if (s->pg) {
        PQfinish(s->pg);
        s->pg = NULL;
    }

    wp_deliver_free(s->slot);
    s->slot = NULL;
    wp_ece_free(s->ece);
    s->ece = NULL;
}


/* The database connection, (re)connected when needed. */
static PGconn *
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


/* The cached VAPID header for the endpoint's origin. */
static const char *
wp_job_authorization(wp_sender_t *s, const char *endpoint, wp_err_t *err)
{
    int                resigned;
    char               aud[300];
    size_t             i;
    wp_vapid_token_t  *tok;

    if (wp_vapid_audience(endpoint, aud, sizeof(aud), err) != 0) {
        return NULL;
    }

    tok = NULL;
    for (i = 0; i < s->ntokens; i++) {
        if (strcmp(s->tokens[i].aud, aud) == 0) {
            tok = &s->tokens[i];
            break;
        }
    }

    if (tok == NULL) {
        if (s->ntokens < WP_SENDER_TOKENS) {
            tok = &s->tokens[s->ntokens++];
        } else {
            tok = &s->tokens[s->next_token++ % WP_SENDER_TOKENS];
        }
        memset(tok, 0, sizeof(*tok));
    }

    if (wp_vapid_token_get(s->conf->vapid, s->conf->vapid_subject, aud,
                           (int64_t) time(NULL), tok, &resigned, err) != 0)
    {
        return NULL;
    }

    if (resigned) {
        wp_log(s->log, WP_LOG_DEBUG, "VAPID token signed", "aud", aud, NULL);
    }

    return tok->header;
}


/* One "PushError" row for a final failure (ENABLE_ERROR_TRACKING). */
static void
wp_job_push_error(wp_job_t *j, const char *endpoint, const char *error,
    long status)
{
    char         code[16], msg[WP_DB_ERRLEN];
    PGconn      *pg;
    const char  *params[5];

    if (!j->s->conf->error_tracking) {
        return;
    }

    pg = wp_job_pg(j->s);
    if (pg == NULL) {
        return;
    }

    snprintf(code, sizeof(code), "%ld", status);
    params[0] = endpoint;
    params[1] = error;
    params[2] = status ? code : NULL;
    params[3] = j->job_id;
    params[4] = j->req->event_id;

    if (wp_db_exec(pg, "INSERT INTO \"PushError\" (\"endpoint\", \"error\","
                   " \"statusCode\", \"jobId\", \"eventId\")"
                   " VALUES ($1, $2, $3, $4, $5)", 5, params, NULL, msg,
                   sizeof(msg)) != WP_DB_OK)
    {
        wp_log(j->s->log, WP_LOG_WARN, "could not record PushError",
               "error", msg, NULL);
    }
}


/* The failure text of an answer: the push service's reason if any. */
static void
wp_job_reason(const wp_push_resp_t *resp, char *out, size_t cap)
{
    if (resp->status == 0) {
        snprintf(out, cap, "%s", resp->error[0] ? resp->error
                                                : "no answer");
    } else {
        snprintf(out, cap, "HTTP %ld%s%.400s", resp->status,
                 resp->body_len ? ": " : "", resp->body_len ? resp->body : "");
    }
}


/*
 * Deliver to one subscription row; updates the counters.  Returns -1 only
 * when the database went away in the middle (the page is redone later).
 */
static int
wp_job_deliver_one(wp_job_t *j, PGresult *page, int row)
{
    int              attempt;
    char             reason[512], msg[WP_DB_ERRLEN];
    size_t           n, bodylen;
    int64_t          wait_ms, now_ms;
    uint8_t          p256dh[WP_P256_PUB_LEN + 1], auth[WP_AUTH_LEN + 1],
                     body[WP_ECE_MAX_BODY];
    PGconn          *pg;
    wp_err_t         err;
    const char      *id, *endpoint, *authz, *params[1];
    wp_outcome_t     outcome;
    wp_push_req_t    req;
    wp_push_resp_t   resp;
    wp_sender_t     *s;

    s = j->s;
    id = PQgetvalue(page, row, WP_AUD_ID);
    endpoint = PQgetvalue(page, row, WP_AUD_ENDPOINT);

    /* The stored endpoint is re-checked: the policy may have tightened. */
    if (wp_endpoint_check(s->conf->policy, endpoint, strlen(endpoint), NULL,
                          &err) != 0)
    {
        j->p.failed++;
        wp_job_push_error(j, endpoint, err.message, 0);
        return 0;
    }

    if (wp_b64url_decode(PQgetvalue(page, row, WP_AUD_P256DH),
                         PQgetlength(page, row, WP_AUD_P256DH), p256dh,
                         sizeof(p256dh), &n, WP_B64_LENIENT, "p256dh", &err)
        != 0 || n != WP_P256_PUB_LEN
        || wp_b64url_decode(PQgetvalue(page, row, WP_AUD_AUTH),
                            PQgetlength(page, row, WP_AUD_AUTH), auth,
                            sizeof(auth), &n, WP_B64_LENIENT, "auth", &err)
           != 0 || n != WP_AUTH_LEN)
    {
        j->p.failed++;
        wp_job_push_error(j, endpoint, "stored subscription keys are invalid",
                          0);
        return 0;
    }

    authz = wp_job_authorization(s, endpoint, &err);
    if (authz == NULL) {
        j->p.failed++;
        wp_job_push_error(j, endpoint, err.message, 0);
        return 0;
    }

    for (attempt = 0; ; attempt++) {

        /* A fresh key and salt per attempt, never reused. */
        if (wp_ece_encrypt(s->ece, p256dh, auth,
                           (const uint8_t *) j->req->payload,
                           j->req->payload_len, 0, body, sizeof(body),
                           &bodylen, &err) != 0)
        {
            j->p.failed++;
            wp_job_push_error(j, endpoint, err.message, 0);
            return 0;
        }

        now_ms = wp_job_now_ms();

        memset(&req, 0, sizeof(req));
        req.endpoint = endpoint;
        req.body = body;
        req.body_len = bodylen;
        /* What is left of the TTL, so a late retry cannot outlive it. */
        req.ttl = (j->expires_ms - now_ms) / 1000;
        req.ttl = req.ttl < 0 ? 0 : req.ttl > j->req->ttl ? j->req->ttl
                                                            : req.ttl;
        req.urgency = wp_urgency_name(j->req->urgency);
        req.topic = j->req->topic;
        req.authorization = authz;

        if (wp_deliver_send(s->slot, &req, &resp, &err) != 0) {
            j->p.failed++;
            wp_job_push_error(j, endpoint, err.message, 0);
            return 0;
        }

        outcome = wp_deliver_classify(&resp);

        if (outcome != WP_OUTCOME_RETRY
            || attempt >= s->conf->retry_attempts)
        {
            break;
        }

        /* Retry-After when given, else exponential backoff, full jitter. */
        wait_ms = resp.retry_after >= 0
                  ? resp.retry_after * 1000
                  : (int64_t) (drand48()
                               * (double) (s->conf->retry_delay_ms
                                           << (attempt < 20 ? attempt : 20)));

        if (wait_ms > WP_JOB_MAX_INLINE_WAIT_MS
            || wp_job_now_ms() + wait_ms >= j->expires_ms)
        {
            break;
        }

        j->p.retried++;
        usleep((useconds_t) wait_ms * 1000);
    }

    switch (outcome) {

    case WP_OUTCOME_SENT:
        j->p.sent++;
        return 0;

    case WP_OUTCOME_DISABLE:
        j->p.failed++;
        j->p.disabled++;
        pg = wp_job_pg(s);
        params[0] = id;
        if (pg == NULL
            || wp_db_exec(pg, "UPDATE \"PushSubscription\" SET"
                          " \"enabled\" = false WHERE \"id\" = $1", 1, params,
                          NULL, msg, sizeof(msg)) != WP_DB_OK)
        {
            /* Not disabled: redo this page later rather than forget it. */
            j->p.failed--;
            j->p.disabled--;
            return -1;
        }
        break;

    case WP_OUTCOME_CONFIG:
        j->p.failed++;
        wp_job_reason(&resp, reason, sizeof(reason));
        wp_log(s->log, WP_LOG_ERROR, "push service refused our VAPID"
               " credentials: check VAPID keys and subject", "job", j->job_id,
               "reason", reason, NULL);
        break;

    default:
        j->p.failed++;
        break;
    }

    wp_job_reason(&resp, reason, sizeof(reason));
    wp_job_push_error(j, endpoint, reason, resp.status);

    return 0;
}


/* The "NotificationLog" row; idempotent on the job id. */
static int
wp_job_record(wp_job_t *j, int expired)
{
    int                   rc;
    char                  counts[4][24], meta[512], msg[WP_DB_ERRLEN];
    PGconn               *pg;
    const char           *params[9];
    const wp_send_req_t  *r;

    pg = wp_job_pg(j->s);
    if (pg == NULL) {
        return -1;
    }

    r = j->req;

    snprintf(counts[0], sizeof(counts[0]), "%lld", (long long) j->p.total);
    snprintf(counts[1], sizeof(counts[1]), "%lld", (long long) j->p.sent);
    snprintf(counts[2], sizeof(counts[2]), "%lld", (long long) j->p.failed);

    snprintf(meta, sizeof(meta),
             "{\"jobId\":\"%s\",\"expired\":%s,\"retried\":%lld,"
             "\"disabled\":%lld,\"queuedMs\":%lld,\"durationMs\":%lld,"
             "\"ttl\":%lld}",
             j->job_id, expired ? "true" : "false",
             (long long) j->p.retried, (long long) j->p.disabled,
             (long long) (j->p.started_ms - r->created_at_ms),
             (long long) (wp_job_now_ms() - j->p.started_ms),
             (long long) r->ttl);

    params[0] = j->job_id;
    params[1] = r->type;
    params[2] = r->event_id;
    params[3] = r->to == WP_SEND_TO_USER ? r->user_ids[0] : NULL;
    params[4] = counts[0];
    params[5] = counts[1];
    params[6] = counts[2];
    params[7] = r->payload;
    params[8] = meta;

    rc = wp_db_exec(pg, "INSERT INTO \"NotificationLog\" (\"id\", \"type\","
                    " \"eventId\", \"userId\", \"subscriptionCount\","
                    " \"sentCount\", \"failedCount\", \"payload\","
                    " \"metadata\") VALUES ($1, $2, $3, $4, $5, $6, $7,"
                    " $8::jsonb, $9::jsonb) ON CONFLICT (\"id\") DO NOTHING",
                    9, params, NULL, msg, sizeof(msg));

    if (rc != WP_DB_OK) {
        wp_log(j->s->log, WP_LOG_WARN, "could not record NotificationLog",
               "job", j->job_id, "error", msg, NULL);
        return -1;
    }

    return 0;
}


static int
wp_job_finish(wp_job_t *j, int expired)
{
    char  n[3][24];

    if (wp_job_record(j, expired) != 0
        || wp_queue_ack(j->s->q, j->entry_id) != 0)
    {
        return -1;
    }

    wp_queue_progress_del(j->s->q, j->entry_id);

    snprintf(n[0], sizeof(n[0]), "%lld", (long long) j->p.total);
    snprintf(n[1], sizeof(n[1]), "%lld", (long long) j->p.sent);
    snprintf(n[2], sizeof(n[2]), "%lld", (long long) j->p.failed);

    wp_log(j->s->log, WP_LOG_INFO, expired ? "job expired" : "job done",
           "job", j->job_id, "type", j->req->type, "subscriptions", n[0],
           "sent", n[1], "failed", n[2], NULL);

    return 0;
}


int
wp_job_run(wp_sender_t *s, const wp_queue_entry_t *e)
{
    int             n, i, rc;
    char            err[WP_DB_ERRLEN];
    PGconn         *pg;
    wp_job_t        j;
    wp_err_t        perr;
    wp_audience_t   aud;
    wp_send_req_t   req;

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

    memset(&j, 0, sizeof(j));
    j.s = s;
    j.entry_id = e->id;
    j.job_id = req.id;
    j.req = &req;
    j.expires_ms = req.created_at_ms + req.ttl * 1000;

    rc = -1;

    if (req.send_at_ms > wp_job_now_ms()) {
        /* Not due yet: park it; the main loop promotes it when due. */
        if (wp_queue_schedule(s->q, e->job, e->job_len, req.send_at_ms) == 0
            && wp_queue_ack(s->q, e->id) == 0)
        {
            wp_log(s->log, WP_LOG_INFO, "job scheduled", "entry", e->id,
                   NULL);
            rc = 0;
        }
        goto done;
    }

    if (req.send_at_ms > req.created_at_ms) {
        j.expires_ms = req.send_at_ms + req.ttl * 1000;
    }

    if (wp_queue_progress_get(s->q, e->id, &j.p) != 0) {
        goto done;
    }

    if (j.p.started_ms == 0) {
        j.p.started_ms = wp_job_now_ms();
    }

    if (wp_job_now_ms() >= j.expires_ms) {
        rc = wp_job_finish(&j, 1);
        goto done;
    }

    pg = wp_job_pg(s);
    if (pg == NULL) {
        goto done;
    }

    if (wp_audience_init(&aud, pg, &req, s->conf->page_size, j.p.after, err,
                         sizeof(err)) != 0)
    {
        goto done;
    }

    for ( ;; ) {
        n = wp_audience_next(&aud, err, sizeof(err));
        if (n < 0) {
            wp_log(s->log, WP_LOG_WARN, "audience query failed",
                   "job", e->id, "error", err, NULL);
            break;
        }

        if (n == 0) {
            rc = wp_job_finish(&j, 0);
            break;
        }

        for (i = 0; i < n; i++) {
            if (wp_job_deliver_one(&j, aud.page, i) != 0) {
                break;
            }
        }

        if (i < n) {
            break;
        }

        /* Checkpoint: a takeover resumes after this page. */
        j.p.total += n;
        wp_audience_done_page(&aud);
        snprintf(j.p.after, sizeof(j.p.after), "%s", aud.after);

        if (wp_queue_progress_set(s->q, e->id, &j.p) != 0) {
            break;
        }
    }

    wp_audience_free(&aud);

done:

    wp_send_req_free(&req);

    return rc;
}
