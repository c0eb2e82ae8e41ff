// plugins_sandbox.test.mjs - the plugin sandbox from the outside. The test instance serves
// tests/plugins/hostile, which tries every escape of the sandbox checklist
// (../shared/design/PLUGINS.md), and tests/plugins/friendly, a well-behaved neighbour.
// Each hostile route is called and the escape must be contained: what it reports is nil or
// refused; loops, bombs and bad results end in a clean 500 within the CPU budget, logged with
// the plugin id (and traceback) but showing nothing of it to the client; and meanwhile, and
// afterwards, the portal and the friendly plugin keep answering.
//
// Environment (set by `scripts/portal test`): PORTAL_URL; PORTAL_VAR (the instance folder:
// its log/portald.log is read); PORTAL_BIN and PORTAL_CONF (colon-separated config files) to
// run `portald jobs run hourly` for the hooks and jobs.
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { get, assertHealthy, assertJsonError, assertHtmlError, header, sleep, waitFor } from './lib.mjs';

const H = '/api/p/hostile';
const PING = '/api/p/friendly/ping';

// --- the instance's configuration and log

const confFiles = (process.env.PORTAL_CONF ?? '').split(':').filter(Boolean);

// The value of key in the config files (later files win; PORTAL_<KEY> wins over both).
function confValue(key, fallback) {
	let v = fallback;
	for (const f of confFiles) {
		let text = '';
		try {
			text = fs.readFileSync(f, 'utf8');
		} catch {
			continue;
		}
		for (const line of text.split('\n')) {
			const m = /^\s*([a-z_]+)\s*=\s*(.*?)\s*$/.exec(line);
			if (m && m[1] === key) v = m[2];
		}
	}
	return process.env[`PORTAL_${key.toUpperCase()}`] ?? v;
}

const CPU_MS = Number(confValue('plugin_cpu_ms', '500')) || 500;
// Slack over the budget for the sanitizer build, nginx and a busy machine.
const SLACK_MS = 4000;

const LOG = path.join(
	process.env.PORTAL_VAR ?? path.resolve(import.meta.dirname ?? '.', '../../var'), 'log', 'portald.log');

function logSize() {
	try {
		return fs.statSync(LOG).size;
	} catch {
		return 0;
	}
}

// Lines portald logged since offset.
function logSince(offset) {
	try {
		const b = fs.readFileSync(LOG);
		return b.subarray(Math.min(offset, b.length)).toString('utf8').split('\n');
	} catch {
		return [];
	}
}

// The first line since offset containing every needle (waits up to 3 s for it).
async function logLine(offset, ...needles) {
	return waitFor(() => logSince(offset).find((l) => needles.every((n) => l.includes(n))), 3000);
}

// --- requests

// Every request of this file gives up after this long: a sandbox that let a loop escape
// would otherwise hang the whole suite instead of failing a test.
const REQ_MS = CPU_MS + SLACK_MS + 5000;
const T = { timeout: 4 * REQ_MS };

function getT(p) {
	return get(p, { signal: AbortSignal.timeout(REQ_MS) });
}

async function json(p) {
	const r = await getT(p);
	assert.equal(r.status, 200, `${p} answered ${r.status}: ${r.body.slice(0, 300)}`);
	assert.match(header(r, 'content-type'), /^application\/json/i);
	return JSON.parse(r.body);
}

async function timed(p) {
	const t0 = Date.now();
	const r = await getT(p);
	return { r, ms: Date.now() - t0 };
}

// Nothing of the plugin's code, error or traceback reaches the client.
function assertNothingLeaks(r) {
	assert.doesNotMatch(r.body, /traceback|plugin\.lua|hostile-|\.lua:\d+|CPU budget|not enough memory/i,
		`the body tells nothing about the failure: ${r.body.slice(0, 300)}`);
}

// A clean 500: the /api/ JSON error shape, nothing leaked, the server still healthy.
async function assertClean500(r) {
	assertJsonError(r, 500);
	assertNothingLeaks(r);
	await assertHealthy();
}

// An attempt the plugin reported as { ok, err }: it failed.
function refused(attempt, what) {
	assert.equal(typeof attempt, 'object', `${what}: reported`);
	assert.equal(attempt.ok, false, `${what} must fail, but succeeded`);
	assert.equal(typeof attempt.err, 'string', `${what}: an error message`);
}

// --- tests

test('both test plugins are served', T, async () => {
	const ping = await json(PING);
	assert.equal(ping.ok, true);
	assert.equal(ping.plugin, 'friendly');
	const env = await json(`${H}/env`);
	assert.equal(env.require_own, 'probe', 'the hostile plugin can require its own module');
});

