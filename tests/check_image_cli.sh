#!/usr/bin/env bash
# check_image_cli.sh — iotd presign, iotd image add/list/rm and iotd gc.
#
# The presign cases need nothing running: the S3 documentation's worked
# example, botocore's signer (Debian's python3-botocore) on a key with odd
# characters, and the stable window. The rest runs against the local stack
# started by ./dev check (PG* variables, IOTD_S3_*, AWS_* and IOTD_DEV): real
# uploads of every format made by ImageMagick, refusals, S3 stopped during an
# add and a remove, the database refusing a row after the upload, and gc
# finding a planted orphan, a planted missing object and a recorded deletion.
# It uses a scratch database and its own key prefix, so it shares nothing
# with other suites. Prints TAP-style lines; exits 77 without the stack.
set -uo pipefail

bin=${IOTD_BIN:-${IOTD_BUILDDIR:-.}/iotd}
srcdir=${IOTD_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
specs=${IOTD_SPECS_DIR:-$srcdir/../shared/specs}
boto="$srcdir/tests/s3-verify/botocore_client.py"
readonly PYTHON=/usr/bin/python3 # python3-botocore is importable here
failures=0

ok() { echo "ok - $*"; }
not_ok() { echo "not ok - $*"; failures=$((failures + 1)); }
check() { # check DESCRIPTION COMMAND...
    local what=$1
    shift
    if "$@"; then ok "$what"; else not_ok "$what"; fi
}
finish() {
    echo "# $failures failure(s)"
    [ "$failures" -eq 0 ]
    exit $?
}

work=$(mktemp -d "${TMPDIR:-/tmp}/check_image_cli.XXXXXX")
cleanup() { rm -rf "$work"; }
trap cleanup EXIT

have_botocore=0
[ -x "$PYTHON" ] && "$PYTHON" -c 'import botocore' 2>/dev/null && have_botocore=1

# ---------------------------------------------------------------- presign, offline
# env -i: no database variables, no session token, and a container endpoint that
# must not be used because the environment's keys come first.
offline() { # offline BUCKET REGION KEY_ID SECRET [ENDPOINT] -- ARGS...
    local bucket=$1 region=$2 id=$3 secret=$4 endpoint=$5
    shift 5
    env -i PATH="$PATH" IOTD_S3_BUCKET="$bucket" AWS_REGION="$region" AWS_ACCESS_KEY_ID="$id" \
        AWS_SECRET_ACCESS_KEY="$secret" IOTD_S3_ENDPOINT="$endpoint" \
        AWS_CONTAINER_CREDENTIALS_FULL_URI=http://127.0.0.1:9/never "$bin" presign "$@"
}

vectors="$specs/sigv4/presign-vectors.json"
if [ -f "$vectors" ]; then
    eval "$(python3 - "$vectors" <<'EOF'
import json, shlex, sys
d = json.load(open(sys.argv[1]))
t = d["tests"][0]
for k, v in {"v_bucket": t["bucket"], "v_region": t["region"], "v_key": t["key"], "v_date": t["amz_date"],
             "v_expires": t["expires"], "v_url": t["url"], "v_id": d["credentials"]["access_key_id"],
             "v_secret": d["credentials"]["secret_access_key"]}.items():
    print(f"{k}={shlex.quote(str(v))}")
EOF
)"
    got=$(offline "$v_bucket" "$v_region" "$v_id" "$v_secret" "" "$v_key" --expires "$v_expires" --date "$v_date" 2>"$work/presign.err")
    check "presign --date matches the S3 documentation's worked example byte for byte" test "$got" = "$v_url"
    [ "$got" = "$v_url" ] || { echo "# got:      $got"; echo "# expected: $v_url"; cat "$work/presign.err"; }
else
    # outside ./dev check (e.g. make distcheck) the shared specs may be absent
    echo "# SKIP the worked example: $vectors is missing (set IOTD_SPECS_DIR)"
fi

