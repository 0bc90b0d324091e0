/* Blocking libpq helpers for the cli and the sender: see db.h. */

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"


#define WP_DB_MAX_SECRETS  3

typedef struct {
    char        *secret[WP_DB_MAX_SECRETS];   /* strings to scrub from text */
    int          n;
} wp_db_secrets_t;


/* Query parameters Prisma understands and libpq rejects. */
static const char  *wp_db_prisma_params[] = {
    "connection_limit", "pool_timeout", "pgbouncer", "statement_cache_size",
    "socket_timeout", "sslaccept", NULL
};


static void wp_db_secrets_add(wp_db_secrets_t *s, const char *p, size_t len);
static void wp_db_secrets_free(wp_db_secrets_t *s);
static void wp_db_url_secrets(const char *url, wp_db_secrets_t *s);
static void wp_db_seterr(char *err, size_t errlen, wp_db_secrets_t *s,
    const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;
static int wp_db_is_uri(const char *url);
static size_t wp_db_unescape(const char *in, size_t len, char *out);
static char *wp_db_strip_prisma(const char *url, char **schema);
static char *wp_db_search_path_option(const char *options,
    const char *schema);
static void wp_db_notice(void *arg, const PGresult *res);


int
wp_db_connect(PGconn **conn, const char *url, const char *app, char *err,
    size_t errlen)
{
    int                 n, rc, has_timeout, has_app, has_options;
    char               *clean, *schema, *perr, *options, timeout[16];
    char                desc[256];
    PGconn             *c;
    const char        **keys, **vals;
    wp_db_secrets_t     secrets;
    PQconninfoOption   *opts, *o;

    *conn = NULL;
    memset(&secrets, 0, sizeof(secrets));
    clean = NULL;
    schema = NULL;
    options = NULL;
    opts = NULL;
    keys = NULL;
    vals = NULL;

    if (url == NULL || url[0] == '\0') {
        wp_db_seterr(err, errlen, NULL, "no database URL given");
        return WP_DB_CONFIG;
    }

    wp_db_url_secrets(url, &secrets);

    clean = wp_db_strip_prisma(url, &schema);
    if (clean == NULL) {
        wp_db_seterr(err, errlen, NULL, "out of memory");
        rc = WP_DB_ERROR;
        goto done;
    }

    perr = NULL;
    opts = PQconninfoParse(clean, &perr);
    if (opts == NULL) {
        wp_db_seterr(err, errlen, &secrets, "invalid database URL: %s",
                     perr ? perr : "out of memory");
        PQfreemem(perr);
        rc = WP_DB_CONFIG;
        goto done;
    }

    n = 0;
    has_timeout = 0;
    has_app = 0;
    has_options = 0;

    for (o = opts; o->keyword; o++) {
        if (o->val == NULL) {
            continue;
        }

        if (strcmp(o->keyword, "password") == 0) {
            wp_db_secrets_add(&secrets, o->val, strlen(o->val));
        }

        has_timeout |= strcmp(o->keyword, "connect_timeout") == 0;
        has_app |= strcmp(o->keyword, "application_name") == 0;
        if (strcmp(o->keyword, "options") == 0) {
            has_options = 1;
            options = wp_db_search_path_option(o->val, schema);
        }
        n++;
    }

    if (schema != NULL && !has_options) {
        options = wp_db_search_path_option(NULL, schema);
    }

    keys = calloc(n + 4, sizeof(char *));
    vals = calloc(n + 4, sizeof(char *));
    if (keys == NULL || vals == NULL
        || ((schema != NULL || has_options) && options == NULL))
    {
        wp_db_seterr(err, errlen, NULL, "out of memory");
        rc = WP_DB_ERROR;
        goto done;
    }

    n = 0;

    for (o = opts; o->keyword; o++) {
        if (o->val == NULL || strcmp(o->keyword, "options") == 0) {
            continue;
        }
        keys[n] = o->keyword;
        vals[n++] = o->val;
    }

    if (options != NULL) {
        keys[n] = "options";
        vals[n++] = options;
    }

    if (!has_timeout) {
        snprintf(timeout, sizeof(timeout), "%d", WP_DB_CONNECT_TIMEOUT);
        keys[n] = "connect_timeout";
        vals[n++] = timeout;
    }

    if (!has_app && app != NULL) {
        keys[n] = "application_name";
        vals[n++] = app;
    }

    c = PQconnectdbParams(keys, vals, 0);
    if (c == NULL) {
        wp_db_seterr(err, errlen, NULL, "out of memory");
        rc = WP_DB_ERROR;
        goto done;
    }

    if (PQstatus(c) != CONNECTION_OK) {
        wp_db_seterr(err, errlen, &secrets,
                     "cannot connect to PostgreSQL %s: %s",
                     wp_db_describe(c, desc, sizeof(desc)),
                     PQerrorMessage(c));
        PQfinish(c);
        rc = WP_DB_UNAVAIL;
        goto done;
    }

    PQsetNoticeReceiver(c, wp_db_notice, NULL);

    *conn = c;
    rc = WP_DB_OK;

done:

    free(keys);
    free(vals);
    free(options);
    free(schema);
    free(clean);
    if (opts != NULL) {
        PQconninfoFree(opts);
    }
    wp_db_secrets_free(&secrets);

    return rc;
}


int
wp_db_connect_env(PGconn **conn, const char *var, const char *app, char *err,
    size_t errlen)
{
    const char  *url;

    url = getenv(var);
    if (url == NULL || url[0] == '\0') {
        *conn = NULL;
        wp_db_seterr(err, errlen, NULL,
                     "%s is not set (e.g. %s=postgresql://USER:PASSWORD@HOST"
                     ":5432/DBNAME)", var, var);
        return WP_DB_CONFIG;
    }

    return wp_db_connect(conn, url, app, err, errlen);
}


int
wp_db_exec(PGconn *conn, const char *sql, int nparams,
    const char *const *params, PGresult **res, char *err, size_t errlen)
{
    int              rc;
    PGresult        *r;
    const char      *primary, *detail, *hint;
    ExecStatusType   st;

    if (res != NULL) {
        *res = NULL;
    }

    if (nparams == 0 && params == NULL) {
        r = PQexec(conn, sql);

    } else {
        r = PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL, 0);
    }

    if (r == NULL) {
        wp_db_seterr(err, errlen, NULL, "%s", PQerrorMessage(conn));
        return PQstatus(conn) == CONNECTION_BAD ? WP_DB_UNAVAIL : WP_DB_ERROR;
    }

    st = PQresultStatus(r);

    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK
        || st == PGRES_EMPTY_QUERY)
    {
        rc = WP_DB_OK;

    } else {
        primary = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
        detail = PQresultErrorField(r, PG_DIAG_MESSAGE_DETAIL);
        hint = PQresultErrorField(r, PG_DIAG_MESSAGE_HINT);

        if (primary != NULL) {
            wp_db_seterr(err, errlen, NULL, "%s%s%s%s%s", primary,
                         detail ? " (" : "", detail ? detail : "",
                         detail ? ")" : "", hint ? " hint: " : "");
            if (hint != NULL && err != NULL && errlen > strlen(err) + 1) {
                strncat(err, hint, errlen - strlen(err) - 1);
            }

        } else {
            wp_db_seterr(err, errlen, NULL, "%s", PQresultErrorMessage(r));
        }

        rc = PQstatus(conn) == CONNECTION_BAD ? WP_DB_UNAVAIL : WP_DB_ERROR;
    }

    if (res != NULL) {
        *res = r;

    } else {
        PQclear(r);
    }

    return rc;
}


