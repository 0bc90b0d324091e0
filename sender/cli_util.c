/* webpush-cli: shared helpers (see cli_util.h). */

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "cli.h"
#include "cli_util.h"
#include "db.h"


static const char *
cli_env(const char *name)
{
    const char  *v;

    v = getenv(name);

    return (v && *v) ? v : NULL;
}


int
cli_redis_open(cli_redis_t *r, const char *cmd)
{
    const char      *p, *where;
    wp_err_t         e;
    redisReply      *rep;
    struct timeval   tv;

    memset(r, 0, sizeof(*r));
    r->cmd = cmd;

    if (wp_redis_conf_parse(cli_env("REDIS_URL"), cli_env("REDIS_HOST"),
                            cli_env("REDIS_PORT"), cli_env("REDIS_PASSWORD"),
                            &r->conf, &e) != 0)
    {
        fprintf(stderr, "%s: %s\n", cmd, e.message);
        return CLI_EXIT_CONFIG;
    }

    r->prefix = cli_env("WEBPUSH_QUEUE_PREFIX");
    if (r->prefix == NULL) {
        r->prefix = CLI_DEFAULT_PREFIX;
    }

    for (p = r->prefix; *p; p++) {
        if (!isgraph((unsigned char) *p)) {
            break;
        }
    }

    if (*p || p - r->prefix > CLI_MAX_PREFIX) {
        fprintf(stderr, "%s: WEBPUSH_QUEUE_PREFIX: at most %d printable"
                " characters without blanks\n", cmd, CLI_MAX_PREFIX);
        return CLI_EXIT_CONFIG;
    }

    tv.tv_sec = CLI_REDIS_TIMEOUT_MS / 1000;
    tv.tv_usec = (CLI_REDIS_TIMEOUT_MS % 1000) * 1000;

    if (r->conf.port == 0) {
        r->rc = redisConnectUnixWithTimeout(r->conf.host, tv);
    } else {
        r->rc = redisConnectWithTimeout(r->conf.host, r->conf.port, tv);
    }

    where = cli_env("REDIS_URL") ? "REDIS_URL" : "REDIS_HOST/REDIS_PORT";

    if (r->rc == NULL || r->rc->err) {
        fprintf(stderr, "%s: Redis at %s:%d (%s) unreachable: %s\n", cmd,
                r->conf.host, r->conf.port, where,
                r->rc ? r->rc->errstr : "out of memory");
        cli_redis_close(r);
        return CLI_EXIT_UNAVAIL;
    }

    redisSetTimeout(r->rc, tv);

    if (r->conf.password[0]) {
        rep = r->conf.user[0]
              ? redisCommand(r->rc, "AUTH %s %s", r->conf.user,
                             r->conf.password)
              : redisCommand(r->rc, "AUTH %s", r->conf.password);

        if (rep == NULL || rep->type == REDIS_REPLY_ERROR) {
            /* The reply never echoes the password; keep it out anyway. */
            fprintf(stderr, "%s: Redis at %s:%d refused the password (%s)\n",
                    cmd, r->conf.host, r->conf.port,
                    cli_env("REDIS_URL") ? "REDIS_URL" : "REDIS_PASSWORD");
            if (rep) {
                freeReplyObject(rep);
            }
            cli_redis_close(r);
            return rep ? CLI_EXIT_CONFIG : CLI_EXIT_UNAVAIL;
        }
        freeReplyObject(rep);
    }

    /* PING proves the server answers (and that no password is needed). */
    if (r->conf.db) {
        rep = cli_redis_cmd(r, "SELECT %d", r->conf.db);
    } else {
        rep = cli_redis_cmd(r, "PING");
    }

    if (rep == NULL) {
        cli_redis_close(r);
        return r->last_rc == CLI_EXIT_FAIL ? CLI_EXIT_CONFIG : r->last_rc;
    }
    freeReplyObject(rep);

    return CLI_EXIT_OK;
}


void
cli_redis_close(cli_redis_t *r)
{
    if (r->rc) {
        redisFree(r->rc);
        r->rc = NULL;
    }
}


