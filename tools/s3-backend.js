#!/usr/bin/env node
/*
 * s3-backend.js — runs s3rver, the storage behind the local S3.
 *
 * s3rver's own command line cannot register an access key, and without one it
 * treats our (already verified) requests as anonymous and refuses presigned
 * GETs with response-* overrides. So it is started here: the configured key
 * id is attached to s3rver's built-in account, path-style addressing only,
 * listening on an internal address that only tools/s3-verify.js talks to.
 * s3rver itself checks no SigV4 signature; that is s3-verify.js's job.
 *
 * Usage: node s3-backend.js --directory DIR --address HOST --port PORT
 * Key id from the environment: S3_VERIFY_ACCESS_KEY_ID.
 */
'use strict';

const S3rver = require('s3rver');
const AWSAccount = require('s3rver/lib/models/account');

function readOptions(argv) {
  const opts = {};
  for (let i = 0; i < argv.length; i += 2) {
    const [flag, value] = [argv[i], argv[i + 1]];
    if (value === undefined) throw new Error(`missing value for ${flag}`);
    if (flag === '--directory') opts.directory = value;
    else if (flag === '--address') opts.address = value;
    else if (flag === '--port') opts.port = Number(value);
    else throw new Error(`unknown option ${flag}`);
  }
  if (!opts.directory || !opts.address || !Number.isInteger(opts.port)) {
    throw new Error('--directory, --address and --port are required');
  }
  return opts;
}

async function main() {
  const opts = readOptions(process.argv.slice(2));
  const keyId = process.env.S3_VERIFY_ACCESS_KEY_ID;
  if (!keyId) throw new Error('S3_VERIFY_ACCESS_KEY_ID must be set');
  /* The secret is not needed: s3rver does not check V4 signatures. */
  AWSAccount.DUMMY_ACCOUNT.createKeyPair(keyId, 'verified-by-s3-verify');

  const server = new S3rver({ ...opts, vhostBuckets: false, silent: false });
  const { address, port } = await server.run();
  process.stderr.write(`s3-backend: s3rver listening on ${address}:${port}, data in ${opts.directory}\n`);

  const stop = signal => {
    process.stderr.write(`s3-backend: ${signal}: stopping\n`);
    server.close(() => process.exit(0));
    setTimeout(() => process.exit(0), 2000).unref();
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch(err => {
  process.stderr.write(`s3-backend: ${err.message}\n`);
  process.exit(1);
});
