#!/usr/bin/env node
// tests/faults/client.js — the HTTP client the fault and soak scripts need
// besides wrk: an editor who signs in and uploads, and a probe that times
// every response to the millisecond and notices truncated ones.
//
// Every command is bounded (a count or a duration, and a timeout per
// request), talks to loopback only, and prints one JSON object on stdout.
//
//   client.js upload BASE USER PASSWORD_FILE IMAGE COUNT CONCURRENCY [DATE_PREFIX]
//       COUNT uploads of IMAGE through /admin/images/new, CONCURRENCY at a
//       time, each editor slot signed in once; prints every result
//       {status, ms, error} and the totals. DATE_PREFIX unused when absent.
//   client.js probe BASE PATH CONNECTIONS DURATION_MS
//       GET BASE+PATH in a loop on CONNECTIONS keep-alive connections for
//       DURATION_MS; prints every response {start, end, status, complete}
//       (epoch ms) so a script can line them up with its own events.
//   client.js editor BASE USER PASSWORD_FILE IMAGE DURATION_MS INTERVAL_MS
//       the soak's slow lane: every INTERVAL_MS sign in afresh and upload
//       IMAGE once; prints the count of each status.
'use strict';

const http = require('http');
const fs = require('fs');

const REQUEST_TIMEOUT_MS = 60000;
const MAX_BODY_BYTES = 4 * 1024 * 1024; // pages are far smaller; cap what we keep

function die(msg) {
    process.stderr.write('client.js: ' + msg + '\n');
    process.exit(2);
}

function loopbackOnly(base) {
    const u = new URL(base);
    if (u.hostname !== '127.0.0.1' && u.hostname !== 'localhost')
        die('refusing a non-loopback address: ' + base);
    return u;
}

// One request; resolves with {status, headers, body, complete, error}.
function request(agent, base, method, path, headers, body) {
    return new Promise((resolve) => {
        const u = new URL(path, base);
        const started = Date.now();
        const req = http.request(
            {
                agent,
                host: u.hostname,
                port: u.port,
                method,
                path: u.pathname + u.search,
                headers: Object.assign({}, headers, body ? {'Content-Length': body.length} : {}),
                timeout: REQUEST_TIMEOUT_MS,
            },
            (res) => {
                const chunks = [];
                let size = 0, done = false;
                res.on('data', (c) => {
                    size += c.length;
                    if (size <= MAX_BODY_BYTES)
                        chunks.push(c);
                });
                const finish = (complete, error) => {
                    if (done)
                        return;
                    done = true;
                    resolve({
                        start: started,
                        end: Date.now(),
                        status: res.statusCode,
                        headers: res.headers,
                        body: Buffer.concat(chunks).toString('utf8'),
                        complete,
                        error,
                    });
                };
                res.on('end', () => finish(res.complete, res.complete ? null : 'truncated'));
                res.on('aborted', () => finish(false, 'truncated'));
                res.on('error', (e) => finish(false, 'truncated: ' + e.code));
                res.on('close', () => finish(res.complete, res.complete ? null : 'truncated'));
            });
        req.on('timeout', () => req.destroy(new Error('timeout')));
        req.on('error', (e) =>
            resolve({start: started, end: Date.now(), status: 0, headers: {}, body: '', complete: false,
                     error: e.code || e.message}));
        if (body)
            req.write(body);
        req.end();
    });
}

function cookieJar() {
    const jar = {};
    return {
        take(res) {
            for (const line of res.headers['set-cookie'] || []) {
                const [pair] = line.split(';');
                const eq = pair.indexOf('=');
                const name = pair.slice(0, eq).trim(), value = pair.slice(eq + 1).trim();
                if (value === '' || /Max-Age=0/i.test(line))
                    delete jar[name];
                else
                    jar[name] = value;
            }
        },
        header() {
            return Object.entries(jar).map(([k, v]) => k + '=' + v).join('; ');
        },
    };
}

function inputValue(html, name) {
    const m = html.match(new RegExp('name="' + name + '" value="([^"]*)"'));
    return m ? m[1] : null;
}

function formError(html) {
    const m = html.match(/class="field-error"[^>]*>([^<]*)</) || html.match(/class="error"[^>]*>([^<]*)</);
    return m ? m[1].trim() : null;
}

// An editor: signs in and returns the cookie jar and the form's CSRF token.
async function signIn(agent, base, user, password) {
    const jar = cookieJar();
    const origin = new URL(base).origin;
    let r = await request(agent, base, 'GET', '/admin/login', {});
    if (r.status !== 200)
        return {status: r.status, error: 'sign-in form: ' + (r.error || r.status)};
    jar.take(r);
    const token = inputValue(r.body, 'login_token');
    const form = new URLSearchParams({login_token: token || '', next: '/admin/', username: user, password});
    r = await request(agent, base, 'POST', '/admin/login',
                      {'Content-Type': 'application/x-www-form-urlencoded', Cookie: jar.header(), Origin: origin},
                      Buffer.from(form.toString()));
    if (r.status !== 303)
        return {status: r.status, error: 'sign-in: ' + (r.error || formError(r.body) || r.status)};
    jar.take(r);
    r = await request(agent, base, 'GET', '/admin/images/new', {Cookie: jar.header()});
    if (r.status !== 200)
        return {status: r.status, error: 'add form: ' + (r.error || r.status)};
    return {status: 200, jar, csrf: inputValue(r.body, 'csrf')};
}

