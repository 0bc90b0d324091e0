/*
 * libFuzzer target for lib/sendreq.c: an accepted request serialises to a
 * job that parses back to the same fields and serialises to the same
 * bytes again.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sendreq.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


static int
same(const wp_send_req_t *a, const wp_send_req_t *b)
{
    size_t  i;

    if (strcmp(a->type, b->type) || a->to != b->to
        || a->n_user_ids != b->n_user_ids || a->ttl != b->ttl
        || a->urgency != b->urgency || strcmp(a->topic, b->topic)
        || a->send_at_ms != b->send_at_ms
        || a->created_at_ms != b->created_at_ms
        || a->payload_len != b->payload_len || strcmp(a->payload, b->payload)
        || (a->event_id == NULL) != (b->event_id == NULL)
        || (a->event_id && strcmp(a->event_id, b->event_id))
        || (a->to_topic == NULL) != (b->to_topic == NULL)
        || (a->to_topic && strcmp(a->to_topic, b->to_topic)))
    {
        return 0;
    }

    for (i = 0; i < a->n_user_ids; i++) {
        if (strcmp(a->user_ids[i], b->user_ids[i])) {
            return 0;
        }
    }

    return 1;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char              *j1, *j2;
    size_t             n1, n2;
    wp_err_t           e;
    wp_send_req_t      r, r2;
    wp_send_limits_t   lim;

    wp_send_limits_init(&lim);
    lim.now_ms = 1767225600000LL;

    if (wp_send_req_parse((const char *) data, size, &lim, &r, &e) != 0) {
        if (e.code == NULL || e.message[0] == '\0') {
            abort();
        }
        return 0;
    }

    if (r.payload_len > WP_SEND_MAX_PAYLOAD || r.ttl < 0
        || r.ttl > WP_SEND_MAX_TTL || r.payload[0] != '{')
    {
        abort();
    }

    memcpy(r.id, "fuzz-job", sizeof("fuzz-job"));

    if (wp_send_req_to_json(&r, &j1, &n1, &e) != 0) {
        abort();
    }

    if (wp_send_job_parse(j1, n1, &r2, &e) != 0 || !same(&r, &r2)) {
        abort();
    }

    if (wp_send_req_to_json(&r2, &j2, &n2, &e) != 0 || n1 != n2
        || memcmp(j1, j2, n1) != 0)
    {
        abort();
    }

    free(j1);
    free(j2);
    wp_send_req_free(&r);
    wp_send_req_free(&r2);

    return 0;
}
