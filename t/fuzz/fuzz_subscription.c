/*
 * libFuzzer target for lib/subscription.c: any body is either rejected
 * with a code and a message, or yields canonical keys and an allowed
 * endpoint that validate again when re-assembled.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "subscription.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int                n;
    char               body[WP_SUB_MAX_BODY + 256];
    wp_err_t           e;
    wp_subscription_t  s, t;

    if (wp_subscription_parse((const char *) data, size, NULL,
                              1700000000000LL, &s, &e) != 0)
    {
        if (e.code == NULL || e.message[0] == '\0') {
            abort();
        }
        return 0;
    }

    if (strlen(s.p256dh) != 87 || strlen(s.auth) != 22 || s.p256dh_raw[0] != 4
        || strlen(s.endpoint) != s.endpoint_len
        || (s.ntopics && s.topics == NULL) || s.ntopics > WP_SUB_MAX_TOPICS)
    {
        abort();
    }

    /* the canonical form must be accepted and give the same keys */
    n = snprintf(body, sizeof(body),
                 "{\"endpoint\":\"%s\",\"keys\":{\"p256dh\":\"%s\","
                 "\"auth\":\"%s\"}}", s.endpoint, s.p256dh, s.auth);

    if (n > 0 && (size_t) n < sizeof(body)
        && strchr(s.endpoint, '"') == NULL)
    {
        if (wp_subscription_parse(body, (size_t) n, NULL, 0, &t, &e) != 0
            || strcmp(t.p256dh, s.p256dh) != 0 || strcmp(t.auth, s.auth) != 0
            || strcmp(t.url.origin, s.url.origin) != 0)
        {
            abort();
        }
        wp_subscription_free(&t);
    }

    wp_subscription_free(&s);

    return 0;
}
