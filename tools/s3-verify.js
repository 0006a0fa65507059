#!/usr/bin/env node
/*
 * s3-verify.js — the signature-checking front door of the local S3.
 *
 * s3rver gives the dev stack real S3 semantics but accepts any SigV4
 * signature (even none), so a signing bug in iotd would only show up against
 * AWS. This proxy sits in front of s3rver and refuses what AWS would refuse:
 *
 *   - no signature                         -> 403 AccessDenied
 *   - unknown access key id                -> 403 InvalidAccessKeyId
 *   - wrong signature                      -> 403 SignatureDoesNotMatch
 *                                             (expected canonical request on stderr)
 *   - presigned URL past X-Amz-Expires     -> 403 AccessDenied "Request has expired"
 *   - header-signed request > 15 min skew  -> 403 RequestTimeTooSkewed
 *   - body not matching x-amz-content-sha256 -> 400 XAmzContentSHA256Mismatch
 *
 * The signature is never computed here: the request is rebuilt (method, raw
 * path and query, the signed headers with their received values, X-Amz-Date,
 * credential scope) and handed to the `aws4` package, which computes the
 * canonical request, string to sign and signature with the configured secret.
 *
 * Valid requests are forwarded unchanged to s3rver. Bodies whose hash must be
 * checked are spooled to a file first (bounded memory; s3rver never sees a
 * corrupted upload); other bodies and all responses are streamed.
 *
 * Usage: node s3-verify.js --listen HOST:PORT --upstream HOST:PORT
 *          [--region us-east-1] [--spool-dir DIR]
 * The key pair comes from the environment (kept off the command line):
 *   S3_VERIFY_ACCESS_KEY_ID, S3_VERIFY_SECRET_ACCESS_KEY
 */
'use strict';

const crypto = require('crypto');
const fs = require('fs');
const http = require('http');
const os = require('os');
const path = require('path');
const { pipeline } = require('stream');

const aws4 = require('aws4');

/* Limits on outside input. */
const MAX_BODY_BYTES = 256 * 1024 * 1024; /* local cap; AWS allows 5 GiB per PUT */
const MAX_CLOCK_SKEW_MS = 15 * 60 * 1000; /* AWS: 15 minutes for header auth */
const MAX_PRESIGN_EXPIRES_S = 7 * 24 * 3600; /* AWS: one week */
const UPSTREAM_TIMEOUT_MS = 60 * 1000;
const SHUTDOWN_GRACE_MS = 2000;

const SIGV4_ALGORITHM = 'AWS4-HMAC-SHA256';
const SERVICE = 's3';
const PRESIGN_PARAMS = [
  'X-Amz-Algorithm',
  'X-Amz-Credential',
  'X-Amz-Date',
  'X-Amz-Expires',
  'X-Amz-SignedHeaders',
  'X-Amz-Signature',
];
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'expect',
]);

/* ---------------------------------------------------------------- config */

function parseHostPort(value, what) {
  const m = /^([^:]+):(\d{1,5})$/.exec(value || '');
  if (!m || Number(m[2]) > 65535) {
    throw new Error(`${what} must be HOST:PORT, got '${value}'`);
  }
  return { host: m[1], port: Number(m[2]) };
}

function readConfig(argv, env) {
  const opts = { region: 'us-east-1', spoolDir: os.tmpdir() };
  for (let i = 0; i < argv.length; i += 2) {
    const [flag, value] = [argv[i], argv[i + 1]];
    if (value === undefined) throw new Error(`missing value for ${flag}`);
    if (flag === '--listen') opts.listen = parseHostPort(value, '--listen');
    else if (flag === '--upstream') opts.upstream = parseHostPort(value, '--upstream');
    else if (flag === '--region') opts.region = value;
    else if (flag === '--spool-dir') opts.spoolDir = value;
    else throw new Error(`unknown option ${flag}`);
  }
  if (!opts.listen || !opts.upstream) throw new Error('--listen and --upstream are required');
  opts.accessKeyId = env.S3_VERIFY_ACCESS_KEY_ID || '';
  opts.secretAccessKey = env.S3_VERIFY_SECRET_ACCESS_KEY || '';
  if (!opts.accessKeyId || !opts.secretAccessKey) {
    throw new Error('S3_VERIFY_ACCESS_KEY_ID and S3_VERIFY_SECRET_ACCESS_KEY must be set');
  }
  return opts;
}

