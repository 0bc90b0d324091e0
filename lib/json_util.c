/* ngx_webpush: strict JSON tree builder on yajl's event parser (see json_util.h). */

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_parse.h>

#include "json_util.h"


#define WP_JSON_DEFAULT_DEPTH   64
#define WP_JSON_DEFAULT_NODES   65536
#define WP_JSON_HARD_DEPTH      120     /* stays under yajl_gen's 128 */


typedef struct {
    yajl_val     v;             /* open object or array */
    size_t       cap;           /* allocated members */
    char        *key;           /* object: key waiting for its value */
} wp_json_frame_t;

typedef struct {
    wp_json_frame_t  *stack;
    unsigned          depth;
    unsigned          max_depth;
    size_t            nodes;
    size_t            max_nodes;
    yajl_val          root;
    const char       *why;      /* our reason when a callback cancels */
    const char       *code;
} wp_json_ctx_t;


static int wp_json_add(wp_json_ctx_t *ctx, yajl_val v);
static int wp_json_keys_unique(yajl_val obj);


static yajl_val
wp_json_new(wp_json_ctx_t *ctx, yajl_type type)
{
    yajl_val  v;

    if (ctx->nodes >= ctx->max_nodes) {
        ctx->why = "too many values";
        ctx->code = WP_E_TOO_MANY;
        return NULL;
    }

    v = calloc(1, sizeof(*v));
    if (v == NULL) {
        ctx->why = "out of memory";
        ctx->code = WP_E_NOMEM;
        return NULL;
    }

    v->type = type;
    ctx->nodes++;

    return v;
}


/* Attach v to the open container (or make it the root); frees v on error. */
static int
wp_json_add(wp_json_ctx_t *ctx, yajl_val v)
{
    size_t            ncap;
    wp_json_frame_t  *f;
    yajl_val         *vals;
    const char      **keys;

    if (ctx->depth == 0) {
        ctx->root = v;
        return 1;
    }

    f = &ctx->stack[ctx->depth - 1];

    if (f->v->type == yajl_t_object) {
        if (f->v->u.object.len == f->cap) {
            ncap = f->cap ? f->cap * 2 : 4;
            keys = realloc((void *) f->v->u.object.keys, ncap * sizeof(*keys));
            if (keys == NULL) {
                goto nomem;
            }
            f->v->u.object.keys = keys;

            vals = realloc(f->v->u.object.values, ncap * sizeof(*vals));
            if (vals == NULL) {
                goto nomem;
            }
            f->v->u.object.values = vals;
            f->cap = ncap;
        }

        f->v->u.object.keys[f->v->u.object.len] = f->key;
        f->v->u.object.values[f->v->u.object.len] = v;
        f->v->u.object.len++;
        f->key = NULL;
        return 1;
    }

    if (f->v->u.array.len == f->cap) {
        ncap = f->cap ? f->cap * 2 : 4;
        vals = realloc(f->v->u.array.values, ncap * sizeof(*vals));
        if (vals == NULL) {
            goto nomem;
        }
        f->v->u.array.values = vals;
        f->cap = ncap;
    }

    f->v->u.array.values[f->v->u.array.len++] = v;
    return 1;

nomem:

    wp_json_free(v);
    ctx->why = "out of memory";
    ctx->code = WP_E_NOMEM;
    return 0;
}


static int
wp_json_cb_null(void *c)
{
    yajl_val  v = wp_json_new(c, yajl_t_null);

    return v ? wp_json_add(c, v) : 0;
}


static int
wp_json_cb_boolean(void *c, int b)
{
    yajl_val  v = wp_json_new(c, b ? yajl_t_true : yajl_t_false);

    return v ? wp_json_add(c, v) : 0;
}


