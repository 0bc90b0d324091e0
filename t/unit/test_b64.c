/*
 * Unit tests for lib/b64.c: RFC 4648 vectors in the url alphabet, padding,
 * bad characters and lengths, non-canonical trailing bits, the lenient
 * flag, capacity, and random round trips.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "b64.h"
#include "tap.h"


static const char *
code(int rc, const wp_err_t *err)
{
    return rc == 0 ? "(success)" : err->code;
}


/* Decode s (its strlen) with flags; returns rc, bytes in out/n. */
static int
dec(const char *s, int flags, uint8_t *out, size_t cap, size_t *n,
    wp_err_t *err)
{
    return wp_b64url_decode(s, strlen(s), out, cap, n, flags, "f", err);
}


static void
test_vectors(void)
{
    static const struct {
        const char  *bin;
        size_t       len;
        const char  *txt;
    } v[] = {
        { "", 0, "" },
        { "f", 1, "Zg" },
        { "fo", 2, "Zm8" },
        { "foo", 3, "Zm9v" },
        { "foob", 4, "Zm9vYg" },
        { "fooba", 5, "Zm9vYmE" },
        { "foobar", 6, "Zm9vYmFy" },
        { "\xfb\xff", 2, "-_8" },
        { "\xfb\xef\xbe", 3, "----" },
        { "\xff\xff\xff", 3, "____" },
        { "\x00", 1, "AA" },
        { "\x00\x00\x00", 3, "AAAA" },
        { "\x14\xfb\x9c\x03\xd9\x7e", 6, "FPucA9l-" },
        { "\x14\xfb\x9c\x03\xd9", 5, "FPucA9k" },
        { "\x14\xfb\x9c\x03", 4, "FPucAw" },
    };

    int       rc;
    char      txt[32];
    size_t    i, n;
    uint8_t   out[32];
    wp_err_t  err;

    for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        memset(txt, 'z', sizeof(txt));
        n = wp_b64url_encode((const uint8_t *) v[i].bin, v[i].len, txt);
        ok(n == strlen(v[i].txt) && strcmp(txt, v[i].txt) == 0
           && n == wp_b64url_len(v[i].len),
           "encode %zu bytes -> \"%s\" (got \"%s\")", v[i].len, v[i].txt, txt);

        rc = dec(v[i].txt, WP_B64_STRICT, out, sizeof(out), &n, &err);
        ok(rc == 0 && n == v[i].len && memcmp(out, v[i].bin, n) == 0,
           "decode \"%s\"", v[i].txt);
    }
}


static void
test_padding(void)
{
    static const struct {
        const char  *txt;
        const char  *bin;       /* NULL: must fail */
        size_t       len;
    } t[] = {
        { "Zg==", "f", 1 },
        { "Zm8=", "fo", 2 },
        { "Zm9v", "foo", 3 },
        { "Zm9vYg==", "foob", 4 },
        { "Zm9vYmE=", "fooba", 5 },
        { "Zg=", NULL, 0 },
        { "Zg===", NULL, 0 },
        { "Zm8==", NULL, 0 },
        { "Zm9v=", NULL, 0 },
        { "Zm9v====", NULL, 0 },
        { "=", NULL, 0 },
        { "==", NULL, 0 },
        { "====", NULL, 0 },
        { "Zg=a", NULL, 0 },
        { "Z=g=", NULL, 0 },
        { "Zm8=Zm8=", NULL, 0 },
    };

    int       rc;
    size_t    i, n;
    uint8_t   out[16];
    wp_err_t  err;

    for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        rc = dec(t[i].txt, WP_B64_STRICT, out, sizeof(out), &n, &err);

        if (t[i].bin) {
            ok(rc == 0 && n == t[i].len && memcmp(out, t[i].bin, n) == 0,
               "padded \"%s\" accepted", t[i].txt);

        } else {
            ok(rc != 0 && strcmp(err.code, WP_E_BAD_BASE64) == 0,
               "bad padding \"%s\" refused", t[i].txt);
        }
    }
}