/* ---------------------------------------------------------------- errors */

class S3Error extends Error {
  constructor(status, code, message, detail = {}) {
    super(message);
    this.status = status;
    this.code = code;
    this.detail = detail;
  }
}

function xmlEscape(s) {
  return String(s).replace(/[&<>"']/g, c => `&#${c.charCodeAt(0)};`);
}

function sendError(req, res, err, requestId) {
  const fields = Object.entries(err.detail)
    .map(([k, v]) => `<${k}>${xmlEscape(v)}</${k}>`)
    .join('');
  const body =
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
    `<Error><Code>${err.code}</Code><Message>${xmlEscape(err.message)}</Message>` +
    `${fields}<RequestId>${requestId}</RequestId></Error>`;
  const headers = {
    'Content-Type': 'application/xml',
    'Content-Length': Buffer.byteLength(body),
    'x-amz-request-id': requestId,
  };
  /* The client waits for "100 Continue" before sending a body we will not
   * read: the connection cannot be reused. (Bodies sent without Expect are
   * drained by node after the response, keeping the connection usable.) */
  if (req.headers.expect && !req.complete) headers.Connection = 'close';
  res.writeHead(err.status, headers);
  res.end(req.method === 'HEAD' ? undefined : body);
}

/* ---------------------------------------------------- request parsing */

function splitUrl(rawUrl) {
  const q = rawUrl.indexOf('?');
  return q < 0 ? { rawPath: rawUrl, rawQuery: '' } : { rawPath: rawUrl.slice(0, q), rawQuery: rawUrl.slice(q + 1) };
}

/* Query parameters in order, decoded; '+' is a space as in form encoding. */
function parseQuery(rawQuery) {
  const params = [];
  if (!rawQuery) return params;
  for (const piece of rawQuery.split('&')) {
    if (!piece) continue;
    const eq = piece.indexOf('=');
    const [k, v] = eq < 0 ? [piece, ''] : [piece.slice(0, eq), piece.slice(eq + 1)];
    params.push([decodeComponent(k.replace(/\+/g, ' ')), decodeComponent(v.replace(/\+/g, ' '))]);
  }
  return params;
}

function decodeComponent(s) {
  try {
    return decodeURIComponent(s);
  } catch (e) {
    throw new S3Error(400, 'InvalidURI', 'Could not parse the specified URI.');
  }
}

/* "AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=..." */
function parseAuthorizationHeader(value) {
  const space = value.indexOf(' ');
  const algorithm = space < 0 ? value : value.slice(0, space);
  if (algorithm !== SIGV4_ALGORITHM) {
    throw new S3Error(400, 'InvalidArgument', 'Unsupported Authorization Type; only AWS4-HMAC-SHA256 is accepted', {
      ArgumentName: 'Authorization',
      ArgumentValue: value,
    });
  }
  const parts = {};
  for (const item of value.slice(space + 1).split(',')) {
    const eq = item.indexOf('=');
    if (eq > 0) parts[item.slice(0, eq).trim()] = item.slice(eq + 1).trim();
  }
  for (const name of ['Credential', 'SignedHeaders', 'Signature']) {
    if (!parts[name]) {
      throw new S3Error(400, 'AuthorizationHeaderMalformed', `The authorization header is malformed; missing ${name}.`);
    }
  }
  return { credential: parts.Credential, signedHeaders: parts.SignedHeaders, signature: parts.Signature };
}

/* Everything about a request's authentication, in one shape for both forms. */
function describeAuth(req, cfg) {
  const { rawPath, rawQuery } = splitUrl(req.url);
  const query = parseQuery(rawQuery);
  const queryMap = new Map(query);
  const hasHeader = 'authorization' in req.headers;
  const hasQuery = queryMap.has('X-Amz-Algorithm') || queryMap.has('X-Amz-Signature');
  const hasV2Query = queryMap.has('Signature') && queryMap.has('AWSAccessKeyId');

  if (!hasHeader && !hasQuery) {
    if (hasV2Query) {
      throw new S3Error(400, 'InvalidArgument', 'Signature version 2 is not accepted; sign with AWS4-HMAC-SHA256');
    }
    throw new S3Error(403, 'AccessDenied', 'Access Denied');
  }
  if (hasHeader && hasQuery) {
    throw new S3Error(400, 'InvalidArgument', 'Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter or the Authorization header should be specified');
  }

  let auth;
  if (hasHeader) {
    const h = parseAuthorizationHeader(req.headers.authorization);
    const amzDate = req.headers['x-amz-date'];
    if (!amzDate) {
      throw new S3Error(403, 'AccessDenied', 'AWS authentication requires a valid Date or x-amz-date header');
    }
    auth = { presigned: false, ...h, amzDate, malformed: 'AuthorizationHeaderMalformed' };
  } else {
    for (const name of PRESIGN_PARAMS) {
      if (!queryMap.get(name)) {
        throw new S3Error(400, 'AuthorizationQueryParametersError', `Query-string authentication version 4 requires the ${PRESIGN_PARAMS.join(', ')} parameters.`);
      }
    }
    if (queryMap.get('X-Amz-Algorithm') !== SIGV4_ALGORITHM) {
      throw new S3Error(400, 'AuthorizationQueryParametersError', 'X-Amz-Algorithm only supports "AWS4-HMAC-SHA256"');
    }
    auth = {
      presigned: true,
      credential: queryMap.get('X-Amz-Credential'),
      signedHeaders: queryMap.get('X-Amz-SignedHeaders'),
      signature: queryMap.get('X-Amz-Signature'),
      amzDate: queryMap.get('X-Amz-Date'),
      expires: queryMap.get('X-Amz-Expires'),
      malformed: 'AuthorizationQueryParametersError',
    };
  }

  const scope = auth.credential.split('/');
  if (scope.length !== 5) {
    throw new S3Error(400, auth.malformed, `Error parsing the X-Amz-Credential parameter; the Credential is mal-formed; expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".`);
  }
  [auth.accessKeyId, auth.scopeDate, auth.region, auth.service, auth.terminator] = scope;
  auth.time = parseAmzDate(auth.amzDate, auth.malformed);
  auth.rawPath = rawPath;
  auth.rawQuery = rawQuery;
  auth.query = query;
  return auth;
}

function parseAmzDate(value, code) {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value || '');
  if (!m) throw new S3Error(400, code, 'X-Amz-Date must be in the ISO8601 Long Format "yyyyMMdd\'T\'HHmmss\'Z\'"');
  return Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]);
}

