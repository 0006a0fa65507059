# tools/stack.sh — sourced by ./dev: the local stack's pieces (packages,
# PostgreSQL, S3, the pool, nginx), each started once, tracked by PID under
# var/run/, and stopped by PID.

# ---------------------------------------------------------------- settings
IOTD_DEV_HTTP_PORT=${IOTD_DEV_HTTP_PORT:-8080}
IOTD_DEV_FCGI_PORT=${IOTD_DEV_FCGI_PORT:-9000}
IOTD_DEV_ADMIN_PORT=${IOTD_DEV_ADMIN_PORT:-$((IOTD_DEV_FCGI_PORT + 10))}
IOTD_DEV_PG_PORT=${IOTD_DEV_PG_PORT:-5433}
IOTD_DEV_S3_PORT=${IOTD_DEV_S3_PORT:-4569}

VAR=${IOTD_DEV_VAR:-$ROOT/var}   # another folder lets a second stack run from the same checkout
RUN=$VAR/run
LOG=$VAR/log
BUILD=${IOTD_DEV_BUILD:-$ROOT/build}
PG_DATA=$VAR/pg
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
PG_USER=postgres            # initdb refuses root: the cluster runs as this user when we are root
S3_BUCKET=iotd-local
S3_ACCESS_KEY=iotd-local-key

DEBIAN_PACKAGES=(
    gcc make autoconf automake libtool pkg-config
    libfcgi-dev libpq-dev libcurl4-openssl-dev libxml2-dev libjson-c-dev check libssl-dev libvips-dev
    postgresql-15 nginx curl python3-botocore docker-compose imagemagick chromium wrk
    valgrind clang libclang-rt-14-dev
)