static int
wp_json_cb_number(void *c, const char *s, size_t len)
{
    char      *end;
    yajl_val   v;

    v = wp_json_new(c, yajl_t_number);
    if (v == NULL) {
        return 0;
    }

    v->u.number.r = malloc(len + 1);
    if (v->u.number.r == NULL) {
        free(v);
        ((wp_json_ctx_t *) c)->why = "out of memory";
        ((wp_json_ctx_t *) c)->code = WP_E_NOMEM;
        return 0;
    }
    memcpy(v->u.number.r, s, len);
    v->u.number.r[len] = '\0';

    errno = 0;
    v->u.number.i = strtoll(v->u.number.r, &end, 10);
    if (errno == 0 && *end == '\0') {
        v->u.number.flags |= YAJL_NUMBER_INT_VALID;
    }

    errno = 0;
    v->u.number.d = strtod(v->u.number.r, &end);
    if (*end == '\0' && isfinite(v->u.number.d)) {
        v->u.number.flags |= YAJL_NUMBER_DOUBLE_VALID;
    }

    return wp_json_add(c, v);
}


static char *
wp_json_strdup(wp_json_ctx_t *ctx, const unsigned char *s, size_t len)
{
    char  *p;

    /* "\u0000" would silently cut a C string short: refuse it. */
    if (memchr(s, '\0', len) != NULL) {
        ctx->why = "string contains U+0000";
        ctx->code = WP_E_BAD_JSON;
        return NULL;
    }

    p = malloc(len + 1);
    if (p == NULL) {
        ctx->why = "out of memory";
        ctx->code = WP_E_NOMEM;
        return NULL;
    }

    memcpy(p, s, len);
    p[len] = '\0';

    return p;
}


static int
wp_json_cb_string(void *c, const unsigned char *s, size_t len)
{
    yajl_val  v;

    v = wp_json_new(c, yajl_t_string);
    if (v == NULL) {
        return 0;
    }

    v->u.string = wp_json_strdup(c, s, len);
    if (v->u.string == NULL) {
        free(v);
        return 0;
    }

    return wp_json_add(c, v);
}


static int
wp_json_open(wp_json_ctx_t *ctx, yajl_type type)
{
    yajl_val          v;
    wp_json_frame_t  *f;

    if (ctx->depth >= ctx->max_depth) {
        ctx->why = "nested too deeply";
        ctx->code = WP_E_BAD_JSON;
        return 0;
    }

    v = wp_json_new(ctx, type);
    if (v == NULL) {
        return 0;
    }

    /* Attached at once, so a failure later frees it with the root. */
    if (!wp_json_add(ctx, v)) {
        return 0;
    }

    f = &ctx->stack[ctx->depth++];
    f->v = v;
    f->cap = 0;
    f->key = NULL;

    return 1;
}


static int
wp_json_cb_start_map(void *c)
{
    return wp_json_open(c, yajl_t_object);
}


static int
wp_json_cb_map_key(void *c, const unsigned char *s, size_t len)
{
    wp_json_ctx_t    *ctx = c;
    wp_json_frame_t  *f = &ctx->stack[ctx->depth - 1];

    free(f->key);
    f->key = wp_json_strdup(ctx, s, len);

    return f->key != NULL;
}


static int
wp_json_cb_end_map(void *c)
{
    wp_json_ctx_t  *ctx = c;

    ctx->depth--;

    if (!wp_json_keys_unique(ctx->stack[ctx->depth].v)) {
        ctx->why = "duplicate key in object";
        ctx->code = WP_E_BAD_JSON;
        return 0;
    }

    return 1;
}


static int
wp_json_cb_start_array(void *c)
{
    return wp_json_open(c, yajl_t_array);
}


static int
wp_json_cb_end_array(void *c)
{
    ((wp_json_ctx_t *) c)->depth--;

    return 1;
}


static const yajl_callbacks  wp_json_callbacks = {
    wp_json_cb_null,
    wp_json_cb_boolean,
    NULL,
    NULL,
    wp_json_cb_number,
    wp_json_cb_string,
    wp_json_cb_start_map,
    wp_json_cb_map_key,
    wp_json_cb_end_map,
    wp_json_cb_start_array,
    wp_json_cb_end_array
};


static int
wp_json_key_cmp(const void *a, const void *b)
{
    return strcmp(*(const char * const *) a, *(const char * const *) b);
}


