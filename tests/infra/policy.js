#!/usr/bin/env node
/*
 * policy.js — the security and availability properties the Terraform code
 * must keep, checked on the JSON that hcl2json.js made of it (no terraform
 * binary, no AWS account needed).
 *
 * Usage:
 *   node policy.js --stack app=app.json --stack base=base.json \
 *                  --env pre=pre.json --env pro=pro.json
 *   node policy.js ... --self-test     the same, then break the good config
 *                                      in targeted ways and require that
 *                                      each break is caught by its rule
 *   node policy.js ... --expect-fail RULE[,RULE]
 *                                      succeed only if these rules fail
 *                                      (used on tests/infra/fixtures/insecure)
 *
 * Output: one "ok - RULE: what" / "not ok - RULE: what: why" line per rule.
 *
 * Expressions are not evaluated in general. The code under terraform/ keeps
 * the checked attributes simple (literals, var.X, local.X, var.X ? A : B,
 * !var.X) and this file resolves exactly those against the environment's
 * .tfvars; anything else in a checked attribute is a failure ("cannot be
 * verified"), so the checks cannot be dodged by writing an expression.
 */
'use strict';

const fs = require('fs');

/* ------------------------------------------------------------------ */
/* Loading                                                             */
/* ------------------------------------------------------------------ */

/* Merge the per-file documents of one stack into one. */
function mergeStack(doc) {
	const stack = { resource: {}, data: {}, locals: {}, output: {}, variable: {}, module: {}, terraform: [] };
	for (const parsed of Object.values(doc.files)) {
		for (const kind of ['resource', 'data']) {
			for (const [type, byName] of Object.entries(parsed[kind] || {})) {
				stack[kind][type] = stack[kind][type] || {};
				for (const [name, blocks] of Object.entries(byName)) stack[kind][type][name] = blocks[0];
			}
		}
		for (const kind of ['output', 'variable', 'module']) {
			for (const [name, blocks] of Object.entries(parsed[kind] || {})) stack[kind][name] = blocks[0];
		}
		for (const block of parsed.locals || []) Object.assign(stack.locals, block);
		stack.terraform.push(...(parsed.terraform || []));
	}
	return stack;
}

/* An environment's .tfvars documents, merged into one name -> value map. */
function mergeVars(doc) {
	const vars = {};
	for (const parsed of Object.values(doc.files)) Object.assign(vars, parsed);
	return vars;
}

/* ------------------------------------------------------------------ */
/* Resolving the few expression shapes the Terraform code uses         */
/* ------------------------------------------------------------------ */

const UNKNOWN = { known: false };
const known = (value) => ({ known: true, value });

function literal(text) {
	text = text.trim();
	if (/^"[^"]*"$/.test(text)) return known(text.slice(1, -1));
	if (/^-?\d+(\.\d+)?$/.test(text)) return known(Number(text));
	if (text === 'true' || text === 'false') return known(text === 'true');
	return UNKNOWN;
}

/*
 * resolve(stack, vars, value) -> {known, value}. Strings that are exactly
 * "${EXPR}" are evaluated when EXPR is var.X, local.X, !var.X or
 * var.X ? LIT : LIT; other strings containing ${ are unknown.
 */
function resolve(stack, vars, value, depth = 0) {
	if (typeof value !== 'string') return known(value);
	const whole = /^\$\{([^]*)\}$/.exec(value);
	if (!whole) return value.includes('${') ? UNKNOWN : known(value);
	if (depth > 8) return UNKNOWN;
	const expr = whole[1].trim();
	let m;
	if ((m = /^var\.(\w+)$/.exec(expr))) return lookupVar(stack, vars, m[1]);
	if ((m = /^local\.(\w+)$/.exec(expr))) {
		return m[1] in stack.locals ? resolve(stack, vars, stack.locals[m[1]], depth + 1) : UNKNOWN;
	}
	if ((m = /^!\s*var\.(\w+)$/.exec(expr))) {
		const v = lookupVar(stack, vars, m[1]);
		return v.known && typeof v.value === 'boolean' ? known(!v.value) : UNKNOWN;
	}
	if ((m = /^var\.(\w+)\s*\?\s*(.+?)\s*:\s*(.+)$/.exec(expr))) {
		const cond = lookupVar(stack, vars, m[1]);
		if (!cond.known || typeof cond.value !== 'boolean') return UNKNOWN;
		return literal(cond.value ? m[2] : m[3]);
	}
	if ((m = /^var\.environment\s*==\s*"(\w+)"$/.exec(expr))) {
		const env = lookupVar(stack, vars, 'environment');
		return env.known ? known(env.value === m[1]) : UNKNOWN;
	}
	return UNKNOWN;
}

