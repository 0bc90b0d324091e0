/*
 * webpush-cli send: enqueue one send job, exactly as the module's send
 * route does (lib/sendreq.h validates and writes the canonical job JSON
 * with a fresh UUID as its id), from options or from a JSON file holding
 * the route's request body.  A job whose sendAt lies ahead goes to the
 * scheduled set, any other to the jobs stream.  Prints the job id.
 *
 * --wait then follows the job (cli_job.h) until it is finished or dead
 * and prints its figures.
 *
 * Exit codes: 0 queued (with --wait: finished); 1 dead-lettered, expired
 * or --wait timed out; 2 bad options or request (nothing queued); 3
 * environment; 4 Redis (or, with --wait, PostgreSQL) unreachable.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <yajl/yajl_gen.h>

#include "cli.h"
#include "cli_job.h"
#include "cli_util.h"
#include "config.h"
#include "sendreq.h"
#include "uuid.h"

#define CMD                 "webpush-cli send"
#define SEND_DEFAULT_TYPE   "manual"
#define SEND_WAIT_DEFAULT   300         /* s */
#define SEND_POLL_US        200000

typedef struct {
    const char  *file;
    const char  *user, *users, *topic;
    int          all;
    const char  *type, *title, *body, *url, *icon, *tag;
    const char  *ttl, *urgency, *push_topic, *send_at, *event_id;
    int          wait;
    long long    timeout;
    int          n_fields;          /* request options given */
} send_args_t;


static int send_parse_args(int argc, char **argv, send_args_t *a);
static int send_build_body(const send_args_t *a, char **out, size_t *len);
static int send_read_file(const char *path, char **out, size_t *len);
static int send_enqueue(cli_redis_t *r, const wp_send_req_t *req,
    const char *job, size_t len, char *entry, size_t entry_len);
static int send_wait(cli_redis_t *r, const char *id, const char *entry,
    long long timeout);


int
cli_send(int argc, char **argv)
{
    int               rc;
    char             *body, *job, msg[256], entry[64];
    size_t            len, joblen;
    int64_t           ttl_default;
    wp_err_t          e;
    send_args_t       a;
    cli_redis_t       r;
    wp_send_req_t     req;
    wp_send_limits_t  lim;

    if (send_parse_args(argc, argv, &a) != 0) {
        cli_usage("send", 1);
        return CLI_EXIT_USAGE;
    }

    wp_send_limits_init(&lim);

    if (wp_conf_int("PUSH_TTL_DEFAULT", WP_SEND_DEFAULT_TTL, 0,
                    WP_SEND_MAX_TTL, &ttl_default, msg, sizeof(msg)) != 0)
    {
        fprintf(stderr, CMD ": %s\n", msg);
        return CLI_EXIT_CONFIG;
    }

    lim.ttl_default = ttl_default;

    rc = a.file ? send_read_file(a.file, &body, &len)
                : send_build_body(&a, &body, &len);
    if (rc != CLI_EXIT_OK) {
        return rc;
    }

    /* The route's validator: the same rules, the same messages. */
    memset(&req, 0, sizeof(req));
    if (wp_send_req_parse(body, len, &lim, &req, &e) != 0) {
        fprintf(stderr, CMD ": %s (%s); nothing queued\n", e.message, e.code);
        free(body);
        return CLI_EXIT_USAGE;
    }

    free(body);

    if (wp_uuid_v4(req.id) != 0) {
        fprintf(stderr, CMD ": no random bytes for the job id\n");
        wp_send_req_free(&req);
        return CLI_EXIT_FAIL;
    }

    if (wp_send_req_to_json(&req, &job, &joblen, &e) != 0) {
        fprintf(stderr, CMD ": %s\n", e.message);
        wp_send_req_free(&req);
        return CLI_EXIT_FAIL;
    }

    rc = cli_redis_open(&r, CMD);
    if (rc == CLI_EXIT_OK) {
        rc = send_enqueue(&r, &req, job, joblen, entry, sizeof(entry));
    }

    if (rc == CLI_EXIT_OK) {
        printf("%s\n", req.id);
        fflush(stdout);

        if (a.wait) {
            rc = send_wait(&r, req.id, entry[0] ? entry : NULL, a.timeout);
        }
    }

    cli_redis_close(&r);
    free(job);
    wp_send_req_free(&req);

    return rc;
}


