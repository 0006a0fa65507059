#!/usr/bin/env bash
# check_renditions_stack.sh — renditions end to end: iotd image add, rm,
# rebuild and gc against the local stack started by ./dev check.
#
# A 3000x2000 JPEG carrying EXIF orientation 6, a camera make and a GPS
# position (the EXIF block is written here, so its bytes are known) and a
# PNG with transparency are added; each must become three objects whose
# types, sizes and metadata are checked through presigned URLs. rm must
# remove all three; rebuild must put new renditions under fresh keys and
# delete the old ones, report one line per image and go on past a failure;
# a PNG that libvips cannot decode, a pixel bomb, and a row the database
# refuses after the three PUTs must all leave nothing stored. Uses a
# scratch database and its own key prefix; exits 77 without the stack.
set -uo pipefail

bin=${IOTD_BIN:-${IOTD_BUILDDIR:-.}/iotd}
srcdir=${IOTD_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
boto="$srcdir/tests/s3-verify/botocore_client.py"
readonly PYTHON=/usr/bin/python3
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

if [ -z "${PGHOST:-}" ] || [ -z "${IOTD_S3_ENDPOINT:-}" ] || [ -z "${IOTD_S3_BUCKET:-}" ]; then
    echo "# SKIP: no local stack (PGHOST, IOTD_S3_ENDPOINT, IOTD_S3_BUCKET unset; run ./dev check)"
    exit 77
fi
if ! "$PYTHON" -c 'import botocore' 2>/dev/null || ! command -v convert >/dev/null || ! command -v identify >/dev/null; then
    echo "# SKIP: python3-botocore and ImageMagick (convert, identify) are needed"
    exit 77
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/check_renditions_stack.XXXXXX")
db=iotd_renditions_$$
psql -q -d postgres -c "CREATE DATABASE $db" >/dev/null || { not_ok "create scratch database"; finish; }
cleanup() {
    psql -q -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1
    rm -rf "$work"
}
trap cleanup EXIT
export PGDATABASE=$db
export IOTD_MIGRATIONS_DIR=${IOTD_MIGRATIONS_DIR:-$srcdir/db/migrations}
export IOTD_S3_PREFIX="check-renditions-$$-$RANDOM/"
prefix=$IOTD_S3_PREFIX
"$bin" migrate >"$work/migrate.out" 2>&1 || { not_ok "migrate the scratch database"; cat "$work/migrate.out"; finish; }

export S3_ENDPOINT=$IOTD_S3_ENDPOINT S3_ACCESS_KEY=$AWS_ACCESS_KEY_ID S3_SECRET=$AWS_SECRET_ACCESS_KEY \
    S3_REGION=${AWS_REGION:-us-east-1}
s3_keys() { "$PYTHON" "$boto" list "$IOTD_S3_BUCKET" "$prefix" 2>/dev/null | sort; }
s3_count() { s3_keys | grep -c . ; }
s3_delete() { "$PYTHON" "$boto" delete "$IOTD_S3_BUCKET" "$1" >/dev/null; }
sql() { psql -X -q -tA -c "$1"; }
# fetch KEY OUT: the object through a presigned URL; prints "STATUS CONTENT-TYPE"
fetch() { curl -s -o "$2" -w '%{http_code} %{content_type}' "$("$bin" presign "$1" --expires 300)"; }
dims() { identify -format '%wx%h' "$1[0]" 2>/dev/null; }
# no EXIF, GPS, XMP or ICC in a file, by its bytes
no_metadata() {
    "$PYTHON" - "$1" <<'EOF'
import sys
b = open(sys.argv[1], "rb").read()
bad = [m for m in (b"Exif", b"IotdTestCamera", b"http://ns.adobe.com/xap", b"ICC_PROFILE", b"iCCP", b"eXIf")
       if m in b]
sys.exit(1 if bad else 0)
EOF
}

# --- test images
# stored 3000x2000 (red top, blue bottom) + EXIF: Orientation 6, Make, GPSLatitude
convert -size 3000x1000 xc:red -size 3000x1000 xc:blue -append -strip -quality 85 "$work/plain.jpg"
"$PYTHON" - "$work/plain.jpg" "$work/rotated.jpg" <<'EOF'
import struct, sys
be = lambda fmt, *v: struct.pack(">" + fmt, *v)
make = b"IotdTestCamera\0"
ifd0, ifd0_len = 8, 2 + 3 * 12 + 4
make_at = ifd0 + ifd0_len
gps_at = make_at + len(make) + (len(make) & 1)
lat_at = gps_at + 2 + 2 * 12 + 4
tiff = b"MM\0\x2a" + be("I", ifd0) + be("H", 3)
tiff += be("HHII", 0x010F, 2, len(make), make_at)          # Make
tiff += be("HHIHH", 0x0112, 3, 1, 6, 0)                    # Orientation = 6
tiff += be("HHII", 0x8825, 4, 1, gps_at) + be("I", 0)      # GPS IFD
tiff += make + b"\0" * (len(make) & 1)
tiff += be("H", 2) + be("HHI", 0x0001, 2, 2) + b"N\0\0\0" + be("HHII", 0x0002, 5, 3, lat_at) + be("I", 0)
tiff += be("IIIIII", 48, 1, 51, 1, 2986, 100)
app1 = b"\xff\xe1" + be("H", 2 + 6 + len(tiff)) + b"Exif\0\0" + tiff
src = open(sys.argv[1], "rb").read()
open(sys.argv[2], "wb").write(src[:2] + app1 + src[2:])
EOF
convert -size 900x600 xc:none -fill red -draw 'circle 450,300 450,100' "$work/alpha.png"
# a PNG whose chunks are whole (so the upload check passes) but whose pixel data is not zlib
"$PYTHON" - "$work/corrupt.png" "$work/bomb.png" <<'EOF'
import struct, sys, zlib
def chunk(t, d):
    return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
def png(w, h, idat):
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) \
        + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
