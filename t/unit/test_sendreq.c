/*
 * Unit tests for lib/sendreq.c.  Expected epoch values were computed with
 * python3's datetime, not with this code.
 */

#include <stdlib.h>
#include <string.h>

#include "sendreq.h"
#include "tap.h"

#define NOW_MS  1767225600000LL     /* 2026-01-01T00:00:00Z */

#define REQ(to, extra) \
    "{\"type\":\"event_update\",\"to\":" to ",\"payload\":{\"t\":1}" extra "}"
#define USER    "{\"userId\":\"u1\"}"

typedef struct {
    const char  *name;
    const char  *body;
    const char  *code;
    const char  *field;
} bad_case_t;

static const bad_case_t  bad[] = {
    { "not JSON", "{type}", WP_E_BAD_JSON, "" },
    { "empty", "", WP_E_BAD_JSON, "" },
    { "array", "[]", WP_E_BAD_JSON, "" },
    { "duplicate ttl", REQ(USER, ",\"ttl\":1,\"ttl\":2"), WP_E_BAD_JSON, "" },
    { "unknown ttL", REQ(USER, ",\"ttL\":60"), WP_E_UNKNOWN_FIELD, "ttL" },
    { "unknown userId at top", REQ(USER, ",\"userId\":\"u\""),
      WP_E_UNKNOWN_FIELD, "userId" },
    { "unknown v in a request", REQ(USER, ",\"v\":1"), WP_E_UNKNOWN_FIELD, "v" },
    { "no type", "{\"to\":" USER ",\"payload\":{}}", WP_E_MISSING_FIELD, "type" },
    { "type number", "{\"type\":1,\"to\":" USER ",\"payload\":{}}",
      WP_E_BAD_TYPE, "type" },
    { "type empty", "{\"type\":\"\",\"to\":" USER ",\"payload\":{}}",
      WP_E_BAD_VALUE, "type" },
    { "type space", "{\"type\":\"event update\",\"to\":" USER ",\"payload\":{}}",
      WP_E_BAD_VALUE, "type" },
    { "type 65 chars", "{\"type\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\","
      "\"to\":" USER ",\"payload\":{}}", WP_E_TOO_LONG, "type" },
    { "eventId object", REQ(USER, ",\"eventId\":{}"), WP_E_BAD_TYPE, "eventId" },
    { "eventId float", REQ(USER, ",\"eventId\":1.5"), WP_E_BAD_TYPE, "eventId" },
    { "eventId empty", REQ(USER, ",\"eventId\":\"\""), WP_E_BAD_VALUE, "eventId" },
    { "eventId newline", REQ(USER, ",\"eventId\":\"a\\nb\""), WP_E_BAD_VALUE,
      "eventId" },
    { "no to", "{\"type\":\"x\",\"payload\":{}}", WP_E_MISSING_FIELD, "to" },
    { "to string", REQ("\"u1\"", ""), WP_E_BAD_TYPE, "to" },
    { "to empty", REQ("{}", ""), WP_E_MISSING_FIELD, "to" },
    { "to two targets", REQ("{\"userId\":\"a\",\"all\":true}", ""),
      WP_E_BAD_VALUE, "to" },
    { "to unknown", REQ("{\"userid\":\"a\"}", ""), WP_E_UNKNOWN_FIELD,
      "to.userid" },
    { "to.userId null", REQ("{\"userId\":null}", ""), WP_E_BAD_TYPE,
      "to.userId" },
    { "to.userId empty", REQ("{\"userId\":\"\"}", ""), WP_E_BAD_VALUE,
      "to.userId" },
    { "to.userId float", REQ("{\"userId\":1.0}", ""), WP_E_BAD_TYPE,
      "to.userId" },
    { "to.userId tab", REQ("{\"userId\":\"a\\tb\"}", ""), WP_E_BAD_VALUE,
      "to.userId" },
    { "to.userIds string", REQ("{\"userIds\":\"a\"}", ""), WP_E_BAD_TYPE,
      "to.userIds" },
    { "to.userIds empty", REQ("{\"userIds\":[]}", ""), WP_E_BAD_VALUE,
      "to.userIds" },
    { "to.userIds[2] bool", REQ("{\"userIds\":[\"a\",\"b\",true]}", ""),
      WP_E_BAD_TYPE, "to.userIds[2]" },
    { "to.userIds too many", REQ("{\"userIds\":[1,2,3,4,5,6]}", ""),
      WP_E_TOO_MANY, "to.userIds" },
    { "to.topic number", REQ("{\"topic\":5}", ""), WP_E_BAD_TYPE, "to.topic" },
    { "to.topic space", REQ("{\"topic\":\"event 1\"}", ""), WP_E_BAD_VALUE,
      "to.topic" },
    { "to.all false", REQ("{\"all\":false}", ""), WP_E_BAD_VALUE, "to.all" },
    { "to.all string", REQ("{\"all\":\"true\"}", ""), WP_E_BAD_TYPE, "to.all" },
    { "no payload", "{\"type\":\"x\",\"to\":" USER "}", WP_E_MISSING_FIELD,
      "payload" },
    { "payload string", "{\"type\":\"x\",\"to\":" USER ",\"payload\":\"hi\"}",
      WP_E_BAD_TYPE, "payload" },
    { "payload array", "{\"type\":\"x\",\"to\":" USER ",\"payload\":[1]}",
      WP_E_BAD_TYPE, "payload" },
    { "payload null", "{\"type\":\"x\",\"to\":" USER ",\"payload\":null}",
      WP_E_BAD_TYPE, "payload" },
    { "ttl negative", REQ(USER, ",\"ttl\":-1"), WP_E_BAD_VALUE, "ttl" },
    { "ttl 28 d + 1", REQ(USER, ",\"ttl\":2419201"), WP_E_BAD_VALUE, "ttl" },
    { "ttl huge", REQ(USER, ",\"ttl\":99999999999999999999"), WP_E_BAD_VALUE,
      "ttl" },
    { "ttl fraction", REQ(USER, ",\"ttl\":1.5"), WP_E_BAD_TYPE, "ttl" },
    { "ttl exponent", REQ(USER, ",\"ttl\":1e3"), WP_E_BAD_TYPE, "ttl" },
    { "ttl string", REQ(USER, ",\"ttl\":\"60\""), WP_E_BAD_TYPE, "ttl" },
    { "urgency case", REQ(USER, ",\"urgency\":\"High\""), WP_E_BAD_VALUE,
      "urgency" },
    { "urgency very_low", REQ(USER, ",\"urgency\":\"very_low\""),
      WP_E_BAD_VALUE, "urgency" },
    { "urgency number", REQ(USER, ",\"urgency\":3"), WP_E_BAD_TYPE, "urgency" },
    { "topic empty", REQ(USER, ",\"topic\":\"\""), WP_E_BAD_VALUE, "topic" },
    { "topic 1 char (4k+1)", REQ(USER, ",\"topic\":\"a\""), WP_E_BAD_VALUE,
      "topic" },
    { "topic 5 chars (4k+1)", REQ(USER, ",\"topic\":\"abcde\""),
      WP_E_BAD_VALUE, "topic" },
    { "topic 33 chars", REQ(USER, ",\"topic\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\""),
      WP_E_TOO_LONG, "topic" },
    { "topic colon", REQ(USER, ",\"topic\":\"ev:1\""), WP_E_BAD_VALUE, "topic" },
    { "topic padding", REQ(USER, ",\"topic\":\"abc=\""), WP_E_BAD_VALUE,
      "topic" },
    { "topic array", REQ(USER, ",\"topic\":[]"), WP_E_BAD_TYPE, "topic" },
    { "sendAt no zone", REQ(USER, ",\"sendAt\":\"2026-01-02T03:04:05\""),
      WP_E_BAD_VALUE, "sendAt" },
    { "sendAt space", REQ(USER, ",\"sendAt\":\"2026-01-02 03:04:05Z\""),
      WP_E_BAD_VALUE, "sendAt" },
    { "sendAt date only", REQ(USER, ",\"sendAt\":\"2026-01-02\""),
      WP_E_BAD_VALUE, "sendAt" },
    { "sendAt Feb 30", REQ(USER, ",\"sendAt\":\"2026-02-30T00:00:00Z\""),
      WP_E_BAD_VALUE, "sendAt" },
    { "sendAt Feb 29 2026", REQ(USER, ",\"sendAt\":\"2026-02-29T00:00:00Z\""),
      WP_E_BAD_VALUE, "sendAt" },
    { "sendAt hour 24", REQ(USER, ",\"sendAt\":\"2026-01-02T24:00:00Z\""),
      WP_E_BAD_VALUE, "sendAt" },
    { "sendAt month 13", REQ(USER, ",\"sendAt\":\"2026-13-02T00:00:00Z\""),
      WP_E_BAD_VALUE, "sendAt" },
    { "sendAt offset no colon", REQ(USER, ",\"sendAt\":\"2026-01-02T03:04:05+0100\""),
      WP_E_BAD_VALUE, "sendAt" },
    { "sendAt empty fraction", REQ(USER, ",\"sendAt\":\"2026-01-02T03:04:05.Z\""),
      WP_E_BAD_VALUE, "sendAt" },
    { "sendAt trailing junk", REQ(USER, ",\"sendAt\":\"2026-01-02T03:04:05Zx\""),
      WP_E_BAD_VALUE, "sendAt" },
    { "sendAt 31 d ahead", REQ(USER, ",\"sendAt\":\"2026-02-01T00:00:00Z\""),
      WP_E_BAD_VALUE, "sendAt" },
    { "sendAt 30 d + 0.5 s", REQ(USER, ",\"sendAt\":\"2026-01-31T00:00:00.5Z\""),
      WP_E_BAD_VALUE, "sendAt" },
    { "sendAt ms beyond horizon", REQ(USER, ",\"sendAt\":1769817600001"),
      WP_E_BAD_VALUE, "sendAt" },
    { "sendAt negative", REQ(USER, ",\"sendAt\":-1"), WP_E_BAD_VALUE, "sendAt" },
    { "sendAt fractional ms", REQ(USER, ",\"sendAt\":1767225600000.5"),
      WP_E_BAD_TYPE, "sendAt" },
    { "sendAt bool", REQ(USER, ",\"sendAt\":true"), WP_E_BAD_TYPE, "sendAt" },
};