static int
send_parse_args(int argc, char **argv, send_args_t *a)
{
    int           i;
    const char  **dst;

    memset(a, 0, sizeof(send_args_t));
    a->timeout = SEND_WAIT_DEFAULT;

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--all") == 0) {
            a->all = 1;
            a->n_fields++;
            continue;
        }

        if (strcmp(argv[i], "--wait") == 0) {
            a->wait = 1;
            continue;
        }

        dst = NULL;

        if (strcmp(argv[i], "--timeout") == 0) {
            if (i + 1 >= argc
                || cli_parse_int(CMD, "--timeout", argv[i + 1], 1, 86400,
                                 &a->timeout) != 0)
            {
                fprintf(stderr, CMD ": --timeout needs seconds\n");
                return -1;
            }
            i++;
            continue;
        }

        if (strcmp(argv[i], "--file") == 0) {
            dst = &a->file;
        } else if (strcmp(argv[i], "--user") == 0) {
            dst = &a->user;
        } else if (strcmp(argv[i], "--users") == 0) {
            dst = &a->users;
        } else if (strcmp(argv[i], "--topic") == 0) {
            dst = &a->topic;
        } else if (strcmp(argv[i], "--type") == 0) {
            dst = &a->type;
        } else if (strcmp(argv[i], "--title") == 0) {
            dst = &a->title;
        } else if (strcmp(argv[i], "--body") == 0) {
            dst = &a->body;
        } else if (strcmp(argv[i], "--url") == 0) {
            dst = &a->url;
        } else if (strcmp(argv[i], "--icon") == 0) {
            dst = &a->icon;
        } else if (strcmp(argv[i], "--tag") == 0) {
            dst = &a->tag;
        } else if (strcmp(argv[i], "--ttl") == 0) {
            dst = &a->ttl;
        } else if (strcmp(argv[i], "--urgency") == 0) {
            dst = &a->urgency;
        } else if (strcmp(argv[i], "--push-topic") == 0) {
            dst = &a->push_topic;
        } else if (strcmp(argv[i], "--send-at") == 0) {
            dst = &a->send_at;
        } else if (strcmp(argv[i], "--event-id") == 0) {
            dst = &a->event_id;
        } else {
            fprintf(stderr, CMD ": unknown option \"%s\"\n", argv[i]);
            return -1;
        }

        if (i + 1 >= argc) {
            fprintf(stderr, CMD ": %s needs a value\n", argv[i]);
            return -1;
        }

        *dst = argv[++i];
        if (dst != &a->file) {
            a->n_fields++;
        }
    }

    if (a->file != NULL) {
        if (a->n_fields > 0) {
            fprintf(stderr, CMD ": --file holds the whole request; give no"
                    " other request options with it\n");
            return -1;
        }
        return 0;
    }

    if ((a->user != NULL) + (a->users != NULL) + (a->topic != NULL) + a->all
        != 1)
    {
        fprintf(stderr, CMD ": say who gets it: exactly one of --user,"
                " --users, --topic, --all (or --file)\n");
        return -1;
    }

    return 0;
}


/* A string member, or nothing when v is NULL. */
static int
send_gen_str(yajl_gen g, const char *key, const char *v)
{
    if (v == NULL) {
        return 0;
    }

    return yajl_gen_string(g, (const unsigned char *) key, strlen(key))
           != yajl_gen_status_ok
           || yajl_gen_string(g, (const unsigned char *) v, strlen(v))
              != yajl_gen_status_ok;
}


