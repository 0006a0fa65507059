#!/usr/bin/env bash
# check_signin_slots.sh — password checks are capped like uploads: while
# every sign-in slot of the running pool is held, a sign-in is answered 503
# with Retry-After and the form comes back; once one is free, the same
# sign-in succeeds. The slots are the flock files in the folder iotd-master
# made (named on each worker's command line); this script holds them with
# flock(1) as a worker would. Needs the stack started by ./dev check
# (IOTD_BASE_URL, IOTD_POOL_PIDFILE, IOTD_BIN, PG*).
set -uo pipefail

failures=0
ok() { echo "ok - $*"; }
not_ok() { echo "not ok - $*"; failures=$((failures + 1)); }
check() { # check DESCRIPTION COMMAND...
    local what=$1
    shift
    if "$@"; then ok "$what"; else not_ok "$what"; fi
}
skip() { echo "# SKIP: $*"; exit 77; }

for v in IOTD_BASE_URL IOTD_POOL_PIDFILE IOTD_BIN PGHOST; do
    [ -n "${!v:-}" ] || skip "$v is unset (run ./dev check)"
done
command -v flock >/dev/null || skip "flock(1) is missing (util-linux)"
curl -fsS -o /dev/null "$IOTD_BASE_URL/healthz" || skip "nothing answers at $IOTD_BASE_URL"
master=$(cat "$IOTD_POOL_PIDFILE" 2>/dev/null) || skip "no pool pid file"
worker=$(pgrep -P "$master" | head -1)
[ -n "$worker" ] || skip "the pool has no workers"
dir=$(tr '\0' '\n' <"/proc/$worker/cmdline" | sed -n '/^--slots-dir$/{n;p}')
[ -d "$dir" ] || skip "no slots folder on worker $worker's command line"

work=$(mktemp -d "${TMPDIR:-/tmp}/check_signin_slots.XXXXXX")
user="slots$$"
holders=()
release() { # stops the lock holders and their sleeps
    [ ${#holders[@]} -gt 0 ] || return 0
    pkill -P "$(IFS=,; echo "${holders[*]}")" 2>/dev/null
    kill "${holders[@]}" 2>/dev/null
    wait 2>/dev/null
    holders=()
}
cleanup() {
    release
    "$IOTD_BIN" user rm "$user" >/dev/null 2>&1
    rm -rf "$work"
}
trap cleanup EXIT
password="slots-$RANDOM-$RANDOM-$RANDOM"
printf '%s\n' "$password" | "$IOTD_BIN" user add "$user" >/dev/null 2>&1 || { not_ok "create editor $user"; exit 1; }

# sign_in: prints "STATUS RETRY-AFTER" for one complete sign-in attempt
sign_in() {
    local jar=$work/jar token
    rm -f "$jar"
    token=$(curl -sS -c "$jar" "$IOTD_BASE_URL/admin/login" | sed -n 's/.*name="login_token" value="\([^"]*\)".*/\1/p')
    curl -sS -b "$jar" -o "$work/body" -D "$work/head" -w '%{http_code}' \
        -H "Origin: $IOTD_BASE_URL" --data-urlencode "username=$user" --data-urlencode "password=$password" \
        --data-urlencode "login_token=$token" "$IOTD_BASE_URL/admin/login"
    printf ' %s\n' "$(tr -d '\r' <"$work/head" | sed -n 's/^[Rr]etry-[Aa]fter: //p')"
}

mapfile -t files < <(ls "$dir"/signin-* 2>/dev/null)
check "the pool made sign-in slots (${#files[@]})" [ ${#files[@]} -ge 1 ]
for f in "${files[@]}"; do
    flock -o -x "$f" sleep 60 & # -o: only flock itself holds the lock
    holders+=($!)
done
for _ in $(seq 50); do # until every holder has its lock
    n=0
    for f in "${files[@]}"; do flock -n "$f" true || n=$((n + 1)); done
    [ $n -eq ${#files[@]} ] && break
    sleep 0.1
done
read -r status retry <<<"$(sign_in)"
check "all sign-in slots held: 503 (got $status)" [ "$status" = 503 ]
check "with Retry-After (got '$retry')" [ -n "$retry" ]
check "the form comes back with a plain message" grep -q "Many sign-ins are being checked right now" "$work/body"
check "and no session cookie" bash -c "! grep -qi '^set-cookie: iotd_session' '$work/head'"
check "a page is still served meanwhile" curl -fsS -o /dev/null "$IOTD_BASE_URL/"
release
read -r status retry <<<"$(sign_in)"
check "a slot free again: the same sign-in succeeds (303, got $status)" [ "$status" = 303 ]
echo "# $failures failure(s)"
[ "$failures" -eq 0 ]
