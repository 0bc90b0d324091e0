/* ngx_webpush: send request validation and the queue job form (see sendreq.h). */

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "json_util.h"
#include "sendreq.h"
#include "subscription.h"


/* userIds (10,000) plus a 3993-byte payload fit well under these. */
static const wp_json_limits_t  wp_send_json_limits = { 32, 32768 };


static const char  *wp_send_req_keys[] = {
    "type", "eventId", "to", "payload", "ttl", "urgency", "topic", "sendAt",
    NULL
};

static const char  *wp_send_job_keys[] = {
    "v", "id", "type", "eventId", "to", "payload", "ttl", "urgency", "topic",
    "sendAt", "createdAt", NULL
};

static const char  *wp_urgency_names[] = {
    NULL, "very-low", "low", "normal", "high"
};


typedef struct {
    const wp_send_limits_t  *lim;
    int                      job;       /* parsing our own job JSON */
    int64_t                  now_ms;
} wp_send_ctx_t;


void
wp_send_limits_init(wp_send_limits_t *lim)
{
    lim->ttl_default = WP_SEND_DEFAULT_TTL;
    lim->now_ms = 0;
    lim->max_horizon_ms = WP_SEND_DEFAULT_HORIZON;
    lim->max_user_ids = WP_SEND_MAX_USER_IDS;
}


const char *
wp_urgency_name(wp_urgency_t u)
{
    return (u >= WP_URGENCY_VERY_LOW && u <= WP_URGENCY_HIGH)
           ? wp_urgency_names[u] : NULL;
}


static int
wp_has_ctl(const char *s)
{
    for ( ; *s; s++) {
        if ((unsigned char) *s < 0x20 || *s == 0x7f) {
            return 1;
        }
    }

    return 0;
}


static char *
wp_dup(const char *s, const char *field, wp_err_t *err)
{
    char  *p = strdup(s);

    if (p == NULL) {
        wp_err_set(err, WP_E_NOMEM, field, "%s: out of memory", field);
    }

    return p;
}


/* A user id: string 1..255 bytes without control chars, or an integer. */
static int
wp_send_user_id(yajl_val v, const char *field, char **out, wp_err_t *err)
{
    size_t       len;
    const char  *s;

    if (YAJL_IS_STRING(v)) {
        s = v->u.string;

    } else {
        s = wp_json_integer_text(v);
        if (s == NULL) {
            return wp_err_set(err, WP_E_BAD_TYPE, field,
                              "%s: a user id must be a string or an integer, "
                              "not %s", field, wp_json_type_name(v));
        }
    }

    len = strlen(s);

    if (len == 0) {
        return wp_err_set(err, WP_E_BAD_VALUE, field,
                          "%s: a user id must not be empty", field);
    }

    if (len > WP_SEND_MAX_USER_ID) {
        return wp_err_set(err, WP_E_TOO_LONG, field,
                          "%s: a user id is at most %d bytes", field,
                          WP_SEND_MAX_USER_ID);
    }

    if (wp_has_ctl(s)) {
        return wp_err_set(err, WP_E_BAD_VALUE, field,
                          "%s: a user id must not contain control characters",
                          field);
    }

    *out = wp_dup(s, field, err);

    return *out ? 0 : -1;
}


typedef struct {
    const char  *s;
    size_t       i;
} wp_id_ref_t;


static int
wp_id_ref_cmp(const void *a, const void *b)
{
    const wp_id_ref_t  *x = a, *y = b;
    int                 c = strcmp(x->s, y->s);

    if (c != 0) {
        return c;
    }

    return x->i < y->i ? -1 : (x->i > y->i);
}


