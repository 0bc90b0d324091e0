/*
 * webpush-cli dead list|retry|drop: the dead-letter stream <prefix>dead.
 *
 * Two kinds of entries live there: a whole job the sender could not run
 * (fields id = its stream entry, job = the job JSON, reason), and one
 * delivery that ran out of attempts (kind "delivery", jobId, entry,
 * subscription, attempts, reason).  `retry` puts a job back on the jobs
 * stream with its id, so `webpush-cli job ID` follows it; its TTL still
 * counts from when it was first accepted unless --renew restarts it.  A
 * delivery letter cannot be replayed alone (the job that carried it is
 * gone): send the job again.  retry and drop move one entry atomically
 * (a script checks it is still there), so two operators never replay one
 * job twice.
 *
 * Exit codes: 0 done; 1 an id was not in the stream or could not be
 * retried (the others were still handled); 2 bad command line; 3
 * environment; 4 Redis unreachable.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_util.h"
#include "sendreq.h"

#define CMD          "webpush-cli dead"
#define DEAD_SCAN    500
#define DEAD_LIST    100

typedef struct {
    const char   *action;
    char        **ids;
    int           nids;
    int           all;
    int           renew;
    long long     count;
} dead_args_t;

/* KEYS: dead, jobs; ARGV: entry id, job JSON ("" = drop). */
static const char  dead_move_lua[] =
    "if #redis.call('XRANGE', KEYS[1], ARGV[1], ARGV[1]) == 0 then"
    " return 0 end "
    "if ARGV[2] ~= '' then"
    " redis.call('XADD', KEYS[2], '*', 'job', ARGV[2]) end "
    "redis.call('XDEL', KEYS[1], ARGV[1]) "
    "return 1";


static int dead_parse_args(int argc, char **argv, dead_args_t *a);
static int dead_list(cli_redis_t *r, const dead_args_t *a);
static int dead_act(cli_redis_t *r, const dead_args_t *a);
static int dead_one(cli_redis_t *r, const dead_args_t *a, redisReply *ent,
    int *failed);
static void dead_describe(const redisReply *fields, char *jobid, size_t jl,
    char *type, size_t tl);


int
cli_dead(int argc, char **argv)
{
    int          rc;
    cli_redis_t  r;
    dead_args_t  a;

    if (dead_parse_args(argc, argv, &a) != 0) {
        free(a.ids);
        cli_usage("dead", 1);
        return CLI_EXIT_USAGE;
    }

    rc = cli_redis_open(&r, CMD);
    if (rc == CLI_EXIT_OK) {
        rc = strcmp(a.action, "list") == 0 ? dead_list(&r, &a)
                                           : dead_act(&r, &a);
        cli_redis_close(&r);
    }

    free(a.ids);

    return rc;
}


static int
dead_parse_args(int argc, char **argv, dead_args_t *a)
{
    int  i;

    memset(a, 0, sizeof(dead_args_t));
    a->count = DEAD_LIST;

    if (argc < 2) {
        fprintf(stderr, CMD ": say list, retry or drop\n");
        return -1;
    }

    a->action = argv[1];

    if (strcmp(a->action, "list") != 0 && strcmp(a->action, "retry") != 0
        && strcmp(a->action, "drop") != 0)
    {
        fprintf(stderr, CMD ": unknown action \"%s\" (list, retry, drop)\n",
                a->action);
        return -1;
    }

    a->ids = calloc(argc, sizeof(char *));
    if (a->ids == NULL) {
        return -1;
    }

    for (i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--all") == 0) {
            a->all = 1;

        } else if (strcmp(argv[i], "--renew") == 0) {
            a->renew = 1;

        } else if (strcmp(argv[i], "--count") == 0) {
            if (i + 1 >= argc
                || cli_parse_int(CMD, "--count", argv[++i], 1, 1000000,
                                 &a->count) != 0)
            {
                return -1;
            }

        } else if (argv[i][0] == '-') {
            fprintf(stderr, CMD ": unknown option \"%s\"\n", argv[i]);
            return -1;

        } else if (strspn(argv[i], "0123456789-") != strlen(argv[i])) {
            fprintf(stderr, CMD ": \"%.40s\" is not a stream entry id (as"
                    " `dead list` prints them: 1700000000000-0)\n", argv[i]);
            return -1;

        } else {
            a->ids[a->nids++] = argv[i];
        }
    }

    if (strcmp(a->action, "list") == 0) {
        if (a->nids || a->all || a->renew) {
            fprintf(stderr, CMD ": list takes only --count N\n");
            return -1;
        }
        return 0;
    }

    if ((a->nids > 0) == a->all) {
        fprintf(stderr, CMD ": %s needs entry ids or --all (not both)\n",
                a->action);
        return -1;
    }

    if (a->renew && strcmp(a->action, "retry") != 0) {
        fprintf(stderr, CMD ": --renew goes with retry\n");
        return -1;
    }

    return 0;
}


