/* webpush-sender: the libcurl multi delivery engine (see engine.h). */

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "b64.h"
#include "engine.h"
#include "vapid.h"

#define WP_ENGINE_POLL_MS  50
#define WP_ENGINE_FLUSH_EVERY  WP_ECE_BATCH  /* sealed between writes */
#define WP_ENGINE_KEYOK_TTL    86400 /* s: <prefix>keyok:<aud> */
#define WP_ENGINE_LOOK_WAIT_MS 100   /* an origin's work waits for the look
                                        at its shared circuit this long */
#define WP_ENGINE_HEADROOM     2     /* in flight = rate x round trip x this */
#define WP_ENGINE_SAMPLE_MS    250   /* CPU per message measured this often */
#define WP_ENGINE_CPU_WINDOW_MS 10000 /* and its least value kept this long */
#define WP_ENGINE_CPU_GUESS_US 70.0  /* until measured: this machine kind's
                                        figure (docs/sender.md) */

static void wp_engine_client_done(void *ctx, void *data,
    const wp_push_resp_t *resp);
static void wp_engine_send(wp_engine_t *e, wp_engine_slot_t *slot,
    int64_t now);
static void wp_engine_release(wp_engine_t *e, wp_engine_slot_t *slot);

struct wp_engine_slot_s {
    wp_deliver_t  *d;
    wp_work_t     *w;
    wp_origin_t   *o;
    int            native;      /* carried by client.c, not libcurl */
    int            sealing;     /* handed to the sealer, not back yet */
    wp_url_t       url;
    wp_seal_t      seal;
    uint8_t        body[WP_ECE_MAX_BODY];
};


static int64_t
wp_engine_now_ms(void)
{
    struct timeval  tv;

    gettimeofday(&tv, NULL);

    return (int64_t) tv.tv_sec * 1000 + tv.tv_usec / 1000;
}


const char *
wp_result_name(wp_result_t r)
{
    switch (r) {
    case WP_RESULT_SENT:     return "sent";
    case WP_RESULT_DISABLE:  return "disable";
    case WP_RESULT_FAIL:     return "fail";
    case WP_RESULT_CONFIG:   return "config";
    case WP_RESULT_KEY_MISMATCH: return "key_mismatch";
    case WP_RESULT_RETRY:    return "retry";
    case WP_RESULT_DEFER:    return "defer";
    case WP_RESULT_EXPIRED:  return "expired";
    case WP_RESULT_ABORTED:  return "aborted";
    }

    return "unknown";
}


int
wp_engine_init(wp_engine_t *e, const wp_sender_conf_t *conf, wp_log_t *log,
    wp_metrics_t *m, wp_queue_t *q, char *err, size_t errlen)
{
    int                i;
    wp_err_t           werr;
    wp_deliver_opts_t  opts;

    memset(e, 0, sizeof(*e));
    e->conf = conf;
    e->log = log;
    e->metrics = m;
    e->q = q;

    e->sealer = wp_sealer_new(conf->crypto_threads, &werr);
    if (e->sealer == NULL) {
        snprintf(err, errlen, "%s", werr.message);
        return -1;
    }

    if (wp_origins_init(&e->origins, conf->concurrency) != 0) {
        snprintf(err, errlen, "out of memory");
        goto failed;
    }

    e->multi = curl_multi_init();
    if (e->multi == NULL) {
        snprintf(err, errlen, "curl_multi_init failed");
        goto failed;
    }

    /*
     * Multiplex on one connection per origin; a second opens only when the
     * server's stream limit is reached.  HTTP/1.1 origins get up to one
     * keep-alive connection per in-flight request.
     */
    curl_multi_setopt(e->multi, CURLMOPT_PIPELINING, (long) CURLPIPE_MULTIPLEX);
    curl_multi_setopt(e->multi, CURLMOPT_MAX_HOST_CONNECTIONS,
                      (long) (conf->concurrency < WP_ORIGIN_MAX_H1
                              ? conf->concurrency : WP_ORIGIN_MAX_H1));
    curl_multi_setopt(e->multi, CURLMOPT_MAX_CONCURRENT_STREAMS, 100L);
    curl_multi_setopt(e->multi, CURLMOPT_MAXCONNECTS,
                      (long) conf->concurrency + 16);

    e->nslots = conf->concurrency;
    e->target = WP_ENGINE_FIRST_TARGET < e->nslots ? WP_ENGINE_FIRST_TARGET
                                                   : e->nslots;
    e->rtt_ms = -1;
    e->origins.max_inflight = e->target;
    e->cpu_us[0] = 0;
    e->cpu_us[1] = WP_ENGINE_CPU_GUESS_US;
    e->slots = calloc(e->nslots, sizeof(wp_engine_slot_t));
    e->free_slots = calloc(e->nslots, sizeof(int));
    if (e->slots == NULL || e->free_slots == NULL) {
        snprintf(err, errlen, "out of memory");
        goto failed;
    }

    memset(&opts, 0, sizeof(opts));
    opts.ca_file = conf->ca_file;
    opts.connect_timeout_ms = (long) conf->connect_timeout_ms;
    opts.tls_timeout_ms = (long) conf->tls_timeout_ms;
    opts.timeout_ms = (long) conf->request_timeout_ms;
    opts.idle_ms = (long) conf->idle_timeout_ms;
    opts.dns_servers = conf->dns_servers;

    if (!conf->http2_libcurl) {
        e->client = wp_client_new(&opts, wp_engine_client_done, e, &werr);
        if (e->client == NULL) {
            snprintf(err, errlen, "%s", werr.message);
            goto failed;
        }
    }

    /* lowest index on top: the slots in use stay the low ones, and the
     * pages of the ones never used (calloc'd: mapped, not touched) cost
     * no memory */
    for (i = e->nslots - 1; i >= 0; i--) {
        e->free_slots[e->nfree++] = i;

        /* a libcurl easy handle per slot only for the libcurl engine */
        if (e->client != NULL) {
            continue;
        }

        e->slots[i].d = wp_deliver_new(&opts, &werr);
        if (e->slots[i].d == NULL) {
            snprintf(err, errlen, "%s", werr.message);
            goto failed;
        }
    }

    /* connecting now: the first look at an origin needs the link */
    wp_aredis_init(&e->ar, q->conf, q->timeout_ms, log);

    return 0;

failed:

    wp_engine_free(e);

    return -1;
}