/* Sorting keeps a hostile object with many keys at n log n. */
static int
wp_json_keys_unique(yajl_val obj)
{
    int           rc;
    size_t        i, j, n;
    const char  **sorted;

    n = obj->u.object.len;

    if (n <= 8) {
        for (i = 0; i < n; i++) {
            for (j = i + 1; j < n; j++) {
                if (strcmp(obj->u.object.keys[i], obj->u.object.keys[j]) == 0) {
                    return 0;
                }
            }
        }
        return 1;
    }

    sorted = malloc(n * sizeof(*sorted));
    if (sorted == NULL) {
        return 0;
    }

    memcpy(sorted, obj->u.object.keys, n * sizeof(*sorted));
    qsort(sorted, n, sizeof(*sorted), wp_json_key_cmp);

    rc = 1;
    for (i = 1; i < n; i++) {
        if (strcmp(sorted[i - 1], sorted[i]) == 0) {
            rc = 0;
            break;
        }
    }

    free(sorted);

    return rc;
}


int
wp_json_parse(const char *buf, size_t len, const wp_json_limits_t *lim,
    yajl_val *out, const char *field, wp_err_t *err)
{
    int             rc;
    size_t          n;
    unsigned        i;
    yajl_handle     h;
    yajl_status     st;
    wp_json_ctx_t   ctx;
    unsigned char  *msg;
    const char     *what;

    what = (field && *field) ? field : "body";
    *out = NULL;

    memset(&ctx, 0, sizeof(ctx));
    ctx.max_depth = (lim && lim->max_depth) ? lim->max_depth
                                            : WP_JSON_DEFAULT_DEPTH;
    if (ctx.max_depth > WP_JSON_HARD_DEPTH) {
        ctx.max_depth = WP_JSON_HARD_DEPTH;
    }
    ctx.max_nodes = (lim && lim->max_nodes) ? lim->max_nodes
                                            : WP_JSON_DEFAULT_NODES;

    ctx.stack = calloc(ctx.max_depth, sizeof(*ctx.stack));
    if (ctx.stack == NULL) {
        return wp_err_set(err, WP_E_NOMEM, field, "%s: out of memory", what);
    }

    h = yajl_alloc(&wp_json_callbacks, NULL, &ctx);
    if (h == NULL) {
        free(ctx.stack);
        return wp_err_set(err, WP_E_NOMEM, field, "%s: out of memory", what);
    }

    st = yajl_parse(h, (const unsigned char *) buf, len);
    if (st == yajl_status_ok) {
        st = yajl_complete_parse(h);
    }

    rc = 0;

    if (st == yajl_status_client_canceled) {
        rc = wp_err_set(err, ctx.code, field, "%s: %s", what, ctx.why);

    } else if (st != yajl_status_ok) {
        msg = yajl_get_error(h, 0, (const unsigned char *) buf, len);
        n = msg ? strcspn((const char *) msg, "\r\n") : 0;
        /* yajl ends its text with a newline; keep the first line only */
        rc = wp_err_set(err, WP_E_BAD_JSON, field, "%s is not valid JSON (%.*s)",
                        what, (int) n, msg ? (const char *) msg : "");
        if (msg) {
            yajl_free_error(h, msg);
        }

    } else if (ctx.root == NULL) {
        rc = wp_err_set(err, WP_E_BAD_JSON, field, "%s is empty", what);
    }

    yajl_free(h);

    for (i = 0; i < ctx.max_depth; i++) {
        free(ctx.stack[i].key);
    }
    free(ctx.stack);

    if (rc != 0) {
        wp_json_free(ctx.root);
        return -1;
    }

    *out = ctx.root;

    return 0;
}


void
wp_json_free(yajl_val v)
{
    size_t  i;

    if (v == NULL) {
        return;
    }

    switch (v->type) {
    case yajl_t_string:
        free(v->u.string);
        break;

    case yajl_t_number:
        free(v->u.number.r);
        break;

    case yajl_t_object:
        for (i = 0; i < v->u.object.len; i++) {
            free((void *) v->u.object.keys[i]);
            wp_json_free(v->u.object.values[i]);
        }
        free((void *) v->u.object.keys);
        free(v->u.object.values);
        break;

    case yajl_t_array:
        for (i = 0; i < v->u.array.len; i++) {
            wp_json_free(v->u.array.values[i]);
        }
        free(v->u.array.values);
        break;

    default:
        break;
    }

    free(v);
}