/*
 * A member that the route takes as a number: digits become a JSON number,
 * anything else a string, so the validator names the problem ("ttl must
 * be an integer") in the route's own words.
 */
static int
send_gen_num(yajl_gen g, const char *key, const char *v)
{
    size_t  n;

    if (v == NULL) {
        return 0;
    }

    n = strspn(v, "0123456789");

    if (n == 0 || v[n] != '\0' || n > 18) {
        return send_gen_str(g, key, v);
    }

    return yajl_gen_string(g, (const unsigned char *) key, strlen(key))
           != yajl_gen_status_ok
           || yajl_gen_number(g, v, n) != yajl_gen_status_ok;
}


/* The route's request body from the options. */
static int
send_build_body(const send_args_t *a, char **out, size_t *len)
{
    int                   bad;
    size_t                blen;
    yajl_gen              g;
    const char           *p, *comma;
    const unsigned char  *buf;

    g = yajl_gen_alloc(NULL);
    if (g == NULL) {
        return CLI_EXIT_FAIL;
    }

    bad = yajl_gen_map_open(g) != yajl_gen_status_ok
          || send_gen_str(g, "type", a->type ? a->type : SEND_DEFAULT_TYPE)
          || send_gen_str(g, "eventId", a->event_id)
          || yajl_gen_string(g, (const unsigned char *) "to", 2)
             != yajl_gen_status_ok
          || yajl_gen_map_open(g) != yajl_gen_status_ok;

    if (!bad) {
        if (a->user) {
            bad = send_gen_str(g, "userId", a->user);

        } else if (a->users) {
            bad = yajl_gen_string(g, (const unsigned char *) "userIds", 7)
                  != yajl_gen_status_ok
                  || yajl_gen_array_open(g) != yajl_gen_status_ok;

            for (p = a->users; !bad; p = comma + 1) {
                comma = strchr(p, ',');
                if (comma == NULL) {
                    comma = p + strlen(p);
                }
                bad = yajl_gen_string(g, (const unsigned char *) p,
                                      comma - p) != yajl_gen_status_ok;
                if (*comma == '\0') {
                    break;
                }
            }

            bad = bad || yajl_gen_array_close(g) != yajl_gen_status_ok;

        } else if (a->topic) {
            bad = send_gen_str(g, "topic", a->topic);

        } else {
            bad = yajl_gen_string(g, (const unsigned char *) "all", 3)
                  != yajl_gen_status_ok
                  || yajl_gen_bool(g, 1) != yajl_gen_status_ok;
        }
    }

    bad = bad
          || yajl_gen_map_close(g) != yajl_gen_status_ok
          || yajl_gen_string(g, (const unsigned char *) "payload", 7)
             != yajl_gen_status_ok
          || yajl_gen_map_open(g) != yajl_gen_status_ok
          || send_gen_str(g, "title", a->title)
          || send_gen_str(g, "body", a->body)
          || send_gen_str(g, "url", a->url)
          || send_gen_str(g, "icon", a->icon)
          || send_gen_str(g, "tag", a->tag)
          || yajl_gen_map_close(g) != yajl_gen_status_ok
          || send_gen_num(g, "ttl", a->ttl)
          || send_gen_str(g, "urgency", a->urgency)
          || send_gen_str(g, "topic", a->push_topic)
          || send_gen_num(g, "sendAt", a->send_at)
          || yajl_gen_map_close(g) != yajl_gen_status_ok
          || yajl_gen_get_buf(g, &buf, &blen) != yajl_gen_status_ok;

    if (bad) {
        fprintf(stderr, CMD ": cannot build the request from the"
                " options\n");
        yajl_gen_free(g);
        return CLI_EXIT_USAGE;
    }

    *out = strndup((const char *) buf, blen);
    *len = blen;
    yajl_gen_free(g);

    return *out ? CLI_EXIT_OK : CLI_EXIT_FAIL;
}


