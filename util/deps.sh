#!/bin/sh
# Install the Debian packages a make target needs, when any is missing.
# Usage: util/deps.sh build|run|test|bench   (test and bench include run,
# which includes build)
# Runs apt-get only as root and only for packages that are not installed,
# so a machine that has everything is never touched.
set -eu

build="gcc make pkg-config libssl-dev libhiredis-dev libyajl-dev libpq-dev
       libcurl4-openssl-dev libnghttp2-dev libc-ares-dev nginx nginx-dev openssl
       ca-certificates"
run="postgresql redis-server curl"
test="clang libclang-rt-14-dev perl libtest-base-perl libtest-longstring-perl
      liblist-moreutils-perl libtext-diff-perl liburi-perl libwww-perl
      libhttp-message-perl libjson-pp-perl python3 python3-cryptography python3-h2
      chromium dbus-daemon python3-gi docker-compose logrotate systemd"

bench="wrk postgresql-contrib redis-tools libnginx-mod-http-echo"

case "${1:-build}" in
    build) want="$build" ;;
    run)   want="$build $run" ;;
    test)  want="$build $run $test" ;;
    bench) want="$build $run $bench" ;;
    *) echo "usage: $0 build|run|test|bench" >&2; exit 2 ;;
esac

missing=""
for p in $want; do
    if ! dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null \
         | grep -q '^install ok installed$'; then
        missing="$missing $p"
    fi
done

[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
    echo "missing Debian packages:$missing" >&2
    echo "run as root, or: sudo apt-get install$missing" >&2
    exit 1
fi

echo "installing Debian packages:$missing"
export DEBIAN_FRONTEND=noninteractive
# policy-rc.d keeps the packages' own services (nginx, redis, postgresql)
# from starting: we run our own throwaway instances on loopback.
if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
apt-get update -qq
apt-get install -y -qq --no-install-recommends $missing >/dev/null