odd_key='photos/a b+c%~é,(1).png'
if [ $have_botocore -eq 1 ]; then
    expected=$("$PYTHON" - "$odd_key" <<'EOF'
import datetime, sys
from urllib.parse import quote
import botocore.auth, botocore.awsrequest, botocore.credentials

class Fixed(datetime.datetime):
    @classmethod
    def utcnow(cls):
        return datetime.datetime(2024, 3, 1, 12, 0, 0)

class Clock:
    datetime = Fixed

botocore.auth.datetime = Clock  # botocore reads the signing time from datetime.datetime.utcnow()
creds = botocore.credentials.Credentials("AKIDLOCALTEST", "local-secret/with+odd=chars")
request = botocore.awsrequest.AWSRequest(method="GET",
                                         url="http://127.0.0.1:4569/iotd-local/" + quote(sys.argv[1], safe="/~"))
botocore.auth.S3SigV4QueryAuth(creds, "s3", "eu-west-1", expires=900).add_auth(request)
print(request.url)
EOF
)
    got=$(offline iotd-local eu-west-1 AKIDLOCALTEST 'local-secret/with+odd=chars' http://127.0.0.1:4569 \
        "$odd_key" --expires 900 --date 20240301T120000Z)
    check "presign of a key with spaces, +, %, ~ and UTF-8 matches botocore's signer" test "$got" = "$expected"
    [ "$got" = "$expected" ] || { echo "# got:      $got"; echo "# botocore: $expected"; }
else
    echo "# SKIP botocore comparison: python3-botocore is not installed"
fi

# Without --date: the start of the current TTL/2 window, so two calls agree.
a=$(offline b1 us-east-1 AKIDLOCALTEST s3cr3t-value "" -- "images/x.jpg")
b=$(offline b1 us-east-1 AKIDLOCALTEST s3cr3t-value "" -- "images/x.jpg")
[ "$a" = "$b" ] || b=$(offline b1 us-east-1 AKIDLOCALTEST s3cr3t-value "" -- "images/x.jpg")
check "presign without --date gives the same URL twice" test -n "$a" -a "$a" = "$b"
# env -i drops IOTD_PRESIGN_TTL, so the window is the default 3600/2 s: X-Amz-Date falls on :00:00 or :30:00
check "its X-Amz-Date is the start of a 30-minute window and X-Amz-Expires the default TTL" \
    bash -c "grep -Eq 'X-Amz-Date=[0-9]{8}T[0-9]{2}(00|30)00Z' <<<'$b' && grep -q 'X-Amz-Expires=3600&' <<<'$b'"
c=$(offline b1 us-east-1 AKIDLOCALTEST s3cr3t-value "" images/x.jpg --expires 600)
check "presign --expires 600 signs a 300-second window" \
    bash -c "grep -Eq 'X-Amz-Date=[0-9]{8}T[0-9]{3}[05]00Z' <<<'$c' && grep -q 'X-Amz-Expires=600&' <<<'$c'"
check "the secret never appears in the URL" bash -c "! grep -q 's3cr3t' <<<'$a$c'"

rc_of() { "$@" >"$work/rc.out" 2>"$work/rc.err"; echo $?; }
check "presign without KEY exits 2" test "$(rc_of offline b1 us-east-1 K S "" )" -eq 2
check "presign --expires 0 exits 2" test "$(rc_of offline b1 us-east-1 K S "" k --expires 0)" -eq 2
check "presign --expires 604801 exits 2" test "$(rc_of offline b1 us-east-1 K S "" k --expires 604801)" -eq 2
check "presign --date 2024-03-01 exits 2" test "$(rc_of offline b1 us-east-1 K S "" k --date 2024-03-01)" -eq 2
rc=$(rc_of env -i PATH="$PATH" IOTD_S3_BUCKET=b1 "$bin" presign k)
# (the credential provider adds its own line saying which sources it tried)
check "presign without any credentials exits 1 and says so on stderr, nothing on stdout" \
    bash -c "test $rc -eq 1 && tail -1 '$work/rc.err' | grep -q '^iotd presign: no AWS credentials' && test ! -s '$work/rc.out'"
rc=$(rc_of env -i PATH="$PATH" AWS_ACCESS_KEY_ID=K AWS_SECRET_ACCESS_KEY=S "$bin" presign k)
check "presign without IOTD_S3_BUCKET exits 1 naming it" bash -c "test $rc -eq 1 && grep -q IOTD_S3_BUCKET '$work/rc.err'"

# ---------------------------------------------------------------- the stack
if [ -z "${PGHOST:-}" ] || [ -z "${IOTD_S3_ENDPOINT:-}" ] || [ -z "${IOTD_S3_BUCKET:-}" ] || [ -z "${IOTD_DEV:-}" ]; then
    echo "# SKIP the rest: no local stack (PGHOST, IOTD_S3_ENDPOINT, IOTD_S3_BUCKET, IOTD_DEV unset; run ./dev check)"
    [ "$failures" -eq 0 ] && exit 77
    finish
