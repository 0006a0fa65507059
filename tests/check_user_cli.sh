#!/usr/bin/env bash
# check_user_cli.sh — `iotd user ...`: add (password from stdin or
# generated), passwd, list, rm, ensure-admin, exit codes and messages.
# Stored hashes are checked with Python's hashlib, an implementation
# independent of ours. Needs the local stack's PostgreSQL (PG* variables);
# skips (exit 77) without it. Prints TAP-style lines.
set -uo pipefail

bin=${IOTD_BIN:-${IOTD_BUILDDIR:-.}/iotd}
srcdir=${IOTD_SRCDIR:-.}
if [ -z "${PGHOST:-}" ]; then
    echo "# SKIP: no PostgreSQL (PGHOST unset; run ./dev check)"
    exit 77
fi
failures=0
ok() { echo "ok - $*"; }
not_ok() { echo "not ok - $*"; failures=$((failures + 1)); }
fails() { ! "$@"; }
check() { # check DESCRIPTION COMMAND...
    local what=$1; shift
    if "$@"; then ok "$what"; else not_ok "$what"; fi
}

out=$(mktemp -d)
db=iotd_user_cli_$$
psql -q -d postgres -c "CREATE DATABASE $db" >/dev/null || { echo "not ok - create scratch database"; exit 1; }
trap 'psql -q -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1; rm -rf "$out"' EXIT
export PGDATABASE=$db
export IOTD_MIGRATIONS_DIR=$srcdir/db/migrations
unset DATABASE_URL IOTD_ADMIN_USER IOTD_ADMIN_PASSWORD
"$bin" migrate >/dev/null 2>&1 || { echo "not ok - migrate the scratch database"; exit 1; }

q() { psql -tAc "$1"; }
stored_hash() { q "SELECT password_hash FROM users WHERE lower(username) = lower('$1')"; }
# hash_matches PASSWORD HASH: Django's pbkdf2_sha256 recomputed with hashlib
hash_matches() {
    python3 -c '
import base64, hashlib, hmac, sys
algo, it, salt, key = sys.argv[2].split("$")
dk = hashlib.pbkdf2_hmac("sha256", sys.argv[1].encode(), salt.encode(), int(it))
sys.exit(0 if algo == "pbkdf2_sha256" and int(it) >= 600000 and hmac.compare_digest(base64.b64encode(dk).decode(), key) else 1)
' "$1" "$2"
}

# --- usage
"$bin" user >/dev/null 2>"$out/err"; rc=$?
check "'iotd user' alone exits 2 with usage" bash -c "test $rc -eq 2 && grep -q 'usage: iotd user' '$out/err'"
"$bin" user frobnicate >/dev/null 2>&1; rc=$?
check "an unknown subcommand exits 2" test $rc -eq 2
"$bin" user add </dev/null >/dev/null 2>&1; rc=$?
check "add without a username exits 2" test $rc -eq 2
"$bin" user add a b </dev/null >/dev/null 2>&1; rc=$?
check "add with two usernames exits 2" test $rc -eq 2
"$bin" user list extra >/dev/null 2>&1; rc=$?
check "list with an argument exits 2" test $rc -eq 2
"$bin" --help >"$out/help" 2>&1
check "iotd --help lists the user command" grep -qE '^  user ' "$out/help"

# --- add with the password on stdin
printf 'stdin password one\n' | "$bin" user add Alice >"$out/add" 2>"$out/err"; rc=$?
check "add with a password on stdin exits 0" test $rc -eq 0
check "add says what it did and prints no password" bash -c "grep -q \"added user 'Alice'\" '$out/add' && ! grep -q 'password' '$out/add'"
check "the stored hash is Django's pbkdf2_sha256 of the stdin line (newline stripped)" \
    hash_matches "stdin password one" "$(stored_hash alice)"
printf 'no newline at the end' | "$bin" user add carol >/dev/null 2>&1; rc=$?
check "a last line without a newline exits 0" test $rc -eq 0
check "a last line without a newline is taken whole" hash_matches 'no newline at the end' "$(stored_hash carol)"

# --- add with a generated password
"$bin" user add --generate bob </dev/null >"$out/gen" 2>"$out/err"; rc=$?
generated=$(sed -n 's/^password: //p' "$out/gen")
check "add --generate exits 0 and prints the password once" \
    bash -c "test $rc -eq 0 && test \$(grep -c '^password: ' '$out/gen') -eq 1"
check "the generated password has 20 letters and digits" bash -c "[[ '$generated' =~ ^[A-Za-z0-9]{20}\$ ]]"
check "the generated password is the one stored" hash_matches "$generated" "$(stored_hash bob)"
if command -v script >/dev/null 2>&1; then
    script -qec "$bin user add dave" /dev/null >"$out/tty" 2>&1; rc=$?
    check "add on a terminal generates and prints a password" \
        bash -c "test $rc -eq 0 && grep -qE '^password: [A-Za-z0-9]{20}' '$out/tty'"
    q "DELETE FROM users WHERE username = 'dave'" >/dev/null
fi