redisReply *
cli_redis_cmd(cli_redis_t *r, const char *fmt, ...)
{
    va_list      ap;
    redisReply  *rep;

    if (r->rc == NULL) {
        fprintf(stderr, "%s: not connected to Redis\n", r->cmd);
        r->last_rc = CLI_EXIT_UNAVAIL;
        return NULL;
    }

    va_start(ap, fmt);
    rep = redisvCommand(r->rc, fmt, ap);
    va_end(ap);

    if (rep == NULL) {
        fprintf(stderr, "%s: Redis at %s:%d: %s\n", r->cmd, r->conf.host,
                r->conf.port,
                r->rc->errstr[0] ? r->rc->errstr : "connection lost");
        r->last_rc = CLI_EXIT_UNAVAIL;
        cli_redis_close(r);
        return NULL;
    }

    if (rep->type == REDIS_REPLY_ERROR) {
        fprintf(stderr, "%s: Redis: %.*s\n", r->cmd, (int) rep->len,
                rep->str);
        r->last_rc = strncmp(rep->str, "NOAUTH", 6) == 0
                     || strncmp(rep->str, "WRONGPASS", 9) == 0
                     ? CLI_EXIT_CONFIG : CLI_EXIT_FAIL;
        freeReplyObject(rep);
        return NULL;
    }

    return rep;
}


int
cli_redis_ensure_group(cli_redis_t *r)
{
    int          rc;
    redisReply  *rep;

    rep = redisCommand(r->rc, "XGROUP CREATE %sjobs senders 0 MKSTREAM",
                       r->prefix);
    if (rep == NULL) {
        fprintf(stderr, "%s: Redis: %s\n", r->cmd, r->rc->errstr);
        r->last_rc = CLI_EXIT_UNAVAIL;
        cli_redis_close(r);
        return CLI_EXIT_UNAVAIL;
    }

    rc = CLI_EXIT_OK;

    if (rep->type == REDIS_REPLY_ERROR
        && strncmp(rep->str, "BUSYGROUP", 9) != 0)
    {
        fprintf(stderr, "%s: Redis: %s\n", r->cmd, rep->str);
        rc = strncmp(rep->str, "NOAUTH", 6) == 0 ? CLI_EXIT_CONFIG
                                                 : CLI_EXIT_FAIL;
    }

    freeReplyObject(rep);

    return rc;
}


const char *
cli_glob_escape(const char *prefix, char *out, size_t cap)
{
    size_t  n;

    for (n = 0; *prefix && n + 3 < cap; prefix++) {
        if (strchr("*?[]\\", *prefix)) {
            out[n++] = '\\';
        }
        out[n++] = *prefix;
    }

    out[n] = '\0';

    return out;
}


/* One sender's line from its heartbeat hash. */
static int
cli_sender_line(cli_redis_t *r, const char *name)
{
    size_t       i;
    redisReply  *h;

    h = cli_redis_cmd(r, "HGETALL %ssender:%s", r->prefix, name);
    if (h == NULL) {
        return r->last_rc == CLI_EXIT_FAIL ? CLI_EXIT_OK : cli_redis_rc(r);
    }

    printf("  %s:", name);

    for (i = 0; h->type == REDIS_REPLY_ARRAY && i + 1 < h->elements; i += 2) {
        printf(" %s=%s", h->element[i]->str ? h->element[i]->str : "?",
               h->element[i + 1]->str ? h->element[i + 1]->str : "?");
    }

    printf("%s\n", h->elements ? "" : " (no heartbeat details)");
    freeReplyObject(h);

    return CLI_EXIT_OK;
}


typedef struct {
    int   print;
    int  *n;
} cli_senders_scan_t;


static int
cli_sender_key(cli_redis_t *r, const char *key, const char *name, void *ctx)
{
    cli_senders_scan_t  *st;

    st = ctx;
    (*st->n)++;

    return st->print ? cli_sender_line(r, name) : CLI_EXIT_OK;
}


int
cli_senders(cli_redis_t *r, int print, int *n)
{
    int                  rc;
    size_t               i;
    redisReply          *rep;
    cli_senders_scan_t   st;

    *n = 0;

    rep = cli_redis_cmd(r, "ZRANGEBYSCORE %ssenders %lld +inf", r->prefix,
                        (long long) (cli_now_ms() / 1000 - CLI_SENDER_LIVE_S));
    if (rep == NULL && r->last_rc != CLI_EXIT_FAIL) {
        return cli_redis_rc(r);
    }

    for (i = 0; rep && rep->type == REDIS_REPLY_ARRAY && i < rep->elements;
         i++)
    {
        (*n)++;
        if (print && (rc = cli_sender_line(r, rep->element[i]->str))
                     != CLI_EXIT_OK)
        {
            freeReplyObject(rep);
            return rc;
        }
    }

    if (rep) {
        freeReplyObject(rep);
    }

    if (*n > 0) {
        return CLI_EXIT_OK;
    }

    /* Senders that keep only the expiring hash. */
    st.print = print;
    st.n = n;

    return cli_redis_scan(r, "sender", cli_sender_key, &st);
}


