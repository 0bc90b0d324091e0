/*
 * Unit tests for lib/jwt.c.  Every token literal below was computed
 * outside this code (python3 hmac/hashlib/base64 in a shell) and pasted
 * in; the jwt.io example is the published one.
 */

#include <stdint.h>
#include <string.h>

#include "jwt.h"
#include "tap.h"

#define S       "test-secret-0123456789"
#define NOW     1700001000

#define JWTIO \
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9." \
    "eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ." \
    "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"

/* {"sub":"user-42","role":"admin","exp":1700003600,"nbf":1700000000,"iat":1700000000} */
#define GOOD \
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9." \
    "eyJzdWIiOiJ1c2VyLTQyIiwicm9sZSI6ImFkbWluIiwiZXhwIjoxNzAwMDAzNjAwLCJuYmYiOjE3MDAwMDAwMDAsImlhdCI6MTcwMDAwMDAwMH0." \
    "apvbZJ9-TcwfZPCUxprdADk6vAR2XbRz32L7kPY7grY"

/* header {"alg":"HS256"}, {"uid":12345678901234567890,"scope":"read  write admin"} */
#define NUMSUB \
    "eyJhbGciOiJIUzI1NiJ9." \
    "eyJ1aWQiOjEyMzQ1Njc4OTAxMjM0NTY3ODkwLCJzY29wZSI6InJlYWQgIHdyaXRlIGFkbWluIn0." \
    "a29UOSESc01bi0aECQFEI6b-4COOhRt6cFJ02ET2FII"

/* {"sub":"u","roles":["editor","admin"]} */
#define ROLES_ARR \
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9." \
    "eyJzdWIiOiJ1Iiwicm9sZXMiOlsiZWRpdG9yIiwiYWRtaW4iXX0." \
    "cXPOFuJmrJWViGUImhdUBJoxC8NVkOH0EYz3s3DsZ9E"

/* {"sub":"u","exp":1700000000} */
#define EXP_ONLY \
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9." \
    "eyJzdWIiOiJ1IiwiZXhwIjoxNzAwMDAwMDAwfQ." \
    "KF2QRclkBD2gUuhbKWs58nKGd2UTgr2j3FA0OdAadC0"

/* {"sub":"u","nbf":1700000000} */
#define NBF_ONLY \
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9." \
    "eyJzdWIiOiJ1IiwibmJmIjoxNzAwMDAwMDAwfQ." \
    "9-vRcQgBXyO-VOEl3o1xyRt2lVdmx7jYQHAFHohrZyQ"

/* {"sub":"u","exp":1700000000.9} */
#define EXP_FRAC \
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9." \
    "eyJzdWIiOiJ1IiwiZXhwIjoxNzAwMDAwMDAwLjl9." \
    "VgSUfcmcRY-_Di4YPuP0GXWz2TEg0KeD7InqaZIsdB8"


typedef struct {
    const char  *name;
    const char  *token;
    const char  *code;
    const char  *field;
} bad_case_t;

