/*
 * ngx_webpush: one Web Push request with libcurl (see deliver.h for the
 * transport policy and the slot's life cycle).
 */

#define _GNU_SOURCE             /* strcasestr */

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "deliver.h"

#define WP_DELIVER_MAX_HEADER_LINE  1024    /* our own request headers */

struct wp_deliver_s {
    CURL               *easy;
    struct curl_slist  *req_headers;
    wp_deliver_opts_t   opts;
    char                errbuf[CURL_ERROR_SIZE];
    char                headers[WP_DELIVER_MAX_HEADERS + 1];
    size_t              headers_len;
    char                body[WP_DELIVER_MAX_BODY + 1];
    size_t              body_len;
    int                 body_truncated;
    char                location[1024];
    char                wns_error[256];     /* X-WNS-Error-Description */
};


static size_t wp_deliver_on_header(char *buf, size_t size, size_t n,
    void *data);
static size_t wp_deliver_on_body(char *buf, size_t size, size_t n,
    void *data);
static int wp_deliver_add_header(struct curl_slist **list, const char *name,
    const char *value, wp_err_t *err);
static int wp_deliver_header_value(const char *block, size_t len,
    const char *name, char *out, size_t cap);


void
wp_deliver_opts_defaults(wp_deliver_opts_t *out, const wp_deliver_opts_t *in)
{
    if (in != NULL) {
        *out = *in;
    } else {
        memset(out, 0, sizeof(wp_deliver_opts_t));
    }

    if (out->connect_timeout_ms <= 0) {
        out->connect_timeout_ms = WP_DELIVER_CONNECT_TIMEOUT_MS;
    }

    if (out->tls_timeout_ms <= 0) {
        out->tls_timeout_ms = WP_DELIVER_TLS_TIMEOUT_MS;
    }

    if (out->timeout_ms <= 0) {
        out->timeout_ms = WP_DELIVER_TIMEOUT_MS;
    }

    if (out->idle_ms <= 0) {
        out->idle_ms = WP_DELIVER_IDLE_MS;
    }

    if (out->user_agent == NULL) {
        out->user_agent = "ngx_webpush";
    }
}


wp_deliver_t *
wp_deliver_new(const wp_deliver_opts_t *opts, wp_err_t *err)
{
    CURL          *h;
    CURLcode       rc;
    wp_deliver_t  *d;

    d = calloc(1, sizeof(wp_deliver_t));
    if (d == NULL) {
        wp_err_set(err, WP_E_NOMEM, "", "out of memory");
        return NULL;
    }

    wp_deliver_opts_defaults(&d->opts, opts);

    h = curl_easy_init();
    if (h == NULL) {
        free(d);
        wp_err_set(err, WP_E_NOMEM, "", "curl_easy_init() failed");
        return NULL;
    }

    d->easy = h;

    /* Options that never change between requests of this slot. */
    rc = CURLE_OK;
#define WP_SETOPT(opt, val)                                                   \
    if (rc == CURLE_OK) {                                                     \
        rc = curl_easy_setopt(h, opt, val);                                   \
    }
    WP_SETOPT(CURLOPT_PROTOCOLS_STR, "https");
    WP_SETOPT(CURLOPT_REDIR_PROTOCOLS_STR, "https");
    WP_SETOPT(CURLOPT_FOLLOWLOCATION, 0L);
    WP_SETOPT(CURLOPT_PROXY, "");                /* "": ignore *_proxy */
    WP_SETOPT(CURLOPT_SSL_VERIFYPEER, 1L);
    WP_SETOPT(CURLOPT_SSL_VERIFYHOST, 2L);
    WP_SETOPT(CURLOPT_SSLVERSION, (long) CURL_SSLVERSION_TLSv1_2);
    if (d->opts.ca_file != NULL) {
        WP_SETOPT(CURLOPT_CAINFO, d->opts.ca_file);
    }
    WP_SETOPT(CURLOPT_HTTP_VERSION, d->opts.http1_only
              ? (long) CURL_HTTP_VERSION_1_1 : (long) CURL_HTTP_VERSION_2TLS);
    WP_SETOPT(CURLOPT_PIPEWAIT, 1L);             /* multiplex, not reconnect */
    WP_SETOPT(CURLOPT_NOSIGNAL, 1L);             /* threads, no SIGALRM */
    WP_SETOPT(CURLOPT_TCP_KEEPALIVE, 1L);
    /*
     * Nagle on: libcurl writes each HTTP/2 frame (HEADERS, DATA) as its own
     * TLS record; under load the kernel then sends them in fewer segments.
     * Measured (bench/sender_bench.sh): 10 % less CPU per message and 15 %
     * more messages/s; an isolated request may wait one delayed ACK.
     */
    WP_SETOPT(CURLOPT_TCP_NODELAY, 0L);
    /* libcurl's connect phase includes the TLS handshake: both budgets */
    WP_SETOPT(CURLOPT_CONNECTTIMEOUT_MS,
              d->opts.connect_timeout_ms + d->opts.tls_timeout_ms);
    WP_SETOPT(CURLOPT_TIMEOUT_MS, d->opts.timeout_ms);
    WP_SETOPT(CURLOPT_USERAGENT, d->opts.user_agent);
    WP_SETOPT(CURLOPT_ERRORBUFFER, d->errbuf);
    WP_SETOPT(CURLOPT_HEADERFUNCTION, wp_deliver_on_header);
    WP_SETOPT(CURLOPT_HEADERDATA, d);
    WP_SETOPT(CURLOPT_WRITEFUNCTION, wp_deliver_on_body);
    WP_SETOPT(CURLOPT_WRITEDATA, d);
    WP_SETOPT(CURLOPT_POST, 1L);
    WP_SETOPT(CURLOPT_PRIVATE, d);
#undef WP_SETOPT

    if (rc != CURLE_OK) {
        wp_err_set(err, WP_E_INTERNAL, "", "libcurl option refused: %s",
                   curl_easy_strerror(rc));
        wp_deliver_free(d);
        return NULL;
    }

    return d;
}


