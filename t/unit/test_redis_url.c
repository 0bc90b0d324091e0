/* Unit tests: lib/redis_url.c (REDIS_URL and REDIS_HOST/PORT/PASSWORD). */

#include <string.h>

#include "tap.h"
#include "redis_url.h"


typedef struct {
    const char  *url, *host, *port, *password;
    const char  *want_host;
    int          want_port;
    const char  *want_password, *want_user;
    int          want_db;
} good_case_t;

typedef struct {
    const char  *url, *host, *port, *password;
    const char  *code, *field;
} bad_case_t;


int
main(void)
{
    size_t           i;
    wp_err_t         err;
    wp_redis_conf_t  c;

    static const good_case_t  good[] = {
        { "redis://127.0.0.1:6380", 0, 0, 0, "127.0.0.1", 6380, "", "", 0 },
        { "redis://localhost", 0, 0, 0, "localhost", 6379, "", "", 0 },
        { "redis://:s3cret@10.0.0.1:7000/2", 0, 0, 0,
          "10.0.0.1", 7000, "s3cret", "", 2 },
        { "redis://app:p%40ss@h:1/0", 0, 0, 0, "h", 1, "p@ss", "app", 0 },
        { "redis://[::1]:6390", 0, 0, 0, "::1", 6390, "", "", 0 },
        { "redis://", 0, 0, 0, "127.0.0.1", 6379, "", "", 0 },
        { "unix:///run/redis.sock", 0, 0, 0, "/run/redis.sock", 0, "", "", 0 },
        { "unix:///run/redis.sock?db=3", 0, 0, 0,
          "/run/redis.sock", 0, "", "", 3 },
        /* URL wins over the separate variables */
        { "redis://a:1", "b", "2", "pw", "a", 1, "", "", 0 },
        { NULL, "redis.internal", "6400", "pw", "redis.internal", 6400,
          "pw", "", 0 },
        { "", NULL, NULL, NULL, "127.0.0.1", 6379, "", "", 0 },
        { NULL, NULL, "6381", NULL, "127.0.0.1", 6381, "", "", 0 },
    };

    static const bad_case_t  bad[] = {
        { "rediss://h:6379", 0, 0, 0, WP_E_BAD_VALUE, "REDIS_URL" },
        { "http://h:6379", 0, 0, 0, WP_E_BAD_VALUE, "REDIS_URL" },
        { "redis://h:0", 0, 0, 0, WP_E_BAD_VALUE, "REDIS_URL" },
        { "redis://h:65536", 0, 0, 0, WP_E_BAD_VALUE, "REDIS_URL" },
        { "redis://h:x", 0, 0, 0, WP_E_BAD_VALUE, "REDIS_URL" },
        { "redis://h:6379/x", 0, 0, 0, WP_E_BAD_VALUE, "REDIS_URL" },
        { "redis://:p%4@h", 0, 0, 0, WP_E_BAD_VALUE, "REDIS_URL" },
        { "redis://:p%zz@h", 0, 0, 0, WP_E_BAD_VALUE, "REDIS_URL" },
        { "redis://[::1:6379", 0, 0, 0, WP_E_BAD_VALUE, "REDIS_URL" },
        { "unix://relative.sock", 0, 0, 0, WP_E_BAD_VALUE, "REDIS_URL" },
        { "unix:///s.sock?database=1", 0, 0, 0, WP_E_BAD_VALUE, "REDIS_URL" },
        { NULL, "h", "abc", NULL, WP_E_BAD_VALUE, "REDIS_PORT" },
        { NULL, "h", "-1", NULL, WP_E_BAD_VALUE, "REDIS_PORT" },
    };

    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        memset(&err, 0, sizeof(err));
        ok(wp_redis_conf_parse(good[i].url, good[i].host, good[i].port,
                               good[i].password, &c, &err) == 0,
           "accepts url=%s host=%s", good[i].url ? good[i].url : "(unset)",
           good[i].host ? good[i].host : "(unset)");
        is_str(c.host, good[i].want_host, "  host");
        is_int(c.port, good[i].want_port, "  port");
        is_str(c.password, good[i].want_password, "  password");
        is_str(c.user, good[i].want_user, "  user");
        is_int(c.db, good[i].want_db, "  db");
    }

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        memset(&err, 0, sizeof(err));
        ok(wp_redis_conf_parse(bad[i].url, bad[i].host, bad[i].port,
                               bad[i].password, &c, &err) == -1,
           "rejects url=%s port=%s", bad[i].url ? bad[i].url : "(unset)",
           bad[i].port ? bad[i].port : "(unset)");
        is_str(err.code, bad[i].code, "  code %s", bad[i].code);
        is_str(err.field, bad[i].field, "  field %s", bad[i].field);
        ok(strstr(err.message, bad[i].field) != NULL,
           "  message names %s: %s", bad[i].field, err.message);
    }

    return tap_done();
}