function lookupVar(stack, vars, name) {
	if (name in vars) return known(vars[name]);
	const decl = stack.variable[name];
	if (decl && 'default' in decl) return known(decl.default);
	return UNKNOWN;
}

/* Resolve a local reference like "${local.app_environment}" to its value. */
function deref(stack, value) {
	const m = typeof value === 'string' && /^\$\{local\.(\w+)\}$/.exec(value);
	return m && m[1] in stack.locals ? deref(stack, stack.locals[m[1]]) : value;
}

/* ------------------------------------------------------------------ */
/* Small helpers over the parsed tree                                  */
/* ------------------------------------------------------------------ */

const resources = (stack, type) => Object.entries(stack.resource[type] || {});
const block = (b, name) => (b && Array.isArray(b[name]) ? b[name][0] : b && b[name]) || undefined;
const blocks = (b, name) => (b && Array.isArray(b[name]) ? b[name] : b && b[name] ? [b[name]] : []);
const ref = (type, name, attr) => `\${${type}.${name}.${attr}}`;
const refsTo = (value, type, name) =>
	typeof value === 'string' && new RegExp(`\\b${type}\\.${name}\\b`).test(value);
const asList = (v) => (Array.isArray(v) ? v : v === undefined ? [] : [v]);

/* The statements of the data.aws_iam_policy_document a "policy" attribute names. */
function policyStatements(stack, policyAttr) {
	const m = typeof policyAttr === 'string' && /^\$\{data\.aws_iam_policy_document\.(\w+)\.json\}$/.exec(policyAttr);
	if (!m) return null;
	const doc = (stack.data.aws_iam_policy_document || {})[m[1]];
	return doc ? blocks(doc, 'statement') : null;
}

/* Container definitions reachable from a task definition. */
function containersOf(stack, taskDef) {
	const found = [];
	const seen = new Set();
	const visit = (text) => {
		for (const m of String(text).matchAll(/local\.(\w+)/g)) {
			if (seen.has(m[1])) continue;
			seen.add(m[1]);
			const value = stack.locals[m[1]];
			if (value && typeof value === 'object' && !Array.isArray(value) && 'image' in value) found.push({ local: m[1], def: value });
			else if (typeof value === 'string') visit(value);
		}
	};
	visit(taskDef.container_definitions);
	return found;
}

/* ------------------------------------------------------------------ */
/* The rules                                                           */
/* ------------------------------------------------------------------ */

/*
 * Each rule: (ctx) -> list of problems (strings); empty means it holds.
 * ctx = {app, base, env: {pre, pro}} (stacks merged, vars per environment).
 */
const RULES = [];
function rule(id, what, check) {
	RULES.push({ id, what, check });
}

const OPEN_CIDRS = ['0.0.0.0/0', '::/0'];

function securityGroupsOf(stack) {
	const albSgs = new Set();
	for (const [, lb] of resources(stack, 'aws_lb')) {
		for (const sg of asList(lb.security_groups)) albSgs.add(sg.replace(/\.id\}$/, '}'));
	}
	return albSgs;
}