static wp_send_limits_t
limits(void)
{
    wp_send_limits_t  l;

    wp_send_limits_init(&l);
    l.now_ms = NOW_MS;
    l.ttl_default = 3600;
    l.max_user_ids = 5;

    return l;
}


static int
parse(const char *body, wp_send_req_t *r, wp_err_t *e)
{
    wp_send_limits_t  l = limits();

    memset(e, 0, sizeof(*e));

    return wp_send_req_parse(body, strlen(body), &l, r, e);
}


/* Field-by-field equality of two parsed requests. */
static int
same_req(const wp_send_req_t *a, const wp_send_req_t *b)
{
    size_t  i;

    if (strcmp(a->id, b->id) != 0
        || strcmp(a->type, b->type) != 0 || a->to != b->to
        || a->n_user_ids != b->n_user_ids || a->ttl != b->ttl
        || a->urgency != b->urgency || strcmp(a->topic, b->topic) != 0
        || a->send_at_ms != b->send_at_ms
        || a->created_at_ms != b->created_at_ms
        || a->payload_len != b->payload_len
        || strcmp(a->payload, b->payload) != 0
        || (a->event_id == NULL) != (b->event_id == NULL)
        || (a->event_id && strcmp(a->event_id, b->event_id) != 0)
        || (a->to_topic == NULL) != (b->to_topic == NULL)
        || (a->to_topic && strcmp(a->to_topic, b->to_topic) != 0))
    {
        return 0;
    }

    for (i = 0; i < a->n_user_ids; i++) {
        if (strcmp(a->user_ids[i], b->user_ids[i]) != 0) {
            return 0;
        }
    }

    return 1;
}