/* The request body from a file or stdin ("-"), one byte over the limit. */
static int
send_read_file(const char *path, char **out, size_t *len)
{
    FILE    *f;
    char    *buf;
    size_t   n;

    f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    if (f == NULL) {
        fprintf(stderr, CMD ": --file: cannot open \"%s\": %s\n", path,
                strerror(errno));
        return CLI_EXIT_USAGE;
    }

    buf = malloc(WP_SEND_MAX_BODY + 2);
    n = buf ? fread(buf, 1, WP_SEND_MAX_BODY + 1, f) : 0;

    if (buf == NULL || ferror(f)) {
        fprintf(stderr, CMD ": --file: cannot read \"%s\"\n", path);
        free(buf);
        buf = NULL;
    }

    if (f != stdin) {
        fclose(f);
    }

    if (buf == NULL) {
        return CLI_EXIT_USAGE;
    }

    buf[n] = '\0';
    *out = buf;
    *len = n;

    return CLI_EXIT_OK;
}


static int
send_enqueue(cli_redis_t *r, const wp_send_req_t *req, const char *job,
    size_t len, char *entry, size_t entry_len)
{
    int          rc;
    char         when[40];
    redisReply  *rep;

    entry[0] = '\0';

    if (req->send_at_ms > cli_now_ms()) {
        rep = cli_redis_cmd(r, "ZADD %sscheduled %lld %b", r->prefix,
                            (long long) req->send_at_ms, job, len);
        if (rep == NULL) {
            return cli_redis_rc(r);
        }
        freeReplyObject(rep);

        fprintf(stderr, CMD ": scheduled for %s\n",
                cli_time_text(req->send_at_ms, when, sizeof(when)));
        return CLI_EXIT_OK;
    }

    rc = cli_redis_ensure_group(r);
    if (rc != CLI_EXIT_OK) {
        return rc;
    }

    rep = cli_redis_cmd(r, "XADD %sjobs * job %b", r->prefix, job, len);
    if (rep == NULL) {
        return cli_redis_rc(r);
    }

    if (rep->type == REDIS_REPLY_STRING) {
        snprintf(entry, entry_len, "%s", rep->str);
    }

    fprintf(stderr, CMD ": queued as stream entry %s\n",
            rep->type == REDIS_REPLY_STRING ? rep->str : "?");
    freeReplyObject(rep);

    return CLI_EXIT_OK;
}


/*
 * Poll until the job is finished or dead, or timeout seconds passed;
 * entry (NULL for a scheduled job) spares scanning the stream.
 */
static int
send_wait(cli_redis_t *r, const char *id, const char *entry,
    long long timeout)
{
    int              rc;
    PGconn          *pg;
    int64_t          deadline;
    cli_job_info_t   info;

    rc = cli_db_open(&pg, CMD);
    if (rc != CLI_EXIT_OK) {
        return rc;
    }

    deadline = cli_now_ms() + timeout * 1000;

    for ( ;; ) {
        rc = cli_job_find(r, pg, id, entry, &info);
        if (rc != CLI_EXIT_OK) {
            break;
        }

        if (info.state == CLI_JOB_FINISHED || info.state == CLI_JOB_DEAD) {
            cli_job_print(id, &info);
            rc = info.state == CLI_JOB_FINISHED && !info.expired
                 ? CLI_EXIT_OK : CLI_EXIT_FAIL;
            break;
        }

        if (cli_now_ms() >= deadline) {
            cli_job_print(id, &info);
            fprintf(stderr, CMD ": --wait: not finished after %lld s (it"
                    " stays queued; follow it with: webpush-cli job %s)\n",
                    timeout, id);
            rc = CLI_EXIT_FAIL;
            break;
        }

        usleep(SEND_POLL_US);
    }

    PQfinish(pg);

    return rc;
}
