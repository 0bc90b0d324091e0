/* webpush-sender: JSON-lines logging (see log.h). */

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>

#include "log.h"


static const char  *wp_log_names[] = { "error", "warn", "info", "debug" };


int
wp_log_level_parse(const char *s, wp_log_level_t *out)
{
    if (s == NULL || *s == '\0' || strcasecmp(s, "info") == 0) {
        *out = WP_LOG_INFO;

    } else if (strcasecmp(s, "error") == 0 || strcasecmp(s, "fatal") == 0) {
        *out = WP_LOG_ERROR;

    } else if (strcasecmp(s, "warn") == 0 || strcasecmp(s, "warning") == 0) {
        *out = WP_LOG_WARN;

    } else if (strcasecmp(s, "debug") == 0 || strcasecmp(s, "trace") == 0) {
        *out = WP_LOG_DEBUG;

    } else {
        return -1;
    }

    return 0;
}


/* Append s as a JSON string (with quotes) to the stream. */
static void
wp_log_string(FILE *f, const char *s)
{
    unsigned char  c;

    fputc('"', f);

    for (; *s; s++) {
        c = (unsigned char) *s;

        switch (c) {
        case '"':
            fputs("\\\"", f);
            break;
        case '\\':
            fputs("\\\\", f);
            break;
        case '\n':
            fputs("\\n", f);
            break;
        case '\r':
            fputs("\\r", f);
            break;
        case '\t':
            fputs("\\t", f);
            break;
        default:
            if (c < 0x20 || c == 0x7f) {
                fprintf(f, "\\u%04x", c);
            } else {
                fputc(c, f);
            }
        }
    }

    fputc('"', f);
}


void
wp_log(const wp_log_t *log, wp_log_level_t level, const char *msg, ...)
{
    char             buf[4096], ts[32];
    FILE            *f;
    size_t           len;
    va_list          ap;
    struct tm        tm;
    const char      *k, *v;
    struct timeval   tv;

    if (level > log->level) {
        return;
    }

    /* Build the line in memory so concurrent writers never interleave. */
    f = fmemopen(buf, sizeof(buf) - 2, "w");
    if (f == NULL) {
        return;
    }

    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);

    fprintf(f, "{\"ts\":\"%s.%03dZ\",\"level\":\"%s\",\"component\":", ts,
            (int) (tv.tv_usec / 1000), wp_log_names[level]);
    wp_log_string(f, log->component ? log->component : "webpush");

    if (log->instance) {
        fputs(",\"instance\":", f);
        wp_log_string(f, log->instance);
    }

    fputs(",\"msg\":", f);
    wp_log_string(f, msg);

    va_start(ap, msg);
    while ((k = va_arg(ap, const char *)) != NULL) {
        v = va_arg(ap, const char *);
        fputc(',', f);
        wp_log_string(f, k);
        fputc(':', f);
        if (v) {
            wp_log_string(f, v);
        } else {
            fputs("null", f);
        }
    }
    va_end(ap);

    fputc('}', f);
    fflush(f);
    len = (size_t) ftell(f);
    fclose(f);

    /* Over-long lines are cut and closed, so they stay one line. */
    if (len >= sizeof(buf) - 3) {
        len = sizeof(buf) - 3;
        buf[len++] = '"';
        buf[len++] = '}';
    }

    buf[len++] = '\n';
    fwrite(buf, 1, len, stderr);
}