/* Drop repeated ids, keeping first occurrences in order; n log n. */
static int
wp_send_dedup(wp_send_req_t *out, wp_err_t *err)
{
    size_t        i, j, n;
    wp_id_ref_t  *ref;

    n = out->n_user_ids;
    if (n < 2) {
        return 0;
    }

    ref = malloc(n * sizeof(*ref));
    if (ref == NULL) {
        return wp_err_set(err, WP_E_NOMEM, "to.userIds",
                          "to.userIds: out of memory");
    }

    for (i = 0; i < n; i++) {
        ref[i].s = out->user_ids[i];
        ref[i].i = i;
    }

    qsort(ref, n, sizeof(*ref), wp_id_ref_cmp);

    /* sorted by (id, position): a repeat follows its first occurrence */
    for (i = 1; i < n; i++) {
        if (strcmp(ref[i].s, ref[i - 1].s) == 0) {
            out->user_ids[ref[i].i] = NULL;
        }
    }

    /* freed only now: the loop above still compares neighbours */
    for (i = 0; i < n; i++) {
        if (out->user_ids[ref[i].i] == NULL) {
            free((char *) ref[i].s);
        }
    }

    free(ref);

    for (i = 0, j = 0; i < n; i++) {
        if (out->user_ids[i] != NULL) {
            out->user_ids[j++] = out->user_ids[i];
        }
    }
    out->n_user_ids = j;

    return 0;
}


static int
wp_send_to(yajl_val to, wp_send_ctx_t *ctx, wp_send_req_t *out,
    wp_err_t *err)
{
    char         field[64];
    size_t       i;
    yajl_val     v;
    const char  *key;

    if (to == NULL) {
        return wp_err_set(err, WP_E_MISSING_FIELD, "to",
                          "to: missing (one of userId, userIds, topic, all)");
    }

    if (!YAJL_IS_OBJECT(to)) {
        return wp_err_set(err, WP_E_BAD_TYPE, "to",
                          "to: must be an object, not %s",
                          wp_json_type_name(to));
    }

    for (i = 0; i < to->u.object.len; i++) {
        key = to->u.object.keys[i];
        if (strcmp(key, "userId") && strcmp(key, "userIds")
            && strcmp(key, "topic") && strcmp(key, "all"))
        {
            snprintf(field, sizeof(field), "to.%.40s", key);
            return wp_err_set(err, WP_E_UNKNOWN_FIELD, field,
                              "%s: unknown member (want one of userId, "
                              "userIds, topic, all)", field);
        }
    }

    if (to->u.object.len == 0) {
        return wp_err_set(err, WP_E_MISSING_FIELD, "to",
                          "to: needs one of userId, userIds, topic, all");
    }

    if (to->u.object.len > 1) {
        return wp_err_set(err, WP_E_BAD_VALUE, "to",
                          "to: give exactly one of userId, userIds, topic, "
                          "all");
    }

    key = to->u.object.keys[0];
    v = to->u.object.values[0];

    if (strcmp(key, "userId") == 0) {
        out->to = WP_SEND_TO_USER;
        out->user_ids = calloc(1, sizeof(char *));
        if (out->user_ids == NULL) {
            return wp_err_set(err, WP_E_NOMEM, "to.userId",
                              "to.userId: out of memory");
        }
        if (wp_send_user_id(v, "to.userId", &out->user_ids[0], err) != 0) {
            return -1;
        }
        out->n_user_ids = 1;
        return 0;
    }

    if (strcmp(key, "userIds") == 0) {
        out->to = WP_SEND_TO_USERS;

        if (!YAJL_IS_ARRAY(v)) {
            return wp_err_set(err, WP_E_BAD_TYPE, "to.userIds",
                              "to.userIds: must be an array, not %s",
                              wp_json_type_name(v));
        }
        if (v->u.array.len == 0) {
            return wp_err_set(err, WP_E_BAD_VALUE, "to.userIds",
                              "to.userIds: must not be empty");
        }
        if (v->u.array.len > ctx->lim->max_user_ids) {
            return wp_err_set(err, WP_E_TOO_MANY, "to.userIds",
                              "to.userIds: at most %zu user ids",
                              ctx->lim->max_user_ids);
        }

        out->user_ids = calloc(v->u.array.len, sizeof(char *));
        if (out->user_ids == NULL) {
            return wp_err_set(err, WP_E_NOMEM, "to.userIds",
                              "to.userIds: out of memory");
        }

        for (i = 0; i < v->u.array.len; i++) {
            snprintf(field, sizeof(field), "to.userIds[%zu]", i);
            if (wp_send_user_id(v->u.array.values[i], field,
                                &out->user_ids[i], err) != 0)
            {
                return -1;
            }
            out->n_user_ids++;
        }

        return wp_send_dedup(out, err);
    }

    if (strcmp(key, "topic") == 0) {
        out->to = WP_SEND_TO_TOPIC;

        if (!YAJL_IS_STRING(v)) {
            return wp_err_set(err, WP_E_BAD_TYPE, "to.topic",
                              "to.topic: must be a string, not %s",
                              wp_json_type_name(v));
        }
        if (wp_topic_name_check(v->u.string, strlen(v->u.string), "to.topic",
                                err) != 0)
        {
            return -1;
        }
        out->to_topic = wp_dup(v->u.string, "to.topic", err);
        return out->to_topic ? 0 : -1;
    }

    /* "all" */
    out->to = WP_SEND_TO_ALL;

    if (YAJL_IS_TRUE(v)) {
        return 0;
    }

    if (YAJL_IS_FALSE(v)) {
        return wp_err_set(err, WP_E_BAD_VALUE, "to.all",
                          "to.all: must be true (to send to everybody)");
    }

    return wp_err_set(err, WP_E_BAD_TYPE, "to.all",
                      "to.all: must be true, not %s", wp_json_type_name(v));
}