fi
if [ $have_botocore -eq 0 ]; then
    echo "# SKIP the rest: python3-botocore is needed to look into the bucket"
    [ "$failures" -eq 0 ] && exit 77
    finish
fi

db=iotd_image_cli_$$
psql -q -d postgres -c "CREATE DATABASE $db" >/dev/null || { not_ok "create scratch database"; finish; }
s3_was_stopped=0
cleanup() {
    [ $s3_was_stopped -eq 1 ] && "$IOTD_DEV" s3-start >/dev/null 2>&1
    psql -q -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1
    rm -rf "$work"
}
export PGDATABASE=$db
export IOTD_MIGRATIONS_DIR=${IOTD_MIGRATIONS_DIR:-$srcdir/db/migrations}
export IOTD_S3_PREFIX="check-image-cli-$$-$RANDOM/"
"$bin" migrate >"$work/migrate.out" 2>&1 || { not_ok "migrate the scratch database"; cat "$work/migrate.out"; finish; }
prefix=$IOTD_S3_PREFIX

export S3_ENDPOINT=$IOTD_S3_ENDPOINT S3_ACCESS_KEY=$AWS_ACCESS_KEY_ID S3_SECRET=$AWS_SECRET_ACCESS_KEY \
    S3_REGION=${AWS_REGION:-us-east-1}
s3_keys() { "$PYTHON" "$boto" list "$IOTD_S3_BUCKET" "$prefix" 2>/dev/null | sort; }
s3_put() { "$PYTHON" "$boto" put "$IOTD_S3_BUCKET" "$1" "$2" "$3" >/dev/null; }
sql() { psql -X -q -tA -c "$1"; }
rows() { sql "SELECT count(*) FROM images"; }
# fetch KEY OUT: the object through a presigned URL; prints "STATUS CONTENT-TYPE"
fetch() { curl -s -o "$2" -w '%{http_code} %{content_type}' "$("$bin" presign "$1" --expires 300)"; }

# --- test images: ImageMagick when it works, else a PNG written by Python
have_convert=0
if convert -size 4x3 xc:red "$work/probe.jpg" >/dev/null 2>&1 && convert -size 4x3 xc:red "$work/probe.webp" >/dev/null 2>&1; then
    have_convert=1
fi
python3 - "$work/fallback.png" <<'EOF'
import struct, sys, zlib
def chunk(t, d):
    return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
raw = b"".join(b"\x00" + b"\xff\x00\x00" * 40 for _ in range(30))
png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 40, 30, 8, 2, 0, 0, 0)) \
    + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
open(sys.argv[1], "wb").write(png)
EOF
base_png=$work/fallback.png

# ---------------------------------------------------------------- image add, per format
declare -A type_of=([jpg]=image/jpeg [png]=image/png [gif]=image/gif [webp]=image/webp)
added_ids=()
if [ $have_convert -eq 1 ]; then
    for ext in jpg png gif webp; do
        # a misleading name: the type must come from the bytes, the key never from the name
        src="$work/holiday photo ($ext).bin"
        convert -size 40x30 gradient:red-blue "$ext:$src" 2>/dev/null || { not_ok "convert made no $ext file"; continue; }
        id=$("$bin" image add "$src" --name "Format $ext" --tagline "made by convert" 2>"$work/add.err")
        rc=$?
        check "image add of a $ext file exits 0 and prints the new id ($id)" bash -c "test $rc -eq 0 && [[ '$id' =~ ^[0-9]+\$ ]]"
        [ $rc -eq 0 ] || { sed 's/^/# /' "$work/add.err"; continue; }
        added_ids+=("$id")
        IFS='|' read -r key ctype w h size tagline <<<"$(sql "SELECT object_key, content_type, width, height, byte_size, tagline FROM images WHERE id = $id")"
        check "$ext: the row has type ${type_of[$ext]}, 40x30, the file's size and the tagline" \
            test "$ctype|$w|$h|$size|$tagline" = "${type_of[$ext]}|40|30|$(stat -c %s "$src")|made by convert"
        check "$ext: the key is the prefix, 32 random hex digits and .$ext ($key)" \
            bash -c "[[ '$key' =~ ^${prefix}[0-9a-f]{32}\\.$ext\$ ]]"
        got=$(fetch "$key" "$work/fetched")
        check "$ext: the object is served with Content-Type ${type_of[$ext]} (got $got)" test "$got" = "200 ${type_of[$ext]}"
        check "$ext: the presigned URL returns the exact bytes uploaded" cmp -s "$src" "$work/fetched"
    done