/* Job id and type of a dead entry, from jobId or the job JSON. */
static void
dead_describe(const redisReply *fields, char *jobid, size_t jl, char *type,
    size_t tl)
{
    wp_send_req_t      req;
    const redisReply  *v;

    snprintf(jobid, jl, "-");
    snprintf(type, tl, "-");

    v = cli_reply_field(fields, "jobId");
    if (v && v->type == REDIS_REPLY_STRING) {
        snprintf(jobid, jl, "%s", v->str);
    }

    v = cli_reply_field(fields, "job");
    if (v && v->type == REDIS_REPLY_STRING) {
        memset(&req, 0, sizeof(req));
        if (wp_send_job_parse(v->str, v->len, &req, NULL) == 0) {
            snprintf(jobid, jl, "%s", req.id);
            snprintf(type, tl, "%s", req.type);
        } else {
            snprintf(type, tl, "(malformed job)");
        }
        wp_send_req_free(&req);
    }
}


static int
dead_list(cli_redis_t *r, const dead_args_t *a)
{
    char               jobid[80], type[80], when[40];
    size_t             i;
    long long          total;
    redisReply        *rep, *ent;
    const redisReply  *reason, *sub;

    rep = cli_redis_cmd(r, "XLEN %sdead", r->prefix);
    if (rep == NULL) {
        return cli_redis_rc(r);
    }
    total = cli_reply_int(rep, 0);
    freeReplyObject(rep);

    rep = cli_redis_cmd(r, "XRANGE %sdead - + COUNT %lld", r->prefix,
                        a->count);
    if (rep == NULL) {
        return cli_redis_rc(r);
    }

    printf("%-18s %-20s %-8s %-36s %-16s %s\n", "ENTRY", "DEAD AT", "KIND",
           "JOB", "TYPE", "REASON");

    for (i = 0; rep->type == REDIS_REPLY_ARRAY && i < rep->elements; i++) {
        ent = rep->element[i];
        if (ent->type != REDIS_REPLY_ARRAY || ent->elements != 2) {
            continue;
        }

        dead_describe(ent->element[1], jobid, sizeof(jobid), type,
                      sizeof(type));
        reason = cli_reply_field(ent->element[1], "reason");
        sub = cli_reply_field(ent->element[1], "subscription");

        printf("%-18s %-20s %-8s %-36s %-16s %s%s%s%s\n",
               ent->element[0]->str,
               cli_time_text(strtoll(ent->element[0]->str, NULL, 10), when,
                             sizeof(when)),
               cli_reply_field(ent->element[1], "job") ? "job" : "delivery",
               jobid, type,
               reason && reason->type == REDIS_REPLY_STRING ? reason->str
                                                             : "-",
               sub ? " (subscription " : "",
               sub && sub->type == REDIS_REPLY_STRING ? sub->str : "",
               sub ? ")" : "");
    }

    printf("%lld dead entr%s%s\n", total, total == 1 ? "y" : "ies",
           (long long) rep->elements < total ? " (oldest shown first;"
           " --count N for more)" : "");

    freeReplyObject(rep);

    return CLI_EXIT_OK;
}


