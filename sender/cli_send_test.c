/*
 * webpush-cli send-test: deliver one push synchronously and print the push
 * service's answer.  The same path as the sender's, one request long:
 * subscription and endpoint policy (lib/subscription.h), VAPID token
 * (lib/vapid.h), aes128gcm (lib/ece.h), libcurl (deliver.h).
 *
 * Exit codes: 0 a 2xx answer; 1 any other answer; 2 bad command line or
 * input (options, subscription, endpoint not allowed, payload too large);
 * 3 environment (VAPID keys, subject, allow-list, CA file); 4 the push
 * service could not be reached (DNS, connect, TLS verification, timeout).
 *
 * Environment: VAPID_PUBLIC_KEY, VAPID_PRIVATE_KEY, VAPID_SUBJECT,
 * WEBPUSH_ALLOWED_ENDPOINTS, WEBPUSH_CA_FILE, PUSH_TTL_DEFAULT and the
 * sender's WEBPUSH_CONNECT_TIMEOUT / WEBPUSH_REQUEST_TIMEOUT (ms).
 */

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "cli.h"
#include "config.h"
#include "deliver.h"
#include "ece.h"
#include "sendreq.h"
#include "subscription.h"
#include "vapid.h"

#define CMD             "webpush-cli send-test"
#define BODY_EXCERPT    512

typedef struct {
    const char  *subscription;      /* path, "-" or the JSON itself */
    const char  *payload;
    const char  *ttl;               /* NULL: PUSH_TTL_DEFAULT */
    const char  *urgency;
    const char  *topic;
} send_test_args_t;


static int send_test_parse_args(int argc, char **argv, send_test_args_t *a);
static int send_test_check_fields(const send_test_args_t *a,
    wp_send_req_t *req);
static int send_test_read_subscription(const char *arg, char **out,
    size_t *len);
static void send_test_json_string(char *out, size_t cap, const char *s);
static const char *send_test_err_text(const wp_err_t *e);
static int send_test_deliver(const wp_subscription_t *sub,
    const wp_send_req_t *fields, const char *payload);
static void send_test_print(const wp_push_resp_t *resp);


int
cli_send_test(int argc, char **argv)
{
    int                    rc;
    char                  *doc, msg[512];
    size_t                 doclen;
    struct timeval         tv;
    wp_err_t               e;
    wp_send_req_t          fields;
    send_test_args_t       a;
    wp_subscription_t      sub;
    wp_endpoint_policy_t  *pol;

    if (send_test_parse_args(argc, argv, &a) != 0) {
        cli_usage("send-test", 1);
        return CLI_EXIT_USAGE;
    }

    /* Cheap checks first, so a typo never costs a key load or a request. */
    rc = send_test_check_fields(&a, &fields);
    if (rc != CLI_EXIT_OK) {
        return rc;
    }

    if (strlen(a.payload) > WP_ECE_MAX_PLAINTEXT) {
        fprintf(stderr, CMD ": --payload: %zu bytes, one Web Push message"
                " carries at most %d (RFC 8291: 4096-byte record); nothing"
                " sent\n", strlen(a.payload), WP_ECE_MAX_PLAINTEXT);
        wp_send_req_free(&fields);
        return CLI_EXIT_USAGE;
    }

    if (send_test_read_subscription(a.subscription, &doc, &doclen) != 0) {
        wp_send_req_free(&fields);
        return CLI_EXIT_USAGE;
    }

    if (wp_conf_policy(&pol, msg, sizeof(msg)) != 0) {
        fprintf(stderr, CMD ": %s\n", msg);
        free(doc);
        wp_send_req_free(&fields);
        return CLI_EXIT_CONFIG;
    }

    gettimeofday(&tv, NULL);
    memset(&sub, 0, sizeof(sub));
    rc = wp_subscription_parse(doc, doclen, pol,
                               (int64_t) tv.tv_sec * 1000 + tv.tv_usec / 1000,
                               &sub, &e);
    free(doc);
    wp_endpoint_policy_free(pol);

    if (rc != 0) {
        fprintf(stderr, CMD ": --subscription: %s (%s); nothing sent\n",
                send_test_err_text(&e), e.code);
        if (strcmp(e.code, WP_E_ENDPOINT_NOT_ALLOWED) == 0) {
            fprintf(stderr, CMD ": allowed push services come from"
                    " WEBPUSH_ALLOWED_ENDPOINTS (unset: the real ones)\n");
        }
        wp_send_req_free(&fields);
        return CLI_EXIT_USAGE;
    }

    if (sub.expired) {
        fprintf(stderr, CMD ": warning: the subscription's expirationTime"
                " has passed; sending anyway\n");
    }

    rc = send_test_deliver(&sub, &fields, a.payload);

    wp_subscription_free(&sub);
    wp_send_req_free(&fields);

    return rc;
}