static void
test_bad(void)
{
    static const char  *bad_chars[] = {
        "Zm9v!", "Zm 9v", "Zm9v\n", " Zm9v", "Zm.v", "Zm9v%3D", "Zm\"v",
        "Zm9\xc3\xa4", "+/8", "Zm9+", "Zm9/",
    };
    static const char  *bad_len[] = { "Z", "Zm9vY", "AAAAA", "_____" };
    static const char  *noncanon[] = {
        "Zh", "Zm9", "Zm9vYh", "Zm9vYmF", "AB", "AAB", "__", "___",
    };

    int       rc;
    size_t    i, n;
    uint8_t   out[16];
    wp_err_t  err;

    for (i = 0; i < sizeof(bad_chars) / sizeof(bad_chars[0]); i++) {
        rc = dec(bad_chars[i], WP_B64_STRICT, out, sizeof(out), &n, &err);
        is_str(code(rc, &err), WP_E_BAD_BASE64, "strict refuses \"%s\"",
               bad_chars[i]);
    }

    /* An embedded NUL counts as a character (length-based API). */
    rc = wp_b64url_decode("Zm\0v", 4, out, sizeof(out), &n, WP_B64_STRICT,
                          "f", &err);
    is_str(code(rc, &err), WP_E_BAD_BASE64, "embedded NUL refused");

    for (i = 0; i < sizeof(bad_len) / sizeof(bad_len[0]); i++) {
        rc = dec(bad_len[i], WP_B64_STRICT, out, sizeof(out), &n, &err);
        is_str(code(rc, &err), WP_E_BAD_BASE64, "impossible length \"%s\"",
               bad_len[i]);
        rc = dec(bad_len[i], WP_B64_LENIENT, out, sizeof(out), &n, &err);
        is_str(code(rc, &err), WP_E_BAD_BASE64, "   ... lenient too");
    }

    for (i = 0; i < sizeof(noncanon) / sizeof(noncanon[0]); i++) {
        rc = dec(noncanon[i], WP_B64_STRICT, out, sizeof(out), &n, &err);
        is_str(code(rc, &err), WP_E_BAD_BASE64,
               "trailing bits set \"%s\"", noncanon[i]);
        rc = dec(noncanon[i], WP_B64_LENIENT, out, sizeof(out), &n, &err);
        is_str(code(rc, &err), WP_E_BAD_BASE64, "   ... lenient too");
    }

    /* Error fields. */
    rc = wp_b64url_decode("a!", 2, out, sizeof(out), &n, WP_B64_STRICT,
                          "keys.auth", &err);
    is_str(err.field, "keys.auth", "error field is the caller's");
    ok(rc != 0 && strstr(err.message, "keys.auth") != NULL,
       "error message names the field");
    rc = wp_b64url_decode("a!", 2, out, sizeof(out), &n, WP_B64_STRICT, NULL,
                          NULL);
    ok(rc == -1, "NULL field and NULL err are fine");
}


static void
test_lenient(void)
{
    int       rc;
    size_t    n;
    uint8_t   out[16];
    wp_err_t  err;

    rc = dec("+/8", WP_B64_LENIENT, out, sizeof(out), &n, &err);
    ok(rc == 0 && n == 2 && out[0] == 0xfb && out[1] == 0xff,
       "lenient: standard alphabet \"+/8\"");
    rc = dec("+/8=", WP_B64_LENIENT, out, sizeof(out), &n, &err);
    ok(rc == 0 && n == 2 && out[0] == 0xfb && out[1] == 0xff,
       "lenient: \"+/8=\" padded");
    rc = dec("-/+_", WP_B64_LENIENT, out, sizeof(out), &n, &err);
    ok(rc == 0 && n == 3 && out[0] == 0xfb && out[1] == 0xff
       && out[2] == 0xbf, "lenient: mixed alphabets");
    rc = dec("Zm9v!", WP_B64_LENIENT, out, sizeof(out), &n, &err);
    is_str(code(rc, &err), WP_E_BAD_BASE64, "lenient still refuses '!'");
    rc = dec("Zg=", WP_B64_LENIENT, out, sizeof(out), &n, &err);
    is_str(code(rc, &err), WP_E_BAD_BASE64, "lenient still refuses bad pad");
}


