/* Unit tests for lib/endpoint.c: URL rules, allow-list patterns, matching. */

#include <string.h>

#include "endpoint.h"
#include "tap.h"

#define OK_     NULL
#define BAD     WP_E_BAD_ENDPOINT
#define DENY    WP_E_ENDPOINT_NOT_ALLOWED
#define DEF     NULL

#define CUSTOM  " 127.0.0.1:8443 , push.example.com,*.example.net:8443," \
                "[::1]:9443 ,10.0.0.7, *.Deep.Example.org "

typedef struct {
    const char  *policy;        /* NULL: default list */
    const char  *url;
    const char  *code;          /* NULL: accepted */
    const char  *origin;        /* when accepted */
    const char  *path;          /* when accepted */
} url_case_t;

static const url_case_t  cases[] = {
    /* the real services under the default list */
    { DEF, "https://fcm.googleapis.com/fcm/send/d61c5u920dw:APA91b-x_y",
      OK_, "https://fcm.googleapis.com", "/fcm/send/d61c5u920dw:APA91b-x_y" },
    { DEF, "https://updates.push.services.mozilla.com/wpush/v2/gAAAAA",
      OK_, "https://updates.push.services.mozilla.com", "/wpush/v2/gAAAAA" },
    { DEF, "https://web.push.apple.com/QGuQyavXutnMH", OK_,
      "https://web.push.apple.com", "/QGuQyavXutnMH" },
    { DEF, "https://wns2-par02p.notify.windows.com/w/?token=BQYAAAB%2b", OK_,
      "https://wns2-par02p.notify.windows.com", "/w/?token=BQYAAAB%2b" },
    { DEF, "https://a.b.notify.windows.com/w/", OK_,
      "https://a.b.notify.windows.com", "/w/" },
    { DEF, "HTTPS://FCM.GoogleAPIs.com/fcm/send/AbC", OK_,
      "https://fcm.googleapis.com", "/fcm/send/AbC" },
    { DEF, "https://fcm.googleapis.com:443/fcm/send/x", OK_,
      "https://fcm.googleapis.com", "/fcm/send/x" },
    { DEF, "https://fcm.googleapis.com", OK_, "https://fcm.googleapis.com", "" },
    { DEF, "https://fcm.googleapis.com/a?b=c&d=%41", OK_,
      "https://fcm.googleapis.com", "/a?b=c&d=%41" },

    /* not on the default list */
    { DEF, "https://push.apple.com/x", DENY, NULL, NULL },
    { DEF, "https://notify.windows.com/x", DENY, NULL, NULL },
    { DEF, "https://android.googleapis.com/gcm/send/x", DENY, NULL, NULL },
    { DEF, "https://fcm.googleapis.com.evil.com/fcm/send/x", DENY, NULL, NULL },
    { DEF, "https://evilfcm.googleapis.com/x", DENY, NULL, NULL },
    { DEF, "https://xpush.apple.com/x", DENY, NULL, NULL },
    { DEF, "https://evil.com/fcm.googleapis.com", DENY, NULL, NULL },
    { DEF, "https://fcm.googleapis.com:8443/x", DENY, NULL, NULL },
    { DEF, "https://127.0.0.1/x", DENY, NULL, NULL },
    { DEF, "https://[::1]/x", DENY, NULL, NULL },
    { DEF, "https://localhost/x", DENY, NULL, NULL },

    /* malformed, whatever the list */
    { DEF, "http://fcm.googleapis.com/x", BAD, NULL, NULL },
    { DEF, "ftp://fcm.googleapis.com/x", BAD, NULL, NULL },
    { DEF, "//fcm.googleapis.com/x", BAD, NULL, NULL },
    { DEF, "fcm.googleapis.com/x", BAD, NULL, NULL },
    { DEF, "https:/fcm.googleapis.com/x", BAD, NULL, NULL },
    { DEF, "https://", BAD, NULL, NULL },
    { DEF, "", BAD, NULL, NULL },
    { DEF, "https://fcm.googleapis.com@evil.com/", BAD, NULL, NULL },
    { DEF, "https://user:pw@fcm.googleapis.com/x", BAD, NULL, NULL },
    { DEF, "https://evil.com#@fcm.googleapis.com/", BAD, NULL, NULL },
    { DEF, "https://fcm.googleapis.com/x#frag", BAD, NULL, NULL },
    { DEF, "https://fcm.googleapis.com./x", BAD, NULL, NULL },
    { DEF, "https://.fcm.googleapis.com/x", BAD, NULL, NULL },
    { DEF, "https://fcm..googleapis.com/x", BAD, NULL, NULL },
    { DEF, "https://fcm%2egoogleapis.com/x", BAD, NULL, NULL },
    { DEF, "https://%66cm.googleapis.com/x", BAD, NULL, NULL },
    { DEF, "https://fcm.googleapis.com\\@evil.com/x", BAD, NULL, NULL },
    { DEF, "https://fcm.googleapis.com /x", BAD, NULL, NULL },
    { DEF, "https://fcm.googleapis.com/x y", BAD, NULL, NULL },
    { DEF, "https://fcm.googleapis.com/x\ty", BAD, NULL, NULL },
    { DEF, "https://fcm.googleapis.com/x\r\nHost: evil", BAD, NULL, NULL },
    { DEF, "https://f\xc3\xa7m.googleapis.com/x", BAD, NULL, NULL },
    { DEF, "https://fcm.googleapis.com/\xc3\xa7", BAD, NULL, NULL },
    { DEF, "https://fcm_x.googleapis.com/x", BAD, NULL, NULL },
    { DEF, "https://-fcm.googleapis.com/x", BAD, NULL, NULL },
    { DEF, "https://fcm-.googleapis.com/x", BAD, NULL, NULL },
    { DEF, "https://fcm.googleapis.com?x=1", BAD, NULL, NULL },
    { DEF, "https://fcm.googleapis.com:/x", BAD, NULL, NULL },
    { DEF, "https://fcm.googleapis.com:0/x", BAD, NULL, NULL },
    { DEF, "https://fcm.googleapis.com:0443/x", BAD, NULL, NULL },
    { DEF, "https://fcm.googleapis.com:65536/x", BAD, NULL, NULL },
    { DEF, "https://fcm.googleapis.com:44a/x", BAD, NULL, NULL },
    { DEF, "https://fcm.googleapis.com:443:443/x", BAD, NULL, NULL },
    { DEF, "https://2130706433/x", BAD, NULL, NULL },
    { DEF, "https://0x7f000001/x", BAD, NULL, NULL },
    { DEF, "https://0x7f.0.0.1/x", BAD, NULL, NULL },
    { DEF, "https://0177.0.0.1/x", BAD, NULL, NULL },
    { DEF, "https://127.1/x", BAD, NULL, NULL },
    { DEF, "https://127.0.0.1.5/x", BAD, NULL, NULL },
    { DEF, "https://256.0.0.1/x", BAD, NULL, NULL },
    { DEF, "https://fcm.googleapis.0x10/x", BAD, NULL, NULL },
    { DEF, "https://[::1/x", BAD, NULL, NULL },
    { DEF, "https://[]/x", BAD, NULL, NULL },
    { DEF, "https://[fe80::1%25eth0]/x", BAD, NULL, NULL },
    { DEF, "https://[::1]x/x", BAD, NULL, NULL },
    { DEF, "https://[notv6]/x", BAD, NULL, NULL },

    /* a custom list */
    { CUSTOM, "https://127.0.0.1:8443/push/1", OK_, "https://127.0.0.1:8443",
      "/push/1" },
    { CUSTOM, "https://127.0.0.1/push/1", DENY, NULL, NULL },
    { CUSTOM, "https://127.0.0.1:8444/push/1", DENY, NULL, NULL },
    { CUSTOM, "https://0x7f000001:8443/push/1", BAD, NULL, NULL },
    { CUSTOM, "https://127.000.0.1:8443/push/1", BAD, NULL, NULL },
    { CUSTOM, "https://10.0.0.7/p", OK_, "https://10.0.0.7", "/p" },
    { CUSTOM, "https://10.0.0.7:443/p", OK_, "https://10.0.0.7", "/p" },
    { CUSTOM, "https://[::1]:9443/p", OK_, "https://[::1]:9443", "/p" },
    { CUSTOM, "https://[::1]/p", DENY, NULL, NULL },
    { CUSTOM, "https://push.example.com/p", OK_, "https://push.example.com",
      "/p" },
    { CUSTOM, "https://a.push.example.com/p", DENY, NULL, NULL },
    { CUSTOM, "https://a.example.net:8443/p", OK_,
      "https://a.example.net:8443", "/p" },
    { CUSTOM, "https://a.b.c.example.net:8443/p", OK_,
      "https://a.b.c.example.net:8443", "/p" },
    { CUSTOM, "https://example.net:8443/p", DENY, NULL, NULL },
    { CUSTOM, "https://a.example.net/p", DENY, NULL, NULL },
    { CUSTOM, "https://aexample.net:8443/p", DENY, NULL, NULL },
    { CUSTOM, "https://x.deep.example.org/p", OK_,
      "https://x.deep.example.org", "/p" },
    { CUSTOM, "https://deep.example.org/p", DENY, NULL, NULL },
    { CUSTOM, "https://fcm.googleapis.com/fcm/send/x", DENY, NULL, NULL },
    { "default, 127.0.0.1:8443", "https://fcm.googleapis.com/fcm/send/x",
      OK_, "https://fcm.googleapis.com", "/fcm/send/x" },
    { "default, 127.0.0.1:8443", "https://127.0.0.1:8443/x", OK_,
      "https://127.0.0.1:8443", "/x" },
    { "localhost:8443", "https://localhost:8443/x", OK_,
      "https://localhost:8443", "/x" },
};


