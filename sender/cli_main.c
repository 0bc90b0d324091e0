/* webpush-cli: the operator's tool.  Dispatches to sender/cli_*.c. */

#include <stdio.h>
#include <string.h>

#include "cli.h"


static const cli_command_t  cli_commands[] = {
    { "generate-vapid-keys", cli_generate_vapid_keys,
      "print a new VAPID key pair (web-push's format)",
      "webpush-cli generate-vapid-keys [--json]" },
    { "token", cli_token,
      "mint an HS256 JWT with JWT_SECRET for trying the API",
      "webpush-cli token --sub USER [--role ROLE] [--ttl SECONDS]" },
    { "migrate", cli_migrate,
      "apply pending sql/ migrations to DATABASE_URL",
      "webpush-cli migrate [--dir SQL_DIR] [--status]" },
    { "send-test", cli_send_test,
      "deliver one push synchronously and print the answer",
      "webpush-cli send-test --subscription FILE_OR_JSON --payload TEXT"
      " [--ttl N] [--urgency very-low|low|normal|high] [--topic T]" },
    { NULL, NULL, NULL, NULL }
};


int
cli_wants_help(int argc, char **argv)
{
    int  i;

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            return 1;
        }
    }

    return 0;
}


void
cli_usage(const char *name, int to_stderr)
{
    FILE                 *f;
    const cli_command_t  *c;

    f = to_stderr ? stderr : stdout;

    for (c = cli_commands; c->name; c++) {
        if (strcmp(c->name, name) == 0) {
            fprintf(f, "usage: %s\n  %s\n", c->usage, c->summary);
            return;
        }
    }
}


static void
cli_main_usage(FILE *f)
{
    const cli_command_t  *c;

    fprintf(f, "usage: webpush-cli COMMAND [OPTIONS]   (COMMAND --help for"
               " its options)\n\ncommands:\n");

    for (c = cli_commands; c->name; c++) {
        fprintf(f, "  %-22s %s\n", c->name, c->summary);
    }

    fprintf(f, "\nexit codes: 0 ok, 1 failed, 2 usage, 3 configuration,"
               " 4 server unreachable\n");
}


int
main(int argc, char **argv)
{
    const cli_command_t  *c;

    if (argc < 2) {
        cli_main_usage(stderr);
        return CLI_EXIT_USAGE;
    }

    if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0
        || strcmp(argv[1], "help") == 0)
    {
        cli_main_usage(stdout);
        return CLI_EXIT_OK;
    }

    for (c = cli_commands; c->name; c++) {
        if (strcmp(c->name, argv[1]) == 0) {
            if (cli_wants_help(argc - 1, argv + 1)) {
                cli_usage(c->name, 0);
                return CLI_EXIT_OK;
            }

            return c->run(argc - 1, argv + 1);
        }
    }

    fprintf(stderr, "webpush-cli: unknown command \"%s\"\n\n", argv[1]);
    cli_main_usage(stderr);

    return CLI_EXIT_USAGE;
}
