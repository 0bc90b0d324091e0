/*
 * webpush-sender: consumes the Redis job stream and delivers each job to
 * its audience (see sender/job.c).  One process per core; any number of
 * processes on any number of machines share the work through the consumer
 * group.  SIGTERM/SIGINT: take nothing new, let in-flight requests finish
 * (at most WEBPUSH_STOP_TIMEOUT), commit the page, hand the job back to
 * the group, remove the heartbeat, exit 0.
 */

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "config.h"
#include "job.h"
#include "log.h"
#include "queue.h"

#define WP_SENDER_BLOCK_MS      200    /* XREADGROUP wait per round:
                                          retries are looked at as often */
#define WP_SENDER_BEAT_S        5      /* heartbeat period */
#define WP_SENDER_BACKOFF_MAX_S 30     /* reconnect backoff cap */


/* Set by the signal handler; the only global, and only in main. */
static volatile sig_atomic_t  wp_sender_stop;


static void
wp_sender_on_signal(int signo)
{
    (void) signo;
    wp_sender_stop = 1;
}


/* Sleep up to s seconds, waking early on a stop signal. */
static void
wp_sender_nap(int s)
{
    int  i;

    for (i = 0; i < s * 10 && !wp_sender_stop; i++) {
        usleep(100000);
    }
}


int
main(int argc, char **argv)
{
    int                rc, backoff, resume_own;
    char               err[512], num[32];
    time_t             started, last_beat, now;
    wp_log_t           log;
    wp_queue_t         q;
    wp_sender_t        s;
    wp_queue_entry_t   e;
    wp_sender_conf_t   conf;
    struct sigaction   sa;

    if (argc > 1) {
        if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
            printf("usage: webpush-sender\n"
                   "Delivers queued Web Push jobs.  Configured by the"
                   " environment (DATABASE_URL,\nREDIS_URL, VAPID_*, PUSH_*,"
                   " ...; see the README).  SIGTERM stops it cleanly.\n");
            return 0;
        }

        fprintf(stderr, "webpush-sender: takes no arguments (see --help)\n");
        return 2;
    }

    log.level = WP_LOG_INFO;
    log.component = "sender";
    log.instance = NULL;

    if (wp_sender_conf_load(&conf, err, sizeof(err)) != 0) {
        wp_log(&log, WP_LOG_ERROR, "refusing to start: bad configuration",
               "error", err, NULL);
        return 78;          /* EX_CONFIG: systemd does not restart-loop */
    }

    log.level = conf.log_level;
    log.instance = conf.consumer;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = wp_sender_on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        wp_log(&log, WP_LOG_ERROR, "curl_global_init failed", NULL);
        wp_sender_conf_free(&conf);
        return 1;
    }

    memset(&q, 0, sizeof(q));
    q.conf = &conf.redis;
    q.prefix = conf.prefix;
    q.consumer = conf.consumer;
    q.timeout_ms = conf.connect_timeout_ms;

    if (wp_sender_init(&s, &conf, &log, &q, &wp_sender_stop, err,
                       sizeof(err)) != 0)
    {
        wp_log(&log, WP_LOG_ERROR, "cannot initialise", "error", err, NULL);
        curl_global_cleanup();
        wp_sender_conf_free(&conf);
        return 1;
    }

    snprintf(num, sizeof(num), "%d", conf.concurrency);
    wp_log(&log, WP_LOG_INFO, "started", "queue", conf.prefix,
           "concurrency", num,
           "client", conf.http2_libcurl ? "libcurl" : "native", NULL);

    started = time(NULL);
    last_beat = 0;
    backoff = 1;
    resume_own = 1;

    while (!wp_sender_stop) {

        if (q.rc == NULL) {
            if (wp_queue_connect(&q) != 0) {
                wp_log(&log, WP_LOG_WARN, "Redis unavailable, retrying",
                       "error", q.err, NULL);
                wp_sender_nap(backoff);
                backoff = backoff * 2 > WP_SENDER_BACKOFF_MAX_S
                          ? WP_SENDER_BACKOFF_MAX_S : backoff * 2;
                continue;
            }

            wp_log(&log, WP_LOG_INFO, "connected to Redis", NULL);
            resume_own = 1;
            backoff = 1;
            last_beat = 0;
        }

        now = time(NULL);
        if (now - last_beat >= WP_SENDER_BEAT_S) {
            if (wp_queue_heartbeat(&q, started, s.jobs_done) != 0) {
                continue;       /* connection lost: reconnect above */
            }
            last_beat = now;
        }

        wp_sender_tick(&s, 0);

        if (wp_sender_stop || q.rc == NULL) {
            continue;
        }

        /* A shard of a big job, shared by every sender, comes first
         * (small jobs still go out between its pages). */
        rc = wp_job_run_shard(&s);
        if (rc != 0) {
            if (rc < 0) {
                wp_log(&log, WP_LOG_WARN, "shard read failed", "error",
                       q.err, NULL);
                if (q.rc) {
                    wp_sender_nap(1);   /* an error reply: do not spin */
                }
            }
            continue;
        }

        /* After a reconnect: the job held when Redis went away first. */
        rc = 0;
        if (resume_own) {
            rc = wp_queue_own_pending(&q, &e);
            resume_own = (rc == 1);
        }

        if (rc == 0) {
            rc = wp_queue_next(&q, WP_SENDER_BLOCK_MS, conf.claim_idle_ms,
                               &e);
        }
        if (rc < 0) {
            wp_log(&log, WP_LOG_WARN, "queue read failed", "error", q.err,
                   NULL);
            if (q.rc) {
                wp_sender_nap(1);
            }
            continue;
        }

        if (rc == 0) {
            continue;
        }

        /* A job left pending (e.g. database down) is retried later by
         * XAUTOCLAIM, from its last checkpoint. */
        if (wp_job_run(&s, &e) != 0) {
            /* Left pending (an outage): do not spin on it; it comes back
             * through XAUTOCLAIM, or first after a Redis reconnect. */
            resume_own = 0;
            wp_sender_nap(1);
        }

        wp_queue_entry_free(&e);
    }

    wp_log(&log, WP_LOG_INFO, "stopping", NULL);

    if (q.rc) {
        if (conf.metrics) {
            wp_metrics_flush(&s.metrics, &q);
        }
        wp_queue_goodbye(&q);
    }

    wp_sender_free(&s);
    wp_queue_close(&q);
    curl_global_cleanup();
    wp_sender_conf_free(&conf);

    return 0;
}
