/*
 * Unit tests for lib/ece.c: RFC 8291 Appendix A (every intermediate
 * value), RFC 8188 §3.1/§3.2, round trips, size limits and bad inputs.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "b64.h"
#include "ece.h"
#include "ece_internal.h"
#include "tap.h"
#include "vectors.h"


/* RFC 8188 §3.1 and §3.2. */
#define V1_IKM       "yqdlZ-tYemfogSmv7Ws5PQ"
#define V1_BODY      "I1BsxtFttlv3u_Oo94xnmwAAEAAA-NAVub2qFgBEuQKRapoZu-IxkIva" \
                     "3MEB1PD-ly8Thjg"
#define V1_PRK       "zyeH5phsIsgUyd4oiSEIy35x-gIi4aM7y0hCF8mwn9g"
#define V1_CEK       "_wniytB-ofscZDh4tbSjHw"
#define V1_NONCE     "Bcs8gkIRKLI8GeI8"
#define V2_IKM       "BO3ZVPxUlnLORbVGMpbT1Q"
#define V2_BODY      "uNCkWiNYzKTnBN9ji3-qWAAAABkCYTHOG8chz_gnvgOqdGYovxyjuqRy" \
                     "JFjEDyoF1Fvkj6hQPdPHI51OEUKEpgz3SsLWIqS_uA"

#define BIG  (WP_ECE_MAX_BODY + 64)


static const char *
code(int rc, const wp_err_t *err)
{
    return rc == 0 ? "(success)" : err->code;
}


/* The test's own AES-128-GCM record sealer, to forge RFC 8188 bodies. */
static size_t
seal(const wp_ece_keys_t *k, uint64_t seq, const uint8_t *pt, size_t n,
    uint8_t *out)
{
    int              len, i;
    uint8_t          iv[12];
    EVP_CIPHER_CTX  *c;

    memcpy(iv, k->nonce, 12);
    for (i = 0; i < 8; i++) {
        iv[11 - i] ^= (uint8_t) (seq >> (8 * i));
    }

    c = EVP_CIPHER_CTX_new();
    if (c == NULL
        || EVP_EncryptInit_ex(c, EVP_aes_128_gcm(), NULL, k->cek, iv) != 1
        || EVP_EncryptUpdate(c, out, &len, pt, (int) n) != 1
        || EVP_EncryptFinal_ex(c, out + n, &len) != 1
        || EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, 16, out + n) != 1)
    {
        printf("# seal failed\n");
        exit(2);
    }

    EVP_CIPHER_CTX_free(c);

    return n + 16;
}


/* Header for a forged body: fixed salt, given rs and keyid. */
static size_t
forge_header(uint8_t *out, uint32_t rs, const uint8_t *keyid, uint8_t idlen)
{
    memset(out, 0x5a, 16);
    out[16] = (uint8_t) (rs >> 24);
    out[17] = (uint8_t) (rs >> 16);
    out[18] = (uint8_t) (rs >> 8);
    out[19] = (uint8_t) rs;
    out[20] = idlen;
    memcpy(out + 21, keyid, idlen);

    return 21 + (size_t) idlen;
}


static void
test_appendix_a(wp_ece_t *e)
{
    int            rc;
    size_t         n, bodylen, ptlen;
    uint8_t        ua_pub[65], ua_priv[32], as_pub[65], as_priv[32];
    uint8_t        salt[16], auth[16], pt[64], want[256], body[BIG];
    uint8_t        got_pub[65], out[64];
    wp_ece_keys_t  k;
    wp_err_t       err;

    unb64(V_UA_PUBLIC, ua_pub, sizeof(ua_pub));
    unb64(V_UA_PRIVATE, ua_priv, sizeof(ua_priv));
    unb64(V_AS_PUBLIC, as_pub, sizeof(as_pub));
    unb64(V_AS_PRIVATE, as_priv, sizeof(as_priv));
    unb64(V_SALT, salt, sizeof(salt));
    unb64(V_AUTH, auth, sizeof(auth));
    ptlen = unb64(V_PLAINTEXT, pt, sizeof(pt));
    is_int(ptlen, 41, "A: plaintext is 41 bytes");

    memset(&k, 0, sizeof(k));
    rc = wp_ece_derive(e, as_priv, ua_pub, auth, salt, got_pub, &k, &err);
    is_int(rc, 0, "A: derive succeeds");
    is_mem(got_pub, as_pub, 65, "A: as_public derives from as_private");

    n = unb64(V_ECDH, want, sizeof(want));
    ok(n == 32 && memcmp(k.ecdh_secret, want, 32) == 0, "A: ecdh_secret");
    n = unb64(V_PRK_KEY, want, sizeof(want));
    ok(n == 32 && memcmp(k.prk_key, want, 32) == 0, "A: PRK_key");
    n = unb64(V_KEY_INFO, want, sizeof(want));
    ok(n == 144 && memcmp(k.key_info, want, 144) == 0, "A: key_info (144)");
    n = unb64(V_IKM, want, sizeof(want));
    ok(n == 32 && memcmp(k.ikm, want, 32) == 0, "A: IKM");
    n = unb64(V_PRK, want, sizeof(want));
    ok(n == 32 && memcmp(k.prk, want, 32) == 0, "A: PRK");
    n = unb64(V_CEK, want, sizeof(want));
    ok(n == 16 && memcmp(k.cek, want, 16) == 0, "A: CEK");
    n = unb64(V_NONCE, want, sizeof(want));
    ok(n == 12 && memcmp(k.nonce, want, 12) == 0, "A: NONCE");

    rc = wp_ece_encrypt_with(e, ua_pub, auth, as_priv, salt, pt, ptlen, 0,
                             body, sizeof(body), &bodylen, &err);
    is_int(rc, 0, "A: encrypt_with succeeds");
    is_int(bodylen, 144, "A: body is 144 bytes (not the RFC's 145)");
    is_int(wp_ece_body_len(41, 0), 144, "A: wp_ece_body_len(41, 0)");

    n = unb64(V_HEADER, want, sizeof(want));
    ok(n == 86 && memcmp(body, want, 86) == 0, "A: 86-byte header");
    n = unb64(V_CIPHER, want, sizeof(want));
    ok(n == 58 && memcmp(body + 86, want, 58) == 0, "A: ciphertext+tag (58)");
    n = unb64(V_BODY, want, sizeof(want));
    ok(n == 144 && bodylen == 144 && memcmp(body, want, 144) == 0,
       "A: whole body byte for byte");

    memset(out, 0xee, sizeof(out));
    rc = wp_ece_decrypt(e, ua_priv, ua_pub, auth, want, 144, out,
                        sizeof(out), &n, &err);
    is_int(rc, 0, "A: decrypt with ua_private succeeds");
    ok(n == 41 && memcmp(out, "When I grow up, I want to be a watermelon",
                         41) == 0, "A: decrypts to the watermelon");

    /* Exact capacity is enough; one byte less is not. */
    rc = wp_ece_encrypt_with(e, ua_pub, auth, as_priv, salt, pt, ptlen, 0,
                             body, 144, &bodylen, &err);
    is_int(rc, 0, "A: cap = 144 is enough");
    rc = wp_ece_encrypt_with(e, ua_pub, auth, as_priv, salt, pt, ptlen, 0,
                             body, 143, &bodylen, &err);
    is_str(code(rc, &err), WP_E_BUFFER, "A: cap = 143 -> buffer_too_small");
    rc = wp_ece_decrypt(e, ua_priv, ua_pub, auth, want, 144, out, 40, &n,
                        &err);
    is_str(code(rc, &err), WP_E_BUFFER, "A: decrypt into 40 bytes -> buffer");
    rc = wp_ece_decrypt(e, ua_priv, ua_pub, auth, want, 144, out, 41, &n,
                        &err);
    ok(rc == 0 && n == 41, "A: decrypt into exactly 41 bytes");
}