static void
test_good(void)
{
    char           *json;
    size_t          n;
    wp_err_t        e;
    wp_send_req_t   r, j;

    static const char  full[] =
        "{ \"type\": \"event_update\", \"eventId\": 42,\n"
        "  \"to\": { \"userIds\": [\"u1\", 7, \"u1\", \"u\\u00e9\", 7] },\n"
        "  \"payload\": { \"title\": \"Doors \\/ open\", \"n\": 1.50,"
        " \"a\": [true, null, {}], \"s\": \"\\u0001\" },\n"
        "  \"ttl\": 600, \"urgency\": \"high\", \"topic\": \"scores\","
        " \"sendAt\": \"2026-01-02T04:04:05+01:00\" }";

    static const char  job[] =
        "{\"v\":1,\"id\":\"job-1_A\",\"type\":\"event_update\",\"eventId\":\"42\","
        "\"to\":{\"userIds\":[\"u1\",\"7\",\"u\xc3\xa9\"]},\"ttl\":600,"
        "\"urgency\":\"high\",\"topic\":\"scores\",\"sendAt\":1767323045000,"
        "\"createdAt\":1767225600000,"
        "\"payload\":{\"title\":\"Doors / open\",\"n\":1.50,"
        "\"a\":[true,null,{}],\"s\":\"\\u0001\"}}";

    ok(parse(full, &r, &e) == 0, "full request accepted (%s)", e.message);
    is_str(r.type, "event_update", "type");
    is_str(r.event_id, "42", "integer eventId as text");
    is_int(r.to, WP_SEND_TO_USERS, "to userIds");
    is_int(r.n_user_ids, 3, "duplicates dropped");
    ok(r.n_user_ids == 3 && strcmp(r.user_ids[0], "u1") == 0
       && strcmp(r.user_ids[1], "7") == 0
       && strcmp(r.user_ids[2], "u\xc3\xa9") == 0, "ids in first-seen order");
    is_str(r.payload, "{\"title\":\"Doors / open\",\"n\":1.50,"
           "\"a\":[true,null,{}],\"s\":\"\\u0001\"}", "payload compact, "
           "numbers as written");
    is_int(r.payload_len, r.payload ? strlen(r.payload) : 99999, "payload_len");
    is_int(r.ttl, 600, "ttl");
    is_int(r.urgency, WP_URGENCY_HIGH, "urgency");
    is_str(wp_urgency_name(r.urgency), "high", "urgency name");
    is_str(r.topic, "scores", "topic");
    is_int(r.send_at_ms, 1767323045000LL, "sendAt with offset");
    is_int(r.created_at_ms, NOW_MS, "createdAt = now");

    strcpy(r.id, "job-1_A");
    ok(wp_send_req_to_json(&r, &json, &n, &e) == 0, "to_json");
    is_str(json, job, "canonical job JSON");
    is_int(n, strlen(job), "job length");

    ok(wp_send_job_parse(json, n, &j, &e) == 0, "job parses (%s)", e.message);
    ok(same_req(&r, &j), "job round-trips field by field");
    wp_send_req_free(&j);
    free(json);
    wp_send_req_free(&r);
    ok(r.type == NULL && r.user_ids == NULL, "free clears");
    wp_send_req_free(&r);

    /* minimal request: defaults */
    ok(parse(REQ(USER, ""), &r, &e) == 0, "minimal request");
    is_int(r.to, WP_SEND_TO_USER, "to userId");
    ok(r.n_user_ids == 1 && strcmp(r.user_ids[0], "u1") == 0, "user id");
    is_int(r.ttl, 3600, "ttl from the caller's default");
    is_int(r.urgency, WP_URGENCY_UNSET, "no urgency");
    ok(wp_urgency_name(r.urgency) == NULL, "unset urgency has no name");
    is_str(r.topic, "", "no topic");
    is_int(r.send_at_ms, 0, "send now");
    ok(r.event_id == NULL, "no eventId");
    ok(wp_send_req_to_json(&r, &json, &n, &e) == 0, "to_json minimal");
    is_str(json, "{\"v\":1,\"type\":\"event_update\",\"to\":{\"userId\":\"u1\"},"
           "\"ttl\":3600,\"createdAt\":1767225600000,\"payload\":{\"t\":1}}",
           "minimal job JSON");
    free(json);
    wp_send_req_free(&r);

    /* nulls mean absent */
    ok(parse(REQ("{\"topic\":\"event:9\"}", ",\"eventId\":null,\"ttl\":null,"
                 "\"urgency\":null,\"topic\":null,\"sendAt\":null"), &r, &e)
       == 0 && r.to == WP_SEND_TO_TOPIC && strcmp(r.to_topic, "event:9") == 0
       && r.ttl == 3600 && r.event_id == NULL, "null optional members");
    wp_send_req_free(&r);

    ok(parse(REQ("{\"all\":true}", ",\"ttl\":0,\"urgency\":\"very-low\","
                 "\"topic\":\"ab\""), &r, &e) == 0
       && r.to == WP_SEND_TO_ALL && r.ttl == 0
       && r.urgency == WP_URGENCY_VERY_LOW, "to all, ttl 0");
    wp_send_req_free(&r);

    ok(parse(REQ("{\"userId\":12345678901234567890}", ",\"ttl\":2419200,"
                 "\"topic\":\"abcdefghijklmnopqrstuvwxyz012345\""), &r, &e)
       == 0 && strcmp(r.user_ids[0], "12345678901234567890") == 0
       && r.ttl == 2419200 && strlen(r.topic) == 32,
       "big numeric id, max ttl, 32-char topic");
    wp_send_req_free(&r);
}


