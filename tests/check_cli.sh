#!/usr/bin/env bash
# check_cli.sh — the iotd command line: usage and exit codes, migrations
# (ordered, idempotent, safe when several run at once), and serve refusing
# an old schema. Needs the local stack's PostgreSQL (PG* variables) for the
# database half; prints TAP-style lines.
set -uo pipefail

bin=${IOTD_BIN:-${IOTD_BUILDDIR:-.}/iotd}
srcdir=${IOTD_SRCDIR:-.}
failures=0
ok() { echo "ok - $*"; }
not_ok() { echo "not ok - $*"; failures=$((failures + 1)); }
check() { # check DESCRIPTION COMMAND...
    local what=$1; shift
    if "$@"; then ok "$what"; else not_ok "$what"; fi
}

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

# --- usage and exit codes
"$bin" --help >"$out/help" 2>&1; rc=$?
check "--help exits 0 and lists serve and migrate" test $rc -eq 0 -a -n "$(grep -E '^  serve' "$out/help")" -a -n "$(grep -E '^  migrate' "$out/help")"
"$bin" --version >"$out/version" 2>&1; rc=$?
check "--version exits 0 and prints the version" grep -qE '^iotd [0-9]+\.[0-9]+\.[0-9]+$' "$out/version"
"$bin" frobnicate >"$out/stdout" 2>"$out/stderr"; rc=$?
check "an unknown command exits 2" test $rc -eq 2
check "an unknown command prints usage on stderr, nothing on stdout" \
    bash -c "grep -q 'usage: iotd' '$out/stderr' && test ! -s '$out/stdout'"
"$bin" --bogus >/dev/null 2>"$out/stderr"; rc=$?
check "an unknown option exits 2 with usage" bash -c "test $rc -eq 2 && grep -q 'unknown option' '$out/stderr'"
"$bin" >/dev/null 2>&1; rc=$?
check "no command exits 2" test $rc -eq 2
"$bin" migrate extra >/dev/null 2>&1; rc=$?
check "an extra argument exits 2" test $rc -eq 2
IOTD_WORKERS=abc "$bin" serve >/dev/null 2>"$out/stderr"; rc=$?
check "a bad variable is named in the error" bash -c "test $rc -eq 1 && grep -q 'IOTD_WORKERS' '$out/stderr'"
IOTD_LISTEN=127.0.0.1:1 "$bin" healthcheck >/dev/null 2>"$out/stderr"; rc=$?
check "healthcheck fails when nothing listens" bash -c "test $rc -eq 1 && grep -q 'connect' '$out/stderr'"

if [ -z "${PGHOST:-}" ]; then
    echo "# SKIP database half: no PostgreSQL (run ./dev check)"
    [ $failures -eq 0 ] && exit 0 || exit 1
fi

# --- migrations against a scratch database
db=iotd_cli_$$
psql -q -d postgres -c "CREATE DATABASE $db" >/dev/null || { not_ok "create scratch database"; exit 1; }
trap 'psql -q -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1; rm -rf "$out"' EXIT
export IOTD_MIGRATIONS_DIR=${IOTD_MIGRATIONS_DIR:-$srcdir/db/migrations}
nfiles=$(ls "$IOTD_MIGRATIONS_DIR"/[0-9][0-9][0-9][0-9]_*.sql | wc -l)

IOTD_LISTEN=127.0.0.1:1 PGDATABASE=$db "$bin" serve >/dev/null 2>"$out/serve"; rc=$?
check "serve refuses an unmigrated database and says to run iotd migrate" \
    bash -c "test $rc -eq 1 && grep -q \"run 'iotd migrate'\" '$out/serve'"

# Three migrations start at once: the advisory lock lets one apply, the others find nothing to do.
for i in 1 2 3; do PGDATABASE=$db "$bin" migrate >"$out/m$i" 2>&1 & done
wait_rc=0
for job in $(jobs -p); do wait "$job" || wait_rc=1; done
check "three concurrent migrates all succeed" test $wait_rc -eq 0
applied=$(cat "$out"/m1 "$out"/m2 "$out"/m3 | grep -c '^applied ')
check "each migration applied exactly once ($applied of $nfiles)" test "$applied" -eq "$nfiles"
rows=$(PGDATABASE=$db psql -tAc "SELECT count(*) FROM schema_migrations")
check "schema_migrations records every file ($rows)" test "$rows" -eq "$nfiles"
PGDATABASE=$db "$bin" migrate >"$out/again" 2>&1; rc=$?
check "re-running migrate is a no-op" bash -c "test $rc -eq 0 && grep -q 'nothing to apply' '$out/again'"
idx=$(PGDATABASE=$db psql -tAc "SET enable_seqscan = off; EXPLAIN SELECT * FROM images ORDER BY uploaded_at DESC, id DESC LIMIT 1")
check "latest image is an index scan" bash -c "grep -qE 'Index (Only )?Scan using images_uploaded_at_idx' <<<'$idx'"
PGDATABASE=$db psql -q -c "INSERT INTO images (name, object_key, content_type, byte_size, width, height) VALUES ('$(printf 'x%.0s' {1..201})', 'k', 'image/png', 1, 1, 1)" >/dev/null 2>&1; rc=$?
check "a name over 200 characters is refused by the schema" test $rc -ne 0

# The first editor comes from IOTD_ADMIN_USER/IOTD_ADMIN_PASSWORD at start, only while no account exists.
serve_once() { # serve_once USER PASSWORD: start the pool, wait until it answers, stop it
    local port=$((20000 + RANDOM % 20000)) pid
    IOTD_LISTEN=127.0.0.1:$port IOTD_WORKERS=1 PGDATABASE=$db IOTD_ADMIN_USER=$1 IOTD_ADMIN_PASSWORD=$2 \
        "$bin" serve >>"$out/serve-admin.log" 2>&1 &
    pid=$!
    for _ in $(seq 1 100); do IOTD_LISTEN=127.0.0.1:$port "$bin" healthcheck 2>/dev/null && break; sleep 0.1; done
    kill -TERM $pid; wait $pid
}
serve_once first-editor 'a long enough password'
serve_once second-editor 'another long password'
editors=$(PGDATABASE=$db psql -tAc "SELECT string_agg(username, ',') FROM users")
check "serve creates the first editor only while no account exists ($editors)" test "$editors" = first-editor
check "the admin password never reaches the log" bash -c "! grep -q 'long enough password' '$out/serve-admin.log'"

# A broken migration leaves the schema where it was.
bad=$(mktemp -d)
cp "$IOTD_MIGRATIONS_DIR"/*.sql "$bad"/
printf 'CREATE TABLE cli_probe (id int);\nSELECT no_such_function();\n' >"$bad/9999_broken.sql"
PGDATABASE=$db IOTD_MIGRATIONS_DIR=$bad "$bin" migrate >/dev/null 2>"$out/broken"; rc=$?
probe=$(PGDATABASE=$db psql -tAc "SELECT to_regclass('cli_probe') IS NULL AND NOT EXISTS (SELECT 1 FROM schema_migrations WHERE version = 9999)")
check "a failing migration exits 1 and is rolled back whole" bash -c "test $rc -eq 1 && test '$probe' = t && grep -q '9999_broken.sql' '$out/broken'"
rm -rf "$bad"

echo "# $failures failure(s)"
[ $failures -eq 0 ]