static void
test_rfc8188(wp_ece_t *e)
{
    int            rc;
    size_t         n, ikmlen, len;
    uint8_t        ikm[16], body[128], out[64], want[32];
    wp_ece_keys_t  k;
    wp_err_t       err;

    ikmlen = unb64(V1_IKM, ikm, sizeof(ikm));
    len = unb64(V1_BODY, body, sizeof(body));
    is_int(len, 53, "8188 §3.1: body is 53 bytes (RFC text says 54)");

    rc = wp_ece_content_keys(e, ikm, ikmlen, body, &k, &err);
    is_int(rc, 0, "8188 §3.1: content keys");
    n = unb64(V1_PRK, want, sizeof(want));
    ok(n == 32 && memcmp(k.prk, want, 32) == 0, "8188 §3.1: PRK");
    n = unb64(V1_CEK, want, sizeof(want));
    ok(n == 16 && memcmp(k.cek, want, 16) == 0, "8188 §3.1: CEK");
    n = unb64(V1_NONCE, want, sizeof(want));
    ok(n == 12 && memcmp(k.nonce, want, 12) == 0, "8188 §3.1: NONCE");

    rc = wp_ece_decrypt_ikm(e, ikm, ikmlen, body, len, out, sizeof(out), &n,
                            &err);
    is_int(rc, 0, "8188 §3.1: decrypts");
    ok(n == 15 && memcmp(out, "I am the walrus", 15) == 0,
       "8188 §3.1: \"I am the walrus\"");

    /* Not a Web Push body: idlen 0. */
    {
        uint8_t  ua_pub[65], ua_priv[32], auth[16];

        unb64(V_UA_PUBLIC, ua_pub, sizeof(ua_pub));
        unb64(V_UA_PRIVATE, ua_priv, sizeof(ua_priv));
        unb64(V_AUTH, auth, sizeof(auth));
        rc = wp_ece_decrypt(e, ua_priv, ua_pub, auth, body, len, out,
                            sizeof(out), &n, &err);
    }
    is_str(code(rc, &err), WP_E_DECRYPT, "8188 §3.1 body: idlen 0 refused "
           "by the Web Push decrypt");

    ikmlen = unb64(V2_IKM, ikm, sizeof(ikm));
    len = unb64(V2_BODY, body, sizeof(body));
    rc = wp_ece_decrypt_ikm(e, ikm, ikmlen, body, len, out, sizeof(out), &n,
                            &err);
    is_int(rc, 0, "8188 §3.2: two records (rs 25, keyid a1) decrypt");
    ok(n == 15 && memcmp(out, "I am the walrus", 15) == 0,
       "8188 §3.2: \"I am the walrus\"");

    /* Wrong IKM, truncated second record, dropped second record. */
    ikm[0] ^= 1;
    rc = wp_ece_decrypt_ikm(e, ikm, ikmlen, body, len, out, sizeof(out), &n,
                            &err);
    is_str(code(rc, &err), WP_E_DECRYPT, "8188 §3.2: wrong IKM -> decrypt");
    ikm[0] ^= 1;
    rc = wp_ece_decrypt_ikm(e, ikm, ikmlen, body, len - 1, out, sizeof(out),
                            &n, &err);
    is_str(code(rc, &err), WP_E_DECRYPT, "8188 §3.2: last byte cut");
    rc = wp_ece_decrypt_ikm(e, ikm, ikmlen, body, 23 + 25, out, sizeof(out),
                            &n, &err);
    is_str(code(rc, &err), WP_E_DECRYPT,
           "8188 §3.2: only the first record (delimiter 0x01 as last)");
    ok(strstr(err.message, "delimiter") != NULL, "   ... names the delimiter");
}


