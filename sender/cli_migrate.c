/*
 * webpush-cli migrate [--dir SQL_DIR] [--status]
 *
 * Applies the pending sql/NNN_name.sql files to DATABASE_URL, in numeric
 * order, each in its own transaction together with its row in
 * webpush_schema_migrations (version, name, sha256 checksum, applied_at).
 * A session advisory lock serialises concurrent migrators: the second one
 * waits (up to 60 s) and then finds nothing left to do.  --status only
 * reads: it lists every migration as applied, pending, changed (the file's
 * checksum differs from the one recorded when it was applied; it is not
 * re-applied, put changes in a new file) or missing (recorded, no file).
 * A changed file is a warning, not an error: migrations are idempotent and
 * a comment fix must not block a deploy.
 *
 * The SQL directory is the first of: --dir, $WEBPUSH_SQL_DIR (each must
 * exist if given), ./sql, the directory ../sql next to the executable (so
 * build/webpush-cli finds the tree's sql/ from anywhere), WP_SQL_INSTALL_DIR
 * (default /usr/share/webpush/sql).  Files must not contain transaction
 * control (BEGIN/COMMIT) nor statements that cannot run in a transaction.
 *
 * Exit: 0 ok, 1 a migration failed (it was rolled back), 2 usage,
 * 3 DATABASE_URL unset or invalid / no SQL directory / bad file names,
 * 4 database unreachable.
 */

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "cli.h"
#include "db.h"


#ifndef WP_SQL_INSTALL_DIR
#define WP_SQL_INSTALL_DIR  "/usr/share/webpush/sql"
#endif

#define MIG_LOCK_KEY       "7765627075736801"   /* "webpush" 01 */
#define MIG_LOCK_TIMEOUT   "60s"
#define MIG_MAX_FILE       (16 * 1024 * 1024)

#define MIG_TABLE_SQL                                                        \
    "CREATE TABLE IF NOT EXISTS webpush_schema_migrations ("                  \
    " version TEXT PRIMARY KEY,"                                              \
    " name TEXT NOT NULL,"                                                    \
    " checksum TEXT NOT NULL,"                                                \
    " applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"


typedef struct {
    unsigned long   number;
    char           *version;       /* the digits as written: "001" */
    char           *name;          /* "001_init.sql", or the recorded name */
    char            checksum[65];  /* sha256 hex of the file, "" if none */
    int             has_file;
    int             applied;
    char           *applied_at;
    char           *applied_sum;
} mig_t;

typedef struct {
    mig_t          *m;
    size_t          n;
    size_t          cap;
} mig_list_t;


static int mig_find_dir(const char *opt, char *dir);
static int mig_scan(const char *dir, mig_list_t *list);
static mig_t *mig_add(mig_list_t *list);
static int mig_cmp(const void *a, const void *b);
static int mig_read(const char *dir, const char *name, char **data,
    size_t *len, char *hex);
static int mig_load_applied(PGconn *conn, mig_list_t *list, int *exists);
static int mig_apply(PGconn *conn, const char *dir, mig_t *m);
static void mig_report_sql_error(const mig_t *m, PGresult *res,
    const char *data, const char *msg);
static int mig_lock(PGconn *conn);
static void mig_status(const mig_list_t *list, const char *dir,
    const char *db);
static void mig_free(mig_list_t *list);
static int mig_db_rc(int rc);


