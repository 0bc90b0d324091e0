/*
 * Unit tests: sender/aredis.c, the non-blocking Redis link, against a
 * real redis-server of its own (a unix socket in a temporary directory,
 * with a password, the link on db 2), stopped with SIGSTOP to play a
 * hung Redis: commands return at once, the loop rounds stay short, the
 * reply arrives after SIGCONT; a reply later than the timeout drops the
 * link (callbacks without a reply) and the link comes back; at most
 * WP_AREDIS_MAX_PENDING commands wait; a wrong password and a Redis gone
 * for good block nothing either.  Skipped without redis-server.
 */

#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tap.h"
#include "aredis.h"

#define ROUND_MS   20       /* one loop round's wait, as the engine's */
#define SLOW_MS    100      /* a round this long would mean a block */

typedef struct {
    int   calls;
    int   nulls;
    char  last[64];
    char  key[64];
} got_t;


static int64_t
now_ms(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);

    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}


static void
on_reply(void *ctx, const char *key, redisReply *r)
{
    got_t  *g;

    g = ctx;
    g->calls++;
    snprintf(g->key, sizeof(g->key), "%s", key);

    if (r == NULL) {
        g->nulls++;
        g->last[0] = '\0';
    } else if (r->type == REDIS_REPLY_NIL) {
        snprintf(g->last, sizeof(g->last), "(nil)");
    } else {
        snprintf(g->last, sizeof(g->last), "%s", r->str != NULL ? r->str : "");
    }
}


/* One loop round as the engine's: wait on the link's fd, then handle. */
static int64_t
round_ms(wp_aredis_t *a)
{
    int64_t        t0;
    struct pollfd  pfd;

    t0 = now_ms();
    pfd.revents = 0;
    pfd.events = (short) wp_aredis_events(a);
    pfd.fd = pfd.events != 0 ? wp_aredis_fd(a) : -1;
    (void) poll(&pfd, 1, ROUND_MS);
    wp_aredis_handle(a, pfd.revents);

    return now_ms() - t0;
}


/* Rounds until *calls reaches want or limit_ms passed; the longest round
 * in *longest. */
static int
run_until(wp_aredis_t *a, const int *calls, int want, int64_t limit_ms,
    int64_t *longest)
{
    int64_t  end, d;

    end = now_ms() + limit_ms;
    *longest = 0;

    while (*calls < want && now_ms() < end) {
        d = round_ms(a);
        *longest = d > *longest ? d : *longest;
    }

    return *calls >= want;
}


static pid_t
redis_start(const char *dir, const char *sock)
{
    int            i;
    pid_t          pid;
    redisContext  *c;
    redisReply    *r;

    pid = fork();
    if (pid == 0) {
        if (freopen("/dev/null", "w", stdout) == NULL) {
            _exit(127);
        }
        execlp("redis-server", "redis-server", "--port", "0", "--unixsocket",
               sock, "--dir", dir, "--save", "", "--appendonly", "no",
               "--requirepass", "s3cret", (char *) NULL);
        _exit(127);
    }

    /* ready when it answers (up to 10 s) */
    for (i = 0; i < 1000; i++) {
        c = redisConnectUnix(sock);
        if (c != NULL && !c->err) {
            r = redisCommand(c, "PING");
            if (r != NULL) {
                freeReplyObject(r);
                redisFree(c);
                return pid;
            }
        }
        if (c != NULL) {
            redisFree(c);
        }
        poll(NULL, 0, 10);
    }

    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);

    return -1;
}


/* GET key in db with a blocking client of the test's own. */
static void
sync_get(const char *sock, int db, const char *key, char *out, size_t cap)
{
    redisContext  *c;
    redisReply    *r;

    snprintf(out, cap, "(error)");
    c = redisConnectUnix(sock);
    if (c == NULL || c->err) {
        goto done;
    }

    r = redisCommand(c, "AUTH s3cret");
    if (r != NULL) {
        freeReplyObject(r);
    }
    r = redisCommand(c, "SELECT %d", db);
    if (r != NULL) {
        freeReplyObject(r);
    }
    r = redisCommand(c, "GET %s", key);
    if (r != NULL) {
        snprintf(out, cap, "%s", r->type == REDIS_REPLY_STRING ? r->str
                                                               : "(nil)");
        freeReplyObject(r);
    }

done:

    if (c != NULL) {
        redisFree(c);
    }
}


