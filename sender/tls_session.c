/* webpush-sender: TLS sessions to resume, per origin (tls_session.h). */

#include <stdio.h>
#include <string.h>

#include "tls_session.h"


static wp_tls_session_t *
wp_tls_session_find(wp_tls_sessions_t *t, const char *origin)
{
    int  i;

    for (i = 0; i < WP_TLS_SESSIONS; i++) {
        if (t->s[i].sess != NULL && strcmp(t->s[i].origin, origin) == 0) {
            return &t->s[i];
        }
    }

    return NULL;
}


void
wp_tls_session_put(wp_tls_sessions_t *t, const char *origin,
    SSL_SESSION *sess)
{
    int                i;
    wp_tls_session_t  *e;

    if (strlen(origin) >= sizeof(t->s[0].origin)) {
        SSL_SESSION_free(sess);
        return;
    }

    e = wp_tls_session_find(t, origin);

    for (i = 0; e == NULL && i < WP_TLS_SESSIONS; i++) {
        if (t->s[i].sess == NULL) {
            e = &t->s[i];
        }
    }

    if (e == NULL) {
        e = &t->s[0];
        for (i = 1; i < WP_TLS_SESSIONS; i++) {
            if (t->s[i].stored < e->stored) {
                e = &t->s[i];
            }
        }
    }

    if (e->sess != NULL) {
        SSL_SESSION_free(e->sess);
    }

    snprintf(e->origin, sizeof(e->origin), "%s", origin);
    e->sess = sess;
    e->stored = ++t->seq;
}


void
wp_tls_session_offer(wp_tls_sessions_t *t, const char *origin, SSL *ssl)
{
    wp_tls_session_t  *e;

    e = wp_tls_session_find(t, origin);

    /* a session that can no longer be resumed is not worth offering */
    if (e != NULL && SSL_SESSION_is_resumable(e->sess)) {
        (void) SSL_set_session(ssl, e->sess);
    }
}


void
wp_tls_sessions_free(wp_tls_sessions_t *t)
{
    int  i;

    for (i = 0; i < WP_TLS_SESSIONS; i++) {
        if (t->s[i].sess != NULL) {
            SSL_SESSION_free(t->s[i].sess);
            t->s[i].sess = NULL;
        }
    }
}
