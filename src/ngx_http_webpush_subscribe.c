
/*
 * ngx_http_webpush_subscribe: the subscription routes.
 *
 * Copyright (C) ngx_webpush authors
 *
 *   webpush_subscribe;
 *     POST    body: PushSubscription.toJSON() [+ "topics": [...]]
 *             201 {"id"} new, 200 {"id"} updated (or moved to this user)
 *     DELETE  body: {"endpoint": "..."}, or no body and ?endpoint=URL
 *             (for clients that cannot send a DELETE body)
 *             204, or 404 when this user has no such subscription
 *   webpush_topics;
 *     PUT     {"endpoint", "topics": [...]}  replace the followed topics
 *     POST    same                           add them
 *     DELETE  same                           remove them
 *             200 {"id", "topics": [...the resulting set]}, or 404
 *
 * Each request is ONE SQL statement (CTEs for the multi-table writes): it
 * is atomic without an explicit transaction and costs one round trip, so
 * a failure never leaves half of it written.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "json_util.h"
#include "subscription.h"

#include "ngx_http_webpush.h"


/* The User-Agent kept with a subscription: for humans, so bounded. */
#define NGX_HTTP_WEBPUSH_UA_MAX  512


static void ngx_http_webpush_subscribe_body(ngx_http_request_t *r);
static void ngx_http_webpush_subscribe_done(void *data, PGresult *res,
    ngx_int_t rc);
static ngx_int_t ngx_http_webpush_unsubscribe_arg(ngx_http_request_t *r);
static void ngx_http_webpush_unsubscribe_body(ngx_http_request_t *r);
static ngx_int_t ngx_http_webpush_unsubscribe(ngx_http_request_t *r,
    ngx_str_t *endpoint);
static void ngx_http_webpush_unsubscribe_done(void *data, PGresult *res,
    ngx_int_t rc);
static void ngx_http_webpush_topics_body(ngx_http_request_t *r);
static void ngx_http_webpush_topics_done(void *data, PGresult *res,
    ngx_int_t rc);

static ngx_int_t ngx_http_webpush_query(ngx_http_request_t *r,
    const char *sql, ngx_uint_t nparams, const char *const *values,
    ngx_http_webpush_pg_done_pt done);
static ngx_int_t ngx_http_webpush_pg_failed(ngx_http_request_t *r,
    PGresult *res, ngx_int_t rc);
static char *ngx_http_webpush_pg_array(ngx_pool_t *pool, char **items,
    size_t n);
static char *ngx_http_webpush_user_agent(ngx_http_request_t *r);
static ngx_int_t ngx_http_webpush_endpoint_member(ngx_http_request_t *r,
    yajl_val root, ngx_str_t *endpoint);


/*
 * Upsert keyed by endpoint.  $1 userId, $2 endpoint, $3 p256dh, $4 auth,
 * $5 ua, $6 whether topics were given, $7 the topics (text[]).
 *
 * - "old" is the row before (the statement's snapshot): when the endpoint
 *   moves to another user, the previous user's topics go unless new ones
 *   are given (they are that user's interests, not the browser's);
 * - "xmax = 0" is true for a freshly inserted row, false for an updated
 *   one: 201 versus 200;
 * - the topic rows referencing a just-inserted subscription pass the
 *   foreign key check, which runs at the end of the statement;
 * - "clr": new keys for a known endpoint are a new subscription, so a
 *   "made with another VAPID key" flag (sql/003) goes; the same keys
 *   posted again keep it.
 */
