/*
 * libFuzzer target for lib/jwt.c.  The input is tried as a token (with a
 * fixed secret; claims are read with a role claim so that code runs too),
 * and as a claims body: whatever signs must verify back with the same
 * user id, or fail only on a claim rule, never on the signature.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jwt.h"

#define SECRET  "fuzz-secret"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char             tok[WP_JWT_MAX_TOKEN + 1];
    size_t           n;
    wp_err_t         e;
    wp_jwt_opts_t    o;
    wp_jwt_claims_t  c;

    wp_jwt_opts_init(&o);
    o.now = 1700000000;
    o.role_claim = "scope";

    if (wp_jwt_hs256_verify((const char *) data, size,
                            (const uint8_t *) SECRET, sizeof(SECRET) - 1, &o,
                            &c, &e) == 0)
    {
        /* accepted: the claims must be well-formed */
        if (c.user_len == 0 || c.user_len > WP_JWT_MAX_USER
            || strlen(c.user) != c.user_len || c.nroles > WP_JWT_MAX_ROLES)
        {
            abort();
        }

    } else if (e.code == NULL || e.message[0] == '\0') {
        abort();
    }

    if (wp_jwt_hs256_sign((const uint8_t *) SECRET, sizeof(SECRET) - 1,
                          (const char *) data, size, tok, sizeof(tok), &n,
                          &e) != 0)
    {
        return 0;
    }

    if (strlen(tok) != n) {
        abort();
    }

    if (wp_jwt_hs256_verify(tok, n, (const uint8_t *) SECRET,
                            sizeof(SECRET) - 1, &o, &c, &e) != 0)
    {
        /* a token we signed can fail a claim rule, never the signature */
        if (strcmp(e.code, WP_E_TOKEN_SIGNATURE) == 0
            || strcmp(e.code, WP_E_TOKEN_ALG) == 0)
        {
            abort();
        }
        return 0;
    }

    /* and one byte flipped in the signature must not verify */
    tok[n - 2] = tok[n - 2] == 'A' ? 'B' : 'A';
    if (wp_jwt_hs256_verify(tok, n, (const uint8_t *) SECRET,
                            sizeof(SECRET) - 1, &o, &c, &e) == 0)
    {
        abort();
    }

    return 0;
}