/* Forged RFC 8188 bodies: delimiters, record sizes, all-zero records. */
static void
test_forged(wp_ece_t *e)
{
    int            rc;
    size_t         n, len;
    uint8_t        ikm[16], body[512], out[256], rec[64];
    wp_ece_keys_t  k;
    wp_err_t       err;

    memset(ikm, 0x42, sizeof(ikm));
    memset(body, 0x5a, 16);
    if (wp_ece_content_keys(e, ikm, sizeof(ikm), body, &k, &err) != 0) {
        printf("# content keys failed\n");
        exit(2);
    }

    /* rs = 18: each record carries one byte + delimiter. */
    len = forge_header(body, 18, (const uint8_t *) "", 0);
    len += seal(&k, 0, (const uint8_t *) "h\x01", 2, body + len);
    len += seal(&k, 1, (const uint8_t *) "i\x01", 2, body + len);
    len += seal(&k, 2, (const uint8_t *) "!\x02", 2, body + len);
    rc = wp_ece_decrypt_ikm(e, ikm, 16, body, len, out, sizeof(out), &n,
                            &err);
    ok(rc == 0 && n == 3 && memcmp(out, "hi!", 3) == 0,
       "forged: rs 18, three records -> \"hi!\"");

    /* Same records, rs 17 in the header. */
    body[19] = 17;
    rc = wp_ece_decrypt_ikm(e, ikm, 16, body, len, out, sizeof(out), &n,
                            &err);
    is_str(code(rc, &err), WP_E_DECRYPT, "forged: rs 17 < 18 -> decrypt");
    body[19] = 0;
    body[16] = 0; body[17] = 0; body[18] = 0;
    rc = wp_ece_decrypt_ikm(e, ikm, 16, body, len, out, sizeof(out), &n,
                            &err);
    is_str(code(rc, &err), WP_E_DECRYPT, "forged: rs 0 -> decrypt");

    /* Last record with 0x01. */
    len = forge_header(body, 18, (const uint8_t *) "", 0);
    len += seal(&k, 0, (const uint8_t *) "h\x01", 2, body + len);
    len += seal(&k, 1, (const uint8_t *) "i\x01", 2, body + len);
    rc = wp_ece_decrypt_ikm(e, ikm, 16, body, len, out, sizeof(out), &n,
                            &err);
    is_str(code(rc, &err), WP_E_DECRYPT, "forged: last record 0x01");

    /* Non-last record with 0x02. */
    len = forge_header(body, 18, (const uint8_t *) "", 0);
    len += seal(&k, 0, (const uint8_t *) "h\x02", 2, body + len);
    len += seal(&k, 1, (const uint8_t *) "i\x02", 2, body + len);
    rc = wp_ece_decrypt_ikm(e, ikm, 16, body, len, out, sizeof(out), &n,
                            &err);
    is_str(code(rc, &err), WP_E_DECRYPT, "forged: non-last record 0x02");

    /* Delimiter 0x03, and padding with a non-zero byte after 0x02. */
    len = forge_header(body, 4096, (const uint8_t *) "", 0);
    len += seal(&k, 0, (const uint8_t *) "abc\x03\0\0", 6, body + len);
    rc = wp_ece_decrypt_ikm(e, ikm, 16, body, len, out, sizeof(out), &n,
                            &err);
    is_str(code(rc, &err), WP_E_DECRYPT, "forged: delimiter 0x03");
    len = forge_header(body, 4096, (const uint8_t *) "", 0);
    len += seal(&k, 0, (const uint8_t *) "abc\x02\0\x07", 6, body + len);
    rc = wp_ece_decrypt_ikm(e, ikm, 16, body, len, out, sizeof(out), &n,
                            &err);
    is_str(code(rc, &err), WP_E_DECRYPT, "forged: non-zero byte in padding");

    /* All-zero record. */
    memset(rec, 0, sizeof(rec));
    len = forge_header(body, 4096, (const uint8_t *) "", 0);
    len += seal(&k, 0, rec, 10, body + len);
    rc = wp_ece_decrypt_ikm(e, ikm, 16, body, len, out, sizeof(out), &n,
                            &err);
    is_str(code(rc, &err), WP_E_DECRYPT, "forged: all-zero record");
    ok(strstr(err.message, "all zero") != NULL, "   ... says all zero");

    /* Zero bytes that are data (before the delimiter) are kept. */
    len = forge_header(body, 4096, (const uint8_t *) "k1", 2);
    len += seal(&k, 0, (const uint8_t *) "\0\0a\0\0\x02\0\0\0", 9,
                body + len);
    rc = wp_ece_decrypt_ikm(e, ikm, 16, body, len, out, sizeof(out), &n,
                            &err);
    ok(rc == 0 && n == 5 && memcmp(out, "\0\0a\0\0", 5) == 0,
       "forged: zero data bytes kept, zero padding dropped, keyid k1");

    /* A record of only a tag, and a header cut inside the keyid. */
    len = forge_header(body, 4096, (const uint8_t *) "", 0);
    len += seal(&k, 0, (const uint8_t *) "", 0, body + len);
    rc = wp_ece_decrypt_ikm(e, ikm, 16, body, len, out, sizeof(out), &n,
                            &err);
    is_str(code(rc, &err), WP_E_DECRYPT, "forged: 16-byte record (tag only)");
    len = forge_header(body, 4096, (const uint8_t *) "abcdef", 6);
    rc = wp_ece_decrypt_ikm(e, ikm, 16, body, 24, out, sizeof(out), &n,
                            &err);
    is_str(code(rc, &err), WP_E_DECRYPT, "forged: cut inside keyid");
    rc = wp_ece_decrypt_ikm(e, ikm, 16, body, len, out, sizeof(out), &n,
                            &err);
    is_str(code(rc, &err), WP_E_DECRYPT, "forged: header with no record");
    rc = wp_ece_decrypt_ikm(e, ikm, 16, body, 20, out, sizeof(out), &n,
                            &err);
    is_str(code(rc, &err), WP_E_DECRYPT, "forged: 20 bytes");
    rc = wp_ece_decrypt_ikm(e, ikm, 16, body, 0, out, sizeof(out), &n, &err);
    is_str(code(rc, &err), WP_E_DECRYPT, "forged: empty body");

    /* Records swapped: sequence numbers matter. */
    len = forge_header(body, 18, (const uint8_t *) "", 0);
    len += seal(&k, 1, (const uint8_t *) "h\x01", 2, body + len);
    len += seal(&k, 0, (const uint8_t *) "i\x02", 2, body + len);
    rc = wp_ece_decrypt_ikm(e, ikm, 16, body, len, out, sizeof(out), &n,
                            &err);
    is_str(code(rc, &err), WP_E_DECRYPT, "forged: records out of order");
}