void
wp_engine_free(wp_engine_t *e)
{
    int  i;

    wp_aredis_free(&e->ar);

    if (e->slots) {
        for (i = 0; i < e->nslots; i++) {
            if (e->slots[i].w != NULL && !e->slots[i].native && e->multi) {
                curl_multi_remove_handle(e->multi,
                                         wp_deliver_easy(e->slots[i].d));
            }
            wp_deliver_free(e->slots[i].d);
        }
    }

    if (e->multi) {
        curl_multi_cleanup(e->multi);
    }

    wp_client_free(e->client);

    free(e->slots);
    free(e->free_slots);
    wp_origins_free(&e->origins);
    wp_sealer_free(e->sealer);
    memset(e, 0, sizeof(*e));
}


static void
wp_engine_done(wp_work_t *w, wp_result_t r)
{
    w->result = r;
    w->state = 2;
    w->batch->left--;
}


/*
 * The shared circuit's look came back (or never will: r NULL).  The
 * origin is found again by its audience: it may have been evicted, or
 * reused for another, since the look was sent.
 */
static void
wp_engine_on_circuit(void *ctx, const char *aud, redisReply *r)
{
    int           mismatch;
    int64_t       now;
    wp_engine_t  *e;
    wp_origin_t  *o;

    e = ctx;
    o = wp_origin_find(&e->origins, aud);
    if (o == NULL) {
        return;
    }

    o->shared_pending = 0;

    if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements != 2
        || r->element[0]->type != REDIS_REPLY_STRING
        || r->element[1]->type != REDIS_REPLY_INTEGER
        || r->element[1]->integer <= 0)
    {
        return;
    }

    now = wp_engine_now_ms();
    mismatch = wp_vapid_mismatch_answer(403, r->element[0]->str);

    if (mismatch && o->key_ok) {
        (void) wp_aredis_cmd(&e->ar, NULL, NULL, NULL, "DEL %scircuit:%s",
                             e->q->prefix, o->aud);

    } else if (now + r->element[1]->integer > o->circuit_until_ms) {
        (void) wp_origin_on_config_error(o, now, r->element[1]->integer,
                                         "circuit open (401/403 seen by"
                                         " a sender)", mismatch);
    }
}


/*
 * A circuit another sender opened for o (queue.h: <prefix>circuit:<aud>),
 * looked at at most once a second, without waiting in the loop: the
 * answer is applied when it comes (wp_engine_on_circuit).  One that "key
 * mismatch" answers opened is dropped once o took our key: those answers
 * were about single subscriptions.  Returns 1 while a look is on its way
 * and younger than WP_ENGINE_LOOK_WAIT_MS: o's work waits for it (other
 * origins' work goes on), so a circuit opened elsewhere is honoured from
 * the next request on, as when the look was a blocking call; a Redis
 * slower than that delays o's requests by that much, not the loop.
 */
static int
wp_engine_shared_circuit(wp_engine_t *e, wp_origin_t *o, int64_t now)
{
    if (!o->shared_pending && now - o->shared_checked_ms >= 1000) {
        o->shared_checked_ms = now;

        /* not sent (no Redis): go on as without a key, as before */
        o->shared_pending = wp_aredis_cmd(&e->ar, wp_engine_on_circuit, e,
                                          o->aud, "EVAL %s 1 %scircuit:%s",
                                          "return {redis.call('GET', KEYS[1]),"
                                          " redis.call('PTTL', KEYS[1])}",
                                          e->q->prefix, o->aud) == 0;
    }

    return o->shared_pending
           && now - o->shared_checked_ms < WP_ENGINE_LOOK_WAIT_MS;
}


/*
 * o answered 2xx: our key is the right one there.  The first time, tell
 * the other senders (<prefix>keyok:<aud>), and close a circuit that "key
 * mismatch" answers had opened before this proof.  Both fire and forget.
 */
