/* ngx_webpush: PushSubscription.toJSON() validation (see subscription.h). */

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "b64.h"
#include "ece.h"
#include "json_util.h"
#include "subscription.h"


/* Unknown members are ignored but still parsed: keep them bounded. */
static const wp_json_limits_t  wp_sub_json_limits = { 32, 4096 };


int
wp_topic_name_check(const char *s, size_t len, const char *field,
    wp_err_t *err)
{
    char    c;
    size_t  i;

    if (len == 0) {
        return wp_err_set(err, WP_E_BAD_VALUE, field,
                          "%s: a topic must not be empty", field);
    }

    if (len > WP_SUB_MAX_TOPIC_LEN) {
        return wp_err_set(err, WP_E_TOO_LONG, field,
                          "%s: a topic is at most %d characters", field,
                          WP_SUB_MAX_TOPIC_LEN);
    }

    for (i = 0; i < len; i++) {
        c = s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
              || (c >= '0' && c <= '9') || c == ':' || c == '_' || c == '.'
              || c == '-'))
        {
            return wp_err_set(err, WP_E_BAD_VALUE, field,
                              "%s: a topic may only hold letters, digits "
                              "and ':', '_', '.', '-'", field);
        }
    }

    return 0;
}


static int
wp_sub_expiration(yajl_val v, int64_t now_ms, wp_subscription_t *out,
    wp_err_t *err)
{
    double  d;

    out->expiration_ms = -1;

    if (v == NULL || YAJL_IS_NULL(v)) {
        return 0;
    }

    if (!YAJL_IS_NUMBER(v)) {
        return wp_err_set(err, WP_E_BAD_TYPE, "expirationTime",
                          "expirationTime: must be null or a number of epoch "
                          "milliseconds, not %s", wp_json_type_name(v));
    }

    if (YAJL_IS_INTEGER(v)) {
        if (v->u.number.i < 0 || v->u.number.i > WP_SUB_MAX_EXPIRATION) {
            goto range;
        }
        out->expiration_ms = (int64_t) v->u.number.i;

    } else if (YAJL_IS_DOUBLE(v)) {
        d = v->u.number.d;
        if (!(d >= 0) || d > (double) WP_SUB_MAX_EXPIRATION) {
            goto range;
        }
        out->expiration_ms = (int64_t) floor(d);

    } else {
        goto range;
    }

    /* accepted and recorded: the caller decides what an old one means */
    out->expired = out->expiration_ms <= now_ms;

    return 0;

range:

    return wp_err_set(err, WP_E_BAD_VALUE, "expirationTime",
                      "expirationTime: must be epoch milliseconds between 0 "
                      "and year 9999");
}


/* Decode a key given as base64url or base64, padded or not. */
static int
wp_sub_key(yajl_val keys, const char *name, const char *field, uint8_t *raw,
    size_t want, char *canon, wp_err_t *err)
{
    size_t    n, len;
    uint8_t   buf[128];
    yajl_val  v;

    v = wp_json_get(keys, name);

    if (v == NULL) {
        return wp_err_set(err, WP_E_MISSING_FIELD, field,
                          "%s: missing", field);
    }

    if (!YAJL_IS_STRING(v)) {
        return wp_err_set(err, WP_E_BAD_TYPE, field,
                          "%s: must be a base64url string, not %s", field,
                          wp_json_type_name(v));
    }

    len = strlen(v->u.string);
    if (len > sizeof(buf) / 3 * 4) {
        return wp_err_set(err, WP_E_BAD_KEY, field,
                          "%s: too long for a %zu-byte key", field, want);
    }

    if (wp_b64url_decode(v->u.string, len, buf, sizeof(buf), &n,
                         WP_B64_LENIENT, field, err) != 0)
    {
        return -1;
    }

    if (n != want) {
        return wp_err_set(err, WP_E_BAD_KEY, field,
                          "%s: must decode to %zu bytes, not %zu", field,
                          want, n);
    }

    memcpy(raw, buf, want);
    wp_b64url_encode(raw, want, canon);

    return 0;
}