open(sys.argv[1], "wb").write(png(64, 48, bytes((i * 37 + 11) & 255 for i in range(256))))
open(sys.argv[2], "wb").write(png(20000, 10000, zlib.compress(bytes(4096))))
EOF
check "the fixture carries EXIF orientation 6" bash -c "identify -format '%[EXIF:Orientation]' '$work/rotated.jpg' | grep -qx 6"

# ---------------------------------------------------------------- image add
id=$("$bin" image add "$work/rotated.jpg" --name "Rotated" 2>"$work/add.err")
rc=$?
check "image add of the rotated JPEG exits 0 ($id)" bash -c "test $rc -eq 0 && [[ '$id' =~ ^[0-9]+\$ ]]"
[ $rc -eq 0 ] || { sed 's/^/# /' "$work/add.err"; finish; }
IFS='|' read -r key tkey tw th dkey dw dh <<<"$(sql "SELECT object_key, thumb_key, thumb_width, thumb_height, display_key, display_width, display_height FROM images WHERE id = $id")"
stem=${key%.jpg}
check "the row records the thumbnail 267x400 and the display copy 1707x2560 (upright)" \
    test "$tw x $th / $dw x $dh" = "267 x 400 / 1707 x 2560"
check "rendition keys sit beside the original ($tkey, $dkey)" \
    bash -c "[[ '$tkey' =~ ^${stem}\\.thumb-[0-9a-f]{12}\\.jpg\$ && '$dkey' =~ ^${stem}\\.display-[0-9a-f]{12}\\.jpg\$ ]]"
check "the bucket holds exactly three objects" test "$(s3_count)" -eq 3
got=$(fetch "$key" "$work/orig")
check "the original is served unchanged as image/jpeg ($got)" bash -c "test '$got' = '200 image/jpeg' && cmp -s '$work/rotated.jpg' '$work/orig'"
got=$(fetch "$tkey" "$work/thumb.jpg")
check "the thumbnail is image/jpeg, 267x400 ($got, $(dims "$work/thumb.jpg"))" \
    test "$got $(dims "$work/thumb.jpg")" = "200 image/jpeg 267x400"