rule('open-ingress', 'no 0.0.0.0/0 or ::/0 ingress except the ALB on 80 and 443', (ctx) => {
	const problems = [];
	for (const [stackName, stack] of Object.entries(ctx.stacks)) {
		const albSgs = securityGroupsOf(stack);
		const allowed = (sgRef, from, to) =>
			albSgs.has(String(sgRef).replace(/\.id\}$/, '}')) && from === to && (from === 80 || from === 443);
		for (const [name, r] of resources(stack, 'aws_vpc_security_group_ingress_rule')) {
			const open = OPEN_CIDRS.includes(r.cidr_ipv4) || OPEN_CIDRS.includes(r.cidr_ipv6);
			if (open && !allowed(r.security_group_id, r.from_port, r.to_port))
				problems.push(`${stackName}: aws_vpc_security_group_ingress_rule.${name} opens ${r.from_port}-${r.to_port} to the internet`);
			if (!open && !r.referenced_security_group_id && !r.prefix_list_id && (r.cidr_ipv4 || r.cidr_ipv6) === undefined)
				problems.push(`${stackName}: aws_vpc_security_group_ingress_rule.${name} has no source`);
		}
		for (const [name, r] of resources(stack, 'aws_security_group_rule')) {
			if (r.type !== 'ingress') continue;
			const open = asList(r.cidr_blocks).concat(asList(r.ipv6_cidr_blocks)).some((c) => OPEN_CIDRS.includes(c));
			if (open && !allowed(r.security_group_id, r.from_port, r.to_port))
				problems.push(`${stackName}: aws_security_group_rule.${name} opens ${r.from_port}-${r.to_port} to the internet`);
		}
		for (const [name, sg] of resources(stack, 'aws_security_group')) {
			for (const ing of blocks(sg, 'ingress')) {
				const open = asList(ing.cidr_blocks).concat(asList(ing.ipv6_cidr_blocks)).some((c) => OPEN_CIDRS.includes(c));
				if (open && !(albSgs.has(ref('aws_security_group', name, 'id').replace(/\.id\}$/, '}')) && ing.from_port === ing.to_port && [80, 443].includes(ing.from_port)))
					problems.push(`${stackName}: aws_security_group.${name} has an inline ingress open to the internet on ${ing.from_port}-${ing.to_port}`);
			}
		}
	}
	return problems;
});

rule('tiers', 'tasks accept only the ALB, the database only the tasks', (ctx) => {
	const app = ctx.stacks.app;
	const problems = [];
	const sgOf = (value) => String(value).replace(/\.id\}$/, '}');
	const albSgs = securityGroupsOf(app);
	const taskSgs = new Set();
	for (const [, svc] of resources(app, 'aws_ecs_service'))
		for (const sg of asList(block(svc, 'network_configuration') && block(svc, 'network_configuration').security_groups)) taskSgs.add(sgOf(sg));
	const dbSgs = new Set();
	for (const [, db] of resources(app, 'aws_db_instance')) for (const sg of asList(db.vpc_security_group_ids)) dbSgs.add(sgOf(sg));
	if (!albSgs.size || !taskSgs.size || !dbSgs.size) return ['could not find the ALB, service and database security groups'];
	for (const [name, r] of resources(app, 'aws_vpc_security_group_ingress_rule')) {
		const target = sgOf(r.security_group_id);
		const source = r.referenced_security_group_id && sgOf(r.referenced_security_group_id);
		if (taskSgs.has(target) && !(source && albSgs.has(source)))
			problems.push(`ingress rule ${name} lets something other than the ALB reach the tasks`);
		if (dbSgs.has(target) && !(source && taskSgs.has(source) && r.from_port === 5432 && r.to_port === 5432))
			problems.push(`ingress rule ${name} lets something other than the tasks (on 5432) reach the database`);
	}
	return problems;
});

/* The bucket-level resources that point at one bucket. */
function bucketParts(stack, bucketName, type) {
	return resources(stack, type).filter(([, r]) => refsTo(r.bucket, 'aws_s3_bucket', bucketName));
}

rule('bucket-private', 'every bucket blocks public access, is encrypted and refuses plain HTTP', (ctx) => {
	const problems = [];
	for (const [stackName, stack] of Object.entries(ctx.stacks)) {
		for (const [name] of resources(stack, 'aws_s3_bucket')) {
			const id = `${stackName}: aws_s3_bucket.${name}`;
			const pab = bucketParts(stack, name, 'aws_s3_bucket_public_access_block');
			const flags = ['block_public_acls', 'block_public_policy', 'ignore_public_acls', 'restrict_public_buckets'];
			if (!pab.length || !flags.every((f) => pab[0][1][f] === true)) problems.push(`${id}: public access not fully blocked`);
			const sse = bucketParts(stack, name, 'aws_s3_bucket_server_side_encryption_configuration');
			const algo = sse.length && block(block(block(sse[0][1], 'rule'), 'apply_server_side_encryption_by_default'), 'sse_algorithm');
			const byDefault = sse.length && block(block(sse[0][1], 'rule'), 'apply_server_side_encryption_by_default');
			if (!byDefault || !['AES256', 'aws:kms', 'aws:kms:dsse'].includes(byDefault.sse_algorithm || algo))
				problems.push(`${id}: no default encryption`);
			const policies = bucketParts(stack, name, 'aws_s3_bucket_policy');
			const statements = policies.length ? policyStatements(stack, policies[0][1].policy) : null;
			const sslOnly = (statements || []).some(
				(s) =>
					s.effect === 'Deny' &&
					asList(s.actions).some((a) => a === 's3:*') &&
					blocks(s, 'condition').some(
						(c) => c.test === 'Bool' && c.variable === 'aws:SecureTransport' && asList(c.values).includes('false'),
					),
			);
			if (!sslOnly) problems.push(`${id}: no bucket policy denying requests without TLS (aws:SecureTransport)`);
			for (const s of statements || []) {
				const everyone = blocks(s, 'principals').some((p) => asList(p.identifiers).includes('*'));
				if ((s.effect || 'Allow') === 'Allow' && everyone) problems.push(`${id}: bucket policy allows everyone`);
			}
			for (const [aclName, acl] of bucketParts(stack, name, 'aws_s3_bucket_acl'))
				if (/public/.test(String(acl.acl))) problems.push(`${id}: public ACL in aws_s3_bucket_acl.${aclName}`);
		}
	}
	return problems;
});

