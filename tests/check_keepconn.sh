#!/usr/bin/env bash
# check_keepconn.sh — the pool as nginx uses it: many kept FastCGI
# connections per worker, and a second socket for the admin. Starts
# `iotd serve` on two free ports (2 page workers, 1 admin worker, no
# database; /healthz needs none) and talks FastCGI to it directly:
#  - 40 kept connections on 2 page workers, 5 rounds of a request on each,
#    all sent before any answer is read: every one is answered and every
#    connection stays open (a worker that served one connection at a time
#    would leave 38 of them waiting for ever);
#  - the connections are spread over both workers;
#  - a request whose body nobody reads leaves its connection usable for the
#    next request; one whose body is too large to drop closes it after the
#    answer;
#  - the page workers answer while the admin worker is held by a request
#    whose body is still arriving, and the admin worker answers it after;
#  - a killed admin worker is replaced on the admin socket;
#  - SIGTERM with idle kept connections open stops the pool at once; a
#    connection accepted just before it gets the answer to its request.
set -uo pipefail

skip() { echo "# SKIP: $*"; exit 77; }
command -v python3 >/dev/null || skip "python3 is missing"
bin=${IOTD_BUILDDIR:-.}/iotd
[ -x "$bin" ] || skip "no iotd binary at $bin"
src=${IOTD_SRCDIR:-.}