got=$(fetch "$dkey" "$work/display.jpg")
check "the display copy is image/jpeg, 1707x2560 ($got, $(dims "$work/display.jpg"))" \
    test "$got $(dims "$work/display.jpg")" = "200 image/jpeg 1707x2560"
check "no EXIF, GPS, XMP or ICC in the thumbnail" no_metadata "$work/thumb.jpg"
check "no EXIF, GPS, XMP or ICC in the display copy" no_metadata "$work/display.jpg"
check "the original keeps its EXIF (only renditions are stripped)" grep -qa IotdTestCamera "$work/orig"
# upright: the stored top (red) is on the viewer's right
right=$(convert "$work/thumb.jpg" -crop 1x1+240+200 -depth 8 txt:- | grep -o '#[0-9A-F]\{6\}')
left=$(convert "$work/thumb.jpg" -crop 1x1+20+200 -depth 8 txt:- | grep -o '#[0-9A-F]\{6\}')
check "the thumbnail is turned by the orientation: red right ($right), blue left ($left)" \
    bash -c "[[ '$right' =~ ^#[E-F][0-9A-F]{5}\$ && '$left' =~ ^#[0-3][0-9A-F]{3}[C-F][0-9A-F]\$ ]]"

aid=$("$bin" image add "$work/alpha.png" --name "Transparent" 2>"$work/add.err") || sed 's/^/# /' "$work/add.err"
IFS='|' read -r akey atkey adkey <<<"$(sql "SELECT object_key, thumb_key, display_key FROM images WHERE id = ${aid:-0}")"
got=$(fetch "$atkey" "$work/athumb.png")
check "a PNG with transparency gets PNG renditions, 400x267, alpha kept ($got)" \
    bash -c "test '$got $(dims "$work/athumb.png")' = '200 image/png 400x267' && identify -format '%A' '$work/athumb.png' | grep -qiE 'true|blend'"
check "now six objects" test "$(s3_count)" -eq 6

# ---------------------------------------------------------------- refusals leave nothing
refused() { # refused WHAT FILE PATTERN
    local before rows_before rc
    before=$(s3_keys)
    rows_before=$(sql "SELECT count(*) FROM images")
    "$bin" image add "$2" --name "$1" >"$work/ref.out" 2>"$work/ref.err"
    rc=$?
    if [ $rc -eq 1 ] && [ "$(wc -l <"$work/ref.err")" -eq 1 ] && grep -q -- "$3" "$work/ref.err" &&
        [ "$(s3_keys)" = "$before" ] && [ "$(sql "SELECT count(*) FROM images")" -eq "$rows_before" ]; then
        ok "$1 is refused with nothing stored ($(cat "$work/ref.err"))"
    else
        not_ok "$1 (exit $rc, want 1, one line with '$3', no new object or row)"
        sed 's/^/# /' "$work/ref.err"
    fi
}
refused "a PNG whose pixel data is not zlib" "$work/corrupt.png" "could not be read"
refused "a 200-megapixel PNG" "$work/bomb.png" "at most 100 megapixels"

# the database refuses the row after all three PUTs: all three go again
sql "ALTER TABLE images ADD CONSTRAINT check_renditions_refuse CHECK (name <> 'refused by the database') NOT VALID"
before=$(s3_keys)
"$bin" image add "$work/rotated.jpg" --name "refused by the database" >/dev/null 2>"$work/dbfail.err"
rc=$?
check "a row refused after the PUTs: exit 1, and none of the three objects stays" \
    bash -c "test $rc -eq 1 && grep -q 'deleted again' '$work/dbfail.err' && test \"\$(cat)\" = '$before'" <<<"$(s3_keys)"
sql "ALTER TABLE images DROP CONSTRAINT check_renditions_refuse"