typedef struct {
    const char  *list;
    const char  *item;      /* quoted in the message; NULL: empty item */
} bad_list_t;

static const bad_list_t  bad_lists[] = {
    { "", NULL },
    { "   ", NULL },
    { "fcm.googleapis.com,,x.com", NULL },
    { "fcm.googleapis.com,", NULL },
    { ",fcm.googleapis.com", NULL },
    { "*", "*" },
    { "*.com", "*.com" },
    { "*.", "*." },
    { "a.*.com", "a.*.com" },
    { "**.example.com", "**.example.com" },
    { "https://x.com", "https://x.com" },
    { "x.com/path", "x.com/path" },
    { "x.com:0", "x.com:0" },
    { "x.com:99999", "x.com:99999" },
    { "x.com:", "x.com:" },
    { "user@x.com", "user@x.com" },
    { "x_y.com", "x_y.com" },
    { "x.com.", "x.com." },
    { "0x7f000001:8443", "0x7f000001:8443" },
    { "127.1", "127.1" },
    { "*.127.0.0.1", "*.127.0.0.1" },
    { "[::1", "[::1" },
    { "*.[::1]", "*.[::1]" },
    { "fcm.googleapis.com, bad host", "bad host" },
    { "x.com?q", "x.com?q" },
};


/* The URL for a TAP line: control bytes would break the output. */
static const char *
vis(const char *s, char *buf, size_t cap)
{
    size_t  i;

    for (i = 0; s[i] && i + 1 < cap; i++) {
        buf[i] = ((unsigned char) s[i] < 0x20) ? '?' : s[i];
    }
    buf[i] = '\0';

    return buf;
}


