/*
 * webpush-cli: one function per command, each in sender/cli_<name>.c.
 * A command gets argv starting at its own name, prints its result to
 * stdout and diagnostics to stderr, and returns the process exit code
 * (see CLI_EXIT_*; documented in the README).
 */

#ifndef WP_CLI_H
#define WP_CLI_H

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

/* True when argv holds -h or --help; the caller then prints usage. */
int cli_wants_help(int argc, char **argv);

/* Print "usage: ..." for the named command to stdout (help) or stderr. */
void cli_usage(const char *name, int to_stderr);

#endif /* WP_CLI_H */
