/* Unit tests for lib/subscription.c. */

#include <stdlib.h>
#include <string.h>

#include "subscription.h"
#include "tap.h"

/* the reference document's toJSON() example (a real Chrome key) */
#define EP      "https://fcm.googleapis.com/fcm/send/d61c5u920dw:APA91b"
#define P256    "BL7ELU24fJTAlH5Kyl8N6BDCac8u8li_U5PIwG963MOvdYs9s7LSzj8x_7v7RFdLZ9Eap50PiiyF5K0TDAis7t0"
#define P256STD "BL7ELU24fJTAlH5Kyl8N6BDCac8u8li/U5PIwG963MOvdYs9s7LSzj8x/7v7RFdLZ9Eap50PiiyF5K0TDAis7t0="
#define AUTH    "juarI8x__VnHvsOgfeAPHg"
#define AUTHSTD "juarI8x//VnHvsOgfeAPHg=="
/* RFC 8291 Appendix A ua_public */
#define P256RFC "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4"
/* P256 with the last bit of Y flipped: off the curve */
#define P256OFF "BL7ELU24fJTAlH5Kyl8N6BDCac8u8li_U5PIwG963MOvdYs9s7LSzj8x_7v7RFdLZ9Eap50PiiyF5K0TDAis7tw"
#define P256_05 "Bb7ELU24fJTAlH5Kyl8N6BDCac8u8li_U5PIwG963MOvdYs9s7LSzj8x_7v7RFdLZ9Eap50PiiyF5K0TDAis7t0"
#define P256CMP "Ar7ELU24fJTAlH5Kyl8N6BDCac8u8li_U5PIwG963MOv"
#define P256ZER "BAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
#define P256XP  "BP____8AAAABAAAAAAAAAAAAAAAA________________dYs9s7LSzj8x_7v7RFdLZ9Eap50PiiyF5K0TDAis7t0"

#define SUB(ep, exp, keys, extra) \
    "{\"endpoint\":" ep ",\"expirationTime\":" exp ",\"keys\":" keys extra "}"
#define KEYS(p, a)  "{\"p256dh\":" p ",\"auth\":" a "}"
#define Q(s)        "\"" s "\""
#define GOODKEYS    KEYS(Q(P256), Q(AUTH))

#define NOW_MS  1700000000000LL

typedef struct {
    const char  *name;
    const char  *body;
    const char  *code;
    const char  *field;
} bad_case_t;