const char *
wp_db_describe(PGconn *conn, char *buf, size_t len)
{
    const char  *user, *host, *port, *db;

    user = PQuser(conn);
    host = PQhost(conn);
    port = PQport(conn);
    db = PQdb(conn);

    snprintf(buf, len, "%s@%s:%s/%s",
             user && *user ? user : "?", host && *host ? host : "localhost",
             port && *port ? port : "5432", db && *db ? db : "?");

    return buf;
}


/*
 * Format into err as one line, with every secret replaced by "***".
 */
static void
wp_db_seterr(char *err, size_t errlen, wp_db_secrets_t *s, const char *fmt,
    ...)
{
    int       i;
    char     *p, *q, *w;
    size_t    slen;
    va_list   args;

    if (err == NULL || errlen == 0) {
        return;
    }

    va_start(args, fmt);
    vsnprintf(err, errlen, fmt, args);
    va_end(args);

    for (i = 0; s != NULL && i < s->n; i++) {
        slen = strlen(s->secret[i]);

        while ((p = strstr(err, s->secret[i])) != NULL) {
            if (slen >= 3) {
                memcpy(p, "***", 3);
                memmove(p + 3, p + slen, strlen(p + slen) + 1);

            } else {
                memset(p, '*', slen);
            }
        }
    }

    /* libpq ends messages with "\n" and continues them with "\n\t". */

    for (q = err, w = err; *q; q++) {
        if (*q == '\n' || *q == '\t' || *q == '\r') {
            if (w > err && w[-1] != ' ') {
                *w++ = ' ';
            }
            continue;
        }
        *w++ = *q;
    }

    while (w > err && w[-1] == ' ') {
        w--;
    }
    *w = '\0';
}


