/* ngx_webpush: strict https URL parsing and the endpoint allow-list (see endpoint.h). */

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "endpoint.h"


#define WP_POLICY_FIELD  "allowed_endpoints"


typedef struct {
    char         host[WP_HOST_MAX + 1];     /* suffix without "*." if wildcard */
    size_t       host_len;
    unsigned     port;
    int          wildcard;
} wp_endpoint_pattern_t;

struct wp_endpoint_policy_s {
    size_t                  n;
    size_t                  cap;
    wp_endpoint_pattern_t  *pat;
};


static int wp_policy_add_list(wp_endpoint_policy_t *pol, const char *list,
    wp_err_t *err);


static int
wp_is_digit(char c)
{
    return c >= '0' && c <= '9';
}


static int
wp_is_hex(char c)
{
    return wp_is_digit(c) || (c >= 'a' && c <= 'f');
}


/*
 * A host whose last label is a number is an IPv4 address to URL parsers
 * and to getaddrinfo() ("2130706433", "0x7f.1", "0177.0.0.1"): WHATWG's
 * "ends in a number" rule.
 */
static int
wp_host_is_numeric(const char *host, size_t len)
{
    size_t       i, start;
    const char  *l;

    start = 0;
    for (i = 0; i < len; i++) {
        if (host[i] == '.') {
            start = i + 1;
        }
    }

    l = host + start;
    len -= start;

    if (len >= 2 && l[0] == '0' && l[1] == 'x') {
        for (i = 2; i < len; i++) {
            if (!wp_is_hex(l[i])) {
                return 0;
            }
        }
        return 1;
    }

    for (i = 0; i < len; i++) {
        if (!wp_is_digit(l[i])) {
            return 0;
        }
    }

    return len > 0;
}


/* Canonical dotted quad only: four decimal parts, 0..255, no leading 0. */
static int
wp_host_is_dotted_quad(const char *host, size_t len)
{
    size_t    i, parts, digits;
    unsigned  v;

    parts = 0;
    i = 0;

    while (i <= len) {
        digits = 0;
        v = 0;
        while (i < len && wp_is_digit(host[i])) {
            if (digits == 3) {
                return 0;
            }
            if (digits == 1 && v == 0) {
                return 0;       /* leading zero: octal to some parsers */
            }
            v = v * 10 + (unsigned) (host[i] - '0');
            digits++;
            i++;
        }

        if (digits == 0 || v > 255) {
            return 0;
        }

        parts++;

        if (i == len) {
            break;
        }
        if (host[i] != '.') {
            return 0;
        }
        i++;
    }

    return parts == 4;
}


/* LDH labels of 1..63, lowercased into out. */
static int
wp_host_check(const char *h, size_t len, char *out, wp_err_t *err)
{
    char    c;
    size_t  i, label;

    if (len == 0) {
        return wp_err_set(err, WP_E_BAD_ENDPOINT, "endpoint",
                          "endpoint: the host is empty");
    }

    if (len > WP_HOST_MAX) {
        return wp_err_set(err, WP_E_BAD_ENDPOINT, "endpoint",
                          "endpoint: the host is longer than %d bytes",
                          WP_HOST_MAX);
    }

    label = 0;

    for (i = 0; i < len; i++) {
        c = h[i];

        if (c >= 'A' && c <= 'Z') {
            c = (char) (c - 'A' + 'a');
        }

        if (c == '.') {
            if (label == 0) {
                return wp_err_set(err, WP_E_BAD_ENDPOINT, "endpoint",
                                  "endpoint: the host has an empty label "
                                  "(leading, trailing or double dot)");
            }
            if (out[i - 1] == '-') {
                goto hyphen;
            }
            label = 0;

        } else if ((c >= 'a' && c <= 'z') || wp_is_digit(c) || c == '-') {
            if (c == '-' && label == 0) {
                goto hyphen;
            }
            if (++label > 63) {
                return wp_err_set(err, WP_E_BAD_ENDPOINT, "endpoint",
                                  "endpoint: a host label is longer than 63 "
                                  "bytes");
            }

        } else {
            return wp_err_set(err, WP_E_BAD_ENDPOINT, "endpoint",
                              "endpoint: the host contains '%c' (only "
                              "letters, digits, '-' and '.'; IDNs as "
                              "xn-- punycode)", c);
        }

        out[i] = c;
    }

    if (label == 0) {
        return wp_err_set(err, WP_E_BAD_ENDPOINT, "endpoint",
                          "endpoint: the host has an empty label "
                          "(leading, trailing or double dot)");
    }

    if (out[len - 1] == '-') {
        goto hyphen;
    }

    out[len] = '\0';

    return 0;

hyphen:

    return wp_err_set(err, WP_E_BAD_ENDPOINT, "endpoint",
                      "endpoint: a host label starts or ends with '-'");
}