/* All signed with S, so only the named defect can cause the rejection. */
static const bad_case_t  bad[] = {
    { "alg none",
      "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiJ1In0.zvzQ2boBPrxV4zeUyt3Vgyip3Ak0ccLsyv9iJvPxIYU",
      WP_E_TOKEN_ALG, "alg" },
    { "alg none, empty signature (classic)",
      "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiJ1In0.",
      WP_E_TOKEN_ALG, "alg" },
    { "alg RS256 (confusion)",
      "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1In0.zZMHqDC9dt5PRXahBtAcm7XG93uyEjEtryiJ1BWd-uo",
      WP_E_TOKEN_ALG, "alg" },
    { "alg \"HS256 \"",
      "eyJhbGciOiJIUzI1NiAiLCJ0eXAiOiJKV1QifQ.eyJzdWIiOiJ1In0.uP1xP4bH5zyqUY24ZDB5aOG4fYb6S_glAcIbgh325ec",
      WP_E_TOKEN_ALG, "alg" },
    { "alg hs256 lowercase",
      "eyJhbGciOiJoczI1NiJ9.eyJzdWIiOiJ1In0.6APSEg9mfXEKJuXAL4hij-29wvWRcilYCsuyDdsfkKU",
      WP_E_TOKEN_ALG, "alg" },
    { "alg missing",
      "eyJ0eXAiOiJKV1QifQ.eyJzdWIiOiJ1In0.Pof45EfQf1haTJAqU-TQ1Niik0eTCwUC-FELg797s_4",
      WP_E_TOKEN_ALG, "alg" },
    { "alg a number",
      "eyJhbGciOjI1Nn0.eyJzdWIiOiJ1In0.aCWwv_F6HSlVCXxLKzEOXea4PV8b4ERogpf9CAwj0lo",
      WP_E_TOKEN_ALG, "alg" },
    { "header is an array",
      "WyJIUzI1NiJd.eyJzdWIiOiJ1In0.ZbFQ9eIT7Zahj4-pgO7isIV3ngwWJ6FGicwyZuZK8_o",
      WP_E_BAD_TOKEN, "token" },
    { "crit header",
      "eyJhbGciOiJIUzI1NiIsImNyaXQiOlsiZXhwIl19.eyJzdWIiOiJ1In0.TtXRMmyj_Tq9_qrASBoNI4yUfoa8cUwubUK2ggq1k3I",
      WP_E_BAD_TOKEN, "crit" },
    { "claims is an array",
      "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.WzEsMl0.zG_6B4VkQ3wNo3mgtkKfkLVS5Y8aWV9LIEwrcl3zP9s",
      WP_E_BAD_TOKEN, "token" },
    { "claims invalid JSON (trailing comma)",
      "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1Iix9.a17O18YbW13YY-0oM7UBpzUwWOTR6BmydM7Yo7W4yGo",
      WP_E_BAD_TOKEN, "token" },
    { "claims with a comment",
      "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1Ii8qeCovfQ.CIYTZTloCc46rmwQjAn87IfqwJSyMDOkuP-pHMHrTGE",
      WP_E_BAD_TOKEN, "token" },
    { "claims with a duplicate sub",
      "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhIiwic3ViIjoiYiJ9.3Z6kK173Lgo7t2LkLslaOCU5jHzZR_p9Zv2Z-H8IvVM",
      WP_E_BAD_TOKEN, "token" },
    { "no sub",
      "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJuYW1lIjoieCJ9.P4o-E5l5QUDF8I_ZxnyPCA0tzXr-HwrUxpsBgHN-q5E",
      WP_E_TOKEN_NO_USER, "sub" },
    { "empty sub",
      "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIifQ.5HvMjQY5kzsPuCopUlbQkpJEph2VnOANnMlhXzXta28",
      WP_E_TOKEN_NO_USER, "sub" },
    { "fractional sub",
      "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOjEuNX0.FyXjxnhP_2JQsBR2URg9laGTRgnnT_aa3FK2EYN56BI",
      WP_E_BAD_TOKEN, "sub" },
    { "object sub",
      "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOnsiaWQiOjF9fQ.DK4LxljL2YBN_kHRasskVoEqspF4P0bMpVNYXPF9SIE",
      WP_E_BAD_TOKEN, "sub" },
    { "sub with a newline",
      "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhXG5iIn0.Elr_56chChFj4MRYO-M9KaMovTWuc9BWtjvO3H8kH94",
      WP_E_BAD_TOKEN, "sub" },
    { "exp as a string",
      "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1IiwiZXhwIjoiMTcwMDAwMzYwMCJ9.o2fP77M8nwcHOBio0CuCtpSJx7mYBc72Re43JQ2BTDU",
      WP_E_BAD_TOKEN, "exp" },
    { "expired",
      EXP_ONLY, WP_E_TOKEN_EXPIRED, "exp" },
    { "role a number",
      "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1Iiwicm9sZSI6N30.rdPg-wCOQm_M9uTqWt4c0J-DihVasf1GT1fvFy5QSqk",
      WP_E_BAD_TOKEN, "role" },
    { "wrong secret (jwt.io token)", JWTIO, WP_E_TOKEN_SIGNATURE, "token" },
    { "tampered claims (sub admin, signature of GOOD)",
      "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhZG1pbiIsInJvbGUiOiJhZG1pbiJ9."
      "apvbZJ9-TcwfZPCUxprdADk6vAR2XbRz32L7kPY7grY",
      WP_E_TOKEN_SIGNATURE, "token" },
    { "signature one char changed",
      "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
      "eyJzdWIiOiJ1c2VyLTQyIiwicm9sZSI6ImFkbWluIiwiZXhwIjoxNzAwMDAzNjAwLCJuYmYiOjE3MDAwMDAwMDAsImlhdCI6MTcwMDAwMDAwMH0."
      "apvbZJ9-TcwfZPCUxprdADk6vAR2XbRz32L7kPY7grZ",
      WP_E_TOKEN_SIGNATURE, "token" },
    { "signature truncated",
      "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1In0.zvzQ2boBPrxV4zeUyt3Vgyip3Ak0ccLsyv9iJvPx",
      WP_E_TOKEN_SIGNATURE, "token" },
    { "signature empty",
      "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1In0.",
      WP_E_TOKEN_SIGNATURE, "token" },
    { "empty", "", WP_E_BAD_TOKEN, "token" },
    { "one segment", "eyJhbGciOiJIUzI1NiJ9", WP_E_BAD_TOKEN, "token" },
    { "two segments", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1In0", WP_E_BAD_TOKEN,
      "token" },
    { "four segments", "a.b.c.d", WP_E_BAD_TOKEN, "token" },
    { "only dots", "..", WP_E_BAD_TOKEN, "token" },
    { "empty header", ".eyJzdWIiOiJ1In0.abc", WP_E_BAD_TOKEN, "token" },
    { "empty claims", "eyJhbGciOiJIUzI1NiJ9..abc", WP_E_BAD_TOKEN, "token" },
    { "padding char",
      "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1In0=.abc", WP_E_BAD_TOKEN, "token" },
    { "standard base64 char",
      "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1In0+.abc", WP_E_BAD_TOKEN, "token" },
    { "Bearer prefix left on", "Bearer " GOOD, WP_E_BAD_TOKEN, "token" },
    { "trailing newline", GOOD "\n", WP_E_BAD_TOKEN, "token" },
    { "header not base64url (bad length)",
      "eyJhb.eyJzdWIiOiJ1In0.abc", WP_E_BAD_TOKEN, "token" },
    { "header not JSON", "bm90IGpzb24.eyJzdWIiOiJ1In0.abc", WP_E_BAD_TOKEN,
      "token" },
};