static void
test_roundtrips(wp_ece_t *e)
{
    int       i, bad, rc;
    size_t    sizes[] = { 0, 1, 2, 15, 16, 17, 41, 255, 256, 1000, 2641,
                          3992, 3993 };
    size_t    j, ptlen, padlen, bodylen, n;
    uint8_t   ua_pub[65], ua_priv[32], auth[16];
    uint8_t  *pt, *body, *out;
    wp_err_t  err;

    pt = malloc(4096);
    body = malloc(BIG);
    out = malloc(4096);
    if (pt == NULL || body == NULL || out == NULL) {
        exit(2);
    }

    rc = wp_p256_generate(ua_priv, ua_pub, &err);
    is_int(rc, 0, "generate a user agent key pair");
    is_int(wp_p256_check_public(ua_pub, "p", &err), 0,
           "generated public key passes the check");
    RAND_bytes(auth, sizeof(auth));

    bad = 0;
    for (i = 0; i < 200; i++) {
        if ((size_t) i < sizeof(sizes) / sizeof(sizes[0])) {
            j = (size_t) i;
            ptlen = sizes[j];
            padlen = 0;

        } else {
            ptlen = (size_t) rand() % (WP_ECE_MAX_PLAINTEXT + 1);
            padlen = (i % 2) ? (size_t) rand() % (WP_ECE_MAX_PLAINTEXT
                                                  - ptlen + 1) : 0;
        }

        RAND_bytes(pt, (int) (ptlen ? ptlen : 1));
        if (i % 7 == 0 && ptlen) {
            memset(pt + ptlen / 2, 0, ptlen - ptlen / 2);  /* trailing 0s */
        }

        rc = wp_ece_encrypt(e, ua_pub, auth, pt, ptlen, padlen, body, BIG,
                            &bodylen, &err);
        if (rc != 0 || bodylen != 86 + ptlen + 1 + padlen + 16) {
            printf("# encrypt %zu+%zu: %s\n", ptlen, padlen,
                   rc ? err.message : "wrong length");
            bad++;
            continue;
        }

        rc = wp_ece_decrypt(e, ua_priv, ua_pub, auth, body, bodylen, out,
                            4096, &n, &err);
        if (rc != 0 || n != ptlen || memcmp(out, pt, ptlen) != 0) {
            printf("# decrypt %zu+%zu: %s\n", ptlen, padlen,
                   rc ? err.message : "wrong plaintext");
            bad++;
        }
    }
    is_int(bad, 0, "200 round trips, sizes 0..3993, with and without padding");

    /* Limits. */
    rc = wp_ece_encrypt(e, ua_pub, auth, pt, 3993, 0, body, BIG, &bodylen,
                        &err);
    ok(rc == 0 && bodylen == 4096, "3993 bytes -> 4096-byte body");
    rc = wp_ece_encrypt(e, ua_pub, auth, pt, 3994, 0, body, BIG, &bodylen,
                        &err);
    is_str(code(rc, &err), WP_E_PAYLOAD_TOO_LARGE, "3994 -> payload_too_large");
    is_str(err.field, "payload", "   ... field payload");
    rc = wp_ece_encrypt(e, ua_pub, auth, pt, 3000, 993, body, BIG, &bodylen,
                        &err);
    ok(rc == 0 && bodylen == 4096, "3000 + 993 padding -> 4096-byte body");
    rc = wp_ece_encrypt(e, ua_pub, auth, pt, 3000, 994, body, BIG, &bodylen,
                        &err);
    is_str(code(rc, &err), WP_E_PAYLOAD_TOO_LARGE, "3000 + 994 padding");
    rc = wp_ece_encrypt(e, ua_pub, auth, pt, 0, 3994, body, BIG, &bodylen,
                        &err);
    is_str(code(rc, &err), WP_E_PAYLOAD_TOO_LARGE, "0 + 3994 padding");
    rc = wp_ece_encrypt(e, ua_pub, auth, pt, 10, SIZE_MAX - 5, body, BIG,
                        &bodylen, &err);
    is_str(code(rc, &err), WP_E_PAYLOAD_TOO_LARGE, "padding near SIZE_MAX "
           "(no overflow)");
    rc = wp_ece_encrypt(e, ua_pub, auth, pt, 100, 0, body, 202, &bodylen,
                        &err);
    is_str(code(rc, &err), WP_E_BUFFER, "cap one short -> buffer_too_small");

    /* Fresh salt and key each time. */
    if (wp_ece_encrypt(e, ua_pub, auth, pt, 64, 0, body, BIG, &bodylen,
                       &err) != 0
        || wp_ece_encrypt(e, ua_pub, auth, pt, 64, 0, out, 4096, &n, &err)
           != 0)
    {
        ok(0, "two encryptions");

    } else {
        ok(memcmp(body, out, 16) != 0, "two encryptions: salts differ");
        ok(memcmp(body + 21, out + 21, 65) != 0,
           "two encryptions: ephemeral keys differ");
        ok(memcmp(body + 86, out + 86, 64 + 17) != 0,
           "two encryptions: ciphertexts differ");
        ok(body[20] == 65 && body[16] == 0 && body[17] == 0
           && body[18] == 0x10 && body[19] == 0,
           "header: rs 4096 big-endian, idlen 65");
    }

    free(pt);
    free(body);
    free(out);
}


