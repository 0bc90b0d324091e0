/*
 * A job's audience: its enabled subscriptions, read from PostgreSQL in
 * keyset pages ordered by id, so memory stays flat whatever the audience
 * size and a takeover can resume after the last id of a finished page.
 */

#ifndef WP_AUDIENCE_H
#define WP_AUDIENCE_H

#include <stddef.h>

#include <libpq-fe.h>

#include "sendreq.h"

#define WP_AUDIENCE_ID_MAX  128

typedef struct {
    PGconn               *conn;
    const wp_send_req_t  *req;
    int                   page_size;
    char                  after[WP_AUDIENCE_ID_MAX + 1];   /* last id done */
    const char           *hi;             /* last id to read (a shard's
                                             end); NULL: to the end */
    char                 *user_ids_json;  /* userIds target as JSON array */
    PGresult             *page;           /* current page */
} wp_audience_t;

/* Columns of a page row. */
#define WP_AUD_ID        0
#define WP_AUD_ENDPOINT  1
#define WP_AUD_P256DH    2
#define WP_AUD_AUTH      3

/*
 * Start reading req's audience after subscription id `after` ("" = from
 * the start).  Returns 0, or -1 with err set.
 */
int wp_audience_init(wp_audience_t *a, PGconn *conn, const wp_send_req_t *req,
    int page_size, const char *after, char *err, size_t errlen);

/*
 * Fetch the next page into a->page (rows with the WP_AUD_* columns).
 * Returns the number of rows, 0 at the end, -1 on a database error.  The
 * caller moves a->after forward with wp_audience_done_page().
 */
int wp_audience_next(wp_audience_t *a, char *err, size_t errlen);

/* Mark the current page finished: a->after = its last id. */
void wp_audience_done_page(wp_audience_t *a);

/*
 * The current page, finished as wp_audience_done_page() says, handed to
 * the caller (who PQclear()s it): the audience reads on while its rows
 * are still in use.  NULL when there is none.
 */
PGresult *wp_audience_take_page(wp_audience_t *a);

void wp_audience_free(wp_audience_t *a);

/*
 * The enabled subscriptions among ids (retry items), same columns; rows
 * come in no particular order.  Returns the row count or -1.
 */
int wp_audience_by_ids(PGconn *conn, const char *const *ids, size_t n,
    PGresult **res, char *err, size_t errlen);

/*
 * How many usable subscriptions topic has, counting at most limit + 1:
 * enough to tell a small topic from a big one without a full count.
 * Returns the count (<= limit + 1) or -1 with err set.
 */
int64_t wp_audience_topic_size(PGconn *conn, const char *topic,
    int64_t limit, char *err, size_t errlen);

/*
 * Shard bounds of a topic or "all" audience: every every-th usable
 * subscription id after `after`, in order (one pass over the index).
 * Returns how many (0: the audience is smaller than every, or the target
 * is not a topic or "all"), or -1 with err set.
 */
int wp_audience_bounds(PGconn *conn, const wp_send_req_t *req,
    const char *after, int64_t every, PGresult **res, char *err,
    size_t errlen);

#endif /* WP_AUDIENCE_H */