static wp_jwt_opts_t
opts_at(int64_t now, int64_t leeway)
{
    wp_jwt_opts_t  o;

    wp_jwt_opts_init(&o);
    o.now = now;
    o.leeway = leeway;

    return o;
}


static int
verify(const char *tok, const char *secret, const wp_jwt_opts_t *o,
    wp_jwt_claims_t *c, wp_err_t *e)
{
    memset(e, 0, sizeof(*e));

    return wp_jwt_hs256_verify(tok, strlen(tok), (const uint8_t *) secret,
                               strlen(secret), o, c, e);
}


static void
test_vectors(void)
{
    int              rc;
    wp_err_t         e;
    wp_jwt_opts_t    o;
    wp_jwt_claims_t  c;

    o = opts_at(NOW, 30);

    rc = verify(JWTIO, "your-256-bit-secret", &o, &c, &e);
    is_int(rc, 0, "jwt.io example verifies (%s)", e.message);
    is_str(c.user, "1234567890", "jwt.io sub");
    ok(c.has_iat && c.iat == 1516239022, "jwt.io iat");
    ok(!c.has_exp && !c.has_nbf, "jwt.io has no exp/nbf");
    is_int(c.nroles, 0, "jwt.io has no roles");

    rc = verify(GOOD, S, &o, &c, &e);
    is_int(rc, 0, "good token verifies");
    is_str(c.user, "user-42", "user id from sub");
    is_int(c.user_len, 7, "user id length");
    ok(wp_jwt_has_role(&c, "admin"), "role admin");
    ok(!wp_jwt_has_role(&c, "Admin"), "roles are case-sensitive");
    ok(!wp_jwt_has_role(&c, "adm"), "no prefix match");
    ok(!wp_jwt_has_role(NULL, "admin"), "NULL claims have no role");

    /* opts NULL: defaults with the current time; GOOD expired in 2023 */
    memset(&e, 0, sizeof(e));
    rc = wp_jwt_hs256_verify(GOOD, strlen(GOOD), (const uint8_t *) S,
                             strlen(S), NULL, NULL, &e);
    is_str(e.code, WP_E_TOKEN_EXPIRED, "defaults use the clock (expired)");

    o.user_claim = "uid";
    o.role_claim = "scope";
    rc = verify(NUMSUB, S, &o, &c, &e);
    is_int(rc, 0, "numeric user claim verifies (%s)", e.message);
    is_str(c.user, "12345678901234567890", "integer id beyond int64 kept as text");
    is_int(c.nroles, 3, "scope string split on spaces");
    ok(wp_jwt_has_role(&c, "read") && wp_jwt_has_role(&c, "write")
       && wp_jwt_has_role(&c, "admin"), "scope roles");

    o = opts_at(NOW, 30);
    rc = verify(NUMSUB, S, &o, &c, &e);
    is_str(e.code, WP_E_TOKEN_NO_USER, "default user claim sub absent");
    is_str(e.field, "sub", "missing user names the claim");
    ok(strstr(e.message, "sub") != NULL, "message names the claim");

    o.role_claim = "roles";
    rc = verify(ROLES_ARR, S, &o, &c, &e);
    is_int(rc, 0, "role array verifies");
    is_int(c.nroles, 2, "two roles");
    ok(wp_jwt_has_role(&c, "editor") && wp_jwt_has_role(&c, "admin"),
       "array roles");
    o.role_claim = NULL;
    rc = verify(ROLES_ARR, S, &o, &c, &e);
    ok(rc == 0 && c.nroles == 0, "role claim absent -> no roles");
}


