/* webpush-sender: keyset-paginated audience queries (see audience.h). */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_gen.h>

#include "audience.h"
#include "db.h"


#define WP_AUD_COLUMNS \
    "s.\"id\", s.\"endpoint\", s.\"p256dh\", s.\"auth\""

/* Enabled, and not made with another VAPID key (sql/003_key_mismatch). */
#define WP_AUD_USABLE \
    " s.\"enabled\" AND NOT EXISTS (SELECT 1 FROM" \
    " \"PushSubscriptionKeyMismatch\" k WHERE k.\"subscriptionId\" = s.\"id\")"

/* A shard's upper bound (audience.h: hi), none when NULL. */
#define WP_AUD_UPTO(col)  " AND ($4::text IS NULL OR " col " <= $4)"

static const char  wp_aud_user_sql[] =
    "SELECT " WP_AUD_COLUMNS " FROM \"PushSubscription\" s"
    " WHERE" WP_AUD_USABLE " AND s.\"userId\" = $1 AND s.\"id\" > $2"
    WP_AUD_UPTO("s.\"id\"") " ORDER BY s.\"id\" LIMIT $3";

static const char  wp_aud_users_sql[] =
    "SELECT " WP_AUD_COLUMNS " FROM \"PushSubscription\" s"
    " WHERE" WP_AUD_USABLE
    " AND s.\"userId\" IN (SELECT jsonb_array_elements_text($1::jsonb))"
    " AND s.\"id\" > $2" WP_AUD_UPTO("s.\"id\"")
    " ORDER BY s.\"id\" LIMIT $3";

static const char  wp_aud_topic_sql[] =
    "SELECT " WP_AUD_COLUMNS " FROM \"PushSubscriptionTopic\" t"
    " JOIN \"PushSubscription\" s ON s.\"id\" = t.\"subscriptionId\""
    " WHERE t.\"topic\" = $1 AND" WP_AUD_USABLE
    " AND t.\"subscriptionId\" > $2" WP_AUD_UPTO("t.\"subscriptionId\"")
    " ORDER BY t.\"subscriptionId\" LIMIT $3";

static const char  wp_aud_all_sql[] =
    "SELECT " WP_AUD_COLUMNS " FROM \"PushSubscription\" s"
    " WHERE" WP_AUD_USABLE " AND $1::text IS NULL AND s.\"id\" > $2"
    WP_AUD_UPTO("s.\"id\"") " ORDER BY s.\"id\" LIMIT $3";


/* The userIds target as a JSON array, for jsonb_array_elements_text(). */
static char *
wp_audience_ids_json(const char *const *ids, size_t nids)
{
    size_t                i, len;
    char                 *out;
    yajl_gen              g;
    const unsigned char  *buf;

    g = yajl_gen_alloc(NULL);
    if (g == NULL) {
        return NULL;
    }

    out = NULL;

    if (yajl_gen_array_open(g) != yajl_gen_status_ok) {
        goto done;
    }

    for (i = 0; i < nids; i++) {
        if (yajl_gen_string(g, (const unsigned char *) ids[i],
                            strlen(ids[i])) != yajl_gen_status_ok)
        {
            goto done;
        }
    }

    if (yajl_gen_array_close(g) != yajl_gen_status_ok
        || yajl_gen_get_buf(g, &buf, &len) != yajl_gen_status_ok)
    {
        goto done;
    }

    out = malloc(len + 1);
    if (out) {
        memcpy(out, buf, len);
        out[len] = '\0';
    }

done:

    yajl_gen_free(g);

    return out;
}


int
wp_audience_init(wp_audience_t *a, PGconn *conn, const wp_send_req_t *req,
    int page_size, const char *after, char *err, size_t errlen)
{
    memset(a, 0, sizeof(*a));

    a->conn = conn;
    a->req = req;
    a->page_size = page_size;

    if (strlen(after) > WP_AUDIENCE_ID_MAX) {
        snprintf(err, errlen, "checkpoint id too long");
        return -1;
    }

    snprintf(a->after, sizeof(a->after), "%s", after);

    if (req->to == WP_SEND_TO_USERS) {
        a->user_ids_json = wp_audience_ids_json(
                               (const char *const *) req->user_ids,
                               req->n_user_ids);
        if (a->user_ids_json == NULL) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
    }

    return 0;
}


int
wp_audience_next(wp_audience_t *a, char *err, size_t errlen)
{
    int          rc;
    char         limit[16];
    const char  *sql, *params[4];

    if (a->page) {
        PQclear(a->page);
        a->page = NULL;
    }

    switch (a->req->to) {
    case WP_SEND_TO_USER:
        sql = wp_aud_user_sql;
        params[0] = a->req->user_ids[0];
        break;
    case WP_SEND_TO_USERS:
        sql = wp_aud_users_sql;
        params[0] = a->user_ids_json;
        break;
    case WP_SEND_TO_TOPIC:
        sql = wp_aud_topic_sql;
        params[0] = a->req->to_topic;
        break;
    default:
        sql = wp_aud_all_sql;
        params[0] = NULL;
        break;
    }

    snprintf(limit, sizeof(limit), "%d", a->page_size);
    params[1] = a->after;
    params[2] = limit;
    params[3] = a->hi != NULL && a->hi[0] != '\0' ? a->hi : NULL;

    rc = wp_db_exec(a->conn, sql, 4, params, &a->page, err, errlen);
    if (rc != WP_DB_OK) {
        if (a->page) {
            PQclear(a->page);
            a->page = NULL;
        }
        return -1;
    }

    return PQntuples(a->page);
}