static void
test_table(void)
{
    int                    rc;
    char                   vb[256];
    size_t                 i;
    wp_err_t               e;
    wp_url_t               u;
    wp_endpoint_policy_t  *pol;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const url_case_t  *c = &cases[i];
        const char        *name = vis(c->url, vb, sizeof(vb));

        memset(&e, 0, sizeof(e));
        rc = wp_endpoint_policy_parse(c->policy, &pol, &e);
        if (rc != 0) {
            ok(0, "policy parses: %s", e.message);
            continue;
        }

        memset(&e, 0, sizeof(e));
        rc = wp_endpoint_check(pol, c->url, strlen(c->url), &u, &e);

        if (c->code == NULL) {
            ok(rc == 0, "accept %s (%s)", name, e.message);
            is_str(u.origin, c->origin, "origin of %s", name);
            ok(u.path_len == strlen(c->path)
               && memcmp(c->url + u.path_off, c->path, u.path_len) == 0,
               "path of %s kept exactly", name);

        } else {
            ok(rc == -1, "reject %s", name);
            is_str(e.code, c->code, "code for %s (%s)", name, e.message);
            is_str(e.field, "endpoint", "field for %s", name);
            ok(strstr(e.message, "endpoint") != NULL, "message names endpoint");
        }

        wp_endpoint_policy_free(pol);
    }
}


static void
test_parsed(void)
{
    wp_err_t  e;
    wp_url_t  u;

    static const char  url[] = "https://A.Example.NET:8443/P/Q?X=Y";

    ok(wp_url_parse(url, sizeof(url) - 1, &u, &e) == 0, "wp_url_parse");
    is_str(u.host, "a.example.net", "host lowercased");
    is_int(u.port, 8443, "port");
    ok(!u.is_ip, "not an IP");
    is_int(u.path_off, 26, "path offset");
    is_str(url + u.path_off, "/P/Q?X=Y", "path case kept");
    is_str(u.origin, "https://a.example.net:8443", "origin with port");

    ok(wp_url_parse("https://[2001:DB8::1]/x", 23, &u, &e) == 0, "v6 parses");
    is_str(u.host, "[2001:db8::1]", "v6 host lowercased, bracketed");
    ok(u.is_ip, "v6 is an IP");
    is_int(u.port, 443, "default port");

    ok(wp_url_parse("https://192.168.1.20:1/x", 24, &u, &e) == 0
       && u.is_ip && u.port == 1, "v4 literal parses as IP");

    /* wp_url_parse never consults a list */
    ok(wp_url_parse("https://evil.com/x", 18, NULL, &e) == 0,
       "syntax-only parse accepts any host");

    /* length limits */
    {
        char    big[WP_URL_MAX + 2];
        size_t  n;

        memcpy(big, "https://fcm.googleapis.com/", 27);
        memset(big + 27, 'a', sizeof(big) - 27);
        n = WP_URL_MAX;
        ok(wp_endpoint_check(NULL, big, n, &u, &e) == 0,
           "URL of exactly %d bytes accepted", WP_URL_MAX);
        ok(wp_endpoint_check(NULL, big, n + 1, &u, &e) == -1
           && strcmp(e.code, WP_E_BAD_ENDPOINT) == 0,
           "URL of %d bytes refused", WP_URL_MAX + 1);
    }
    {
        char    host[300];
        size_t  i, n;

        /* 4 labels of 63 + dots = 255 > 253 */
        memcpy(host, "https://", 8);
        n = 8;
        for (i = 0; i < 4; i++) {
            memset(host + n, 'a', 63);
            n += 63;
            host[n++] = i < 3 ? '.' : '/';
        }
        ok(wp_url_parse(host, n, &u, &e) == -1
           && strstr(e.message, "253") != NULL, "host over 253 bytes");

        memcpy(host, "https://", 8);
        memset(host + 8, 'b', 64);
        memcpy(host + 72, ".com/", 5);
        ok(wp_url_parse(host, 77, &u, &e) == -1
           && strstr(e.message, "63") != NULL, "label over 63 bytes");
    }

    /* len is honoured: the bytes after it are not part of the URL */
    ok(wp_endpoint_check(NULL, "https://fcm.googleapis.com/x@evil", 28, &u,
                         &e) == 0 && u.path_len == 2, "explicit length");
}