test('checklist 2: the environment is built from an allowlist', T, async () => {
	const env = await json(`${H}/env`);
	for (const name of ['io', 'package', 'debug', 'load', 'loadfile', 'dofile', 'loadstring', 'collectgarbage',
		'rawset', 'rawget', 'string_dump', 'dump_method', 'os_execute', 'os_getenv', 'os_exit', 'os_remove']) {
		assert.equal(env[name], 'nil', `${name} is not available (got ${env[name]})`);
	}
	assert.equal(env.os_keys, 'clock,date,difftime,time', 'os has only time, clock, date, difftime');
	assert.equal(env.string_metatable, 'boolean', 'getmetatable("") hides the string metatable');
	assert.equal(env.globals,
		'_G,_VERSION,assert,coroutine,error,getmetatable,hostile_global,ipairs,math,next,os,pairs,pcall,portal,' +
		'print,rawequal,rawlen,require,select,setmetatable,string,table,tonumber,tostring,type,utf8,xpcall',
		'the globals are the allowlist, portal and what the plugin set itself');
	for (const k of ['require_os', 'require_io', 'require_debug', 'require_passwd', 'require_dotdot',
		'require_absolute']) {
		refused(env[k], k);
	}
	refused(env.gc_metatable, 'a __gc metamethod (it would run outside any budget)');
});

test('checklist 3: a bytecode file cannot be loaded', T, async () => {
	const env = await json(`${H}/env`);
	refused(env.require_bytecode, 'require of a binary chunk');
	assert.match(env.require_bytecode.err, /binary chunk/);
});

test('checklist 1: plugins share no globals and no string methods', T, async () => {
	const env = await json(`${H}/env`);
	assert.equal(env.upper, 'PWNED BY HOSTILE', 'the hostile plugin patched string.upper in its own state');
	// several pings: the workers each have their own states, try to reach more than one
	for (let i = 0; i < 8; i++) {
		const ping = await json(PING);
		assert.equal(ping.upper, 'X', 'the friendly plugin\'s ("x"):upper() is untouched');
		assert.equal(ping.hostile_global, 'nil', 'the friendly plugin does not see the hostile plugin\'s globals');
	}
});

// Whether a loop was stopped by its CPU budget is read from the log line the host writes (no
// wall-clock assertion: these machines are noisy); the time taken is reported only.
test('checklist 5: an endless loop is stopped after the CPU budget, with a clean 500', T, async (t) => {
	for (const route of ['/loop', '/pcall_loop', '/xpcall_loop', '/coroutine_loop', '/pattern_bomb', '/table_bomb']) {
		const offset = logSize();
		const { r, ms } = await timed(H + route);
		t.diagnostic(`${route}: answered after ${ms} ms (budget ${CPU_MS} ms)`);
		assertJsonError(r, 500);
		assertNothingLeaks(r);
		const line = await logLine(offset, 'plugin=hostile', `in=${route}`);
		assert.ok(line, `${route}: the stop is logged with the plugin id and route`);
		assert.match(line, /CPU budget/, `${route} was stopped by the CPU budget: ${line}`);
		await assertHealthy();
	}
});

test('checklist 5: a page route that loops gives the HTML error page', T, async (t) => {
	const offset = logSize();
	const { r, ms } = await timed('/p/hostile/page_loop');
	t.diagnostic(`answered after ${ms} ms`);
	assertHtmlError(r, 500);
	assertNothingLeaks(r);
	const line = await logLine(offset, 'plugin=hostile', 'in=/page_loop');
	assert.match(line ?? '', /CPU budget/, `stopped by the CPU budget: ${line}`);
});

test('checklist 5: while the hostile plugin loops, the portal and other plugins answer', T, async () => {
	const t0 = Date.now();
	let looping = 2;
	const loops = ['/loop', '/pcall_loop'].map((p) => timed(H + p).finally(() => { looping--; }));
	await sleep(30);
	const answers = [];
	while (looping > 0 && Date.now() - t0 < CPU_MS + SLACK_MS) {
		const [home, ping] = await Promise.all([getT('/'), getT(PING)]);
		answers.push({ home: home.status, ping: ping.status, whileLooping: looping > 0 });
	}
	for (const { r } of await Promise.all(loops)) await assertClean500(r);
	assert.ok(answers.some((a) => a.whileLooping),
		`the portal answered while the loops ran (${answers.length} answers, loops took ${Date.now() - t0} ms)`);
	for (const a of answers) {
		assert.equal(a.home, 200, '/ answers 200 while a plugin loops');
		assert.equal(a.ping, 200, 'the friendly plugin answers while the hostile one loops');
	}
});