function multipart(fields, file, bytes) {
    const boundary = '----iotdfaults' + Math.random().toString(16).slice(2);
    const parts = [];
    for (const [k, v] of Object.entries(fields))
        parts.push(Buffer.from('--' + boundary + '\r\nContent-Disposition: form-data; name="' + k + '"\r\n\r\n' +
                               v + '\r\n'));
    parts.push(Buffer.from('--' + boundary + '\r\nContent-Disposition: form-data; name="file"; filename="' + file +
                           '"\r\nContent-Type: application/octet-stream\r\n\r\n'));
    parts.push(bytes);
    parts.push(Buffer.from('\r\n--' + boundary + '--\r\n'));
    return {type: 'multipart/form-data; boundary=' + boundary, body: Buffer.concat(parts)};
}

// As the admin page does (public/js/admin.js): a 503 with Retry-After is
// sent again after that pause, up to UPLOAD_TRIES attempts in all.
const UPLOAD_TRIES = 5;
const UPLOAD_MAX_WAIT_S = 30;

async function uploadOnce(agent, base, editor, bytes, label) {
    const mp = multipart({csrf: editor.csrf, name: label, tagline: 'Uploaded by the fault tests'}, 'image.bin', bytes);
    const t0 = Date.now();
    let r, attempt = 1;
    for (;; attempt++) {
        r = await request(agent, base, 'POST', '/admin/images/new',
                          {'Content-Type': mp.type, Cookie: editor.jar.header(), Origin: new URL(base).origin},
                          mp.body);
        const wait = parseInt((r.headers && r.headers['retry-after']) || '', 10);
        if (r.status !== 503 || !(wait >= 0) || attempt >= UPLOAD_TRIES)
            break;
        await new Promise((res) => setTimeout(res, Math.min(wait || 1, UPLOAD_MAX_WAIT_S) * 1000));
    }
    return {status: r.status, attempts: attempt, ms: Date.now() - t0,
            error: r.status === 303 ? null : r.error || formError(r.body)};
}

async function cmdUpload(base, user, pwFile, image, count, conc) {
    const password = fs.readFileSync(pwFile, 'utf8').trim();
    const bytes = fs.readFileSync(image);
    const agent = new http.Agent({keepAlive: false});
    const results = [];
    let next = 0;
    const stamp = Date.now().toString(36);
    // one editor, one session: the fault is the uploads, not 20 sign-ins
    const editor = await signIn(agent, base, user, password);
    async function lane(i) {
        if (editor.status !== 200) {
            while (next < count) {
                next++;
                results.push({status: editor.status, ms: 0, error: editor.error});
            }
            return;
        }
        while (next < count) {
            const n = next++;
            results.push(await uploadOnce(agent, base, editor, bytes, 'fault ' + stamp + ' ' + i + '.' + n));
        }
    }
    await Promise.all(Array.from({length: Math.min(conc, count)}, (_, i) => lane(i)));
    const statuses = {};
    for (const r of results)
        statuses[r.status] = (statuses[r.status] || 0) + 1;
    const attempts = results.reduce((n, r) => n + (r.attempts || 0), 0);
    console.log(JSON.stringify({count: results.length, statuses, attempts, results}));
}

async function cmdProbe(base, path, conns, duration) {
    const agent = new http.Agent({keepAlive: true, maxSockets: conns});
    const until = Date.now() + duration;
    const results = [];
    async function lane() {
        while (Date.now() < until) {
            const r = await request(agent, base, 'GET', path, {});
            const complete = r.complete && (r.status !== 200 || /<\/html>\s*$/.test(r.body));
            results.push({start: r.start, end: r.end, status: r.status, complete, error: r.error,
                          static_page: /Briefly unavailable/.test(r.body)});
            if (r.status === 0)
                await new Promise((res) => setTimeout(res, 5)); // refused: do not spin
        }
    }
    await Promise.all(Array.from({length: conns}, lane));
    agent.destroy();
    console.log(JSON.stringify({count: results.length, results}));
}

async function cmdEditor(base, user, pwFile, image, duration, interval) {
    const password = fs.readFileSync(pwFile, 'utf8').trim();
    const bytes = fs.readFileSync(image);
    const agent = new http.Agent({keepAlive: false});
    const until = Date.now() + duration;
    const statuses = {}, errors = [];
    const count = (s) => (statuses[s] = (statuses[s] || 0) + 1);
    let n = 0;
    while (Date.now() < until) {
        const t0 = Date.now();
        const editor = await signIn(agent, base, user, password);
        count('signin ' + editor.status);
        if (editor.status === 200) {
            const r = await uploadOnce(agent, base, editor, bytes, 'soak ' + t0.toString(36) + ' ' + n++);
            count('upload ' + r.status);
            if (r.status !== 303 && errors.length < 10)
                errors.push(r);
        } else if (errors.length < 10) {
            errors.push(editor);
        }
        const wait = interval - (Date.now() - t0);
        if (wait > 0)
            await new Promise((res) => setTimeout(res, Math.min(wait, until - Date.now())));
    }
    console.log(JSON.stringify({statuses, errors}));
}

async function main() {
    const [cmd, base, ...a] = process.argv.slice(2);
    if (!cmd || !base)
        die('usage: see the comment at the top of this file');
    loopbackOnly(base);
    const int = (s, what) => {
        const n = Number(s);
        if (!Number.isInteger(n) || n < 1)
            die(what + ' must be a positive number');
        return n;
    };
    if (cmd === 'upload')
        await cmdUpload(base, a[0], a[1], a[2], int(a[3], 'COUNT'), int(a[4], 'CONCURRENCY'));
    else if (cmd === 'probe')
        await cmdProbe(base, a[0], int(a[1], 'CONNECTIONS'), int(a[2], 'DURATION_MS'));
    else if (cmd === 'editor')
        await cmdEditor(base, a[0], a[1], a[2], int(a[3], 'DURATION_MS'), int(a[4], 'INTERVAL_MS'));
    else
        die('unknown command ' + cmd);
}

main().catch((e) => die(e.stack || String(e)));