static void
wp_engine_key_proven(wp_engine_t *e, wp_origin_t *o, int64_t now)
{
    int  first;

    first = !o->key_ok;

    if (wp_origin_on_success(o, now)) {
        wp_log(e->log, WP_LOG_INFO, "push service took our VAPID key:"
               " circuit closed, the key mismatches were about single"
               " subscriptions", "aud", o->aud, NULL);
        (void) wp_aredis_cmd(&e->ar, NULL, NULL, NULL, "DEL %scircuit:%s",
                             e->q->prefix, o->aud);
    }

    if (first) {
        (void) wp_aredis_cmd(&e->ar, NULL, NULL, NULL,
                             "SET %skeyok:%s %s EX %d", e->q->prefix, o->aud,
                             wp_vapid_key_public(e->conf->vapid),
                             WP_ENGINE_KEYOK_TTL);
    }
}


/*
 * A 401/403 for w: the origin's circuit opens (shared with the other
 * senders), or, when o has taken our key (known), w's subscription was
 * made with another key.
 */
static void
wp_engine_refused(wp_engine_t *e, wp_work_t *w, wp_origin_t *o, int mismatch,
    int known, int64_t now)
{
    if (mismatch && known) {
        /* the origin takes our key: this subscription was made with
         * another one and never will take it (protocol reference) */
        wp_log(e->log, WP_LOG_WARN, "subscription created with another"
               " VAPID key: left out until it subscribes again", "aud",
               o->aud, "subscription", w->sub_id, "reason", w->reason,
               NULL);
        wp_engine_done(w, WP_RESULT_KEY_MISMATCH);
        return;
    }

    if (wp_origin_on_config_error(o, now, e->conf->circuit_open_ms,
                                  w->reason, mismatch))
    {
        /* Loud: this sender is refused; nothing is disabled. */
        wp_log(e->log, WP_LOG_ERROR, w->status == 410
               ? "push service blocked this sender (WNS \"Domain"
                 " Blocked\"): circuit open, nothing disabled"
               : "push service refused our VAPID credentials: circuit"
                 " open, check VAPID keys and subject",
               "aud", o->aud, "reason", w->reason, NULL);

        (void) wp_aredis_cmd(&e->ar, NULL, NULL, NULL,
                             "SET %scircuit:%s %s PX %lld", e->q->prefix,
                             o->aud, w->reason,
                             (long long) e->conf->circuit_open_ms);
    }

    w->defer_until_ms = o->circuit_until_ms;
    wp_engine_done(w, WP_RESULT_CONFIG);
}


/* Parked answers of o (all when o is NULL) get their result now. */
static void
wp_engine_unpark(wp_engine_t *e, wp_origin_t *o, int aborted, int64_t now)
{
    wp_work_t  *w, **pp;

    pp = &e->parked;

    while ((w = *pp) != NULL) {
        if (o != NULL && w->origin != o) {
            pp = &w->parked;
            continue;
        }

        *pp = w->parked;
        w->parked = NULL;
        w->origin->inflight--;
        w->batch->inflight--;

        if (aborted) {
            snprintf(w->reason, sizeof(w->reason), "cut off at shutdown");
            wp_engine_done(w, WP_RESULT_ABORTED);
        } else {
            wp_engine_refused(e, w, w->origin, 1, w->origin->key_ok, now);
        }
        w->origin = NULL;
    }
}


/* The keyok look came back (r NULL: no answer, no evidence). */
static void
wp_engine_on_keyok(void *ctx, const char *aud, redisReply *r)
{
    wp_engine_t  *e;
    wp_origin_t  *o;

    e = ctx;
    o = wp_origin_find(&e->origins, aud);
    if (o == NULL) {
        return;             /* evicted: nothing of it was parked */
    }

    o->keyok_pending = 0;

    if (r != NULL && r->type == REDIS_REPLY_STRING
        && strcmp(r->str, wp_vapid_key_public(e->conf->vapid)) == 0)
    {
        o->key_ok = 1;
    }

    wp_engine_unpark(e, o, 0, wp_engine_now_ms());
}


/*
 * A "key mismatch" answer for w: is it w's subscription, or our
 * configuration?  Decided now when o (or, says <prefix>keyok, another
 * sender's o) is known to take our key, or when keyok was looked at less
 * than a second ago; otherwise w is parked (it keeps its place in its
 * batch and its origin, not a transfer slot) until the look comes back,
 * at most the Redis timeout.
 */
static void
wp_engine_mismatch(wp_engine_t *e, wp_work_t *w, wp_origin_t *o, int64_t now)
{
    if (!o->key_ok && !o->keyok_pending
        && now - o->keyok_checked_ms >= 1000)
    {
        o->keyok_checked_ms = now;
        if (wp_aredis_cmd(&e->ar, wp_engine_on_keyok, e, o->aud,
                          "GET %skeyok:%s", e->q->prefix, o->aud) == 0)
        {
            o->keyok_pending = 1;
        }
    }

    if (o->key_ok || !o->keyok_pending) {
        wp_engine_refused(e, w, o, 1, o->key_ok, now);
        return;
    }

    /* held like a request in flight: the batch and the origin stay */
    o->inflight++;
    w->batch->inflight++;
    w->origin = o;
    w->parked = e->parked;
    e->parked = w;
}


/*
 * Try to start w now.  Returns 1 when it started or got a result, 0 when
 * it must wait (its origin is at its limit).
 */
