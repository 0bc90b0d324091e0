/*
 * One job, from queue entry to finished record: parse, skip if expired,
 * walk the audience page by page (checkpointing after each page), encrypt
 * and deliver per subscription, act on each answer, write the
 * "NotificationLog" row, ack.
 *
 * This first engine delivers one request at a time (libcurl, HTTP/2 when
 * offered, connections reused through one slot); the concurrent multi
 * engine replaces wp_job_deliver_page() without changing this contract.
 */

#ifndef WP_JOB_H
#define WP_JOB_H

#include <libpq-fe.h>

#include "config.h"
#include "deliver.h"
#include "ece.h"
#include "log.h"
#include "queue.h"
#include "vapid.h"

#define WP_SENDER_TOKENS  64        /* cached VAPID tokens (push origins) */

typedef struct {
    wp_sender_conf_t  *conf;
    wp_log_t          *log;
    wp_queue_t        *q;
    PGconn            *pg;
    wp_ece_t          *ece;
    wp_deliver_t      *slot;
    wp_vapid_token_t   tokens[WP_SENDER_TOKENS];
    size_t             ntokens;
    size_t             next_token;  /* round-robin eviction */
} wp_sender_t;

int wp_sender_init(wp_sender_t *s, wp_sender_conf_t *conf, wp_log_t *log,
    wp_queue_t *q, char *err, size_t errlen);
void wp_sender_free(wp_sender_t *s);

/*
 * Run the job in e.  Returns 0 when it reached a terminal state and was
 * acked (sent, expired, or dead-lettered as malformed); -1 when it must be
 * tried again later (database or Redis unavailable): it stays pending and
 * XAUTOCLAIM hands it out again, resuming after its checkpoint.
 */
int wp_job_run(wp_sender_t *s, const wp_queue_entry_t *e);

#endif /* WP_JOB_H */
