# tests/faults/lib.sh — sourced by tests/faults/run and tests/soak/run: the
# private stack, wrk runs and their RESULT lines, the pool's workers and
# their memory, and the table of findings. Expects ROOT, HERE (this folder),
# VAR, WORK, URL, LOGF and START_LIMIT_S to be set.

FAILED=0
ROWS=()
BREACHES=()
UP_PID=

now_ms() { date +%s%3N; }
in_range() { [ "$1" -ge "$2" ] && [ "$1" -le "$3" ]; }
ms_to_s() { printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)); }

# ---------------------------------------------------------------- the stack
stack_start() {
    command -v wrk >/dev/null || { echo "wrk is missing: run ./dev up once, or apt-get install wrk" >&2; return 1; }
    "$ROOT/dev" up >"$WORK/up.log" 2>&1 &
    UP_PID=$!
    local i
    for ((i = 0; i < START_LIMIT_S * 2; i++)); do
        grep -q '^http://' "$WORK/up.log" && return 0
        kill -0 "$UP_PID" 2>/dev/null || break
        sleep 0.5
    done
    echo "the stack did not start; ./dev up said:" >&2
    tail -30 "$WORK/up.log" >&2
    return 1
}

stack_finish() {
    local rc=$?
    [ -n "$UP_PID" ] && kill -CONT "$UP_PID" 2>/dev/null
    "$ROOT/dev" stop >/dev/null 2>&1 || true
    if [ -n "$UP_PID" ]; then
        kill -TERM "$UP_PID" 2>/dev/null || true
        wait "$UP_PID" 2>/dev/null || true
    fi
    if [ "$rc" -eq 0 ] && [ -z "${FAULTS_VAR:-}" ]; then
        rm -rf "$VAR"
    else
        echo "state and logs kept in $VAR" >&2
    fi
}

# Alive and not a zombie (./dev up, stopped, has not reaped it yet).
process_running() { [ -r "/proc/$1/status" ] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status"; }

master_pid() { cat "$VAR/run/iotd.pid"; }

# The master's children, one pid a line (no /proc/PID/task/*/children here).
worker_pids() { pgrep -P "$1" || true; }

# The pool's size: page workers and, as ./dev starts it, admin workers.
pool_size() { echo $((IOTD_WORKERS + IOTD_ADMIN_WORKERS)); }

# Milliseconds until the master has all its children again, none of them
# the victim; -1 after limit_ms.
wait_pool_full() {
    local master=$1 victim=$2 limit=$3 t0 now n
    t0=$(now_ms)
    while :; do
        now=$(now_ms)
        n=$(worker_pids "$master" | grep -vcx "$victim" || true)
        [ "$n" -ge "$(pool_size)" ] && { echo $((now - t0)); return; }
        [ $((now - t0)) -gt "$limit" ] && { echo -1; return; }
        sleep 0.01
    done
}

# Waits (at most 5 s) until the pool has all its workers.
settle_pool() {
    local i
    for ((i = 0; i < 50; i++)); do
        [ "$(worker_pids "$1" | wc -l)" -ge "$(pool_size)" ] && return 0
        sleep 0.1
    done
}

worker_rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }

# Whether a worker holds an upload on disk: a spool is an unnamed temporary
# file, which /proc shows as "DIR/#INODE (deleted)".
worker_spooling() {
    local p
    for p in $(worker_pids "$1"); do
        ls -l "/proc/$p/fd" 2>/dev/null | grep -q ' (deleted)$' && return 0
    done
    return 1
}

max_worker_rss_kb() {
    local p max=0 r
    for p in $(worker_pids "$1"); do
        r=$(worker_rss_kb "$p")
        [ "${r:-0}" -gt "$max" ] && max=$r
    done
    echo "$max"
}

# Every second for at most $2 s: "SECOND PID RSS_KB" for each worker, and the
# peak (VmHWM) of each worker as "peak PID KB" lines at the end.
rss_sampler() {
    local master=$1 seconds=$2 s p
    for ((s = 0; s < seconds; s++)); do
        for p in $(worker_pids "$master"); do
            echo "$s $p $(worker_rss_kb "$p")"
        done
        sleep 1
    done
}

peak_worker_hwm_kb() {
    local p max=0 r
    for p in $(worker_pids "$1"); do
        r=$(awk '/^VmHWM:/ {print $2}' "/proc/$p/status" 2>/dev/null || echo 0)
        [ "${r:-0}" -gt "$max" ] && max=$r
    done
    echo "$max"
}

