/*
 * libFuzzer target for lib/ece.c decoding.  Input: one selector byte,
 * then an aes128gcm body.  Selector bit 0 picks the RFC 8188 §3.1 or §3.2
 * IKM (so the seeds decrypt and mutations reach the record logic); bit 1
 * also runs the Web Push path with the RFC 8291 Appendix A keys.  Aborts
 * if a success reports more plaintext than the body could hold.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "b64.h"
#include "ece.h"


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


static size_t
unb64(const char *s, uint8_t *out, size_t cap)
{
    size_t  n;

    if (wp_b64url_decode(s, strlen(s), out, cap, &n, WP_B64_STRICT, "",
                         NULL) != 0)
    {
        abort();
    }

    return n;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* One context for the whole run: it is what production does too. */
    static wp_ece_t  *e;

    size_t     n, ikmlen, len;
    uint8_t    ikm[16], ua_priv[32], ua_pub[65], auth[16], *pt;
    const uint8_t  *body;

    if (e == NULL) {
        e = wp_ece_new(NULL);
        if (e == NULL) {
            abort();
        }
    }

    if (size < 1) {
        return 0;
    }

    body = data + 1;
    len = size - 1;

    pt = malloc(len + 1);
    if (pt == NULL) {
        abort();
    }

    ikmlen = unb64((data[0] & 1) ? "BO3ZVPxUlnLORbVGMpbT1Q"
                                 : "yqdlZ-tYemfogSmv7Ws5PQ",
                   ikm, sizeof(ikm));

    if (wp_ece_decrypt_ikm(e, ikm, ikmlen, body, len, pt, len, &n, NULL) == 0
        && (len < 21 + 17 || n > len - 21 - 17))
    {
        abort();
    }

    if (data[0] & 2) {
        unb64("q1dXpw3UpT5VOmu_cf_v6ih07Aems3njxI-JWgLcM94", ua_priv,
              sizeof(ua_priv));
        unb64("BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4b"
              "jyPjs7Vd8pZGH6SRpkNtoIAiw4", ua_pub, sizeof(ua_pub));
        unb64("BTBZMqHH6r4Tts7J_aSIgg", auth, sizeof(auth));

        if (wp_ece_decrypt(e, ua_priv, ua_pub, auth, body, len, pt, len, &n,
                           NULL) == 0
            && (len < WP_ECE_HEADER_LEN + 17
                || n > len - WP_ECE_HEADER_LEN - 17))
        {
            abort();
        }
    }

    free(pt);

    return 0;
}
