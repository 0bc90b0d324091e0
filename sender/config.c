/* webpush-sender: configuration from the environment (see config.h). */

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "config.h"


static const char *
wp_conf_env(const char *name)
{
    const char  *v;

    v = getenv(name);

    return (v && *v) ? v : NULL;
}


/*
 * WEBPUSH_DNS_SERVERS: "ip[:port]" items, comma-separated, IPv6 as
 * "[v6][:port]" (what c-ares takes), checked here so a typo stops the
 * daemon at start rather than failing every lookup.
 */
static int
wp_conf_dns_servers(const char *v, char *err, size_t errlen)
{
    char           item[64], *port, *end;
    size_t         n;
    long           p;
    const char    *s, *comma;
    unsigned char  buf[16];

    for (s = v; ; s = comma + 1) {
        comma = strchr(s, ',');
        n = comma ? (size_t) (comma - s) : strlen(s);
        if (n == 0 || n >= sizeof(item)) {
            goto bad;
        }
        memcpy(item, s, n);
        item[n] = '\0';

        if (item[0] == '[') {
            end = strchr(item, ']');
            if (end == NULL) {
                goto bad;
            }
            *end = '\0';
            port = end[1] == ':' ? end + 2 : end[1] == '\0' ? NULL : item;
            if (port == item || inet_pton(AF_INET6, item + 1, buf) != 1) {
                goto bad;
            }
        } else {
            port = strchr(item, ':');
            if (port != NULL) {
                *port++ = '\0';
            }
            if (inet_pton(AF_INET, item, buf) != 1) {
                goto bad;
            }
        }

        if (port != NULL) {
            errno = 0;
            p = strtol(port, &end, 10);
            if (*port < '1' || *port > '9' || *end != '\0' || errno
                || p > 65535)
            {
                goto bad;
            }
        }

        if (comma == NULL) {
            return 0;
        }
    }

bad:

    snprintf(err, errlen, "WEBPUSH_DNS_SERVERS: expected ip[:port] or"
             " [ipv6][:port] items separated by commas, got \"%s\"", v);
    return -1;
}


int
wp_conf_bool(const char *name, int def, int *out, char *err, size_t errlen)
{
    const char  *v;

    v = wp_conf_env(name);

    if (v == NULL) {
        *out = def;

    } else if (strcasecmp(v, "true") == 0 || strcmp(v, "1") == 0
               || strcasecmp(v, "yes") == 0 || strcasecmp(v, "on") == 0)
    {
        *out = 1;

    } else if (strcasecmp(v, "false") == 0 || strcmp(v, "0") == 0
               || strcasecmp(v, "no") == 0 || strcasecmp(v, "off") == 0)
    {
        *out = 0;

    } else {
        snprintf(err, errlen, "%s: expected true or false, got \"%s\"",
                 name, v);
        return -1;
    }

    return 0;
}


int
wp_conf_int(const char *name, int64_t def, int64_t min, int64_t max,
    int64_t *out, char *err, size_t errlen)
{
    char        *end;
    long long    n;
    const char  *v;

    v = wp_conf_env(name);

    if (v == NULL) {
        *out = def;
        return 0;
    }

    errno = 0;
    n = strtoll(v, &end, 10);

    if (errno || *end || n < min || n > max) {
        snprintf(err, errlen, "%s: expected an integer in %lld..%lld,"
                 " got \"%s\"", name, (long long) min, (long long) max, v);
        return -1;
    }

    *out = n;

    return 0;
}


int
wp_conf_vapid(wp_vapid_key_t **key, const char **subject, char *err,
    size_t errlen)
{
    wp_err_t     e;
    const char  *pub, *priv, *sub;

    pub = wp_conf_env("VAPID_PUBLIC_KEY");
    priv = wp_conf_env("VAPID_PRIVATE_KEY");
    sub = wp_conf_env("VAPID_SUBJECT");

    if (pub == NULL || priv == NULL) {
        snprintf(err, errlen, "%s is not set (generate a pair with"
                 " `webpush-cli generate-vapid-keys`)",
                 pub == NULL ? "VAPID_PUBLIC_KEY" : "VAPID_PRIVATE_KEY");
        return -1;
    }

    if (sub == NULL) {
        snprintf(err, errlen, "VAPID_SUBJECT is not set (a mailto: address"
                 " or https: URL where push services can reach you)");
        return -1;
    }

    if (wp_vapid_check_subject(sub, &e) != 0) {
        snprintf(err, errlen, "VAPID_SUBJECT: %s", e.message);
        return -1;
    }

    if (wp_vapid_key_parse(pub, priv, key, &e) != 0) {
        snprintf(err, errlen, "VAPID keys: %s", e.message);
        return -1;
    }

    *subject = sub;

    return 0;
}