int
cli_redis_scan(cli_redis_t *r, const char *kind, cli_scan_pt fn, void *ctx)
{
    int          rc;
    char         cursor[32], pat[300];
    size_t       i, plen;
    redisReply  *rep, *keys;

    cli_glob_escape(r->prefix, pat, sizeof(pat) - strlen(kind) - 3);
    strcat(pat, kind);
    strcat(pat, ":*");
    plen = strlen(r->prefix) + strlen(kind) + 1;
    snprintf(cursor, sizeof(cursor), "0");

    do {
        rep = cli_redis_cmd(r, "SCAN %s MATCH %s COUNT 1000", cursor, pat);
        if (rep == NULL) {
            return cli_redis_rc(r);
        }

        if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 2) {
            freeReplyObject(rep);
            break;
        }

        snprintf(cursor, sizeof(cursor), "%s", rep->element[0]->str);
        keys = rep->element[1];

        for (i = 0; i < keys->elements; i++) {
            rc = fn(r, keys->element[i]->str, keys->element[i]->str + plen,
                    ctx);
            if (rc != CLI_EXIT_OK) {
                freeReplyObject(rep);
                return rc == CLI_SCAN_STOP ? CLI_EXIT_OK : rc;
            }
        }

        freeReplyObject(rep);

    } while (strcmp(cursor, "0") != 0);

    return CLI_EXIT_OK;
}


int
cli_redis_rc(const cli_redis_t *r)
{
    return r->last_rc ? r->last_rc : CLI_EXIT_FAIL;
}


long long
cli_reply_int(const redisReply *rep, long long def)
{
    char  *end;
    long long  n;

    if (rep == NULL) {
        return def;
    }

    if (rep->type == REDIS_REPLY_INTEGER) {
        return rep->integer;
    }

    if (rep->type == REDIS_REPLY_STRING && rep->len > 0) {
        n = strtoll(rep->str, &end, 10);
        return *end == '\0' ? n : def;
    }

    return def;
}


const redisReply *
cli_reply_field(const redisReply *fields, const char *name)
{
    size_t  i;

    if (fields == NULL || fields->type != REDIS_REPLY_ARRAY) {
        return NULL;
    }

    for (i = 0; i + 1 < fields->elements; i += 2) {
        if (fields->element[i]->type == REDIS_REPLY_STRING
            && strcmp(fields->element[i]->str, name) == 0)
        {
            return fields->element[i + 1];
        }
    }

    return NULL;
}


int
cli_db_rc(int rc)
{
    switch (rc) {
    case WP_DB_OK:
        return CLI_EXIT_OK;
    case WP_DB_CONFIG:
        return CLI_EXIT_CONFIG;
    case WP_DB_UNAVAIL:
        return CLI_EXIT_UNAVAIL;
    default:
        return CLI_EXIT_FAIL;
    }
}


int
cli_db_open(PGconn **conn, const char *cmd)
{
    int   rc;
    char  err[WP_DB_ERRLEN];

    *conn = NULL;

    rc = wp_db_connect_env(conn, "DATABASE_URL", "webpush-cli", err,
                           sizeof(err));
    if (rc != WP_DB_OK) {
        fprintf(stderr, "%s: %s\n", cmd, err);
        *conn = NULL;
    }

    return cli_db_rc(rc);
}


int64_t
cli_now_ms(void)
{
    struct timeval  tv;

    gettimeofday(&tv, NULL);

    return (int64_t) tv.tv_sec * 1000 + tv.tv_usec / 1000;
}


const char *
cli_time_text(int64_t ms, char *buf, size_t len)
{
    time_t     t;
    struct tm  tm;

    t = (time_t) (ms / 1000);

    if (gmtime_r(&t, &tm) == NULL
        || strftime(buf, len, "%Y-%m-%d %H:%M:%SZ", &tm) == 0)
    {
        snprintf(buf, len, "%lld", (long long) ms);
    }

    return buf;
}


int
cli_parse_int(const char *cmd, const char *opt, const char *v,
    long long min, long long max, long long *out)
{
    char       *end;
    long long   n;

    if (!isdigit((unsigned char) v[0]) || strlen(v) > 18) {
        goto bad;
    }

    n = strtoll(v, &end, 10);
    if (*end != '\0' || n < min || n > max) {
        goto bad;
    }

    *out = n;

    return 0;

bad:

    fprintf(stderr, "%s: %s: \"%.32s\" is not a number from %lld to %lld\n",
            cmd, opt, v, min, max);

    return -1;
}


int
cli_servers_open(PGconn **conn, cli_redis_t *r, const char *cmd)
{
    int  rc;

    rc = cli_db_open(conn, cmd);
    if (rc != CLI_EXIT_OK) {
        return rc;
    }

    rc = cli_redis_open(r, cmd);
    if (rc != CLI_EXIT_OK) {
        PQfinish(*conn);
        *conn = NULL;
    }

    return rc;
}