static void
test_send_at(void)
{
    wp_err_t          e;
    wp_send_req_t     r;
    wp_send_limits_t  l;

    static const struct {
        const char  *v;
        long long    ms;
    } t[] = {
        { "\"2026-01-02T03:04:05Z\"", 1767323045000LL },
        { "\"2026-01-02t03:04:05z\"", 1767323045000LL },
        { "\"2026-01-01T19:34:05.123-08:30\"", 1767326645123LL },
        { "\"2026-01-01T19:34:05.123456789-08:30\"", 1767326645123LL },
        { "\"2026-01-31T00:00:00Z\"", 1769817600000LL },     /* 30 d exactly */
        { "\"2025-06-01T00:00:00Z\"", 0 },                   /* past: now */
        { "\"2026-01-01T00:00:00Z\"", 0 },                   /* now: now */
        { "1767225600001", 1767225600001LL },
        { "1000", 0 },
        { "0", 0 },
    };
    size_t  i;
    char    body[256];

    for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        snprintf(body, sizeof(body), REQ(USER, ",\"sendAt\":%s"), t[i].v);
        ok(parse(body, &r, &e) == 0 && r.send_at_ms == t[i].ms,
           "sendAt %s -> %lld (got %lld, %s)", t[i].v, t[i].ms,
           (long long) r.send_at_ms, e.message);
        wp_send_req_free(&r);
    }

    /* leap day, with a longer horizon */
    l = limits();
    l.max_horizon_ms = 4LL * 365 * 86400000;
    snprintf(body, sizeof(body), REQ(USER, ",\"sendAt\":%s"),
             "\"2028-02-29T12:00:00Z\"");
    ok(wp_send_req_parse(body, strlen(body), &l, &r, &e) == 0
       && r.send_at_ms == 1835438400000LL, "leap day 2028");
    wp_send_req_free(&r);
}