static const bad_case_t  bad[] = {
    { "not JSON", "{endpoint}", WP_E_BAD_JSON, "" },
    { "empty body", "", WP_E_BAD_JSON, "" },
    { "trailing garbage", SUB(Q(EP), "null", GOODKEYS, "") "x", WP_E_BAD_JSON, "" },
    { "array", "[1]", WP_E_BAD_JSON, "" },
    { "string", "\"x\"", WP_E_BAD_JSON, "" },
    { "null", "null", WP_E_BAD_JSON, "" },
    { "duplicate endpoint",
      "{\"endpoint\":" Q(EP) ",\"endpoint\":\"https://evil.com/\",\"keys\":" GOODKEYS "}",
      WP_E_BAD_JSON, "" },
    { "comment", SUB(Q(EP), "null /* x */", GOODKEYS, ""), WP_E_BAD_JSON, "" },
    { "no endpoint", "{\"keys\":" GOODKEYS "}", WP_E_MISSING_FIELD, "endpoint" },
    { "endpoint null", SUB("null", "null", GOODKEYS, ""), WP_E_BAD_TYPE, "endpoint" },
    { "endpoint number", SUB("1", "null", GOODKEYS, ""), WP_E_BAD_TYPE, "endpoint" },
    { "endpoint http", SUB(Q("http://fcm.googleapis.com/x"), "null", GOODKEYS, ""),
      WP_E_BAD_ENDPOINT, "endpoint" },
    { "endpoint userinfo", SUB(Q("https://fcm.googleapis.com@evil.com/"), "null",
      GOODKEYS, ""), WP_E_BAD_ENDPOINT, "endpoint" },
    { "endpoint with U+0000", SUB(Q("https://fcm.googleapis.com/x\\u0000y"), "null",
      GOODKEYS, ""), WP_E_BAD_JSON, "" },
    { "endpoint not allowed", SUB(Q("https://evil.com/x"), "null", GOODKEYS, ""),
      WP_E_ENDPOINT_NOT_ALLOWED, "endpoint" },
    { "endpoint IP", SUB(Q("https://127.0.0.1/x"), "null", GOODKEYS, ""),
      WP_E_ENDPOINT_NOT_ALLOWED, "endpoint" },
    { "expirationTime string", SUB(Q(EP), "\"1700000000000\"", GOODKEYS, ""),
      WP_E_BAD_TYPE, "expirationTime" },
    { "expirationTime bool", SUB(Q(EP), "true", GOODKEYS, ""),
      WP_E_BAD_TYPE, "expirationTime" },
    { "expirationTime negative", SUB(Q(EP), "-1", GOODKEYS, ""),
      WP_E_BAD_VALUE, "expirationTime" },
    { "expirationTime -0.5", SUB(Q(EP), "-0.5", GOODKEYS, ""),
      WP_E_BAD_VALUE, "expirationTime" },
    { "expirationTime year 10000", SUB(Q(EP), "253402300800000", GOODKEYS, ""),
      WP_E_BAD_VALUE, "expirationTime" },
    { "expirationTime huge", SUB(Q(EP), "1e300", GOODKEYS, ""),
      WP_E_BAD_VALUE, "expirationTime" },
    { "expirationTime overflow", SUB(Q(EP), "99999999999999999999999", GOODKEYS, ""),
      WP_E_BAD_VALUE, "expirationTime" },
    { "no keys", "{\"endpoint\":" Q(EP) "}", WP_E_MISSING_FIELD, "keys" },
    { "keys array", SUB(Q(EP), "null", "[]", ""), WP_E_BAD_TYPE, "keys" },
    { "keys null", SUB(Q(EP), "null", "null", ""), WP_E_BAD_TYPE, "keys" },
    { "no p256dh", SUB(Q(EP), "null", "{\"auth\":" Q(AUTH) "}", ""),
      WP_E_MISSING_FIELD, "keys.p256dh" },
    { "no auth", SUB(Q(EP), "null", "{\"p256dh\":" Q(P256) "}", ""),
      WP_E_MISSING_FIELD, "keys.auth" },
    { "p256dh number", SUB(Q(EP), "null", KEYS("5", Q(AUTH)), ""),
      WP_E_BAD_TYPE, "keys.p256dh" },
    { "p256dh bad char", SUB(Q(EP), "null", KEYS(Q("BL7E*LU2"), Q(AUTH)), ""),
      WP_E_BAD_BASE64, "keys.p256dh" },
    { "p256dh bad length", SUB(Q(EP), "null", KEYS(Q("BL7EL"), Q(AUTH)), ""),
      WP_E_BAD_BASE64, "keys.p256dh" },
    { "p256dh empty", SUB(Q(EP), "null", KEYS(Q(""), Q(AUTH)), ""),
      WP_E_BAD_KEY, "keys.p256dh" },
    { "p256dh off curve", SUB(Q(EP), "null", KEYS(Q(P256OFF), Q(AUTH)), ""),
      WP_E_BAD_KEY, "keys.p256dh" },
    { "p256dh prefix 0x05", SUB(Q(EP), "null", KEYS(Q(P256_05), Q(AUTH)), ""),
      WP_E_BAD_KEY, "keys.p256dh" },
    { "p256dh compressed", SUB(Q(EP), "null", KEYS(Q(P256CMP), Q(AUTH)), ""),
      WP_E_BAD_KEY, "keys.p256dh" },
    { "p256dh zero point", SUB(Q(EP), "null", KEYS(Q(P256ZER), Q(AUTH)), ""),
      WP_E_BAD_KEY, "keys.p256dh" },
    { "p256dh x = p", SUB(Q(EP), "null", KEYS(Q(P256XP), Q(AUTH)), ""),
      WP_E_BAD_KEY, "keys.p256dh" },
    { "p256dh very long", SUB(Q(EP), "null", KEYS(Q(P256 P256 P256), Q(AUTH)), ""),
      WP_E_BAD_KEY, "keys.p256dh" },
    { "auth 15 bytes", SUB(Q(EP), "null", KEYS(Q(P256), Q("juarI8x__VnHvsOgfeAP")), ""),
      WP_E_BAD_KEY, "keys.auth" },
    { "auth 17 bytes", SUB(Q(EP), "null", KEYS(Q(P256), Q("juarI8x__VnHvsOgfeAPHng")), ""),
      WP_E_BAD_KEY, "keys.auth" },
    { "auth bad base64", SUB(Q(EP), "null", KEYS(Q(P256), Q("juarI8x__VnHvsOgfeAPH!")), ""),
      WP_E_BAD_BASE64, "keys.auth" },
    { "auth non-canonical bits", SUB(Q(EP), "null", KEYS(Q(P256), Q("juarI8x__VnHvsOgfeAPHh")), ""),
      WP_E_BAD_BASE64, "keys.auth" },
    { "auth array", SUB(Q(EP), "null", KEYS(Q(P256), "[]"), ""),
      WP_E_BAD_TYPE, "keys.auth" },
    { "topics string", SUB(Q(EP), "null", GOODKEYS, ",\"topics\":\"event:1\""),
      WP_E_BAD_TYPE, "topics" },
    { "topics number item", SUB(Q(EP), "null", GOODKEYS, ",\"topics\":[\"a\",\"b\",\"c\",4]"),
      WP_E_BAD_TYPE, "topics[3]" },
    { "topics empty item", SUB(Q(EP), "null", GOODKEYS, ",\"topics\":[\"a\",\"\"]"),
      WP_E_BAD_VALUE, "topics[1]" },
    { "topics space", SUB(Q(EP), "null", GOODKEYS, ",\"topics\":[\"event 1\"]"),
      WP_E_BAD_VALUE, "topics[0]" },
    { "topics slash", SUB(Q(EP), "null", GOODKEYS, ",\"topics\":[\"a/b\"]"),
      WP_E_BAD_VALUE, "topics[0]" },
    { "topics non-ASCII", SUB(Q(EP), "null", GOODKEYS, ",\"topics\":[\"caf\\u00e9\"]"),
      WP_E_BAD_VALUE, "topics[0]" },
    { "topics 129 chars", SUB(Q(EP), "null", GOODKEYS, ",\"topics\":[\""
      "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
      "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"]"),
      WP_E_TOO_LONG, "topics[0]" },
};


