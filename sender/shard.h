/*
 * One big job shared by every sender.  A topic or "all" job whose
 * audience is larger than WEBPUSH_SHARD_SIZE is cut into shards: ranges
 * (lo, hi] of the subscription ids in keyset order, bounds read in one
 * pass over the index (audience.h: wp_audience_bounds).  Any sender takes
 * a free shard, delivers it page by page (pipelined, job.c) with its own
 * checkpoint, and the job's counters add up in its progress hash as
 * before; whoever finishes the last shard finishes the job (fan-out
 * done, NotificationLog once, exact counts).
 *
 *   <prefix>shards          sorted set of free or leased shards, member
 *                           "<entry>/<k>", scored by lease end in ms (0:
 *                           free): a shard whose holder died is taken
 *                           again after WEBPUSH_CLAIM_IDLE
 *   <prefix>shard:<entry>   hash: n (shards), done (shards finished),
 *                           and per shard k: lo:k, hi:k ("" = to the end),
 *                           after:k (checkpoint), owner:k (consumer),
 *                           fin:k, total:k and sent:k (progress)
 *
 * Creating the shards acks the stream entry in the same script: from then
 * on the shard set, not the entry's pending state, says what is left.
 */

#ifndef WP_SHARD_H
#define WP_SHARD_H

#include <stddef.h>
#include <stdint.h>

#include "queue.h"

#define WP_SHARD_ID_MAX  130

typedef struct {
    char     entry[64];
    int      k;                     /* shard number, 0 .. n-1 */
    int      n;
    char     member[96];            /* "<entry>/<k>" */
    char     hi[WP_SHARD_ID_MAX];   /* "" = to the end */
    char     after[WP_SHARD_ID_MAX];/* checkpoint */
    char    *job;                   /* JSON, malloc'd */
    size_t   job_len;
    int64_t  started_ms;
} wp_shard_t;

/*
 * Cut entry's job into nb + 1 shards: (after, bounds[0]], (bounds[0],
 * bounds[1]], ..., (bounds[nb-1], end), free for any sender, and ack the
 * entry.  Returns 1 done, 0 they existed already, -1 on error.
 */
int wp_shard_create(wp_queue_t *q, const char *entry, const char *job,
    size_t job_len, int64_t started_ms, int64_t keep_s, const char *after,
    const char *const *bounds, int nb);

/*
 * Take a free shard (or one whose lease ran out) for lease_ms.  Returns
 * 1 with *sh (wp_shard_free), 0 none, -1 on error.
 */
int wp_shard_take(wp_queue_t *q, int64_t now_ms, int64_t lease_ms,
    wp_shard_t *sh);

/* Still ours?  Then its lease is renewed: 1; 0 not ours; -1 error. */
int wp_shard_renew(wp_queue_t *q, const wp_shard_t *sh, int64_t now_ms,
    int64_t lease_ms);

/* Give it back at once (SIGTERM): 1; 0 not ours; -1 error. */
int wp_shard_release(wp_queue_t *q, const wp_shard_t *sh);

/*
 * All its pages are committed: 2 when it was the job's last shard (the
 * caller finishes the job), 1 done, 0 not ours any more, -1 error.
 */
int wp_shard_finish(wp_queue_t *q, const wp_shard_t *sh);

void wp_shard_free(wp_shard_t *sh);

#endif /* WP_SHARD_H */