static const char  ngx_http_webpush_subscribe_sql[] =
    "WITH old AS ("
    " SELECT \"userId\", \"p256dh\" FROM \"PushSubscription\""
    " WHERE \"endpoint\" = $2),"
    " up AS ("
    " INSERT INTO \"PushSubscription\" AS s"
    " (\"userId\", \"endpoint\", \"p256dh\", \"auth\", \"ua\", \"enabled\","
    " \"lastSeenAt\")"
    " VALUES ($1, $2, $3, $4, $5, true, CURRENT_TIMESTAMP)"
    " ON CONFLICT (\"endpoint\") DO UPDATE SET"
    " \"userId\" = EXCLUDED.\"userId\", \"p256dh\" = EXCLUDED.\"p256dh\","
    " \"auth\" = EXCLUDED.\"auth\", \"ua\" = EXCLUDED.\"ua\","
    " \"enabled\" = true, \"lastSeenAt\" = CURRENT_TIMESTAMP"
    " RETURNING s.\"id\", (s.xmax = 0) AS created),"
    " del AS ("
    " DELETE FROM \"PushSubscriptionTopic\" t USING up"
    " WHERE t.\"subscriptionId\" = up.\"id\""
    " AND ($6::boolean"
    " OR EXISTS (SELECT 1 FROM old WHERE old.\"userId\" <> $1))"
    " AND NOT (t.\"topic\" = ANY ($7::text[]))),"
    " ins AS ("
    " INSERT INTO \"PushSubscriptionTopic\" (\"subscriptionId\", \"topic\")"
    " SELECT DISTINCT up.\"id\", x FROM up, unnest($7::text[]) AS x"
    " ON CONFLICT DO NOTHING),"
    " clr AS ("
    " DELETE FROM \"PushSubscriptionKeyMismatch\" k USING up, old"
    " WHERE k.\"subscriptionId\" = up.\"id\" AND old.\"p256dh\" <> $3)"
    " SELECT \"id\", created FROM up";

/* Only the caller's own row; its topics go with it (ON DELETE CASCADE). */
static const char  ngx_http_webpush_unsubscribe_sql[] =
    "DELETE FROM \"PushSubscription\""
    " WHERE \"endpoint\" = $1 AND \"userId\" = $2 RETURNING \"id\"";

/*
 * Topics: $1 endpoint, $2 userId, $3 topics (text[]).  The final SELECT
 * sees the statement's snapshot, so the resulting set is computed as
 * (before - deleted) + inserted.  "fits" keeps a POST (add) from growing
 * the set past WP_SUB_MAX_TOPICS: then nothing is inserted and the third
 * column says so.
 */
#define NGX_HTTP_WEBPUSH_STR(x)   NGX_HTTP_WEBPUSH_STR2(x)
#define NGX_HTTP_WEBPUSH_STR2(x)  #x

#define NGX_HTTP_WEBPUSH_TOPICS_SUB                                          \
    "WITH s AS (SELECT \"id\" FROM \"PushSubscription\""                     \
    " WHERE \"endpoint\" = $1 AND \"userId\" = $2),"

#define NGX_HTTP_WEBPUSH_TOPICS_RESULT                                       \
    " SELECT s.\"id\", COALESCE((SELECT array_to_json(array_agg(z.\"topic\"" \
    " ORDER BY z.\"topic\")) FROM (SELECT \"topic\""                         \
    " FROM \"PushSubscriptionTopic\" WHERE \"subscriptionId\" = s.\"id\""    \
    " EXCEPT SELECT \"topic\" FROM del"                                      \
    " UNION SELECT \"topic\" FROM ins) z), '[]'),"                           \
    " (SELECT ok FROM fits) FROM s"

#define NGX_HTTP_WEBPUSH_TOPICS_INS                                          \
    " ins AS (INSERT INTO \"PushSubscriptionTopic\""                         \
    " (\"subscriptionId\", \"topic\")"                                       \
    " SELECT DISTINCT s.\"id\", x FROM s, fits, unnest($3::text[]) AS x"     \
    " WHERE fits.ok ON CONFLICT DO NOTHING RETURNING \"topic\")"

#define NGX_HTTP_WEBPUSH_TOPICS_FIT                                          \
    " fits AS (SELECT true AS ok),"