/* Checks that need no signature: key id, scope, time window, signed headers. */
function checkAuthShape(auth, req, cfg, now) {
  if (auth.accessKeyId !== cfg.accessKeyId) {
    throw new S3Error(403, 'InvalidAccessKeyId', 'The AWS Access Key Id you provided does not exist in our records.', {
      AWSAccessKeyId: auth.accessKeyId,
    });
  }
  if (auth.service !== SERVICE || auth.terminator !== 'aws4_request') {
    throw new S3Error(400, auth.malformed, `The credential scope must end in /${SERVICE}/aws4_request; got '${auth.credential}'`);
  }
  if (auth.region !== cfg.region) {
    throw new S3Error(400, auth.malformed, `The authorization header is malformed; the region '${auth.region}' is wrong; expecting '${cfg.region}'`, {
      Region: cfg.region,
    });
  }
  if (auth.scopeDate !== auth.amzDate.slice(0, 8)) {
    throw new S3Error(400, auth.malformed, `Invalid credential date "${auth.scopeDate}". This date is not the same as X-Amz-Date: "${auth.amzDate.slice(0, 8)}".`);
  }
  const signed = auth.signedHeaders.split(';');
  if (!signed.includes('host')) {
    throw new S3Error(403, 'AccessDenied', 'The host header must be signed');
  }
  for (const name of signed) {
    if (!(name in req.headers)) {
      throw new S3Error(403, 'AccessDenied', `Signed header '${name}' is missing from the request`);
    }
  }
  const unsigned = Object.keys(req.headers).filter(h => h.startsWith('x-amz-') && !signed.includes(h));
  if (unsigned.length && !auth.presigned) {
    throw new S3Error(403, 'AccessDenied', 'There were headers present in the request which were not signed', {
      HeadersNotSigned: unsigned.join(', '),
    });
  }
  if (auth.presigned) {
    if (!/^\d+$/.test(auth.expires) || Number(auth.expires) > MAX_PRESIGN_EXPIRES_S) {
      throw new S3Error(400, 'AuthorizationQueryParametersError', `X-Amz-Expires must be a number of seconds between 0 and ${MAX_PRESIGN_EXPIRES_S}`);
    }
  } else if (Math.abs(now - auth.time) > MAX_CLOCK_SKEW_MS) {
    throw new S3Error(403, 'RequestTimeTooSkewed', 'The difference between the request time and the current time is too large.', {
      RequestTime: auth.amzDate,
      ServerTime: new Date(now).toISOString(),
      MaxAllowedSkewMilliseconds: MAX_CLOCK_SKEW_MS,
    });
  }
}

