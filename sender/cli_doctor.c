/*
 * webpush-cli doctor: the seed's troubleshooting list, checked.  Each
 * check prints "ok", "warn" or "FAIL" with what it saw and, when not ok,
 * one line saying what to do.  Read-only: it changes nothing anywhere.
 *
 *   env        DATABASE_URL, REDIS_*, WEBPUSH_ALLOWED_ENDPOINTS, CA file
 *   database   reachable; every sql/ migration applied (unchanged)
 *   redis      reachable; keeps an AOF (else a restart loses the queue)
 *   vapid      key pair valid and matching; subject acceptable to Apple
 *   clock      local time against PostgreSQL's and Redis's (JWT exp)
 *   senders    live heartbeats under WEBPUSH_QUEUE_PREFIX
 *   queue      age of the oldest waiting job; dead letters
 *   api        with --api URL: the module's health route answers 200 and
 *              serves the same VAPID public key (CA: WEBPUSH_CA_FILE or
 *              API_CA_FILE)
 *
 * Exit codes: 0 every check ok; 3 a configuration check failed; 4 a
 * server was unreachable (and no configuration failure); 1 anything else
 * failed or warned; 2 bad command line.
 */

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "cli.h"
#include "cli_util.h"
#include "config.h"
#include "db.h"
#include "vapid.h"

#define CMD                "webpush-cli doctor"
#define DOC_SKEW_WARN_MS   2000
#define DOC_SKEW_FAIL_MS   60000
#define DOC_LAG_WARN_MS    60000
#define DOC_LAG_FAIL_MS    600000
#define DOC_API_TIMEOUT_MS 5000
#define DOC_BODY_MAX       4096

typedef enum {
    DOC_OK = 0,
    DOC_WARN,
    DOC_FAIL,           /* something else is wrong */
    DOC_FAIL_CONFIG,    /* fix the environment */
    DOC_FAIL_UNAVAIL    /* a server cannot be reached */
} doc_level_t;

typedef struct {
    int            worst_config, worst_unavail, other;
    PGconn        *pg;
    cli_redis_t    r;
    int            redis_ok;
    const char    *api;
} doctor_t;

typedef struct {
    char    data[DOC_BODY_MAX];
    size_t  len;
} doc_body_t;


/* Print one check: level, name, what was seen; then the remedy if any. */
static void
doc_report(doctor_t *d, doc_level_t lv, const char *name, const char *remedy,
    const char *fmt, ...)
{
    va_list      ap;
    const char  *tag;

    tag = lv == DOC_OK ? "ok  " : lv == DOC_WARN ? "warn" : "FAIL";

    printf("%s  %-9s ", tag, name);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");

    if (lv != DOC_OK && remedy != NULL) {
        printf("                -> %s\n", remedy);
    }

    fflush(stdout);

    if (lv == DOC_FAIL_CONFIG) {
        d->worst_config = 1;
    } else if (lv == DOC_FAIL_UNAVAIL) {
        d->worst_unavail = 1;
    } else if (lv != DOC_OK) {
        d->other = 1;
    }
}


static void
doc_env(doctor_t *d)
{
    char                   msg[512];
    const char            *ca;
    wp_endpoint_policy_t  *pol;

    if (wp_conf_policy(&pol, msg, sizeof(msg)) != 0) {
        doc_report(d, DOC_FAIL_CONFIG, "env", "fix WEBPUSH_ALLOWED_ENDPOINTS"
                   " (comma-separated host[:port] list; unset = the real"
                   " push services)", "%s", msg);
    } else {
        wp_endpoint_policy_free(pol);
        doc_report(d, DOC_OK, "env", NULL, "WEBPUSH_ALLOWED_ENDPOINTS %s",
                   getenv("WEBPUSH_ALLOWED_ENDPOINTS")
                   && *getenv("WEBPUSH_ALLOWED_ENDPOINTS")
                   ? "set" : "unset: the real push services only");
    }

    ca = getenv("WEBPUSH_CA_FILE");
    if (ca != NULL && *ca && access(ca, R_OK) != 0) {
        doc_report(d, DOC_FAIL_CONFIG, "env", "point WEBPUSH_CA_FILE at a"
                   " readable PEM file, or unset it", "WEBPUSH_CA_FILE \"%s\""
                   " cannot be read", ca);
    }
}