static const char  ngx_http_webpush_topics_put_sql[] =
    NGX_HTTP_WEBPUSH_TOPICS_SUB
    NGX_HTTP_WEBPUSH_TOPICS_FIT
    " del AS (DELETE FROM \"PushSubscriptionTopic\" t USING s"
    " WHERE t.\"subscriptionId\" = s.\"id\""
    " AND NOT (t.\"topic\" = ANY ($3::text[])) RETURNING t.\"topic\"),"
    NGX_HTTP_WEBPUSH_TOPICS_INS
    NGX_HTTP_WEBPUSH_TOPICS_RESULT;

static const char  ngx_http_webpush_topics_post_sql[] =
    NGX_HTTP_WEBPUSH_TOPICS_SUB
    " fits AS (SELECT count(*) <= "
    NGX_HTTP_WEBPUSH_STR(WP_SUB_MAX_TOPICS) " AS ok FROM ("
    " SELECT t.\"topic\" FROM \"PushSubscriptionTopic\" t, s"
    " WHERE t.\"subscriptionId\" = s.\"id\""
    " UNION SELECT unnest($3::text[])) z),"
    " del AS (SELECT NULL::text AS \"topic\" WHERE false),"
    NGX_HTTP_WEBPUSH_TOPICS_INS
    NGX_HTTP_WEBPUSH_TOPICS_RESULT;

static const char  ngx_http_webpush_topics_delete_sql[] =
    NGX_HTTP_WEBPUSH_TOPICS_SUB
    NGX_HTTP_WEBPUSH_TOPICS_FIT
    " del AS (DELETE FROM \"PushSubscriptionTopic\" t USING s"
    " WHERE t.\"subscriptionId\" = s.\"id\""
    " AND t.\"topic\" = ANY ($3::text[]) RETURNING t.\"topic\"),"
    " ins AS (SELECT NULL::text AS \"topic\" WHERE false)"
    NGX_HTTP_WEBPUSH_TOPICS_RESULT;


/* webpush_subscribe */


ngx_int_t
ngx_http_webpush_subscribe_handler(ngx_http_request_t *r)
{
    ngx_int_t                rc;
    ngx_http_webpush_ctx_t  *ctx;

    ctx = ngx_http_webpush_get_ctx(r);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_http_webpush_auth(r, ctx, 0);
    if (rc != NGX_DECLINED) {
        return rc;
    }

    if (r->method == NGX_HTTP_DELETE) {

        if (r->headers_in.content_length_n <= 0 && !r->headers_in.chunked
            && r->args.len)
        {
            return ngx_http_webpush_unsubscribe_arg(r);
        }

        return ngx_http_webpush_read_json_body(r, ctx, WP_SUB_MAX_BODY,
                                            ngx_http_webpush_unsubscribe_body);
    }

    return ngx_http_webpush_read_json_body(r, ctx, WP_SUB_MAX_BODY,
                                           ngx_http_webpush_subscribe_body);
}


