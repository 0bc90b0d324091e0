/* ngx_webpush: random UUIDs (see uuid.h). */

#include <stdint.h>

#include <openssl/rand.h>

#include "uuid.h"


int
wp_uuid_v4(char *out)
{
    char           *p;
    size_t          i;
    uint8_t         b[16];
    static const char  hex[] = "0123456789abcdef";

    if (RAND_bytes(b, sizeof(b)) != 1) {
        out[0] = '\0';
        return -1;
    }

    b[6] = (b[6] & 0x0f) | 0x40;        /* version 4 */
    b[8] = (b[8] & 0x3f) | 0x80;        /* variant 10 */

    p = out;

    for (i = 0; i < sizeof(b); i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10) {
            *p++ = '-';
        }
        *p++ = hex[b[i] >> 4];
        *p++ = hex[b[i] & 0x0f];
    }

    *p = '\0';

    return 0;
}
