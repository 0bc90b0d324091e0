/*
 * libFuzzer target for lib/b64.c.  Checks, aborting on violation:
 *   - a strict decode that succeeds re-encodes to the input minus '=';
 *   - a lenient decode that succeeds re-encodes to the input in the url
 *     alphabet minus '=', and strict success implies the same lenient bytes;
 *   - decoded sizes never exceed wp_b64url_maxdec() nor the capacity;
 *   - any bytes encode to wp_b64url_len() url-alphabet characters that
 *     decode back to the same bytes.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "b64.h"


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


static void
check_reencode(const uint8_t *data, size_t size, const uint8_t *bin, size_t n,
    int lenient)
{
    char    *txt, c;
    size_t   tl, want, i;

    txt = malloc(wp_b64url_len(n) + 1);
    if (txt == NULL) {
        abort();
    }

    tl = wp_b64url_encode(bin, n, txt);

    want = size;
    while (want > 0 && data[want - 1] == '=') {
        want--;
    }

    if (tl != want) {
        abort();
    }

    for (i = 0; i < tl; i++) {
        c = (char) data[i];
        if (lenient) {
            c = c == '+' ? '-' : c == '/' ? '_' : c;
        }
        if (txt[i] != c) {
            abort();
        }
    }

    free(txt);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int       rs, rl;
    char     *txt;
    size_t    ns, nl, cap, n;
    uint8_t  *s, *l, *back;

    cap = wp_b64url_maxdec(size);
    s = malloc(cap + 1);
    l = malloc(cap + 1);
    if (s == NULL || l == NULL) {
        abort();
    }

    rs = wp_b64url_decode((const char *) data, size, s, cap, &ns,
                          WP_B64_STRICT, "fuzz", NULL);
    rl = wp_b64url_decode((const char *) data, size, l, cap, &nl,
                          WP_B64_LENIENT, "fuzz", NULL);

    if (rs == 0) {
        if (ns > cap || rl != 0 || nl != ns || memcmp(s, l, ns) != 0) {
            abort();
        }
        check_reencode(data, size, s, ns, 0);

        /* One byte less room must be refused, never overrun. */
        if (ns > 0 && wp_b64url_decode((const char *) data, size, s, ns - 1,
                                       &n, WP_B64_STRICT, "", NULL) == 0)
        {
            abort();
        }
    }

    if (rl == 0) {
        if (nl > cap) {
            abort();
        }
        check_reencode(data, size, l, nl, 1);
    }

    /* Any bytes encode and decode back. */
    txt = malloc(wp_b64url_len(size) + 1);
    back = malloc(size + 1);
    if (txt == NULL || back == NULL) {
        abort();
    }

    n = wp_b64url_encode(data, size, txt);
    if (n != wp_b64url_len(size) || txt[n] != '\0'
        || wp_b64url_decode(txt, n, back, size, &nl, WP_B64_STRICT, "", NULL)
           != 0
        || nl != size || memcmp(back, data, size) != 0)
    {
        abort();
    }

    free(txt);
    free(back);
    free(s);
    free(l);

    return 0;
}