static void
test_lists(void)
{
    size_t                 i;
    wp_err_t               e;
    wp_endpoint_policy_t  *pol;

    ok(wp_endpoint_policy_parse(NULL, &pol, &e) == 0, "default list parses");
    is_int(wp_endpoint_policy_count(pol), 5, "default list has 5 patterns");
    wp_endpoint_policy_free(pol);

    ok(wp_endpoint_policy_parse("default,a.com", &pol, &e) == 0
       && wp_endpoint_policy_count(pol) == 6, "default expands in a list");
    wp_endpoint_policy_free(pol);
    wp_endpoint_policy_free(NULL);

    for (i = 0; i < sizeof(bad_lists) / sizeof(bad_lists[0]); i++) {
        const bad_list_t  *b = &bad_lists[i];

        memset(&e, 0, sizeof(e));
        pol = (wp_endpoint_policy_t *) &e;      /* must be reset to NULL */
        ok(wp_endpoint_policy_parse(b->list, &pol, &e) == -1 && pol == NULL,
           "list \"%s\" refused", b->list);
        is_str(e.code, WP_E_BAD_VALUE, "list \"%s\": code", b->list);
        is_str(e.field, "allowed_endpoints", "list \"%s\": field", b->list);
        if (b->item) {
            char  q[128];

            snprintf(q, sizeof(q), "\"%s\"", b->item);
            ok(strstr(e.message, q) != NULL, "message quotes %s (%s)", q,
               e.message);
        } else {
            ok(strstr(e.message, "empty item") != NULL, "message: %s",
               e.message);
        }
    }
}


/* wp_endpoint_policy_match on parsed URLs: the WNS list (WP_ENDPOINT_WNS). */
static void
test_match(void)
{
    size_t                 i, n;
    wp_err_t               e;
    const char            *url;
    wp_url_t               u;
    wp_endpoint_policy_t  *pol;

    static const struct {
        const char  *url;
        int          wns;
    } wns_cases[] = {
        { "https://wns2-par02p.notify.windows.com/w/?token=AbC", 1 },
        { "https://db5p.notify.windows.com/w/?token=x", 1 },
        { "https://notify.windows.com/w/", 0 },         /* not a subdomain */
        { "https://wns2.notify.windows.com:8443/w/", 0 },   /* other port */
        { "https://notify.windows.com.evil.example/w/", 0 },
        { "https://fcm.googleapis.com/fcm/send/abc", 0 },
        { "https://web.push.apple.com/QGx", 0 },
    };

    ok(wp_endpoint_policy_parse(WP_ENDPOINT_WNS, &pol, &e) == 0,
       "the WNS list parses");

    n = sizeof(wns_cases) / sizeof(wns_cases[0]);

    for (i = 0; pol != NULL && i < n; i++) {
        url = wns_cases[i].url;
        ok(wp_url_parse(url, strlen(url), &u, &e) == 0
           && wp_endpoint_policy_match(pol, &u) == wns_cases[i].wns,
           "%s %s WNS", wns_cases[i].url, wns_cases[i].wns ? "is" : "is not");
    }

    ok(wp_url_parse(wns_cases[0].url, strlen(wns_cases[0].url), &u, &e) == 0
       && wp_endpoint_policy_match(NULL, &u) == 0,
       "no policy (WNS detection off) matches nothing");

    wp_endpoint_policy_free(pol);
}


int
main(void)
{
    test_table();
    test_parsed();
    test_lists();
    test_match();

    return tap_done();
}
