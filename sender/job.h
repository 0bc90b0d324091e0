/*
 * Jobs, from queue entry to finished record.
 *
 * wp_job_run(): parse, park it in <prefix>scheduled when sendAt is ahead,
 * mark it expired when its TTL passed, else walk the audience page by page:
 * the engine (engine.h) delivers a page concurrently, then one atomic
 * commit (jobstate.h) stores the checkpoint, the counters, the page's
 * retry items and dead letters.  When the last page is committed the
 * stream entry is acked; the "NotificationLog" row is written once no
 * retry item of the job is open (whoever closes the last one writes it).
 *
 * wp_sender_tick(): the periodic work of the main loop (also run between
 * pages of a long job): promote due scheduled jobs, deliver due retry
 * items, write due NotificationLog rows, flush metrics.
 *
 * Crash safety: a page is committed after it is delivered, so a sender
 * killed mid-page makes the next owner resend at most that page
 * (WEBPUSH_PAGE_SIZE messages); a retry item is leased, so one killed
 * mid-retry is retried again after the lease.
 */

#ifndef WP_JOB_H
#define WP_JOB_H

#include <signal.h>

#include <libpq-fe.h>

#include "config.h"
#include "engine.h"
#include "log.h"
#include "metrics.h"
#include "queue.h"

typedef struct {
    wp_sender_conf_t             *conf;
    wp_log_t                     *log;
    wp_queue_t                   *q;
    PGconn                       *pg;
    wp_engine_t                   engine;
    wp_metrics_t                  metrics;
    const volatile sig_atomic_t  *stop;       /* set by SIGTERM */
    int64_t                       jobs_done;
    int64_t                       last_promote_ms;
    int64_t                       last_retry_ms;
    int64_t                       last_finish_ms;
    int64_t                       last_flush_ms;
    int                           nested;     /* in a broadcast's pause */
    char                          big_topic[64]; /* entry of a topic job
                                                    sized too big to nest */
} wp_sender_t;

int wp_sender_init(wp_sender_t *s, wp_sender_conf_t *conf, wp_log_t *log,
    wp_queue_t *q, const volatile sig_atomic_t *stop, char *err,
    size_t errlen);
void wp_sender_free(wp_sender_t *s);

/*
 * Run the job in e.  Returns 0 when its fan-out is finished and the entry
 * acked (or it was scheduled, or dead-lettered as malformed); -1 when it
 * must be tried again later (database or Redis unavailable, or stopping):
 * it stays pending and is handed out again, resuming after its checkpoint.
 */
int wp_job_run(wp_sender_t *s, const wp_queue_entry_t *e);

/*
 * Take a shard of a big job (shard.h) and deliver it.  Returns 1 when
 * one was taken (finished or not), 0 when none is free, -1 on a Redis
 * error.
 */
int wp_job_run_shard(wp_sender_t *s);

/* Periodic work; force: do all of it now. */
void wp_sender_tick(wp_sender_t *s, int force);

#endif /* WP_JOB_H */