static int
wp_port_parse(const char *p, size_t len, unsigned *port, wp_err_t *err)
{
    size_t    i;
    unsigned  v;

    if (len == 0 || len > 5 || p[0] == '0') {
        goto bad;
    }

    v = 0;
    for (i = 0; i < len; i++) {
        if (!wp_is_digit(p[i])) {
            goto bad;
        }
        v = v * 10 + (unsigned) (p[i] - '0');
    }

    if (v > 65535) {
        goto bad;
    }

    *port = v;

    return 0;

bad:

    return wp_err_set(err, WP_E_BAD_ENDPOINT, "endpoint",
                      "endpoint: the port must be a number 1..65535 without "
                      "leading zeros");
}


int
wp_url_parse(const char *url, size_t len, wp_url_t *out, wp_err_t *err)
{
    char           v6[64];
    size_t         i, a, end, hlen, close;
    unsigned char  c;
    wp_url_t       local;
    struct in6_addr  addr;

    if (out == NULL) {
        out = &local;
    }
    memset(out, 0, sizeof(*out));

    if (url == NULL || len == 0) {
        return wp_err_set(err, WP_E_BAD_ENDPOINT, "endpoint",
                          "endpoint: empty");
    }

    if (len > WP_URL_MAX) {
        return wp_err_set(err, WP_E_BAD_ENDPOINT, "endpoint",
                          "endpoint: longer than %d bytes", WP_URL_MAX);
    }

    for (i = 0; i < len; i++) {
        c = (unsigned char) url[i];

        if (c <= 0x20 || c >= 0x7f || c == '\\') {
            return wp_err_set(err, WP_E_BAD_ENDPOINT, "endpoint",
                              "endpoint: byte 0x%02x at offset %zu is not "
                              "allowed in a URL", c, i);
        }

        if (c == '#') {
            return wp_err_set(err, WP_E_BAD_ENDPOINT, "endpoint",
                              "endpoint: a fragment ('#') is not allowed");
        }
    }

    if (len < 8 || strncasecmp(url, "https://", 8) != 0) {
        return wp_err_set(err, WP_E_BAD_ENDPOINT, "endpoint",
                          "endpoint: must be an https:// URL");
    }

    a = 8;
    for (end = a; end < len && url[end] != '/' && url[end] != '?'; end++) {
        if (url[end] == '@') {
            return wp_err_set(err, WP_E_BAD_ENDPOINT, "endpoint",
                              "endpoint: userinfo ('@') is not allowed");
        }
    }

    if (end < len && url[end] == '?') {
        return wp_err_set(err, WP_E_BAD_ENDPOINT, "endpoint",
                          "endpoint: the path must start with '/'");
    }

    out->port = 443;

    if (a < end && url[a] == '[') {
        for (close = a + 1; close < end && url[close] != ']'; close++) {
            /* find the bracket */
        }

        hlen = close - a - 1;
        if (close == end || hlen == 0 || hlen >= sizeof(v6)) {
            return wp_err_set(err, WP_E_BAD_ENDPOINT, "endpoint",
                              "endpoint: malformed IPv6 literal");
        }

        for (i = 0; i < hlen; i++) {
            c = (unsigned char) url[a + 1 + i];
            v6[i] = (char) ((c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c);
        }
        v6[hlen] = '\0';

        if (inet_pton(AF_INET6, v6, &addr) != 1) {
            return wp_err_set(err, WP_E_BAD_ENDPOINT, "endpoint",
                              "endpoint: malformed IPv6 literal");
        }

        snprintf(out->host, sizeof(out->host), "[%s]", v6);
        out->is_ip = 1;

        if (close + 1 < end) {
            if (url[close + 1] != ':') {
                return wp_err_set(err, WP_E_BAD_ENDPOINT, "endpoint",
                                  "endpoint: junk after the IPv6 literal");
            }
            if (wp_port_parse(url + close + 2, end - close - 2, &out->port,
                              err) != 0)
            {
                return -1;
            }
        }

    } else {
        for (hlen = 0; a + hlen < end && url[a + hlen] != ':'; hlen++) {
            /* host ends at ':' or at the path */
        }

        if (wp_host_check(url + a, hlen, out->host, err) != 0) {
            return -1;
        }

        if (wp_host_is_numeric(out->host, hlen)) {
            if (!wp_host_is_dotted_quad(out->host, hlen)) {
                return wp_err_set(err, WP_E_BAD_ENDPOINT, "endpoint",
                                  "endpoint: numeric host \"%s\" is not a "
                                  "dotted-quad IPv4 address", out->host);
            }
            out->is_ip = 1;
        }

        if (a + hlen < end
            && wp_port_parse(url + a + hlen + 1, end - a - hlen - 1,
                             &out->port, err) != 0)
        {
            return -1;
        }
    }

    out->path_off = end;
    out->path_len = len - end;

    if (out->port == 443) {
        snprintf(out->origin, sizeof(out->origin), "https://%s", out->host);
    } else {
        snprintf(out->origin, sizeof(out->origin), "https://%s:%u", out->host,
                 out->port);
    }

    return 0;
}


static int
wp_policy_add(wp_endpoint_policy_t *pol, const char *item, size_t len,
    wp_err_t *err)
{
    char                    buf[sizeof("https://") + WP_HOST_MAX + 16];
    int                     wildcard;
    size_t                  dots, i;
    wp_url_t                u;
    wp_err_t                e;
    wp_endpoint_pattern_t  *p;

    if (len == 7 && memcmp(item, "default", 7) == 0) {
        return wp_policy_add_list(pol, WP_ENDPOINT_DEFAULT_ALLOW, err);
    }

    wildcard = len >= 2 && item[0] == '*' && item[1] == '.';
    if (wildcard) {
        item += 2;
        len -= 2;
    }

    /* The URL parser already knows every host and port rule. */
    if (len + sizeof("https://") > sizeof(buf)
        || memchr(item, '/', len) != NULL || memchr(item, '?', len) != NULL)
    {
        goto bad;
    }

    memcpy(buf, "https://", 8);
    memcpy(buf + 8, item, len);

    if (wp_url_parse(buf, len + 8, &u, &e) != 0 || u.path_len != 0) {
        goto bad;
    }

    if (wildcard) {
        for (dots = 0, i = 0; u.host[i]; i++) {
            dots += u.host[i] == '.';
        }
        /* "*.com" would allow half the internet */
        if (u.is_ip || dots == 0) {
            goto bad;
        }
    }

    if (pol->n == pol->cap) {
        size_t  ncap = pol->cap ? pol->cap * 2 : 8;

        p = realloc(pol->pat, ncap * sizeof(*p));
        if (p == NULL) {
            return wp_err_set(err, WP_E_NOMEM, WP_POLICY_FIELD,
                              "%s: out of memory", WP_POLICY_FIELD);
        }
        pol->pat = p;
        pol->cap = ncap;
    }

    p = &pol->pat[pol->n++];
    memcpy(p->host, u.host, sizeof(p->host));
    p->host_len = strlen(u.host);
    p->port = u.port;
    p->wildcard = wildcard;

    return 0;

bad:

    if (wildcard) {
        item -= 2;
        len += 2;
    }

    return wp_err_set(err, WP_E_BAD_VALUE, WP_POLICY_FIELD,
                      "%s: malformed pattern \"%.*s\" (want host, host:port, "
                      "*.domain.tld[:port], ip[:port] or [v6][:port])",
                      WP_POLICY_FIELD, (int) (len > 80 ? 80 : len), item);
}


static int
wp_policy_add_list(wp_endpoint_policy_t *pol, const char *list,
    wp_err_t *err)
{
    size_t       n, b, e;
    const char  *p, *comma;

    p = list;

    for ( ;; ) {
        comma = strchr(p, ',');
        n = comma ? (size_t) (comma - p) : strlen(p);

        for (b = 0; b < n && (p[b] == ' ' || p[b] == '\t'); b++) {
            /* trim left */
        }
        for (e = n; e > b && (p[e - 1] == ' ' || p[e - 1] == '\t'); e--) {
            /* trim right */
        }

        if (e == b) {
            return wp_err_set(err, WP_E_BAD_VALUE, WP_POLICY_FIELD,
                              "%s: empty item in the list", WP_POLICY_FIELD);
        }

        if (wp_policy_add(pol, p + b, e - b, err) != 0) {
            return -1;
        }

        if (comma == NULL) {
            return 0;
        }
        p = comma + 1;
    }
}


int
wp_endpoint_policy_parse(const char *list, wp_endpoint_policy_t **out,
    wp_err_t *err)
{
    wp_endpoint_policy_t  *pol;

    *out = NULL;

    pol = calloc(1, sizeof(*pol));
    if (pol == NULL) {
        return wp_err_set(err, WP_E_NOMEM, WP_POLICY_FIELD,
                          "%s: out of memory", WP_POLICY_FIELD);
    }

    if (wp_policy_add_list(pol, list ? list : WP_ENDPOINT_DEFAULT_ALLOW, err)
        != 0)
    {
        wp_endpoint_policy_free(pol);
        return -1;
    }

    *out = pol;

    return 0;
}


void
wp_endpoint_policy_free(wp_endpoint_policy_t *pol)
{
    if (pol == NULL) {
        return;
    }

    free(pol->pat);
    free(pol);
}


size_t
wp_endpoint_policy_count(const wp_endpoint_policy_t *pol)
{
    return pol ? pol->n : 0;
}


static int
wp_pattern_match(const wp_endpoint_pattern_t *p, const wp_url_t *u)
{
    size_t  hlen;

    if (p->port != u->port) {
        return 0;
    }

    if (!p->wildcard) {
        return strcmp(p->host, u->host) == 0;
    }

    hlen = strlen(u->host);

    /* a proper subdomain: "x.suffix", never "suffix" or "xsuffix" */
    return !u->is_ip && hlen > p->host_len + 1
           && u->host[hlen - p->host_len - 1] == '.'
           && strcmp(u->host + hlen - p->host_len, p->host) == 0;
}


int
wp_endpoint_check(const wp_endpoint_policy_t *pol, const char *url,
    size_t len, wp_url_t *out, wp_err_t *err)
{
    int                    rc;
    wp_url_t               local;
    wp_endpoint_policy_t  *def;

    if (out == NULL) {
        out = &local;
    }

    if (wp_url_parse(url, len, out, err) != 0) {
        return -1;
    }

    if (pol == NULL) {
        if (wp_endpoint_policy_parse(NULL, &def, err) != 0) {
            return -1;
        }
        rc = wp_endpoint_check(def, url, len, out, err);
        wp_endpoint_policy_free(def);
        return rc;
    }

    if (wp_endpoint_policy_match(pol, out)) {
        return 0;
    }

    return wp_err_set(err, WP_E_ENDPOINT_NOT_ALLOWED, "endpoint",
                      "endpoint: %s is not an allowed push service",
                      out->origin + 8);
}


int
wp_endpoint_policy_match(const wp_endpoint_policy_t *pol, const wp_url_t *u)
{
    size_t  i;

    for (i = 0; pol != NULL && i < pol->n; i++) {
        if (wp_pattern_match(&pol->pat[i], u)) {
            return 1;
        }
    }

    return 0;
}
