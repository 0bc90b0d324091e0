/*
 * ngx_webpush: Redis connection settings from the seed's environment
 * variables.  REDIS_URL (redis://[[user]:password@]host[:port][/db]) wins;
 * otherwise REDIS_HOST / REDIS_PORT / REDIS_PASSWORD.  Pure parsing: the
 * caller passes the variables' values (NULL when unset), so the module, the
 * sender and the cli share one reading of them.
 */

#ifndef WP_REDIS_URL_H
#define WP_REDIS_URL_H

#include "wp_err.h"

#define WP_REDIS_DEFAULT_PORT  6379

typedef struct {
    char  host[256];        /* name, IPv4/IPv6 literal, or unix socket path */
    int   port;             /* 0 for a unix socket */
    char  password[256];    /* "" = no AUTH */
    char  user[128];        /* "" = default user (Redis 6 ACL) */
    int   db;               /* SELECT db, 0 by default */
} wp_redis_conf_t;

/*
 * Fill *conf from url (redis:// or unix:///path?db=N), or when url is NULL
 * or empty from host/port/password (host NULL = 127.0.0.1).  rediss:// is
 * refused: hiredis 0.14 has no TLS.  Errors name the variable.
 */
int wp_redis_conf_parse(const char *url, const char *host, const char *port,
    const char *password, wp_redis_conf_t *conf, wp_err_t *err);

#endif /* WP_REDIS_URL_H */
