/*
 * webpush-cli: where one job is (shared by `job` and `send --wait`).
 * A job id is found, in this order, in "NotificationLog" (finished), the
 * dead-letter stream, the jobs stream (waiting, or pending at a sender
 * with its fan-out checkpoint), the scheduled set, and the jobs whose
 * fan-out is done but some deliveries wait to be retried (their
 * <prefix>progress:<entry> hash, which holds the job).
 */

#ifndef WP_CLI_JOB_H
#define WP_CLI_JOB_H

#include <stdint.h>

#include "cli_util.h"

typedef enum {
    CLI_JOB_UNKNOWN = 0,
    CLI_JOB_QUEUED,             /* in the stream, not handed out yet */
    CLI_JOB_RUNNING,            /* handed to a sender, not acked */
    CLI_JOB_SCHEDULED,          /* waiting for its sendAt */
    CLI_JOB_RETRYING,           /* fan-out done, deliveries to retry */
    CLI_JOB_FINISHED,           /* "NotificationLog" row written */
    CLI_JOB_DEAD                /* in the dead-letter stream */
} cli_job_state_t;

typedef struct {
    cli_job_state_t  state;
    char             entry[64];         /* stream entry id (queue, dead) */
    char             type[80];
    char             consumer[160];     /* RUNNING */
    int64_t          idle_ms;           /* RUNNING */
    int64_t          deliveries;        /* RUNNING */
    int64_t          due_ms;            /* SCHEDULED, RETRYING */
    int64_t          total, sent, failed, disabled, retried;
    int64_t          pending;           /* retry items still open */
    int              shards;            /* RUNNING, shared: shard count */
    int              shards_done;
    char             shard_text[1024];  /* the running shards, one line */
    int              expired;           /* FINISHED */
    char             created[40];       /* FINISHED: "NotificationLog" */
    char             reason[512];       /* DEAD */
} cli_job_info_t;

/*
 * Look id up.  hint, when not NULL, is the job's stream entry id (as XADD
 * answered it): the jobs stream is then read at that entry only instead
 * of scanned.  Returns CLI_EXIT_OK with info->state set (CLI_JOB_UNKNOWN
 * when it is nowhere), or a CLI_EXIT_* code after printing why.
 */
int cli_job_find(cli_redis_t *r, PGconn *pg, const char *id,
    const char *hint, cli_job_info_t *info);

/* "queued", "running", ... */
const char *cli_job_state_name(cli_job_state_t s);

/* Print the state as "field: value" lines to stdout. */
void cli_job_print(const char *id, const cli_job_info_t *info);

#endif /* WP_CLI_JOB_H */