static int
parse(const char *body, wp_subscription_t *s, wp_err_t *e)
{
    memset(e, 0, sizeof(*e));

    return wp_subscription_parse(body, strlen(body), NULL, NOW_MS, s, e);
}


static void
test_good(void)
{
    wp_err_t           e;
    wp_subscription_t  s;

    ok(parse(SUB(Q(EP), "null", GOODKEYS, ""), &s, &e) == 0,
       "toJSON() example accepted (%s)", e.message);
    is_str(s.endpoint, EP, "endpoint kept");
    is_int(s.endpoint_len, strlen(EP), "endpoint length");
    is_str(s.url.origin, "https://fcm.googleapis.com", "origin");
    is_int(s.expiration_ms, -1, "no expiration");
    ok(!s.expired, "not expired");
    is_str(s.p256dh, P256, "p256dh canonical");
    is_str(s.auth, AUTH, "auth canonical");
    ok(s.p256dh_raw[0] == 0x04 && s.auth_raw[0] == 0x8e, "raw keys");
    ok(!s.has_topics && s.ntopics == 0 && s.topics == NULL, "no topics");
    wp_subscription_free(&s);
    ok(s.endpoint == NULL, "free clears");
    wp_subscription_free(&s);

    /* standard base64 with padding, as older clients send */
    ok(parse(SUB(Q(EP), "1800000000000", KEYS(Q(P256STD), Q(AUTHSTD)),
                 ",\"unknown\":{\"x\":[1,2]},\"topics\":null"), &s, &e) == 0,
       "standard base64 keys, unknown member (%s)", e.message);
    is_str(s.p256dh, P256, "p256dh re-encoded as b64url");
    is_str(s.auth, AUTH, "auth re-encoded as b64url");
    is_int(s.expiration_ms, 1800000000000LL, "expirationTime kept");
    ok(!s.expired, "future expirationTime not expired");
    ok(!s.has_topics, "topics null = absent");
    wp_subscription_free(&s);

    /* an expirationTime in the past is accepted and recorded */
    ok(parse(SUB(Q(EP), "1600000000000.5", KEYS(Q(P256RFC), Q(AUTH)), ""),
             &s, &e) == 0, "past fractional expirationTime accepted");
    is_int(s.expiration_ms, 1600000000000LL, "fraction dropped");
    ok(s.expired, "recorded as expired");
    is_str(s.p256dh, P256RFC, "RFC 8291 key");
    wp_subscription_free(&s);

    ok(parse(SUB(Q(EP), "1700000000000", GOODKEYS, ""), &s, &e) == 0
       && s.expired, "expirationTime == now is expired");
    wp_subscription_free(&s);

    /* topics: kept in order, duplicates dropped, empty list kept as "set" */
    ok(parse(SUB(Q(EP), "null", GOODKEYS,
                 ",\"topics\":[\"event:123\",\"user.7_x-y\",\"event:123\"]"),
             &s, &e) == 0, "topics accepted (%s)", e.message);
    ok(s.has_topics && s.ntopics == 2, "duplicate topic dropped");
    ok(s.ntopics == 2 && strcmp(s.topics[0], "event:123") == 0
       && strcmp(s.topics[1], "user.7_x-y") == 0, "topics in order");
    wp_subscription_free(&s);

    ok(parse(SUB(Q(EP), "null", GOODKEYS, ",\"topics\":[]"), &s, &e) == 0
       && s.has_topics && s.ntopics == 0, "empty topics = follow nothing");
    wp_subscription_free(&s);

    /* expirationTime may be left out altogether */
    ok(parse("{\"keys\":" GOODKEYS ",\"endpoint\":"
             Q("https://web.push.apple.com/QGuQ") "}", &s, &e) == 0
       && s.expiration_ms == -1, "no expirationTime member");
    wp_subscription_free(&s);
}


