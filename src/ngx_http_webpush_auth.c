
/*
 * ngx_http_webpush_auth: who is calling, and may they send.
 *
 * Copyright (C) ngx_webpush authors
 *
 * Two sources, chosen per location:
 *   - built in: "Authorization: Bearer <HS256 JWT>" signed with
 *     webpush_jwt_secret (lib/jwt.c: alg pinned, constant-time compare,
 *     exp/nbf checked); the user id is the webpush_jwt_user_claim claim,
 *     the send permission is webpush_send_role CLAIM VALUE;
 *   - elsewhere (auth_request, an upstream, a map): the user id is
 *     webpush_auth_user_variable's value, the send permission
 *     webpush_auth_send_variable's (set and not "", "0", "false", "no",
 *     "off").
 *
 * Tokens and the secret are never logged nor echoed.  This file also
 * holds the application directives' handlers that need lib/ to parse
 * their values (allow-list, TTL).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "jwt.h"
#include "sendreq.h"

#include "ngx_http_webpush.h"


static ngx_int_t ngx_http_webpush_auth_fail(ngx_http_request_t *r,
    const char *code, const char *message);
static ngx_int_t ngx_http_webpush_user_check(ngx_str_t *user);
static void ngx_http_webpush_policy_cleanup(void *data);


static ngx_str_t  ngx_http_webpush_www_authenticate =
    ngx_string("WWW-Authenticate");


ngx_int_t
ngx_http_webpush_auth(ngx_http_request_t *r, ngx_http_webpush_ctx_t *ctx,
    ngx_uint_t need_send)
{
    u_char                        *p, *last;
    size_t                         len;
    wp_err_t                       err;
    ngx_str_t                      user;
    wp_jwt_opts_t                  opts;
    wp_jwt_claims_t                claims;
    ngx_http_variable_value_t     *vv;
    ngx_http_webpush_loc_conf_t   *wlcf;
    ngx_http_webpush_main_conf_t  *wmcf;

    wlcf = ngx_http_get_module_loc_conf(r, ngx_http_webpush_module);
    wmcf = ngx_http_get_module_main_conf(r, ngx_http_webpush_module);

    if (wlcf->auth_user_index != NGX_CONF_UNSET) {

        vv = ngx_http_get_indexed_variable(r, wlcf->auth_user_index);

        if (vv == NULL || vv->not_found || vv->len == 0) {
            return ngx_http_webpush_auth_fail(r, "unauthorized",
                                              "no authenticated user");
        }

        user.data = vv->data;
        user.len = vv->len;

        if (ngx_http_webpush_user_check(&user) != NGX_OK) {
            return ngx_http_webpush_auth_fail(r, "invalid_user",
                                              "the authenticated user id is "
                                              "not 1..255 bytes of UTF-8 "
                                              "text");
        }

        ctx->user.data = ngx_pstrdup(r->pool, &user);
        if (ctx->user.data == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ctx->user.len = user.len;

        if (wlcf->auth_send_index != NGX_CONF_UNSET) {
            vv = ngx_http_get_indexed_variable(r, wlcf->auth_send_index);

            ctx->can_send = !(vv == NULL || vv->not_found || vv->len == 0
                              || (vv->len == 1 && vv->data[0] == '0')
                              || (vv->len == 5
                                  && ngx_strncasecmp(vv->data,
                                                     (u_char *) "false", 5)
                                     == 0)
                              || (vv->len == 2
                                  && ngx_strncasecmp(vv->data,
                                                     (u_char *) "no", 2)
                                     == 0)
                              || (vv->len == 3
                                  && ngx_strncasecmp(vv->data,
                                                     (u_char *) "off", 3)
                                     == 0));
        }

        goto permission;
    }

    if (r->headers_in.authorization == NULL) {
        return ngx_http_webpush_auth_fail(r, "missing_token",
                                          "an \"Authorization: Bearer\" "
                                          "token is required");
    }

    p = r->headers_in.authorization->value.data;
    last = p + r->headers_in.authorization->value.len;

    if (last - p < (ssize_t) sizeof("Bearer ") - 1
        || ngx_strncasecmp(p, (u_char *) "Bearer ", sizeof("Bearer ") - 1)
           != 0)
    {
        return ngx_http_webpush_auth_fail(r, "invalid_token",
                                          "the Authorization header is not "
                                          "a Bearer token");
    }

    p += sizeof("Bearer ") - 1;

    while (p < last && *p == ' ') {
        p++;
    }

    while (last > p && last[-1] == ' ') {
        last--;
    }

    len = last - p;

    if (len == 0 || len > WP_JWT_MAX_TOKEN) {
        return ngx_http_webpush_auth_fail(r, "invalid_token",
                                          "the Bearer token is empty or "
                                          "too long");
    }

    wp_jwt_opts_init(&opts);
    opts.user_claim = (const char *) wmcf->jwt_user_claim.data;
    opts.role_claim = (const char *) wmcf->send_role_claim.data;

    if (wp_jwt_hs256_verify((const char *) p, len, wmcf->jwt_secret.data,
                            wmcf->jwt_secret.len, &opts, &claims, &err)
        != 0)
    {
        return ngx_http_webpush_auth_fail(r, err.code, err.message);
    }

    ctx->user.data = ngx_pnalloc(r->pool, claims.user_len);
    if (ctx->user.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_memcpy(ctx->user.data, claims.user, claims.user_len);
    ctx->user.len = claims.user_len;

    ctx->can_send = wp_jwt_has_role(&claims,
                                    (const char *) wmcf->send_role_value.data);

permission:

    if (need_send && !ctx->can_send) {
        if (wlcf->auth_user_index != NGX_CONF_UNSET) {
            return ngx_http_webpush_send_error(r, NGX_HTTP_FORBIDDEN,
                                               "forbidden",
                                               "this caller may not send "
                                               "notifications");
        }

        return ngx_http_webpush_send_error(r, NGX_HTTP_FORBIDDEN,
                                           "forbidden",
                                           "sending needs the token claim "
                                           "\"%V\" to hold \"%V\"",
                                           &wmcf->send_role_claim,
                                           &wmcf->send_role_value);
    }

    return NGX_DECLINED;
}


/* 401 with the RFC 6750 challenge; the token itself is never echoed. */

