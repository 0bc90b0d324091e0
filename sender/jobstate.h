/*
 * A job's state in Redis once fan-out has started, shared by every sender:
 *
 *   <prefix>progress:<entry>  hash: job (JSON), started (ms), after (last
 *                             subscription id of the last committed page),
 *                             counters total sent failed disabled retried
 *                             deferred expired, pending (retry items still
 *                             open), done (1: fan-out finished, entry acked),
 *                             expiredJob (1: TTL passed before any send)
 *   <prefix>retry             sorted set of retry items scored by due ms;
 *                             member "<entry>|<attempt>|<subscription id>"
 *   <prefix>dead              dead-letter stream; per delivery: kind
 *                             "delivery", jobId, entry, subscription,
 *                             attempts, reason
 *   <prefix>finish            set of entries whose NotificationLog is due
 *                             (done and nothing pending)
 *
 * Every change is atomic (MULTI/EXEC or a script), so a crash between two
 * changes redoes at most one page or one retry item, and the counters that
 * reach "NotificationLog" are exact.
 */

#ifndef WP_JOBSTATE_H
#define WP_JOBSTATE_H

#include <stddef.h>
#include <stdint.h>

#include "queue.h"

#define WP_RETRY_MEMBER_MAX  256

/* Counter changes of a page or of one retry item. */
typedef struct {
    int64_t  total, sent, failed, disabled, retried, deferred, expired;
    int64_t  pending;       /* retry items opened (+) or closed (-) */
} wp_jobdelta_t;

typedef struct {
    char     member[WP_RETRY_MEMBER_MAX];
    int64_t  due_ms;
} wp_retry_add_t;

typedef struct {
    const char  *sub_id;
    int          attempts;
    char         reason[300];
} wp_dead_add_t;

typedef struct {
    char     entry[64];
    int      attempt;
    char     sub_id[130];
    char     member[WP_RETRY_MEMBER_MAX];
} wp_retry_item_t;

typedef struct {
    char          *job;          /* JSON, malloc'd; NULL when missing */
    size_t         job_len;
    char           after[130];   /* checkpoint: last subscription id done */
    int64_t        started_ms;
    int            expired_job;
    wp_jobdelta_t  c;            /* totals */
} wp_jobstate_t;

/* "<entry>|<attempt>|<sub>"; -1 when it does not fit. */
int wp_retry_member(char *out, size_t cap, const char *entry, int attempt,
    const char *sub_id);
int wp_retry_parse(const char *member, wp_retry_item_t *it);

/*
 * Commit one finished page: counters, the checkpoint (after: the job's,
 * or shard's when it is >= 0, with that shard's progress: shard.h), the
 * page's retry items and dead letters, in one transaction.  The job JSON
 * and the start time are stored on the first commit.
 */
int wp_jobstate_commit_page(wp_queue_t *q, const char *entry,
    const char *jobid, const char *job, size_t job_len, int64_t started_ms,
    int64_t keep_s, int shard, const char *after, const wp_jobdelta_t *d,
    const wp_retry_add_t *adds, int nadds, const wp_dead_add_t *deads,
    int ndeads);

/*
 * Fan-out finished (or the job expired before any send: expired_job):
 * mark done and XACK/XDEL the stream entry, atomically.  Returns 1 when
 * nothing is pending (the NotificationLog is due: see wp_jobstate_due),
 * 0 when retry items are still open, -1 on error.
 */
int wp_jobstate_fanout_done(wp_queue_t *q, const char *entry,
    const char *job, size_t job_len, int64_t started_ms, int expired_job,
    int64_t keep_s);

/*
 * Take the lease on up to max due retry items (their score moves to
 * now + lease_ms, so a crashed holder's items come back).  Returns the
 * number, -1 on error.
 */
int wp_jobstate_lease(wp_queue_t *q, int64_t now_ms, int64_t lease_ms,
    wp_retry_item_t *items, int max);

/*
 * Close (or move) one leased retry item: new_member NULL closes it
 * (pending - 1), else it is re-added due at new_due_ms.  dead: a dead
 * letter to write.  Returns 1 when this closed the job's last item (its
 * NotificationLog is due), 0 done, 2 the lease was lost (someone else has
 * it: nothing changed), -1 on error.
 */
int wp_jobstate_resolve(wp_queue_t *q, const wp_retry_item_t *it,
    const char *jobid, const char *new_member, int64_t new_due_ms,
    const wp_jobdelta_t *d, const wp_dead_add_t *dead);

/* Read a job's state (st->job malloc'd: wp_jobstate_free). 0 / -1. */
int wp_jobstate_get(wp_queue_t *q, const char *entry, wp_jobstate_t *st);
void wp_jobstate_free(wp_jobstate_t *st);

/* Up to max entries whose NotificationLog is due.  Returns n or -1. */
int wp_jobstate_due(wp_queue_t *q, char (*entries)[64], int max);

/* The NotificationLog is written: forget the job. */
int wp_jobstate_forget(wp_queue_t *q, const char *entry);

#endif /* WP_JOBSTATE_H */
