/* ngx_webpush: error value helper (see wp_err.h). */

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "wp_err.h"


int
wp_err_set(wp_err_t *err, const char *code, const char *field,
    const char *fmt, ...)
{
    va_list  ap;

    if (err == NULL) {
        return -1;
    }

    err->code = code;
    snprintf(err->field, sizeof(err->field), "%s", field ? field : "");

    va_start(ap, fmt);
    vsnprintf(err->message, sizeof(err->message), fmt, ap);
    va_end(ap);

    return -1;
}


int
wp_err_copy(wp_err_t *dst, const wp_err_t *src)
{
    if (dst != NULL && dst != src) {
        *dst = *src;
    }

    return -1;
}