int
cli_migrate(int argc, char **argv)
{
    int          i, rc, status, exists, napplied, nup;
    char         dir[PATH_MAX], desc[256], err[WP_DB_ERRLEN];
    mig_t       *m;
    PGconn      *conn;
    mig_list_t   list;
    const char  *opt_dir;

    status = 0;
    opt_dir = NULL;

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--status") == 0) {
            status = 1;

        } else if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc) {
            opt_dir = argv[++i];

        } else if (strncmp(argv[i], "--dir=", 6) == 0) {
            opt_dir = argv[i] + 6;

        } else {
            fprintf(stderr, "migrate: unknown option \"%s\"\n", argv[i]);
            cli_usage("migrate", 1);
            return CLI_EXIT_USAGE;
        }
    }

    if (getenv("DATABASE_URL") == NULL || getenv("DATABASE_URL")[0] == '\0') {
        fprintf(stderr, "migrate: DATABASE_URL is not set; set it to the"
                " database to migrate, e.g. DATABASE_URL=postgresql://USER"
                ":PASSWORD@HOST:5432/DBNAME\n");
        return CLI_EXIT_CONFIG;
    }

    rc = mig_find_dir(opt_dir, dir);
    if (rc != CLI_EXIT_OK) {
        return rc;
    }

    memset(&list, 0, sizeof(list));

    rc = mig_scan(dir, &list);
    if (rc != CLI_EXIT_OK) {
        mig_free(&list);
        return rc;
    }

    rc = wp_db_connect_env(&conn, "DATABASE_URL", "webpush-cli migrate", err,
                           sizeof(err));
    if (rc != WP_DB_OK) {
        fprintf(stderr, "migrate: %s\n", err);
        mig_free(&list);
        return mig_db_rc(rc);
    }

    wp_db_describe(conn, desc, sizeof(desc));

    if (status) {
        rc = mig_load_applied(conn, &list, &exists);
        if (rc == CLI_EXIT_OK) {
            mig_status(&list, dir, desc);
        }
        goto done;
    }

    rc = mig_lock(conn);
    if (rc != CLI_EXIT_OK) {
        goto done;
    }

    rc = mig_db_rc(wp_db_exec(conn, MIG_TABLE_SQL, 0, NULL, NULL, err,
                              sizeof(err)));
    if (rc != CLI_EXIT_OK) {
        fprintf(stderr, "migrate: cannot create webpush_schema_migrations:"
                " %s\n", err);
        goto done;
    }

    rc = mig_load_applied(conn, &list, &exists);
    if (rc != CLI_EXIT_OK) {
        goto done;
    }

    napplied = 0;
    nup = 0;

    for (i = 0; i < (int) list.n; i++) {
        m = &list.m[i];

        if (m->applied) {
            nup++;
            if (m->has_file && strcmp(m->checksum, m->applied_sum) != 0) {
                fprintf(stderr, "migrate: warning: %s changed since it was"
                        " applied at %s (recorded sha256 %.12s..., file"
                        " %.12s...); it is not applied again: put schema"
                        " changes in a new migration\n", m->name,
                        m->applied_at, m->applied_sum, m->checksum);
            }
            continue;
        }

        rc = mig_apply(conn, dir, m);
        if (rc != CLI_EXIT_OK) {
            fprintf(stderr, "migrate: stopped at %s: %d applied before it,"
                    " the rest left pending\n", m->name, napplied);
            goto done;
        }

        napplied++;
    }

    printf("migrate: %s: %d applied now, %d already applied\n",
           desc, napplied, nup);

done:

    PQfinish(conn);
    mig_free(&list);

    return rc;
}


static int
mig_db_rc(int rc)
{
    switch (rc) {
    case WP_DB_OK:
        return CLI_EXIT_OK;
    case WP_DB_CONFIG:
        return CLI_EXIT_CONFIG;
    case WP_DB_UNAVAIL:
        return CLI_EXIT_UNAVAIL;
    default:
        return CLI_EXIT_FAIL;
    }
}


static int
mig_is_dir(const char *path)
{
    struct stat  st;

    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}