/* retry or drop one entry [id, fields]; counts failures. */
static int
dead_one(cli_redis_t *r, const dead_args_t *a, redisReply *ent, int *failed)
{
    int                retry, rc;
    char              *json, when[40], dkey[160], jkey[160];
    size_t             len;
    wp_err_t           e;
    redisReply        *rep;
    wp_send_req_t      req;
    const char        *id;
    const redisReply  *job;

    id = ent->element[0]->str;
    retry = strcmp(a->action, "retry") == 0;
    json = NULL;
    len = 0;
    memset(&req, 0, sizeof(req));

    if (retry) {
        job = cli_reply_field(ent->element[1], "job");

        if (job == NULL || job->type != REDIS_REPLY_STRING) {
            fprintf(stderr, CMD ": %s is a single delivery's letter, not a"
                    " job: it cannot be replayed alone (send the job again,"
                    " or drop it)\n", id);
            (*failed)++;
            return CLI_EXIT_OK;
        }

        if (wp_send_job_parse(job->str, job->len, &req, &e) != 0) {
            fprintf(stderr, CMD ": %s holds a malformed job (%s): replaying"
                    " it would only fail again; drop it\n", id, e.message);
            wp_send_req_free(&req);
            (*failed)++;
            return CLI_EXIT_OK;
        }

        if (a->renew) {
            req.created_at_ms = cli_now_ms();
            req.send_at_ms = 0;
        }

        if (!a->renew && req.created_at_ms + req.ttl * 1000 <= cli_now_ms())
        {
            fprintf(stderr, CMD ": warning: job %s's TTL ran out at %s: the"
                    " sender will record it as expired (--renew restarts"
                    " its TTL)\n", req.id,
                    cli_time_text(req.created_at_ms + req.ttl * 1000, when,
                                  sizeof(when)));
        }

        if (wp_send_req_to_json(&req, &json, &len, &e) != 0) {
            fprintf(stderr, CMD ": %s: %s\n", id, e.message);
            wp_send_req_free(&req);
            (*failed)++;
            return CLI_EXIT_OK;
        }
    }

    snprintf(dkey, sizeof(dkey), "%sdead", r->prefix);
    snprintf(jkey, sizeof(jkey), "%sjobs", r->prefix);

    rep = cli_redis_cmd(r, "EVAL %s 2 %s %s %s %b", dead_move_lua, dkey, jkey,
                        id, json ? json : "", len);
    free(json);

    if (rep == NULL) {
        wp_send_req_free(&req);
        return cli_redis_rc(r);
    }

    rc = (int) cli_reply_int(rep, 0);
    freeReplyObject(rep);

    if (rc != 1) {
        fprintf(stderr, CMD ": %s is no longer in the dead-letter stream\n",
                id);
        (*failed)++;
    } else if (retry) {
        printf("retried %s: job %s queued again\n", id, req.id);
    } else {
        printf("dropped %s\n", id);
    }

    wp_send_req_free(&req);

    return CLI_EXIT_OK;
}


static int
dead_act(cli_redis_t *r, const dead_args_t *a)
{
    int          i, rc, failed, done;
    char         from[80];
    size_t       k;
    redisReply  *rep;

    failed = 0;

    if (strcmp(a->action, "retry") == 0) {
        rc = cli_redis_ensure_group(r);
        if (rc != CLI_EXIT_OK) {
            return rc;
        }
    }

    if (!a->all) {
        for (i = 0; i < a->nids; i++) {
            rep = cli_redis_cmd(r, "XRANGE %sdead %s %s", r->prefix,
                                a->ids[i], a->ids[i]);
            if (rep == NULL) {
                return cli_redis_rc(r);
            }

            if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 1) {
                fprintf(stderr, CMD ": no dead entry %s\n", a->ids[i]);
                failed++;
                rc = CLI_EXIT_OK;
            } else {
                rc = dead_one(r, a, rep->element[0], &failed);
            }

            freeReplyObject(rep);

            if (rc != CLI_EXIT_OK) {
                return rc;
            }
        }

        return failed ? CLI_EXIT_FAIL : CLI_EXIT_OK;
    }

    /* --all: the entries there now, in batches; new ones are left. */
    snprintf(from, sizeof(from), "-");

    for (done = 0; !done; ) {
        rep = cli_redis_cmd(r, "XRANGE %sdead %s + COUNT %d", r->prefix, from,
                            DEAD_SCAN);
        if (rep == NULL) {
            return cli_redis_rc(r);
        }

        done = rep->type != REDIS_REPLY_ARRAY || rep->elements < DEAD_SCAN;

        for (k = 0; rep->type == REDIS_REPLY_ARRAY && k < rep->elements; k++)
        {
            snprintf(from, sizeof(from), "(%s",
                     rep->element[k]->element[0]->str);
            rc = dead_one(r, a, rep->element[k], &failed);
            if (rc != CLI_EXIT_OK) {
                freeReplyObject(rep);
                return rc;
            }
        }

        freeReplyObject(rep);
    }

    return failed ? CLI_EXIT_FAIL : CLI_EXIT_OK;
}
