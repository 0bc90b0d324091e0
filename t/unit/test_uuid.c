/* Unit tests: lib/uuid.c (v4 UUID text form, randomness, job-id rules). */

#include <ctype.h>
#include <string.h>

#include "tap.h"
#include "sendreq.h"
#include "uuid.h"


static int
shape_ok(const char *u)
{
    size_t  i;

    if (strlen(u) != WP_UUID_LEN) {
        return 0;
    }

    for (i = 0; i < WP_UUID_LEN; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (u[i] != '-') {
                return 0;
            }
        } else if (!isxdigit((unsigned char) u[i])
                   || isupper((unsigned char) u[i]))
        {
            return 0;
        }
    }

    return 1;
}


int
main(void)
{
    int       i, all_shape, all_version, all_variant, dup;
    char      u[WP_UUID_LEN + 1], prev[WP_UUID_LEN + 1], guard[4];
    wp_err_t  e;

    memset(guard, 'x', sizeof(guard));
    ok(wp_uuid_v4(u) == 0, "wp_uuid_v4 succeeds");
    ok(shape_ok(u), "8-4-4-4-12 lower-case hex: %s", u);
    ok(guard[0] == 'x', "writes only its 37 bytes");
    ok(wp_send_job_id_check(u, strlen(u), &e) == 0,
       "a UUID is a valid job id (sendreq rules)");

    all_shape = all_version = all_variant = 1;
    dup = 0;
    prev[0] = '\0';

    for (i = 0; i < 1000; i++) {
        wp_uuid_v4(u);
        all_shape &= shape_ok(u);
        all_version &= u[14] == '4';
        all_variant &= strchr("89ab", u[19]) != NULL;
        dup |= strcmp(u, prev) == 0;
        memcpy(prev, u, sizeof(u));
    }

    ok(all_shape, "1000 UUIDs all well formed");
    ok(all_version, "version nibble is 4 (RFC 9562)");
    ok(all_variant, "variant bits are 10 (8, 9, a or b)");
    ok(!dup, "no two consecutive UUIDs equal");

    return tap_done();
}
