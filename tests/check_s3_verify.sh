#!/usr/bin/env bash
# check_s3_verify.sh — the local S3 refuses what AWS would refuse.
#
# Starts tools/s3-server in a temporary directory on free ports and drives it
# with two independent SigV4 signers: curl's --aws-sigv4 and Debian's
# python3-botocore (presigned URLs and a real SDK client). Each case prints
# "ok - ..." or "not ok - ..."; the exit status is non-zero when one fails,
# 77 (skip) when node, curl, botocore or the npm packages are missing.
set -uo pipefail

srcdir=${IOTD_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
server="$srcdir/tools/s3-server"
boto="$srcdir/tests/s3-verify/botocore_client.py"
readonly PYTHON=/usr/bin/python3 # python3-botocore is only importable here
readonly EMPTY_SHA256=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
readonly BUCKET=iotd-verify
readonly KEY_ID=AKIDLOCALTEST
readonly SECRET=local-secret/with+odd=chars
readonly REGION=us-east-1

skip() {
	echo "SKIP: $*"
	exit 77
}
command -v node >/dev/null || skip "node is not installed"
command -v curl >/dev/null || skip "curl is not installed"
curl --help all 2>/dev/null | grep -q -- --aws-sigv4 || skip "curl lacks --aws-sigv4 (needs >= 7.75)"
if ! [[ -x "$PYTHON" ]] || ! "$PYTHON" -c 'import botocore' 2>/dev/null; then
	skip "python3-botocore is not installed for $PYTHON (apt-get install python3-botocore)"
fi
for pkg in s3rver aws4; do
	[[ -d "$srcdir/node_modules/$pkg" ]] || skip "npm package $pkg is missing in $srcdir/node_modules (run npm ci)"
done

work=$(mktemp -d "${TMPDIR:-/tmp}/check_s3_verify.XXXXXX")
failures=0
count=0

ok() {
	count=$((count + 1))
	echo "ok - $*"
}
not_ok() {
	count=$((count + 1))
	failures=$((failures + 1))
	echo "not ok - $*"
}
# check DESCRIPTION COMMAND...: ok when the command succeeds; its output is
# shown (as comments) only when it fails.
check() {
	local what="$1"
	shift
	if "$@" >"$work/check.out" 2>&1; then
		ok "$what"
	else
		not_ok "$what"
		sed 's/^/# /' "$work/check.out"
	fi
}

cleanup() {
	"$server" stop "$work/var" >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP PIPE

# Two consecutive free ports: the proxy's and s3rver's.
port=$("$PYTHON" - <<'EOF'
import random, socket
def free(p):
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p))
        return True
    except OSError:
        return False
    finally:
        s.close()
for _ in range(200):
    p = random.randrange(20000, 60000)
    if free(p) and free(p + 1):
        print(p)
        break
EOF
)
[[ -n "$port" ]] || {
	echo "not ok - no free port pair found"
	exit 1
}
endpoint="http://127.0.0.1:$port"
log="$work/var/log/s3-verify.log"
export S3_ENDPOINT="$endpoint" S3_ACCESS_KEY="$KEY_ID" S3_SECRET="$SECRET" S3_REGION="$REGION"

# --- helpers ---------------------------------------------------------------