static int
wp_engine_start(wp_engine_t *e, wp_work_t *w, int64_t now)
{
    int                adm, resigned;
    size_t             n;
    const char        *aud;
    wp_err_t           err;
    wp_url_t           url;
    wp_origin_t       *o;
    wp_engine_slot_t  *slot;

    w->status = 0;
    w->retry_after_s = -1;
    w->reason[0] = '\0';

    if (now >= w->msg->expires_ms) {
        snprintf(w->reason, sizeof(w->reason), "TTL expired before sending");
        wp_engine_done(w, WP_RESULT_EXPIRED);
        return 1;
    }

    /* The stored endpoint is re-checked: the policy may have tightened. */
    if (wp_endpoint_check(e->conf->policy, w->endpoint, strlen(w->endpoint),
                          &url, &err) != 0)
    {
        snprintf(w->reason, sizeof(w->reason), "%s", err.message);
        wp_engine_done(w, WP_RESULT_FAIL);
        return 1;
    }

    aud = url.origin;       /* the VAPID audience (wp_vapid_audience) */

    /*
     * Its host is being looked up: wait, holding no slot and no origin
     * state, so a page full of slow or dead names cannot keep the other
     * origins' items behind it from going out.  The answer wakes the
     * engine's wait (client.h); a failed lookup is then submitted and
     * answered as a network error.
     */
    if (e->client != NULL && wp_client_resolving(e->client, &url, now)) {
        return 0;
    }

    o = wp_origin_get(&e->origins, aud, now);
    if (o == NULL) {
        return 0;           /* every origin slot busy: wait for one */
    }

    if (wp_engine_shared_circuit(e, o, now)) {
        return 0;           /* the look at the shared key first */
    }

    adm = wp_origin_admit(o, now);

    switch (adm) {
    case WP_ORIGIN_FULL:
        /* remembered: until it has room, passing this item over costs
         * no endpoint parse (a page may hold thousands of them) */
        w->full_o = o;
        w->full_hash = o->hash;
        return 0;

    case WP_ORIGIN_OK:
        break;

    default:
        w->defer_until_ms = wp_origin_reopen_ms(o, now,
                                                e->conf->retry_delay_ms);
        snprintf(w->reason, sizeof(w->reason), "%s",
                 adm == WP_ORIGIN_CIRCUIT ? o->circuit_reason
                 : adm == WP_ORIGIN_PAUSED ? "push service asked to wait"
                 : "push service degraded (timeouts or throttling)");
        wp_engine_done(w, WP_RESULT_DEFER);
        return 1;
    }

    slot = &e->slots[e->free_slots[e->nfree - 1]];

    if (wp_b64url_decode(w->p256dh, strlen(w->p256dh), slot->seal.p256dh,
                         sizeof(slot->seal.p256dh), &n, WP_B64_LENIENT,
                         "p256dh", &err) != 0 || n != WP_P256_PUB_LEN
        || wp_b64url_decode(w->auth, strlen(w->auth), slot->seal.auth,
                            sizeof(slot->seal.auth), &n, WP_B64_LENIENT,
                            "auth", &err) != 0
        || n != WP_AUTH_LEN)
    {
        snprintf(w->reason, sizeof(w->reason),
                 "stored subscription keys are invalid");
        wp_engine_done(w, WP_RESULT_FAIL);
        return 1;
    }

    if (wp_vapid_token_get(e->conf->vapid, e->conf->vapid_subject, aud,
                           now / 1000, &o->tok, &resigned, &err) != 0)
    {
        snprintf(w->reason, sizeof(w->reason), "VAPID: %s", err.message);
        wp_engine_done(w, WP_RESULT_FAIL);
        return 1;
    }

    if (resigned) {
        wp_log(e->log, WP_LOG_DEBUG, "VAPID token signed", "aud", aud, NULL);
    }

    e->nfree--;
    slot->w = w;
    slot->o = o;
    slot->url = url;
    o->inflight++;
    w->batch->inflight++;
    w->state = 1;

    /* A fresh key and salt for every request, retries included. */
    slot->seal.data = slot;
    slot->seal.payload = (const uint8_t *) w->msg->req->payload;
    slot->seal.payload_len = w->msg->req->payload_len;
    slot->seal.out = slot->body;
    slot->seal.out_cap = sizeof(slot->body);

    /* sealed in a batch with others, sent by wp_engine_sealed() */
    slot->sealing = 1;
    wp_sealer_seal(e->sealer, &slot->seal);

    return 1;
}