# Milliseconds from t_up until every current worker has logged a 200 (from
# byte offset on in the request log); -1 after limit_ms.
# The page workers: those iotd-master started with --role page.
page_worker_pids() {
    local p
    for p in $(worker_pids "$1"); do
        tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -q -- '--role page' && echo "$p"
    done
}

# Milliseconds from t_up until every page worker has logged a 200 (they
# carry the load; the admin workers see none of it); -1 after limit ms.
wait_all_workers_ok() {
    local master=$1 offset=$2 t_up=$3 limit=$4 p worst line t
    local deadline=$(($(now_ms) + limit))
    while [ "$(now_ms)" -lt "$deadline" ]; do
        worst=-1
        for p in $(page_worker_pids "$master"); do
            [ "$worst" -lt 0 ] && worst=0
            line=$(tail -c +"$((offset + 1))" "$LOGF" | grep -F "\"pid\":$p," | grep -F '"status":200,' | head -1 || true)
            [ -n "$line" ] || { worst=-1; break; }
            t=$(date -d "$(sed -E 's/^\{"time":"([^"]+)".*/\1/' <<<"$line")" +%s%3N)
            [ $((t - t_up)) -gt "$worst" ] && worst=$((t - t_up))
        done
        [ "$worst" -ge 0 ] && { echo "$worst"; return; }
        sleep 0.1
    done
    echo -1
}

# ---------------------------------------------------------------- data
make_image() { # make_image FILE MB: random pixels, so the PNG is about MB in size
    local side
    side=$(awk -v mb="$2" 'BEGIN { printf "%d", sqrt(mb * 1024 * 1024 / 3) }')
    [ -s "$1" ] || convert -size "${side}x${side}" xc: +noise Random -depth 8 "$1"
}

seed_images() {
    local i
    for ((i = 1; i <= $1; i++)); do
        [ -s "$WORK/seed-$i.jpg" ] || convert -size 800x600 "plasma:fractal" -quality 85 "$WORK/seed-$i.jpg"
        "$ROOT/dev" iotd image add "$WORK/seed-$i.jpg" --name "Seed $i" --tagline "A seeded image" \
            --date "$(date -u -d "-$((i - 1)) days" +%F)" >/dev/null
    done
}

image_rows() { "$ROOT/dev" iotd image list | wc -l; }

json_get() { # json_get FILE EXPRESSION: a field of a JSON file (o is the whole)
    node -e 'const o = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
const v = eval("o." + process.argv[2]); console.log(typeof v === "object" ? JSON.stringify(v) : v)' "$1" "$2"
}

# ---------------------------------------------------------------- wrk
# wrk_load SECONDS NAME PATH... : CONNECTIONS connections, paths in turn.
wrk_load() {
    local seconds=$1 name=$2
    shift 2
    wrk -t2 -c"${CONNECTIONS}" -d"${seconds}s" --timeout 10s --latency -s "$HERE/count.lua" "$URL" -- "$@" \
        >"$WORK/$name.wrk" 2>&1 || true
}

read_result() { grep '^RESULT ' "$WORK/$1.wrk" | tail -1 >"$WORK/$1.result" || { echo "RESULT requests=0 ok=0 s4xx=0 s502=0 s503=0 s5xx=0 sockerr=1 p50_ms=0 p99_ms=0" >"$WORK/$1.result"; }; }
field() { tr ' ' '\n' <"$WORK/$1.result" | sed -n "s/^$2=//p"; }
# non-2xx/3xx responses and socket errors
failures() { echo $(($(field "$1" requests) - $(field "$1" ok) + $(field "$1" sockerr))); }

# ---------------------------------------------------------------- the table
row() { ROWS+=("$(printf '%-9s %12s %9s  %-26s %s' "$1" "$2" "$3" "$4" "$5")"); }

check() { # check DESCRIPTION COMMAND...
    local what=$1
    shift
    if ! "$@" >/dev/null 2>&1; then
        BREACHES+=("$what")
        FAILED=1
    fi
}

print_table() {
    printf '%-9s %12s %9s  %-26s %s\n' fault requests failures "recovery time" notes
    printf '%s\n' "${ROWS[@]}"
    if [ ${#BREACHES[@]} -gt 0 ]; then
        printf '\nbounds broken:\n'
        printf '  - %s\n' "${BREACHES[@]}"
    else
        printf '\nall bounds held\n'
    fi
}