static void
doc_database(doctor_t *d)
{
    int    rc, total, pending, changed;
    char   err[WP_DB_ERRLEN], desc[256];

    rc = wp_db_connect_env(&d->pg, "DATABASE_URL", "webpush-cli doctor", err,
                           sizeof(err));
    if (rc != WP_DB_OK) {
        d->pg = NULL;
        doc_report(d, rc == WP_DB_CONFIG ? DOC_FAIL_CONFIG : DOC_FAIL_UNAVAIL,
                   "database", rc == WP_DB_CONFIG
                   ? "set DATABASE_URL=postgresql://USER:PASSWORD@HOST:5432/DB"
                   : "is PostgreSQL running there, and are the host, port,"
                     " user and password in DATABASE_URL right?", "%s", err);
        return;
    }

    doc_report(d, DOC_OK, "database", NULL, "PostgreSQL %s reachable",
               wp_db_describe(d->pg, desc, sizeof(desc)));

    rc = cli_migrate_check(d->pg, &total, &pending, &changed);
    if (rc != CLI_EXIT_OK) {
        doc_report(d, rc == CLI_EXIT_CONFIG ? DOC_FAIL_CONFIG : DOC_FAIL,
                   "schema", "set WEBPUSH_SQL_DIR to the sql/ directory, then"
                   " run: webpush-cli migrate --status",
                   "cannot compare sql/ with webpush_schema_migrations");

    } else if (pending > 0) {
        doc_report(d, DOC_FAIL, "schema", "run: webpush-cli migrate",
                   "%d of %d migrations pending", pending, total);

    } else if (changed > 0) {
        doc_report(d, DOC_WARN, "schema", "see webpush-cli migrate --status;"
                   " put schema changes in a new migration file",
                   "%d applied migration%s changed since", changed,
                   changed == 1 ? "" : "s");

    } else {
        doc_report(d, DOC_OK, "schema", NULL, "all %d migrations applied",
                   total);
    }
}


static void
doc_redis(doctor_t *d)
{
    int                rc;
    redisReply        *rep;
    const redisReply  *v;

    /* It also tells why on stderr; the report stays on stdout. */
    rc = cli_redis_open(&d->r, CMD);

    if (rc != CLI_EXIT_OK) {
        doc_report(d, rc == CLI_EXIT_CONFIG ? DOC_FAIL_CONFIG
                                            : DOC_FAIL_UNAVAIL,
                   "redis", rc == CLI_EXIT_CONFIG
                   ? "fix REDIS_URL (redis://[:PASSWORD@]HOST:PORT[/DB]) or"
                     " REDIS_HOST/REDIS_PORT/REDIS_PASSWORD"
                   : "is Redis running there?  check REDIS_URL or"
                     " REDIS_HOST/REDIS_PORT",
                   "Redis at %s:%d %s", d->r.conf.host, d->r.conf.port,
                   rc == CLI_EXIT_CONFIG ? "refused the configuration"
                                         : "unreachable");
        return;
    }

    d->redis_ok = 1;
    doc_report(d, DOC_OK, "redis", NULL, "Redis at %s:%d reachable, key"
               " prefix %s", d->r.conf.host, d->r.conf.port, d->r.prefix);

    rep = redisCommand(d->r.rc, "CONFIG GET appendonly");
    if (rep == NULL) {
        return;
    }

    v = rep->type == REDIS_REPLY_ARRAY && rep->elements == 2
        ? rep->element[1] : NULL;

    if (v && v->type == REDIS_REPLY_STRING && strcmp(v->str, "no") == 0) {
        doc_report(d, DOC_WARN, "redis", "set appendonly yes (and"
                   " appendfsync everysec) in redis.conf",
                   "appendonly is off: a Redis restart loses queued jobs");
    }
    /* CONFIG may be renamed away (managed Redis): nothing to say then. */

    freeReplyObject(rep);
}