static void
test_capacity(void)
{
    int       rc;
    size_t    n;
    uint8_t   out[16];
    wp_err_t  err;

    memset(out, 0xaa, sizeof(out));
    rc = dec("Zm9vYmFy", WP_B64_STRICT, out, 5, &n, &err);
    is_str(code(rc, &err), WP_E_BAD_BASE64, "6 bytes into cap 5 refused");
    ok(out[5] == 0xaa, "   ... nothing written past cap");
    rc = dec("Zm9vYmFy", WP_B64_STRICT, out, 6, &n, &err);
    ok(rc == 0 && n == 6 && out[6] == 0xaa, "6 bytes into cap 6");
    rc = dec("Zm9vYmE", WP_B64_STRICT, out, 4, &n, &err);
    is_str(code(rc, &err), WP_E_BAD_BASE64, "5 bytes into cap 4 refused");
    rc = dec("Zm9vYmE=", WP_B64_STRICT, out, 5, &n, &err);
    ok(rc == 0 && n == 5, "padded 5 bytes into cap 5");
    rc = dec("", WP_B64_STRICT, NULL, 0, &n, &err);
    ok(rc == 0 && n == 0, "empty input, cap 0");
    rc = dec("Zg", WP_B64_STRICT, out, 0, &n, &err);
    is_str(code(rc, &err), WP_E_BAD_BASE64, "1 byte into cap 0 refused");
    ok(wp_b64url_maxdec(8) >= 6 && wp_b64url_maxdec(87) >= 65
       && wp_b64url_len(65) == 87 && wp_b64url_len(32) == 43
       && wp_b64url_len(16) == 22 && wp_b64url_len(0) == 0,
       "length macros: 65 -> 87, 32 -> 43, 16 -> 22");
}


static void
test_random(void)
{
    int       i, bad;
    char      txt[600], std[600];
    size_t    len, n, tl, j;
    uint8_t   in[400], out[400];
    wp_err_t  err;

    bad = 0;

    for (i = 0; i < 2000; i++) {
        len = (size_t) rand() % sizeof(in);
        for (j = 0; j < len; j++) {
            in[j] = (uint8_t) rand();
        }

        tl = wp_b64url_encode(in, len, txt);
        if (tl != wp_b64url_len(len) || strlen(txt) != tl
            || strspn(txt, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                      "0123456789-_") != tl)
        {
            bad++;
            continue;
        }

        if (wp_b64url_decode(txt, tl, out, len, &n, WP_B64_STRICT, "", &err)
            != 0 || n != len || memcmp(in, out, len) != 0)
        {
            bad++;
            continue;
        }

        /* The same in standard base64 with padding, leniently. */
        for (j = 0; j < tl; j++) {
            std[j] = txt[j] == '-' ? '+' : txt[j] == '_' ? '/' : txt[j];
        }
        while (j % 4) {
            std[j++] = '=';
        }

        if (wp_b64url_decode(std, j, out, len, &n, WP_B64_LENIENT, "", &err)
            != 0 || n != len || memcmp(in, out, len) != 0)
        {
            bad++;
            continue;
        }

        /* One byte of capacity short must fail. */
        if (len > 0
            && wp_b64url_decode(txt, tl, out, len - 1, &n, WP_B64_STRICT, "",
                                &err) == 0)
        {
            bad++;
        }
    }

    is_int(bad, 0, "2000 random round trips (strict, lenient std+pad, cap-1)");
}


int
main(void)
{
    srand((unsigned) time(NULL));

    test_vectors();
    test_padding();
    test_bad();
    test_lenient();
    test_capacity();
    test_random();

    return tap_done();
}