# s3curl SECRET METHOD PATH OUT [curl args...]: signed with curl's own SigV4;
# prints "STATUS CONTENT_TYPE". Without a body the payload hash is the empty one.
s3curl() {
	local secret="$1" method="$2" path="$3" out="$4"
	shift 4
	local sha="$EMPTY_SHA256" args=()
	if [[ $# -ge 1 && "$1" == --file ]]; then
		sha=$(sha256sum "$2" | cut -d' ' -f1)
		args=(--data-binary "@$2")
		shift 2
	fi
	if [[ $# -ge 1 && "$1" == --sha ]]; then
		sha="$2"
		shift 2
	fi
	curl -s -o "$out" -w '%{http_code} %{content_type}' -X "$method" \
		--aws-sigv4 "aws:amz:$REGION:s3" --user "$KEY_ID:$secret" \
		-H "x-amz-content-sha256: $sha" "${args[@]}" "$@" "$endpoint$path"
}

# error_code FILE: the <Code> of an S3 XML error body.
error_code() {
	sed -n 's:.*<Code>\([^<]*\)</Code>.*:\1:p' "$1"
}

# expect_error WHAT STATUS CODE FILE GOT
expect_error() {
	local what="$1" status="$2" code="$3" file="$4" got="$5"
	if [[ "${got%% *}" == "$status" && "$(error_code "$file")" == "$code" ]]; then
		ok "$what ($status $code)"
	else
		not_ok "$what: expected $status $code, got '${got%% *}' '$(error_code "$file")'"
		head -c 600 "$file" | tr -c '[:print:]\n' '?' | sed 's/^/# /'
		echo
	fi
}

presign() {
	"$PYTHON" "$boto" presign "$@"
}

# --- start ------------------------------------------------------------------

if "$server" start "$work/var" "$port" "$BUCKET" "$KEY_ID" "$SECRET" >"$work/start.out" 2>&1; then
	ok "tools/s3-server start on port $port"
else
	not_ok "tools/s3-server start on port $port"
	sed 's/^/# /' "$work/start.out"
	exit 1
fi
check "start again is idempotent" "$server" start "$work/var" "$port" "$BUCKET" "$KEY_ID" "$SECRET"
check "status reports both processes" "$server" status "$work/var"

# --- header-signed requests (curl --aws-sigv4) ------------------------------

head -c 3145728 /dev/urandom >"$work/image.bin"
got=$(s3curl "$SECRET" PUT "/$BUCKET/photos/day-1.png" "$work/put.out" --file "$work/image.bin" -H "Content-Type: image/png")
check "PUT 3 MiB signed by curl is accepted (got $got)" test "${got%% *}" = 200
got=$(s3curl "$SECRET" GET "/$BUCKET/photos/day-1.png" "$work/get.out")
check "GET signed by curl returns 200 image/png (got $got)" test "$got" = "200 image/png"
check "GET returns the same bytes" cmp -s "$work/image.bin" "$work/get.out"

got=$(s3curl "wrong-$SECRET" GET "/$BUCKET/photos/day-1.png" "$work/err.out")
expect_error "wrong secret is refused" 403 SignatureDoesNotMatch "$work/err.out" "$got"
check "the expected canonical request is logged on a mismatch" \
	grep -q -- '----- expected canonical request -----' "$log"
check "the canonical request names the object path" grep -qx '/iotd-verify/photos/day-1.png' "$log"

got=$(curl -s -o "$work/err.out" -w '%{http_code}' "$endpoint/$BUCKET/photos/day-1.png")
expect_error "anonymous GET is refused" 403 AccessDenied "$work/err.out" "$got"
got=$(curl -s -o "$work/err.out" -w '%{http_code}' -X PUT --data-binary @"$work/image.bin" "$endpoint/$BUCKET/anon.png")
expect_error "anonymous PUT is refused" 403 AccessDenied "$work/err.out" "$got"
got=$(curl -s -o "$work/err.out" -w '%{http_code}' -X PUT --aws-sigv4 "aws:amz:$REGION:s3" \
	--user "AKIDUNKNOWN:$SECRET" -H "x-amz-content-sha256: $EMPTY_SHA256" "$endpoint/$BUCKET/x")
expect_error "unknown access key id is refused" 403 InvalidAccessKeyId "$work/err.out" "$got"

# The body is changed after hashing: the signature is right, the payload is not.
printf 'the bytes that were signed' >"$work/signed.txt"
printf 'the bytes that were sent!!' >"$work/sent.txt"
sha_signed=$(sha256sum "$work/signed.txt" | cut -d' ' -f1)
got=$(s3curl "$SECRET" PUT "/$BUCKET/corrupt.txt" "$work/err.out" --file "$work/sent.txt" --sha "$sha_signed")
expect_error "body not matching x-amz-content-sha256 is refused" 400 XAmzContentSHA256Mismatch "$work/err.out" "$got"
got=$(s3curl "$SECRET" HEAD "/$BUCKET/corrupt.txt" /dev/null --head)
check "the corrupted upload was not stored (HEAD $got)" test "${got%% *}" = 404

got=$(s3curl "$SECRET" GET "/$BUCKET/photos/day-1.png" "$work/err.out" --sha "$sha_signed")
expect_error "GET with a wrong empty-body hash is refused" 400 XAmzContentSHA256Mismatch "$work/err.out" "$got"

# Keys with space, +, %, ~ and UTF-8, percent-encoded once per segment.
printf 'special key body' >"$work/special.txt"
special_path="/$BUCKET/odd%20dir/a%20b%2Bc~d%25e%20%C3%A9t%C3%A9%20%E6%97%A5%E6%9C%AC.txt"
got=$(s3curl "$SECRET" PUT "$special_path" "$work/put.out" --file "$work/special.txt" -H "Content-Type: text/plain")
check "PUT key with space + % ~ and UTF-8 via curl (got $got)" test "${got%% *}" = 200
got=$(s3curl "$SECRET" GET "$special_path" "$work/get.out")
check "GET the special key via curl (got $got)" test "${got%% *}" = 200
check "special key bytes round-trip via curl" cmp -s "$work/special.txt" "$work/get.out"

# --- botocore: SDK client and presigned URLs ---------------------------------

utf8_key='odd dir/a b+c~d%e été 日本.txt'
check "botocore reads the key curl wrote" "$PYTHON" "$boto" get "$BUCKET" "$utf8_key" "$work/boto.out"
check "botocore sees the same bytes" cmp -s "$work/special.txt" "$work/boto.out"
boto_key='uploads/x+y z%20~ü/ß 🙂.jpg'
"$PYTHON" "$boto" put "$BUCKET" "$boto_key" "$work/image.bin" image/jpeg >"$work/boto.err" 2>&1
check "botocore put_object with special characters" test $? -eq 0
ctype=$("$PYTHON" "$boto" get "$BUCKET" "$boto_key" "$work/boto.out" 2>>"$work/boto.err")
check "botocore get_object returns image/jpeg (got $ctype)" test "$ctype" = image/jpeg
check "botocore round trip keeps the bytes" cmp -s "$work/image.bin" "$work/boto.out"
check "botocore list_objects_v2 finds the key" \
	bash -c '"$0" "$1" list "$2" uploads/ | grep -qxF "$3"' "$PYTHON" "$boto" "$BUCKET" "$boto_key"

url=$(presign GET "$BUCKET" "$boto_key" 300)
got=$(curl -s -o "$work/pre.out" -w '%{http_code} %{content_type}' "$url")
check "presigned GET (botocore) returns 200 image/jpeg (got $got)" test "$got" = "200 image/jpeg"
check "presigned GET returns the same bytes" cmp -s "$work/image.bin" "$work/pre.out"
url=$(presign GET "$BUCKET" "photos/day-1.png" 300 image/webp)
got=$(curl -s -o /dev/null -w '%{http_code} %{content_type}' "$url")
check "presigned GET with response-content-type (got $got)" test "$got" = "200 image/webp"
got=$(curl -s -o /dev/null -w '%{http_code} %{content_type}' --head "$(presign HEAD "$BUCKET" "photos/day-1.png" 300)")
check "presigned HEAD (got $got)" test "$got" = "200 image/png"

# Change one character of the signature (flip its last hex digit).
url=$(presign GET "$BUCKET" "photos/day-1.png" 300)
last=${url: -1}
[[ "$last" == 0 ]] && flip=1 || flip=0
got=$(curl -s -o "$work/err.out" -w '%{http_code}' "${url%?}$flip")
expect_error "presigned URL with one signature character changed is refused" 403 SignatureDoesNotMatch "$work/err.out" "$got"
got=$(curl -s -o "$work/err.out" -w '%{http_code}' "${url/day-1.png/day-2.png}")
expect_error "presigned URL pointed at another key is refused" 403 SignatureDoesNotMatch "$work/err.out" "$got"
got=$(curl -s -o "$work/err.out" -w '%{http_code}' "${url/X-Amz-Expires=300/X-Amz-Expires=600}")
expect_error "presigned URL with a longer expiry is refused" 403 SignatureDoesNotMatch "$work/err.out" "$got"
got=$(curl -s -o "$work/err.out" -w '%{http_code}' -X DELETE "$url")
expect_error "presigned GET URL used for DELETE is refused" 403 SignatureDoesNotMatch "$work/err.out" "$got"
other_url=$(S3_SECRET="wrong-$SECRET" presign GET "$BUCKET" "photos/day-1.png" 300)
got=$(curl -s -o "$work/err.out" -w '%{http_code}' "$other_url")
expect_error "presigned URL signed with a wrong secret is refused" 403 SignatureDoesNotMatch "$work/err.out" "$got"

url=$(presign GET "$BUCKET" "photos/day-1.png" 1)
sleep 2.2
got=$(curl -s -o "$work/err.out" -w '%{http_code}' "$url")
expect_error "expired presigned URL is refused" 403 AccessDenied "$work/err.out" "$got"
check "the expiry refusal says 'Request has expired'" grep -q 'Request has expired' "$work/err.out"

url=$(presign PUT "$BUCKET" "presigned-put.bin" 300)
got=$(curl -s -o /dev/null -w '%{http_code}' -X PUT --data-binary @"$work/special.txt" "$url")
check "presigned PUT (botocore) is accepted (got $got)" test "$got" = 200
got=$(s3curl "$SECRET" GET "/$BUCKET/presigned-put.bin" "$work/get.out")
check "presigned PUT stored the bytes" cmp -s "$work/special.txt" "$work/get.out"

# --- stop ---------------------------------------------------------------------

pids=$(cat "$work/var/run/"*.pid 2>/dev/null)
check "stop succeeds" "$server" stop "$work/var"
left=""
for pid in $pids; do
	kill -0 "$pid" 2>/dev/null && left="$left $pid"
done
check "no process is left after stop (pids: ${pids//$'\n'/ })" test -z "$left"
check "no pid file is left" bash -c '! ls "$0"/*.pid >/dev/null 2>&1' "$work/var/run"
check "nothing listens on port $port any more" bash -c '! curl -s -o /dev/null --max-time 2 "$0"' "$endpoint"
check "stop again is harmless" "$server" stop "$work/var"

if ((failures)); then
	echo "# $failures of $count checks failed; proxy log follows"
	sed 's/^/# /' "$log" 2>/dev/null | tail -n 60
	exit 1
fi
echo "# all $count checks passed"