static ngx_int_t
ngx_http_webpush_auth_fail(ngx_http_request_t *r, const char *code,
    const char *message)
{
    u_char     *p;
    size_t      len;
    ngx_str_t   challenge;

    len = sizeof("Bearer realm=\"webpush\", error=\"invalid_token\", "
                 "error_description=\"\"") - 1 + ngx_strlen(code);

    challenge.data = ngx_pnalloc(r->pool, len);
    if (challenge.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_strcmp(code, "missing_token") == 0
        || ngx_strcmp(code, "unauthorized") == 0)
    {
        /* RFC 6750 3.1: no error attribute when no credentials came */
        p = ngx_sprintf(challenge.data, "Bearer realm=\"webpush\"");

    } else {
        p = ngx_sprintf(challenge.data, "Bearer realm=\"webpush\", "
                        "error=\"invalid_token\", error_description=\"%s\"",
                        code);
    }

    challenge.len = p - challenge.data;

    if (ngx_http_webpush_add_header(r, &ngx_http_webpush_www_authenticate,
                                    &challenge)
        == NULL)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_webpush_send_error(r, NGX_HTTP_UNAUTHORIZED, code, "%s",
                                       message);
}


/*
 * A user id from a variable becomes a database value and a Redis key
 * part: the same rules as a JWT's (1..255 bytes, no control characters)
 * plus valid UTF-8, which PostgreSQL insists on.
 */