/* The body of slot is sealed: send it. */
static void
wp_engine_send(wp_engine_t *e, wp_engine_slot_t *slot, int64_t now)
{
    int64_t         ttl;
    wp_err_t        err;
    CURLMcode       mrc;
    wp_work_t      *w;
    wp_result_t     r;
    wp_push_req_t   req;

    w = slot->w;
    slot->sealing = 0;
    r = WP_RESULT_FAIL;

    if (slot->seal.rc != 0) {
        snprintf(w->reason, sizeof(w->reason), "%s", slot->seal.err.message);
        goto failed;
    }

    /* What is left of the TTL, so a late retry cannot outlive it: whole
     * seconds rounded up (a TTL of 1 must not become "no storage"). */
    ttl = (w->msg->expires_ms - now + 999) / 1000;
    ttl = ttl < 0 ? 0 : ttl > w->msg->req->ttl ? w->msg->req->ttl : ttl;

    memset(&req, 0, sizeof(req));
    req.endpoint = w->endpoint;
    req.body = slot->body;
    req.body_len = slot->seal.out_len;
    req.ttl = ttl;
    req.urgency = wp_urgency_name(w->msg->req->urgency);
    req.topic = w->msg->req->topic;
    req.authorization = slot->o->tok.header;
    req.wns_cache_policy = wp_endpoint_policy_match(e->conf->wns, &slot->url)
                           ? wp_deliver_wns_cache_policy(ttl) : NULL;

    slot->native = e->client != NULL;

    if (slot->native) {
        if (wp_client_submit(e->client, &slot->url, &req, slot->o->http1,
                             slot, now, &err) != 0)
        {
            snprintf(w->reason, sizeof(w->reason), "%s", err.message);
            goto failed;
        }

        return;
    }

    if (wp_deliver_prepare(slot->d, &req, &err) != 0) {
        snprintf(w->reason, sizeof(w->reason), "%s", err.message);
        goto failed;
    }

    mrc = curl_multi_add_handle(e->multi, wp_deliver_easy(slot->d));
    if (mrc != CURLM_OK) {
        snprintf(w->reason, sizeof(w->reason), "libcurl: %s",
                 curl_multi_strerror(mrc));
        r = WP_RESULT_RETRY;
        goto failed;
    }

    e->ncurl++;

    return;

failed:

    wp_engine_release(e, slot);
    wp_engine_done(w, r);
}


static void
wp_engine_reason(const wp_push_resp_t *resp, char *out, size_t cap)
{
    int          sp, n;
    size_t       i, len, copied;
    const char  *b;

    if (resp->status == 0) {
        snprintf(out, cap, "%s", resp->error[0] ? resp->error : "no answer");
        return;
    }

    n = snprintf(out, cap, "HTTP %ld", resp->status);
    if (n < 0 || (size_t) n >= cap) {
        return;
    }

    /* then ": " and the body on one line (JSON bodies come pretty-printed),
     * at most 200 bytes of it: PushError rows, dead letters and log lines
     * quote it */
    b = resp->body_len ? resp->body : "";
    len = n;
    copied = 0;
    sp = 0;

    for (i = 0; i < resp->body_len && b[i] != '\0'; i++) {
        if (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' || b[i] == '\n') {
            sp = 1;
            continue;
        }

        if (copied == 200 || len + 4 >= cap) {
            break;
        }

        if (copied == 0) {
            out[len++] = ':';
            sp = 1;
        }

        if (sp) {
            out[len++] = ' ';
            sp = 0;
        }

        out[len++] = b[i];
        copied++;
    }

    out[len] = '\0';

    /* WNS answers with an empty body and says why in a header */
    if (copied == 0 && resp->wns_error != NULL && resp->wns_error[0]) {
        snprintf(out + len, cap - len, ": %.200s", resp->wns_error);
    }
}


/* Give slot back; its item is unaccounted for until the caller says. */
static void
wp_engine_release(wp_engine_t *e, wp_engine_slot_t *slot)
{
    slot->o->inflight--;
    slot->w->batch->inflight--;
    slot->w = NULL;
    slot->o = NULL;
    e->free_slots[e->nfree++] = (int) (slot - e->slots);
}


/* An answer (either transport) becomes the item's result. */
static void
wp_engine_answer(wp_engine_t *e, wp_engine_slot_t *slot,
    const wp_push_resp_t *resp, int64_t now)
{
    wp_work_t       *w;
    wp_origin_t     *o;
    wp_outcome_t     oc;

    w = slot->w;
    o = slot->o;

    wp_engine_release(e, slot);
    e->finished++;

    wp_metrics_answer(e->metrics, resp->status, resp->elapsed_ms);

    /* the round trip, for the in-flight targets (status 0: no answer) */
    e->answered++;
    if (resp->status != 0) {
        wp_origin_on_rtt(o, now, resp->elapsed_ms);
        e->rtt_ms = e->rtt_ms < 0
                    ? (double) wp_origin_rtt(o)
                    : e->rtt_ms + ((double) wp_origin_rtt(o) - e->rtt_ms) / 64;
    }

    w->status = resp->status;
    w->retry_after_s = resp->retry_after > e->conf->retry_after_max_s
                       ? e->conf->retry_after_max_s : resp->retry_after;

    /* only failures are reported with their reason */
    if (resp->status >= 200 && resp->status <= 299) {
        w->reason[0] = '\0';
    } else {
        wp_engine_reason(resp, w->reason, sizeof(w->reason));
    }

    oc = wp_deliver_classify(resp);

    switch (oc) {

    case WP_OUTCOME_SENT:
        wp_engine_key_proven(e, o, now);
        wp_engine_done(w, WP_RESULT_SENT);
        break;

    case WP_OUTCOME_DISABLE:
        wp_engine_done(w, WP_RESULT_DISABLE);
        break;

    case WP_OUTCOME_CONFIG:
        if (wp_vapid_mismatch_answer(resp->status, resp->body)) {
            wp_engine_mismatch(e, w, o, now);
        } else {
            wp_engine_refused(e, w, o, 0, 0, now);
        }
        break;

    case WP_OUTCOME_RETRY:
        wp_log(e->log, WP_LOG_DEBUG, "delivery to be retried", "aud", o->aud,
               "reason", w->reason, NULL);
        wp_origin_on_throttle(o, now, w->retry_after_s);
        wp_engine_done(w, WP_RESULT_RETRY);
        break;

    default:
        wp_engine_done(w, WP_RESULT_FAIL);
        break;
    }
}