static int
wp_send_type(yajl_val v, wp_send_req_t *out, wp_err_t *err)
{
    char         c;
    size_t       len;
    const char  *s;

    if (v == NULL) {
        return wp_err_set(err, WP_E_MISSING_FIELD, "type", "type: missing");
    }

    if (!YAJL_IS_STRING(v)) {
        return wp_err_set(err, WP_E_BAD_TYPE, "type",
                          "type: must be a string, not %s",
                          wp_json_type_name(v));
    }

    len = strlen(v->u.string);
    if (len == 0 || len > WP_SEND_MAX_TYPE) {
        return wp_err_set(err, len ? WP_E_TOO_LONG : WP_E_BAD_VALUE, "type",
                          "type: must be 1..%d characters", WP_SEND_MAX_TYPE);
    }

    for (s = v->u.string; *s; s++) {
        c = *s;
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
              || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == ':'
              || c == '-'))
        {
            return wp_err_set(err, WP_E_BAD_VALUE, "type",
                              "type: may only hold letters, digits and "
                              "'_', '.', ':', '-'");
        }
    }

    out->type = wp_dup(v->u.string, "type", err);

    return out->type ? 0 : -1;
}


static int
wp_send_event_id(yajl_val v, wp_send_req_t *out, wp_err_t *err)
{
    size_t       len;
    const char  *s;

    if (v == NULL || YAJL_IS_NULL(v)) {
        return 0;
    }

    if (YAJL_IS_STRING(v)) {
        s = v->u.string;

    } else {
        s = wp_json_integer_text(v);
        if (s == NULL) {
            return wp_err_set(err, WP_E_BAD_TYPE, "eventId",
                              "eventId: must be a string or an integer, "
                              "not %s", wp_json_type_name(v));
        }
    }

    len = strlen(s);
    if (len == 0 || len > WP_SEND_MAX_EVENT_ID) {
        return wp_err_set(err, len ? WP_E_TOO_LONG : WP_E_BAD_VALUE,
                          "eventId", "eventId: must be 1..%d bytes",
                          WP_SEND_MAX_EVENT_ID);
    }

    if (wp_has_ctl(s)) {
        return wp_err_set(err, WP_E_BAD_VALUE, "eventId",
                          "eventId: must not contain control characters");
    }

    out->event_id = wp_dup(s, "eventId", err);

    return out->event_id ? 0 : -1;
}


