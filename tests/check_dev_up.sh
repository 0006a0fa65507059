#!/usr/bin/env bash
# check_dev_up.sh — `./dev up` in a scratch folder on its own ports: it
# prints the URL, serves the home page and the admin sign-in, creates a
# local editor whose password works, and on SIGTERM stops everything it
# started. Runs under ./dev check (needs the built tree and the packages).
set -uo pipefail

srcdir=${IOTD_SRCDIR:-.}
builddir=${IOTD_BUILDDIR:-}
if [ -z "${IOTD_DEV:-}" ] || [ -z "$builddir" ] || [ ! -x "$builddir/iotd" ]; then
    echo "SKIP: run under ./dev check"
    exit 77
fi
failures=0
ok() { echo "ok - $*"; }
not_ok() { echo "not ok - $*"; failures=$((failures + 1)); }

scratch=$(mktemp -d /tmp/iotd-devup.XXXXXX)
chmod 755 "$scratch"
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
base=0
for try in $(seq 0 50); do
    # below 32768, where the kernel never picks ephemeral ports for outgoing connections
    candidate=$((20000 + (($$ + try * 37) % 1200) * 10))
    free=1
    for off in 0 1 2 4 5; do port_free $((candidate + off)) || free=0; done
    if [ $free = 1 ]; then base=$candidate; break; fi
done
[ $base -gt 0 ] || { echo "not ok - no free ports"; exit 1; }
export IOTD_DEV_VAR=$scratch IOTD_DEV_BUILD=$builddir
export IOTD_DEV_HTTP_PORT=$base IOTD_DEV_FCGI_PORT=$((base + 1)) IOTD_DEV_PG_PORT=$((base + 2)) IOTD_DEV_S3_PORT=$((base + 4))
"$srcdir/dev" up >"$scratch.out" 2>&1 &
up=$!
cleanup() {
    kill -TERM "$up" 2>/dev/null
    "$srcdir/dev" stop >/dev/null 2>&1
    rm -rf "$scratch" "$scratch.out"
}
trap cleanup EXIT

for _ in $(seq 1 600); do
    grep -q "^http://127.0.0.1:$base/$" "$scratch.out" && break
    kill -0 "$up" 2>/dev/null || break
    sleep 0.1
done
if grep -q "^http://127.0.0.1:$base/$" "$scratch.out"; then ok "./dev up prints http://127.0.0.1:$base/"; else
    not_ok "./dev up prints the URL"; sed 's/^/# /' "$scratch.out"; exit 1; fi

code=$(curl -s -o "$scratch/home.html" -w '%{http_code}' "http://127.0.0.1:$base/")
if [ "$code" = 200 ] && grep -q 'No images yet' "$scratch/home.html"; then ok "the home page is served"; else not_ok "the home page is served ($code)"; fi

password=$(sed -n 's/.*user: editor  password: \([0-9a-f]*\)$/\1/p' "$scratch.out" | head -1)
if [ ${#password} -ge 24 ] && [ "$password" != admin ]; then ok "a local editor with a generated password is printed"; else not_ok "editor credentials printed"; fi
jar=$scratch/jar
curl -s -c "$jar" -b "$jar" "http://127.0.0.1:$base/admin/login" -o "$scratch/login.html"
token=$(sed -n 's/.*name="login_token" value="\([0-9a-f]*\)".*/\1/p' "$scratch/login.html")
where=$(curl -s -c "$jar" -b "$jar" -o /dev/null -w '%{http_code} %{redirect_url}' \
    --data-urlencode "login_token=$token" --data-urlencode "username=editor" --data-urlencode "password=$password" \
    --data-urlencode "next=/admin/" "http://127.0.0.1:$base/admin/login")
if [ "$where" = "303 http://127.0.0.1:$base/admin/" ]; then ok "the printed password signs in"; else not_ok "the printed password signs in ($where)"; fi

pids=$(cat "$scratch"/run/*.pid 2>/dev/null; cat "$scratch"/pg/postmaster.pid 2>/dev/null | head -1)
kill -TERM "$up"
for _ in $(seq 1 300); do kill -0 "$up" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$up" 2>/dev/null; then not_ok "./dev up exits on SIGTERM"; else ok "./dev up exits on SIGTERM"; fi
alive() { # running, not a zombie waiting to be reaped
    [ -r "/proc/$1/stat" ] && [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" != Z ]
}
left=""
for _ in $(seq 1 20); do
    left=""
    for p in $pids; do alive "$p" && left="$left $p"; done
    [ -z "$left" ] && break
    sleep 0.1
done
if [ -z "$left" ] && ! pgrep -f "$scratch" >/dev/null; then ok "nothing it started is left running"; else
    not_ok "processes left running:$left $(pgrep -f "$scratch" | tr "\n" " ")"; for p in $left; do echo "# $p: $(tr "\0" " " </proc/$p/cmdline 2>/dev/null)"; done; fi

echo "# $failures failure(s)"
[ $failures -eq 0 ]