static int
send_test_parse_args(int argc, char **argv, send_test_args_t *a)
{
    int           i;
    const char  **dst;

    memset(a, 0, sizeof(send_test_args_t));

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--subscription") == 0) {
            dst = &a->subscription;
        } else if (strcmp(argv[i], "--payload") == 0) {
            dst = &a->payload;
        } else if (strcmp(argv[i], "--ttl") == 0) {
            dst = &a->ttl;
        } else if (strcmp(argv[i], "--urgency") == 0) {
            dst = &a->urgency;
        } else if (strcmp(argv[i], "--topic") == 0) {
            dst = &a->topic;
        } else {
            fprintf(stderr, CMD ": unknown option \"%s\"\n", argv[i]);
            return -1;
        }

        if (i + 1 >= argc) {
            fprintf(stderr, CMD ": %s needs a value\n", argv[i]);
            return -1;
        }

        *dst = argv[++i];
    }

    if (a->subscription == NULL || a->payload == NULL) {
        fprintf(stderr, CMD ": --subscription and --payload are required\n");
        return -1;
    }

    return 0;
}


/*
 * Check --ttl, --urgency and --topic with the send route's own validator
 * (lib/sendreq.h) by feeding it a minimal request: the rules live in one
 * place.  req gets ttl (PUSH_TTL_DEFAULT when not given), urgency, topic.
 */
static int
send_test_check_fields(const send_test_args_t *a, wp_send_req_t *req)
{
    int               rc;
    char              doc[512], ttl[48], urgency[160], topic[160], msg[256];
    const char       *p;
    long long         n;
    wp_err_t          e;
    wp_send_limits_t  lim;

    wp_send_limits_init(&lim);

    if (wp_conf_int("PUSH_TTL_DEFAULT", WP_SEND_DEFAULT_TTL, 0,
                    WP_SEND_MAX_TTL, &lim.ttl_default, msg, sizeof(msg))
        != 0)
    {
        fprintf(stderr, CMD ": %s\n", msg);
        return CLI_EXIT_CONFIG;
    }

    ttl[0] = '\0';
    if (a->ttl != NULL) {
        for (p = a->ttl; isdigit((unsigned char) *p); p++) { /* void */ }

        if (p == a->ttl || *p != '\0' || p - a->ttl > 18) {
            fprintf(stderr, CMD ": --ttl: \"%.32s\" is not a number of"
                    " seconds\n", a->ttl);
            return CLI_EXIT_USAGE;
        }

        n = strtoll(a->ttl, NULL, 10);      /* drops leading zeros */
        snprintf(ttl, sizeof(ttl), ",\"ttl\":%lld", n);
    }

    urgency[0] = '\0';
    topic[0] = '\0';

    if (a->urgency != NULL) {
        memcpy(urgency, ",\"urgency\":", 11);
        send_test_json_string(urgency + 11, sizeof(urgency) - 11, a->urgency);
    }

    if (a->topic != NULL) {
        memcpy(topic, ",\"topic\":", 9);
        send_test_json_string(topic + 9, sizeof(topic) - 9, a->topic);
    }

    snprintf(doc, sizeof(doc), "{\"type\":\"send_test\",\"to\":{\"all\":true},"
             "\"payload\":{}%s%s%s}", ttl, urgency, topic);

    rc = wp_send_req_parse(doc, strlen(doc), &lim, req, &e);
    if (rc != 0) {
        fprintf(stderr, CMD ": --%s: %s\n",
                e.field[0] ? e.field : "options", send_test_err_text(&e));
        return CLI_EXIT_USAGE;
    }

    return CLI_EXIT_OK;
}


/* The message without its leading "field: ", which we print our way. */
static const char *
send_test_err_text(const wp_err_t *e)
{
    size_t  n;

    n = strlen(e->field);

    if (n > 0 && strncmp(e->message, e->field, n) == 0
        && e->message[n] == ':' && e->message[n + 1] == ' ')
    {
        return e->message + n + 2;
    }

    return e->message;
}


