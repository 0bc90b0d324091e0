/* ngx_webpush: Redis settings from REDIS_URL or REDIS_HOST/PORT/PASSWORD. */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "redis_url.h"


/* Decimal s[0..len) in [min, max] into *out; -1 otherwise. */
static int
wp_redis_uint(const char *s, size_t len, long min, long max, int *out)
{
    size_t  i;
    long    v;

    if (len == 0 || len > 5) {
        return -1;
    }

    v = 0;
    for (i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return -1;
        }
        v = v * 10 + (s[i] - '0');
    }

    if (v < min || v > max) {
        return -1;
    }

    *out = (int) v;
    return 0;
}


static int
wp_redis_port(const char *s, size_t len, int *port, const char *field,
    wp_err_t *err)
{
    if (wp_redis_uint(s, len, 1, 65535, port) != 0) {
        return wp_err_set(err, WP_E_BAD_VALUE, field,
                          "%s: port must be 1..65535", field);
    }

    return 0;
}


/* Percent-decode s[0..len) into out (cap bytes, NUL-terminated). */
static int
wp_redis_unescape(const char *s, size_t len, char *out, size_t cap,
    const char *what, wp_err_t *err)
{
    size_t  i, o;
    char    hex[3];

    o = 0;

    for (i = 0; i < len; i++) {
        if (o + 1 >= cap) {
            return wp_err_set(err, WP_E_TOO_LONG, "REDIS_URL",
                              "REDIS_URL: %s is too long", what);
        }

        if (s[i] == '%') {
            if (i + 2 >= len) {
                goto bad;
            }
            hex[0] = s[i + 1];
            hex[1] = s[i + 2];
            hex[2] = '\0';
            if (strspn(hex, "0123456789abcdefABCDEF") != 2) {
                goto bad;
            }
            out[o++] = (char) strtol(hex, NULL, 16);
            i += 2;

        } else {
            out[o++] = s[i];
        }
    }

    out[o] = '\0';
    return 0;

bad:

    return wp_err_set(err, WP_E_BAD_VALUE, "REDIS_URL",
                      "REDIS_URL: bad %%-escape in the %s", what);
}


static int
wp_redis_parse_url(const char *url, wp_redis_conf_t *conf, wp_err_t *err)
{
    int          db;
    size_t       len;
    const char  *p, *end, *at, *colon, *slash, *hostend;

    len = strlen(url);

    if (strncmp(url, "rediss://", 9) == 0) {
        return wp_err_set(err, WP_E_BAD_VALUE, "REDIS_URL",
                          "REDIS_URL: rediss:// (TLS) is not supported by"
                          " hiredis 0.14; use a local TLS tunnel");
    }

    if (strncmp(url, "unix://", 7) == 0) {
        p = url + 7;
        end = strchr(p, '?');
        if (end == NULL) {
            end = url + len;
        }
        if (p == end || *p != '/' || (size_t) (end - p) >= sizeof(conf->host)) {
            return wp_err_set(err, WP_E_BAD_VALUE, "REDIS_URL",
                              "REDIS_URL: unix:// needs an absolute path");
        }
        memcpy(conf->host, p, end - p);
        conf->host[end - p] = '\0';
        conf->port = 0;
        if (*end == '?') {
            if (strncmp(end, "?db=", 4) != 0
                || wp_redis_uint(end + 4, strlen(end + 4), 0, 65535, &db))
            {
                return wp_err_set(err, WP_E_BAD_VALUE, "REDIS_URL",
                                  "REDIS_URL: only ?db=N is understood");
            }
            conf->db = db;
        }
        return 0;
    }

    if (strncmp(url, "redis://", 8) != 0) {
        return wp_err_set(err, WP_E_BAD_VALUE, "REDIS_URL",
                          "REDIS_URL must start with redis:// or unix://");
    }

    p = url + 8;
    end = url + len;

    slash = memchr(p, '/', end - p);
    hostend = slash ? slash : end;

    at = NULL;
    for (colon = p; colon < hostend; colon++) {
        if (*colon == '@') {
            at = colon;
        }
    }

    if (at) {
        colon = memchr(p, ':', at - p);
        if (colon) {
            if (wp_redis_unescape(p, colon - p, conf->user,
                                  sizeof(conf->user), "user name", err)
                || wp_redis_unescape(colon + 1, at - colon - 1,
                                     conf->password, sizeof(conf->password),
                                     "password", err))
            {
                return -1;
            }

        } else if (wp_redis_unescape(p, at - p, conf->password,
                                     sizeof(conf->password), "password", err))
        {
            return -1;
        }

        p = at + 1;
    }

    if (*p == '[') {
        colon = memchr(p, ']', hostend - p);
        if (colon == NULL) {
            return wp_err_set(err, WP_E_BAD_VALUE, "REDIS_URL",
                              "REDIS_URL: unterminated [IPv6] host");
        }
        if ((size_t) (colon - p - 1) >= sizeof(conf->host)) {
            goto toolong;
        }
        memcpy(conf->host, p + 1, colon - p - 1);
        conf->host[colon - p - 1] = '\0';
        p = colon + 1;
        if (p < hostend && *p != ':') {
            return wp_err_set(err, WP_E_BAD_VALUE, "REDIS_URL",
                              "REDIS_URL: junk after [IPv6] host");
        }

    } else {
        colon = memchr(p, ':', hostend - p);
        end = colon ? colon : hostend;
        if ((size_t) (end - p) >= sizeof(conf->host)) {
            goto toolong;
        }
        memcpy(conf->host, p, end - p);
        conf->host[end - p] = '\0';
        p = end;
    }

    if (conf->host[0] == '\0') {
        snprintf(conf->host, sizeof(conf->host), "127.0.0.1");
    }

    if (p < hostend && *p == ':') {
        if (wp_redis_port(p + 1, hostend - p - 1, &conf->port, "REDIS_URL",
                          err))
        {
            return -1;
        }
    }

    if (slash && slash + 1 < url + len) {
        if (wp_redis_uint(slash + 1, strlen(slash + 1), 0, 65535, &db)) {
            return wp_err_set(err, WP_E_BAD_VALUE, "REDIS_URL",
                              "REDIS_URL: database must be a number");
        }
        conf->db = db;
    }

    return 0;

toolong:

    return wp_err_set(err, WP_E_TOO_LONG, "REDIS_URL",
                      "REDIS_URL: host is too long");
}


int
wp_redis_conf_parse(const char *url, const char *host, const char *port,
    const char *password, wp_redis_conf_t *conf, wp_err_t *err)
{
    memset(conf, 0, sizeof(*conf));
    conf->port = WP_REDIS_DEFAULT_PORT;

    if (url && *url) {
        return wp_redis_parse_url(url, conf, err);
    }

    if (host && *host) {
        if (strlen(host) >= sizeof(conf->host)) {
            return wp_err_set(err, WP_E_TOO_LONG, "REDIS_HOST",
                              "REDIS_HOST is too long");
        }
        snprintf(conf->host, sizeof(conf->host), "%s", host);

    } else {
        snprintf(conf->host, sizeof(conf->host), "127.0.0.1");
    }

    if (port && *port
        && wp_redis_port(port, strlen(port), &conf->port, "REDIS_PORT", err))
    {
        return -1;
    }

    if (password && *password) {
        if (strlen(password) >= sizeof(conf->password)) {
            return wp_err_set(err, WP_E_TOO_LONG, "REDIS_PASSWORD",
                              "REDIS_PASSWORD is too long");
        }
        snprintf(conf->password, sizeof(conf->password), "%s", password);
    }

    return 0;
}