/* Resolve the SQL directory into dir (PATH_MAX bytes), made absolute. */
static int
mig_find_dir(const char *opt, char *dir)
{
    char         exe[PATH_MAX], *slash;
    ssize_t      n;
    const char  *env, *given;

    env = getenv("WEBPUSH_SQL_DIR");
    given = opt ? opt : (env && *env ? env : NULL);

    if (given != NULL) {
        if (!mig_is_dir(given) || realpath(given, dir) == NULL) {
            fprintf(stderr, "migrate: SQL directory %s (from %s) does not"
                    " exist\n", given, opt ? "--dir" : "WEBPUSH_SQL_DIR");
            return CLI_EXIT_CONFIG;
        }
        return CLI_EXIT_OK;
    }

    if (mig_is_dir("sql") && realpath("sql", dir) != NULL) {
        return CLI_EXIT_OK;
    }

    n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n > 0) {
        exe[n] = '\0';
        slash = strrchr(exe, '/');
        if (slash != NULL) {
            *slash = '\0';
            slash = strrchr(exe, '/');
            if (slash != NULL && slash + 5 < exe + sizeof(exe)) {
                memcpy(slash, "/sql", 5);
                if (mig_is_dir(exe) && realpath(exe, dir) != NULL) {
                    return CLI_EXIT_OK;
                }
            }
        }
    }

    if (mig_is_dir(WP_SQL_INSTALL_DIR)
        && realpath(WP_SQL_INSTALL_DIR, dir) != NULL)
    {
        return CLI_EXIT_OK;
    }

    fprintf(stderr, "migrate: no SQL directory found (tried ./sql, ../sql next"
            " to the executable and " WP_SQL_INSTALL_DIR "); use --dir DIR or"
            " WEBPUSH_SQL_DIR\n");

    return CLI_EXIT_CONFIG;
}


/* Collect NNN_name.sql files of dir, sorted by number, with checksums. */
static int
mig_scan(const char *dir, mig_list_t *list)
{
    DIR            *d;
    char           *data;
    size_t          i, digits, len;
    mig_t          *m;
    struct dirent  *e;

    d = opendir(dir);
    if (d == NULL) {
        fprintf(stderr, "migrate: cannot read %s: %s\n", dir, strerror(errno));
        return CLI_EXIT_CONFIG;
    }

    while ((e = readdir(d)) != NULL) {
        len = strlen(e->d_name);
        digits = strspn(e->d_name, "0123456789");

        if (digits == 0 || e->d_name[digits] != '_' || len < digits + 6
            || strcmp(e->d_name + len - 4, ".sql") != 0)
        {
            continue;
        }

        m = mig_add(list);
        if (m == NULL
            || (m->version = strndup(e->d_name, digits)) == NULL
            || (m->name = strdup(e->d_name)) == NULL)
        {
            closedir(d);
            fprintf(stderr, "migrate: out of memory\n");
            return CLI_EXIT_FAIL;
        }

        m->number = strtoul(m->version, NULL, 10);
        m->has_file = 1;
    }

    closedir(d);

    if (list->n == 0) {
        fprintf(stderr, "migrate: no NNN_name.sql files in %s\n", dir);
        return CLI_EXIT_CONFIG;
    }

    qsort(list->m, list->n, sizeof(mig_t), mig_cmp);

    for (i = 0; i < list->n; i++) {
        if (i > 0 && list->m[i].number == list->m[i - 1].number) {
            fprintf(stderr, "migrate: %s and %s have the same number\n",
                    list->m[i - 1].name, list->m[i].name);
            return CLI_EXIT_CONFIG;
        }

        if (mig_read(dir, list->m[i].name, &data, &len,
                     list->m[i].checksum) != 0)
        {
            return CLI_EXIT_CONFIG;
        }
        free(data);
    }

    return CLI_EXIT_OK;
}


static mig_t *
mig_add(mig_list_t *list)
{
    mig_t  *m;

    if (list->n == list->cap) {
        m = realloc(list->m, (list->cap ? list->cap * 2 : 16) * sizeof(mig_t));
        if (m == NULL) {
            return NULL;
        }
        list->m = m;
        list->cap = list->cap ? list->cap * 2 : 16;
    }

    m = &list->m[list->n++];
    memset(m, 0, sizeof(mig_t));

    return m;
}