void
wp_audience_done_page(wp_audience_t *a)
{
    int  n;

    n = a->page ? PQntuples(a->page) : 0;

    if (n > 0) {
        snprintf(a->after, sizeof(a->after), "%s",
                 PQgetvalue(a->page, n - 1, WP_AUD_ID));
    }
}


PGresult *
wp_audience_take_page(wp_audience_t *a)
{
    PGresult  *page;

    wp_audience_done_page(a);
    page = a->page;
    a->page = NULL;

    return page;
}


void
wp_audience_free(wp_audience_t *a)
{
    if (a->page) {
        PQclear(a->page);
        a->page = NULL;
    }

    free(a->user_ids_json);
    a->user_ids_json = NULL;
}


static const char  wp_aud_ids_sql[] =
    "SELECT " WP_AUD_COLUMNS " FROM \"PushSubscription\" s"
    " WHERE" WP_AUD_USABLE
    " AND s.\"id\" IN (SELECT jsonb_array_elements_text($1::jsonb))";


int
wp_audience_by_ids(PGconn *conn, const char *const *ids, size_t n,
    PGresult **res, char *err, size_t errlen)
{
    int          rc;
    char        *json;
    const char  *params[1];

    *res = NULL;

    json = wp_audience_ids_json(ids, n);
    if (json == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }

    params[0] = json;
    rc = wp_db_exec(conn, wp_aud_ids_sql, 1, params, res, err, errlen);
    free(json);

    if (rc != WP_DB_OK) {
        if (*res) {
            PQclear(*res);
            *res = NULL;
        }
        return -1;
    }

    return PQntuples(*res);
}


static const char  wp_aud_topic_size_sql[] =
    "SELECT count(*) FROM (SELECT 1 FROM \"PushSubscriptionTopic\" t"
    " JOIN \"PushSubscription\" s ON s.\"id\" = t.\"subscriptionId\""
    " WHERE t.\"topic\" = $1 AND" WP_AUD_USABLE " LIMIT $2) n";


int64_t
wp_audience_topic_size(PGconn *conn, const char *topic, int64_t limit,
    char *err, size_t errlen)
{
    int64_t      n;
    char         lim[24];
    PGresult    *res;
    const char  *params[2];

    snprintf(lim, sizeof(lim), "%lld", (long long) limit + 1);
    params[0] = topic;
    params[1] = lim;
    res = NULL;

    if (wp_db_exec(conn, wp_aud_topic_size_sql, 2, params, &res, err, errlen)
        != WP_DB_OK || PQntuples(res) != 1)
    {
        if (res) {
            PQclear(res);
        }
        return -1;
    }

    n = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);

    return n;
}


/*
 * Every every-th id of a topic or "all" audience after `after`, but not
 * its last one (that would leave an empty shard behind it).
 */
static const char  wp_aud_bounds_topic_sql[] =
    "SELECT x.id FROM (SELECT t.\"subscriptionId\" AS id, row_number()"
    " OVER (ORDER BY t.\"subscriptionId\") AS rn, count(*) OVER () AS n"
    " FROM \"PushSubscriptionTopic\" t"
    " JOIN \"PushSubscription\" s ON s.\"id\" = t.\"subscriptionId\""
    " WHERE t.\"topic\" = $1 AND" WP_AUD_USABLE
    " AND t.\"subscriptionId\" > $2) x"
    " WHERE x.rn % $3 = 0 AND x.rn < x.n ORDER BY x.id";

static const char  wp_aud_bounds_all_sql[] =
    "SELECT x.id FROM (SELECT s.\"id\" AS id, row_number()"
    " OVER (ORDER BY s.\"id\") AS rn, count(*) OVER () AS n"
    " FROM \"PushSubscription\" s"
    " WHERE" WP_AUD_USABLE " AND $1::text IS NULL AND s.\"id\" > $2) x"
    " WHERE x.rn % $3 = 0 AND x.rn < x.n ORDER BY x.id";


int
wp_audience_bounds(PGconn *conn, const wp_send_req_t *req, const char *after,
    int64_t every, PGresult **res, char *err, size_t errlen)
{
    char         n[24];
    const char  *params[3];

    *res = NULL;

    if (req->to != WP_SEND_TO_TOPIC && req->to != WP_SEND_TO_ALL) {
        return 0;
    }

    snprintf(n, sizeof(n), "%lld", (long long) every);
    params[0] = req->to == WP_SEND_TO_TOPIC ? req->to_topic : NULL;
    params[1] = after;
    params[2] = n;

    if (wp_db_exec(conn, req->to == WP_SEND_TO_TOPIC
                         ? wp_aud_bounds_topic_sql : wp_aud_bounds_all_sql,
                   3, params, res, err, errlen) != WP_DB_OK)
    {
        if (*res) {
            PQclear(*res);
            *res = NULL;
        }
        return -1;
    }

    return PQntuples(*res);
}