static int
wp_sub_topics(yajl_val v, wp_subscription_t *out, wp_err_t *err)
{
    char         field[32];
    size_t       i, j;
    yajl_val     t;
    const char  *s;

    if (v == NULL || YAJL_IS_NULL(v)) {
        return 0;
    }

    if (!YAJL_IS_ARRAY(v)) {
        return wp_err_set(err, WP_E_BAD_TYPE, "topics",
                          "topics: must be an array of strings, not %s",
                          wp_json_type_name(v));
    }

    if (v->u.array.len > WP_SUB_MAX_TOPICS) {
        return wp_err_set(err, WP_E_TOO_MANY, "topics",
                          "topics: at most %d topics", WP_SUB_MAX_TOPICS);
    }

    out->has_topics = 1;

    if (v->u.array.len == 0) {
        return 0;
    }

    out->topics = calloc(v->u.array.len, sizeof(char *));
    if (out->topics == NULL) {
        return wp_err_set(err, WP_E_NOMEM, "topics", "topics: out of memory");
    }

    for (i = 0; i < v->u.array.len; i++) {
        t = v->u.array.values[i];
        snprintf(field, sizeof(field), "topics[%zu]", i);

        if (!YAJL_IS_STRING(t)) {
            return wp_err_set(err, WP_E_BAD_TYPE, field,
                              "%s: must be a string, not %s", field,
                              wp_json_type_name(t));
        }

        s = t->u.string;
        if (wp_topic_name_check(s, strlen(s), field, err) != 0) {
            return -1;
        }

        /* following a topic twice means following it once */
        for (j = 0; j < out->ntopics; j++) {
            if (strcmp(out->topics[j], s) == 0) {
                break;
            }
        }
        if (j < out->ntopics) {
            continue;
        }

        out->topics[out->ntopics] = strdup(s);
        if (out->topics[out->ntopics] == NULL) {
            return wp_err_set(err, WP_E_NOMEM, field, "%s: out of memory",
                              field);
        }
        out->ntopics++;
    }

    return 0;
}


static int
wp_sub_fields(yajl_val root, const wp_endpoint_policy_t *pol, int64_t now_ms,
    wp_subscription_t *out, wp_err_t *err)
{
    size_t    len;
    yajl_val  v, keys;

    v = wp_json_get(root, "endpoint");
    if (v == NULL) {
        return wp_err_set(err, WP_E_MISSING_FIELD, "endpoint",
                          "endpoint: missing");
    }
    if (!YAJL_IS_STRING(v)) {
        return wp_err_set(err, WP_E_BAD_TYPE, "endpoint",
                          "endpoint: must be a string, not %s",
                          wp_json_type_name(v));
    }

    len = strlen(v->u.string);
    if (wp_endpoint_check(pol, v->u.string, len, &out->url, err) != 0) {
        return -1;
    }

    out->endpoint = strdup(v->u.string);
    if (out->endpoint == NULL) {
        return wp_err_set(err, WP_E_NOMEM, "endpoint", "endpoint: out of memory");
    }
    out->endpoint_len = len;

    if (wp_sub_expiration(wp_json_get(root, "expirationTime"), now_ms, out,
                          err) != 0)
    {
        return -1;
    }

    keys = wp_json_get(root, "keys");
    if (keys == NULL) {
        return wp_err_set(err, WP_E_MISSING_FIELD, "keys", "keys: missing");
    }
    if (!YAJL_IS_OBJECT(keys)) {
        return wp_err_set(err, WP_E_BAD_TYPE, "keys",
                          "keys: must be an object with p256dh and auth, "
                          "not %s", wp_json_type_name(keys));
    }

    if (wp_sub_key(keys, "p256dh", "keys.p256dh", out->p256dh_raw,
                   sizeof(out->p256dh_raw), out->p256dh, err) != 0
        || wp_p256_check_public(out->p256dh_raw, "keys.p256dh", err) != 0
        || wp_sub_key(keys, "auth", "keys.auth", out->auth_raw,
                      sizeof(out->auth_raw), out->auth, err) != 0)
    {
        return -1;
    }

    return wp_sub_topics(wp_json_get(root, "topics"), out, err);
}


int
wp_subscription_parse(const char *body, size_t len,
    const wp_endpoint_policy_t *pol, int64_t now_ms, wp_subscription_t *out,
    wp_err_t *err)
{
    int       rc;
    yajl_val  root;

    memset(out, 0, sizeof(*out));
    out->expiration_ms = -1;

    if (len > WP_SUB_MAX_BODY) {
        return wp_err_set(err, WP_E_TOO_LONG, "",
                          "the subscription body is longer than %d bytes",
                          WP_SUB_MAX_BODY);
    }

    if (wp_json_parse(body, len, &wp_sub_json_limits, &root, "", err) != 0) {
        return -1;
    }

    if (!YAJL_IS_OBJECT(root)) {
        wp_json_free(root);
        return wp_err_set(err, WP_E_BAD_JSON, "",
                          "the subscription body must be a JSON object");
    }

    rc = wp_sub_fields(root, pol, now_ms, out, err);
    wp_json_free(root);

    if (rc != 0) {
        wp_subscription_free(out);
        out->expiration_ms = -1;
    }

    return rc;
}


void
wp_subscription_free(wp_subscription_t *sub)
{
    size_t  i;

    if (sub == NULL) {
        return;
    }

    for (i = 0; i < sub->ntopics; i++) {
        free(sub->topics[i]);
    }
    free(sub->topics);
    free(sub->endpoint);

    memset(sub, 0, sizeof(*sub));
}
