#!/bin/bash
# Build ngx_http_webpush_module.so against Debian's nginx-dev.
#
#   util/build-module.sh BUILD_DIR        (the Makefile passes build/nginx)
#
# Runs nginx's configure with Debian's own flags (NGX_CONF_FLAGS, so that
# --with-compat and --with-debug match the packaged binary and the module
# loads), but only when `config`, the module's file list or the toolchain
# inputs changed: configure takes ~30 s, `make modules` about a second.
# /usr/share/nginx/src is never written to; everything goes to BUILD_DIR.
# Ends with Debian's load check (nginx -t on a conf that load_module's the
# .so) plus a parse of the module's directives.
#
# Environment: NGINX_SRC (default /usr/share/nginx/src), NGINX (default
# nginx), FORCE_CONFIGURE=1 to reconfigure regardless.
set -euo pipefail

if [ $# -ne 1 ]; then
    echo "usage: $0 BUILD_DIR" >&2
    exit 2
fi

top=$(cd "$(dirname "$0")/.." && pwd)
nginx_src=${NGINX_SRC:-/usr/share/nginx/src}
nginx_bin=${NGINX:-nginx}
mkdir -p "$1"
build=$(cd "$1" && pwd)
so=$build/ngx_http_webpush_module.so

# Several people (and make -j) may build at once: one at a time per dir.
exec 9>"$build/.lock"
flock 9

if [ ! -x "$nginx_src/configure" ] || [ ! -f "$nginx_src/conf_flags" ]; then
    echo "$0: $nginx_src has no nginx configure/conf_flags;" \
         "apt-get install nginx-dev" >&2
    exit 1
fi

cd "$top"    # dpkg-buildflags maps the cwd in -ffile-prefix-map
cc_opt="$(dpkg-buildflags --get CFLAGS) -fPIC $(dpkg-buildflags --get CPPFLAGS)"
ld_opt="$(dpkg-buildflags --get LDFLAGS) -fPIC"

# What configure bakes into the Makefile: the config script, the files it
# globs (a new lib/*.c must be added to the Makefile), nginx's version and
# flags.  Content changes of .c/.h files are make's business, not ours.
stamp_input() {
    cat "$top/config"
    (cd "$top" && ls -1 ngx_http_webpush_module.c src/*.c src/*.h \
        lib/*.c lib/*.h 2>/dev/null || true)
    cat "$nginx_src/conf_flags"
    "$nginx_bin" -v 2>&1
    echo "$cc_opt|$ld_opt|$top"
}
stamp=$build/.configure-stamp
stamp_input >"$stamp.new"        # kept, to diff when a reconfigure surprises
hash=$(sha256sum <"$stamp.new" | cut -d' ' -f1)

if [ "${FORCE_CONFIGURE:-}" = 1 ] || [ ! -f "$build/Makefile" ] \
   || [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$hash" ]; then
    echo "build-module: configuring nginx in $build (about 30 s)"
    rm -f "$stamp"
    # conf_flags is a bash array assignment; source it in a subshell.
    if ! (cd "$nginx_src" && . ./conf_flags && ./configure \
            --with-cc-opt="$cc_opt" --with-ld-opt="$ld_opt" \
            "${NGX_CONF_FLAGS[@]}" \
            --add-dynamic-module="$top" --builddir="$build") \
            >"$build/configure.log" 2>&1; then
        tail -n 30 "$build/configure.log" >&2
        echo "build-module: configure failed, see $build/configure.log" >&2
        exit 1
    fi
    echo "$hash" >"$stamp"
    mv "$stamp.new" "$stamp.input"
fi
rm -f "$stamp.new"

make -s -f "$build/Makefile" -C "$nginx_src" modules

# Debian's own load check: an ABI mismatch or an unresolved symbol fails
# here instead of at `make run`.
check=$build/load-check
mkdir -p "$check"
cat >"$check/load.conf" <<EOF
load_module $so;
error_log $check/error.log;
pid $check/nginx.pid;
events {}
EOF
if ! "$nginx_bin" -t -q -c "$check/load.conf"; then
    echo "build-module: $so does not load into $nginx_bin" >&2
    exit 1
fi

# And the directives parse and validate (a known-good public key: the
# example in the web-push README).
cat >"$check/directives.conf" <<EOF
load_module $so;
error_log $check/error.log;
pid $check/nginx.pid;
events {}
http {
    access_log off;
    client_body_temp_path $check/tmp;
    proxy_temp_path $check/tmp;
    fastcgi_temp_path $check/tmp;
    uwsgi_temp_path $check/tmp;
    scgi_temp_path $check/tmp;
    webpush_vapid_public_key BGtkbcjrO12YMoDuq2sCQeHlu47uPx3SHTgFKZFYiBW8Qr0D9vgyZSZPdw6_4ZFEI9Snk1VEAj2qTYI1I1YxBXE;
    server {
        listen 127.0.0.1:1;
        location = /k { webpush_vapid_key; }
    }
}
EOF
if ! "$nginx_bin" -t -q -c "$check/directives.conf"; then
    echo "build-module: the module's directives do not parse" >&2
    exit 1
fi

echo "build-module: $so"
