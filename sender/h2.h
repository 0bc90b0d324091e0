/*
 * The sender's HTTP/2 transport: TLS connections to push services, each
 * carrying many streams through nghttp2, written in large batches.
 *
 * Why our own and not libcurl's: libcurl 7.88 writes every HTTP/2 frame
 * as its own TLS record and system call and sets up a whole easy transfer
 * per request; at push volumes that cost as much CPU as the encryption
 * itself (bench/sender_bench.sh, docs/sender.md).  Here a request is an
 * nghttp2 stream: its HEADERS and DATA frames join the other streams'
 * frames in one buffer, written with a few large SSL_write()s.
 *
 * The same transport policy as deliver.h: https only, TLS 1.2 or newer,
 * peer and host verification always on (system CA store, or
 * opts->ca_file), no proxy, no redirects, a connect timeout (TCP + TLS)
 * per connection and a total timeout per request.  Answers come back as a
 * wp_push_resp_t, classified by wp_deliver_classify() like libcurl's.
 *
 * Connections: one per origin, a second when every stream the server
 * allows (SETTINGS_MAX_CONCURRENT_STREAMS) is busy, up to
 * WP_H2_MAX_CONNS; nghttp2 holds back streams beyond the server's limit.
 * Connections stay open between batches.  Host names are resolved with
 * getaddrinfo() when a connection opens (rare: connections live long).
 *
 * An origin that does not select "h2" over ALPN gets its requests back
 * with resp->no_h2 set: the engine sends them with libcurl (HTTP/1.1).
 * A request the server provably did not process (refused stream, GOAWAY
 * above its id, connection lost before it was written) comes back with
 * resp->resend set: sending it again cannot deliver it twice.
 *
 * Use: wp_h2_submit() requests; before waiting, wp_h2_fds() lists the
 * sockets and events to wait for (curl_multi_poll's extra fds) and the
 * next deadline; after waiting, wp_h2_io() reads, writes, applies
 * timeouts and reports every finished request through the done callback.
 * Not thread-safe.
 */

#ifndef WP_H2_H
#define WP_H2_H

#include <stdint.h>

#include <curl/curl.h>

#include "deliver.h"
#include "endpoint.h"
#include "wp_err.h"

#define WP_H2_MAX_CONNS  16     /* per origin */

typedef struct wp_h2_s  wp_h2_t;

/* A request finished: data is submit's, resp is valid during the call. */
typedef void (*wp_h2_done_pt)(void *ctx, void *data,
    const wp_push_resp_t *resp);

wp_h2_t *wp_h2_new(const wp_deliver_opts_t *opts, wp_h2_done_pt done,
    void *ctx, wp_err_t *err);

/* Close every connection; no callbacks.  NULL is fine. */
void wp_h2_free(wp_h2_t *h);

/*
 * Queue req (url: its parsed endpoint) on a connection to its origin.
 * req->body is not copied: it must stay valid until done is called.
 * Returns -1 (err) only when the request cannot be built; connection
 * trouble is reported later through done.
 */
int wp_h2_submit(wp_h2_t *h, const wp_url_t *url, const wp_push_req_t *req,
    void *data, int64_t now_ms, wp_err_t *err);

/*
 * The sockets to wait on (at most cap), and in *deadline_ms the earliest
 * timeout (left alone when later).  Returns how many were filled.
 */
int wp_h2_fds(wp_h2_t *h, struct curl_waitfd *fds, int cap,
    int64_t *deadline_ms);

/* Do all pending I/O and timeouts; returns the number of done calls. */
int wp_h2_io(wp_h2_t *h, int64_t now_ms);

/* Requests in flight (submitted, not yet done). */
int wp_h2_pending(const wp_h2_t *h);

/*
 * Drop every connection and request without calling done (shutdown: the
 * engine marks its own items).
 */
void wp_h2_reset(wp_h2_t *h);

#endif /* WP_H2_H */