rule('bucket-versioning-pro', 'the image bucket is versioned in pro', (ctx) => {
	const app = ctx.stacks.app;
	const problems = [];
	for (const [name] of resources(app, 'aws_s3_bucket')) {
		const v = bucketParts(app, name, 'aws_s3_bucket_versioning');
		if (!v.length) {
			problems.push(`aws_s3_bucket.${name} has no versioning resource`);
			continue;
		}
		const status = resolve(app, ctx.env.pro, block(v[0][1], 'versioning_configuration').status);
		if (!status.known) problems.push(`aws_s3_bucket.${name}: versioning status cannot be verified`);
		else if (status.value !== 'Enabled') problems.push(`aws_s3_bucket.${name}: versioning is ${status.value} in pro`);
	}
	return problems;
});

rule('database', 'RDS PostgreSQL 15: private, encrypted, in the database subnets, TLS forced, password in Secrets Manager', (ctx) => {
	const app = ctx.stacks.app;
	const problems = [];
	const dbs = resources(app, 'aws_db_instance');
	if (!dbs.length) return ['no aws_db_instance'];
	for (const [name, db] of dbs) {
		const id = `aws_db_instance.${name}`;
		for (const [envName, vars] of Object.entries(ctx.env)) {
			const pub = resolve(app, vars, db.publicly_accessible);
			if (!pub.known || pub.value !== false) problems.push(`${id}: publicly_accessible is not false in ${envName}`);
			const enc = resolve(app, vars, db.storage_encrypted);
			if (!enc.known || enc.value !== true) problems.push(`${id}: storage_encrypted is not true in ${envName}`);
		}
		if (db.engine !== 'postgres' || !/^15(\.|$)/.test(String(db.engine_version))) problems.push(`${id}: not PostgreSQL 15`);
		if (!/database_subnet_group|aws_db_subnet_group/.test(String(db.db_subnet_group_name)))
			problems.push(`${id}: not placed in the database subnet group`);
		if (db.manage_master_user_password !== true) problems.push(`${id}: master password not managed by Secrets Manager`);
		if ('password' in db) problems.push(`${id}: sets a password in Terraform`);
		const pgName = /aws_db_parameter_group\.(\w+)/.exec(String(db.parameter_group_name));
		const pg = pgName && (app.resource.aws_db_parameter_group || {})[pgName[1]];
		const forceSsl = pg && blocks(pg, 'parameter').some((p) => p.name === 'rds.force_ssl' && String(p.value) === '1');
		if (!forceSsl) problems.push(`${id}: parameter group does not set rds.force_ssl=1`);
	}
	return problems;
});

rule('database-pro', 'pro: Multi-AZ database with 7 days of backups', (ctx) => {
	const app = ctx.stacks.app;
	const problems = [];
	for (const [name, db] of resources(app, 'aws_db_instance')) {
		const multiAz = resolve(app, ctx.env.pro, db.multi_az);
		if (!multiAz.known || multiAz.value !== true) problems.push(`aws_db_instance.${name}: multi_az is not true in pro`);
		const days = resolve(app, ctx.env.pro, db.backup_retention_period);
		if (!days.known || !(days.value >= 7)) problems.push(`aws_db_instance.${name}: backup_retention_period < 7 in pro`);
	}
	return problems;
});