else
    echo "# SKIP per-format uploads: ImageMagick's convert is not installed (apt-get install imagemagick)"
fi

# --- image list
id=$("$bin" image add "$base_png" --name "Listed – ünïcode" 2>"$work/add.err") || sed 's/^/# /' "$work/add.err"
"$bin" image list >"$work/list.out" 2>"$work/list.err"
rc=$?
check "image list exits 0 with a header" bash -c "test $rc -eq 0 && head -1 '$work/list.out' | grep -q '^ID .*UPLOADED .*SIZE .*BYTES .*NAME'"
check "image list shows the new image with its size and name" \
    grep -Eq "^$id +[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z +40x30 +$(stat -c %s "$base_png")  Listed – ünïcode\$" "$work/list.out"
n=$(($(wc -l <"$work/list.out") - 1))
check "image list has one line per row ($n)" test "$n" -eq "$(rows)"

# --- image rm
key=$(sql "SELECT object_key FROM images WHERE id = $id")
out=$("$bin" image rm "$id" 2>"$work/rm.err")
rc=$?
check "image rm exits 0 and says so" bash -c "test $rc -eq 0 && test '$out' = 'removed image $id'"
check "image rm removed the row" test "$(sql "SELECT count(*) FROM images WHERE id = $id")" -eq 0
got=$(fetch "$key" "$work/fetched")
check "image rm removed the object (GET answers ${got%% *})" test "${got%% *}" = 404
check "image rm left no pending deletion" test "$(sql "SELECT count(*) FROM object_deletions")" -eq 0
check "image rm of an unknown id exits 1" bash -c "'$bin' image rm 999999 2>'$work/e' ; test \$? -eq 1 && grep -q 'no image with id 999999' '$work/e'"
check "image rm abc exits 2" bash -c "'$bin' image rm abc 2>/dev/null; test \$? -eq 2"
check "image with no subcommand exits 2" bash -c "'$bin' image 2>/dev/null; test \$? -eq 2"

# ---------------------------------------------------------------- refusals
# refused NAME EXPECTED_RC STDERR_PATTERN ARGS...: no row may appear (objects are checked after the lot)
refused() {
    local what=$1 want=$2 pattern=$3
    shift 3
    local rows_before rc
    rows_before=$(rows)
    "$bin" image add "$@" >"$work/ref.out" 2>"$work/ref.err"
    rc=$?
    # a failure is one line on stderr; a usage error adds the usage
    if [ $rc -eq "$want" ] && { [ "$want" -ne 1 ] || [ "$(wc -l <"$work/ref.err")" -eq 1 ]; } &&
        grep -q -- "$pattern" "$work/ref.err" && [ "$(rows)" -eq "$rows_before" ]; then
        ok "$what (exit $rc: $(head -1 "$work/ref.err"))"
    else
        not_ok "$what (exit $rc, want $want and '$pattern')"
        sed 's/^/# /' "$work/ref.err"
    fi
}
keys_before_refusals=$(s3_keys)
cat >"$work/drawing.svg" <<'EOF'
<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><script>alert(1)</script></svg>
EOF
printf '<!DOCTYPE html>\n<html><body><img src=x onerror=alert(1)></body></html>\n' >"$work/page.jpg"
head -c $(($(stat -c %s "$base_png") / 2)) "$base_png" >"$work/truncated.png"
printf 'plain text\n' >"$work/notes.png"
: >"$work/empty.jpg"
refused "an SVG is refused" 1 "looks like SVG" "$work/drawing.svg" --name svg
refused "HTML named .jpg is refused" 1 "looks like HTML" "$work/page.jpg" --name html
refused "a truncated PNG is refused" 1 "PNG file is cut short" "$work/truncated.png" --name cut
refused "text named .png is refused" 1 "looks like text" "$work/notes.png" --name text
refused "an empty file is refused" 1 "empty" "$work/empty.jpg" --name empty
refused "a missing file is refused" 1 "cannot open" "$work/nope.png" --name missing
refused "a directory is refused" 1 "not a regular file" "$work" --name dir
# a valid image padded to 2 MB: only the size limit can refuse it
cp "$base_png" "$work/big.png"
head -c $((2 * 1024 * 1024)) /dev/zero >>"$work/big.png"
IOTD_MAX_UPLOAD_MB=1 refused "a 2 MB image over IOTD_MAX_UPLOAD_MB=1 is refused" 1 "larger than the upload limit of 1 MB" \
    "$work/big.png" --name big