static void
test_times(void)
{
    wp_err_t         e;
    wp_jwt_opts_t    o;
    wp_jwt_claims_t  c;

    /* exp = 1700000000 */
    o = opts_at(1700000029, 30);
    is_int(verify(EXP_ONLY, S, &o, &c, &e), 0, "exp: inside leeway");
    o = opts_at(1700000030, 30);
    is_str((verify(EXP_ONLY, S, &o, &c, &e), e.code), WP_E_TOKEN_EXPIRED,
           "exp: leeway used up");
    o = opts_at(1699999999, 0);
    is_int(verify(EXP_ONLY, S, &o, &c, &e), 0, "exp: one second left");
    o = opts_at(1700000000, 0);
    is_str((verify(EXP_ONLY, S, &o, &c, &e), e.code), WP_E_TOKEN_EXPIRED,
           "exp: now == exp is expired");
    is_str(e.field, "exp", "expired names exp");
    ok(c.user[0] == '\0', "claims cleared on failure");

    /* fractional exp 1700000000.9 is floored */
    o = opts_at(1699999999, 0);
    is_int(verify(EXP_FRAC, S, &o, &c, &e), 0, "fractional exp accepted");
    o = opts_at(1700000000, 0);
    is_str((verify(EXP_FRAC, S, &o, &c, &e), e.code), WP_E_TOKEN_EXPIRED,
           "fractional exp floored");

    /* nbf = 1700000000 */
    o = opts_at(1699999970, 30);
    is_int(verify(NBF_ONLY, S, &o, &c, &e), 0, "nbf: inside leeway");
    o = opts_at(1699999969, 30);
    is_str((verify(NBF_ONLY, S, &o, &c, &e), e.code),
           WP_E_TOKEN_NOT_YET_VALID, "nbf: too early");
    is_str(e.field, "nbf", "not-yet-valid names nbf");
    o = opts_at(1700000000, 0);
    is_int(verify(NBF_ONLY, S, &o, &c, &e), 0, "nbf: now == nbf is valid");

    /* GOOD: nbf 1700000000 exp 1700003600 */
    o = opts_at(NOW, 30);
    o.require_exp = 1;
    is_int(verify(GOOD, S, &o, &c, &e), 0, "require_exp with exp");
    is_str((verify(NBF_ONLY, S, &o, &c, &e), e.code), WP_E_BAD_TOKEN,
           "require_exp without exp");
    is_str(e.field, "exp", "require_exp names exp");
}


static void
test_bad_table(void)
{
    size_t           i;
    wp_err_t         e;
    wp_jwt_opts_t    o;
    wp_jwt_claims_t  c;

    o = opts_at(NOW, 30);

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int  rc = verify(bad[i].token, S, &o, &c, &e);

        ok(rc == -1, "%s: rejected", bad[i].name);
        is_str(e.code, bad[i].code, "%s: code", bad[i].name);
        is_str(e.field, bad[i].field, "%s: field", bad[i].name);
        ok(e.message[0] != '\0' && strstr(e.message, bad[i].field) != NULL,
           "%s: message names the field (%s)", bad[i].name, e.message);
    }
}