static void
test_bad_inputs(wp_ece_t *e)
{
    int       rc;
    size_t    n, len;
    uint8_t   ua_pub[65], ua_priv[32], auth[16], as_priv[32], salt[16];
    uint8_t   bad[65], body[256], tmp[256], out[64], other_priv[32];
    uint8_t   other_pub[65];
    wp_err_t  err;

    unb64(V_UA_PUBLIC, ua_pub, sizeof(ua_pub));
    unb64(V_UA_PRIVATE, ua_priv, sizeof(ua_priv));
    unb64(V_AS_PRIVATE, as_priv, sizeof(as_priv));
    unb64(V_SALT, salt, sizeof(salt));
    unb64(V_AUTH, auth, sizeof(auth));
    len = unb64(V_BODY, body, sizeof(body));

    /* Public key checks. */
    is_int(wp_p256_check_public(ua_pub, "keys.p256dh", &err), 0,
           "check_public: vector key ok");

    memcpy(bad, ua_pub, 65);
    bad[64] ^= 1;
    rc = wp_p256_check_public(bad, "keys.p256dh", &err);
    is_str(code(rc, &err), WP_E_BAD_KEY, "check_public: off-curve");
    is_str(err.field, "keys.p256dh", "   ... field keys.p256dh");
    ok(strstr(err.message, "keys.p256dh") != NULL, "   ... message names it");
    rc = wp_ece_encrypt(e, bad, auth, (const uint8_t *) "x", 1, 0, tmp,
                        sizeof(tmp), &n, &err);
    is_str(code(rc, &err), WP_E_BAD_KEY, "encrypt: off-curve p256dh");
    is_str(err.field, "keys.p256dh", "   ... field keys.p256dh");
    rc = wp_ece_encrypt_with(e, bad, auth, as_priv, salt,
                             (const uint8_t *) "x", 1, 0, tmp, sizeof(tmp),
                             &n, &err);
    is_str(code(rc, &err), WP_E_BAD_KEY, "encrypt_with: off-curve p256dh");

    memcpy(bad, ua_pub, 65);
    bad[0] = 0x02 | (ua_pub[64] & 1);
    rc = wp_p256_check_public(bad, "keys.p256dh", &err);
    is_str(code(rc, &err), WP_E_BAD_KEY, "check_public: compressed prefix");
    rc = wp_ece_encrypt(e, bad, auth, (const uint8_t *) "x", 1, 0, tmp,
                        sizeof(tmp), &n, &err);
    is_str(code(rc, &err), WP_E_BAD_KEY, "encrypt: compressed point");

    bad[0] = 0x05;
    rc = wp_p256_check_public(bad, "keys.p256dh", &err);
    is_str(code(rc, &err), WP_E_BAD_KEY, "check_public: first byte 0x05");
    bad[0] = 0x06;
    rc = wp_ece_encrypt(e, bad, auth, (const uint8_t *) "x", 1, 0, tmp,
                        sizeof(tmp), &n, &err);
    is_str(code(rc, &err), WP_E_BAD_KEY, "encrypt: hybrid prefix 0x06");

    memset(bad, 0, 65);
    rc = wp_p256_check_public(bad, "k", &err);
    is_str(code(rc, &err), WP_E_BAD_KEY, "check_public: all zero");
    bad[0] = 0x04;
    rc = wp_p256_check_public(bad, "k", &err);
    is_str(code(rc, &err), WP_E_BAD_KEY, "check_public: 04 || zeros");
    memset(bad + 1, 0xff, 64);
    rc = wp_p256_check_public(bad, "k", &err);
    is_str(code(rc, &err), WP_E_BAD_KEY, "check_public: coordinates >= p");
    rc = wp_ece_encrypt(e, bad, auth, (const uint8_t *) "x", 1, 0, tmp,
                        sizeof(tmp), &n, &err);
    is_str(code(rc, &err), WP_E_BAD_KEY, "encrypt: coordinates >= p");

    /* Bad sender scalars for the deterministic path. */
    memset(other_priv, 0, 32);
    rc = wp_ece_encrypt_with(e, ua_pub, auth, other_priv, salt,
                             (const uint8_t *) "x", 1, 0, tmp, sizeof(tmp),
                             &n, &err);
    is_str(code(rc, &err), WP_E_BAD_KEY, "encrypt_with: zero scalar");
    memset(other_priv, 0xff, 32);
    rc = wp_ece_encrypt_with(e, ua_pub, auth, other_priv, salt,
                             (const uint8_t *) "x", 1, 0, tmp, sizeof(tmp),
                             &n, &err);
    is_str(code(rc, &err), WP_E_BAD_KEY, "encrypt_with: scalar >= n");

    /* Truncated bodies. */
    rc = wp_ece_decrypt(e, ua_priv, ua_pub, auth, body, len - 1, out,
                        sizeof(out), &n, &err);
    is_str(code(rc, &err), WP_E_DECRYPT, "decrypt: 143 of 144 bytes");
    rc = wp_ece_decrypt(e, ua_priv, ua_pub, auth, body, 86 + 16, out,
                        sizeof(out), &n, &err);
    is_str(code(rc, &err), WP_E_DECRYPT, "decrypt: header + 16 bytes");
    rc = wp_ece_decrypt(e, ua_priv, ua_pub, auth, body, 86, out,
                        sizeof(out), &n, &err);
    is_str(code(rc, &err), WP_E_DECRYPT, "decrypt: header only");
    rc = wp_ece_decrypt(e, ua_priv, ua_pub, auth, body, 85, out,
                        sizeof(out), &n, &err);
    is_str(code(rc, &err), WP_E_DECRYPT, "decrypt: 85 bytes");
    rc = wp_ece_decrypt(e, ua_priv, ua_pub, auth, body, 20, out,
                        sizeof(out), &n, &err);
    is_str(code(rc, &err), WP_E_DECRYPT, "decrypt: 20 bytes");
    rc = wp_ece_decrypt(e, ua_priv, ua_pub, auth, body, 0, out,
                        sizeof(out), &n, &err);
    is_str(code(rc, &err), WP_E_DECRYPT, "decrypt: empty");

    /* Flipped bytes. */
    memcpy(tmp, body, len);
    tmp[100] ^= 0x01;
    rc = wp_ece_decrypt(e, ua_priv, ua_pub, auth, tmp, len, out,
                        sizeof(out), &n, &err);
    is_str(code(rc, &err), WP_E_DECRYPT, "decrypt: flipped ciphertext byte");
    memcpy(tmp, body, len);
    tmp[len - 1] ^= 0x80;
    rc = wp_ece_decrypt(e, ua_priv, ua_pub, auth, tmp, len, out,
                        sizeof(out), &n, &err);
    is_str(code(rc, &err), WP_E_DECRYPT, "decrypt: flipped tag byte");
    memcpy(tmp, body, len);
    tmp[3] ^= 0x01;
    rc = wp_ece_decrypt(e, ua_priv, ua_pub, auth, tmp, len, out,
                        sizeof(out), &n, &err);
    is_str(code(rc, &err), WP_E_DECRYPT, "decrypt: flipped salt byte");
    memcpy(tmp, body, len);
    tmp[60] ^= 0x01;
    rc = wp_ece_decrypt(e, ua_priv, ua_pub, auth, tmp, len, out,
                        sizeof(out), &n, &err);
    is_str(code(rc, &err), WP_E_DECRYPT, "decrypt: keyid off the curve");
    memcpy(tmp, body, len);
    tmp[21] = 0x02;
    rc = wp_ece_decrypt(e, ua_priv, ua_pub, auth, tmp, len, out,
                        sizeof(out), &n, &err);
    is_str(code(rc, &err), WP_E_DECRYPT, "decrypt: compressed keyid");

    /* idlen != 65 and rs < 18 in an otherwise intact body. */
    memcpy(tmp, body, len);
    tmp[20] = 64;
    rc = wp_ece_decrypt(e, ua_priv, ua_pub, auth, tmp, len, out,
                        sizeof(out), &n, &err);
    is_str(code(rc, &err), WP_E_DECRYPT, "decrypt: idlen 64");
    tmp[20] = 66;
    rc = wp_ece_decrypt(e, ua_priv, ua_pub, auth, tmp, len, out,
                        sizeof(out), &n, &err);
    is_str(code(rc, &err), WP_E_DECRYPT, "decrypt: idlen 66");
    memcpy(tmp, body, len);
    tmp[18] = 0;
    tmp[19] = 17;
    rc = wp_ece_decrypt(e, ua_priv, ua_pub, auth, tmp, len, out,
                        sizeof(out), &n, &err);
    is_str(code(rc, &err), WP_E_DECRYPT, "decrypt: rs 17");
    /* rs 18 splits the 58-byte record: Web Push allows one record only. */
    tmp[19] = 18;
    rc = wp_ece_decrypt(e, ua_priv, ua_pub, auth, tmp, len, out,
                        sizeof(out), &n, &err);
    is_str(code(rc, &err), WP_E_DECRYPT, "decrypt: rs 18 -> several records");

    /* Wrong secrets. */
    memcpy(tmp, auth, 16);
    tmp[0] ^= 1;
    rc = wp_ece_decrypt(e, ua_priv, ua_pub, tmp, body, len, out,
                        sizeof(out), &n, &err);
    is_str(code(rc, &err), WP_E_DECRYPT, "decrypt: wrong auth");
    if (wp_p256_generate(other_priv, other_pub, &err) != 0) {
        exit(2);
    }
    rc = wp_ece_decrypt(e, other_priv, other_pub, auth, body, len, out,
                        sizeof(out), &n, &err);
    is_str(code(rc, &err), WP_E_DECRYPT, "decrypt: another user agent's key");
    rc = wp_ece_decrypt(e, ua_priv, other_pub, auth, body, len, out,
                        sizeof(out), &n, &err);
    is_str(code(rc, &err), WP_E_BAD_KEY,
           "decrypt: ua_public not ua_private's -> invalid_key");

    /* Wrong delimiter in a Web Push body: encrypt 0x01 by hand. */
    {
        wp_ece_keys_t  k;
        uint8_t        as_pub[65];

        if (wp_ece_derive(e, as_priv, ua_pub, auth, salt, as_pub, &k, &err)
            != 0)
        {
            exit(2);
        }

        memcpy(tmp, body, 86);
        n = seal(&k, 0, (const uint8_t *) "hello\x01", 6, tmp + 86);
        rc = wp_ece_decrypt(e, ua_priv, ua_pub, auth, tmp, 86 + n, out,
                            sizeof(out), &n, &err);
        is_str(code(rc, &err), WP_E_DECRYPT, "decrypt: delimiter 0x01 on the "
               "only record");

        n = seal(&k, 0, (const uint8_t *) "hello\x02\0\0", 8, tmp + 86);
        rc = wp_ece_decrypt(e, ua_priv, ua_pub, auth, tmp, 86 + n, out,
                            sizeof(out), &n, &err);
        ok(rc == 0 && n == 5 && memcmp(out, "hello", 5) == 0,
           "decrypt: hand-sealed 0x02 + padding is accepted (control)");
    }
}