long=$(printf 'n%.0s' {1..201})
refused "a 201-character name is refused with exit 2" 2 "1 to 200 characters (got 201)" "$base_png" --name "$long"
refused "a 501-character tagline is refused with exit 2" 2 "0 to 500 characters (got 501)" "$base_png" --name t \
    --tagline "$(printf 't%.0s' {1..501})"
refused "a name with a control character is refused" 2 "without control characters" "$base_png" --name "$(printf 'a\tb')"
refused "a missing --name is a usage error" 2 "name is required" "$base_png"
refused "an unknown option is a usage error" 2 "unknown option" "$base_png" --name x --colour red
check "no refused upload left an object in the bucket" test "$(s3_keys)" = "$keys_before_refusals"
id=$("$bin" image add "$base_png" --name "$(printf 'é%.0s' {1..200})" 2>"$work/add.err")
check "a name of 200 two-byte characters is accepted (limits count characters)" bash -c "[[ '$id' =~ ^[0-9]+\$ ]]"
[ -n "$id" ] && "$bin" image rm "$id" >/dev/null 2>&1

# ---------------------------------------------------------------- failures between the two stores
# S3 stopped before an add: a clear error, no row, no object once S3 is back.
rows_before=$(rows)
keys_before=$(s3_keys)
s3_was_stopped=1
"$IOTD_DEV" s3-stop >/dev/null 2>&1
"$bin" image add "$base_png" --name "while S3 is down" >"$work/down.out" 2>"$work/down.err"
rc=$?
"$IOTD_DEV" s3-start >/dev/null 2>&1 && s3_was_stopped=0
check "image add with S3 stopped exits 1 with one clear line ($(cat "$work/down.err"))" \
    bash -c "test $rc -eq 1 && test \$(wc -l <'$work/down.err') -eq 1 && grep -q 'uploading to S3 failed' '$work/down.err'"
check "no row was added while S3 was down" test "$(rows)" -eq "$rows_before"
check "no object was left behind once S3 is back" test "$(s3_keys)" = "$keys_before"

# The database refuses the row after the PUT (a CHECK that only the database has): the object goes.
sql "ALTER TABLE images ADD CONSTRAINT check_image_cli_refuse CHECK (name <> 'refused by the database') NOT VALID"
rows_before=$(rows)
keys_before=$(s3_keys)
"$bin" image add "$base_png" --name "refused by the database" >"$work/dbfail.out" 2>"$work/dbfail.err"
rc=$?
check "image add refused by the database exits 1 and says the object was deleted ($(cat "$work/dbfail.err"))" \
    bash -c "test $rc -eq 1 && grep -q 'uploaded object was deleted again' '$work/dbfail.err'"
check "no row after the database refused it" test "$(rows)" -eq "$rows_before"
check "no orphan after the database refused the row" test "$(s3_keys)" = "$keys_before"
sql "ALTER TABLE images DROP CONSTRAINT check_image_cli_refuse"

# S3 stopped during a remove: the row goes, the deletion is recorded, gc finishes it.
id=$("$bin" image add "$base_png" --name "removed while S3 is down" 2>"$work/add.err")
key=$(sql "SELECT object_key FROM images WHERE id = $id")
s3_was_stopped=1
"$IOTD_DEV" s3-stop >/dev/null 2>&1
"$bin" image rm "$id" >"$work/rmdown.out" 2>"$work/rmdown.err"
rc=$?
"$IOTD_DEV" s3-start >/dev/null 2>&1 && s3_was_stopped=0
check "image rm with S3 stopped removes the row and warns that gc will retry" \
    bash -c "test $rc -eq 0 && grep -q 'iotd gc will retry' '$work/rmdown.err' && test \$(psql -X -tA -c 'SELECT count(*) FROM images WHERE id = $id') -eq 0"
check "the failed deletion is recorded with one attempt and its error" \
    test "$(sql "SELECT attempts, last_error LIKE '%Unreachable%' FROM object_deletions WHERE object_key = '$key'")" = "1|t"
got=$(fetch "$key" "$work/fetched")
check "the object is still there until gc runs (${got%% *})" test "${got%% *}" = 200