/* A libcurl transfer finished. */
static void
wp_engine_curl_done(wp_engine_t *e, wp_engine_slot_t *slot, CURLcode rc,
    int64_t now)
{
    wp_push_resp_t  resp;

    wp_deliver_finish(slot->d, rc, &resp);
    curl_multi_remove_handle(e->multi, wp_deliver_easy(slot->d));
    e->ncurl--;

    wp_engine_answer(e, slot, &resp, now);
}


/* A client.c request finished (client.h: wp_client_done_pt). */
static void
wp_engine_client_done(void *ctx, void *data, const wp_push_resp_t *resp)
{
    int                i;
    wp_work_t         *w;
    wp_engine_t       *e;
    wp_engine_slot_t  *slot;

    e = ctx;
    slot = data;
    w = slot->w;

    /*
     * Not processed by the server (no h2 there, a refused stream, a
     * connection lost before the request was written): start the item
     * again, not counted as an attempt.  Bounded, so a server refusing
     * everything ends in an ordinary retry.
     */
    if (resp->no_h2 || (resp->resend && w->resends < 3)) {
        if (resp->no_h2) {
            /* every request queued on that first connection says so */
            if (!slot->o->http1) {
                wp_log(e->log, WP_LOG_INFO, "push service speaks no HTTP/2:"
                       " HTTP/1.1 from now on", "aud", slot->o->aud, NULL);
            }
            slot->o->http1 = 1;
        } else {
            w->resends++;
        }

        wp_engine_release(e, slot);
        e->finished++;
        w->state = 0;
        e->queued++;
        i = (int) (w - w->batch->w);
        if (i < w->batch->first) {
            w->batch->first = i;
        }
        return;
    }

    wp_engine_answer(e, slot, resp, wp_engine_now_ms());
}


static void
wp_engine_abort(wp_engine_t *e)
{
    int  i;

    /* bodies at the workers come back first: their slots are reused */
    wp_sealer_drain(e->sealer);
    (void) wp_sealer_done(e->sealer);

    if (e->client != NULL) {
        wp_client_reset(e->client);
    }

    wp_engine_unpark(e, NULL, 1, wp_engine_now_ms());

    for (i = 0; i < e->nslots; i++) {
        if (e->slots[i].w == NULL) {
            continue;
        }

        if (!e->slots[i].native && !e->slots[i].sealing
            && e->slots[i].d != NULL)
        {
            curl_multi_remove_handle(e->multi,
                                     wp_deliver_easy(e->slots[i].d));
            e->ncurl--;
        }
        e->slots[i].sealing = 0;
        snprintf(e->slots[i].w->reason, sizeof(e->slots[i].w->reason),
                 "cut off at shutdown");
        wp_engine_done(e->slots[i].w, WP_RESULT_ABORTED);
        wp_engine_release(e, &e->slots[i]);
    }
}


/* Send what the sealer sealed. */
static void
wp_engine_sealed(wp_engine_t *e, int64_t now)
{
    wp_seal_t  *j, *next;

    for (j = wp_sealer_done(e->sealer); j != NULL; j = next) {
        next = j->next;
        wp_engine_send(e, j->data, now);
    }
}


/* Process CPU time, microseconds (every thread: the sealer's too). */
static int64_t
wp_engine_cpu_us(void)
{
    struct timespec  ts;

    if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) != 0) {
        return 0;
    }

    return (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}


/* Little's law: rate x round trip, with headroom, within the limits. */
static int
wp_engine_little(const wp_engine_t *e, double rate_per_ms, double rtt_ms)
{
    double  n;

    n = rate_per_ms * rtt_ms * WP_ENGINE_HEADROOM + WP_ENGINE_MIN_TARGET;

    return n > e->nslots ? e->nslots : (int) n;
}


/*
 * Every WP_ENGINE_SAMPLE_MS: the CPU a message costs this process (so
 * the rate it can sustain), and from it and the round trips the
 * in-flight targets, overall and per origin.  CPU time, not wall time,
 * so waiting for answers does not make messages look dear; and the least
 * sample of the last 10-20 s, because a sender held back (few requests
 * per wake-up, connections being set up) pays more per message than the
 * same sender running flat out, and the target is about the latter.
 */