static void
test_limits(void)
{
    char             big[WP_JWT_MAX_TOKEN + 2];
    wp_err_t         e;
    wp_jwt_opts_t    o;

    o = opts_at(NOW, 30);

    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    big[10] = '.';
    big[20] = '.';
    memset(&e, 0, sizeof(e));
    ok(wp_jwt_hs256_verify(big, WP_JWT_MAX_TOKEN + 1, (const uint8_t *) S,
                           strlen(S), &o, NULL, &e) == -1
       && strcmp(e.code, WP_E_BAD_TOKEN) == 0
       && strstr(e.message, "8192") != NULL, "token over 8 KiB");

    memset(&e, 0, sizeof(e));
    ok(wp_jwt_hs256_verify(GOOD, strlen(GOOD), (const uint8_t *) "", 0, &o,
                           NULL, &e) == -1
       && strcmp(e.code, WP_E_BAD_KEY) == 0, "empty secret refused");

    memset(&e, 0, sizeof(e));
    ok(wp_jwt_hs256_verify(NULL, 0, (const uint8_t *) S, strlen(S), &o,
                           NULL, &e) == -1
       && strcmp(e.code, WP_E_BAD_TOKEN) == 0, "NULL token refused");
}


static void
test_sign(void)
{
    int              rc;
    char             tok[WP_JWT_MAX_TOKEN + 1], small[40];
    size_t           n;
    wp_err_t         e;
    wp_jwt_opts_t    o;
    wp_jwt_claims_t  c;

    static const char  jwtio_claims[] =
        "{\"sub\":\"1234567890\",\"name\":\"John Doe\",\"iat\":1516239022}";
    static const char  mine[] =
        "{\"sub\":\"op-1\",\"role\":[\"admin\"],\"exp\":1700003600}";

    memset(&e, 0, sizeof(e));
    rc = wp_jwt_hs256_sign((const uint8_t *) "your-256-bit-secret", 19,
                           jwtio_claims, sizeof(jwtio_claims) - 1, tok,
                           sizeof(tok), &n, &e);
    is_int(rc, 0, "sign jwt.io claims");
    is_str(tok, JWTIO, "signing reproduces the jwt.io token");
    is_int(n, strlen(JWTIO), "reported length");

    rc = wp_jwt_hs256_sign((const uint8_t *) S, strlen(S), mine,
                           sizeof(mine) - 1, tok, sizeof(tok), &n, &e);
    is_int(rc, 0, "sign own claims");
    o = opts_at(NOW, 30);
    rc = verify(tok, S, &o, &c, &e);
    ok(rc == 0 && strcmp(c.user, "op-1") == 0 && wp_jwt_has_role(&c, "admin"),
       "sign then verify round-trips");
    is_str((verify(tok, "other", &o, &c, &e), e.code), WP_E_TOKEN_SIGNATURE,
           "other secret does not verify");

    memset(&e, 0, sizeof(e));
    rc = wp_jwt_hs256_sign((const uint8_t *) S, strlen(S), mine,
                           sizeof(mine) - 1, small, sizeof(small), &n, &e);
    ok(rc == -1 && strcmp(e.code, WP_E_BUFFER) == 0, "small buffer refused");

    memset(&e, 0, sizeof(e));
    rc = wp_jwt_hs256_sign((const uint8_t *) S, strlen(S), "[1]", 3, tok,
                           sizeof(tok), &n, &e);
    ok(rc == -1 && strcmp(e.code, WP_E_BAD_JSON) == 0
       && strcmp(e.field, "claims") == 0, "non-object claims refused");

    memset(&e, 0, sizeof(e));
    rc = wp_jwt_hs256_sign((const uint8_t *) S, strlen(S), "{\"a\":", 5, tok,
                           sizeof(tok), &n, &e);
    ok(rc == -1 && strcmp(e.code, WP_E_BAD_JSON) == 0, "broken claims refused");

    memset(&e, 0, sizeof(e));
    rc = wp_jwt_hs256_sign((const uint8_t *) S, 0, mine, sizeof(mine) - 1,
                           tok, sizeof(tok), &n, &e);
    ok(rc == -1 && strcmp(e.code, WP_E_BAD_KEY) == 0, "sign: empty secret");
}


int
main(void)
{
    test_vectors();
    test_times();
    test_bad_table();
    test_limits();
    test_sign();

    return tap_done();
}
