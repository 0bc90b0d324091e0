/*
 * webpush-cli generate-vapid-keys [--json]
 *
 * Prints a new VAPID key pair exactly as Node's `web-push
 * generate-vapid-keys` does, so existing docs and scripts keep working.
 */

#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "vapid.h"


int
cli_generate_vapid_keys(int argc, char **argv)
{
    int              i, json;
    char             priv[44];
    wp_err_t         err;
    wp_vapid_key_t  *key;

    json = 0;
    err.message[0] = '\0';

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) {
            json = 1;

        } else {
            fprintf(stderr, "generate-vapid-keys: unknown option \"%s\"\n",
                    argv[i]);
            cli_usage("generate-vapid-keys", 1);
            return CLI_EXIT_USAGE;
        }
    }

    if (wp_vapid_key_generate(&key, &err) != 0
        || wp_vapid_key_private(key, priv) != 0)
    {
        fprintf(stderr, "generate-vapid-keys: %s\n", err.message);
        return CLI_EXIT_FAIL;
    }

    if (json) {
        printf("{\"publicKey\":\"%s\",\"privateKey\":\"%s\"}\n",
               wp_vapid_key_public(key), priv);

    } else {
        printf("\n=======================================\n\n"
               "Public Key:\n%s\n\n"
               "Private Key:\n%s\n\n"
               "=======================================\n\n",
               wp_vapid_key_public(key), priv);
    }

    memset(priv, 0, sizeof(priv));
    wp_vapid_key_free(key);

    return fflush(stdout) == 0 ? CLI_EXIT_OK : CLI_EXIT_FAIL;
}