void
wp_deliver_free(wp_deliver_t *d)
{
    if (d == NULL) {
        return;
    }

    curl_easy_cleanup(d->easy);
    curl_slist_free_all(d->req_headers);
    free(d);
}


CURL *
wp_deliver_easy(wp_deliver_t *d)
{
    return d->easy;
}


int
wp_deliver_prepare(wp_deliver_t *d, const wp_push_req_t *req, wp_err_t *err)
{
    char                num[32];
    struct curl_slist  *list;

    if (req->endpoint == NULL || req->authorization == NULL
        || req->ttl < 0)
    {
        return wp_err_set(err, WP_E_BAD_VALUE, "",
                          "push request without endpoint, authorization"
                          " or a valid ttl");
    }

    list = NULL;
    snprintf(num, sizeof(num), "%lld", (long long) req->ttl);

    if (wp_deliver_add_header(&list, "TTL", num, err) != 0
        || (req->urgency != NULL
            && wp_deliver_add_header(&list, "Urgency", req->urgency, err)
               != 0)
        || (req->topic != NULL && req->topic[0] != '\0'
            && wp_deliver_add_header(&list, "Topic", req->topic, err) != 0)
        || wp_deliver_add_header(&list, "Authorization", req->authorization,
                                 err) != 0
        || (req->wns_cache_policy != NULL
            && wp_deliver_add_header(&list, "X-WNS-Cache-Policy",
                                     req->wns_cache_policy, err) != 0)
        || (req->body_len > 0
            && (wp_deliver_add_header(&list, "Content-Type",
                                      "application/octet-stream", err) != 0
                || wp_deliver_add_header(&list, "Content-Encoding",
                                         "aes128gcm", err) != 0))
        /* "Expect:" with no value stops curl's 100-continue round trip */
        || wp_deliver_add_header(&list, "Expect", NULL, err) != 0)
    {
        curl_slist_free_all(list);
        return -1;
    }

    curl_slist_free_all(d->req_headers);
    d->req_headers = list;

    d->errbuf[0] = '\0';
    d->headers_len = 0;
    d->headers[0] = '\0';
    d->body_len = 0;
    d->body[0] = '\0';
    d->body_truncated = 0;
    d->location[0] = '\0';

    /* Size first: libcurl sends it as Content-Length, never chunked. */
    if (curl_easy_setopt(d->easy, CURLOPT_URL, req->endpoint) != CURLE_OK
        || curl_easy_setopt(d->easy, CURLOPT_HTTPHEADER, list) != CURLE_OK
        || curl_easy_setopt(d->easy, CURLOPT_POSTFIELDSIZE_LARGE,
                            (curl_off_t) req->body_len) != CURLE_OK
        || curl_easy_setopt(d->easy, CURLOPT_POSTFIELDS,
                            req->body_len ? (const char *) req->body : "")
           != CURLE_OK)
    {
        return wp_err_set(err, WP_E_INTERNAL, "endpoint",
                          "libcurl refused the request options");
    }

    return 0;
}