/*
 * One wp_ece_t keeps its P-256 objects between calls: a failed call must
 * leave nothing behind (no scalar, no peer, nothing on OpenSSL's error
 * queue) and the next call must work.
 */
static void
test_context_reuse(wp_ece_t *e)
{
    int       rc, i, distinct;
    size_t    n, bodylen;
    uint8_t   ua_pub[65], ua_priv[32], auth[16], as_priv[32], salt[16];
    uint8_t   bad[65], body[256], out[64], keys[8][65];
    wp_err_t  err;

    unb64(V_UA_PUBLIC, ua_pub, sizeof(ua_pub));
    unb64(V_UA_PRIVATE, ua_priv, sizeof(ua_priv));
    unb64(V_AS_PRIVATE, as_priv, sizeof(as_priv));
    unb64(V_SALT, salt, sizeof(salt));
    unb64(V_AUTH, auth, sizeof(auth));

    /* Rejected keys are the caller's error: OpenSSL's queue stays empty. */
    ERR_clear_error();
    memcpy(bad, ua_pub, 65);
    bad[64] ^= 1;
    rc = wp_ece_encrypt(e, bad, auth, (const uint8_t *) "x", 1, 0, body,
                        sizeof(body), &n, &err);
    is_str(code(rc, &err), WP_E_BAD_KEY, "reuse: off-curve p256dh refused");
    memset(bad + 1, 0xff, 64);
    rc = wp_ece_encrypt(e, bad, auth, (const uint8_t *) "x", 1, 0, body,
                        sizeof(body), &n, &err);
    is_str(code(rc, &err), WP_E_BAD_KEY, "reuse: coordinates >= p refused");
    ok(ERR_peek_error() == 0, "reuse: no OpenSSL error left queued");

    /* The next message on the same context is whole and decrypts. */
    rc = wp_ece_encrypt(e, ua_pub, auth, (const uint8_t *) "hello", 5, 3,
                        body, sizeof(body), &bodylen, &err);
    is_int(rc, 0, "reuse: encrypt after a refused key");
    rc = wp_ece_decrypt(e, ua_priv, ua_pub, auth, body, bodylen, out,
                        sizeof(out), &n, &err);
    ok(rc == 0 && n == 5 && memcmp(out, "hello", 5) == 0,
       "reuse: ... and it decrypts");

    /* A bad scalar, then the RFC vector again, byte for byte. */
    memset(bad, 0xff, 32);
    rc = wp_ece_encrypt_with(e, ua_pub, auth, bad, salt,
                             (const uint8_t *) "x", 1, 0, body, sizeof(body),
                             &n, &err);
    is_str(code(rc, &err), WP_E_BAD_KEY, "reuse: scalar >= n refused");
    rc = wp_ece_decrypt(e, ua_priv, ua_pub, auth, body, 20, out, sizeof(out),
                        &n, &err);
    is_str(code(rc, &err), WP_E_DECRYPT, "reuse: short body refused");
    {
        uint8_t  pt[64], want[256];
        size_t   ptlen;

        ptlen = unb64(V_PLAINTEXT, pt, sizeof(pt));
        unb64(V_BODY, want, sizeof(want));
        rc = wp_ece_encrypt_with(e, ua_pub, auth, as_priv, salt, pt, ptlen,
                                 0, body, sizeof(body), &bodylen, &err);
        ok(rc == 0 && bodylen == 144 && memcmp(body, want, 144) == 0,
           "reuse: Appendix A body again, byte for byte");
    }

    /* Every message its own ephemeral key, interleaved with decrypts. */
    distinct = 1;
    for (i = 0; i < 8; i++) {
        rc = wp_ece_encrypt(e, ua_pub, auth, (const uint8_t *) "k", 1, 0,
                            body, sizeof(body), &bodylen, &err);
        if (rc != 0
            || wp_p256_check_public(body + 21, "as", &err) != 0
            || wp_ece_decrypt(e, ua_priv, ua_pub, auth, body, bodylen, out,
                              sizeof(out), &n, &err) != 0)
        {
            distinct = 0;
            break;
        }
        memcpy(keys[i], body + 21, 65);
        if (i > 0 && memcmp(keys[i], keys[i - 1], 65) == 0) {
            distinct = 0;
        }
    }
    ok(distinct, "reuse: 8 messages, 8 valid ephemeral keys, all decrypt");
}


