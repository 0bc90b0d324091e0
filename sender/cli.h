/*
 * webpush-cli: one function per command, each in sender/cli_<name>.c.
 * A command gets argv starting at its own name, prints its result to
 * stdout and diagnostics to stderr, and returns the process exit code
 * (see CLI_EXIT_*; documented in the README).
 */

#ifndef WP_CLI_H
#define WP_CLI_H

#include <libpq-fe.h>

#define CLI_EXIT_OK        0   /* success */
#define CLI_EXIT_FAIL      1   /* the operation ran and failed (e.g. non-2xx) */
#define CLI_EXIT_USAGE     2   /* bad command line */
#define CLI_EXIT_CONFIG    3   /* missing or invalid environment / keys */
#define CLI_EXIT_UNAVAIL   4   /* a server (DB, Redis, push service) unreachable */

typedef struct {
    const char  *name;
    int        (*run)(int argc, char **argv);
    const char  *summary;
    const char  *usage;        /* printed by --help, after "usage: " */
} cli_command_t;

int cli_generate_vapid_keys(int argc, char **argv);
int cli_token(int argc, char **argv);
int cli_migrate(int argc, char **argv);
int cli_send_test(int argc, char **argv);
int cli_send(int argc, char **argv);
int cli_job(int argc, char **argv);
int cli_dead(int argc, char **argv);
int cli_stats(int argc, char **argv);
int cli_cleanup(int argc, char **argv);
int cli_doctor(int argc, char **argv);

/*
 * For doctor: the migrations of the SQL directory (found as `migrate`
 * finds it) against what conn has applied: how many there are, pending,
 * and applied but changed since.  Returns a CLI_EXIT_* code.
 */
int cli_migrate_check(PGconn *conn, int *total, int *pending, int *changed);

/* True when argv holds -h or --help; the caller then prints usage. */
int cli_wants_help(int argc, char **argv);

/* Print "usage: ..." for the named command to stdout (help) or stderr. */
void cli_usage(const char *name, int to_stderr);

#endif /* WP_CLI_H */