static void
test_bad(void)
{
    size_t             i;
    wp_err_t           e;
    wp_subscription_t  s;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int  rc = parse(bad[i].body, &s, &e);

        ok(rc == -1, "%s: rejected", bad[i].name);
        is_str(e.code, bad[i].code, "%s: code (%s)", bad[i].name, e.message);
        is_str(e.field, bad[i].field, "%s: field", bad[i].name);
        ok(e.message[0] != '\0' && strstr(e.message, bad[i].field) != NULL,
           "%s: message names the field", bad[i].name);
        ok(s.endpoint == NULL && s.topics == NULL, "%s: nothing to free",
           bad[i].name);
    }
}


static void
test_limits(void)
{
    char                   *body;
    size_t                  i, n;
    wp_err_t                e;
    wp_subscription_t       s;
    wp_endpoint_policy_t   *pol;

    /* 65 topics */
    body = malloc(WP_SUB_MAX_BODY * 2);
    n = (size_t) sprintf(body, "%s", "{\"endpoint\":" Q(EP) ",\"keys\":"
                         GOODKEYS ",\"topics\":[");
    for (i = 0; i < WP_SUB_MAX_TOPICS + 1; i++) {
        n += (size_t) sprintf(body + n, "%s\"t%zu\"", i ? "," : "", i);
    }
    strcpy(body + n, "]}");

    ok(parse(body, &s, &e) == -1 && strcmp(e.code, WP_E_TOO_MANY) == 0
       && strcmp(e.field, "topics") == 0, "65 topics refused");

    /* 64 are fine */
    n = (size_t) sprintf(body, "%s", "{\"endpoint\":" Q(EP) ",\"keys\":"
                         GOODKEYS ",\"topics\":[");
    for (i = 0; i < WP_SUB_MAX_TOPICS; i++) {
        n += (size_t) sprintf(body + n, "%s\"t%zu\"", i ? "," : "", i);
    }
    strcpy(body + n, "]}");
    ok(parse(body, &s, &e) == 0 && s.ntopics == 64, "64 topics accepted");
    wp_subscription_free(&s);

    /* body over 8 KiB, even if valid JSON */
    n = (size_t) sprintf(body, "%s", "{\"endpoint\":" Q(EP) ",\"keys\":"
                         GOODKEYS ",\"pad\":\"");
    memset(body + n, 'x', WP_SUB_MAX_BODY);
    strcpy(body + n + WP_SUB_MAX_BODY, "\"}");
    ok(parse(body, &s, &e) == -1 && strcmp(e.code, WP_E_TOO_LONG) == 0
       && strstr(e.message, "8192") != NULL, "body over 8 KiB");

    /* deep nesting in an ignored member is still bounded */
    n = (size_t) sprintf(body, "%s", "{\"endpoint\":" Q(EP) ",\"keys\":"
                         GOODKEYS ",\"x\":");
    for (i = 0; i < 100; i++) {
        body[n++] = '[';
    }
    for (i = 0; i < 100; i++) {
        body[n++] = ']';
    }
    strcpy(body + n, "}");
    ok(parse(body, &s, &e) == -1 && strcmp(e.code, WP_E_BAD_JSON) == 0
       && strstr(e.message, "deep") != NULL, "deep nesting refused (%s)",
       e.message);
    free(body);

    /* custom policy */
    ok(wp_endpoint_policy_parse("127.0.0.1:8443", &pol, &e) == 0, "policy");
    {
        static const char  b[] = SUB(Q("https://127.0.0.1:8443/push/abc"),
                                     "null", GOODKEYS, "");

        memset(&e, 0, sizeof(e));
        ok(wp_subscription_parse(b, sizeof(b) - 1, pol, NOW_MS, &s, &e) == 0
           && strcmp(s.url.origin, "https://127.0.0.1:8443") == 0,
           "custom policy allows the test push service");
        wp_subscription_free(&s);

        ok(wp_subscription_parse(SUB(Q(EP), "null", GOODKEYS, ""),
                                 strlen(SUB(Q(EP), "null", GOODKEYS, "")),
                                 pol, NOW_MS, &s, &e) == -1
           && strcmp(e.code, WP_E_ENDPOINT_NOT_ALLOWED) == 0,
           "custom policy replaces the default");
    }
    wp_endpoint_policy_free(pol);

    ok(wp_topic_name_check("event:123", 9, "topic", &e) == 0,
       "wp_topic_name_check good");
    ok(wp_topic_name_check("a b", 3, "topic", &e) == -1
       && strcmp(e.field, "topic") == 0, "wp_topic_name_check bad");
}


int
main(void)
{
    test_good();
    test_bad();
    test_limits();

    return tap_done();
}