/* A JSON string literal for s, cut to fit (the validator then says why). */
static void
send_test_json_string(char *out, size_t cap, const char *s)
{
    size_t  n;

    n = 0;
    out[n++] = '"';

    for ( /* void */ ; *s && n + 8 < cap; s++) {
        if (*s == '"' || *s == '\\' || (unsigned char) *s < 0x20) {
            n += snprintf(out + n, cap - n, "\\u%04x", (unsigned char) *s);
        } else {
            out[n++] = *s;
        }
    }

    out[n++] = '"';
    out[n] = '\0';
}


/* The subscription JSON: given inline ('{...'), from stdin ('-') or a file. */
static int
send_test_read_subscription(const char *arg, char **out, size_t *len)
{
    FILE    *f;
    char    *buf;
    size_t   n;

    if (arg[0] == '{') {
        *out = strdup(arg);
        *len = strlen(arg);
        return *out ? 0 : -1;
    }

    f = strcmp(arg, "-") == 0 ? stdin : fopen(arg, "r");
    if (f == NULL) {
        fprintf(stderr, CMD ": --subscription: cannot open \"%s\": %s\n",
                arg, strerror(errno));
        return -1;
    }

    /* One byte over the limit, so the validator reports "too long". */
    buf = malloc(WP_SUB_MAX_BODY + 2);
    if (buf == NULL) {
        if (f != stdin) {
            fclose(f);
        }
        return -1;
    }

    n = fread(buf, 1, WP_SUB_MAX_BODY + 1, f);
    if (ferror(f)) {
        fprintf(stderr, CMD ": --subscription: cannot read \"%s\"\n", arg);
        free(buf);
        buf = NULL;
    }

    if (f != stdin) {
        fclose(f);
    }

    if (buf == NULL) {
        return -1;
    }

    buf[n] = '\0';
    *out = buf;
    *len = n;

    return 0;
}