static void
test_bad(void)
{
    size_t         i;
    wp_err_t       e;
    wp_send_req_t  r;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int  rc = parse(bad[i].body, &r, &e);

        ok(rc == -1, "%s: rejected", bad[i].name);
        is_str(e.code, bad[i].code, "%s: code (%s)", bad[i].name, e.message);
        is_str(e.field, bad[i].field, "%s: field", bad[i].name);
        ok(e.message[0] != '\0' && strstr(e.message, bad[i].field) != NULL,
           "%s: message names the field", bad[i].name);
        ok(r.type == NULL && r.payload == NULL && r.user_ids == NULL,
           "%s: nothing to free", bad[i].name);
    }
}


static void
test_payload_size(void)
{
    char           *body, *json;
    size_t          n, fill;
    wp_err_t        e;
    wp_send_req_t   r, j;

    static const char  head[] = "{\"type\":\"x\",\"to\":{\"all\":true},"
                                "\"payload\": { \"d\" : \"";

    /* compact {"d":"..."} is 8 bytes + fill */
    body = malloc(2 * WP_SEND_MAX_PAYLOAD);
    for (fill = WP_SEND_MAX_PAYLOAD - 8; fill <= WP_SEND_MAX_PAYLOAD - 7;
         fill++)
    {
        n = sizeof(head) - 1;
        memcpy(body, head, n);
        memset(body + n, 'x', fill);
        n += fill;
        memcpy(body + n, "\" }   }", 8);

        if (fill == WP_SEND_MAX_PAYLOAD - 8) {
            ok(parse(body, &r, &e) == 0 && r.payload_len == WP_SEND_MAX_PAYLOAD,
               "payload of exactly 3993 bytes (whitespace does not count)");
            strcpy(r.id, "j");
            ok(wp_send_req_to_json(&r, &json, &n, &e) == 0
               && wp_send_job_parse(json, n, &j, &e) == 0 && same_req(&r, &j),
               "3993-byte payload round-trips");
            wp_send_req_free(&j);
            free(json);
            wp_send_req_free(&r);

        } else {
            ok(parse(body, &r, &e) == -1
               && strcmp(e.code, WP_E_PAYLOAD_TOO_LARGE) == 0
               && strcmp(e.field, "payload") == 0
               && strstr(e.message, "3994") != NULL,
               "payload of 3994 bytes: %s", e.message);
        }
    }

    /* escapes count as written out: 1 control char = 6 bytes */
    n = sizeof(head) - 1;
    memcpy(body, head, n);
    for (fill = 0; fill < 700; fill++) {
        memcpy(body + n, "\\u0001", 6);
        n += 6;
    }
    memcpy(body + n, "\"}}", 4);
    ok(parse(body, &r, &e) == -1 && strcmp(e.code, WP_E_PAYLOAD_TOO_LARGE) == 0,
       "size measured after serialisation");

    /* deep payload */
    n = (size_t) sprintf(body, "%s", "{\"type\":\"x\",\"to\":{\"all\":true},"
                         "\"payload\":{\"a\":");
    for (fill = 0; fill < 40; fill++) {
        body[n++] = '[';
    }
    for (fill = 0; fill < 40; fill++) {
        body[n++] = ']';
    }
    strcpy(body + n, "}}");
    ok(parse(body, &r, &e) == -1 && strcmp(e.code, WP_E_BAD_JSON) == 0,
       "payload nested too deeply (%s)", e.message);
    free(body);

    /* body limit */
    n = WP_SEND_MAX_BODY + 1;
    body = malloc(n);
    memset(body, ' ', n);
    memset(&e, 0, sizeof(e));
    ok(wp_send_req_parse(body, n, NULL, &r, &e) == -1
       && strcmp(e.code, WP_E_TOO_LONG) == 0, "body over 1 MiB");
    free(body);
}


