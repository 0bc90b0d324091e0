/*
 * Internals shared by job.c (fan-out, records) and retry.c (retry items,
 * periodic work).  Not for other callers: use job.h.
 */

#ifndef WP_JOB_INT_H
#define WP_JOB_INT_H

#include <stdint.h>

#include <libpq-fe.h>

#include "engine.h"
#include "job.h"
#include "jobstate.h"

#define WP_JOB_KEEP_S  86400     /* job state outlives its TTL by this */

/* What happens to one delivery after its result. */
typedef struct {
    int      kind;              /* 0 final, 1 retry item, 2 dead letter */
    int      attempt;           /* of the retry item */
    int64_t  due_ms;
    char     reason[300];
} wp_next_t;

int64_t wp_job_now_ms(void);

/*
 * When a message stops being worth a request: its TTL after it was due
 * (sendAt, else createdAt).  TTL 0 asks the push service not to store
 * it ("now or never"), not the sender to drop it: it has one second to
 * go out, with TTL: 0 on the wire.
 */
int64_t wp_job_expires_ms(const wp_send_req_t *req);

/* The database connection, reconnected when needed; NULL when down. */
PGconn *wp_job_pg(wp_sender_t *s);

/*
 * What w[0..n)'s answers say about their subscriptions: 404/410 disable
 * them; "key mismatch" records them in "PushSubscriptionKeyMismatch"
 * (audiences leave them out).  0, or -1 when the database failed (the
 * caller does not commit: the work is done again).
 */
int wp_job_mark_subs(wp_sender_t *s, const wp_work_t *w, int n);

/*
 * Turn a result into counter changes (d) and what comes next (nx): final,
 * a retry item due at nx->due_ms, or a dead letter.  Writes PushError rows
 * for final failures.
 */
void wp_job_decide(wp_sender_t *s, const wp_work_t *w, int64_t now,
    wp_jobdelta_t *d, wp_next_t *nx);

/* Write the NotificationLog of a finished job and forget its state. */
int wp_job_finalize(wp_sender_t *s, const char *entry);

#endif /* WP_JOB_INT_H */
