/*
 * webpush-cli: what several commands share: the Redis connection and key
 * prefix, the database connection, time, and mapping failures to exit
 * codes.  Linked into the cli only (sender/cli_*.c).
 *
 * Every function that can fail prints one line "COMMAND: what went wrong"
 * to stderr itself and returns a CLI_EXIT_* code, so a command just
 * returns it.
 */

#ifndef WP_CLI_UTIL_H
#define WP_CLI_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>
#include <libpq-fe.h>

#include "redis_url.h"

#define CLI_DEFAULT_PREFIX   "{webpush}:"
#define CLI_MAX_PREFIX       100
#define CLI_REDIS_TIMEOUT_MS 5000

typedef struct {
    const char       *cmd;          /* "webpush-cli stats", for messages */
    redisContext     *rc;
    wp_redis_conf_t   conf;
    const char       *prefix;       /* WEBPUSH_QUEUE_PREFIX */
    int               last_rc;      /* CLI_EXIT_* of the last failure */
} cli_redis_t;

/*
 * Read REDIS_URL (or REDIS_HOST/PORT/PASSWORD) and WEBPUSH_QUEUE_PREFIX,
 * connect with a timeout, AUTH and SELECT.  Nothing is written to Redis.
 * Returns CLI_EXIT_OK, CLI_EXIT_CONFIG (bad variable, refused password)
 * or CLI_EXIT_UNAVAIL (cannot connect).
 */
int cli_redis_open(cli_redis_t *r, const char *cmd);
void cli_redis_close(cli_redis_t *r);

/*
 * Run a command (hiredis format: %s, %b, %lld); returns the reply, or NULL after printing why (also for
 * an error reply, which is freed).  The caller frees a reply.
 */
redisReply *cli_redis_cmd(cli_redis_t *r, const char *fmt, ...);

/*
 * Create the consumer group "senders" on <prefix>jobs if it is missing,
 * before anything is added: a group created later at "$" (as a starting
 * sender does) would skip the entry.  From "0": a stream without a group
 * holds only jobs nobody has read yet.
 */
int cli_redis_ensure_group(cli_redis_t *r);

/* prefix with SCAN/MATCH glob characters escaped, into out. */
const char *cli_glob_escape(const char *prefix, char *out, size_t cap);

/*
 * SCAN every key <prefix><kind>:*, calling fn with the key and the part
 * after "<prefix><kind>:".  fn returns CLI_EXIT_OK to go on, CLI_SCAN_STOP
 * to end the walk, or another CLI_EXIT_* code to end it with that code.
 * Returns a CLI_EXIT_* code.
 */
#define CLI_SCAN_STOP  (-1)
typedef int (*cli_scan_pt)(cli_redis_t *r, const char *key,
    const char *name, void *ctx);
int cli_redis_scan(cli_redis_t *r, const char *kind, cli_scan_pt fn,
    void *ctx);

/*
 * Live senders: members of <prefix>senders beaten within
 * CLI_SENDER_LIVE_S, else (older senders) the <prefix>sender:<name>
 * heartbeat hashes, which expire.  With print, one line each: "  name:
 * field=value ...".  Sets *n; returns a CLI_EXIT_* code.
 */
#define CLI_SENDER_LIVE_S  15
int cli_senders(cli_redis_t *r, int print, int *n);

/* The exit code for the last cli_redis_cmd() that returned NULL. */
int cli_redis_rc(const cli_redis_t *r);

/* Integer of an integer or numeric string reply (else def). */
long long cli_reply_int(const redisReply *rep, long long def);

/*
 * The value of field name in a flat [field, value, ...] array reply (a
 * stream entry's fields or HGETALL), or NULL.
 */
const redisReply *cli_reply_field(const redisReply *fields, const char *name);

/*
 * Connect to DATABASE_URL.  Returns CLI_EXIT_OK, CLI_EXIT_CONFIG (unset,
 * malformed) or CLI_EXIT_UNAVAIL (unreachable, login refused).
 */
int cli_db_open(PGconn **conn, const char *cmd);

/*
 * Both servers, PostgreSQL first: when either is unreachable, neither is
 * left open (nothing is touched).  Returns a CLI_EXIT_* code.
 */
int cli_servers_open(PGconn **conn, cli_redis_t *r, const char *cmd);

/* CLI_EXIT_* for a WP_DB_* code. */
int cli_db_rc(int rc);

/* Milliseconds since the epoch. */
int64_t cli_now_ms(void);

/* "2026-11-25 14:03:07Z" for epoch ms into buf (at least 24 bytes). */
const char *cli_time_text(int64_t ms, char *buf, size_t len);

/*
 * A non-negative integer option value; prints "CMD: OPT: ..." and returns
 * -1 when it is not a number within [min, max].
 */
int cli_parse_int(const char *cmd, const char *opt, const char *v,
    long long min, long long max, long long *out);

#endif /* WP_CLI_UTIL_H */
