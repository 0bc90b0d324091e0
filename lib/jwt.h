/*
 * ngx_webpush: HS256 JSON Web Tokens for the push API's own auth (the
 * seed's JWT_SECRET, "Authorization: Bearer <jwt>").
 *
 * Verification is deliberately narrow: the header's "alg" must be exactly
 * "HS256" (anything else, including "none", other case, padding or a
 * missing alg, is WP_E_TOKEN_ALG), "typ" is optional, the signature is
 * compared in constant time, and exp/nbf are checked with a leeway.
 * Nothing is allocated that outlives a call: claims land in fixed buffers.
 *
 * Error codes: WP_E_BAD_TOKEN (structure, base64url, JSON, claim types),
 * WP_E_TOKEN_ALG, WP_E_TOKEN_SIGNATURE, WP_E_TOKEN_EXPIRED,
 * WP_E_TOKEN_NOT_YET_VALID, WP_E_TOKEN_NO_USER, WP_E_BAD_KEY (empty secret).
 */

#ifndef WP_JWT_H
#define WP_JWT_H

#include <stddef.h>
#include <stdint.h>

#include "wp_err.h"

#define WP_JWT_MAX_TOKEN     8192   /* whole token, bytes */
#define WP_JWT_MAX_USER      255    /* user id, bytes */
#define WP_JWT_MAX_ROLES     32     /* roles kept */
#define WP_JWT_ROLES_BUF     1024   /* all roles, NUL-separated */
#define WP_JWT_DEFAULT_LEEWAY  30   /* seconds */

typedef struct {
    const char  *user_claim;    /* claim holding the user id: "sub" */
    const char  *role_claim;    /* claim holding roles: "role" */
    int64_t      leeway;        /* seconds of clock skew tolerated: 30 */
    int64_t      now;           /* unix seconds; 0 = current time */
    int          require_exp;   /* reject tokens without "exp": 0 */
} wp_jwt_opts_t;

typedef struct {
    char         user[WP_JWT_MAX_USER + 1];     /* NUL-terminated */
    size_t       user_len;
    size_t       nroles;
    char         roles[WP_JWT_ROLES_BUF];       /* "a\0b\0" */
    int          has_exp, has_nbf, has_iat;
    int64_t      exp, nbf, iat;                 /* unix seconds */
} wp_jwt_claims_t;

/* Fill opts with the defaults shown above. */
void wp_jwt_opts_init(wp_jwt_opts_t *opts);

/*
 * Verify token (len bytes, no "Bearer " prefix) with secret and fill
 * *claims (may be NULL).  opts NULL means defaults.
 *
 * User id: the user claim as a string (1..255 bytes, no control
 * characters) or an integer number, turned into its decimal text;
 * absent, null or "" is WP_E_TOKEN_NO_USER, another type WP_E_BAD_TOKEN.
 * Roles: the role claim as a string (split on spaces, so an OAuth
 * "scope" claim works) or an array of strings; absent means none.
 */
int wp_jwt_hs256_verify(const char *token, size_t len,
    const uint8_t *secret, size_t secretlen, const wp_jwt_opts_t *opts,
    wp_jwt_claims_t *claims, wp_err_t *err);

/* 1 if role is among claims' roles (exact, case-sensitive), else 0. */
int wp_jwt_has_role(const wp_jwt_claims_t *claims, const char *role);

/*
 * Sign claims_json (must be one JSON object; used byte for byte as the
 * payload) with header {"alg":"HS256","typ":"JWT"}.  out gets the
 * NUL-terminated token; *outlen (may be NULL) its length.  cap too small
 * is WP_E_BUFFER; a token over WP_JWT_MAX_TOKEN is WP_E_TOO_LONG.
 */
int wp_jwt_hs256_sign(const uint8_t *secret, size_t secretlen,
    const char *claims_json, size_t claims_len, char *out, size_t cap,
    size_t *outlen, wp_err_t *err);

#endif /* WP_JWT_H */
