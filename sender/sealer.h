/*
 * Encryption off the I/O thread: a small pool of worker threads, each
 * with its own wp_ece_t, that seal message bodies (RFC 8291) handed over
 * by the engine and give them back through a queue and an eventfd the
 * engine polls with its sockets.
 *
 * Why: per message the encryption (two P-256 multiplications) is about
 * three quarters of the sender's CPU; one thread caps one broadcast at
 * one core.  With workers the I/O thread only frames and moves bytes,
 * and a broadcast uses as many cores as there are workers.
 *
 * Either way bodies are sealed in batches (wp_ece_encrypt_many(): one
 * field inversion shared by up to WP_ECE_BATCH bodies).
 *
 * threads = 0: no pool; wp_sealer_kick() encrypts in the caller.
 */

#ifndef WP_SEALER_H
#define WP_SEALER_H

#include <stddef.h>
#include <stdint.h>

#include "ece.h"
#include "wp_err.h"

typedef struct wp_seal_s  wp_seal_t;

/* One body to seal.  The caller owns it until it comes back done. */
struct wp_seal_s {
    wp_seal_t       *next;
    void            *data;                  /* the caller's */
    uint8_t          p256dh[WP_P256_PUB_LEN];
    uint8_t          auth[WP_AUTH_LEN];
    const uint8_t   *payload;
    size_t           payload_len;
    uint8_t         *out;
    size_t           out_cap;
    /* results */
    size_t           out_len;
    int              rc;                    /* 0, or -1 with err */
    wp_err_t         err;
};

typedef struct wp_sealer_s  wp_sealer_t;

wp_sealer_t *wp_sealer_new(int threads, wp_err_t *err);

/* Stops and joins the workers (after their current body); NULL is fine. */
void wp_sealer_free(wp_sealer_t *sl);

/*
 * Gather j for sealing: it comes back from wp_sealer_done() after a
 * wp_sealer_kick().
 */
void wp_sealer_seal(wp_sealer_t *sl, wp_seal_t *j);

/*
 * Seal what wp_sealer_seal() gathered: hand it to the workers (one lock),
 * or, without workers, encrypt it now.
 */
void wp_sealer_kick(wp_sealer_t *sl);

/* Readable when the workers' sealed bodies wait (-1 without workers). */
int wp_sealer_fd(const wp_sealer_t *sl);

/* The sealed bodies waiting, oldest first (NULL none); clears the fd. */
wp_seal_t *wp_sealer_done(wp_sealer_t *sl);

/* Bodies handed over and not yet taken back with wp_sealer_done. */
int wp_sealer_busy(const wp_sealer_t *sl);

/* Wait until every handed-over body is sealed (shutdown). */
void wp_sealer_drain(wp_sealer_t *sl);

#endif /* WP_SEALER_H */