static int
mig_cmp(const void *a, const void *b)
{
    const mig_t  *x = a, *y = b;

    if (x->number != y->number) {
        return x->number < y->number ? -1 : 1;
    }

    return strcmp(x->name, y->name);
}


/* Read dir/name into a NUL-terminated malloc'ed buffer; hex = sha256. */
static int
mig_read(const char *dir, const char *name, char **data, size_t *len,
    char *hex)
{
    FILE           *f;
    char            path[PATH_MAX];
    long            size;
    unsigned int    i, mdlen;
    unsigned char   md[EVP_MAX_MD_SIZE];

    *data = NULL;
    snprintf(path, sizeof(path), "%s/%s", dir, name);

    f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "migrate: cannot open %s: %s\n", path,
                strerror(errno));
        return -1;
    }

    if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0
        || size > MIG_MAX_FILE || fseek(f, 0, SEEK_SET) != 0)
    {
        fprintf(stderr, "migrate: cannot read %s (or larger than %d bytes)\n",
                path, MIG_MAX_FILE);
        fclose(f);
        return -1;
    }

    *data = malloc(size + 1);
    if (*data == NULL || fread(*data, 1, size, f) != (size_t) size) {
        fprintf(stderr, "migrate: cannot read %s\n", path);
        free(*data);
        *data = NULL;
        fclose(f);
        return -1;
    }

    fclose(f);
    (*data)[size] = '\0';
    *len = size;

    if (strlen(*data) != (size_t) size) {
        fprintf(stderr, "migrate: %s contains a NUL byte\n", path);
        free(*data);
        *data = NULL;
        return -1;
    }

    if (EVP_Digest(*data, size, md, &mdlen, EVP_sha256(), NULL) != 1) {
        fprintf(stderr, "migrate: sha256 failed\n");
        free(*data);
        *data = NULL;
        return -1;
    }

    for (i = 0; i < mdlen; i++) {
        sprintf(hex + 2 * i, "%02x", md[i]);
    }

    return 0;
}


/* Mark the list's applied entries; add recorded ones that have no file. */
static int
mig_load_applied(PGconn *conn, mig_list_t *list, int *exists)
{
    int          rc, row, rows;
    char         err[WP_DB_ERRLEN];
    size_t       i;
    mig_t       *m;
    PGresult    *res;
    const char  *version;

    *exists = 0;

    rc = wp_db_exec(conn, "SELECT to_regclass('webpush_schema_migrations')"
                    " IS NOT NULL", 0, NULL, &res, err, sizeof(err));
    if (rc == WP_DB_OK) {
        *exists = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
    }
    PQclear(res);
    res = NULL;

    if (rc == WP_DB_OK && *exists) {
        rc = wp_db_exec(conn, "SELECT version, name, checksum,"
                        " to_char(applied_at, 'YYYY-MM-DD HH24:MI:SSOF')"
                        " FROM webpush_schema_migrations", 0, NULL, &res, err,
                        sizeof(err));
    }

    if (rc != WP_DB_OK) {
        fprintf(stderr, "migrate: cannot read webpush_schema_migrations: %s\n",
                err);
        PQclear(res);
        return mig_db_rc(rc);
    }

    if (!*exists) {
        return CLI_EXIT_OK;
    }

    rows = PQntuples(res);

    for (row = 0; row < rows; row++) {
        version = PQgetvalue(res, row, 0);
        m = NULL;

        for (i = 0; i < list->n; i++) {
            if (strcmp(list->m[i].version, version) == 0) {
                m = &list->m[i];
                break;
            }
        }

        if (m == NULL) {
            m = mig_add(list);
            if (m == NULL || (m->version = strdup(version)) == NULL
                || (m->name = strdup(PQgetvalue(res, row, 1))) == NULL)
            {
                PQclear(res);
                fprintf(stderr, "migrate: out of memory\n");
                return CLI_EXIT_FAIL;
            }
            m->number = strtoul(version, NULL, 10);
        }

        m->applied = 1;
        m->applied_sum = strdup(PQgetvalue(res, row, 2));
        m->applied_at = strdup(PQgetvalue(res, row, 3));

        if (m->applied_sum == NULL || m->applied_at == NULL) {
            PQclear(res);
            fprintf(stderr, "migrate: out of memory\n");
            return CLI_EXIT_FAIL;
        }
    }

    PQclear(res);
    qsort(list->m, list->n, sizeof(mig_t), mig_cmp);

    return CLI_EXIT_OK;
}


