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
    { "send", cli_send,
      "enqueue a send job (the send route's format); print its id",
      "webpush-cli send (--user ID | --users ID,ID,... | --topic NAME |"
      " --all)\n"
      "         [--type TYPE (default manual)] [--event-id ID]"
      " [--title T] [--body B]\n"
      "         [--url U] [--icon U] [--tag T] [--ttl SECONDS]"
      " [--urgency very-low|low|normal|high]\n"
      "         [--push-topic TOPIC_HEADER] [--send-at RFC3339|EPOCH_MS]"
      " [--wait [--timeout S]]\n"
      "       webpush-cli send --file FILE|- [--wait [--timeout S]]\n"
      "  WEBPUSH_QUEUE_PREFIX (default {webpush}:), REDIS_URL; --wait also"
      " DATABASE_URL.\n"
      "  exit: 0 queued (--wait: finished), 1 dead/expired/timed out,"
      " 2 bad request, 3 env, 4 unreachable" },
    { "job", cli_job,
      "where a job is: queued, running, scheduled, retrying, finished, dead",
      "webpush-cli job JOB_ID\n"
      "  exit: 0 found, 1 no such job, 2 bad id, 3 env, 4 unreachable" },
    { "dead", cli_dead,
      "list, replay or drop dead-lettered jobs",
      "webpush-cli dead list [--count N]\n"
      "       webpush-cli dead retry (ENTRY_ID... | --all) [--renew]\n"
      "       webpush-cli dead drop (ENTRY_ID... | --all)\n"
      "  retry puts a job back on the queue with its id; its TTL counts"
      " from when it\n  was first accepted unless --renew restarts it.\n"
      "  exit: 0 done, 1 an entry was missing or not replayable, 2 usage,"
      " 3 env, 4 unreachable" },
    { "stats", cli_stats,
      "subscriptions, queue, live senders, last hour's deliveries",
      "webpush-cli stats\n"
      "  exit: 0 ok, 3 env, 4 unreachable" },
    { "cleanup", cli_cleanup,
      "delete old disabled subscriptions, logs, errors; trim the stream",
      "webpush-cli cleanup [--days N (30)] [--subscription-days N]"
      " [--log-days N]\n"
      "         [--batch N (1000)] [--dry-run]\n"
      "  exit: 0 ok, 2 usage, 3 env, 4 unreachable" },
    { "doctor", cli_doctor,
      "check the configuration and the running system; say what to fix",
      "webpush-cli doctor [--api URL]\n"
      "  exit: 0 every check ok, 1 a check warned or failed, 2 usage" },
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