static int
send_test_deliver(const wp_subscription_t *sub, const wp_send_req_t *fields,
    const char *payload)
{
    int                rc;
    char               msg[512];
    size_t             bodylen;
    int64_t            connect_ms, tls_ms, total_ms;
    uint8_t            body[WP_ECE_MAX_BODY];
    wp_err_t           e;
    wp_ece_t          *ece;
    wp_outcome_t       outcome;
    const char        *subject;
    wp_deliver_t      *d;
    wp_push_req_t      req;
    wp_push_resp_t     resp;
    wp_vapid_key_t    *key;
    wp_vapid_token_t   tok;
    wp_deliver_opts_t  opts;
    wp_endpoint_policy_t  *wns;

    if (wp_conf_vapid(&key, &subject, msg, sizeof(msg)) != 0) {
        fprintf(stderr, CMD ": %s\n", msg);
        return CLI_EXIT_CONFIG;
    }

    /* The sender's variables and bounds (config.c), in milliseconds. */
    memset(&opts, 0, sizeof(opts));
    if (wp_conf_int("WEBPUSH_CONNECT_TIMEOUT", WP_DELIVER_CONNECT_TIMEOUT_MS,
                    100, 600000, &connect_ms, msg, sizeof(msg)) != 0
        || wp_conf_int("WEBPUSH_TLS_TIMEOUT", WP_DELIVER_TLS_TIMEOUT_MS,
                       100, 600000, &tls_ms, msg, sizeof(msg)) != 0
        || wp_conf_int("WEBPUSH_REQUEST_TIMEOUT", WP_DELIVER_TIMEOUT_MS,
                       100, 600000, &total_ms, msg, sizeof(msg)) != 0)
    {
        fprintf(stderr, CMD ": %s\n", msg);
        wp_vapid_key_free(key);
        return CLI_EXIT_CONFIG;
    }

    opts.connect_timeout_ms = (long) connect_ms;
    opts.tls_timeout_ms = (long) tls_ms;
    opts.timeout_ms = (long) total_ms;
    opts.ca_file = getenv("WEBPUSH_CA_FILE");
    if (opts.ca_file != NULL && opts.ca_file[0] == '\0') {
        opts.ca_file = NULL;
    }

    if (opts.ca_file != NULL && access(opts.ca_file, R_OK) != 0) {
        fprintf(stderr, CMD ": WEBPUSH_CA_FILE: cannot read \"%s\": %s\n",
                opts.ca_file, strerror(errno));
        wp_vapid_key_free(key);
        return CLI_EXIT_CONFIG;
    }

    memset(&tok, 0, sizeof(tok));
    if (wp_vapid_token_get(key, subject, sub->url.origin, (int64_t) time(NULL),
                           &tok, NULL, &e) != 0)
    {
        fprintf(stderr, CMD ": VAPID token: %s\n", e.message);
        wp_vapid_key_free(key);
        return CLI_EXIT_CONFIG;
    }

    wp_vapid_key_free(key);

    ece = wp_ece_new(&e);
    if (ece == NULL
        || wp_ece_encrypt(ece, sub->p256dh_raw, sub->auth_raw,
                          (const uint8_t *) payload, strlen(payload), 0,
                          body, sizeof(body), &bodylen, &e) != 0)
    {
        fprintf(stderr, CMD ": encryption: %s; nothing sent\n", e.message);
        wp_ece_free(ece);
        return strcmp(e.code, WP_E_PAYLOAD_TOO_LARGE) == 0
               ? CLI_EXIT_USAGE : CLI_EXIT_FAIL;
    }

    wp_ece_free(ece);

    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, CMD ": libcurl initialisation failed\n");
        return CLI_EXIT_FAIL;
    }

    rc = CLI_EXIT_FAIL;
    d = wp_deliver_new(&opts, &e);
    if (d == NULL) {
        fprintf(stderr, CMD ": %s\n", e.message);
        goto done;
    }

    if (wp_conf_wns(&wns, msg, sizeof(msg)) != 0) {
        fprintf(stderr, CMD ": %s\n", msg);
        rc = CLI_EXIT_CONFIG;
        goto done;
    }

    memset(&req, 0, sizeof(req));
    req.endpoint = sub->endpoint;
    req.body = body;
    req.body_len = bodylen;
    req.ttl = fields->ttl;
    req.urgency = wp_urgency_name(fields->urgency);
    req.topic = fields->topic;
    req.authorization = tok.header;
    req.wns_cache_policy = wp_endpoint_policy_match(wns, &sub->url)
                           ? wp_deliver_wns_cache_policy(req.ttl) : NULL;
    wp_endpoint_policy_free(wns);

    if (wp_deliver_send(d, &req, &resp, &e) != 0) {
        fprintf(stderr, CMD ": %s\n", e.message);
        goto done;
    }

    if (resp.status == 0) {
        fprintf(stderr, CMD ": %s unreachable: %s\n", sub->url.origin,
                resp.error);
        if (resp.tls_failed) {
            fprintf(stderr, CMD ": TLS verification is always on; for a"
                    " private push service set WEBPUSH_CA_FILE to its CA"
                    " (PEM)\n");
        }
        rc = CLI_EXIT_UNAVAIL;
        goto done;
    }

    send_test_print(&resp);

    outcome = wp_deliver_classify(&resp);
    fprintf(stderr, CMD ": %ld from %s in %ld ms: %s\n", resp.status,
            sub->url.origin, resp.elapsed_ms, wp_outcome_name(outcome));

    rc = (outcome == WP_OUTCOME_SENT) ? CLI_EXIT_OK : CLI_EXIT_FAIL;

done:

    wp_deliver_free(d);
    curl_global_cleanup();

    return rc;
}


/* Status line and headers as received, then an excerpt of the body. */
static void
send_test_print(const wp_push_resp_t *resp)
{
    size_t  i, n;

    for (i = 0; i < resp->headers_len; i++) {
        if (resp->headers[i] != '\r') {
            putchar(resp->headers[i]);
        }
    }

    if (resp->retry_after >= 0) {
        printf("(Retry-After: %lld s)\n", (long long) resp->retry_after);
    }

    n = resp->body_len < BODY_EXCERPT ? resp->body_len : BODY_EXCERPT;

    for (i = 0; i < n; i++) {
        unsigned char  c = (unsigned char) resp->body[i];

        putchar((c >= 0x20 && c < 0x7f) || c == '\n' || c == '\t' ? c : '.');
    }

    if (n > 0 && resp->body[n - 1] != '\n') {
        putchar('\n');
    }

    if (n < resp->body_len || resp->body_truncated) {
        printf("[... body cut]\n");
    }

    fflush(stdout);
}