work=$(mktemp -d "${TMPDIR:-/tmp}/check_keepconn.XXXXXX")
master=
cleanup() {
    [ -n "$master" ] && kill -KILL "$master" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

exec python3 - "$bin" "$src" "$work" <<'PY'
import os, signal, socket, struct, subprocess, sys, time

bin_, src, work = sys.argv[1:4]
failures = 0
def check(what, cond, detail=''):
    global failures
    print(('ok - ' if cond else 'not ok - ') + what + (('  # ' + detail) if detail else ''))
    if not cond:
        failures += 1

def free_port():
    s = socket.socket(); s.bind(('127.0.0.1', 0)); p = s.getsockname()[1]; s.close(); return p

# ---- a FastCGI client, as nginx speaks it
BEGIN, END, PARAMS, STDIN, STDOUT = 1, 3, 4, 5, 6
def record(kind, body=b'', rid=1):
    return struct.pack('>BBHHBB', 1, kind, rid, len(body), 0, 0) + body
def nv(name, value):
    def ln(n): return bytes([n]) if n < 128 else struct.pack('>I', n | 0x80000000)
    name, value = name.encode(), value.encode()
    return ln(len(name)) + ln(len(value)) + name + value
def request(method, path, body=b'', keep=True, send_body=True, length=None):
    params = b''.join(nv(k, v) for k, v in [
        ('REQUEST_METHOD', method), ('REQUEST_URI', path), ('DOCUMENT_URI', path), ('QUERY_STRING', ''),
        ('SERVER_PROTOCOL', 'HTTP/1.1'), ('REMOTE_ADDR', '127.0.0.1'), ('REQUEST_ID', 'keepconn'),
        ('CONTENT_TYPE', 'application/x-www-form-urlencoded' if body or length else ''),
        ('CONTENT_LENGTH', str(length if length is not None else len(body)) if (body or length) else '')])
    out = record(BEGIN, struct.pack('>HB5x', 1, 1 if keep else 0)) + record(PARAMS, params) + record(PARAMS)
    if send_body:
        for i in range(0, len(body), 65535):
            out += record(STDIN, body[i:i + 65535])
        out += record(STDIN)
    return out

class Conn:
    def __init__(self, port):
        self.s = socket.create_connection(('127.0.0.1', port), timeout=5)
        self.buf = b''
    def send(self, data): self.s.sendall(data)
    def _need(self, n):
        while len(self.buf) < n:
            d = self.s.recv(65536)
            if not d:
                raise EOFError('connection closed')
            self.buf += d
    def response(self):
        """Reads one response; returns (status, stdout bytes)."""
        out = b''
        while True:
            self._need(8)
            _, kind, _, clen, pad, _ = struct.unpack('>BBHHBB', self.buf[:8])
            self._need(8 + clen + pad)
            body = self.buf[8:8 + clen]
            self.buf = self.buf[8 + clen + pad:]
            if kind == 7:  # FCGI_STDERR
                print('# stderr: ' + body.decode('latin-1', 'replace').strip())
            if kind == STDOUT:
                out += body
            elif kind == END:
                head = out.split(b'\r\n\r\n', 1)[0].decode('latin-1')
                status = 200
                for line in head.split('\r\n'):
                    if line.lower().startswith('status:'):
                        status = int(line.split()[1])
                return status, out
    def closed(self, wait=2.0):
        self.s.settimeout(wait)
        try:
            return self.s.recv(1) == b''
        except (socket.timeout, ConnectionResetError):
            return False
        finally:
            self.s.settimeout(5)
    def close(self): self.s.close()

def get(port, path='/healthz'):
    c = Conn(port)
    try:
        c.send(request('GET', path, keep=False))
        return c.response()[0]
    finally:
        c.close()

# ---- the pool: 2 page workers, 1 admin worker
views = os.path.join(src, 'views')
page_port, admin_port = free_port(), free_port()
env = dict(os.environ, IOTD_LISTEN='127.0.0.1:%d' % page_port, IOTD_ADMIN_LISTEN='127.0.0.1:%d' % admin_port,
           IOTD_WORKERS='2', IOTD_ADMIN_WORKERS='1', IOTD_VIEWS_DIR=views, IOTD_GRACE_SECONDS='10',
           PGHOST='127.0.0.1', PGPORT='1', IOTD_S3_BUCKET='keepconn', IOTD_S3_ENDPOINT='http://127.0.0.1:1',
           AWS_ACCESS_KEY_ID='AKIDKEEP', AWS_SECRET_ACCESS_KEY='keep-secret')
env.pop('DATABASE_URL', None)
log = open(os.path.join(work, 'pool.log'), 'wb')
pool = subprocess.Popen([bin_, 'serve'], env=env, stdout=log, stderr=log)
deadline = time.time() + 15
while time.time() < deadline:
    try:
        if get(page_port) == 200 and get(admin_port) == 200:
            break
    except OSError:
        pass
    time.sleep(0.05)
else:
    print('not ok - the pool did not start'); print(open(log.name).read()[-2000:]); sys.exit(1)

def children():
    out = subprocess.run(['pgrep', '-P', str(pool.pid)], capture_output=True, text=True).stdout.split()
    return [int(p) for p in out]
def role(pid):
    """'page' or 'admin', from the worker's command line."""
    try:
        args = open('/proc/%d/cmdline' % pid, 'rb').read().split(b'\0')
    except OSError:
        return None
    return args[args.index(b'--role') + 1].decode() if b'--role' in args else None

def listening_port(pid):
    """The port of the socket the master gave the worker as descriptor 3."""
    try:
        ino = os.readlink('/proc/%d/fd/3' % pid).split('[')[1].rstrip(']')
    except (OSError, IndexError):
        return None
    for line in open('/proc/net/tcp').read().splitlines()[1:]:
        f = line.split()
        if f[9] == ino:
            return int(f[1].split(':')[1], 16)
    return None

def connections(pid):
    n = 0
    for fd in os.listdir('/proc/%d/fd' % pid):
        try:
            if os.readlink('/proc/%d/fd/%s' % (pid, fd)).startswith('socket:') and int(fd) > 4:
                n += 1
        except OSError:
            pass
    return n

kids = children()
roles = {pid: role(pid) for pid in kids}
check('2 page workers and 1 admin worker', sorted(roles.values()) == ['admin', 'page', 'page'], str(roles))
ports = {pid: listening_port(pid) for pid in kids}
check('each serves the socket its role names',
      all(ports[p] == (page_port if r == 'page' else admin_port) for p, r in roles.items()), str(ports))
pages = [p for p, r in roles.items() if r == 'page']
before = {p: connections(p) for p in pages}

# ---- 40 kept connections, 5 rounds, all requests out before any answer is read
conns = []
for i in range(40):
    conns.append(Conn(page_port))
    time.sleep(0.005)
answered = 0
try:
    for rnd in range(5):
        for c in conns:
            c.send(request('GET', '/healthz'))
        for c in conns:
            if c.response()[0] == 200:
                answered += 1
except (OSError, EOFError) as e:
    print('# %s' % e)
check('200 requests on 40 kept connections to 2 workers answered', answered == 200, '%d answered' % answered)
spread = {p: connections(p) - before.get(p, 0) for p in pages}
check('the connections are spread over both page workers', all(v >= 8 for v in spread.values()), str(spread))

# ---- bodies nobody reads
c = conns[0]
c.send(request('POST', '/healthz', body=b'x=' + b'y' * 20000))
st, _ = c.response()
c.send(request('GET', '/healthz'))
st2, _ = c.response()
check('an unread 20 kB body leaves the kept connection usable', st == 405 and st2 == 200, '%d then %d' % (st, st2))
c = conns[1]
c.send(request('POST', '/healthz', body=b'x=' + b'y' * 300000))
st, _ = c.response()
check('an unread 300 kB body is answered, then its connection closed', st == 405 and c.closed(), str(st))
check('the other kept connections still answer', all(k.send(request('GET', '/healthz')) or k.response()[0] == 200
                                                       for k in conns[2:10]))

# ---- the admin worker held by a slow body; pages go on
slow = Conn(admin_port)
slow.send(request('POST', '/admin/login', send_body=False, length=1000))
slow.send(record(STDIN, b'username=a&'))
time.sleep(0.2)
t0 = time.time()
ok = 0
for k in conns[2:12]:
    k.send(request('GET', '/healthz'))
    ok += k.response()[0] == 200
ok += get(page_port) == 200
took = time.time() - t0
check('pages answer while the admin worker waits for a body', ok == 11, '%d of 11 in %.0f ms' % (ok, took * 1000))
slow.send(record(STDIN, b'p' * 989) + record(STDIN))
try:
    st, _ = slow.response()
except (OSError, EOFError):
    st = 0
check('the admin worker answers the slow request once its body is in', st in (400, 403, 503), str(st))

# ---- a killed admin worker comes back on the admin socket
admin = [p for p, r in roles.items() if r == 'admin'][0]
os.kill(admin, signal.SIGKILL)
deadline = time.time() + 5
new = None
while time.time() < deadline and new is None:
    time.sleep(0.05)
    for p in children():
        if p != admin and p not in roles and role(p) == 'admin':
            new = p
check('a killed admin worker is replaced on the admin socket',
      new is not None and listening_port(new) == admin_port and get(admin_port) == 200,
      'new worker %s' % new)

# ---- SIGTERM with 38 idle kept connections open, and one just accepted
# whose request is still on its way: that one is answered
late = Conn(page_port)
time.sleep(0.1)
t0 = time.time()
pool.send_signal(signal.SIGTERM)
time.sleep(0.05)
late.send(request('GET', '/healthz'))
try:
    st, _ = late.response()
except (OSError, EOFError):
    st = 0
check('a connection accepted just before SIGTERM gets the answer to its request', st == 200, str(st))
late.close()
try:
    rc = pool.wait(timeout=8)
except subprocess.TimeoutExpired:
    rc = None
took = time.time() - t0
check('SIGTERM with idle kept connections stops the pool at once', rc == 0 and took < 3,
      'exit %s after %.2f s' % (rc, took))
closed = sum(1 for k in conns[2:] if k.closed(0.5))
check('the kept connections are closed, not left open', closed == len(conns) - 2, '%d closed' % closed)
for k in conns:
    k.close()
if pool.poll() is None:
    pool.kill()
sys.exit(1 if failures else 0)
PY
