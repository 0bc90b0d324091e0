/* webpush-sender: metrics counters (see metrics.h, queue.h). */

#include <stdio.h>
#include <string.h>

#include "metrics.h"

void
wp_metrics_answer(wp_metrics_t *m, long status, int64_t ms)
{
    if (status == 0) {
        m->failed_network++;
        return;
    }

    if (status >= 200 && status <= 299) {
        m->sent++;
    } else if (status >= 500) {
        m->failed_5xx++;
    } else {
        m->failed_4xx++;
    }

    /* Non-cumulative: each answer lands in exactly one bucket. */
    m->bucket[wp_latency_bucket(ms)]++;
    m->sum_ms += ms;
    m->count++;
}


int
wp_metrics_flush(wp_metrics_t *m, wp_queue_t *q)
{
    int          i, n, rc;
    redisReply  *r;
    struct {
        const char  *name;
        int64_t      v;
    } f[8];

    if (q->rc == NULL) {
        return -1;
    }

    f[0].name = "sent";           f[0].v = m->sent;
    f[1].name = "failed_4xx";     f[1].v = m->failed_4xx;
    f[2].name = "failed_5xx";     f[2].v = m->failed_5xx;
    f[3].name = "failed_network"; f[3].v = m->failed_network;
    f[4].name = "retried";        f[4].v = m->retried;
    f[5].name = "disabled";       f[5].v = m->disabled;
    f[6].name = "expired";        f[6].v = m->expired;
    f[7].name = "jobs_done";      f[7].v = m->jobs_done;

    /* One pipeline: a few round trips' worth of commands, one wait. */
    n = 0;
    for (i = 0; i < 8; i++) {
        if (f[i].v) {
            redisAppendCommand(q->rc, "HINCRBY %smetrics %s %lld", q->prefix,
                               f[i].name, (long long) f[i].v);
            n++;
        }
    }

    if (m->count) {
        for (i = 0; i < WP_LATENCY_BUCKETS; i++) {
            if (m->bucket[i]) {
                redisAppendCommand(q->rc, "HINCRBY %smetrics:latency %s %lld",
                                   q->prefix, wp_latency_field[i],
                                   (long long) m->bucket[i]);
                n++;
            }
        }
        redisAppendCommand(q->rc, "HINCRBY %smetrics:latency sum_ms %lld",
                           q->prefix, (long long) m->sum_ms);
        redisAppendCommand(q->rc, "HINCRBY %smetrics:latency count %lld",
                           q->prefix, (long long) m->count);
        n += 2;
    }

    rc = 0;
    for (i = 0; i < n; i++) {
        if (redisGetReply(q->rc, (void **) &r) != REDIS_OK) {
            snprintf(q->err, sizeof(q->err), "Redis: %s", q->rc->errstr);
            wp_queue_close(q);
            return -1;
        }
        if (r->type == REDIS_REPLY_ERROR) {
            rc = -1;
        }
        freeReplyObject(r);
    }

    if (rc == 0) {
        memset(m, 0, sizeof(*m));
    }

    return rc;
}