int
main(void)
{
    int              i, rc, sent;
    char             dir[] = "/tmp/wp-aredis-XXXXXX", sock[128], v[64];
    pid_t            pid;
    got_t            g;
    int64_t          t0, d, longest;
    wp_log_t         log;
    wp_aredis_t      a, bad;
    wp_redis_conf_t  conf;

    signal(SIGPIPE, SIG_IGN);       /* as webpush-sender: a dead link */

    if (system("command -v redis-server >/dev/null 2>&1") != 0) {
        printf("# skipped: redis-server not found\n");
        return tap_done();
    }

    if (mkdtemp(dir) == NULL) {
        ok(0, "temporary directory");
        return tap_done();
    }

    snprintf(sock, sizeof(sock), "%s/redis.sock", dir);
    pid = redis_start(dir, sock);
    ok(pid > 0, "a private redis-server is up");
    if (pid <= 0) {
        return tap_done();
    }

    log.level = WP_LOG_DEBUG;
    log.component = "test";
    log.instance = NULL;

    memset(&conf, 0, sizeof(conf));
    snprintf(conf.host, sizeof(conf.host), "%s", sock);
    snprintf(conf.password, sizeof(conf.password), "s3cret");
    conf.db = 2;

    /* ---- AUTH and SELECT go first ----------------------------------- */
    wp_aredis_init(&a, &conf, 1000, &log);
    memset(&g, 0, sizeof(g));
    rc = wp_aredis_cmd(&a, on_reply, &g, "k1", "SET %s %s", "aredis:k",
                       "v1");
    is_int(rc, 0, "a command is taken while the link connects");
    ok(run_until(&a, &g.calls, 1, 5000, &longest), "its reply comes");
    is_str(g.last, "OK", "... OK (AUTH went first)");
    is_str(g.key, "k1", "... the callback gets its key back");
    sync_get(sock, 2, "aredis:k", v, sizeof(v));
    is_str(v, "v1", "written to db 2 (SELECT went first)");
    sync_get(sock, 0, "aredis:k", v, sizeof(v));
    is_str(v, "(nil)", "... not db 0");
    is_int(wp_aredis_pending(&a), 0, "nothing waiting");

    /* ---- a stopped Redis blocks nothing ------------------------------ */
    kill(pid, SIGSTOP);
    memset(&g, 0, sizeof(g));
    t0 = now_ms();
    rc = wp_aredis_cmd(&a, on_reply, &g, "k2", "GET %s", "aredis:k");
    d = now_ms() - t0;
    ok(rc == 0 && d < SLOW_MS, "Redis stopped: the command returns at once"
       " (%lld ms)", (long long) d);
    ok(wp_aredis_events(&a) != 0, "... and the link asks to be waited for");

    longest = 0;
    for (i = 0; i < 10; i++) {
        d = round_ms(&a);
        longest = d > longest ? d : longest;
    }
    ok(longest < SLOW_MS, "10 loop rounds go on, none held (longest %lld"
       " ms)", (long long) longest);
    is_int(g.calls, 0, "... no reply while it is stopped");
    is_int(wp_aredis_pending(&a), 1, "... one command waiting");

    kill(pid, SIGCONT);
    ok(run_until(&a, &g.calls, 1, 5000, &longest),
       "SIGCONT: the reply arrives");
    is_str(g.last, "v1", "... with the value");
    is_int(g.nulls, 0, "... a real reply");

    /* ---- no reply within the timeout: the link is dropped ------------ */
    kill(pid, SIGSTOP);
    memset(&g, 0, sizeof(g));
    t0 = now_ms();
    rc = wp_aredis_cmd(&a, on_reply, &g, "k3", "GET %s", "aredis:k");
    is_int(rc, 0, "Redis stopped again: a command sent");
    ok(run_until(&a, &g.calls, 1, 5000, &longest),
       "... its callback comes without Redis");
    d = now_ms() - t0;
    is_int(g.nulls, 1, "... with no reply (link dropped)");
    ok(d >= 900 && d < 2000, "... after the 1 s timeout (%lld ms)",
       (long long) d);
    ok(longest < SLOW_MS, "... no loop round held meanwhile (longest %lld"
       " ms)", (long long) longest);
    ok(wp_aredis_fd(&a) < 0, "... the link is down");
    kill(pid, SIGCONT);

    /* ---- the link comes back after a backoff ------------------------- */
    memset(&g, 0, sizeof(g));
    t0 = now_ms();
    sent = 0;
    while (now_ms() - t0 < 5000) {
        if (wp_aredis_cmd(&a, on_reply, &g, "k4", "GET %s",
                          "aredis:k") == 0)
        {
            sent = 1;
            break;
        }
        (void) round_ms(&a);
    }
    ok(sent, "after the backoff a command is sent again (%lld ms)",
       (long long) (now_ms() - t0));
    ok(run_until(&a, &g.calls, 1, 5000, &longest) && g.nulls == 0,
       "... on a new link, answered");
    is_str(g.last, "v1", "... the value (AUTH and SELECT again)");
    ok(a.dropped > 0, "commands refused while down were counted (%lld)",
       (long long) a.dropped);

    /* ---- a bounded number of commands wait --------------------------- */
    kill(pid, SIGSTOP);
    sent = 0;
    for (i = 0; i < WP_AREDIS_MAX_PENDING; i++) {
        sent += wp_aredis_cmd(&a, NULL, NULL, NULL, "SET aredis:n%d x", i)
                == 0;
    }
    is_int(sent, WP_AREDIS_MAX_PENDING, "Redis stopped: %d writes waiting",
           WP_AREDIS_MAX_PENDING);
    d = a.dropped;
    is_int(wp_aredis_cmd(&a, NULL, NULL, NULL, "SET aredis:over x"), -1,
           "... one more is dropped");
    is_int(a.dropped, d + 1, "... and counted");
    kill(pid, SIGCONT);
    t0 = now_ms() + 5000;
    while (wp_aredis_pending(&a) > 0 && now_ms() < t0) {
        (void) round_ms(&a);
    }
    is_int(wp_aredis_pending(&a), 0, "SIGCONT: all of them answered");
    sync_get(sock, 2, "aredis:n1023", v, sizeof(v));
    is_str(v, "x", "... and written");

    /* ---- a wrong password -------------------------------------------- */
    snprintf(conf.password, sizeof(conf.password), "wrong");
    wp_aredis_init(&bad, &conf, 1000, &log);
    memset(&g, 0, sizeof(g));
    rc = wp_aredis_cmd(&bad, on_reply, &g, "k5", "GET %s", "aredis:k");
    ok(rc == 0 && run_until(&bad, &g.calls, 1, 5000, &longest),
       "wrong password: the command is answered");
    is_int(g.nulls, 1, "... without a reply: AUTH refused, link dropped");
    wp_aredis_free(&bad);

    /* ---- Redis gone for good ----------------------------------------- */
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
    memset(&g, 0, sizeof(g));
    t0 = now_ms();
    rc = wp_aredis_cmd(&a, on_reply, &g, "k6", "GET %s", "aredis:k");
    if (rc == 0) {
        (void) run_until(&a, &g.calls, 1, 5000, &longest);
    }
    ok(rc == -1 || g.nulls == 1, "Redis gone: refused or answered without"
       " a reply");
    for (i = 0; i < 20; i++) {
        (void) wp_aredis_cmd(&a, NULL, NULL, NULL, "SET aredis:k v");
        (void) round_ms(&a);
    }
    d = now_ms() - t0;
    ok(d < 20 * ROUND_MS + 1000, "... and 20 more rounds with commands"
       " took %lld ms", (long long) d);

    wp_aredis_free(&a);

    unlink(sock);
    rmdir(dir);

    return tap_done();
}