test('checklist 5: string.rep bombs are refused at once', T, async (t) => {
	const { r, ms } = await timed(`${H}/repbomb`);
	assert.equal(r.status, 200, r.body.slice(0, 300));
	const j = JSON.parse(r.body);
	refused(j.rep, 'string.rep("x", 1e9)');
	assert.match(j.rep.err, /too large/);
	refused(j.method, '("x"):rep(1e9)');
	refused(j.separator, 'a rep whose separator makes it too large');
	assert.equal(j.empty, 0, 'string.rep("", maxinteger) is "" (and returns at once)');
	t.diagnostic(`answered after ${ms} ms`);
});

test('checklist 6: a memory bomb hits the memory cap: a clean 500, logged', T, async (t) => {
	const offset = logSize();
	const { r, ms } = await timed(`${H}/membomb`);
	await assertClean500(r);
	t.diagnostic(`answered after ${ms} ms`);
	const line = await logLine(offset, 'plugin=hostile', 'in=/membomb');
	assert.ok(line, 'the failure is logged with the plugin id and route');
	assert.match(line, /not enough memory/, `the memory cap stopped it, not the CPU budget: ${line}`);
	// one bomb does not switch the plugin off: its other routes still answer, on every worker
	for (let i = 0; i < 8; i++) await json(`${H}/repbomb`);
});

test('a plugin error is a clean 500, logged with the plugin id and traceback', T, async () => {
	const offset = logSize();
	const r = await getT(`${H}/error`);
	await assertClean500(r);
	const line = await logLine(offset, 'plugin=hostile', 'hostile-deliberate-error in route /error');
	assert.ok(line, `${LOG} has a line with plugin=hostile and the error`);
	assert.match(line, /stack traceback/, 'with the traceback');
	assert.match(line, /plugin\.lua:\d+/, 'naming the file and line');
	const ping = await json(PING);
	assert.equal(ping.ok, true, 'the friendly plugin keeps working');
});

test('bad results are refused: raw HTML, functions, HTML as text, off-site redirects', T, async () => {
	for (const route of ['/raw_html', '/bad_json', '/text_html', '/redirect_evil', '/redirect_evil2',
		'/redirect_evil3']) {
		const r = await getT(H + route);
		assertJsonError(r, 500);
		assert.doesNotMatch(r.body, /<script/i, `${route}: nothing of what the plugin returned`);
		assert.equal(header(r, 'location'), '', `${route}: no redirect`);
		assertNothingLeaks(r);
	}
	await assertHealthy();
});

test('a plugin cannot split response headers', T, async () => {
	const r = await getT(`${H}/header_inject`);
	assert.equal(r.status, 200, r.body.slice(0, 300));
	assert.doesNotMatch(header(r, 'set-cookie'), /hostile/, 'no cookie of the plugin');
	assert.equal(header(r, 'x-hostile'), '', 'no header of the plugin');
});

test('checklist 4: host tables and the request are read-only', T, async () => {
	const j = await json(`${H}/write_host`);
	for (const [what, attempt] of Object.entries(j.attempts)) refused(attempt, `write: ${what}`);
	assert.equal(j.writable_count, 0, `no host table took a new field (${j.writable})`);
	assert.equal(j.db_type, 'table');
	assert.equal(j.find_type, 'function');
	assert.equal(j.greeting, 'hello', 'portal.config is unchanged');
	assert.equal(j.plugin_id, 'hostile', 'portal.plugin is unchanged');
	assert.equal(j.method, 'GET', 'the request is unchanged');
});

test('checklist 7: no secrets in the plugin\'s view', T, async () => {
	const r = await getT(`${H}/secrets`);
	assert.equal(r.status, 200, r.body.slice(0, 300));
	const j = JSON.parse(r.body);
	assert.equal(j.config_keys, 'greeting', 'portal.config holds the plugin\'s own settings only');
	assert.equal(j.getenv, 'nil');
	assert.equal(j.user, false, 'no user without a session');
	refused(j.users, 'portal.db.find("users")');
	refused(j.sessions, 'portal.db.find("sessions")');
	refused(j.query, 'a query the manifest does not name');
	assert.ok(j.calls > 50, `every host function was called with odd arguments (${j.calls} calls)`);
	assert.ok(j.corpus.length > 500, 'the plugin collected what it could reach');
	for (const key of ['db_password', 'migrate_password']) {
		assert.ok(!r.body.includes(key), `nothing names ${key}`);
		const secret = confValue(key, '');
		if (secret.length >= 4) assert.ok(!r.body.includes(secret), `the value of ${key} is nowhere in reach`);
	}
});

