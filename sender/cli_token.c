/*
 * webpush-cli token --sub USER [--role ROLE] [--ttl SECONDS]
 *
 * Mints an HS256 JWT with JWT_SECRET, the way the seed's API tokens look
 * ({"sub", "role", "iat", "exp"}), for trying the API from a shell.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <yajl/yajl_gen.h>

#include "cli.h"
#include "jwt.h"

#define CLI_TOKEN_DEFAULT_TTL  3600
#define CLI_TOKEN_MAX_TTL      (30 * 86400)


static int
cli_token_gen_string(yajl_gen g, const char *s)
{
    return yajl_gen_string(g, (const unsigned char *) s, strlen(s))
           == yajl_gen_status_ok ? 0 : -1;
}


int
cli_token(int argc, char **argv)
{
    int                   i, rc;
    long long             ttl;
    char                 *end, out[WP_JWT_MAX_TOKEN];
    size_t                outlen, clen;
    time_t                now;
    yajl_gen              g;
    wp_err_t              err;
    const char           *sub, *role, *secret;
    const unsigned char  *claims;

    sub = NULL;
    role = NULL;
    ttl = CLI_TOKEN_DEFAULT_TTL;

    for (i = 1; i < argc; i++) {
        if (i + 1 < argc && strcmp(argv[i], "--sub") == 0) {
            sub = argv[++i];

        } else if (i + 1 < argc && strcmp(argv[i], "--role") == 0) {
            role = argv[++i];

        } else if (i + 1 < argc && strcmp(argv[i], "--ttl") == 0) {
            errno = 0;
            ttl = strtoll(argv[++i], &end, 10);
            if (errno || *end || end == argv[i] || ttl <= 0
                || ttl > CLI_TOKEN_MAX_TTL)
            {
                fprintf(stderr, "token: --ttl must be 1..%d seconds\n",
                        CLI_TOKEN_MAX_TTL);
                return CLI_EXIT_USAGE;
            }

        } else {
            fprintf(stderr, "token: unknown or incomplete option \"%s\"\n",
                    argv[i]);
            cli_usage("token", 1);
            return CLI_EXIT_USAGE;
        }
    }

    if (sub == NULL || *sub == '\0') {
        fprintf(stderr, "token: --sub USER is required\n");
        cli_usage("token", 1);
        return CLI_EXIT_USAGE;
    }

    if (role != NULL && *role == '\0') {
        fprintf(stderr, "token: --role must not be empty\n");
        return CLI_EXIT_USAGE;
    }

    secret = getenv("JWT_SECRET");
    if (secret == NULL || *secret == '\0') {
        fprintf(stderr, "token: JWT_SECRET is not set (the secret the API"
                        " verifies tokens with)\n");
        return CLI_EXIT_CONFIG;
    }

    now = time(NULL);

    g = yajl_gen_alloc(NULL);
    if (g == NULL) {
        return CLI_EXIT_FAIL;
    }

    yajl_gen_config(g, yajl_gen_validate_utf8, 1);

    rc = yajl_gen_map_open(g) != yajl_gen_status_ok
         || cli_token_gen_string(g, "sub") || cli_token_gen_string(g, sub);

    if (!rc && role) {
        rc = cli_token_gen_string(g, "role") || cli_token_gen_string(g, role);
    }

    rc = rc
         || cli_token_gen_string(g, "iat")
         || yajl_gen_integer(g, (long long) now) != yajl_gen_status_ok
         || cli_token_gen_string(g, "exp")
         || yajl_gen_integer(g, (long long) now + ttl) != yajl_gen_status_ok
         || yajl_gen_map_close(g) != yajl_gen_status_ok
         || yajl_gen_get_buf(g, &claims, &clen) != yajl_gen_status_ok;

    if (rc) {
        fprintf(stderr, "token: the user id or role is not valid UTF-8\n");
        yajl_gen_free(g);
        return CLI_EXIT_USAGE;
    }

    rc = wp_jwt_hs256_sign((const uint8_t *) secret, strlen(secret),
                           (const char *) claims, clen, out, sizeof(out),
                           &outlen, &err);
    yajl_gen_free(g);

    if (rc != 0) {
        fprintf(stderr, "token: %s\n", err.message);
        return CLI_EXIT_FAIL;
    }

    printf("%.*s\n", (int) outlen, out);

    return fflush(stdout) == 0 ? CLI_EXIT_OK : CLI_EXIT_FAIL;
}
