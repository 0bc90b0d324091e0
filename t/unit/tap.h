/*
 * Minimal TAP producer for the C unit tests.  Each test binary prints
 * "ok N - name" / "not ok N - name", a plan at the end, and a closing
 * "N passed, N failed" line; it exits non-zero if anything failed.
 */

#ifndef WP_TAP_H
#define WP_TAP_H

#include <stdio.h>
#include <string.h>

static int  tap_n, tap_failed;

#define ok(cond, ...)                                                     \
    do {                                                                  \
        int  ok_c_ = (cond) ? 1 : 0;                                      \
        tap_n++;                                                          \
        if (!ok_c_) {                                                     \
            tap_failed++;                                                 \
        }                                                                 \
        printf("%sok %d - ", ok_c_ ? "" : "not ", tap_n);                 \
        printf(__VA_ARGS__);                                              \
        printf("\n");                                                     \
        if (!ok_c_) {                                                     \
            printf("#   failed at %s:%d\n", __FILE__, __LINE__);          \
        }                                                                 \
    } while (0)

#define is_str(got, want, ...)                                            \
    do {                                                                  \
        const char *g_ = (got), *w_ = (want);                             \
        int  e_ = (g_ && w_) ? strcmp(g_, w_) == 0 : g_ == w_;            \
        ok(e_, __VA_ARGS__);                                              \
        if (!e_) {                                                        \
            printf("#   got:      '%s'\n#   expected: '%s'\n",           \
                   g_ ? g_ : "(null)", w_ ? w_ : "(null)");               \
        }                                                                 \
    } while (0)

#define is_int(got, want, ...)                                            \
    do {                                                                  \
        long long g_ = (long long) (got), w_ = (long long) (want);        \
        ok(g_ == w_, __VA_ARGS__);                                        \
        if (g_ != w_) {                                                   \
            printf("#   got: %lld expected: %lld\n", g_, w_);            \
        }                                                                 \
    } while (0)

#define is_mem(got, want, len, ...)                                       \
    ok(memcmp((got), (want), (len)) == 0, __VA_ARGS__)

static inline int
tap_done(void)
{
    printf("1..%d\n", tap_n);
    printf("%d passed, %d failed\n", tap_n - tap_failed, tap_failed);
    return tap_failed ? 1 : 0;
}

#endif /* WP_TAP_H */