# ---------------------------------------------------------------- rebuild
"$bin" image rebuild "$id" >"$work/rebuild.out" 2>"$work/rebuild.err"
rc=$?
IFS='|' read -r tkey2 dkey2 tw2 th2 <<<"$(sql "SELECT thumb_key, display_key, thumb_width, thumb_height FROM images WHERE id = $id")"
check "image rebuild ID exits 0 with one line naming the new renditions" \
    bash -c "test $rc -eq 0 && test \$(wc -l <'$work/rebuild.out') -eq 1 && grep -qx 'image $id: thumb 267x400 $tkey2, display 1707x2560 $dkey2' '$work/rebuild.out'"
check "the renditions have fresh keys" bash -c "test '$tkey2' != '$tkey' && test '$dkey2' != '$dkey' && test '${tw2}x$th2' = '267x400'"
old_codes="$(fetch "$tkey" "$work/x" | cut -d' ' -f1) $(fetch "$dkey" "$work/x" | cut -d' ' -f1)"
check "the old renditions are deleted (GET answers $old_codes)" test "$old_codes" = "404 404"
check "the new renditions are served" test "$(fetch "$tkey2" "$work/t2" | cut -d' ' -f1)$(fetch "$dkey2" "$work/d2" | cut -d' ' -f1)" = 200200
check "still six objects, and no deletion left pending" \
    bash -c "test $(s3_count) -eq 6 && test \$(psql -X -tA -c 'SELECT count(*) FROM object_deletions') -eq 0"

"$bin" image rebuild >"$work/all.out" 2>"$work/all.err"
rc=$?
check "image rebuild without ids rebuilds every image, one line each" \
    bash -c "test $rc -eq 0 && test \$(wc -l <'$work/all.out') -eq 2 && grep -q '^image $id: ' '$work/all.out' && grep -q '^image $aid: ' '$work/all.out'"

"$bin" image rebuild "$id" 999999 "$aid" >"$work/some.out" 2>"$work/some.err"
rc=$?
check "a missing id is reported, the others are rebuilt, and the exit status is 1" \
    bash -c "test $rc -eq 1 && test \$(wc -l <'$work/some.out') -eq 2 && grep -q 'image 999999: there is no image' '$work/some.err'"

# an original gone from the bucket: that image fails, its renditions stay as they were
IFS='|' read -r akey atkey <<<"$(sql "SELECT object_key, thumb_key FROM images WHERE id = $aid")"
s3_delete "$akey"
"$bin" image rebuild "$aid" >"$work/gone.out" 2>"$work/gone.err"
rc=$?
check "rebuild of an image whose original is missing exits 1 and says so ($(cat "$work/gone.err"))" \
    bash -c "test $rc -eq 1 && grep -q 'is missing' '$work/gone.err' && test ! -s '$work/gone.out'"
check "its row still points at the previous renditions" test "$(sql "SELECT thumb_key FROM images WHERE id = $aid")" = "$atkey"
"$bin" gc >"$work/gc.out" 2>&1
check "gc counts renditions as referenced and reports the missing original only" \
    bash -c "grep -q ', 0 unreferenced\$' '$work/gc.out' && grep -q '^rows whose object is missing: 1\$' '$work/gc.out' && grep -q '^  missing: image $aid, object $akey\$' '$work/gc.out'"
check "image rebuild abc exits 2" bash -c "'$bin' image rebuild abc 2>/dev/null; test \$? -eq 2"

# ---------------------------------------------------------------- image rm
"$bin" image rm "$id" >"$work/rm.out" 2>"$work/rm.err"
rc=$?
codes=$(for k in "$key" "$tkey2" "$dkey2"; do fetch "$k" "$work/x" | cut -d' ' -f1; done | tr '\n' ' ')
check "image rm removes the original and both renditions ($codes)" \
    bash -c "test $rc -eq 0 && test '$codes' = '404 404 404 '"
"$bin" image rm "$aid" >/dev/null 2>&1
check "after removing everything the prefix is empty and nothing is pending" \
    bash -c "test -z '$(s3_keys)' && test \$(psql -X -tA -c 'SELECT count(*) FROM object_deletions') -eq 0"

finish
