/*
 * The sender's own HTTP client for push services: TLS connections that
 * carry HTTP/2 streams (h2.c, nghttp2), or HTTP/1.1 requests one at a
 * time on keep-alive connections (h1.c) for origins that do not select h2
 * over ALPN.
 *
 * Why our own and not libcurl's: libcurl 7.88 writes every HTTP/2 frame
 * as its own TLS record and system call and sets up a whole transfer per
 * request; at push volumes that costs as much CPU as the encryption
 * itself (bench/sender_bench.sh, docs/sender.md).  Here the frames of all
 * streams of a connection are gathered in one buffer and written with a
 * few large SSL_write()s; reads use OpenSSL's read-ahead.
 *
 * The transport policy is deliver.h's: https only, TLS 1.2 or newer, peer
 * and host verification always on (system CA store, or opts->ca_file),
 * no proxy, no redirects, a connect timeout (TCP + TLS) per connection
 * and a total timeout per request.  Answers come back as wp_push_resp_t,
 * classified by wp_deliver_classify() exactly like libcurl's.
 *
 * HTTP/2: one connection per origin, another when every stream the
 * server allows (SETTINGS_MAX_CONCURRENT_STREAMS) is busy, up to
 * WP_CLIENT_MAX_H2_CONNS; nghttp2 holds back streams beyond the limit.
 * HTTP/1.1: one idle keep-alive connection per request in flight, opened
 * as needed (the engine's per-origin limit bounds them).  Connections
 * stay open between batches.  Host names are resolved when a connection
 * opens, never blocking: c-ares through resolve.h, cached, its sockets in
 * the client's epoll set; the connection waits in WP_CONN_RESOLVING, its
 * connect timeout covering the lookup.  IP literals are not looked up.
 *
 * The first connection to an origin offers "h2,http/1.1".  If the server
 * picks HTTP/1.1, the requests queued on it come back with resp->no_h2
 * set; submit them again with http1 = 1 (the engine remembers this per
 * origin).  A request the server provably did not process (refused
 * stream, GOAWAY above its id, not yet written when the connection died,
 * a reused HTTP/1.1 connection closed before any answer) comes back with
 * resp->resend set: sending it again cannot deliver it twice.
 *
 * Use: wp_client_submit() requests; before waiting, wp_client_fds() lists
 * the sockets and events to wait for (curl_multi_poll's extra fds) and
 * the next deadline (lookups' included); after waiting,
 * wp_client_ready() takes the revents (and reads DNS answers)
 * (only sockets with something to read are read), and wp_client_io()
 * reads, writes, applies timeouts and reports each finished request
 * through the done callback.
 * Not thread-safe.
 */

#ifndef WP_CLIENT_H
#define WP_CLIENT_H

#include <stdint.h>

#include <curl/curl.h>

#include "deliver.h"
#include "endpoint.h"
#include "wp_err.h"

#define WP_CLIENT_MAX_H2_CONNS  64      /* per origin: 6,400 streams at 100 */

typedef struct wp_client_s  wp_client_t;

/* A request finished: data is submit's, resp is valid during the call. */
typedef void (*wp_client_done_pt)(void *ctx, void *data,
    const wp_push_resp_t *resp);

wp_client_t *wp_client_new(const wp_deliver_opts_t *opts,
    wp_client_done_pt done, void *ctx, wp_err_t *err);

/* Close every connection; no callbacks.  NULL is fine. */
void wp_client_free(wp_client_t *cl);

/*
 * Queue req (url: its parsed endpoint; http1: the origin is known to
 * speak no h2) on a connection to its origin.  req->body is not copied:
 * it must stay valid until done is called.  Returns -1 (err) only when
 * the request cannot be built; connection trouble is reported through
 * done.
 */
int wp_client_submit(wp_client_t *cl, const wp_url_t *url,
    const wp_push_req_t *req, int http1, void *data, int64_t now_ms,
    wp_err_t *err);

/*
 * What to wait on (at most cap entries; one: an epoll set holding every
 * connection), and in *deadline_ms the earliest timeout (left alone when
 * later).  Returns how many entries were filled.
 */
int wp_client_fds(wp_client_t *cl, struct curl_waitfd *fds, int cap,
    int64_t *deadline_ms);

/* After the wait: fds (as filled by wp_client_fds) with their revents. */
void wp_client_ready(wp_client_t *cl, const struct curl_waitfd *fds, int n);

/*
 * Is url's host being looked up (now started when it is neither cached
 * nor carried by an open connection)?  1: a request for it would only
 * wait on DNS, so the engine holds it back, using no slot, and asks again
 * after the next wait; 0: submit it (an IP literal, a cached answer, a
 * failed lookup that the submit reports as usual).
 */
int wp_client_resolving(wp_client_t *cl, const wp_url_t *url,
    int64_t now_ms);

/* Do all pending I/O and timeouts; returns the number of done calls. */
int wp_client_io(wp_client_t *cl, int64_t now_ms);

/*
 * Drop every connection and request without calling done (shutdown: the
 * engine marks its own items).
 */
void wp_client_reset(wp_client_t *cl);

#endif /* WP_CLIENT_H */
