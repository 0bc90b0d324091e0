/*
 * Structured logging for webpush-sender and webpush-cli: one JSON object
 * per line on stderr, {"ts","level","msg",...fields}.  Callers never pass
 * keys, secrets or whole payloads as fields.
 */

#ifndef WP_LOG_H
#define WP_LOG_H

typedef enum {
    WP_LOG_ERROR = 0,
    WP_LOG_WARN,
    WP_LOG_INFO,
    WP_LOG_DEBUG
} wp_log_level_t;

typedef struct {
    wp_log_level_t   level;         /* lines above this level are dropped */
    const char      *component;     /* "sender", "cli" */
    const char      *instance;      /* consumer name, or NULL */
} wp_log_t;

/* LOG_LEVEL text (error|warn|info|debug; also "warning", "trace") -> level. */
int wp_log_level_parse(const char *s, wp_log_level_t *out);

/*
 * Log msg with string fields given as key, value pairs ending in NULL:
 *   wp_log(&log, WP_LOG_INFO, "job done", "job", id, "sent", "12", NULL);
 * A NULL value writes JSON null.
 */
void wp_log(const wp_log_t *log, wp_log_level_t level, const char *msg, ...)
#if defined(__GNUC__)
    __attribute__((sentinel))
#endif
    ;

#endif /* WP_LOG_H */