static int
wp_send_payload(yajl_val v, wp_send_req_t *out, wp_err_t *err)
{
    if (v == NULL) {
        return wp_err_set(err, WP_E_MISSING_FIELD, "payload",
                          "payload: missing");
    }

    if (!YAJL_IS_OBJECT(v)) {
        return wp_err_set(err, WP_E_BAD_TYPE, "payload",
                          "payload: must be a JSON object, not %s",
                          wp_json_type_name(v));
    }

    if (wp_json_to_string(v, &out->payload, &out->payload_len, err) != 0) {
        return -1;
    }

    /* what the service worker gets must fit one aes128gcm record */
    if (out->payload_len > WP_SEND_MAX_PAYLOAD) {
        return wp_err_set(err, WP_E_PAYLOAD_TOO_LARGE, "payload",
                          "payload: %zu bytes as compact JSON, at most %d fit "
                          "in one push message", out->payload_len,
                          WP_SEND_MAX_PAYLOAD);
    }

    return 0;
}


static int
wp_send_ttl(yajl_val v, wp_send_ctx_t *ctx, wp_send_req_t *out,
    wp_err_t *err)
{
    int64_t  ttl;

    if (v == NULL || YAJL_IS_NULL(v)) {
        if (ctx->job) {
            return wp_err_set(err, WP_E_MISSING_FIELD, "ttl", "ttl: missing");
        }
        ttl = ctx->lim->ttl_default;
        if (ttl < 0 || ttl > WP_SEND_MAX_TTL) {
            return wp_err_set(err, WP_E_BAD_VALUE, "ttl",
                              "ttl: the default TTL %lld is outside 0..%d",
                              (long long) ttl, WP_SEND_MAX_TTL);
        }
        out->ttl = ttl;
        return 0;
    }

    if (!YAJL_IS_NUMBER(v)) {
        return wp_err_set(err, WP_E_BAD_TYPE, "ttl",
                          "ttl: must be an integer number of seconds, not %s",
                          wp_json_type_name(v));
    }

    if (wp_json_integer_text(v) == NULL) {
        return wp_err_set(err, WP_E_BAD_TYPE, "ttl",
                          "ttl: must be an integer number of seconds");
    }

    if (wp_json_get_int64(v, &ttl) != 0 || ttl < 0 || ttl > WP_SEND_MAX_TTL) {
        return wp_err_set(err, WP_E_BAD_VALUE, "ttl",
                          "ttl: must be 0..%d seconds (28 days)",
                          WP_SEND_MAX_TTL);
    }

    out->ttl = ttl;

    return 0;
}


static int
wp_send_urgency(yajl_val v, wp_send_req_t *out, wp_err_t *err)
{
    int  u;

    if (v == NULL || YAJL_IS_NULL(v)) {
        return 0;
    }

    if (!YAJL_IS_STRING(v)) {
        return wp_err_set(err, WP_E_BAD_TYPE, "urgency",
                          "urgency: must be a string, not %s",
                          wp_json_type_name(v));
    }

    for (u = WP_URGENCY_VERY_LOW; u <= WP_URGENCY_HIGH; u++) {
        if (strcmp(v->u.string, wp_urgency_names[u]) == 0) {
            out->urgency = (wp_urgency_t) u;
            return 0;
        }
    }

    return wp_err_set(err, WP_E_BAD_VALUE, "urgency",
                      "urgency: must be very-low, low, normal or high");
}


static int
wp_send_topic(yajl_val v, wp_send_req_t *out, wp_err_t *err)
{
    char         c;
    size_t       len;
    const char  *s;

    if (v == NULL || YAJL_IS_NULL(v)) {
        return 0;
    }

    if (!YAJL_IS_STRING(v)) {
        return wp_err_set(err, WP_E_BAD_TYPE, "topic",
                          "topic: must be a string, not %s",
                          wp_json_type_name(v));
    }

    len = strlen(v->u.string);
    if (len == 0 || len > WP_SEND_MAX_TOPIC) {
        return wp_err_set(err, len ? WP_E_TOO_LONG : WP_E_BAD_VALUE, "topic",
                          "topic: must be 1..%d characters (RFC 8030 Topic "
                          "header)", WP_SEND_MAX_TOPIC);
    }

    for (s = v->u.string; *s; s++) {
        c = *s;
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
              || (c >= '0' && c <= '9') || c == '_' || c == '-'))
        {
            return wp_err_set(err, WP_E_BAD_VALUE, "topic",
                              "topic: may only hold base64url characters "
                              "[A-Za-z0-9_-]");
        }
    }

    /* Apple base64url-decodes it: such lengths fail with BadWebPushTopic */
    if (len % 4 == 1) {
        return wp_err_set(err, WP_E_BAD_VALUE, "topic",
                          "topic: Apple's push service rejects a length of "
                          "%zu (4k+1); use another length, e.g. 32", len);
    }

    memcpy(out->topic, v->u.string, len + 1);

    return 0;
}