/* ------------------------------------------------------- verification */

/*
 * Rebuild the request for aws4 and let it compute the signature. aws4 reads
 * '+' in a path as a space (form encoding); in an S3 path it is a literal
 * plus, which every SigV4 signer encodes as %2B, so pass it that way.
 */
function expectedSignature(auth, req, cfg) {
  const signed = auth.signedHeaders.split(';');
  const headers = {};
  const include = {};
  for (const name of signed) {
    headers[name] = req.headers[name];
    include[name] = true; /* sign even those aws4 skips by default (range, user-agent...) */
  }
  let query = auth.rawQuery;
  if (auth.presigned) {
    query = auth.rawQuery
      .split('&')
      .filter(p => !/^X-Amz-Signature(=|$)/.test(p))
      .join('&');
  }
  const pathForSigning = auth.rawPath.replace(/\+/g, '%2B') + (query ? `?${query}` : '');
  const request = {
    method: req.method,
    path: pathForSigning,
    headers,
    service: auth.service,
    region: auth.region,
    signQuery: auth.presigned,
    doNotModifyHeaders: true,
    extraHeadersToInclude: include,
  };
  const signer = new aws4.RequestSigner(request, {
    accessKeyId: cfg.accessKeyId,
    secretAccessKey: cfg.secretAccessKey,
  });
  signer.datetime = auth.amzDate; /* the client's time, not ours */
  return {
    signature: signer.signature(),
    canonicalRequest: signer.canonicalString(),
    stringToSign: signer.stringToSign(),
  };
}

function sameSignature(provided, expected) {
  const a = Buffer.from(String(provided));
  const b = Buffer.from(expected);
  return a.length === b.length && crypto.timingSafeEqual(a, b);
}

function verify(req, cfg, log) {
  const now = Date.now();
  const auth = describeAuth(req, cfg);
  checkAuthShape(auth, req, cfg, now);
  let expected;
  try {
    expected = expectedSignature(auth, req, cfg);
  } catch (e) {
    throw new S3Error(400, 'InvalidURI', `Could not canonicalize the request: ${e.message}`);
  }
  if (!sameSignature(auth.signature, expected.signature)) {
    log.mismatch(req, auth, expected);
    throw new S3Error(
      403,
      'SignatureDoesNotMatch',
      'The request signature we calculated does not match the signature you provided. Check your key and signing method.',
      {
        AWSAccessKeyId: auth.accessKeyId,
        StringToSign: expected.stringToSign,
        SignatureProvided: auth.signature,
        CanonicalRequest: expected.canonicalRequest,
      },
    );
  }
  if (auth.presigned) {
    const expiresAt = auth.time + Number(auth.expires) * 1000;
    if (now > expiresAt) {
      throw new S3Error(403, 'AccessDenied', 'Request has expired', {
        'X-Amz-Expires': auth.expires,
        Expires: new Date(expiresAt).toISOString(),
        ServerTime: new Date(now).toISOString(),
      });
    }
  }
  return auth;
}

/* What the body must hash to, or null when the payload is not signed. */
function payloadHash(req) {
  const value = req.headers['x-amz-content-sha256'];
  if (value === undefined) {
    if ('authorization' in req.headers) {
      throw new S3Error(400, 'InvalidRequest', 'Missing required header for this request: x-amz-content-sha256');
    }
    return null; /* presigned: UNSIGNED-PAYLOAD */
  }
  if (value === 'UNSIGNED-PAYLOAD') return null;
  if (/^[0-9a-fA-F]{64}$/.test(value)) return value.toLowerCase();
  if (value.startsWith('STREAMING-')) {
    throw new S3Error(501, 'NotImplemented', `x-amz-content-sha256 '${value}' (chunk signing) is not supported by the local S3; send a hex SHA-256 or UNSIGNED-PAYLOAD`);
  }
  throw new S3Error(400, 'InvalidArgument', 'x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD, or a valid sha256 value.', {
    ArgumentName: 'x-amz-content-sha256',
    ArgumentValue: value,
  });
}