static void
ngx_http_webpush_subscribe_body(ngx_http_request_t *r)
{
    char                          *topics, *ua;
    int64_t                        now_ms;
    wp_err_t                       err;
    ngx_int_t                      rc;
    ngx_time_t                    *tp;
    const char                    *values[7];
    wp_subscription_t              sub;
    ngx_http_webpush_ctx_t        *ctx;
    ngx_http_webpush_main_conf_t  *wmcf;

    ctx = ngx_http_get_module_ctx(r, ngx_http_webpush_module);
    wmcf = ngx_http_get_module_main_conf(r, ngx_http_webpush_module);

    tp = ngx_timeofday();
    now_ms = (int64_t) tp->sec * 1000 + tp->msec;

    if (wp_subscription_parse((const char *) ctx->body.data, ctx->body.len,
                              wmcf->endpoint_policy, now_ms, &sub, &err)
        != 0)
    {
        ngx_http_finalize_request(r, ngx_http_webpush_send_invalid(r, &err));
        return;
    }

    /* lib/ allocated with malloc: copy what the query needs, then free */

    topics = ngx_http_webpush_pg_array(r->pool, sub.topics, sub.ntopics);
    ua = ngx_http_webpush_user_agent(r);

    if (topics == NULL || ua == NULL) {
        wp_subscription_free(&sub);
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    values[1] = sub.endpoint;
    values[2] = sub.p256dh;
    values[3] = sub.auth;
    values[4] = ua[0] ? ua : NULL;
    values[5] = sub.has_topics ? "true" : "false";
    values[6] = topics;

    /* user ids are not NUL-terminated in ctx: terminate a copy */
    values[0] = (const char *) ngx_pnalloc(r->pool, ctx->user.len + 1);
    if (values[0] == NULL) {
        wp_subscription_free(&sub);
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_cpystrn((u_char *) values[0], ctx->user.data, ctx->user.len + 1);

    /* the pg layer copies the parameters */
    rc = ngx_http_webpush_query(r, ngx_http_webpush_subscribe_sql, 7, values,
                                ngx_http_webpush_subscribe_done);

    wp_subscription_free(&sub);

    if (rc != NGX_DECLINED) {
        ngx_http_finalize_request(r, rc);
    }
}


static void
ngx_http_webpush_subscribe_done(void *data, PGresult *res, ngx_int_t rc)
{
    ngx_http_request_t *r = data;

    u_char      *p, *body;
    size_t       len;
    ngx_str_t    id;
    ngx_uint_t   created;

    if (rc != NGX_OK || PQresultStatus(res) != PGRES_TUPLES_OK
        || PQntuples(res) != 1)
    {
        ngx_http_finalize_request(r,
                                  ngx_http_webpush_pg_failed(r, res, rc));
        return;
    }

    id.data = (u_char *) PQgetvalue(res, 0, 0);
    id.len = PQgetlength(res, 0, 0);
    created = (PQgetvalue(res, 0, 1)[0] == 't');

    len = sizeof("{\"id\":\"\",\"created\":false}") - 1
          + id.len + ngx_escape_json(NULL, id.data, id.len);

    body = ngx_pnalloc(r->pool, len);
    if (body == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    p = ngx_cpymem(body, "{\"id\":\"", sizeof("{\"id\":\"") - 1);
    p = (u_char *) ngx_escape_json(p, id.data, id.len);
    p = created ? ngx_cpymem(p, "\",\"created\":true}",
                             sizeof("\",\"created\":true}") - 1)
                : ngx_cpymem(p, "\",\"created\":false}",
                             sizeof("\",\"created\":false}") - 1);

    ngx_http_finalize_request(r,
        ngx_http_webpush_send_json(r, created ? NGX_HTTP_CREATED : NGX_HTTP_OK,
                                   body, p - body, NULL));
}


/* DELETE ?endpoint=URL (percent-encoded) without a body. */

static ngx_int_t
ngx_http_webpush_unsubscribe_arg(ngx_http_request_t *r)
{
    u_char     *dst, *src;
    wp_err_t    err;
    ngx_int_t   rc;
    ngx_str_t   arg, endpoint;

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    if (ngx_http_arg(r, (u_char *) "endpoint", sizeof("endpoint") - 1, &arg)
        != NGX_OK)
    {
        (void) wp_err_set(&err, WP_E_MISSING_FIELD, "endpoint",
                          "endpoint: required, in a JSON body or as "
                          "?endpoint=");
        return ngx_http_webpush_send_invalid(r, &err);
    }

    endpoint.data = ngx_pnalloc(r->pool, arg.len + 1);
    if (endpoint.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    dst = endpoint.data;
    src = arg.data;
    ngx_unescape_uri(&dst, &src, arg.len, 0);
    *dst = '\0';
    endpoint.len = dst - endpoint.data;

    /* refuses control characters (a decoded %00 too) and non-ASCII */
    if (wp_url_parse((const char *) endpoint.data, endpoint.len, NULL, &err)
        != 0)
    {
        return ngx_http_webpush_send_invalid(r, &err);
    }

    rc = ngx_http_webpush_unsubscribe(r, &endpoint);
    if (rc != NGX_DECLINED) {
        return rc;
    }

    /* the query's callback finalizes */
    r->main->count++;

    return NGX_DONE;
}


static void
ngx_http_webpush_unsubscribe_body(ngx_http_request_t *r)
{
    wp_err_t                 err;
    yajl_val                 root;
    ngx_int_t                rc;
    ngx_str_t                endpoint;
    ngx_http_webpush_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_webpush_module);

    if (wp_json_parse((const char *) ctx->body.data, ctx->body.len, NULL,
                      &root, "", &err)
        != 0)
    {
        ngx_http_finalize_request(r, ngx_http_webpush_send_invalid(r, &err));
        return;
    }

    rc = ngx_http_webpush_endpoint_member(r, root, &endpoint);

    wp_json_free(root);

    if (rc == NGX_DECLINED) {
        rc = ngx_http_webpush_unsubscribe(r, &endpoint);
    }

    if (rc != NGX_DECLINED) {
        ngx_http_finalize_request(r, rc);
    }
}


/* Issue the DELETE: NGX_DECLINED (the callback follows) or a response. */

static ngx_int_t
ngx_http_webpush_unsubscribe(ngx_http_request_t *r, ngx_str_t *endpoint)
{
    u_char                  *user;
    const char              *values[2];
    ngx_http_webpush_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_webpush_module);

    user = ngx_pnalloc(r->pool, ctx->user.len + 1);
    if (user == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_cpystrn(user, ctx->user.data, ctx->user.len + 1);

    values[0] = (const char *) endpoint->data;
    values[1] = (const char *) user;

    return ngx_http_webpush_query(r, ngx_http_webpush_unsubscribe_sql, 2,
                                  values, ngx_http_webpush_unsubscribe_done);
}


static void
ngx_http_webpush_unsubscribe_done(void *data, PGresult *res, ngx_int_t rc)
{
    ngx_http_request_t *r = data;

    if (rc != NGX_OK || PQresultStatus(res) != PGRES_TUPLES_OK) {
        ngx_http_finalize_request(r,
                                  ngx_http_webpush_pg_failed(r, res, rc));
        return;
    }

    if (PQntuples(res) == 0) {
        ngx_http_finalize_request(r,
            ngx_http_webpush_send_error(r, NGX_HTTP_NOT_FOUND, "not_found",
                                        "no subscription with this "
                                        "endpoint for this user"));
        return;
    }

    ngx_http_finalize_request(r,
        ngx_http_webpush_send_json(r, NGX_HTTP_NO_CONTENT, NULL, 0, NULL));
}


/* webpush_topics */


ngx_int_t
ngx_http_webpush_topics_handler(ngx_http_request_t *r)
{
    ngx_int_t                rc;
    ngx_http_webpush_ctx_t  *ctx;

    ctx = ngx_http_webpush_get_ctx(r);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_http_webpush_auth(r, ctx, 0);
    if (rc != NGX_DECLINED) {
        return rc;
    }

    return ngx_http_webpush_read_json_body(r, ctx, WP_SUB_MAX_BODY,
                                           ngx_http_webpush_topics_body);
}


static void
ngx_http_webpush_topics_body(ngx_http_request_t *r)
{
    char                    *array, **topics;
    u_char                  *user;
    size_t                   i, n;
    wp_err_t                 err;
    yajl_val                 root, v, t;
    ngx_int_t                rc;
    ngx_str_t                endpoint;
    const char              *sql, *key, *values[3];
    ngx_http_webpush_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_webpush_module);

    if (wp_json_parse((const char *) ctx->body.data, ctx->body.len, NULL,
                      &root, "", &err)
        != 0)
    {
        ngx_http_finalize_request(r, ngx_http_webpush_send_invalid(r, &err));
        return;
    }

    rc = ngx_http_webpush_endpoint_member(r, root, &endpoint);
    if (rc != NGX_DECLINED) {
        goto done;
    }

    /* our own document: a misspelt member is an error, not ignored */
    for (i = 0; i < root->u.object.len; i++) {
        key = root->u.object.keys[i];

        if (ngx_strcmp(key, "endpoint") != 0
            && ngx_strcmp(key, "topics") != 0)
        {
            (void) wp_err_set(&err, WP_E_UNKNOWN_FIELD, key,
                              "%.64s: unknown field", key);
            rc = ngx_http_webpush_send_invalid(r, &err);
            goto done;
        }
    }

    v = wp_json_get(root, "topics");

    if (v == NULL) {
        (void) wp_err_set(&err, WP_E_MISSING_FIELD, "topics",
                          "topics: required");
        rc = ngx_http_webpush_send_invalid(r, &err);
        goto done;
    }

    if (!YAJL_IS_ARRAY(v)) {
        (void) wp_err_set(&err, WP_E_BAD_TYPE, "topics",
                          "topics: expected an array of strings, got %s",
                          wp_json_type_name(v));
        rc = ngx_http_webpush_send_invalid(r, &err);
        goto done;
    }

    n = v->u.array.len;

    if (n > WP_SUB_MAX_TOPICS) {
        (void) wp_err_set(&err, WP_E_TOO_MANY, "topics",
                          "topics: at most %d", WP_SUB_MAX_TOPICS);
        rc = ngx_http_webpush_send_invalid(r, &err);
        goto done;
    }

    topics = ngx_palloc(r->pool, (n + 1) * sizeof(char *));
    if (topics == NULL) {
        rc = NGX_HTTP_INTERNAL_SERVER_ERROR;
        goto done;
    }

    for (i = 0; i < n; i++) {
        char  field[32];

        t = v->u.array.values[i];
        ngx_sprintf((u_char *) field, "topics[%uz]%Z", i);

        if (!YAJL_IS_STRING(t)) {
            (void) wp_err_set(&err, WP_E_BAD_TYPE, field,
                              "%s: expected a string, got %s", field,
                              wp_json_type_name(t));
            rc = ngx_http_webpush_send_invalid(r, &err);
            goto done;
        }

        if (wp_topic_name_check(t->u.string, ngx_strlen(t->u.string), field,
                                &err)
            != 0)
        {
            rc = ngx_http_webpush_send_invalid(r, &err);
            goto done;
        }

        topics[i] = t->u.string;
    }

    array = ngx_http_webpush_pg_array(r->pool, topics, n);
    user = ngx_pnalloc(r->pool, ctx->user.len + 1);

    if (array == NULL || user == NULL) {
        rc = NGX_HTTP_INTERNAL_SERVER_ERROR;
        goto done;
    }

    ngx_cpystrn(user, ctx->user.data, ctx->user.len + 1);

    switch (r->method) {

    case NGX_HTTP_PUT:
        sql = ngx_http_webpush_topics_put_sql;
        break;

    case NGX_HTTP_POST:
        sql = ngx_http_webpush_topics_post_sql;
        break;

    default: /* NGX_HTTP_DELETE */
        sql = ngx_http_webpush_topics_delete_sql;
        break;
    }

    values[0] = (const char *) endpoint.data;
    values[1] = (const char *) user;
    values[2] = array;

    rc = ngx_http_webpush_query(r, sql, 3, values,
                                ngx_http_webpush_topics_done);

done:

    wp_json_free(root);

    if (rc != NGX_DECLINED) {
        ngx_http_finalize_request(r, rc);
    }
}


static void
ngx_http_webpush_topics_done(void *data, PGresult *res, ngx_int_t rc)
{
    ngx_http_request_t *r = data;

    u_char     *p, *body;
    size_t      len;
    ngx_str_t   id, topics;

    if (rc != NGX_OK || PQresultStatus(res) != PGRES_TUPLES_OK) {
        ngx_http_finalize_request(r,
                                  ngx_http_webpush_pg_failed(r, res, rc));
        return;
    }

    if (PQntuples(res) == 0) {
        ngx_http_finalize_request(r,
            ngx_http_webpush_send_error(r, NGX_HTTP_NOT_FOUND, "not_found",
                                        "no subscription with this "
                                        "endpoint for this user"));
        return;
    }

    if (PQgetvalue(res, 0, 2)[0] != 't') {
        ngx_http_finalize_request(r,
            ngx_http_webpush_send_error(r, 422, WP_E_TOO_MANY,
                                        "topics: a subscription follows at "
                                        "most %d topics",
                                        WP_SUB_MAX_TOPICS));
        return;
    }

    id.data = (u_char *) PQgetvalue(res, 0, 0);
    id.len = PQgetlength(res, 0, 0);

    /* array_to_json of validated topic names: compact JSON already */
    topics.data = (u_char *) PQgetvalue(res, 0, 1);
    topics.len = PQgetlength(res, 0, 1);

    len = sizeof("{\"id\":\"\",\"topics\":}") - 1
          + id.len + ngx_escape_json(NULL, id.data, id.len) + topics.len;

    body = ngx_pnalloc(r->pool, len);
    if (body == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    p = ngx_cpymem(body, "{\"id\":\"", sizeof("{\"id\":\"") - 1);
    p = (u_char *) ngx_escape_json(p, id.data, id.len);
    p = ngx_cpymem(p, "\",\"topics\":", sizeof("\",\"topics\":") - 1);
    p = ngx_cpymem(p, topics.data, topics.len);
    *p++ = '}';

    ngx_http_finalize_request(r,
        ngx_http_webpush_send_json(r, NGX_HTTP_OK, body, p - body, NULL));
}


/* Helpers */


/*
 * Issue a query owned by the request.  Returns NGX_DECLINED (done
 * follows), or what the 503 already sent returned: finalize with it.
 * (NGX_DECLINED is the one value a response writer never returns.)
 */

static ngx_int_t
ngx_http_webpush_query(ngx_http_request_t *r, const char *sql,
    ngx_uint_t nparams, const char *const *values,
    ngx_http_webpush_pg_done_pt done)
{
    if (ngx_http_webpush_pg_query(r->pool, r->connection->log, sql, nparams,
                                  values, done, r)
        != NGX_OK)
    {
        ngx_http_webpush_metrics_upstream(
                                        NGX_HTTP_WEBPUSH_UPSTREAM_PG_ERROR);

        return ngx_http_webpush_send_unavailable(r, "database_unavailable",
                                                 "the database is not "
                                                 "available");
    }

    return NGX_DECLINED;
}


/*
 * A query that did not give the expected result.  The layer's NGX_BUSY
 * and NGX_ERROR and connection-class SQL states are the database's
 * trouble, not the client's: 503 with Retry-After.  Anything else is our
 * bug or a schema problem: 500, logged with the SQL state and the primary
 * message only (the DETAIL line may quote row values).
 */

static ngx_int_t
ngx_http_webpush_pg_failed(ngx_http_request_t *r, PGresult *res,
    ngx_int_t rc)
{
    char  *state, *primary;

    if (rc == NGX_BUSY) {
        ngx_http_webpush_metrics_upstream(NGX_HTTP_WEBPUSH_UPSTREAM_PG_BUSY);
        return ngx_http_webpush_send_unavailable(r, "database_busy",
                                                 "the database is "
                                                 "overloaded, try again");
    }

    if (rc != NGX_OK || res == NULL) {
        ngx_http_webpush_metrics_upstream(
                                        NGX_HTTP_WEBPUSH_UPSTREAM_PG_ERROR);
        return ngx_http_webpush_send_unavailable(r, "database_unavailable",
                                                 "the database is not "
                                                 "available");
    }

    state = PQresultErrorField(res, PG_DIAG_SQLSTATE);

    ngx_http_webpush_metrics_upstream(NGX_HTTP_WEBPUSH_UPSTREAM_PG_ERROR);

    if (state && (ngx_strncmp(state, "08", 2) == 0
                  || ngx_strncmp(state, "53", 2) == 0
                  || ngx_strncmp(state, "57", 2) == 0
                  || ngx_strncmp(state, "40", 2) == 0))
    {
        return ngx_http_webpush_send_unavailable(r, "database_unavailable",
                                                 "the database is not "
                                                 "available");
    }

    primary = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);

    ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                  "webpush: query failed: %s %s: %s",
                  PQresStatus(PQresultStatus(res)), state ? state : "-",
                  primary ? primary : "(no message)");

    return ngx_http_webpush_send_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                       "internal_error",
                                       "the request could not be stored");
}