static void
wp_db_secrets_add(wp_db_secrets_t *s, const char *p, size_t len)
{
    char  *copy;
    int    i;

    if (len == 0 || s->n == WP_DB_MAX_SECRETS) {
        return;
    }

    for (i = 0; i < s->n; i++) {
        if (strlen(s->secret[i]) == len && memcmp(s->secret[i], p, len) == 0) {
            return;
        }
    }

    copy = strndup(p, len);
    if (copy != NULL) {
        s->secret[s->n++] = copy;
    }
}


static void
wp_db_secrets_free(wp_db_secrets_t *s)
{
    int  i;

    for (i = 0; i < s->n; i++) {
        free(s->secret[i]);
    }
    s->n = 0;
}


/*
 * Find the password in a URI (as written and percent-decoded) or in a
 * key=value conninfo, without relying on libpq being able to parse it.
 */
static void
wp_db_url_secrets(const char *url, wp_db_secrets_t *s)
{
    size_t       len;
    char        *dec;
    const char  *p, *at, *colon, *end;

    if (wp_db_is_uri(url)) {
        p = strstr(url, "://") + 3;
        end = p + strcspn(p, "/?");
        at = NULL;

        for (at = end; at > p && at[-1] != '@'; at--) {
            /* void */
        }

        if (at == p) {
            return;
        }

        at--;                                   /* the last '@' before end */
        colon = memchr(p, ':', at - p);
        if (colon == NULL) {
            return;
        }

        len = at - (colon + 1);
        wp_db_secrets_add(s, colon + 1, len);

        dec = malloc(len + 1);
        if (dec != NULL) {
            wp_db_secrets_add(s, dec, wp_db_unescape(colon + 1, len, dec));
            free(dec);
        }

        return;
    }

    p = strstr(url, "password");
    if (p != NULL) {
        p += strlen("password");
        p += strspn(p, " \t");
        if (*p == '=') {
            p++;
            p += strspn(p, " \t'");
            wp_db_secrets_add(s, p, strcspn(p, " \t'"));
        }
    }
}


static int
wp_db_is_uri(const char *url)
{
    return strncmp(url, "postgresql://", 13) == 0
           || strncmp(url, "postgres://", 11) == 0;
}


static int
wp_db_hexval(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}


