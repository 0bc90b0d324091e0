/*
 * ngx_webpush: strict JSON parsing into a yajl_val tree, and helpers.
 *
 * yajl_tree_parse() accepts comments, needs a NUL-terminated buffer and
 * has no depth or size bound; the validators need all of that, so this
 * builds the same public yajl_val structures from yajl's event parser
 * with these rules:
 *
 *   - exactly one JSON value, UTF-8 validated, no comments;
 *   - nesting at most max_depth containers, at most max_nodes values;
 *   - no string (value or key) containing U+0000, since C strings would
 *     silently truncate it;
 *   - no duplicate key inside one object (a parser-differential trick:
 *     two readers could pick different members).
 *
 * Numbers keep their source text (u.number.r) so they re-serialise
 * byte for byte; YAJL_NUMBER_INT_VALID is set when the text is an
 * integer that fits int64_t, YAJL_NUMBER_DOUBLE_VALID when it is finite.
 *
 * Trees from wp_json_parse() must be freed with wp_json_free(), never
 * yajl_tree_free().
 */

#ifndef WP_JSON_UTIL_H
#define WP_JSON_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#include "wp_err.h"

typedef struct {
    unsigned     max_depth;     /* containers nested; 0 = 64 */
    size_t       max_nodes;     /* values in the tree; 0 = 65536 */
} wp_json_limits_t;

/*
 * Parse len bytes of buf.  On success *out is the root (any type).
 * On failure err is WP_E_BAD_JSON with the given field ("" for the whole
 * document) and a message with yajl's reason, or WP_E_TOO_MANY/
 * WP_E_NOMEM.  lim may be NULL for the defaults.
 */
int wp_json_parse(const char *buf, size_t len, const wp_json_limits_t *lim,
    yajl_val *out, const char *field, wp_err_t *err);

/* Free a tree from wp_json_parse(); NULL is fine. */
void wp_json_free(yajl_val v);

/* The member of object v named key, or NULL (also when v is no object). */
yajl_val wp_json_get(yajl_val v, const char *key);

/* "string", "number", "object", "array", "boolean" or "null". */
const char *wp_json_type_name(yajl_val v);

/*
 * Write v into g (numbers from their source text).  Returns 0, or -1
 * with WP_E_INTERNAL if the generator refuses (e.g. too deep for it).
 */
int wp_json_gen_value(yajl_gen g, yajl_val v, wp_err_t *err);

/*
 * Serialise v compactly into a malloc'ed NUL-terminated string.  The
 * caller frees *out.
 */
int wp_json_to_string(yajl_val v, char **out, size_t *outlen, wp_err_t *err);

/*
 * An integer JSON number as int64_t: returns 0 and sets *out, or -1 when
 * v is no number or not an integer in range (no error is filled in; the
 * caller knows the field's rules).
 */
int wp_json_get_int64(yajl_val v, int64_t *out);

/*
 * The source text of v if v is a number written as an integer
 * (-?[0-9]+, any size), else NULL.  Used where ids may be numeric and
 * must become their exact decimal text, even beyond int64_t.
 */
const char *wp_json_integer_text(yajl_val v);

#endif /* WP_JSON_UTIL_H */
