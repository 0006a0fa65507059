#!/usr/bin/env bash
# check_browser.sh — the admin pages in a real browser (tests/browser/admin.test.js).
#
# Needs the stack started by ./dev check (IOTD_BASE_URL, IOTD_BIN, PG*,
# IOTD_S3_ENDPOINT), Debian's chromium, node with playwright-core in
# node_modules, and ImageMagick; skips (exit 77) when any is missing. Creates
# a throwaway editor account and a JPEG for the upload, runs the browser
# flow, then removes the account (and the image, should the flow stop before
# deleting it). Screenshots: $IOTD_BUILDDIR/tests/out/screenshots/*.png.
# Prints TAP-style lines.
set -uo pipefail

srcdir=${IOTD_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
builddir=${IOTD_BUILDDIR:-.}
chromium=${IOTD_CHROMIUM:-/usr/bin/chromium}

skip() { echo "# SKIP: $*"; exit 77; }
for v in IOTD_BASE_URL IOTD_BIN IOTD_S3_ENDPOINT PGHOST PGPORT PGDATABASE; do
    [ -n "${!v:-}" ] || skip "$v is unset: the browser test needs the local stack (run ./dev check)"
done
[ -x "$chromium" ] || skip "no chromium at $chromium (Debian package chromium; ./dev installs it)"
command -v node >/dev/null || skip "node is missing"
[ -d "$srcdir/node_modules/playwright-core" ] || skip "playwright-core is not installed in $srcdir/node_modules (npm ci)"
command -v convert >/dev/null || skip "ImageMagick's convert is missing"
curl -fsS -o /dev/null "$IOTD_BASE_URL/healthz" || skip "nothing answers at $IOTD_BASE_URL"

# playwright-core must never fetch a browser of its own.
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 PLAYWRIGHT_BROWSERS_PATH=/nonexistent

work=$(mktemp -d "${TMPDIR:-/tmp}/check_browser.XXXXXX")
user=browser-$$
shots=$builddir/tests/out/screenshots
created_user=0
tag=$$-$(head -c 4 /dev/urandom | od -An -tx1 | tr -d ' \n') # in the names of the images the flow adds
cleanup() {
    # The flow deletes its image; if it stopped before that, remove it here.
    local id
    for id in $("$IOTD_BIN" image list 2>/dev/null | awk -v t="Browser test $tag " 'index($0, t) { print $1 }'); do
        "$IOTD_BIN" image rm "$id" >/dev/null 2>&1 && echo "# removed the image $id left behind"
    done
    [ $created_user -eq 1 ] && "$IOTD_BIN" user rm "$user" >/dev/null 2>&1
    rm -rf "$work"
}
trap cleanup EXIT

pw=$(head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n')
if ! printf '%s\n' "$pw" | "$IOTD_BIN" user add "$user" >"$work/user.log" 2>&1; then
    echo "not ok - create the editor account $user"
    sed 's/^/#   /' "$work/user.log"
    exit 1
fi
created_user=1

# An image of a size no other suite uses, so the home page's image is surely ours.
width=$((1200 + $$ % 300)) height=$((700 + $$ % 200))
image=$work/upload.jpg
if ! convert -size "${width}x${height}" gradient:'#1d3b6e-#f2a65a' \
    -fill '#ffffff' -draw "circle $((width * 3 / 4)),$((height / 3)) $((width * 3 / 4 + 60)),$((height / 3))" \
    -quality 85 "$image" 2>"$work/convert.log"; then
    echo "not ok - make the test image with ImageMagick"
    sed 's/^/#   /' "$work/convert.log"
    exit 1
fi

mkdir -p "$shots"
rm -f "$shots"/*.png
IOTD_BROWSER_USER=$user IOTD_BROWSER_PASSWORD=$pw IOTD_BROWSER_TAG=$tag IOTD_BROWSER_IMAGE=$image \
    IOTD_BROWSER_IMAGE_WIDTH=$width IOTD_BROWSER_IMAGE_HEIGHT=$height \
    IOTD_SCREENSHOT_DIR=$shots IOTD_CHROMIUM=$chromium IOTD_SRCDIR=$srcdir \
    node "$srcdir/tests/browser/admin.test.js" 2>"$work/node.err"
rc=$?
if [ -s "$work/node.err" ]; then
    echo "# node's standard error:"
    tail -20 "$work/node.err" | sed 's/^/#   /'
fi
exit "$rc"