yajl_val
wp_json_get(yajl_val v, const char *key)
{
    size_t  i;

    if (!YAJL_IS_OBJECT(v)) {
        return NULL;
    }

    for (i = 0; i < v->u.object.len; i++) {
        if (strcmp(v->u.object.keys[i], key) == 0) {
            return v->u.object.values[i];
        }
    }

    return NULL;
}


const char *
wp_json_type_name(yajl_val v)
{
    if (v == NULL) {
        return "nothing";
    }

    switch (v->type) {
    case yajl_t_string:
        return "string";
    case yajl_t_number:
        return "number";
    case yajl_t_object:
        return "object";
    case yajl_t_array:
        return "array";
    case yajl_t_true:
    case yajl_t_false:
        return "boolean";
    case yajl_t_null:
        return "null";
    default:
        return "unknown";
    }
}


static yajl_gen_status
wp_json_gen(yajl_gen g, yajl_val v)
{
    size_t           i;
    yajl_gen_status  st;

    switch (v->type) {
    case yajl_t_string:
        return yajl_gen_string(g, (const unsigned char *) v->u.string,
                               strlen(v->u.string));

    case yajl_t_number:
        return yajl_gen_number(g, v->u.number.r, strlen(v->u.number.r));

    case yajl_t_true:
        return yajl_gen_bool(g, 1);

    case yajl_t_false:
        return yajl_gen_bool(g, 0);

    case yajl_t_null:
        return yajl_gen_null(g);

    case yajl_t_object:
        st = yajl_gen_map_open(g);
        for (i = 0; st == yajl_gen_status_ok && i < v->u.object.len; i++) {
            st = yajl_gen_string(g,
                     (const unsigned char *) v->u.object.keys[i],
                     strlen(v->u.object.keys[i]));
            if (st == yajl_gen_status_ok) {
                st = wp_json_gen(g, v->u.object.values[i]);
            }
        }
        return st == yajl_gen_status_ok ? yajl_gen_map_close(g) : st;

    case yajl_t_array:
        st = yajl_gen_array_open(g);
        for (i = 0; st == yajl_gen_status_ok && i < v->u.array.len; i++) {
            st = wp_json_gen(g, v->u.array.values[i]);
        }
        return st == yajl_gen_status_ok ? yajl_gen_array_close(g) : st;

    default:
        return yajl_gen_invalid_string;
    }
}


int
wp_json_gen_value(yajl_gen g, yajl_val v, wp_err_t *err)
{
    yajl_gen_status  st;

    st = wp_json_gen(g, v);
    if (st != yajl_gen_status_ok) {
        return wp_err_set(err, WP_E_INTERNAL, "",
                          "JSON generator failed (status %d)", (int) st);
    }

    return 0;
}


int
wp_json_to_string(yajl_val v, char **out, size_t *outlen, wp_err_t *err)
{
    char                 *p;
    size_t                n;
    yajl_gen              g;
    const unsigned char  *buf;

    g = yajl_gen_alloc(NULL);
    if (g == NULL) {
        return wp_err_set(err, WP_E_NOMEM, "", "out of memory");
    }

    if (wp_json_gen_value(g, v, err) != 0) {
        yajl_gen_free(g);
        return -1;
    }

    yajl_gen_get_buf(g, &buf, &n);

    p = malloc(n + 1);
    if (p == NULL) {
        yajl_gen_free(g);
        return wp_err_set(err, WP_E_NOMEM, "", "out of memory");
    }

    memcpy(p, buf, n);
    p[n] = '\0';
    yajl_gen_free(g);

    *out = p;
    if (outlen) {
        *outlen = n;
    }

    return 0;
}


int
wp_json_get_int64(yajl_val v, int64_t *out)
{
    if (!YAJL_IS_INTEGER(v)) {
        return -1;
    }

    *out = (int64_t) v->u.number.i;

    return 0;
}


const char *
wp_json_integer_text(yajl_val v)
{
    const char  *p;

    if (!YAJL_IS_NUMBER(v)) {
        return NULL;
    }

    p = v->u.number.r;
    if (*p == '-') {
        p++;
    }

    /* yajl already enforced JSON number grammar: digits only is enough */
    if (*p == '\0' || strspn(p, "0123456789") != strlen(p)) {
        return NULL;
    }

    return v->u.number.r;
}