/* --------------------------------------------------------- forwarding */

function hasBody(req) {
  const len = req.headers['content-length'];
  return (len !== undefined && len !== '0') || req.headers['transfer-encoding'] !== undefined;
}

function forwardHeaders(raw) {
  const out = [];
  for (let i = 0; i < raw.length; i += 2) {
    if (!HOP_BY_HOP.has(raw[i].toLowerCase())) out.push(raw[i], raw[i + 1]);
  }
  return out;
}

/* Spool the body to a file while hashing it; resolve with {file, size, sha256}. */
function spoolBody(req, cfg) {
  return new Promise((resolve, reject) => {
    const file = path.join(cfg.spoolDir, `body-${process.pid}-${crypto.randomBytes(8).toString('hex')}`);
    const out = fs.createWriteStream(file, { flags: 'wx', mode: 0o600 });
    const hash = crypto.createHash('sha256');
    let size = 0;
    let failed = false;
    const fail = err => {
      if (failed) return;
      failed = true;
      req.unpipe(out);
      out.destroy();
      fs.rm(file, { force: true }, () => reject(err));
    };
    req.on('data', chunk => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        fail(new S3Error(400, 'EntityTooLarge', 'Your proposed upload exceeds the maximum allowed size', { MaxSizeAllowed: MAX_BODY_BYTES }));
        return;
      }
      hash.update(chunk);
    });
    req.on('aborted', () => fail(new Error('client aborted the upload')));
    req.on('error', fail);
    out.on('error', fail);
    out.on('finish', () => {
      if (!failed) resolve({ file, size, sha256: hash.digest('hex') });
    });
    req.pipe(out);
  });
}

function forward(req, res, cfg, body, log, requestId) {
  const headers = forwardHeaders(req.rawHeaders);
  if (body && body.file) {
    const filtered = [];
    for (let i = 0; i < headers.length; i += 2) {
      if (headers[i].toLowerCase() !== 'content-length') filtered.push(headers[i], headers[i + 1]);
    }
    headers.length = 0;
    headers.push(...filtered, 'Content-Length', String(body.size));
  } else if (req.headers['transfer-encoding'] !== undefined) {
    headers.push('Transfer-Encoding', 'chunked');
  }
  const upstream = http.request({
    host: cfg.upstream.host,
    port: cfg.upstream.port,
    method: req.method,
    path: req.url,
    headers,
    timeout: UPSTREAM_TIMEOUT_MS,
  });
  const done = () => body && body.file && fs.rm(body.file, { force: true }, () => {});
  upstream.on('timeout', () => upstream.destroy(new Error('upstream timeout')));
  upstream.on('error', err => {
    done();
    log.line(`upstream error for ${req.method} ${req.url}: ${err.message}`);
    if (!res.headersSent) {
      sendError(req, res, new S3Error(503, 'ServiceUnavailable', `The local S3 backend is unreachable: ${err.message}`), requestId);
    } else {
      res.destroy();
    }
  });
  upstream.on('response', up => {
    res.writeHead(up.statusCode, up.statusMessage, forwardHeaders(up.rawHeaders));
    pipeline(up, res, err => {
      done();
      if (err) log.line(`response stream for ${req.method} ${req.url} ended early: ${err.message}`);
    });
    log.access(req, up.statusCode);
  });
  res.on('close', () => {
    if (!res.writableFinished) upstream.destroy();
  });
  if (body && body.file) {
    pipeline(fs.createReadStream(body.file), upstream, () => {});
  } else if (hasBody(req)) {
    pipeline(req, upstream, () => {});
  } else {
    upstream.end();
  }
}

/* ----------------------------------------------------------- handling */