static void
wp_engine_retarget(wp_engine_t *e, int64_t now)
{
    int           i, cores;
    double        per, rate;
    int64_t       cpu, n;
    wp_origin_t  *o;

    if (now - e->sample_ms < WP_ENGINE_SAMPLE_MS) {
        return;
    }

    cpu = wp_engine_cpu_us();
    n = e->answered - e->sample_answered;

    if (now - e->cpu_window_ms >= WP_ENGINE_CPU_WINDOW_MS) {
        e->cpu_window_ms = now;
        e->cpu_us[1] = e->cpu_us[0] > 0 ? e->cpu_us[0] : e->cpu_us[1];
        e->cpu_us[0] = 0;
    }

    if (e->sample_ms != 0 && n >= 32) {
        per = (double) (cpu - e->sample_cpu_us) / (double) n;
        if (e->cpu_us[0] <= 0 || per < e->cpu_us[0]) {
            e->cpu_us[0] = per;
        }
    }

    if (e->sample_ms == 0 || n >= 32 || now - e->sample_ms > 5000) {
        e->sample_ms = now;
        e->sample_cpu_us = cpu;
        e->sample_answered = e->answered;
    }

    per = e->cpu_us[0] > 0 && e->cpu_us[0] < e->cpu_us[1] ? e->cpu_us[0]
                                                           : e->cpu_us[1];
    cores = e->conf->crypto_threads > 0 ? e->conf->crypto_threads : 1;
    rate = cores * 1000.0 / (per > 1 ? per : 1);    /* messages per ms */

    if (e->rtt_ms < 0) {
        return;             /* no answer yet: the first target stands */
    }

    e->target = wp_engine_little(e, rate, e->rtt_ms);
    e->origins.max_inflight = e->target;

    for (i = 0; i < e->origins.n; i++) {
        o = &e->origins.o[i];
        if (wp_origin_rtt(o) >= 0) {
            wp_origin_set_max(o, wp_engine_little(e, rate,
                                                  wp_origin_rtt(o)));
        }
    }
}


void
wp_engine_add(wp_engine_t *e, wp_batch_t *b, wp_work_t *w, int n,
    int urgent)
{
    int          i;
    wp_batch_t  **pp;

    memset(b, 0, sizeof(*b));
    b->w = w;
    b->n = n;
    b->left = n;
    b->urgent = urgent;

    for (i = 0; i < n; i++) {
        w[i].state = 0;
        w[i].resends = 0;
        w[i].full_o = NULL;
        w[i].batch = b;
    }

    /* stopping already: nothing new goes out */
    if (e->deadline_ms != 0) {
        b->cancelled = 1;
    } else {
        e->queued += n;
    }

    for (pp = &e->batches[urgent ? 0 : 1]; *pp != NULL; pp = &(*pp)->next) {
        /* void */
    }

    *pp = b;
}


void
wp_engine_remove(wp_engine_t *e, wp_batch_t *b)
{
    wp_batch_t  **pp;

    for (pp = &e->batches[b->urgent ? 0 : 1]; *pp != NULL;
         pp = &(*pp)->next)
    {
        if (*pp == b) {
            *pp = b->next;
            break;
        }
    }

    wp_engine_cancel(e, b);
    b->next = NULL;
}


int
wp_engine_room(const wp_engine_t *e)
{
    return e->target - (e->nslots - e->nfree) - e->queued;
}


void
wp_engine_cancel(wp_engine_t *e, wp_batch_t *b)
{
    int  i;

    if (b->cancelled) {
        return;
    }

    for (i = b->first; i < b->n; i++) {
        if (b->w[i].state == 0) {
            e->queued--;
        }
    }

    b->cancelled = 1;
}


/*
 * SIGTERM: a batch queued behind the last one that started never starts
 * (its owner does not commit it, and nothing of it went out, so nothing
 * is sent twice); the others are finished, so that every batch before a
 * started one can be committed.
 */
static void
wp_engine_cancel_unstarted(wp_engine_t *e)
{
    int          k;
    wp_batch_t  *b, *last;

    for (k = 0; k < 2; k++) {
        last = NULL;
        for (b = e->batches[k]; b != NULL; b = b->next) {
            if (b->started) {
                last = b;
            }
        }

        for (b = last ? last->next : e->batches[k]; b != NULL; b = b->next) {
            wp_engine_cancel(e, b);
        }
    }
}


/*
 * Write what was sealed and take the answers that came meanwhile, without
 * waiting.  Starting a thousand requests means encrypting for 50 ms or
 * more: answers left unread that long would hold their slots and add to
 * every round trip (and so to the in-flight count Little's law asks for).
 */
static void
wp_engine_io_now(wp_engine_t *e)
{
    int      nfds;
    int64_t  now, wake;

    if (e->client == NULL) {
        return;
    }

    now = wp_engine_now_ms();
    wake = now;
    nfds = wp_client_fds(e->client, e->fds, WP_ENGINE_MAX_FDS - 2, &wake);

    if (nfds > 0) {
        curl_multi_poll(e->multi, e->fds, nfds, 0, NULL);
        wp_client_ready(e->client, e->fds, nfds);
    }

    wp_client_io(e->client, now);
}


/*
 * Is w's origin, found full when w last tried, still full?  It cannot
 * have been evicted meanwhile (an origin with requests in flight never
 * is), but its slot may have been reused for another origin once idle:
 * the hash tells.
 */
static int
wp_engine_still_full(wp_work_t *w, int64_t now)
{
    if (w->full_o != NULL && w->full_o->hash == w->full_hash
        && wp_origin_admit(w->full_o, now) == WP_ORIGIN_FULL)
    {
        return 1;
    }

    w->full_o = NULL;

    return 0;
}


/*
 * Start what may start, in order (urgent batches first, then the rest);
 * a full origin's items wait without holding up the other origins' items
 * behind them.
 */