const SECRET_NAME = /PASSWORD|SECRET|TOKEN|PRIVATE_KEY|ACCESS_KEY|CREDENTIAL/i;
const SECRET_SOURCE = /random_password|secret_string|master_user_secret|secretsmanager_secret_version|\.password\b/;

rule('no-plain-secrets', 'no secret in outputs or in plain container environment', (ctx) => {
	const problems = [];
	for (const [stackName, stack] of Object.entries(ctx.stacks)) {
		for (const [name, out] of Object.entries(stack.output)) {
			if (SECRET_SOURCE.test(JSON.stringify(out.value))) problems.push(`${stackName}: output ${name} exposes a secret`);
			if (/password|secret/i.test(name)) problems.push(`${stackName}: output ${name} is named like a secret`);
		}
	}
	const app = ctx.stacks.app;
	const defs = resources(app, 'aws_ecs_task_definition');
	if (!defs.length) problems.push('no aws_ecs_task_definition');
	let pgPasswordAsSecret = false;
	for (const [tdName, td] of defs) {
		const containers = containersOf(app, td);
		if (!containers.length) problems.push(`aws_ecs_task_definition.${tdName}: container definitions cannot be read`);
		for (const { local, def } of containers) {
			const env = deref(app, def.environment);
			if (def.environment !== undefined && !Array.isArray(env)) {
				problems.push(`local.${local}: environment cannot be verified`);
				continue;
			}
			for (const entry of env || []) {
				if (SECRET_NAME.test(entry.name)) problems.push(`local.${local}: ${entry.name} is plain environment`);
				if (SECRET_SOURCE.test(String(entry.value))) problems.push(`local.${local}: ${entry.name} carries a secret value`);
			}
			for (const entry of asList(deref(app, def.secrets))) {
				if (!/secretsmanager|ssm_parameter|secret_arn|_secret\./.test(String(entry.valueFrom)))
					problems.push(`local.${local}: secret ${entry.name} does not come from Secrets Manager or SSM`);
				if (entry.name === 'PGPASSWORD' && /master_user_secret|db_secret_arn/.test(String(entry.valueFrom) + JSON.stringify(app.locals)))
					pgPasswordAsSecret = true;
			}
		}
	}
	if (!pgPasswordAsSecret) problems.push('PGPASSWORD is not injected from the RDS-managed secret');
	return problems;
});

rule('task-role', 'the task role reaches only the image bucket: objects under the prefix, listing of the bucket', (ctx) => {
	const app = ctx.stacks.app;
	const problems = [];
	const objectActions = new Set(['s3:GetObject', 's3:PutObject', 's3:DeleteObject']);
	for (const [tdName, td] of resources(app, 'aws_ecs_task_definition')) {
		const role = /aws_iam_role\.(\w+)\.arn/.exec(String(td.task_role_arn));
		if (!role) {
			problems.push(`aws_ecs_task_definition.${tdName}: no task role`);
			continue;
		}
		const roleName = role[1];
		for (const [name, att] of resources(app, 'aws_iam_role_policy_attachment'))
			if (refsTo(att.role, 'aws_iam_role', roleName)) problems.push(`task role has managed policy ${name} attached`);
		const inline = resources(app, 'aws_iam_role_policy').filter(([, p]) => refsTo(p.role, 'aws_iam_role', roleName));
		if (!inline.length) problems.push(`task role ${roleName} has no policy`);
		for (const [pName, p] of inline) {
			const statements = policyStatements(app, p.policy);
			if (!statements) {
				problems.push(`aws_iam_role_policy.${pName}: policy cannot be verified`);
				continue;
			}
			for (const s of statements) {
				if ((s.effect || 'Allow') !== 'Allow') continue;
				const actions = asList(s.actions);
				const res = asList(s.resources);
				for (const a of actions) {
					if (objectActions.has(a)) {
						for (const r of res)
							if (!/^\$\{aws_s3_bucket\.\w+\.arn\}\/.+\*$/.test(r) || /\}\/\*$/.test(r))
								problems.push(`aws_iam_role_policy.${pName}: ${a} on ${r} is not limited to a prefix of the bucket`);
					} else if (a === 's3:ListBucket') {
						for (const r of res)
							if (!/^\$\{aws_s3_bucket\.\w+\.arn\}$/.test(r)) problems.push(`aws_iam_role_policy.${pName}: s3:ListBucket on ${r}`);
						if (!blocks(s, 'condition').some((c) => c.variable === 's3:prefix'))
							problems.push(`aws_iam_role_policy.${pName}: s3:ListBucket without an s3:prefix condition`);
					} else {
						problems.push(`aws_iam_role_policy.${pName}: action ${a} is not allowed for the task role`);
					}
				}
			}
		}
	}
	return problems;
});