/*
 * A text[] literal: {"a","b"}.  Items are validated topic names
 * ([A-Za-z0-9:_.-]), so quoting needs no escapes.
 */

static char *
ngx_http_webpush_pg_array(ngx_pool_t *pool, char **items, size_t n)
{
    u_char  *p, *s;
    size_t   i, len;

    len = sizeof("{}");

    for (i = 0; i < n; i++) {
        len += ngx_strlen(items[i]) + sizeof("\"\",") - 1;
    }

    s = ngx_pnalloc(pool, len);
    if (s == NULL) {
        return NULL;
    }

    p = s;
    *p++ = '{';

    for (i = 0; i < n; i++) {
        p = ngx_sprintf(p, "%s\"%s\"", i ? "," : "", items[i]);
    }

    *p++ = '}';
    *p = '\0';

    return (char *) s;
}


/*
 * The User-Agent for the "ua" column: printable ASCII only (a header may
 * carry any byte >= 0x80, which PostgreSQL would refuse as bad UTF-8),
 * at most NGX_HTTP_WEBPUSH_UA_MAX bytes.  "" when absent.
 */

static char *
ngx_http_webpush_user_agent(ngx_http_request_t *r)
{
    u_char  *s, *p, *q, *last;

    if (r->headers_in.user_agent == NULL) {
        return "";
    }

    q = r->headers_in.user_agent->value.data;
    last = q + ngx_min(r->headers_in.user_agent->value.len,
                       NGX_HTTP_WEBPUSH_UA_MAX);

    s = ngx_pnalloc(r->pool, last - q + 1);
    if (s == NULL) {
        return NULL;
    }

    for (p = s; q < last; q++) {
        *p++ = (*q >= 0x20 && *q < 0x7f) ? *q : '?';
    }

    *p = '\0';

    return (char *) s;
}


