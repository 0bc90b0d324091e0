/*
 * The job queue in Redis, as the sender sees it (the module and the cli
 * only XADD).  Keys, all under one prefix that carries a hash tag so they
 * land in one Redis Cluster slot:
 *
 *   <prefix>jobs            stream of jobs, field "job" = canonical job JSON
 *                           (lib/sendreq.h wp_send_req_to_json)
 *   consumer group "senders" on it; one consumer per sender process
 *   <prefix>sender:<name>   heartbeat hash of a live sender (expires
 *                           after WP_QUEUE_HEARTBEAT_S): pid, started,
 *                           seen (unix s), jobs
 *   <prefix>senders         sorted set: consumer name scored by its last
 *                           heartbeat (unix s); removed on clean exit
 *   <prefix>dead            dead-letter stream: whole jobs (id, job,
 *                           reason) and single deliveries (kind
 *                           "delivery", jobId, entry, subscription,
 *                           attempts, reason)
 *   <prefix>scheduled       sorted set of jobs due later, scored by due ms
 *                           (member: the job JSON)
 *   <prefix>progress:<id>   a job's state once fan-out started, keyed by
 *                           stream entry id (fields in jobstate.h)
 *   <prefix>retry           sorted set of per-subscription retry items,
 *                           scored by due ms; member
 *                           "<entry id>|<attempt>|<subscription id>" (the
 *                           job JSON is in progress:<entry id>, field job)
 *   <prefix>finish          set of entry ids whose NotificationLog is due
 *   <prefix>circuit:<aud>   present while a push origin's circuit is open
 *                           (401/403); value = the reason, expires
 *   <prefix>keyok:<aud>     our VAPID public key, for a day, once the origin
 *                           answered 2xx (evidence for "key mismatch");
 *                           these two over the engine's own non-blocking
 *                           link (aredis.h), not this one
 *   <prefix>metrics         hash of counters (ENABLE_PUSH_METRICS), summed
 *                           over every sender with HINCRBY:
 *                             sent            2xx answers
 *                             failed_4xx      4xx answers (incl. 404, 410,
 *                                             429, 401, 403)
 *                             failed_5xx      5xx answers
 *                             failed_network  requests with no HTTP answer
 *                                             (timeout, reset, TLS)
 *                             retried         retries scheduled
 *                             disabled        subscriptions disabled
 *                             expired         jobs and deliveries dropped
 *                                             because their TTL passed
 *                             jobs_done       NotificationLog rows written
 *   <prefix>metrics:latency hash, push-service response time histogram:
 *                           le_1 le_2 le_5 ... le_5000 le_inf (lib/
 *                           latency.h) are NON-cumulative counts (an
 *                           answer of 180 ms adds 1 to le_250 only; sum
 *                           them up to render Prometheus buckets), sum_ms
 *                           and count over all answers
 *
 * Blocking hiredis calls with socket timeouts: the sender is a daemon with
 * its own loop, not an nginx worker.  They run outside the engine's loop
 * rounds (page reads, renewals, commits: work that needs Redis anyway);
 * the engine's own markers use aredis.h.
 */

#ifndef WP_QUEUE_H
#define WP_QUEUE_H

#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#include "redis_url.h"

#define WP_QUEUE_GROUP        "senders"
#define WP_QUEUE_HEARTBEAT_S  15        /* heartbeat key lifetime */

typedef struct {
    redisContext           *rc;
    const wp_redis_conf_t  *conf;
    const char             *prefix;
    const char             *consumer;
    int64_t                 timeout_ms;
    char                    err[512];
} wp_queue_t;

typedef struct {
    char    id[64];           /* stream entry id, e.g. 1700000000000-0 */
    char   *job;              /* job JSON (malloc'd), NULL if malformed */
    size_t  job_len;
    int64_t deliveries;       /* times this entry was handed out */
} wp_queue_entry_t;

/*
 * Connect (or reconnect), AUTH/SELECT as configured, and create the
 * consumer group if missing.  Returns 0, or -1 with q->err set.
 */
int wp_queue_connect(wp_queue_t *q);

/*
 * One command on q's connection (hiredis format).  NULL when it is down
 * or the command could not be sent (then it is closed: the main loop
 * reconnects); an error reply is returned, with q->err set.
 */
redisReply *wp_queue_cmd(wp_queue_t *q, const char *fmt, ...);

