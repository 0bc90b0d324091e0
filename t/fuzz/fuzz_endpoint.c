/*
 * libFuzzer target for lib/endpoint.c.  The first input byte picks a
 * policy (default or a custom one), the rest is the URL.  An accepted URL
 * must satisfy the invariants the sender relies on.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "endpoint.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


static int
on_list(const wp_url_t *u, int custom)
{
    size_t       hl;
    const char  *h = u->host;

    static const char  *suffix[] = {
        ".push.services.mozilla.com", ".push.apple.com",
        ".notify.windows.com", NULL
    };
    int  i;

    hl = strlen(h);

    if (custom) {
        return (strcmp(h, "127.0.0.1") == 0 && u->port == 8443)
               || (strcmp(h, "[::1]") == 0 && u->port == 9443)
               || (u->port == 443 && hl > 12
                   && strcmp(h + hl - 12, ".example.com") == 0);
    }

    if (u->port != 443 || u->is_ip) {
        return 0;
    }

    if (strcmp(h, "fcm.googleapis.com") == 0
        || strcmp(h, "updates.push.services.mozilla.com") == 0)
    {
        return 1;
    }

    for (i = 0; suffix[i]; i++) {
        size_t  sl = strlen(suffix[i]);

        if (hl > sl && strcmp(h + hl - sl, suffix[i]) == 0) {
            return 1;
        }
    }

    return 0;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int                    custom;
    size_t                 i;
    wp_err_t               e;
    wp_url_t               u;
    const char            *url;
    wp_endpoint_policy_t  *pol;

    if (size < 1) {
        return 0;
    }

    custom = data[0] & 1;
    url = (const char *) data + 1;
    size--;

    if (wp_endpoint_policy_parse(custom
                                 ? "127.0.0.1:8443,[::1]:9443,*.example.com"
                                 : NULL, &pol, &e) != 0)
    {
        abort();
    }

    if (wp_endpoint_check(pol, url, size, &u, &e) == 0) {
        if (size < 8 || strncasecmp(url, "https://", 8) != 0
            || !on_list(&u, custom)
            || u.path_off > size || u.path_off + u.path_len != size
            || (u.path_len && url[u.path_off] != '/')
            || strncmp(u.origin, "https://", 8) != 0
            || (strcmp(u.origin + 8, u.host) != 0 && u.port == 443))
        {
            abort();
        }

        /* no '@', '#', '\\', space or control byte anywhere */
        for (i = 0; i < size; i++) {
            unsigned char  c = (unsigned char) url[i];

            if (c <= 0x20 || c >= 0x7f || c == '#' || c == '\\'
                || (i < u.path_off && c == '@'))
            {
                abort();
            }
        }

        for (i = 0; u.host[i]; i++) {
            if (u.host[i] >= 'A' && u.host[i] <= 'Z') {
                abort();
            }
        }

    } else if (strcmp(e.code, WP_E_BAD_ENDPOINT) != 0
               && strcmp(e.code, WP_E_ENDPOINT_NOT_ALLOWED) != 0)
    {
        abort();
    }

    wp_endpoint_policy_free(pol);

    /* the same bytes as a list must never crash or half-allocate */
    {
        char  *list = malloc(size + 1);

        if (list) {
            memcpy(list, url, size);
            list[size] = '\0';
            if (wp_endpoint_policy_parse(list, &pol, &e) == 0) {
                wp_endpoint_policy_free(pol);
            } else if (pol != NULL) {
                abort();
            }
            free(list);
        }
    }

    return 0;
}
