/* webpush-sender: encryption on worker threads (see sealer.h). */

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "sealer.h"

/*
 * Bodies a worker takes per lock: one batch of wp_ece_encrypt_many(),
 * which shares a field inversion among them (~10% of a body's cost).
 */
#define WP_SEALER_TAKE  WP_ECE_BATCH

struct wp_sealer_s {
    int               nthreads;
    pthread_t        *tids;
    wp_ece_t        **eces;             /* one per worker, or the inline */
    int               started;

    pthread_mutex_t   mu;
    pthread_cond_t    work;             /* workers wait for bodies */
    pthread_cond_t    idle;             /* drain waits for sealing == 0 */
    wp_seal_t        *q_head, *q_tail;  /* to seal (under mu) */
    wp_seal_t        *d_head, *d_tail;  /* sealed (under mu) */
    int               sealing;          /* queued or being sealed (mu) */
    int               waiting;          /* workers asleep (mu) */
    int               stop;             /* (mu) */
    int               efd;

    /* the engine's thread only */
    wp_seal_t        *p_head, *p_tail;  /* handed over, not yet queued */
    int               busy;
};


/* Seal count bodies of the list from j on as one batch. */
static void
wp_sealer_run(wp_ece_t *ece, wp_seal_t *j, size_t count)
{
    size_t         i, n;
    wp_seal_t     *b[WP_SEALER_TAKE];
    wp_ece_msg_t   m[WP_SEALER_TAKE];

    for (n = 0; n < count && n < WP_SEALER_TAKE; j = j->next, n++) {
        b[n] = j;
        m[n].ua_public = j->p256dh;
        m[n].auth = j->auth;
        m[n].pt = j->payload;
        m[n].ptlen = j->payload_len;
        m[n].padlen = 0;
        m[n].out = j->out;
        m[n].cap = j->out_cap;
    }

    (void) wp_ece_encrypt_many(ece, m, n);

    for (i = 0; i < n; i++) {
        b[i]->out_len = m[i].outlen;
        b[i]->rc = m[i].rc;
        if (m[i].rc != 0) {
            b[i]->err = m[i].err;
        }
    }
}


static void *
wp_sealer_worker(void *arg)
{
    int           n, was_empty;
    uint64_t      one;
    wp_seal_t    *first, *last;
    wp_sealer_t  *sl;
    wp_ece_t     *ece;

    sl = ((void **) arg)[0];
    ece = ((void **) arg)[1];
    free(arg);

    one = 1;

    pthread_mutex_lock(&sl->mu);

    for ( ;; ) {
        while (sl->q_head == NULL && !sl->stop) {
            sl->waiting++;
            pthread_cond_wait(&sl->work, &sl->mu);
            sl->waiting--;
        }

        if (sl->q_head == NULL) {
            break;                      /* stopping, nothing left */
        }

        /* a batch at a time: one inversion shared, fewer lock trips */
        first = last = sl->q_head;
        for (n = 1; n < WP_SEALER_TAKE && last->next != NULL; n++) {
            last = last->next;
        }
        sl->q_head = last->next;
        if (sl->q_head == NULL) {
            sl->q_tail = NULL;
        }
        last->next = NULL;

        pthread_mutex_unlock(&sl->mu);

        wp_sealer_run(ece, first, n);

        pthread_mutex_lock(&sl->mu);

        was_empty = sl->d_head == NULL;
        if (sl->d_tail) {
            sl->d_tail->next = first;
        } else {
            sl->d_head = first;
        }
        sl->d_tail = last;
        sl->sealing -= n;

        if (sl->sealing == 0) {
            pthread_cond_broadcast(&sl->idle);
        }

        /* one wake-up per batch the engine has not looked at yet */
        if (was_empty) {
            (void) write(sl->efd, &one, sizeof(one));
        }
    }

    pthread_mutex_unlock(&sl->mu);

    return NULL;
}


wp_sealer_t *
wp_sealer_new(int threads, wp_err_t *err)
{
    int           i, n;
    void        **arg;
    wp_sealer_t  *sl;

    sl = calloc(1, sizeof(wp_sealer_t));
    if (sl == NULL) {
        wp_err_set(err, WP_E_NOMEM, "", "out of memory");
        return NULL;
    }

    sl->efd = -1;
    sl->nthreads = threads;
    n = threads > 0 ? threads : 1;

    sl->eces = calloc(n, sizeof(wp_ece_t *));
    sl->tids = calloc(n, sizeof(pthread_t));
    if (sl->eces == NULL || sl->tids == NULL) {
        wp_err_set(err, WP_E_NOMEM, "", "out of memory");
        goto failed;
    }

    for (i = 0; i < n; i++) {
        sl->eces[i] = wp_ece_new(err);
        if (sl->eces[i] == NULL) {
            goto failed;
        }
    }

    if (threads == 0) {
        return sl;
    }

    pthread_mutex_init(&sl->mu, NULL);
    pthread_cond_init(&sl->work, NULL);
    pthread_cond_init(&sl->idle, NULL);
    sl->started = 1;

    sl->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (sl->efd < 0) {
        wp_err_set(err, WP_E_INTERNAL, "", "eventfd: %s", strerror(errno));
        goto failed;
    }

    for (i = 0; i < threads; i++) {
        arg = malloc(2 * sizeof(void *));
        if (arg == NULL) {
            wp_err_set(err, WP_E_NOMEM, "", "out of memory");
            goto failed;
        }
        arg[0] = sl;
        arg[1] = sl->eces[i];

        if (pthread_create(&sl->tids[i], NULL, wp_sealer_worker, arg) != 0)
        {
            free(arg);
            wp_err_set(err, WP_E_INTERNAL, "", "cannot start a thread");
            sl->nthreads = i;
            goto failed;
        }
    }

    return sl;

failed:

    wp_sealer_free(sl);
    return NULL;
}