/*
 * wp_ece_encrypt_many(): 37 messages (batches of 16, 16, 5), each for its
 * own subscription, with one bad key, one oversized payload and one small
 * buffer among them.  Every good one decrypts with its own key to its own
 * text; the bad ones fail alone, with the error wp_ece_encrypt() gives.
 */
#define MANY  37

static void
test_many(wp_ece_t *e)
{
    int            failed, good, distinct;
    size_t         i, j, n;
    static uint8_t priv[MANY][32], pub[MANY][65], auth[MANY][16],
                   pt[MANY][64], body[MANY][256], out[256];
    static char    text[MANY][64];
    wp_ece_msg_t   m[MANY];
    wp_err_t       err;

    for (i = 0; i < MANY; i++) {
        if (wp_p256_generate(priv[i], pub[i], &err) != 0
            || RAND_bytes(auth[i], 16) != 1)
        {
            ok(0, "many: key generation: %s", err.message);
            return;
        }
        n = (size_t) snprintf(text[i], sizeof(text[i]),
                              "message %zu for subscription %zu", i, i);
        memcpy(pt[i], text[i], n);

        memset(&m[i], 0, sizeof(m[i]));
        m[i].ua_public = pub[i];
        m[i].auth = auth[i];
        m[i].pt = pt[i];
        m[i].ptlen = n;
        m[i].padlen = i % 3;
        m[i].out = body[i];
        m[i].cap = sizeof(body[i]);
        m[i].rc = 99;
    }

    pub[5][64] ^= 1;                            /* off the curve */
    m[20].padlen = WP_ECE_MAX_PLAINTEXT;        /* too large */
    m[33].cap = 100;                            /* body will not fit */

    failed = wp_ece_encrypt_many(e, m, MANY);
    is_int(failed, 3, "many: 3 of %d fail", MANY);

    is_str(code(m[5].rc, &m[5].err), WP_E_BAD_KEY, "many: bad key fails");
    is_str(m[5].err.field, "keys.p256dh", "   ... naming keys.p256dh");
    is_str(code(m[20].rc, &m[20].err), WP_E_PAYLOAD_TOO_LARGE,
           "many: oversized payload fails");
    is_str(code(m[33].rc, &m[33].err), WP_E_BUFFER,
           "many: small buffer fails");
    ok(m[5].outlen == 0 && m[20].outlen == 0 && m[33].outlen == 0,
       "many: failed messages have no body");

    good = 1;
    distinct = 1;
    for (i = 0; i < MANY; i++) {
        if (i == 5 || i == 20 || i == 33) {
            continue;
        }
        if (m[i].rc != 0
            || m[i].outlen != wp_ece_body_len(m[i].ptlen, m[i].padlen)
            || wp_p256_check_public(body[i] + 21, "as", &err) != 0
            || wp_ece_decrypt(e, priv[i], pub[i], auth[i], body[i],
                              m[i].outlen, out, sizeof(out), &n, &err) != 0
            || n != m[i].ptlen || memcmp(out, text[i], n) != 0)
        {
            printf("# message %zu: rc %d %s\n", i, m[i].rc, err.message);
            good = 0;
        }
        for (j = 0; j < i; j++) {
            if (j == 5 || j == 20 || j == 33) {
                continue;
            }
            if (memcmp(body[i], body[j], 16) == 0
                || memcmp(body[i] + 21, body[j] + 21, 65) == 0)
            {
                distinct = 0;
            }
        }
    }
    ok(good, "many: the other 34 decrypt with their own keys to their text");
    ok(distinct, "many: 34 distinct salts and 34 distinct ephemeral keys");

    /* A subscription's message is the same whatever batch it is in. */
    failed = wp_ece_encrypt_many(e, m + 30, 1);
    ok(failed == 0 && m[30].rc == 0
       && wp_ece_decrypt(e, priv[30], pub[30], auth[30], body[30],
                         m[30].outlen, out, sizeof(out), &n, &err) == 0
       && n == m[30].ptlen && memcmp(out, text[30], n) == 0,
       "many: a batch of one decrypts too");
    is_int(wp_ece_encrypt_many(e, m, 0), 0, "many: no messages, no failures");
}