/* Days since 1970-01-01 of a proleptic Gregorian date. */
static int64_t
wp_days_from_civil(int64_t y, int64_t m, int64_t d)
{
    int64_t  era, yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

    return era * 146097 + doe - 719468;
}


static int
wp_digits(const char *s, int n, int *out)
{
    int  i, v;

    v = 0;
    for (i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return -1;
        }
        v = v * 10 + (s[i] - '0');
    }

    *out = v;

    return 0;
}


/* RFC 3339 date-time: YYYY-MM-DDTHH:MM:SS[.frac](Z|+hh:mm|-hh:mm). */
static int
wp_rfc3339_ms(const char *s, int64_t *out)
{
    int      y, mo, d, h, mi, sec, oh, om, ms, i, mdays;
    int64_t  t, off;

    static const int  dim[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30,
                                31 };

    if (strlen(s) < 20
        || wp_digits(s, 4, &y) || s[4] != '-' || wp_digits(s + 5, 2, &mo)
        || s[7] != '-' || wp_digits(s + 8, 2, &d)
        || (s[10] != 'T' && s[10] != 't')
        || wp_digits(s + 11, 2, &h) || s[13] != ':'
        || wp_digits(s + 14, 2, &mi) || s[16] != ':'
        || wp_digits(s + 17, 2, &sec))
    {
        return -1;
    }

    if (mo < 1 || mo > 12 || h > 23 || mi > 59 || sec > 60) {
        return -1;
    }

    mdays = dim[mo - 1];
    if (mo == 2 && (y % 4 == 0 && (y % 100 != 0 || y % 400 == 0))) {
        mdays = 29;
    }
    if (d < 1 || d > mdays) {
        return -1;
    }

    s += 19;
    ms = 0;

    if (*s == '.') {
        s++;
        for (i = 0; s[i] >= '0' && s[i] <= '9'; i++) {
            if (i < 3) {
                ms = ms * 10 + (s[i] - '0');
            }
        }
        if (i == 0 || i > 9) {
            return -1;
        }
        for ( ; i < 3; i++) {
            ms *= 10;
        }
        s += strspn(s, "0123456789");
    }

    if ((s[0] == 'Z' || s[0] == 'z') && s[1] == '\0') {
        off = 0;

    } else if ((s[0] == '+' || s[0] == '-') && strlen(s) == 6
               && !wp_digits(s + 1, 2, &oh) && s[3] == ':'
               && !wp_digits(s + 4, 2, &om) && oh <= 23 && om <= 59)
    {
        off = (int64_t) (oh * 60 + om) * 60;
        if (s[0] == '-') {
            off = -off;
        }

    } else {
        return -1;
    }

    t = wp_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec
        - off;
    *out = t * 1000 + ms;

    return 0;
}


static int
wp_send_at(yajl_val v, wp_send_ctx_t *ctx, wp_send_req_t *out, wp_err_t *err)
{
    int64_t  t;

    if (v == NULL || YAJL_IS_NULL(v)) {
        return 0;
    }

    if (YAJL_IS_STRING(v) && !ctx->job) {
        if (wp_rfc3339_ms(v->u.string, &t) != 0) {
            return wp_err_set(err, WP_E_BAD_VALUE, "sendAt",
                              "sendAt: not an RFC 3339 time such as "
                              "2026-01-02T03:04:05Z or "
                              "2026-01-02T04:04:05+01:00");
        }

    } else if (wp_json_integer_text(v) != NULL) {
        if (wp_json_get_int64(v, &t) != 0 || t < 0) {
            return wp_err_set(err, WP_E_BAD_VALUE, "sendAt",
                              "sendAt: epoch milliseconds out of range");
        }

    } else {
        return wp_err_set(err, WP_E_BAD_TYPE, "sendAt",
                          "sendAt: must be an RFC 3339 string or integer "
                          "epoch milliseconds, not %s", wp_json_type_name(v));
    }

    if (ctx->job) {
        out->send_at_ms = t;
        return 0;
    }

    if (t <= ctx->now_ms) {
        out->send_at_ms = 0;        /* already due: send now */
        return 0;
    }

    if (t - ctx->now_ms > ctx->lim->max_horizon_ms) {
        return wp_err_set(err, WP_E_BAD_VALUE, "sendAt",
                          "sendAt: at most %lld days ahead",
                          (long long) (ctx->lim->max_horizon_ms / 86400000));
    }

    out->send_at_ms = t;

    return 0;
}