/* Take the migration lock, waiting at most MIG_LOCK_TIMEOUT for it. */
static int
mig_lock(PGconn *conn)
{
    int          rc;
    char         err[WP_DB_ERRLEN];
    PGresult    *res;
    const char  *state;

    rc = wp_db_exec(conn, "SET lock_timeout = '" MIG_LOCK_TIMEOUT "'", 0,
                    NULL, NULL, err, sizeof(err));

    if (rc == WP_DB_OK) {
        rc = wp_db_exec(conn, "SELECT pg_advisory_lock(" MIG_LOCK_KEY ")", 0,
                        NULL, &res, err, sizeof(err));
        state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

        if (rc == WP_DB_ERROR && state && strcmp(state, "55P03") == 0) {
            snprintf(err, sizeof(err), "another migration has held the"
                     " migration lock for " MIG_LOCK_TIMEOUT "; try again"
                     " when it is done");
        }
        PQclear(res);
    }

    if (rc == WP_DB_OK) {
        rc = wp_db_exec(conn, "RESET lock_timeout", 0, NULL, NULL, err,
                        sizeof(err));
    }

    if (rc != WP_DB_OK) {
        fprintf(stderr, "migrate: cannot take the migration lock: %s\n", err);
        return mig_db_rc(rc);
    }

    return CLI_EXIT_OK;
}


/* Apply one file and record it, in one transaction. */
static int
mig_apply(PGconn *conn, const char *dir, mig_t *m)
{
    int               rc;
    char             *data, err[WP_DB_ERRLEN], sum[65];
    size_t            len;
    PGresult         *res;
    struct timespec   t0, t1;
    const char       *params[3];

    if (mig_read(dir, m->name, &data, &len, sum) != 0) {
        return CLI_EXIT_FAIL;
    }

    if (strcmp(sum, m->checksum) != 0) {
        fprintf(stderr, "migrate: %s changed while migrating\n", m->name);
        free(data);
        return CLI_EXIT_FAIL;
    }

    clock_gettime(CLOCK_MONOTONIC, &t0);

    rc = wp_db_exec(conn, "BEGIN", 0, NULL, NULL, err, sizeof(err));
    if (rc != WP_DB_OK) {
        fprintf(stderr, "migrate: %s: BEGIN failed: %s\n", m->name, err);
        free(data);
        return mig_db_rc(rc);
    }

    rc = wp_db_exec(conn, data, 0, NULL, &res, err, sizeof(err));
    if (rc != WP_DB_OK) {
        mig_report_sql_error(m, res, data, err);
        PQclear(res);
        goto failed;
    }
    PQclear(res);

    params[0] = m->version;
    params[1] = m->name;
    params[2] = m->checksum;

    rc = wp_db_exec(conn, "INSERT INTO webpush_schema_migrations"
                    " (version, name, checksum) VALUES ($1, $2, $3)",
                    3, params, NULL, err, sizeof(err));
    if (rc == WP_DB_OK) {
        rc = wp_db_exec(conn, "COMMIT", 0, NULL, NULL, err, sizeof(err));
    }

    if (rc != WP_DB_OK) {
        fprintf(stderr, "migrate: %s: cannot record it: %s\n", m->name, err);
        goto failed;
    }

    clock_gettime(CLOCK_MONOTONIC, &t1);
    printf("applied %s (%ld ms)\n", m->name,
           (long) ((t1.tv_sec - t0.tv_sec) * 1000
                   + (t1.tv_nsec - t0.tv_nsec) / 1000000));
    fflush(stdout);

    free(data);

    return CLI_EXIT_OK;

failed:

    free(data);

    if (rc == WP_DB_UNAVAIL) {
        return CLI_EXIT_UNAVAIL;
    }

    (void) wp_db_exec(conn, "ROLLBACK", 0, NULL, NULL, NULL, 0);

    return CLI_EXIT_FAIL;
}