static void
doc_vapid(doctor_t *d)
{
    char             msg[512];
    wp_err_t         e;
    const char      *subject;
    wp_vapid_key_t  *key;

    subject = getenv("VAPID_SUBJECT");

    if (subject == NULL || *subject == '\0') {
        doc_report(d, DOC_FAIL_CONFIG, "subject", "set VAPID_SUBJECT="
                   "mailto:ops@your-domain (or an https: URL of yours)",
                   "VAPID_SUBJECT is not set");

    } else if (wp_vapid_check_subject(subject, &e) != 0) {
        doc_report(d, DOC_FAIL_CONFIG, "subject", "use mailto:someone@a-real-"
                   "domain or https://your-site (Apple answers 403"
                   " BadJwtToken otherwise)", "%s", e.message);

    } else {
        doc_report(d, DOC_OK, "subject", NULL, "VAPID_SUBJECT %s is"
                   " acceptable to Apple, Google, Mozilla and Microsoft",
                   subject);
    }

    if (wp_conf_vapid(&key, &subject, msg, sizeof(msg)) != 0) {
        if (strncmp(msg, "VAPID_SUBJECT", 13) == 0) {
            doc_report(d, DOC_OK, "vapid", NULL, "keys not checked past the"
                       " subject");
            return;
        }
        doc_report(d, DOC_FAIL_CONFIG, "vapid", "make a pair with: webpush-cli"
                   " generate-vapid-keys (changing keys invalidates every"
                   " subscription)", "%s", msg);
        return;
    }

    wp_vapid_key_free(key);
    doc_report(d, DOC_OK, "vapid", NULL, "VAPID key pair valid and matching");
}


/* Report a skew; remote_ms read between t0 and t1 (local ms). */
static void
doc_skew(doctor_t *d, const char *what, int64_t remote_ms, int64_t t0,
    int64_t t1)
{
    int64_t  skew;

    skew = remote_ms - (t0 + t1) / 2;

    if (llabs(skew) > DOC_SKEW_FAIL_MS) {
        doc_report(d, DOC_FAIL, "clock", "run NTP (systemd-timesyncd, chrony)"
                   " on every machine: VAPID tokens carry an expiry push"
                   " services check", "%s clock differs from ours by %.1f s",
                   what, skew / 1000.0);
    } else if (llabs(skew) > DOC_SKEW_WARN_MS) {
        doc_report(d, DOC_WARN, "clock", "run NTP (systemd-timesyncd, chrony)"
                   " on every machine", "%s clock differs from ours by %.1f s",
                   what, skew / 1000.0);
    } else {
        doc_report(d, DOC_OK, "clock", NULL, "%s clock within %.1f s of ours",
                   what, fabs(skew / 1000.0) < 0.05 ? 0.0
                                                    : llabs(skew) / 1000.0);
    }
}


static void
doc_clock(doctor_t *d)
{
    char         err[WP_DB_ERRLEN];
    int64_t      t0, t1, ms;
    PGresult    *res;
    redisReply  *rep;

    if (d->pg) {
        t0 = cli_now_ms();
        if (wp_db_exec(d->pg, "SELECT (extract(epoch FROM clock_timestamp())"
                       " * 1000)::bigint", 0, NULL, &res, err, sizeof(err))
            == WP_DB_OK)
        {
            t1 = cli_now_ms();
            ms = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
            doc_skew(d, "PostgreSQL's", ms, t0, t1);
        }
        PQclear(res);
    }

    if (d->redis_ok) {
        t0 = cli_now_ms();
        rep = redisCommand(d->r.rc, "TIME");
        t1 = cli_now_ms();

        if (rep && rep->type == REDIS_REPLY_ARRAY && rep->elements == 2) {
            ms = strtoll(rep->element[0]->str, NULL, 10) * 1000
                 + strtoll(rep->element[1]->str, NULL, 10) / 1000;
            doc_skew(d, "Redis's", ms, t0, t1);
        }

        if (rep) {
            freeReplyObject(rep);
        }
    }
}


static void
doc_senders(doctor_t *d)
{
    int  n;

    if (cli_senders(&d->r, 0, &n) != CLI_EXIT_OK) {
        doc_report(d, DOC_FAIL_UNAVAIL, "senders", NULL, "Redis went away");
        return;
    }

    if (n == 0) {
        doc_report(d, DOC_FAIL, "senders", "start webpush-sender (e.g."
                   " systemctl start webpush-sender@1) with this"
                   " WEBPUSH_QUEUE_PREFIX and REDIS_URL; its log says why it"
                   " stopped", "no live sender under prefix %s: nothing is"
                   " being delivered", d->r.prefix);
    } else {
        doc_report(d, DOC_OK, "senders", NULL, "%d sender%s alive", n,
                   n == 1 ? "" : "s");
    }
}


/* Stream entry id -> its milliseconds. */
static int64_t
doc_id_ms(const char *id)
{
    return strtoll(id, NULL, 10);
}