static void
bench(wp_ece_t *e)
{
    int              i, iters;
    size_t           n;
    double           ns;
    uint8_t          ua_pub[65], ua_priv[32], auth[16], pt[3072];
    uint8_t          body[BIG];
    struct timespec  t0, t1;
    wp_err_t         err;

    iters = getenv("WP_BENCH") ? atoi(getenv("WP_BENCH")) : 300;
    if (iters <= 0 || wp_p256_generate(ua_priv, ua_pub, &err) != 0) {
        return;
    }

    memset(auth, 7, sizeof(auth));
    memset(pt, 'x', sizeof(pt));

    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (i = 0; i < iters; i++) {
        if (wp_ece_encrypt(e, ua_pub, auth, pt, sizeof(pt), 0, body, BIG,
                           &n, &err) != 0)
        {
            ok(0, "bench encrypt: %s", err.message);
            return;
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);

    ns = ((double) (t1.tv_sec - t0.tv_sec) * 1e9
          + (double) (t1.tv_nsec - t0.tv_nsec)) / iters;
    printf("# wp_ece_encrypt, 3 KB payload: %.0f ns/message (%d runs)\n",
           ns, iters);
}


int
main(void)
{
    wp_ece_t  *e;
    wp_err_t   err;

    srand((unsigned) time(NULL));

    e = wp_ece_new(&err);
    ok(e != NULL, "wp_ece_new");
    if (e == NULL) {
        printf("# %s\n", err.message);
        return tap_done();
    }

    test_appendix_a(e);
    test_rfc8188(e);
    test_forged(e);
    test_roundtrips(e);
    test_bad_inputs(e);
    test_context_reuse(e);
    test_many(e);
    bench(e);

    wp_ece_free(e);
    wp_ece_free(NULL);

    return tap_done();
}