int
wp_conf_policy(wp_endpoint_policy_t **pol, char *err, size_t errlen)
{
    wp_err_t  e;

    if (wp_endpoint_policy_parse(wp_conf_env("WEBPUSH_ALLOWED_ENDPOINTS"),
                                 pol, &e) != 0)
    {
        snprintf(err, errlen, "WEBPUSH_ALLOWED_ENDPOINTS: %s", e.message);
        return -1;
    }

    return 0;
}


int
wp_conf_wns(wp_endpoint_policy_t **pol, char *err, size_t errlen)
{
    wp_err_t     e;
    const char  *v;

    v = wp_conf_env("WEBPUSH_WNS_ENDPOINTS");

    /* set and empty: no endpoint is WNS */
    if (v != NULL && v[0] == '\0') {
        *pol = NULL;
        return 0;
    }

    if (wp_endpoint_policy_parse(v ? v : WP_ENDPOINT_WNS, pol, &e) != 0) {
        snprintf(err, errlen, "WEBPUSH_WNS_ENDPOINTS: %s", e.message);
        return -1;
    }

    return 0;
}


int
wp_sender_conf_load(wp_sender_conf_t *conf, char *err, size_t errlen)
{
    int64_t      n;
    wp_err_t     e;
    const char  *v;
    char         host[64];

    memset(conf, 0, sizeof(*conf));

    conf->database_url = wp_conf_env("DATABASE_URL");
    if (conf->database_url == NULL) {
        snprintf(err, errlen, "DATABASE_URL is not set");
        return -1;
    }

    conf->database_read_url = wp_conf_env("DATABASE_READ_URL");

    if (wp_redis_conf_parse(wp_conf_env("REDIS_URL"),
                            wp_conf_env("REDIS_HOST"),
                            wp_conf_env("REDIS_PORT"),
                            wp_conf_env("REDIS_PASSWORD"),
                            &conf->redis, &e) != 0)
    {
        snprintf(err, errlen, "%s", e.message);
        return -1;
    }

    if (wp_conf_vapid(&conf->vapid, &conf->vapid_subject, err, errlen) != 0
        || wp_conf_policy(&conf->policy, err, errlen) != 0
        || wp_conf_wns(&conf->wns, err, errlen) != 0)
    {
        goto failed;
    }

    conf->ca_file = wp_conf_env("WEBPUSH_CA_FILE");
    if (conf->ca_file && access(conf->ca_file, R_OK) != 0) {
        snprintf(err, errlen, "WEBPUSH_CA_FILE: cannot read \"%s\": %s",
                 conf->ca_file, strerror(errno));
        goto failed;
    }

    /* Name servers of the native client (resolve.h); NULL: resolv.conf */
    conf->dns_servers = wp_conf_env("WEBPUSH_DNS_SERVERS");
    if (conf->dns_servers != NULL
        && wp_conf_dns_servers(conf->dns_servers, err, errlen) != 0)
    {
        goto failed;
    }

    /* Our own HTTP client (client.h), or libcurl's as a fallback. */
    v = wp_conf_env("WEBPUSH_HTTP2_CLIENT");
    if (v != NULL && strcmp(v, "native") != 0 && strcmp(v, "libcurl") != 0) {
        snprintf(err, errlen, "WEBPUSH_HTTP2_CLIENT: expected native or"
                 " libcurl, got \"%s\"", v);
        goto failed;
    }
    conf->http2_libcurl = v != NULL && strcmp(v, "libcurl") == 0;

    v = wp_conf_env("WEBPUSH_QUEUE_PREFIX");
    conf->prefix = v ? v : "{webpush}:";

    v = wp_conf_env("WEBPUSH_CONSUMER");
    if (v == NULL) {
        if (gethostname(host, sizeof(host)) != 0) {
            snprintf(host, sizeof(host), "sender");
        }
        host[sizeof(host) - 1] = '\0';
        snprintf(conf->consumer, sizeof(conf->consumer), "%s-%ld", host,
                 (long) getpid());

    } else if (strlen(v) >= sizeof(conf->consumer)) {
        snprintf(err, errlen, "WEBPUSH_CONSUMER is longer than %zu bytes",
                 sizeof(conf->consumer) - 1);
        goto failed;

    } else {
        snprintf(conf->consumer, sizeof(conf->consumer), "%s", v);
    }

    if (wp_log_level_parse(wp_conf_env("LOG_LEVEL"), &conf->log_level) != 0) {
        snprintf(err, errlen, "LOG_LEVEL: expected error, warn, info or"
                 " debug, got \"%s\"", getenv("LOG_LEVEL"));
        goto failed;
    }

    if (wp_conf_int("PUSH_CONCURRENCY_LIMIT", WP_SENDER_DEFAULT_CONCURRENCY,
                    1, 10000, &n, err, errlen) != 0)
    {
        goto failed;
    }
    conf->concurrency = (int) n;

    if (wp_conf_int("PUSH_TTL_DEFAULT", 86400, 0, 2419200,
                    &conf->ttl_default, err, errlen) != 0
        || wp_conf_int("PUSH_RETRY_ATTEMPTS", 3, 0, 100, &n, err, errlen)
           != 0)
    {
        goto failed;
    }
    conf->retry_attempts = (int) n;

    if (wp_conf_int("PUSH_RETRY_DELAY", 1000, 1, 3600000,
                    &conf->retry_delay_ms, err, errlen) != 0
        || wp_conf_bool("ENABLE_PUSH_METRICS", 1, &conf->metrics, err,
                        errlen) != 0
        || wp_conf_bool("ENABLE_ERROR_TRACKING", 1, &conf->error_tracking,
                        err, errlen) != 0
        || wp_conf_int("WEBPUSH_CONNECT_TIMEOUT", 5000, 100, 600000,
                       &conf->connect_timeout_ms, err, errlen) != 0
        || wp_conf_int("WEBPUSH_TLS_TIMEOUT", 5000, 100, 600000,
                       &conf->tls_timeout_ms, err, errlen) != 0
        || wp_conf_int("WEBPUSH_REQUEST_TIMEOUT", 30000, 100, 600000,
                       &conf->request_timeout_ms, err, errlen) != 0
        || wp_conf_int("WEBPUSH_IDLE_TIMEOUT", 118000, 1000, 3600000,
                       &conf->idle_timeout_ms, err, errlen) != 0
        || wp_conf_int("WEBPUSH_CLAIM_IDLE", 60000, 1000, 86400000,
                       &conf->claim_idle_ms, err, errlen) != 0
        || wp_conf_int("WEBPUSH_PAGE_SIZE", 500, 1, 10000, &n, err, errlen)
           != 0)
    {
        goto failed;
    }
    conf->page_size = (int) n;

    /* pages delivered at once, uncommitted: the kill -9 duplicate bound */
    if (wp_conf_int("WEBPUSH_PIPELINE_PAGES", 16, 1, 64, &n, err, errlen)
        != 0)
    {
        goto failed;
    }
    conf->pipeline_pages = (int) n;

    /* subscriptions per shard of a big job (shard.h); 0: never shard */
    if (wp_conf_int("WEBPUSH_SHARD_SIZE", 20000, 0, 100000000,
                    &conf->shard_size, err, errlen) != 0)
    {
        goto failed;
    }

    /* SIGTERM: how long in-flight requests may finish; 401/403 pause. */
    if (wp_conf_int("WEBPUSH_STOP_TIMEOUT", 10000, 0, 600000,
                    &conf->stop_timeout_ms, err, errlen) != 0
        || wp_conf_int("WEBPUSH_CIRCUIT_OPEN", 60000, 100, 86400000,
                       &conf->circuit_open_ms, err, errlen) != 0
        /* the longest Retry-After obeyed: a push service's header must
         * not pause an origin for years (or overflow a clock) */
        || wp_conf_int("WEBPUSH_RETRY_AFTER_MAX", 3600, 1, 86400,
                       &conf->retry_after_max_s, err, errlen) != 0)
    {
        goto failed;
    }

    /* Encryption threads besides the I/O thread (sealer.h); 0: inline. */
    if (wp_conf_int("WEBPUSH_CRYPTO_THREADS", 0, 0, 64, &n, err, errlen)
        != 0)
    {
        goto failed;
    }
    conf->crypto_threads = (int) n;

    return 0;

failed:

    wp_sender_conf_free(conf);

    return -1;
}


void
wp_sender_conf_free(wp_sender_conf_t *conf)
{
    if (conf->vapid) {
        wp_vapid_key_free(conf->vapid);
        conf->vapid = NULL;
    }

    wp_endpoint_policy_free(conf->wns);
    conf->wns = NULL;

    if (conf->policy) {
        wp_endpoint_policy_free(conf->policy);
        conf->policy = NULL;
    }
}
