/*
 * Small blocking libpq helpers shared by webpush-cli and webpush-sender
 * (the nginx module talks to PostgreSQL with the async API on its own).
 *
 * Every function returns WP_DB_OK or a negative WP_DB_* code and, on
 * failure, writes one line of human text into err (errlen bytes, may be 0).
 * That text never contains the database password: anything that could echo
 * the connection string is scrubbed first.
 */

#ifndef WP_DB_H
#define WP_DB_H

#include <stddef.h>

#include <libpq-fe.h>

#define WP_DB_OK        0
#define WP_DB_ERROR    -1      /* the server refused a statement */
#define WP_DB_CONFIG   -2      /* URL unset or malformed */
#define WP_DB_UNAVAIL  -3      /* cannot connect, or the connection broke */

#define WP_DB_ERRLEN          512
#define WP_DB_CONNECT_TIMEOUT 5   /* seconds, unless the URL says otherwise */

/*
 * Connect to url: a libpq URI (postgresql://user:pass@host:port/db?...) or
 * key=value conninfo.  The Prisma-only query parameters a seed .env may
 * carry are accepted: ?schema=S becomes search_path S, and connection_limit,
 * pool_timeout, pgbouncer, statement_cache_size, socket_timeout and
 * sslaccept are ignored.  connect_timeout defaults to WP_DB_CONNECT_TIMEOUT;
 * application_name to app (may be NULL).  NOTICE/INFO messages from the
 * server are dropped, WARNINGs go to stderr (install your own receiver with
 * PQsetNoticeReceiver to change that).
 *
 * Returns WP_DB_CONFIG when url is NULL/empty or cannot be parsed,
 * WP_DB_UNAVAIL when the server cannot be reached or refuses the login.
 * *conn is set only on WP_DB_OK; release it with PQfinish().
 */
int wp_db_connect(PGconn **conn, const char *url, const char *app,
    char *err, size_t errlen);

/* wp_db_connect() with the URL from environment variable var. */
int wp_db_connect_env(PGconn **conn, const char *var, const char *app,
    char *err, size_t errlen);

/*
 * Run sql with nparams text parameters ($1..$n; a NULL entry is SQL NULL).
 * With nparams == 0 and params == NULL, sql may hold several statements
 * (simple query protocol); otherwise exactly one.
 *
 * If res is not NULL, *res receives the result, also on WP_DB_ERROR (so the
 * caller can read PQresultErrorField()); the caller PQclear()s it.  Returns
 * WP_DB_UNAVAIL when the connection is gone.
 */
int wp_db_exec(PGconn *conn, const char *sql, int nparams,
    const char *const *params, PGresult **res, char *err, size_t errlen);

/*
 * "user@host:port/dbname" for messages (no password); buf of len bytes.
 * Works on a connection that failed, too.
 */
const char *wp_db_describe(PGconn *conn, char *buf, size_t len);

#endif /* WP_DB_H */