say() { printf 'dev: %s\n' "$*" >&2; }
die() { printf 'dev: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------- packages
missing_packages() {
    local p
    for p in "${DEBIAN_PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || echo "$p"
    done
    # node and npm may come from Debian or elsewhere: only their commands matter
    command -v node >/dev/null || echo nodejs
    command -v npm >/dev/null || echo npm
}

ensure_packages() {
    local missing
    missing=$(missing_packages | tr '\n' ' ')
    if [ -n "${missing// /}" ]; then
        if [ "$(id -u)" -ne 0 ]; then
            die "missing Debian packages: $missing— install them with: sudo apt-get install $missing"
        fi
        say "installing Debian packages: $missing"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq >"$LOG/apt.log" 2>&1 || { cat "$LOG/apt.log" >&2; die "apt-get update failed"; }
        # shellcheck disable=SC2086
        apt-get install -y -qq --no-install-recommends $missing >>"$LOG/apt.log" 2>&1 ||
            { tail -30 "$LOG/apt.log" >&2; die "apt-get install failed"; }
    fi
    command -v node >/dev/null || die "node is missing"
    if [ ! -d "$ROOT/node_modules" ] || [ "$ROOT/package-lock.json" -nt "$ROOT/node_modules/.package-lock.json" ]; then
        say "installing npm packages (npm ci)"
        (cd "$ROOT" && npm ci --no-audit --no-fund --loglevel=error) >"$LOG/npm.log" 2>&1 ||
            { tail -30 "$LOG/npm.log" >&2; die "npm ci failed"; }
    fi
}

# ---------------------------------------------------------------- build
build() {
    "$ROOT/tools/build" "$BUILD" "$@" >"$LOG/build.log" 2>&1 || { tail -40 "$LOG/build.log" >&2; die "build failed (full log: $LOG/build.log)"; }
    say "built $BUILD/iotd"
}

# ---------------------------------------------------------------- environment
local_secret() {
    # A per-checkout secret for the local S3, so no fixed key is ever used.
    if [ ! -s "$VAR/s3-secret" ]; then
        (umask 077; head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$VAR/s3-secret")
    fi
    cat "$VAR/s3-secret"
}

export_env() {
    export PGHOST=127.0.0.1 PGPORT=$IOTD_DEV_PG_PORT PGUSER=iotd PGDATABASE=iotd PGSSLMODE=disable
    unset DATABASE_URL
    export IOTD_LISTEN=127.0.0.1:$IOTD_DEV_FCGI_PORT
    export IOTD_VIEWS_DIR=$ROOT/views IOTD_MIGRATIONS_DIR=$ROOT/db/migrations
    export IOTD_S3_ENDPOINT=http://127.0.0.1:$IOTD_DEV_S3_PORT IOTD_S3_BUCKET=$S3_BUCKET
    export IOTD_S3_PREFIX=${IOTD_S3_PREFIX:-images/}
    export AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=$S3_ACCESS_KEY
    AWS_SECRET_ACCESS_KEY=$(local_secret)
    export AWS_SECRET_ACCESS_KEY
    unset AWS_SESSION_TOKEN AWS_CONTAINER_CREDENTIALS_RELATIVE_URI AWS_CONTAINER_CREDENTIALS_FULL_URI
    export IOTD_WORKERS=${IOTD_WORKERS:-4}
    export IOTD_GRACE_SECONDS=${IOTD_GRACE_SECONDS:-20}
    export IOTD_BASE_URL=http://127.0.0.1:$IOTD_DEV_HTTP_PORT
    export IOTD_DEV=$ROOT/dev IOTD_DEV_VAR=$VAR IOTD_POOL_PIDFILE=$RUN/iotd.pid
    export IOTD_BIN=$BUILD/iotd
}

pid_alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

wait_for() { # wait_for SECONDS DESCRIPTION COMMAND...
    local limit=$1 what=$2 i
    shift 2
    for ((i = 0; i < limit * 10; i++)); do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    die "$what did not come up within ${limit}s (logs in $LOG)"
}

# ---------------------------------------------------------------- PostgreSQL
as_pg() {
    if [ "$(id -u)" -eq 0 ]; then runuser -u "$PG_USER" -- "$@"; else "$@"; fi
}

pg_prepare_dir() {
    [ -e "$PG_DATA" ] && return 0
    if [ "$(id -u)" -eq 0 ] && ! runuser -u "$PG_USER" -- test -x "$VAR"; then
        # The checkout is not reachable by the postgres user (e.g. under /root):
        # keep the cluster in a private temporary folder and link it here.
        local alt
        alt=$(mktemp -d /tmp/iotd-pg.XXXXXX)
        chown "$PG_USER" "$alt"
        ln -s "$alt" "$PG_DATA"
        return 0
    fi
    mkdir -p "$PG_DATA"
    [ "$(id -u)" -eq 0 ] && chown "$PG_USER" "$PG_DATA"
    chmod 700 "$PG_DATA"
}

pg_start() {
    pg_prepare_dir
    if [ ! -f "$PG_DATA/PG_VERSION" ]; then
        say "initdb in $PG_DATA"
        as_pg "$PG_BIN/initdb" -D "$PG_DATA/" -U iotd --auth=trust -E UTF8 --locale=C.UTF-8 >"$LOG/initdb.log" 2>&1 ||
            { cat "$LOG/initdb.log" >&2; die "initdb failed"; }
    fi
    if as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA/" status >/dev/null 2>&1; then
        return 0
    fi
    local sock
    sock=$(as_pg sh -c "cd '$PG_DATA/' && pwd -P")
    touch "$LOG/postgres.log"
    [ "$(id -u)" -eq 0 ] && chown "$PG_USER" "$LOG/postgres.log"
    as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA/" -l "$LOG/postgres.log" -w -t 30 \
        -o "-p $IOTD_DEV_PG_PORT -h 127.0.0.1 -k $sock -c fsync=off -c max_connections=200" start >/dev/null ||
        { tail -20 "$LOG/postgres.log" >&2; die "PostgreSQL did not start"; }
    psql -h 127.0.0.1 -p "$IOTD_DEV_PG_PORT" -U iotd -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname='iotd'" |
        grep -q 1 || createdb -h 127.0.0.1 -p "$IOTD_DEV_PG_PORT" -U iotd iotd
}

pg_stop() {
    [ -f "$PG_DATA/PG_VERSION" ] || return 0
    as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA/" -m fast -w stop >/dev/null 2>&1 || true
}

# ---------------------------------------------------------------- S3
s3_start() {
    "$ROOT/tools/s3-server" start "$VAR" "$IOTD_DEV_S3_PORT" "$S3_BUCKET" "$S3_ACCESS_KEY" "$(local_secret)" >"$LOG/s3-start.log" 2>&1 ||
        { cat "$LOG/s3-start.log" >&2; die "the local S3 did not start"; }
}

s3_stop() { "$ROOT/tools/s3-server" stop "$VAR" >/dev/null 2>&1 || true; }

# ---------------------------------------------------------------- the pool
pool_start() {
    if pid_alive "$RUN/iotd.pid"; then return 0; fi
    # The admin socket only for this pool: tests that start pools of their
    # own inherit the rest of the environment, not this.
    IOTD_ADMIN_LISTEN=127.0.0.1:$IOTD_DEV_ADMIN_PORT "$BUILD/iotd" serve >>"$LOG/iotd.log" 2>&1 &
    echo $! >"$RUN/iotd.pid"
    wait_for 15 "the FastCGI pool" "$BUILD/iotd" healthcheck
}

pool_stop() {
    pid_alive "$RUN/iotd.pid" || { rm -f "$RUN/iotd.pid"; return 0; }
    local pid i
    pid=$(cat "$RUN/iotd.pid")
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 300; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
    rm -f "$RUN/iotd.pid"
}

# ---------------------------------------------------------------- nginx
nginx_start() {
    if pid_alive "$RUN/nginx.pid"; then return 0; fi
    local user_line=""
    [ "$(id -u)" -eq 0 ] && user_line="user root;"
    # Pages over kept connections (nginx/render's default, as in the
    # containers; NGINX_FASTCGI_KEEPALIVE=0 for a connection per request),
    # /admin and writes to the pool's admin workers.
    mkdir -p "$VAR/nginx/conf.d"
    NGINX_EXTRA_CONF_DIR=$VAR/nginx/conf.d \
    NGINX_LISTEN=127.0.0.1:$IOTD_DEV_HTTP_PORT IOTD_FASTCGI=127.0.0.1:$IOTD_DEV_FCGI_PORT \
        IOTD_FASTCGI_ADMIN=127.0.0.1:$IOTD_DEV_ADMIN_PORT \
        IOTD_PUBLIC_DIR=$ROOT/public NGINX_RUN_DIR=$VAR/nginx NGINX_ERROR_PAGES=$ROOT/nginx/errors \
        NGINX_ACCESS_LOG=$LOG/nginx-access.log NGINX_ERROR_LOG=$LOG/nginx-error.log NGINX_DAEMON=off \
        NGINX_USER_LINE=$user_line "$ROOT/nginx/render" "$VAR/nginx/nginx.conf"
    nginx -t -q -c "$VAR/nginx/nginx.conf" -p "$VAR/nginx" 2>>"$LOG/nginx-error.log" ||
        { tail -5 "$LOG/nginx-error.log" >&2; die "the nginx configuration does not load"; }
    nginx -c "$VAR/nginx/nginx.conf" -p "$VAR/nginx" >>"$LOG/nginx-error.log" 2>&1 &
    echo $! >"$RUN/nginx.pid"
    wait_for 10 "nginx" curl -fsS "http://127.0.0.1:$IOTD_DEV_HTTP_PORT/healthz"
}

nginx_stop() {
    pid_alive "$RUN/nginx.pid" || { rm -f "$RUN/nginx.pid"; return 0; }
    local pid i
    pid=$(cat "$RUN/nginx.pid")
    kill -QUIT "$pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
    rm -f "$RUN/nginx.pid"
}

# ---------------------------------------------------------------- the local editor
# A local editor account with a generated password, kept in var/ so that
# every ./dev up can say how to sign in. Never a fixed password.
ensure_editor() {
    local file=$VAR/editor-password password
    if [ -s "$file" ]; then
        password=$(cat "$file")
    else
        password=$(head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n')
    fi
    if ! "$BUILD/iotd" user list 2>/dev/null | grep -qw editor; then
        printf '%s\n' "$password" | "$BUILD/iotd" user add editor >"$LOG/editor.log" 2>&1 ||
            { cat "$LOG/editor.log" >&2; die "could not create the local editor account"; }
    fi
    [ -s "$file" ] || (umask 077; printf '%s\n' "$password" >"$file")
    say "admin: http://127.0.0.1:$IOTD_DEV_HTTP_PORT/admin/  user: editor  password: $password"
}

# ---------------------------------------------------------------- all of it
stack_up() {
    mkdir -p "$RUN" "$LOG"
    pg_start
    s3_start
    "$BUILD/iotd" migrate >"$LOG/migrate.log" 2>&1 || { cat "$LOG/migrate.log" >&2; die "iotd migrate failed"; }
    pool_start
    nginx_start
}

stack_down() {
    nginx_stop
    pool_stop
    s3_stop
    pg_stop
}