/* The same with binary-safe arguments (lens: their lengths). */
redisReply *wp_queue_argv(wp_queue_t *q, int argc, const char **argv,
    const size_t *lens);

/*
 * An integer reply's value, the reply freed; -1 for none or anything
 * else (q->err says what).
 */
int wp_queue_int(wp_queue_t *q, redisReply *r);

/* The next reply to commands appended with redisAppendCommand(). */
redisReply *wp_queue_reply(wp_queue_t *q);
void wp_queue_close(wp_queue_t *q);

/*
 * Take at most one entry: first a pending entry of a consumer idle longer
 * than claim_idle_ms (XAUTOCLAIM), else a new one (XREADGROUP, blocking up
 * to block_ms).  Returns 1 with *e filled, 0 when none, -1 on a Redis error.
 */
int wp_queue_next(wp_queue_t *q, int64_t block_ms, int64_t claim_idle_ms,
    wp_queue_entry_t *e);

/*
 * This consumer's own oldest pending entry (XREADGROUP ... 0), e.g. the
 * job it held when Redis went away: resumed at once after a reconnect
 * instead of after claim_idle_ms.  Returns 1, 0 when none, -1.
 */
int wp_queue_own_pending(wp_queue_t *q, wp_queue_entry_t *e);

/*
 * The next new entry, only when its job is addressed to one user or to at
 * most max_users (userId / userIds): what a sender runs between the pages
 * of a broadcast, so that such jobs do not wait for the whole broadcast.
 * An entry that is plainly not a job is returned too (to be dead-lettered
 * by the job's checks).  Returns 1 with *e filled, 0 when the next entry
 * is anything else or there is none, -1 on a Redis error.
 */
int wp_queue_next_small(wp_queue_t *q, int max_users, wp_queue_entry_t *e);

/*
 * The next new entry's id and topic, when its job is for a topic; nothing
 * is taken (the caller sizes the topic, then wp_queue_take_next()).
 * Returns 1, 0 when the next entry is anything else or none, -1.
 */
int wp_queue_next_topic(wp_queue_t *q, char *id, size_t idcap, char *topic,
    size_t topiccap);

/*
 * Take entry id for this consumer, only if it is still the next new
 * entry.  Returns 1 with *e filled, 0 when it is not, -1.
 */
int wp_queue_take_next(wp_queue_t *q, const char *id, wp_queue_entry_t *e);

/*
 * Keep a job being worked on: when entry id is pending at this consumer,
 * set its idle time back to 0 (so no XAUTOCLAIM takes a long fan-out from
 * a live sender) and return 1.  0 when it is not: another sender took it
 * over after WEBPUSH_CLAIM_IDLE (and resumes it from the checkpoint, or
 * has finished it already), so this one must stop.  -1 on a Redis error.
 */
int wp_queue_renew(wp_queue_t *q, const char *id);

/* XACK the entry (and XDEL it: the job's record lives in PostgreSQL). */
int wp_queue_ack(wp_queue_t *q, const char *id);

/* Move an entry to the dead-letter stream with a reason, then ack it. */
int wp_queue_dead(wp_queue_t *q, const wp_queue_entry_t *e,
    const char *reason);

/* Refresh this process's heartbeat hash and its senders score. */
int wp_queue_heartbeat(wp_queue_t *q, int64_t started, int64_t jobs_done);

/* Remove the heartbeat (hash and senders member) at a clean shutdown. */
void wp_queue_goodbye(wp_queue_t *q);

/*
 * Hand a pending entry back at shutdown: it stays pending but looks idle
 * for idle_ms, so another sender's XAUTOCLAIM takes it at once.
 */
int wp_queue_handback(wp_queue_t *q, const char *id, int64_t idle_ms);

void wp_queue_entry_free(wp_queue_entry_t *e);

/* The progress hash (checkpoint and counters) is sender/jobstate.h's. */

/* Park a job (its JSON) until due_ms, in the scheduled set. */
int wp_queue_schedule(wp_queue_t *q, const char *job, size_t len,
    int64_t due_ms);

/*
 * Move scheduled jobs that are due by now_ms into the stream (atomically,
 * so two senders never both promote one).  Returns how many, or -1.
 */
int wp_queue_promote(wp_queue_t *q, int64_t now_ms);

#endif /* WP_QUEUE_H */
