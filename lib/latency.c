/* ngx_webpush: the answer-time histogram's buckets (see latency.h). */

#include "latency.h"


const int64_t  wp_latency_le_ms[WP_LATENCY_BUCKETS - 1] = {
    1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000
};

const char *const  wp_latency_field[WP_LATENCY_BUCKETS] = {
    "le_1", "le_2", "le_5", "le_10", "le_25", "le_50", "le_100", "le_250",
    "le_500", "le_1000", "le_2500", "le_5000", "le_inf"
};


int
wp_latency_bucket(int64_t ms)
{
    int  i;

    for (i = 0; i < WP_LATENCY_BUCKETS - 1; i++) {
        if (ms <= wp_latency_le_ms[i]) {
            break;
        }
    }

    return i;
}