int
wp_send_job_id_check(const char *id, size_t len, wp_err_t *err)
{
    size_t  i;

    if (len == 0 || len > WP_SEND_MAX_JOB_ID) {
        return wp_err_set(err, WP_E_BAD_VALUE, "id",
                          "id: job id must be 1..%d characters",
                          WP_SEND_MAX_JOB_ID);
    }

    for (i = 0; i < len; i++) {
        if (!isalnum((unsigned char) id[i]) && id[i] != '-' && id[i] != '_') {
            return wp_err_set(err, WP_E_BAD_VALUE, "id",
                              "id: job id may hold only [A-Za-z0-9_-]");
        }
    }

    return 0;
}


static int
wp_send_job_meta(yajl_val root, wp_send_req_t *out, wp_err_t *err)
{
    int64_t   n;
    yajl_val  v;

    v = wp_json_get(root, "v");
    if (wp_json_get_int64(v, &n) != 0 || n != 1) {
        return wp_err_set(err, WP_E_BAD_VALUE, "v",
                          "v: unsupported job format version");
    }

    v = wp_json_get(root, "createdAt");
    if (v == NULL) {
        return wp_err_set(err, WP_E_MISSING_FIELD, "createdAt",
                          "createdAt: missing");
    }
    if (wp_json_get_int64(v, &n) != 0 || n < 0) {
        return wp_err_set(err, WP_E_BAD_VALUE, "createdAt",
                          "createdAt: must be integer epoch milliseconds");
    }

    out->created_at_ms = n;

    v = wp_json_get(root, "id");
    if (v == NULL || !YAJL_IS_STRING(v)) {
        return wp_err_set(err, WP_E_MISSING_FIELD, "id",
                          "id: missing (the job id)");
    }
    if (wp_send_job_id_check(v->u.string, strlen(v->u.string), err) != 0) {
        return -1;
    }
    memcpy(out->id, v->u.string, strlen(v->u.string) + 1);

    return 0;
}


static int
wp_send_fields(yajl_val root, wp_send_ctx_t *ctx, wp_send_req_t *out,
    wp_err_t *err)
{
    size_t        i, k;
    const char  **known;

    known = ctx->job ? wp_send_job_keys : wp_send_req_keys;

    for (i = 0; i < root->u.object.len; i++) {
        for (k = 0; known[k]; k++) {
            if (strcmp(root->u.object.keys[i], known[k]) == 0) {
                break;
            }
        }
        if (known[k] == NULL) {
            return wp_err_set(err, WP_E_UNKNOWN_FIELD, root->u.object.keys[i],
                              "%.60s: unknown member (known: type, eventId, "
                              "to, payload, ttl, urgency, topic, sendAt)",
                              root->u.object.keys[i]);
        }
    }

    if (ctx->job) {
        if (wp_send_job_meta(root, out, err) != 0) {
            return -1;
        }

    } else {
        out->created_at_ms = ctx->now_ms;
    }

    if (wp_send_type(wp_json_get(root, "type"), out, err) != 0
        || wp_send_event_id(wp_json_get(root, "eventId"), out, err) != 0
        || wp_send_to(wp_json_get(root, "to"), ctx, out, err) != 0
        || wp_send_payload(wp_json_get(root, "payload"), out, err) != 0
        || wp_send_ttl(wp_json_get(root, "ttl"), ctx, out, err) != 0
        || wp_send_urgency(wp_json_get(root, "urgency"), out, err) != 0
        || wp_send_topic(wp_json_get(root, "topic"), out, err) != 0
        || wp_send_at(wp_json_get(root, "sendAt"), ctx, out, err) != 0)
    {
        return -1;
    }

    return 0;
}