void
wp_sealer_free(wp_sealer_t *sl)
{
    int  i, n;

    if (sl == NULL) {
        return;
    }

    if (sl->started) {
        pthread_mutex_lock(&sl->mu);
        sl->stop = 1;
        pthread_cond_broadcast(&sl->work);
        pthread_mutex_unlock(&sl->mu);

        for (i = 0; i < sl->nthreads; i++) {
            pthread_join(sl->tids[i], NULL);
        }

        pthread_cond_destroy(&sl->idle);
        pthread_cond_destroy(&sl->work);
        pthread_mutex_destroy(&sl->mu);
    }

    if (sl->efd >= 0) {
        close(sl->efd);
    }

    n = sl->nthreads > 0 ? sl->nthreads : 1;
    for (i = 0; sl->eces != NULL && i < n; i++) {
        wp_ece_free(sl->eces[i]);
    }

    free(sl->eces);
    free(sl->tids);
    free(sl);
}


void
wp_sealer_seal(wp_sealer_t *sl, wp_seal_t *j)
{
    /* gathered here, sealed or queued by wp_sealer_kick() */
    j->next = NULL;
    if (sl->p_tail) {
        sl->p_tail->next = j;
    } else {
        sl->p_head = j;
    }
    sl->p_tail = j;
    sl->busy++;
}


/* Without workers: seal what was gathered now, a batch at a time. */
static void
wp_sealer_inline(wp_sealer_t *sl)
{
    size_t      n;
    wp_seal_t  *j, *batch;

    j = sl->p_head;

    while (j != NULL) {
        batch = j;
        for (n = 0; j != NULL && n < WP_SEALER_TAKE; n++) {
            j = j->next;
        }
        wp_sealer_run(sl->eces[0], batch, n);
    }

    if (sl->d_tail) {
        sl->d_tail->next = sl->p_head;
    } else {
        sl->d_head = sl->p_head;
    }
    sl->d_tail = sl->p_tail;
    sl->p_head = sl->p_tail = NULL;
}


void
wp_sealer_kick(wp_sealer_t *sl)
{
    int         n;
    wp_seal_t  *j;

    if (sl->p_head == NULL) {
        return;
    }

    if (sl->nthreads == 0) {
        wp_sealer_inline(sl);
        return;
    }

    for (n = 0, j = sl->p_head; j != NULL; j = j->next) {
        n++;
    }

    pthread_mutex_lock(&sl->mu);

    if (sl->q_tail) {
        sl->q_tail->next = sl->p_head;
    } else {
        sl->q_head = sl->p_head;
    }
    sl->q_tail = sl->p_tail;
    sl->sealing += n;

    if (sl->waiting > 0) {
        pthread_cond_broadcast(&sl->work);
    }

    pthread_mutex_unlock(&sl->mu);

    sl->p_head = sl->p_tail = NULL;
}


int
wp_sealer_fd(const wp_sealer_t *sl)
{
    return sl->efd;
}


int
wp_sealer_busy(const wp_sealer_t *sl)
{
    return sl->busy;
}


wp_seal_t *
wp_sealer_done(wp_sealer_t *sl)
{
    int         n;
    uint64_t    v;
    wp_seal_t  *list, *j;

    if (sl->busy == 0) {
        return NULL;
    }

    if (sl->nthreads == 0) {
        list = sl->d_head;
        sl->d_head = sl->d_tail = NULL;

    } else {
        (void) read(sl->efd, &v, sizeof(v));

        pthread_mutex_lock(&sl->mu);
        list = sl->d_head;
        sl->d_head = sl->d_tail = NULL;
        pthread_mutex_unlock(&sl->mu);
    }

    for (n = 0, j = list; j != NULL; j = j->next) {
        n++;
    }
    sl->busy -= n;

    return list;
}


void
wp_sealer_drain(wp_sealer_t *sl)
{
    wp_sealer_kick(sl);

    if (sl->nthreads == 0) {
        return;
    }

    pthread_mutex_lock(&sl->mu);
    while (sl->sealing > 0) {
        pthread_cond_wait(&sl->idle, &sl->mu);
    }
    pthread_mutex_unlock(&sl->mu);
}