rule('https-only', 'the ALB redirects HTTP to HTTPS and forwards only over HTTPS', (ctx) => {
	const app = ctx.stacks.app;
	const problems = [];
	let redirect = false;
	const listeners = resources(app, 'aws_lb_listener');
	for (const [name, l] of listeners) {
		const action = block(l, 'default_action') || {};
		if (l.protocol === 'HTTP') {
			const r = block(action, 'redirect');
			if (action.type === 'redirect' && r && r.protocol === 'HTTPS' && String(r.port) === '443') redirect = true;
			else problems.push(`aws_lb_listener.${name}: HTTP listener does not redirect to HTTPS`);
		} else if (l.protocol === 'HTTPS') {
			if (!l.certificate_arn || !l.ssl_policy) problems.push(`aws_lb_listener.${name}: HTTPS without certificate or ssl_policy`);
		} else problems.push(`aws_lb_listener.${name}: protocol ${l.protocol}`);
	}
	if (!redirect) problems.push('no HTTP -> HTTPS redirect listener');
	for (const [name, tg] of resources(app, 'aws_lb_target_group'))
		if ((block(tg, 'health_check') || {}).path !== '/healthz') problems.push(`aws_lb_target_group.${name}: health check is not /healthz`);
	return problems;
});

rule('safe-rollout', 'services roll back on failed deployments; pro runs at least 2 tasks', (ctx) => {
	const app = ctx.stacks.app;
	const problems = [];
	const services = resources(app, 'aws_ecs_service');
	if (!services.length) return ['no aws_ecs_service'];
	for (const [name, svc] of services) {
		const cb = block(svc, 'deployment_circuit_breaker');
		if (!cb || cb.enable !== true || cb.rollback !== true) problems.push(`aws_ecs_service.${name}: circuit breaker with rollback is off`);
		const desired = resolve(app, ctx.env.pro, svc.desired_count);
		if (!desired.known || !(desired.value >= 2)) problems.push(`aws_ecs_service.${name}: desired_count < 2 in pro`);
	}
	const targets = resources(app, 'aws_appautoscaling_target');
	if (!targets.length) problems.push('no autoscaling target');
	for (const [name, t] of targets) {
		const min = resolve(app, ctx.env.pro, t.min_capacity);
		if (!min.known || !(min.value >= 2)) problems.push(`aws_appautoscaling_target.${name}: min_capacity < 2 in pro`);
	}
	const scaling = resources(app, 'aws_appautoscaling_policy').some(([, p]) => {
		const spec = block(block(p, 'target_tracking_scaling_policy_configuration'), 'predefined_metric_specification');
		return spec && spec.predefined_metric_type === 'ALBRequestCountPerTarget';
	});
	if (!scaling) problems.push('no target tracking on ALBRequestCountPerTarget');
	return problems;
});

rule('task-shape', 'nginx waits for a HEALTHY app; both log to CloudWatch with retention; graceful stop', (ctx) => {
	const app = ctx.stacks.app;
	const problems = [];
	const [, td] = resources(app, 'aws_ecs_task_definition').find(([, t]) => containersOf(app, t).length === 2) || [];
	if (!td) return ['no task definition with two containers'];
	const containers = Object.fromEntries(containersOf(app, td).map((c) => [c.def.name, c.def]));
	const nginx = containers.nginx;
	const appC = containers.app;
	if (!nginx || !appC) return ['containers must be named app and nginx'];
	if (!asList(nginx.dependsOn).some((d) => d.containerName === 'app' && d.condition === 'HEALTHY'))
		problems.push('nginx does not wait for app to be HEALTHY');
	if (!asList(nginx.portMappings).some((p) => p.containerPort === 8080)) problems.push('nginx does not expose 8080');
	if (!appC.healthCheck || !asList(appC.healthCheck.command).includes('healthcheck')) problems.push('app has no `iotd healthcheck` health check');
	for (const c of [nginx, appC]) {
		if (!(Number(resolve(app, ctx.env.pro, c.stopTimeout).value) >= 25)) problems.push(`${c.name}: stopTimeout below the app's grace period`);
		if (!c.logConfiguration || c.logConfiguration.logDriver !== 'awslogs') problems.push(`${c.name}: not logging with awslogs`);
	}
	const env = deref(app, appC.environment) || [];
	const get = (n) => (env.find((e) => e.name === n) || {}).value;
	if (get('PGSSLMODE') !== 'verify-full' || !/rds-global-bundle\.pem/.test(String(resolve(app, ctx.env.pro, get('PGSSLROOTCERT')).value)))
		problems.push('app does not connect with PGSSLMODE=verify-full against the bundled RDS CA');
	for (const [name, lg] of resources(app, 'aws_cloudwatch_log_group'))
		if (!lg.retention_in_days) problems.push(`aws_cloudwatch_log_group.${name}: no retention`);
	return problems;
});