static int
wp_send_parse(const char *body, size_t len, wp_send_ctx_t *ctx,
    wp_send_req_t *out, wp_err_t *err)
{
    int       rc;
    yajl_val  root;

    memset(out, 0, sizeof(*out));

    if (len > WP_SEND_MAX_BODY) {
        return wp_err_set(err, WP_E_TOO_LONG, "",
                          "the send request body is longer than %d bytes",
                          WP_SEND_MAX_BODY);
    }

    if (wp_json_parse(body, len, &wp_send_json_limits, &root, "", err) != 0) {
        return -1;
    }

    if (!YAJL_IS_OBJECT(root)) {
        wp_json_free(root);
        return wp_err_set(err, WP_E_BAD_JSON, "",
                          "the send request body must be a JSON object");
    }

    rc = wp_send_fields(root, ctx, out, err);
    wp_json_free(root);

    if (rc != 0) {
        wp_send_req_free(out);
    }

    return rc;
}


int
wp_send_req_parse(const char *body, size_t len, const wp_send_limits_t *lim,
    wp_send_req_t *out, wp_err_t *err)
{
    wp_send_ctx_t     ctx;
    wp_send_limits_t  defaults;
    struct timespec   ts;

    if (lim == NULL) {
        wp_send_limits_init(&defaults);
        lim = &defaults;
    }

    ctx.lim = lim;
    ctx.job = 0;
    ctx.now_ms = lim->now_ms;

    if (ctx.now_ms == 0) {
        clock_gettime(CLOCK_REALTIME, &ts);
        ctx.now_ms = (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    }

    return wp_send_parse(body, len, &ctx, out, err);
}


int
wp_send_job_parse(const char *json, size_t len, wp_send_req_t *out,
    wp_err_t *err)
{
    wp_send_ctx_t     ctx;
    wp_send_limits_t  lim;

    /* the job was validated once: accept what a request could hold */
    wp_send_limits_init(&lim);
    lim.max_user_ids = WP_SEND_MAX_USER_IDS;

    ctx.lim = &lim;
    ctx.job = 1;
    ctx.now_ms = 0;

    return wp_send_parse(json, len, &ctx, out, err);
}


void
wp_send_req_free(wp_send_req_t *req)
{
    size_t  i;

    if (req == NULL) {
        return;
    }

    free(req->type);
    free(req->event_id);
    if (req->user_ids) {
        for (i = 0; i < req->n_user_ids; i++) {
            free(req->user_ids[i]);
        }
        free(req->user_ids);
    }
    free(req->to_topic);
    free(req->payload);

    memset(req, 0, sizeof(*req));
}


static yajl_gen_status
wp_gen_str(yajl_gen g, const char *s)
{
    return yajl_gen_string(g, (const unsigned char *) s, strlen(s));
}


static yajl_gen_status
wp_gen_int(yajl_gen g, int64_t v)
{
    return yajl_gen_integer(g, (long long) v);
}


static yajl_gen_status
wp_gen_job(yajl_gen g, const wp_send_req_t *r)
{
    size_t           i;
    yajl_gen_status  st;

#define WP_GEN(call)  if ((st = (call)) != yajl_gen_status_ok) return st

    WP_GEN(yajl_gen_map_open(g));
    WP_GEN(wp_gen_str(g, "v"));
    WP_GEN(wp_gen_int(g, 1));

    if (r->id[0]) {
        WP_GEN(wp_gen_str(g, "id"));
        WP_GEN(wp_gen_str(g, r->id));
    }

    WP_GEN(wp_gen_str(g, "type"));
    WP_GEN(wp_gen_str(g, r->type));

    if (r->event_id) {
        WP_GEN(wp_gen_str(g, "eventId"));
        WP_GEN(wp_gen_str(g, r->event_id));
    }

    WP_GEN(wp_gen_str(g, "to"));
    WP_GEN(yajl_gen_map_open(g));

    switch (r->to) {
    case WP_SEND_TO_USER:
        WP_GEN(wp_gen_str(g, "userId"));
        WP_GEN(wp_gen_str(g, r->user_ids[0]));
        break;

    case WP_SEND_TO_USERS:
        WP_GEN(wp_gen_str(g, "userIds"));
        WP_GEN(yajl_gen_array_open(g));
        for (i = 0; i < r->n_user_ids; i++) {
            WP_GEN(wp_gen_str(g, r->user_ids[i]));
        }
        WP_GEN(yajl_gen_array_close(g));
        break;

    case WP_SEND_TO_TOPIC:
        WP_GEN(wp_gen_str(g, "topic"));
        WP_GEN(wp_gen_str(g, r->to_topic));
        break;

    default:
        WP_GEN(wp_gen_str(g, "all"));
        WP_GEN(yajl_gen_bool(g, 1));
        break;
    }

    WP_GEN(yajl_gen_map_close(g));
    WP_GEN(wp_gen_str(g, "ttl"));
    WP_GEN(wp_gen_int(g, r->ttl));

    if (r->urgency != WP_URGENCY_UNSET) {
        WP_GEN(wp_gen_str(g, "urgency"));
        WP_GEN(wp_gen_str(g, wp_urgency_name(r->urgency)));
    }

    if (r->topic[0]) {
        WP_GEN(wp_gen_str(g, "topic"));
        WP_GEN(wp_gen_str(g, r->topic));
    }

    if (r->send_at_ms) {
        WP_GEN(wp_gen_str(g, "sendAt"));
        WP_GEN(wp_gen_int(g, r->send_at_ms));
    }

    WP_GEN(wp_gen_str(g, "createdAt"));
    WP_GEN(wp_gen_int(g, r->created_at_ms));

    return yajl_gen_map_close(g);

#undef WP_GEN
}


int
wp_send_req_to_json(const wp_send_req_t *req, char **out, size_t *outlen,
    wp_err_t *err)
{
    char                 *p;
    size_t                n;
    yajl_gen              g;
    yajl_gen_status       st;
    const unsigned char  *buf;

    static const char  member[] = ",\"payload\":";

    if (req->type == NULL || req->payload == NULL || req->to == 0
        || ((req->to == WP_SEND_TO_USER || req->to == WP_SEND_TO_USERS)
            && req->n_user_ids == 0)
        || (req->to == WP_SEND_TO_TOPIC && req->to_topic == NULL)
        || (req->urgency != WP_URGENCY_UNSET
            && wp_urgency_name(req->urgency) == NULL))
    {
        return wp_err_set(err, WP_E_INTERNAL, "",
                          "send request is incomplete (not from "
                          "wp_send_req_parse)");
    }

    g = yajl_gen_alloc(NULL);
    if (g == NULL) {
        return wp_err_set(err, WP_E_NOMEM, "", "out of memory");
    }

    st = wp_gen_job(g, req);
    if (st != yajl_gen_status_ok) {
        yajl_gen_free(g);
        return wp_err_set(err, WP_E_INTERNAL, "",
                          "JSON generator failed (status %d)", (int) st);
    }

    yajl_gen_get_buf(g, &buf, &n);

    /*
     * The payload is already canonical JSON: splice it in before the
     * closing brace instead of re-parsing it into the generator.
     */
    p = malloc(n - 1 + sizeof(member) - 1 + req->payload_len + 2);
    if (p == NULL) {
        yajl_gen_free(g);
        return wp_err_set(err, WP_E_NOMEM, "", "out of memory");
    }

    memcpy(p, buf, n - 1);
    memcpy(p + n - 1, member, sizeof(member) - 1);
    n = n - 1 + sizeof(member) - 1;
    memcpy(p + n, req->payload, req->payload_len);
    n += req->payload_len;
    p[n++] = '}';
    p[n] = '\0';

    yajl_gen_free(g);

    *out = p;
    if (outlen) {
        *outlen = n;
    }

    return 0;
}
