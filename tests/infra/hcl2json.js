#!/usr/bin/env node
/*
 * hcl2json.js — parse Terraform files offline with @cdktf/hcl2json (the
 * HashiCorp HCL parser compiled to WebAssembly; the package is a JS API, not
 * a command) and write one JSON document per stack for policy.js.
 *
 * Usage: node tests/infra/hcl2json.js OUT.json FILE.tf|FILE.tfvars...
 *
 * OUT.json is {"files": {"<path>": <parsed>}}. Every file is reported on
 * stdout as a TAP-ish line ("ok - parse terraform/app/s3.tf" or "not ok -
 * ..." with the parser's message); the exit status is 1 if any failed.
 */
'use strict';

const fs = require('fs');
const path = require('path');

function loadParser() {
	const root = process.env.IOTD_SRCDIR || path.resolve(__dirname, '..', '..');
	return require(path.join(root, 'node_modules', '@cdktf', 'hcl2json')).parse;
}

async function main(argv) {
	if (argv.length < 2) {
		console.error('usage: hcl2json.js OUT.json FILE...');
		return 2;
	}
	const [out, ...files] = argv;
	const parse = loadParser();
	const result = { files: {} };
	let failed = 0;
	for (const file of files) {
		try {
			const text = fs.readFileSync(file, 'utf8');
			result.files[file] = await parse(path.basename(file), text);
			console.log(`ok - parse ${file}`);
		} catch (err) {
			failed++;
			const message = String(err && err.message ? err.message : err).replace(/\s+/g, ' ');
			console.log(`not ok - parse ${file}: ${message}`);
		}
	}
	fs.writeFileSync(out, JSON.stringify(result, null, 1));
	return failed ? 1 : 0;
}

main(process.argv.slice(2)).then(
	(code) => process.exit(code),
	(err) => {
		console.log(`not ok - hcl2json: ${err && err.stack ? err.stack : err}`);
		process.exit(1);
	},
);