rule('described', 'every variable and output has a description', (ctx) => {
	const problems = [];
	for (const [stackName, stack] of Object.entries(ctx.stacks)) {
		for (const kind of ['variable', 'output'])
			for (const [name, b] of Object.entries(stack[kind]))
				if (!b.description) problems.push(`${stackName}: ${kind} ${name} has no description`);
	}
	return problems;
});

rule('remote-state', 'state in S3, encrypted and locked', (ctx) => {
	const problems = [];
	for (const stackName of ['base', 'app']) {
		const stack = ctx.stacks[stackName];
		if (!stack) continue;
		const backend = stack.terraform.map((t) => block(t, 'backend')).find(Boolean);
		const s3 = backend && block(backend, 's3');
		if (!s3) problems.push(`${stackName}: no s3 backend`);
		else if (s3.encrypt !== true || !(s3.use_lockfile === true || s3.dynamodb_table))
			problems.push(`${stackName}: s3 backend without encryption or locking`);
	}
	return problems;
});

/* ------------------------------------------------------------------ */
/* Running                                                             */
/* ------------------------------------------------------------------ */

function runRules(ctx, quiet) {
	const failed = new Set();
	for (const r of RULES) {
		let problems;
		try {
			problems = r.check(ctx);
		} catch (err) {
			problems = [`rule crashed: ${err.message}`];
		}
		if (problems.length) failed.add(r.id);
		if (!quiet) {
			if (problems.length) {
				console.log(`not ok - ${r.id}: ${r.what}`);
				for (const p of problems) console.log(`#   ${p}`);
			} else console.log(`ok - ${r.id}: ${r.what}`);
		}
	}
	return failed;
}

/*
 * Targeted breaks of the real configuration; each must trip its rule and
 * only that proves the rule can fail.
 */