static void
wp_engine_start_all(wp_engine_t *e, int64_t now)
{
    int          i, k, started;
    wp_work_t   *w;
    wp_batch_t  *b;

    started = 0;

    for (k = 0; k < 2; k++) {
        for (b = e->batches[k]; b != NULL; b = b->next) {
            if (b->cancelled) {
                continue;
            }

            for (i = b->first; i < b->n; i++) {
                if (e->nfree == 0 || e->nslots - e->nfree >= e->target) {
                    return;
                }

                w = &b->w[i];
                if (w->state != 0 || wp_engine_still_full(w, now)
                    || !wp_engine_start(e, w, now))
                {
                    continue;
                }

                e->queued--;
                b->started = 1;

                if (++started % WP_ENGINE_FLUSH_EVERY == 0) {
                    /* seal a batch and out with it: the receiver works on
                     * it while we encrypt the rest */
                    wp_sealer_kick(e->sealer);
                    wp_engine_sealed(e, now);
                    wp_engine_io_now(e);
                }
            }

            while (b->first < b->n && b->w[b->first].state != 0) {
                b->first++;
            }
        }
    }
}


int
wp_engine_step(wp_engine_t *e, const volatile sig_atomic_t *stop)
{
    int       i, running, msgs, nfds, nall, rfd;
    int64_t   now, wake;
    CURLMsg  *m;

    /* replies to the markers' commands, sent ones written: no wait */
    wp_aredis_io(&e->ar);

    now = wp_engine_now_ms();

    if (stop != NULL && *stop && e->deadline_ms == 0) {
        e->deadline_ms = now + e->conf->stop_timeout_ms;
        wp_engine_cancel_unstarted(e);
    }

    if (e->deadline_ms && now >= e->deadline_ms) {
        wp_engine_abort(e);
        return -1;
    }

    wp_engine_retarget(e, now);
    wp_engine_start_all(e, now);

    wp_sealer_kick(e->sealer);
    wp_engine_sealed(e, now);

    if (e->nfree == e->nslots && e->queued == 0
        && wp_aredis_pending(&e->ar) == 0)
    {
        return 0;           /* nothing in flight or waiting: no reason to */
    }

    e->finished = 0;

    /* writes what was just started, reads answers, applies timeouts */
    if (e->client != NULL) {
        wp_client_io(e->client, now);
    }

    if (e->ncurl > 0) {
        curl_multi_perform(e->multi, &running);

        while ((m = curl_multi_info_read(e->multi, &msgs)) != NULL) {
            if (m->msg != CURLMSG_DONE) {
                continue;
            }

            for (i = 0; i < e->nslots; i++) {
                if (e->slots[i].w != NULL && !e->slots[i].native
                    && wp_deliver_easy(e->slots[i].d) == m->easy_handle)
                {
                    wp_engine_curl_done(e, &e->slots[i], m->data.result,
                                        wp_engine_now_ms());
                    break;
                }
            }
        }
    }

    if (e->finished > 0) {
        return 0;           /* slots came free: start more first */
    }

    wake = now + WP_ENGINE_POLL_MS;
    nfds = e->client != NULL
           ? wp_client_fds(e->client, e->fds, WP_ENGINE_MAX_FDS - 2, &wake)
           : 0;
    nall = nfds;
    if (wp_sealer_busy(e->sealer) > 0 && wp_sealer_fd(e->sealer) >= 0) {
        e->fds[nall].fd = wp_sealer_fd(e->sealer);
        e->fds[nall].events = CURL_WAIT_POLLIN;
        e->fds[nall].revents = 0;
        nall++;
    }
    rfd = -1;
    if (wp_aredis_events(&e->ar) != 0) {
        rfd = nall;
        e->fds[nall].fd = wp_aredis_fd(&e->ar);
        e->fds[nall].events =
            ((wp_aredis_events(&e->ar) & POLLIN) ? CURL_WAIT_POLLIN : 0)
            | ((wp_aredis_events(&e->ar) & POLLOUT) ? CURL_WAIT_POLLOUT : 0);
        e->fds[nall].revents = 0;
        nall++;
    }
    wake -= now;
    curl_multi_poll(e->multi, e->fds, nall,
                    wake < 0 ? 0 : wake > WP_ENGINE_POLL_MS
                                   ? WP_ENGINE_POLL_MS : (int) wake,
                    NULL);
    if (e->client != NULL) {
        wp_client_ready(e->client, e->fds, nfds);
    }
    if (rfd >= 0) {
        wp_aredis_handle(&e->ar,
            ((e->fds[rfd].revents & CURL_WAIT_POLLIN) ? POLLIN : 0)
            | ((e->fds[rfd].revents & CURL_WAIT_POLLOUT) ? POLLOUT : 0));
    }

    return 0;
}


int
wp_engine_run(wp_engine_t *e, wp_work_t *w, int n,
    const volatile sig_atomic_t *stop)
{
    int         rc;
    wp_batch_t  b;

    wp_engine_add(e, &b, w, n, 1);

    for ( ;; ) {
        if (b.left == 0) {
            rc = 0;
            break;
        }

        if (b.cancelled || wp_engine_step(e, stop) != 0) {
            rc = -1;
            break;
        }
    }

    wp_engine_remove(e, &b);

    return rc;
}
