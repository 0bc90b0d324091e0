/*
 * ngx_webpush: the send request (POST /api/push/send) and the job it
 * becomes on the queue.
 *
 *   {"type": "event_update",            required, 1..64 of [A-Za-z0-9_.:-]
 *    "eventId": "e1" | 42,              optional, string 1..128 bytes
 *                                       without control chars, or integer
 *    "to": {"userId": "u1" | 7}         exactly one of these four
 *        | {"userIds": ["u1", 7, ...]}  1..max_user_ids, duplicates dropped
 *        | {"topic": "event:123"}       a followed-topic name (subscription.h)
 *        | {"all": true},
 *    "payload": {...},                  required object, what the service
 *                                       worker receives; compact form must
 *                                       be <= WP_SEND_MAX_PAYLOAD bytes
 *    "ttl": 3600,                       optional integer 0..2419200 s
 *    "urgency": "high",                 optional very-low|low|normal|high
 *    "topic": "score",                  optional Topic header: 1..32 of
 *                                       [A-Za-z0-9_-], length not 1 mod 4
 *    "sendAt": "2026-01-02T03:04:05Z" | 1767322800000}   optional
 *
 * User ids are strings of 1..255 bytes without control characters, or
 * integers (stored as their decimal text).  null counts as absent for
 * the optional members.  Unknown members, at the top level or in "to",
 * are WP_E_UNKNOWN_FIELD: a typo ("ttL") must not be silently ignored.
 * sendAt is RFC 3339 (a 'Z' or +hh:mm offset is required; fractions of a
 * second are truncated to ms) or epoch ms; a time in the past means
 * "now", beyond max_horizon_ms ahead is WP_E_BAD_VALUE.
 *
 * Error codes: WP_E_TOO_LONG (body, strings), WP_E_BAD_JSON,
 * WP_E_MISSING_FIELD, WP_E_BAD_TYPE, WP_E_BAD_VALUE, WP_E_UNKNOWN_FIELD,
 * WP_E_TOO_MANY (userIds), WP_E_PAYLOAD_TOO_LARGE (payload; the module
 * answers 413).  Fields are JSON paths: "to.userIds[2]", "payload"...
 */

#ifndef WP_SENDREQ_H
#define WP_SENDREQ_H

#include <stddef.h>
#include <stdint.h>

#include "wp_err.h"

#define WP_SEND_MAX_BODY        (1024 * 1024)
/* One aes128gcm record of 4096 bytes: 4096 - 86 - 16 - 1 (RFC 8291 s4) */
#define WP_SEND_MAX_PAYLOAD     3993
#define WP_SEND_MAX_TTL         2419200         /* FCM's 28 days */
#define WP_SEND_MAX_USER_IDS    10000
#define WP_SEND_MAX_USER_ID     255
#define WP_SEND_MAX_TYPE        64
#define WP_SEND_MAX_EVENT_ID    128
#define WP_SEND_MAX_TOPIC       32
#define WP_SEND_DEFAULT_TTL     86400
#define WP_SEND_MAX_JOB_ID      64
#define WP_SEND_DEFAULT_HORIZON (30LL * 86400 * 1000)  /* ms */

typedef enum {
    WP_SEND_TO_USER = 1,                /* user_ids[0] */
    WP_SEND_TO_USERS,                   /* user_ids[0..n_user_ids) */
    WP_SEND_TO_TOPIC,                   /* to_topic */
    WP_SEND_TO_ALL
} wp_send_to_t;

typedef enum {
    WP_URGENCY_UNSET = 0,               /* send no Urgency header */
    WP_URGENCY_VERY_LOW,
    WP_URGENCY_LOW,
    WP_URGENCY_NORMAL,
    WP_URGENCY_HIGH
} wp_urgency_t;

typedef struct {
    int64_t      ttl_default;       /* PUSH_TTL_DEFAULT: 86400 */
    int64_t      now_ms;            /* epoch ms; 0 = current time */
    int64_t      max_horizon_ms;    /* sendAt at most this far ahead: 30 d */
    size_t       max_user_ids;      /* 10000 */
} wp_send_limits_t;

typedef struct {
    char           id[WP_SEND_MAX_JOB_ID + 1];  /* job id; "" until the
                                                   enqueuer assigns one */
    char          *type;
    char          *event_id;        /* NULL when absent */
    wp_send_to_t   to;
    char         **user_ids;        /* USER: 1, USERS: n_user_ids */
    size_t         n_user_ids;
    char          *to_topic;        /* TO_TOPIC only */
    char          *payload;         /* compact JSON object, NUL-terminated */
    size_t         payload_len;
    int64_t        ttl;             /* seconds, always set */
    wp_urgency_t   urgency;
    char           topic[WP_SEND_MAX_TOPIC + 1];    /* "" = no Topic */
    int64_t        send_at_ms;      /* 0 = now */
    int64_t        created_at_ms;   /* when the request was accepted */
} wp_send_req_t;

/* Fill lim with the defaults shown above. */
void wp_send_limits_init(wp_send_limits_t *lim);

/*
 * Validate a send request body and fill *out (allocated members; free
 * with wp_send_req_free()).  lim NULL means defaults.  On failure *out
 * holds nothing to free.
 */
int wp_send_req_parse(const char *body, size_t len,
    const wp_send_limits_t *lim, wp_send_req_t *out, wp_err_t *err);

/* Release a request's members; safe on a zeroed struct. */
void wp_send_req_free(wp_send_req_t *req);

/*
 * The canonical job JSON the queue carries, malloc'ed into *out (caller
 * frees): {"v":1,"type":...,"eventId":...,"to":{...},"payload":{...},
 * "ttl":N,"urgency":...,"topic":...,"sendAt":ms,"createdAt":ms}, with
 * absent optional members left out and userId(s) always as strings.
 */
int wp_send_req_to_json(const wp_send_req_t *req, char **out, size_t *outlen,
    wp_err_t *err);

/*
 * Parse a job written by wp_send_req_to_json() (the sender's side).  The
 * same rules apply except that ttl, createdAt and "v":1 are required and
 * sendAt is taken as is (no horizon, no "past means now": the job may be
 * read long after it was written).
 */
int wp_send_job_parse(const char *json, size_t len, wp_send_req_t *out,
    wp_err_t *err);

/*
 * Check a job id (1..WP_SEND_MAX_JOB_ID of [A-Za-z0-9_-]; the enqueuer
 * makes a UUID).  A job's "id" is required by wp_send_job_parse() and is
 * the "jobId" the API answers and the "NotificationLog" id.
 */
int wp_send_job_id_check(const char *id, size_t len, wp_err_t *err);

/* "very-low", "low", "normal", "high", or NULL for WP_URGENCY_UNSET. */
const char *wp_urgency_name(wp_urgency_t u);

#endif /* WP_SENDREQ_H */