const MUTATIONS = [
	['open-ingress', 'ssh open to the world on the ALB', (c) => {
		c.stacks.app.resource.aws_vpc_security_group_ingress_rule.ssh = {
			security_group_id: '${aws_security_group.alb.id}', ip_protocol: 'tcp', from_port: 22, to_port: 22, cidr_ipv4: '0.0.0.0/0',
		};
	}],
	['tiers', 'database reachable from the ALB', (c) => {
		c.stacks.app.resource.aws_vpc_security_group_ingress_rule.database_from_tasks.referenced_security_group_id = '${aws_security_group.alb.id}';
	}],
	['bucket-private', 'public access block relaxed', (c) => {
		c.stacks.app.resource.aws_s3_bucket_public_access_block.images.restrict_public_buckets = false;
	}],
	['bucket-private', 'TLS-only statement dropped', (c) => {
		c.stacks.app.data.aws_iam_policy_document.images_bucket.statement = [];
	}],
	['bucket-versioning-pro', 'versioning off in pro', (c) => {
		c.env.pro.bucket_versioning = false;
	}],
	['database', 'database made public', (c) => {
		c.stacks.app.resource.aws_db_instance.main.publicly_accessible = true;
	}],
	['database', 'storage not encrypted', (c) => {
		c.stacks.app.resource.aws_db_instance.main.storage_encrypted = '${var.encrypt_if_you_like}';
	}],
	['database', 'password in Terraform', (c) => {
		const db = c.stacks.app.resource.aws_db_instance.main;
		delete db.manage_master_user_password;
		db.password = '${random_password.db.result}';
	}],
	['database-pro', 'single-AZ pro', (c) => {
		c.env.pro.db_multi_az = false;
	}],
	['database-pro', 'one day of backups in pro', (c) => {
		c.env.pro.db_backup_retention_days = 1;
	}],
	['no-plain-secrets', 'password in an output', (c) => {
		c.stacks.app.output.db = { description: 'x', value: '${aws_db_instance.main.master_user_secret[0].secret_arn}' };
	}],
	['no-plain-secrets', 'password in plain environment', (c) => {
		c.stacks.app.locals.app_environment = c.stacks.app.locals.app_environment.concat([{ name: 'PGPASSWORD', value: '${random_password.db.result}' }]);
	}],
	['task-role', 'task role on the whole bucket', (c) => {
		c.stacks.app.data.aws_iam_policy_document.task_images.statement[0].resources = ['${aws_s3_bucket.images.arn}/*'];
	}],
	['task-role', 's3:* for the task role', (c) => {
		c.stacks.app.data.aws_iam_policy_document.task_images.statement[0].actions = ['s3:*'];
	}],
	['https-only', 'HTTP forwarded instead of redirected', (c) => {
		c.stacks.app.resource.aws_lb_listener.http.default_action = [{ type: 'forward', target_group_arn: 'x' }];
	}],
	['safe-rollout', 'no rollback', (c) => {
		c.stacks.app.resource.aws_ecs_service.main.deployment_circuit_breaker = [{ enable: true, rollback: false }];
	}],
	['safe-rollout', 'one task in pro', (c) => {
		c.env.pro.min_tasks = 1;
	}],
	['task-shape', 'nginx starts before app is healthy', (c) => {
		c.stacks.app.locals.nginx_container.dependsOn = [{ containerName: 'app', condition: 'START' }];
	}],
	['described', 'undocumented variable', (c) => {
		c.stacks.app.variable.mystery = { type: '${string}' };
	}],
	['remote-state', 'no locking', (c) => {
		const backend = c.stacks.app.terraform.map((t) => t.backend).find(Boolean);
		delete backend.s3[0].use_lockfile;
	}],
];

function selfTest(ctx) {
	let failures = 0;
	for (const [ruleId, what, mutate] of MUTATIONS) {
		const copy = JSON.parse(JSON.stringify(ctx));
		let failed;
		try {
			mutate(copy);
			failed = runRules(copy, true);
		} catch (err) {
			failed = new Set([`crash: ${err.message}`]);
		}
		const onlyIt = failed.size === 1 && failed.has(ruleId);
		if (onlyIt) console.log(`ok - self-test: ${what} is caught by ${ruleId}`);
		else {
			failures++;
			console.log(`not ok - self-test: ${what} should fail ${ruleId} only, failed: ${[...failed].join(', ') || 'nothing'}`);
		}
	}
	return failures;
}

function main(argv) {
	const ctx = { stacks: {}, env: {} };
	let self = false;
	let expectFail = null;
	for (let i = 0; i < argv.length; i++) {
		const arg = argv[i];
		if (arg === '--self-test') self = true;
		else if (arg === '--expect-fail') expectFail = argv[++i].split(',');
		else if (arg === '--stack' || arg === '--env') {
			const [name, file] = argv[++i].split('=');
			const doc = JSON.parse(fs.readFileSync(file, 'utf8'));
			if (arg === '--stack') ctx.stacks[name] = mergeStack(doc);
			else ctx.env[name] = mergeVars(doc);
		} else {
			console.error(`policy.js: unknown argument ${arg}`);
			return 2;
		}
	}
	if (!ctx.stacks.app || !ctx.env.pre || !ctx.env.pro) {
		console.error('policy.js: need --stack app=... --env pre=... --env pro=...');
		return 2;
	}
	if (expectFail) {
		const failed = runRules(ctx, true);
		let bad = 0;
		for (const id of expectFail) {
			if (failed.has(id)) console.log(`ok - insecure fixture fails ${id}`);
			else {
				bad++;
				console.log(`not ok - insecure fixture should fail ${id} but passes`);
			}
		}
		return bad ? 1 : 0;
	}
	const failed = runRules(ctx, false);
	const selfFailures = self ? selfTest(ctx) : 0;
	return failed.size || selfFailures ? 1 : 0;
}

process.exit(main(process.argv.slice(2)));
