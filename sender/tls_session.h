/*
 * TLS sessions to resume, one per push-service origin (client.c).
 *
 * A sender opens many connections to few origins: a pool of HTTP/1.1
 * keep-alive connections, or more HTTP/2 connections when one's streams
 * are used up.  Resuming the origin's last session skips the server's
 * certificate chain and signature checks on every connection after the
 * first.  The session comes only from a handshake that passed
 * verification for that origin (scheme://host:port), and it is offered
 * only to a connection to the same origin.  Bounded: the least recently
 * stored entry goes when full.
 */

#ifndef WP_TLS_SESSION_H
#define WP_TLS_SESSION_H

#include <stdint.h>

#include <openssl/ssl.h>

#define WP_TLS_SESSIONS  64

typedef struct {
    char           origin[300];
    SSL_SESSION   *sess;
    uint64_t       stored;      /* order of storing, for the eviction */
} wp_tls_session_t;

typedef struct {
    wp_tls_session_t  s[WP_TLS_SESSIONS];
    uint64_t          seq;
} wp_tls_sessions_t;

/* Keep sess (its reference is taken over) as origin's. */
void wp_tls_session_put(wp_tls_sessions_t *t, const char *origin,
    SSL_SESSION *sess);

/* Offer origin's session, if any, to ssl before its handshake. */
void wp_tls_session_offer(wp_tls_sessions_t *t, const char *origin,
    SSL *ssl);

/* Release every session. */
void wp_tls_sessions_free(wp_tls_sessions_t *t);

#endif /* WP_TLS_SESSION_H */