async function handle(req, res, cfg, log, expectsContinue) {
  const requestId = crypto.randomBytes(8).toString('hex').toUpperCase();
  try {
    if (req.method === 'OPTIONS') {
      /* CORS preflight: AWS answers it without a signature, so does s3rver. */
      forward(req, res, cfg, null, log, requestId);
      return;
    }
    verify(req, cfg, log);
    const wanted = payloadHash(req);
    const declared = req.headers['content-length'];
    if (declared !== undefined && Number(declared) > MAX_BODY_BYTES) {
      throw new S3Error(400, 'EntityTooLarge', 'Your proposed upload exceeds the maximum allowed size', { MaxSizeAllowed: MAX_BODY_BYTES });
    }
    if (expectsContinue) res.writeContinue();
    let body = null;
    /* Spool when the hash must be checked before s3rver stores anything, or
     * when the length is unknown (s3rver needs Content-Length on PUT). */
    if (hasBody(req) && (wanted !== null || declared === undefined)) {
      body = await spoolBody(req, cfg);
      if (wanted !== null && body.sha256 !== wanted) {
        fs.rm(body.file, { force: true }, () => {});
        throw new S3Error(400, 'XAmzContentSHA256Mismatch', "The provided 'x-amz-content-sha256' header does not match what was computed.", {
          ClientComputedContentSHA256: wanted,
          S3ComputedContentSHA256: body.sha256,
        });
      }
    } else if (!hasBody(req) && wanted !== null && wanted !== crypto.createHash('sha256').digest('hex')) {
      throw new S3Error(400, 'XAmzContentSHA256Mismatch', "The provided 'x-amz-content-sha256' header does not match what was computed.", {
        ClientComputedContentSHA256: wanted,
        S3ComputedContentSHA256: crypto.createHash('sha256').digest('hex'),
      });
    }
    forward(req, res, cfg, body, log, requestId);
  } catch (err) {
    if (!(err instanceof S3Error)) {
      log.line(`request ${req.method} ${req.url} failed: ${err.message}`);
      if (!res.headersSent && !res.destroyed) {
        sendError(req, res, new S3Error(500, 'InternalError', 'We encountered an internal error. Please try again.'), requestId);
      }
      return;
    }
    log.access(req, err.status, err.code);
    if (!res.headersSent && !res.destroyed) sendError(req, res, err, requestId);
  }
}

function makeLog() {
  const stamp = () => new Date().toISOString();
  return {
    line: msg => process.stderr.write(`${stamp()} s3-verify: ${msg}\n`),
    access: (req, status, code) =>
      process.stdout.write(`${stamp()} ${req.method} ${req.url.replace(/X-Amz-Signature=[0-9a-f]+/, 'X-Amz-Signature=...')} ${status}${code ? ' ' + code : ''}\n`),
    mismatch: (req, auth, expected) =>
      process.stderr.write(
        `${stamp()} s3-verify: SignatureDoesNotMatch for ${req.method} ${auth.rawPath}\n` +
          `  signature provided: ${auth.signature}\n` +
          `  signature expected: ${expected.signature}\n` +
          `----- expected canonical request -----\n${expected.canonicalRequest}\n` +
          `----- expected string to sign -----\n${expected.stringToSign}\n` +
          `--------------------------------------\n`,
      ),
  };
}

function main() {
  let cfg;
  try {
    cfg = readConfig(process.argv.slice(2), process.env);
    fs.mkdirSync(cfg.spoolDir, { recursive: true });
  } catch (e) {
    process.stderr.write(`s3-verify: ${e.message}\n`);
    process.exit(2);
  }
  const log = makeLog();
  const server = http.createServer((req, res) => handle(req, res, cfg, log, false));
  server.on('checkContinue', (req, res) => handle(req, res, cfg, log, true));
  server.on('clientError', (err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
  });
  server.on('error', err => {
    process.stderr.write(`s3-verify: cannot listen on ${cfg.listen.host}:${cfg.listen.port}: ${err.message}\n`);
    process.exit(1);
  });
  server.listen(cfg.listen.port, cfg.listen.host, () => {
    log.line(`listening on http://${cfg.listen.host}:${cfg.listen.port}/, verifying SigV4 (region ${cfg.region}) for s3rver at ${cfg.upstream.host}:${cfg.upstream.port}`);
  });
  const stop = signal => {
    log.line(`${signal}: stopping`);
    server.close(() => process.exit(0));
    server.closeIdleConnections();
    setTimeout(() => process.exit(0), SHUTDOWN_GRACE_MS).unref();
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main();