/* Percent-decode len bytes into out (room for len + 1); returns length. */
static size_t
wp_db_unescape(const char *in, size_t len, char *out)
{
    int      hi, lo;
    size_t   i, n;

    for (i = 0, n = 0; i < len; i++) {
        if (in[i] == '%' && i + 2 < len
            && (hi = wp_db_hexval(in[i + 1])) >= 0
            && (lo = wp_db_hexval(in[i + 2])) >= 0)
        {
            out[n++] = (char) (hi * 16 + lo);
            i += 2;
            continue;
        }
        out[n++] = in[i];
    }

    out[n] = '\0';
    return n;
}


/*
 * Copy url without the Prisma-only query parameters; *schema gets the
 * decoded value of ?schema= (malloc'ed) or NULL.  NULL on out of memory.
 */
static char *
wp_db_strip_prisma(const char *url, char **schema)
{
    int          i, drop;
    char        *out, *w;
    size_t       klen, vlen;
    const char  *q, *p, *amp, *eq;

    *schema = NULL;

    out = malloc(strlen(url) + 1);
    if (out == NULL) {
        return NULL;
    }

    q = wp_db_is_uri(url) ? strchr(url, '?') : NULL;
    if (q == NULL) {
        strcpy(out, url);
        return out;
    }

    memcpy(out, url, q - url);
    w = out + (q - url);

    for (p = q + 1; *p; p = *amp ? amp + 1 : amp) {
        amp = p + strcspn(p, "&");
        eq = memchr(p, '=', amp - p);
        klen = (eq ? eq : amp) - p;
        drop = 0;

        if (klen == 6 && memcmp(p, "schema", 6) == 0) {
            drop = 1;
            vlen = eq ? (size_t) (amp - eq - 1) : 0;
            free(*schema);
            *schema = malloc(vlen + 1);
            if (*schema == NULL) {
                free(out);
                return NULL;
            }
            wp_db_unescape(eq ? eq + 1 : amp, vlen, *schema);
        }

        for (i = 0; wp_db_prisma_params[i]; i++) {
            if (klen == strlen(wp_db_prisma_params[i])
                && memcmp(p, wp_db_prisma_params[i], klen) == 0)
            {
                drop = 1;
            }
        }

        if (drop || amp == p) {
            continue;
        }

        *w = (w == out + (q - url)) ? '?' : '&';
        w++;
        memcpy(w, p, amp - p);
        w += amp - p;
    }

    *w = '\0';

    if (*schema != NULL && (*schema)[0] == '\0') {
        free(*schema);
        *schema = NULL;
    }

    return out;
}


/*
 * options (may be NULL) plus "-c search_path=\"schema\"", escaped the way
 * the server splits its options string (backslash before blanks).
 * NULL on out of memory; a plain copy of options when schema is NULL.
 */
static char *
wp_db_search_path_option(const char *options, const char *schema)
{
    char        *out, *w;
    size_t       len;
    const char  *s;

    len = (options ? strlen(options) : 0) + 32
          + 3 * strlen(schema ? schema : "");

    out = malloc(len);
    if (out == NULL) {
        return NULL;
    }

    w = out;
    if (options != NULL && options[0] != '\0') {
        w += sprintf(w, "%s ", options);
    }

    if (schema == NULL) {
        *w = '\0';
        return out;
    }

    w += sprintf(w, "-csearch_path=\"");

    for (s = schema; *s; s++) {
        if (*s == '"') {
            *w++ = '"';
        }
        if (*s == ' ' || *s == '\t' || *s == '\\') {
            *w++ = '\\';
        }
        *w++ = *s;
    }

    *w++ = '"';
    *w = '\0';

    return out;
}


static void
wp_db_notice(void *arg, const PGresult *res)
{
    const char  *sev;

    sev = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);

    if (sev != NULL && strcmp(sev, "WARNING") == 0) {
        fprintf(stderr, "postgresql: %s", PQresultErrorMessage(res));
    }
}