# ---------------------------------------------------------------- gc
orphan="${prefix}planted-orphan.png"
s3_put "$orphan" "$base_png" image/png
missing_key="${prefix}planted-missing.png"
missing_id=$(sql "INSERT INTO images (name, object_key, content_type, byte_size, width, height) VALUES ('planted missing', '$missing_key', 'image/png', 10, 1, 1) RETURNING id")

"$bin" gc >"$work/gc.out" 2>"$work/gc.err"
rc=$?
check "gc exits 0" test $rc -eq 0
[ $rc -eq 0 ] || sed 's/^/# /' "$work/gc.err" "$work/gc.out"
# the original and its two renditions
check "gc retried the recorded deletions" grep -q '^recorded deletions: 3 retried, 3 done, 0 still failing$' "$work/gc.out"
got=$(fetch "$key" "$work/fetched")
check "the recorded object is now gone (${got%% *}) and so is its record" \
    bash -c "test '${got%% *}' = 404 && test \$(psql -X -tA -c 'SELECT count(*) FROM object_deletions') -eq 0"
check "gc reports the planted orphan and keeps it without --delete" \
    grep -q "^  unreferenced: $orphan ([0-9]* bytes, [0-9]* s old): kept$" "$work/gc.out"
check "gc reports the row whose object is missing" grep -q "^  missing: image $missing_id, object $missing_key$" "$work/gc.out"
check "gc reports no other missing rows" grep -q '^rows whose object is missing: 1$' "$work/gc.out"

"$bin" gc --json >"$work/gc.json" 2>"$work/gc.err"
rc=$?
summary=$(python3 - "$work/gc.json" "$orphan" "$missing_id" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
orphans = {o["key"]: o["action"] for o in r["orphans"]}
print(orphans.get(sys.argv[2]), len(orphans), [m["id"] for m in r["missing"]] == [int(sys.argv[3])],
      r["referenced"] + len(orphans) == r["objects"], r["errors"] == [], r["delete"])
EOF
)
check "gc --json is valid JSON listing the orphan (kept) and the missing row ($summary)" \
    test "$summary" = "kept 1 True True True False"

"$bin" gc --delete --json >"$work/gc.json" 2>"$work/gc.err"
action=$(python3 -c "import json,sys; r=json.load(open(sys.argv[1])); print([o['action'] for o in r['orphans'] if o['key']==sys.argv[2]])" "$work/gc.json" "$orphan")
check "gc --delete spares an orphan younger than 24 hours ($action)" test "$action" = "['too young']"
check "the young orphan is still in the bucket" bash -c "s3_keys() { '$PYTHON' '$boto' list '$IOTD_S3_BUCKET' '$prefix'; }; s3_keys | grep -qx '$orphan'"

"$bin" gc --delete --min-age 0 >"$work/gc.out" 2>"$work/gc.err"
rc=$?
check "gc --delete --min-age 0 deletes the orphan" \
    bash -c "test $rc -eq 0 && grep -q '^  unreferenced: $orphan .*: deleted$' '$work/gc.out'"
check "the orphan is gone from the bucket" bash -c "! ( '$PYTHON' '$boto' list '$IOTD_S3_BUCKET' '$prefix' | grep -qx '$orphan' )"
ok_images=1
for id in "${added_ids[@]}"; do
    k=$(sql "SELECT object_key FROM images WHERE id = $id")
    [ "$(fetch "$k" "$work/fetched" | cut -d' ' -f1)" = 200 ] || ok_images=0
done
check "gc --delete left every referenced object in place" test $ok_images -eq 1
check "gc --delete does not touch rows (the missing one stays reported)" \
    bash -c "'$bin' gc | grep -q '^rows whose object is missing: 1$'"
check "gc --min-age -1 exits 2" bash -c "'$bin' gc --min-age -1 2>/dev/null; test \$? -eq 2"
check "gc --bogus exits 2" bash -c "'$bin' gc --bogus 2>/dev/null; test \$? -eq 2"

for id in "${added_ids[@]}"; do "$bin" image rm "$id" >/dev/null 2>&1; done
sql "DELETE FROM images WHERE id = $missing_id"
check "after removing everything the prefix is empty" test -z "$(s3_keys)"

check "no output of any command contains the secret access key" \
    bash -c "! grep -rqF -- \"\$AWS_SECRET_ACCESS_KEY\" '$work'"

finish
