/*
 * The unit tests' shared test vectors: RFC 8291 Appendix A in base64url
 * (../shared/reference/webpush-protocol.md §3.2, byte for byte), and
 * unb64() to decode a constant (a bad one stops the test binary).
 */

#ifndef WP_TEST_VECTORS_H
#define WP_TEST_VECTORS_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "b64.h"


/* RFC 8291 Appendix A, as in webpush-protocol.md §3.2. */
#define V_PLAINTEXT  "V2hlbiBJIGdyb3cgdXAsIEkgd2FudCB0byBiZSBhIHdhdGVybWVsb24"
#define V_AS_PUBLIC  "BP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLoc" \
                     "InmYWAmS6TlzAC8wEqKK6PBru3jl7A8"
#define V_AS_PRIVATE "yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw"
#define V_UA_PUBLIC  "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvT" \
                     "BHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4"
#define V_UA_PRIVATE "q1dXpw3UpT5VOmu_cf_v6ih07Aems3njxI-JWgLcM94"
#define V_SALT       "DGv6ra1nlYgDCS1FRnbzlw"
#define V_AUTH       "BTBZMqHH6r4Tts7J_aSIgg"
#define V_ECDH       "kyrL1jIIOHEzg3sM2ZWRHDRB62YACZhhSlknJ672kSs"
#define V_PRK_KEY    "Snr3JMxaHVDXHWJn5wdC52WjpCtd2EIEGBykDcZW32k"
#define V_KEY_INFO   "V2ViUHVzaDogaW5mbwAEJXGyvs3942BVGq8e0PTNNmwRzr5VX4m8t7GG" \
                     "pTM5FzFo7OLr4BhZe9MEebhuPI-OztV3ylkYfpJGmQ22ggCLDgT-M_Sr" \
                     "DepxkU21WCP3O1SUj0EwbZIHMtu5pZpTKGSCIA5Zent7wmC6HCJ5mFgJ" \
                     "kuk5cwAvMBKiiujwa7t45ewP"
#define V_IKM        "S4lYMb_L0FxCeq0WhDx813KgSYqU26kOyzWUdsXYyrg"
#define V_PRK        "09_eUZGrsvxChDCGRCdkLiDXrReGOEVeSCdCcPBSJSc"
#define V_CEK        "oIhVW04MRdy2XN9CiKLxTg"
#define V_NONCE      "4h_95klXJ5E_qnoN"
#define V_HEADER     "DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBt" \
                     "kgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl" \
                     "7A8"
#define V_CIPHER     "8pfeW0KbunFT06SuDKoJH9Ql87S1QUrdirN6GcG7sFz1y1sqLgVi1Vhj" \
                     "VkHsUoEsbI_0LpXMuGvnzQ"
#define V_BODY       "DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBt" \
                     "kgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl" \
                     "7A_yl95bQpu6cVPTpK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLV" \
                     "WGNWQexSgSxsj_Qulcy4a-fN"


static inline size_t
unb64(const char *s, uint8_t *out, size_t cap)
{
    size_t    n;
    wp_err_t  err;

    if (wp_b64url_decode(s, strlen(s), out, cap, &n, WP_B64_STRICT, "",
                         &err) != 0)
    {
        printf("# bad test vector %s: %s\n", s, err.message);
        exit(2);
    }

    return n;
}

#endif /* WP_TEST_VECTORS_H */