static void
test_user_ids(void)
{
    char              *body, *json;
    size_t             i, n;
    wp_err_t           e;
    wp_send_req_t      r, j;
    wp_send_limits_t   l;

    /* the default limit: 10,000 ids, hostile dedup pattern */
    body = malloc(200000);
    n = (size_t) sprintf(body, "%s", "{\"type\":\"x\",\"to\":{\"userIds\":[");
    for (i = 0; i < WP_SEND_MAX_USER_IDS; i++) {
        n += (size_t) sprintf(body + n, "%s\"user-%zu\"", i ? "," : "",
                              i % 5000);
    }
    strcpy(body + n, "]},\"payload\":{}}");

    wp_send_limits_init(&l);
    l.now_ms = NOW_MS;
    memset(&e, 0, sizeof(e));
    ok(wp_send_req_parse(body, strlen(body), &l, &r, &e) == 0
       && r.n_user_ids == 5000, "10,000 ids, 5,000 distinct (%s)", e.message);
    ok(r.n_user_ids == 5000 && strcmp(r.user_ids[4999], "user-4999") == 0,
       "order kept");
    strcpy(r.id, "0a1b2c3d-4e5f-6789-abcd-ef0123456789");
    ok(wp_send_req_to_json(&r, &json, &n, &e) == 0
       && wp_send_job_parse(json, n, &j, &e) == 0 && same_req(&r, &j),
       "large job round-trips");
    wp_send_req_free(&j);
    free(json);
    wp_send_req_free(&r);

    strcpy(body + strlen(body) - strlen("]},\"payload\":{}}"),
           ",\"one-more\"]},\"payload\":{}}");
    ok(wp_send_req_parse(body, strlen(body), &l, &r, &e) == -1
       && strcmp(e.code, WP_E_TOO_MANY) == 0, "10,001 ids refused");
    free(body);

    ok(parse(REQ("{\"userIds\":[\"a\",\"a\",\"a\",\"a\",\"a\",\"a\"]}", ""), &r, &e) == -1
       && strcmp(e.code, WP_E_TOO_MANY) == 0,
       "the limit counts ids before dedup");
}