static void
doc_queue(doctor_t *d)
{
    char               from[80], remedy[300];
    size_t             i;
    int                group;
    int64_t            age;
    long long          dead, len;
    redisReply        *rep, *g;
    const redisReply  *last;

    snprintf(from, sizeof(from), "-");
    group = 0;

    /* The first entry after the group's last-delivered id is waiting. */
    rep = redisCommand(d->r.rc, "XINFO GROUPS %sjobs", d->r.prefix);
    if (rep && rep->type == REDIS_REPLY_ARRAY) {
        for (i = 0; i < rep->elements; i++) {
            g = rep->element[i];
            if (strcmp(cli_reply_field(g, "name")
                       ? cli_reply_field(g, "name")->str : "", "senders")
                == 0 && (last = cli_reply_field(g, "last-delivered-id"))
                && last->type == REDIS_REPLY_STRING)
            {
                snprintf(from, sizeof(from), "(%s", last->str);
                group = 1;
            }
        }
    }

    if (rep) {
        freeReplyObject(rep);
    }

    /*
     * Jobs in a stream without the group: a sender creating the group at
     * "$" would never see them.
     */
    rep = redisCommand(d->r.rc, "XLEN %sjobs", d->r.prefix);
    len = cli_reply_int(rep, 0);
    if (rep) {
        freeReplyObject(rep);
    }

    if (!group && len > 0) {
        snprintf(remedy, sizeof(remedy), "create the group from the start"
                 " of the stream: redis-cli XGROUP CREATE '%sjobs' senders 0",
                 d->r.prefix);
        doc_report(d, DOC_FAIL, "queue", remedy, "%lld job%s in %sjobs but"
                   " no consumer group \"senders\": a sender that creates it"
                   " at \"$\" never sees them", len, len == 1 ? "" : "s",
                   d->r.prefix);
        goto dead;
    }

    rep = redisCommand(d->r.rc, "XRANGE %sjobs %s + COUNT 1", d->r.prefix,
                       from);
    age = -1;

    if (rep && rep->type == REDIS_REPLY_ARRAY && rep->elements == 1) {
        age = cli_now_ms() - doc_id_ms(rep->element[0]->element[0]->str);
    }

    if (rep) {
        freeReplyObject(rep);
    }

    if (age < 0) {
        doc_report(d, DOC_OK, "queue", NULL, "no job waiting");
    } else if (age > DOC_LAG_FAIL_MS) {
        doc_report(d, DOC_FAIL, "queue", "start more senders, or see why they"
                   " do not take jobs (webpush-cli stats; their logs)",
                   "oldest waiting job queued %lld s ago",
                   (long long) age / 1000);
    } else if (age > DOC_LAG_WARN_MS) {
        doc_report(d, DOC_WARN, "queue", "senders are behind: start more, or"
                   " check their logs", "oldest waiting job queued %lld s ago",
                   (long long) age / 1000);
    } else {
        doc_report(d, DOC_OK, "queue", NULL, "oldest waiting job queued"
                   " %lld s ago", (long long) age / 1000);
    }

dead:

    rep = redisCommand(d->r.rc, "XLEN %sdead", d->r.prefix);
    dead = cli_reply_int(rep, 0);
    if (rep) {
        freeReplyObject(rep);
    }

    if (dead > 0) {
        doc_report(d, DOC_WARN, "dead", "inspect them: webpush-cli dead list;"
                   " replay with dead retry, or dead drop",
                   "%lld dead-lettered entr%s", dead, dead == 1 ? "y" : "ies");
    }
}


static size_t
doc_body_cb(char *p, size_t size, size_t n, void *ud)
{
    size_t       len;
    doc_body_t  *b = ud;

    len = size * n;
    if (len > sizeof(b->data) - 1 - b->len) {
        len = sizeof(b->data) - 1 - b->len;
    }

    memcpy(b->data + b->len, p, len);
    b->len += len;
    b->data[b->len] = '\0';

    return size * n;
}


