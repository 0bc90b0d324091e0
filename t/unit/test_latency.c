/* lib/latency: the answer-time histogram's buckets. */

#include <stdio.h>
#include <string.h>

#include "latency.h"
#include "tap.h"


int
main(void)
{
    int   i;
    char  want[16];

    /* inclusive upper bounds; below 0 (a clock step) is the first */
    is_int(wp_latency_bucket(-5), 0, "negative ms: first bucket");
    is_int(wp_latency_bucket(0), 0, "0 ms: le_1");
    is_int(wp_latency_bucket(1), 0, "1 ms: le_1 (inclusive)");
    is_int(wp_latency_bucket(2), 1, "2 ms: le_2");
    is_int(wp_latency_bucket(3), 2, "3 ms: le_5");
    is_int(wp_latency_bucket(50), 5, "50 ms: le_50");
    is_int(wp_latency_bucket(51), 6, "51 ms: le_100");
    is_int(wp_latency_bucket(5000), WP_LATENCY_BUCKETS - 2, "5000 ms: le_5000");
    is_int(wp_latency_bucket(5001), WP_LATENCY_BUCKETS - 1, "5001 ms: le_inf");
    is_int(wp_latency_bucket(INT64_MAX), WP_LATENCY_BUCKETS - 1,
           "huge: le_inf");

    /* each field is named for its bound, bounds rise, +Inf last */
    for (i = 0; i < WP_LATENCY_BUCKETS - 1; i++) {
        snprintf(want, sizeof(want), "le_%lld",
                 (long long) wp_latency_le_ms[i]);
        is_str(wp_latency_field[i], want, "field %d is named for its bound",
               i);
        ok(i == 0 || wp_latency_le_ms[i] > wp_latency_le_ms[i - 1],
           "bound %d is above the one before", i);
        is_int(wp_latency_bucket(wp_latency_le_ms[i]), i,
               "bound %d lands in its own bucket", i);
    }
    is_str(wp_latency_field[WP_LATENCY_BUCKETS - 1], "le_inf",
           "the last field is le_inf");

    return tap_done();
}