static void
test_jobs(void)
{
    size_t         i;
    wp_err_t       e;
    wp_send_req_t  r;

    static const struct {
        const char  *json;
        const char  *code;
        const char  *field;
    } t[] = {
        { "{\"id\":\"j1\",\"type\":\"x\",\"to\":{\"all\":true},\"ttl\":1,\"createdAt\":1,"
          "\"payload\":{}}", WP_E_BAD_VALUE, "v" },
        { "{\"v\":2,\"id\":\"j1\",\"type\":\"x\",\"to\":{\"all\":true},\"ttl\":1,"
          "\"createdAt\":1,\"payload\":{}}", WP_E_BAD_VALUE, "v" },
        { "{\"v\":1,\"id\":\"j1\",\"type\":\"x\",\"to\":{\"all\":true},\"ttl\":1,"
          "\"payload\":{}}", WP_E_MISSING_FIELD, "createdAt" },
        { "{\"v\":1,\"id\":\"j1\",\"type\":\"x\",\"to\":{\"all\":true},\"createdAt\":1,"
          "\"payload\":{}}", WP_E_MISSING_FIELD, "ttl" },
        { "{\"v\":1,\"id\":\"j1\",\"type\":\"x\",\"to\":{\"all\":true},\"ttl\":1,"
          "\"createdAt\":1,\"payload\":{},\"extra\":1}", WP_E_UNKNOWN_FIELD,
          "extra" },
        { "{\"v\":1,\"id\":\"j1\",\"type\":\"x\",\"to\":{\"all\":true},\"ttl\":1,"
          "\"createdAt\":1,\"payload\":{},\"sendAt\":\"2026-01-02T03:04:05Z\"}",
          WP_E_BAD_TYPE, "sendAt" },
        { "{\"v\":1,\"type\":\"x\",\"to\":{\"all\":true},\"ttl\":1,"
          "\"createdAt\":1,\"payload\":{}}", WP_E_MISSING_FIELD, "id" },
        { "{\"v\":1,\"id\":7,\"type\":\"x\",\"to\":{\"all\":true},"
          "\"ttl\":1,\"createdAt\":1,\"payload\":{}}", WP_E_MISSING_FIELD,
          "id" },
        { "{\"v\":1,\"id\":\"\",\"type\":\"x\",\"to\":{\"all\":true},"
          "\"ttl\":1,\"createdAt\":1,\"payload\":{}}", WP_E_BAD_VALUE, "id" },
        { "{\"v\":1,\"id\":\"a b\",\"type\":\"x\",\"to\":{\"all\":true},"
          "\"ttl\":1,\"createdAt\":1,\"payload\":{}}", WP_E_BAD_VALUE, "id" },
        { "{\"v\":1,\"id\":\"a:b\",\"type\":\"x\",\"to\":{\"all\":true},"
          "\"ttl\":1,\"createdAt\":1,\"payload\":{}}", WP_E_BAD_VALUE, "id" },
        { "{\"v\":1,\"id\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\","
          "\"type\":\"x\",\"to\":{\"all\":true},\"ttl\":1,\"createdAt\":1,"
          "\"payload\":{}}", WP_E_BAD_VALUE, "id" },
    };

    for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        memset(&e, 0, sizeof(e));
        ok(wp_send_job_parse(t[i].json, strlen(t[i].json), &r, &e) == -1
           && strcmp(e.code, t[i].code) == 0 && strcmp(e.field, t[i].field) == 0,
           "job %zu refused: %s %s (%s)", i, t[i].code, t[i].field, e.message);
    }

    /* a past sendAt in a job stays as it is: it was due when written */
    {
        static const char  j[] = "{\"v\":1,\"id\":\"j1\",\"type\":\"x\",\"to\":{\"all\":true},"
            "\"ttl\":1,\"sendAt\":1000,\"createdAt\":1,\"payload\":{}}";

        ok(wp_send_job_parse(j, sizeof(j) - 1, &r, &e) == 0
           && r.send_at_ms == 1000 && r.created_at_ms == 1,
           "job sendAt and createdAt kept");
        wp_send_req_free(&r);
    }

    memset(&r, 0, sizeof(r));
    {
        char  *json;

        ok(wp_send_req_to_json(&r, &json, NULL, &e) == -1
           && strcmp(e.code, WP_E_INTERNAL) == 0, "to_json on an empty struct");
    }
}


int
main(void)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    test_good();
    test_send_at();
    test_bad();
    test_payload_size();
    test_user_ids();
    test_jobs();

    return tap_done();
}