/* GET base + path; returns the status (0: no answer, err says why). */
static long
doc_get(const char *base, const char *path, const char *ca, doc_body_t *body,
    char *err)
{
    long       status;
    char       url[1024];
    CURL      *c;
    CURLcode   cc;

    snprintf(url, sizeof(url), "%s%s", base, path);
    memset(body, 0, sizeof(*body));
    err[0] = '\0';
    status = 0;

    c = curl_easy_init();
    if (c == NULL) {
        snprintf(err, CURL_ERROR_SIZE, "libcurl initialisation failed");
        return 0;
    }

    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long) DOC_API_TIMEOUT_MS);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long) DOC_API_TIMEOUT_MS);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, doc_body_cb);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, body);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, err);
    if (ca) {
        curl_easy_setopt(c, CURLOPT_CAINFO, ca);
    }

    cc = curl_easy_perform(c);
    if (cc == CURLE_OK) {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    } else if (err[0] == '\0') {
        snprintf(err, CURL_ERROR_SIZE, "%s", curl_easy_strerror(cc));
    }

    curl_easy_cleanup(c);

    return status;
}


static void
doc_api(doctor_t *d)
{
    long         status;
    char         base[900], err[CURL_ERROR_SIZE], want[160];
    size_t       n;
    doc_body_t   body;
    const char  *ca, *pub;

    ca = getenv("WEBPUSH_CA_FILE");
    if (ca == NULL || *ca == '\0') {
        ca = getenv("API_CA_FILE");
        ca = ca && *ca ? ca : NULL;
    }

    /* The base URL: cut a trailing slash or a route given by mistake. */
    snprintf(base, sizeof(base), "%s", d->api);
    n = strlen(base);
    if (n > 16 && strcmp(base + n - 16, "/api/push/health") == 0) {
        base[n - 16] = '\0';
    }
    n = strlen(base);
    while (n > 0 && base[n - 1] == '/') {
        base[--n] = '\0';
    }

    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        doc_report(d, DOC_FAIL, "api", NULL, "libcurl initialisation failed");
        return;
    }

    status = doc_get(base, "/api/push/health", ca, &body, err);

    if (status == 0) {
        doc_report(d, DOC_FAIL_UNAVAIL, "api", strstr(err, "certificate")
                   ? "give the API's CA with WEBPUSH_CA_FILE or API_CA_FILE"
                   : "is nginx running with the module, and the URL right?",
                   "%s/api/push/health: %s", base, err);
        curl_global_cleanup();
        return;
    }

    /* The body says which dependency is down: show it. */
    for (n = 0; n < body.len; n++) {
        if (body.data[n] == '\n' || body.data[n] == '\r') {
            body.data[n] = ' ';
        }
    }

    doc_report(d, status == 200 ? DOC_OK : DOC_FAIL, "api",
               "see the health body above and nginx's error log",
               "%s/api/push/health: %ld %.300s", base, status, body.data);

    pub = getenv("VAPID_PUBLIC_KEY");
    status = doc_get(base, "/api/push/vapid-public-key", ca, &body, err);

    if (status == 200 && pub && *pub) {
        snprintf(want, sizeof(want), "\"%s\"", pub);
        if (strstr(body.data, want) == NULL) {
            doc_report(d, DOC_FAIL_CONFIG, "api", "give nginx and the"
                       " senders the same VAPID_PUBLIC_KEY/VAPID_PRIVATE_KEY",
                       "the module serves another VAPID public key than"
                       " VAPID_PUBLIC_KEY: browsers subscribe with a key the"
                       " senders cannot sign for");
        } else {
            doc_report(d, DOC_OK, "api", NULL, "the module serves the same"
                       " VAPID public key");
        }
    }

    curl_global_cleanup();
}


int
cli_doctor(int argc, char **argv)
{
    int       i;
    doctor_t  d;

    memset(&d, 0, sizeof(d));

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--api") == 0 && i + 1 < argc) {
            d.api = argv[++i];
        } else {
            fprintf(stderr, CMD ": unknown option \"%s\"\n", argv[i]);
            cli_usage("doctor", 1);
            return CLI_EXIT_USAGE;
        }
    }

    doc_env(&d);
    doc_database(&d);
    doc_redis(&d);
    doc_vapid(&d);
    doc_clock(&d);

    if (d.redis_ok) {
        doc_senders(&d);
        doc_queue(&d);
    }

    if (d.api) {
        doc_api(&d);
    }

    if (d.pg) {
        PQfinish(d.pg);
    }
    cli_redis_close(&d.r);

    if (d.worst_config) {
        return CLI_EXIT_CONFIG;
    }

    if (d.worst_unavail) {
        return CLI_EXIT_UNAVAIL;
    }

    return d.other ? CLI_EXIT_FAIL : CLI_EXIT_OK;
}