/*
 * The "endpoint" member of a body object, NUL-terminated in r->pool.
 * Well-formedness is checked (a typo answers 422, not 404); the
 * allow-list is not: a subscription stored under an older list can
 * still be removed.  Returns NGX_DECLINED, or what the error response
 * returned.
 */

static ngx_int_t
ngx_http_webpush_endpoint_member(ngx_http_request_t *r, yajl_val root,
    ngx_str_t *endpoint)
{
    size_t     len;
    wp_err_t   err;
    yajl_val   v;

    if (!YAJL_IS_OBJECT(root)) {
        (void) wp_err_set(&err, WP_E_BAD_JSON, "",
                          "the body must be a JSON object");
        return ngx_http_webpush_send_invalid(r, &err);
    }

    v = wp_json_get(root, "endpoint");

    if (v == NULL) {
        (void) wp_err_set(&err, WP_E_MISSING_FIELD, "endpoint",
                          "endpoint: required");
        return ngx_http_webpush_send_invalid(r, &err);
    }

    if (!YAJL_IS_STRING(v)) {
        (void) wp_err_set(&err, WP_E_BAD_TYPE, "endpoint",
                          "endpoint: expected a string, got %s",
                          wp_json_type_name(v));
        return ngx_http_webpush_send_invalid(r, &err);
    }

    len = ngx_strlen(v->u.string);

    if (wp_url_parse(v->u.string, len, NULL, &err) != 0) {
        return ngx_http_webpush_send_invalid(r, &err);
    }

    endpoint->data = ngx_pnalloc(r->pool, len + 1);
    if (endpoint->data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_memcpy(endpoint->data, v->u.string, len + 1);
    endpoint->len = len;

    return NGX_DECLINED;
}