/* "NNN_x.sql: line L: message", L from the error's statement position. */
static void
mig_report_sql_error(const mig_t *m, PGresult *res, const char *data,
    const char *msg)
{
    long         pos, line;
    const char  *p, *field;

    line = 0;
    field = res ? PQresultErrorField(res, PG_DIAG_STATEMENT_POSITION) : NULL;

    if (field != NULL) {
        pos = strtol(field, NULL, 10);      /* in characters, from 1 */
        line = 1;

        for (p = data; *p && pos > 1; p++) {
            if (((unsigned char) *p & 0xc0) != 0x80) {
                pos--;
            }
            if (*p == '\n') {
                line++;
            }
        }
    }

    if (line > 0) {
        fprintf(stderr, "migrate: %s: line %ld: %s (rolled back)\n", m->name,
                line, msg);

    } else {
        fprintf(stderr, "migrate: %s: %s (rolled back)\n", m->name, msg);
    }
}


static void
mig_status(const mig_list_t *list, const char *dir, const char *db)
{
    size_t        i, npending, napplied;
    const mig_t  *m;
    const char   *state, *note;

    npending = 0;
    napplied = 0;

    printf("sql dir:  %s\ndatabase: %s\n", dir, db);

    for (i = 0; i < list->n; i++) {
        m = &list->m[i];
        note = "";

        if (!m->applied) {
            state = "pending";
            npending++;

        } else if (!m->has_file) {
            state = "missing";
            note = "  (recorded as applied; no such file)";
            napplied++;

        } else if (strcmp(m->checksum, m->applied_sum) != 0) {
            state = "changed";
            note = "  (file differs from the one applied; not re-applied)";
            napplied++;

        } else {
            state = "applied";
            napplied++;
        }

        printf("%-8s %-32s %s%s\n", state, m->name,
               m->applied ? m->applied_at : "", note);
    }

    printf("%zu applied, %zu pending\n", napplied, npending);
}


static void
mig_free(mig_list_t *list)
{
    size_t  i;

    for (i = 0; i < list->n; i++) {
        free(list->m[i].version);
        free(list->m[i].name);
        free(list->m[i].applied_at);
        free(list->m[i].applied_sum);
    }

    free(list->m);
    memset(list, 0, sizeof(*list));
}


int
cli_migrate_check(PGconn *conn, int *total, int *pending, int *changed)
{
    int          rc, exists;
    char         dir[PATH_MAX];
    size_t       i;
    mig_list_t   list;

    memset(&list, 0, sizeof(list));
    *total = *pending = *changed = 0;

    rc = mig_find_dir(NULL, dir);
    if (rc == CLI_EXIT_OK) {
        rc = mig_scan(dir, &list);
    }
    if (rc == CLI_EXIT_OK) {
        rc = mig_load_applied(conn, &list, &exists);
    }

    for (i = 0; rc == CLI_EXIT_OK && i < list.n; i++) {
        if (!list.m[i].has_file) {
            continue;
        }

        (*total)++;

        if (!list.m[i].applied) {
            (*pending)++;

        } else if (strcmp(list.m[i].checksum, list.m[i].applied_sum) != 0) {
            (*changed)++;
        }
    }

    mig_free(&list);

    return rc;
}