static ngx_int_t
ngx_http_webpush_user_check(ngx_str_t *user)
{
    u_char    *p, *last;
    uint32_t   c;

    if (user->len == 0 || user->len > WP_JWT_MAX_USER) {
        return NGX_ERROR;
    }

    p = user->data;
    last = p + user->len;

    while (p < last) {
        if (*p < 0x80) {
            if (*p < 0x20 || *p == 0x7f) {
                return NGX_ERROR;
            }

            p++;
            continue;
        }

        c = ngx_utf8_decode(&p, last - p);

        if (c > 0x10ffff) {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/* Directives */


char *
ngx_http_webpush_jwt_secret(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_webpush_main_conf_t *wmcf = conf;

    ngx_str_t  *value, secret, source;

    if (wmcf->jwt_secret.data != NULL) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_http_webpush_conf_value(cf, &value[1], &secret) != NGX_CONF_OK) {
        return NGX_CONF_ERROR;
    }

    /* a copy: the environment of a later reload may differ */
    wmcf->jwt_secret.data = ngx_pstrdup(cf->pool, &secret);
    if (wmcf->jwt_secret.data == NULL) {
        return NGX_CONF_ERROR;
    }

    wmcf->jwt_secret.len = secret.len;

    if (secret.len < 32) {
        source = ngx_http_webpush_conf_source(&value[1]);
        ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                           "the JWT secret (%V) is shorter than 32 bytes: "
                           "tokens signed with it can be brute-forced",
                           &source);
    }

    return NGX_CONF_OK;
}


char *
ngx_http_webpush_send_role(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_webpush_main_conf_t *wmcf = conf;

    ngx_str_t  *value;

    if (wmcf->send_role_claim.data != NULL) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (value[1].len == 0 || value[2].len == 0) {
        return "takes a claim name and a value";
    }

    /* directive arguments are NUL-terminated: lib/ takes them as is */
    wmcf->send_role_claim = value[1];
    wmcf->send_role_value = value[2];

    return NGX_CONF_OK;
}


char *
ngx_http_webpush_auth_variable(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    char  *p = conf;

    ngx_int_t  *index;
    ngx_str_t  *value, name;

    index = (ngx_int_t *) (p + cmd->offset);

    if (*index != NGX_CONF_UNSET) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (value[1].len < 2 || value[1].data[0] != '$') {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid variable name \"%V\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    name.data = value[1].data + 1;
    name.len = value[1].len - 1;

    *index = ngx_http_get_variable_index(cf, &name);
    if (*index == NGX_ERROR) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/*
 * webpush_allowed_endpoints LIST | env:NAME | file:PATH [FALLBACK];
 * called with cmd NULL from init_main_conf for the default list.
 */

char *
ngx_http_webpush_allowed_endpoints(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_webpush_main_conf_t *wmcf = conf;

    u_char                  *p;
    wp_err_t                 err;
    ngx_str_t               *value, list, source, *fallback;
    ngx_pool_cleanup_t      *cln;
    wp_endpoint_policy_t    *pol;

    if (cmd == NULL) {
        ngx_str_set(&list, WP_ENDPOINT_DEFAULT_ALLOW);
        ngx_str_set(&source, "default");

    } else {
        if (wmcf->endpoint_policy != NULL) {
            return "is duplicate";
        }

        value = cf->args->elts;
        fallback = cf->args->nelts > 2 ? &value[2] : NULL;

        if (ngx_http_webpush_conf_value_or(cf, &value[1], fallback, &list)
            != NGX_CONF_OK)
        {
            return NGX_CONF_ERROR;
        }

        source = ngx_http_webpush_conf_source(&value[1]);
    }

    /* lib/ wants a C string; env: and file: values are not terminated */
    p = ngx_pnalloc(cf->pool, list.len + 1);
    if (p == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memcpy(p, list.data, list.len);
    p[list.len] = '\0';
    list.data = p;

    if (wp_endpoint_policy_parse((const char *) list.data, &pol, &err) != 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid allowed endpoints (%V): %s",
                           &source, err.message);
        return NGX_CONF_ERROR;
    }

    cln = ngx_pool_cleanup_add(cf->pool, 0);
    if (cln == NULL) {
        wp_endpoint_policy_free(pol);
        return NGX_CONF_ERROR;
    }

    cln->handler = ngx_http_webpush_policy_cleanup;
    cln->data = pol;

    wmcf->endpoint_policy = pol;
    wmcf->allowed_endpoints = list;

    return NGX_CONF_OK;
}


static void
ngx_http_webpush_policy_cleanup(void *data)
{
    wp_endpoint_policy_free(data);
}


/* webpush_ttl_default SECONDS | env:NAME [FALLBACK]; */

char *
ngx_http_webpush_ttl_default(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_webpush_main_conf_t *wmcf = conf;

    ngx_int_t   n;
    ngx_str_t  *value, v, *fallback;

    if (wmcf->ttl_default != NGX_CONF_UNSET) {
        return "is duplicate";
    }

    value = cf->args->elts;
    fallback = cf->args->nelts > 2 ? &value[2] : NULL;

    if (ngx_http_webpush_conf_value_or(cf, &value[1], fallback, &v)
        != NGX_CONF_OK)
    {
        return NGX_CONF_ERROR;
    }

    n = ngx_atoi(v.data, v.len);

    if (n == NGX_ERROR || n > WP_SEND_MAX_TTL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid TTL \"%V\": expected 0..%d seconds",
                           &v, WP_SEND_MAX_TTL);
        return NGX_CONF_ERROR;
    }

    wmcf->ttl_default = n;

    return NGX_CONF_OK;
}