test('a plugin reaches no table but its own', T, async () => {
	const j = await json(`${H}/other_table`);
	for (const [what, attempt] of Object.entries(j)) refused(attempt, `table: ${what}`);
});

test('SQL: names and options are checked, values are bound', T, async () => {
	const j = await json(`${H}/sql`);
	assert.ok(Number.isInteger(j.legit_id) && j.legit_id > 0, 'the plugin\'s own table works');
	assert.equal(j.legit, 1, 'and finds its row');
	assert.equal(j.bound, 0, 'a quote in a value is just a value');
	for (const k of ['where_key', 'where_key2', 'op', 'order_by', 'order_sub', 'limit', 'column', 'update_all']) {
		refused(j[k], `sql: ${k}`);
	}
});

test('print() goes to the log, one line each, truncated', T, async () => {
	const offset = logSize();
	const j = await json(`${H}/print`);
	assert.equal(j.printed, true);
	const marker = await logLine(offset, 'plugin=hostile', 'hostile-print-marker');
	assert.ok(marker, 'the printed values are logged with the plugin id');
	assert.match(marker, /nil\\x09table: /, 'nil and a table, tab-separated');
	const big = await logLine(offset, 'plugin=hostile', 'xxxxxxxxxxxxxxxx');
	assert.ok(big, 'the 1 MB string is logged');
	assert.ok(big.length < 8192, `truncated (${big.length} bytes)`);
});

test('a table whose metamethods raise or loop, returned to the host, is a clean 500', T, async () => {
	// The host reads the fields of what a route returned after the call: that reading must
	// not run the plugin's metamethods unprotected (a Lua panic aborts the worker) nor
	// without a budget (a loop would hang it).
	for (const route of ['/meta_return', '/meta_loop']) {
		const { r, ms } = await timed(H + route);
		assert.equal(r.status, 500, `${route} answered ${r.status} after ${ms} ms: ${r.body.slice(0, 200)}`);
		await assertClean500(r);
	}
});

test('hooks and jobs: an error or a loop is contained, other plugins\' hooks and jobs run', T, async (t) => {
	const bin = process.env.PORTAL_BIN;
	if (!bin || confFiles.length === 0) {
		t.skip('PORTAL_BIN and PORTAL_CONF are needed to run `portald jobs run hourly`');
		return;
	}
	const logDir = path.dirname(LOG);
	const args = [...confFiles.flatMap((f) => ['-c', f]), 'jobs', 'run', 'hourly', '--force'];
	const env = {
		...process.env,
		// as for the served portald: sanitizer reports land where the shutdown suite looks
		ASAN_OPTIONS: `log_path=${logDir}/sanitizer:detect_leaks=1`,
		UBSAN_OPTIONS: `log_path=${logDir}/sanitizer:print_stacktrace=1`,
	};
	const t0 = Date.now();
	const res = await new Promise((resolve) => {
		execFile(bin, args, { env, timeout: 60000, maxBuffer: 16 << 20 }, (err, stdout, stderr) =>
			resolve({ code: err ? (err.code ?? err.signal) : 0, stdout, stderr }));
	});
	const ms = Date.now() - t0;
	const lines = res.stderr.split('\n');
	assert.notEqual(res.code, 0, 'a failed hook or job makes the command fail');
	assert.equal(typeof res.code, 'number', `the command exited (not killed: ${res.code}) after ${ms} ms`);
	const hook = lines.findIndex((l) => l.includes('plugin=hostile') && l.includes('hostile-deliberate-error in hook hourly'));
	assert.ok(hook >= 0, `the hook's error is logged with the plugin id:\n${res.stderr.slice(-2000)}`);
	assert.match(lines[hook], /stack traceback/, 'with the traceback');
	const spin = lines.find((l) => l.includes('plugin=hostile') && l.includes('CPU budget'));
	assert.ok(spin, 'the endless job was stopped by the CPU budget');
	const friendlyHook = lines.findIndex((l) => l.includes('friendly hourly hook ran'));
	assert.ok(friendlyHook > hook, 'the friendly hook ran, after the hostile one (which asked to run first) failed');
	assert.ok(lines.some((l) => l.includes('friendly hourly job ran')), 'the friendly job ran');
});

test('afterwards: the portal is healthy and the friendly plugin answers on every worker', T, async () => {
	await assertHealthy();
	const home = await getT('/');
	assert.equal(home.status, 200);
	for (let i = 0; i < 8; i++) {
		const ping = await json(PING);
		assert.equal(ping.ok, true);
		assert.equal(ping.upper, 'X');
	}
	const env = await json(`${H}/env`);
	assert.equal(env.require_own, 'probe', 'the hostile plugin itself still serves its harmless routes');
});