void
wp_deliver_finish(wp_deliver_t *d, CURLcode rc, wp_push_resp_t *resp)
{
    long        code, ver;
    char        value[256];
    curl_off_t  us;

    memset(resp, 0, sizeof(wp_push_resp_t));

    code = 0;
    ver = 0;
    us = 0;
    curl_easy_getinfo(d->easy, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_getinfo(d->easy, CURLINFO_HTTP_VERSION, &ver);
    curl_easy_getinfo(d->easy, CURLINFO_TOTAL_TIME_T, &us);

    resp->curl_code = rc;
    resp->elapsed_ms = (long) (us / 1000);
    resp->headers = d->headers;
    resp->headers_len = d->headers_len;
    resp->body = d->body;
    resp->body_len = d->body_len;
    resp->body_truncated = d->body_truncated;
    resp->location = d->location;
    resp->wns_error = d->wns_error;
    d->wns_error[0] = '\0';
    resp->retry_after = -1;
    resp->error = "";

    switch (ver) {
    case CURL_HTTP_VERSION_2_0:
        resp->http_version = "HTTP/2";
        break;
    case CURL_HTTP_VERSION_1_1:
        resp->http_version = "HTTP/1.1";
        break;
    case CURL_HTTP_VERSION_1_0:
        resp->http_version = "HTTP/1.0";
        break;
    default:
        resp->http_version = "";
    }

    /*
     * A server that answers before reading the whole body resets the
     * stream afterwards (RST_STREAM NO_ERROR, RFC 9113 8.1); libcurl 7.88
     * reports that as a stream error although the 2xx arrived.  The push
     * was accepted: retrying it would deliver it twice.
     */
    if (rc == CURLE_HTTP2_STREAM && code >= 200 && code <= 299) {
        rc = CURLE_OK;
        resp->curl_code = CURLE_OK;
    }

    if (rc != CURLE_OK) {
        /* A half-received answer is no answer: classify it as transport. */
        resp->status = 0;
        resp->error = d->errbuf[0] ? d->errbuf : curl_easy_strerror(rc);
        resp->timed_out = (rc == CURLE_OPERATION_TIMEDOUT);
        resp->tls_failed = (rc == CURLE_PEER_FAILED_VERIFICATION
                            || rc == CURLE_SSL_CONNECT_ERROR
                            || rc == CURLE_SSL_CACERT_BADFILE
                            || rc == CURLE_SSL_CERTPROBLEM
                            || rc == CURLE_SSL_ISSUER_ERROR
                            || rc == CURLE_SSL_PINNEDPUBKEYNOTMATCH);
        return;
    }

    resp->status = code;

    if (wp_deliver_header_value(d->headers, d->headers_len, "Location",
                                d->location, sizeof(d->location)) != 0)
    {
        d->location[0] = '\0';
    }

    if (wp_deliver_header_value(d->headers, d->headers_len,
                                "X-WNS-Error-Description", d->wns_error,
                                sizeof(d->wns_error)) != 0)
    {
        d->wns_error[0] = '\0';
    }

    if (wp_deliver_header_value(d->headers, d->headers_len, "Retry-After",
                                value, sizeof(value)) == 0)
    {
        resp->retry_after = wp_retry_after_parse(value, (int64_t) time(NULL));
    }
}


int
wp_deliver_send(wp_deliver_t *d, const wp_push_req_t *req,
    wp_push_resp_t *resp, wp_err_t *err)
{
    CURLcode  rc;

    if (wp_deliver_prepare(d, req, err) != 0) {
        return -1;
    }

    rc = curl_easy_perform(d->easy);
    wp_deliver_finish(d, rc, resp);

    return 0;
}


const char *
wp_deliver_wns_cache_policy(int64_t ttl)
{
    return ttl == 0 ? "no-cache" : "cache";
}


wp_outcome_t
wp_deliver_classify(const wp_push_resp_t *resp)
{
    long  s;

    s = resp->status;

    if (s == 0) {
        switch (resp->curl_code) {
        /* our request can never work: do not retry it */
        case CURLE_UNSUPPORTED_PROTOCOL:
        case CURLE_URL_MALFORMAT:
            return WP_OUTCOME_FAIL_MESSAGE;
        default:
            return WP_OUTCOME_RETRY;
        }
    }

    if (s >= 200 && s <= 299) {
        return WP_OUTCOME_SENT;
    }

    switch (s) {
    case 410:
        /*
         * WNS's 410 "Domain Blocked" is about the sender, not the
         * subscription (protocol reference 1.1): alert, never a mass
         * disable.
         */
        if (resp->wns_error != NULL
            && strcasestr(resp->wns_error, "blocked") != NULL)
        {
            return WP_OUTCOME_CONFIG;
        }
        return WP_OUTCOME_DISABLE;
    case 404:
        return WP_OUTCOME_DISABLE;
    case 401:
    case 403:
        return WP_OUTCOME_CONFIG;
    case 406:       /* WNS: throttle limit exceeded */
    case 408:
    case 429:
        return WP_OUTCOME_RETRY;
    }

    if (s >= 500) {
        return WP_OUTCOME_RETRY;
    }

    /* 400, 413, other 4xx, and 1xx/3xx (we never follow redirects) */
    return WP_OUTCOME_FAIL_MESSAGE;
}


const char *
wp_outcome_name(wp_outcome_t o)
{
    switch (o) {
    case WP_OUTCOME_SENT:
        return "sent";
    case WP_OUTCOME_DISABLE:
        return "disable";
    case WP_OUTCOME_FAIL_MESSAGE:
        return "fail_message";
    case WP_OUTCOME_CONFIG:
        return "config";
    case WP_OUTCOME_RETRY:
        return "retry";
    }

    return "unknown";
}


int64_t
wp_retry_after_parse(const char *value, int64_t now)
{
    char        buf[64];
    size_t      len;
    time_t      t;
    long long   n;
    const char  *p;

    while (*value == ' ' || *value == '\t') {
        value++;
    }

    len = strlen(value);
    while (len > 0 && (value[len - 1] == ' ' || value[len - 1] == '\t')) {
        len--;
    }

    if (len == 0 || len >= sizeof(buf)) {
        return -1;
    }

    memcpy(buf, value, len);
    buf[len] = '\0';

    for (p = buf; *p && isdigit((unsigned char) *p); p++) {
        /* delta-seconds = 1*DIGIT */
    }

    if (*p == '\0') {
        errno = 0;
        n = strtoll(buf, NULL, 10);
        return (errno == ERANGE) ? -1 : (int64_t) n;
    }

    /* HTTP-date; curl_getdate() also takes the obsolete RFC 850 forms */
    t = curl_getdate(buf, NULL);
    if (t == (time_t) -1) {
        return -1;
    }

    return ((int64_t) t > now) ? (int64_t) t - now : 0;
}


/* ---- callbacks and helpers -------------------------------------------- */


static size_t
wp_deliver_on_header(char *buf, size_t size, size_t n, void *data)
{
    size_t         len;
    wp_deliver_t  *d;

    d = data;
    len = size * n;

    /* A status line starts a new response (after 1xx): keep the final. */
    if (len > 5 && memcmp(buf, "HTTP/", 5) == 0) {
        d->headers_len = 0;
    }

    if (d->headers_len + len <= WP_DELIVER_MAX_HEADERS) {
        memcpy(d->headers + d->headers_len, buf, len);
        d->headers_len += len;
        d->headers[d->headers_len] = '\0';
    }

    return len;
}


static size_t
wp_deliver_on_body(char *buf, size_t size, size_t n, void *data)
{
    size_t         len, room;
    wp_deliver_t  *d;

    d = data;
    len = size * n;
    room = WP_DELIVER_MAX_BODY - d->body_len;

    if (len > room) {
        d->body_truncated = 1;
    }

    memcpy(d->body + d->body_len, buf, len < room ? len : room);
    d->body_len += len < room ? len : room;
    d->body[d->body_len] = '\0';

    /* Swallow the rest: a long error page must not fail the transfer. */
    return len;
}


static int
wp_deliver_add_header(struct curl_slist **list, const char *name,
    const char *value, wp_err_t *err)
{
    char                line[WP_DELIVER_MAX_HEADER_LINE];
    int                 n;
    struct curl_slist  *l;

    if (value != NULL && strpbrk(value, "\r\n") != NULL) {
        return wp_err_set(err, WP_E_BAD_VALUE, name,
                          "%s header value holds a line break", name);
    }

    n = value ? snprintf(line, sizeof(line), "%s: %s", name, value)
              : snprintf(line, sizeof(line), "%s:", name);

    if (n < 0 || (size_t) n >= sizeof(line)) {
        return wp_err_set(err, WP_E_TOO_LONG, name,
                          "%s header value is too long", name);
    }

    l = curl_slist_append(*list, line);
    if (l == NULL) {
        return wp_err_set(err, WP_E_NOMEM, "", "out of memory");
    }

    *list = l;
    return 0;
}


/* Copy the first header "name" of the header block (trimmed) into out. */
static int
wp_deliver_header_value(const char *block, size_t len, const char *name,
    char *out, size_t cap)
{
    size_t       nlen, vlen;
    const char  *p, *end, *eol, *v;

    nlen = strlen(name);
    p = block;
    end = block + len;

    while (p < end) {
        eol = memchr(p, '\n', end - p);
        if (eol == NULL) {
            eol = end;
        }

        if ((size_t) (eol - p) > nlen && p[nlen] == ':'
            && strncasecmp(p, name, nlen) == 0)
        {
            v = p + nlen + 1;
            while (v < eol && (*v == ' ' || *v == '\t')) {
                v++;
            }

            vlen = eol - v;
            while (vlen > 0 && (v[vlen - 1] == '\r' || v[vlen - 1] == ' '
                                || v[vlen - 1] == '\t'))
            {
                vlen--;
            }

            if (vlen >= cap) {
                return -1;
            }

            memcpy(out, v, vlen);
            out[vlen] = '\0';
            return 0;
        }

        p = eol + 1;
    }

    return -1;
}