# --- refusals
printf 'another password\n' | "$bin" user add ALICE >/dev/null 2>"$out/err"; rc=$?
check "a duplicate username (any case) is refused with exit 1" \
    bash -c "test $rc -eq 1 && grep -q 'already exists' '$out/err'"
check "the first Alice keeps her password" hash_matches "stdin password one" "$(stored_hash alice)"
printf 'short\n' | "$bin" user add erin >/dev/null 2>"$out/err"; rc=$?
check "a password under 8 bytes is refused" bash -c "test $rc -eq 1 && grep -q 'password must have' '$out/err'"
"$bin" user add erin </dev/null >/dev/null 2>"$out/err"; rc=$?
check "an empty stdin is refused" bash -c "test $rc -eq 1 && grep -q 'no password on stdin' '$out/err'"
printf 'good password\n' | "$bin" user add 'no spaces' >/dev/null 2>"$out/err"; rc=$?
check "an invalid username is refused" bash -c "test $rc -eq 1 && grep -q 'a username has' '$out/err'"
check "no refused account was stored" test "$(q 'SELECT count(*) FROM users')" -eq 3

# --- passwd
printf 'stdin password two\n' | "$bin" user passwd alice >"$out/pw" 2>&1; rc=$?
check "passwd exits 0" test $rc -eq 0
check "passwd stores the new password" hash_matches "stdin password two" "$(stored_hash alice)"
check "the old password no longer matches" fails hash_matches 'stdin password one' "$(stored_hash alice)"
"$bin" user passwd --generate bob </dev/null >"$out/pw2" 2>&1; rc=$?
check "passwd --generate prints the new password" \
    hash_matches "$(sed -n 's/^password: //p' "$out/pw2")" "$(stored_hash bob)"
printf 'whatever password\n' | "$bin" user passwd nobody >/dev/null 2>"$out/err"; rc=$?
check "passwd for an unknown user exits 1" bash -c "test $rc -eq 1 && grep -q 'no user named' '$out/err'"

# --- list and rm
"$bin" user list >"$out/list" 2>&1; rc=$?
check "list exits 0 with a header and one line per user" \
    bash -c "test $rc -eq 0 && head -1 '$out/list' | grep -q '^username' && test \$(wc -l <'$out/list') -eq 4"
check "list shows names as stored and never logged-in users as never" \
    bash -c "grep -qP '^Alice\t\S+Z\tnever$' '$out/list' && grep -qP '^bob\t' '$out/list'"
"$bin" user rm BOB >"$out/rm" 2>&1; rc=$?
check "rm exits 0 (any case)" test $rc -eq 0
"$bin" user list >"$out/list" 2>&1
check "rm removed the user" bash -c "! grep -q '^bob' '$out/list'"
"$bin" user rm bob >/dev/null 2>"$out/err"; rc=$?
check "rm of an unknown user exits 1" bash -c "test $rc -eq 1 && grep -q 'no user named' '$out/err'"

# --- ensure-admin
"$bin" user ensure-admin >"$out/ea" 2>&1; rc=$?
check "ensure-admin without IOTD_ADMIN_USER does nothing and exits 0" \
    bash -c "test $rc -eq 0 && grep -q 'not set' '$out/ea'"
IOTD_ADMIN_USER=root IOTD_ADMIN_PASSWORD='root password 1' "$bin" user ensure-admin >"$out/ea" 2>&1; rc=$?
check "ensure-admin with users present creates nobody" \
    bash -c "test $rc -eq 0 && grep -q 'exist already' '$out/ea' && test -z \"\$(psql -tAc \"SELECT 1 FROM users WHERE username = 'root'\")\""
q "DELETE FROM users" >/dev/null
IOTD_ADMIN_USER=root IOTD_ADMIN_PASSWORD='short' "$bin" user ensure-admin >"$out/ea" 2>&1; rc=$?
check "ensure-admin refuses a short IOTD_ADMIN_PASSWORD" bash -c "test $rc -eq 1 && grep -q 'IOTD_ADMIN_PASSWORD must' '$out/ea'"
IOTD_ADMIN_USER=root IOTD_ADMIN_PASSWORD='root password 1' "$bin" user ensure-admin >"$out/ea" 2>&1; rc=$?
check "ensure-admin on an empty table creates the editor" \
    bash -c "test $rc -eq 0 && grep -q \"added user 'root'\" '$out/ea'"
check "the editor has IOTD_ADMIN_PASSWORD" hash_matches "root password 1" "$(stored_hash root)"
check "ensure-admin never prints the password" bash -c "! grep -q 'root password 1' '$out/ea'"
IOTD_ADMIN_USER=root IOTD_ADMIN_PASSWORD='root password 2' "$bin" user ensure-admin >"$out/ea" 2>&1; rc=$?
check "a second ensure-admin exits 0" test $rc -eq 0
check "a second ensure-admin changes nothing" hash_matches 'root password 1' "$(stored_hash root)"

# --- database down
PGPORT=1 "$bin" user list >/dev/null 2>"$out/err"; rc=$?
check "list with the database down exits 1 and says so" bash -c "test $rc -eq 1 && grep -q 'unreachable' '$out/err'"

echo "# $failures failure(s)"
[ $failures -eq 0 ]
