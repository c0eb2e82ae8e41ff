// plugins_containment.test.mjs - the containment holes of issue 12, attacked again through
// nginx against the real portald and MariaDB: each case first as the attacker found it, now
// closed. The attackers are test plugins: tests/plugins/hostile (runtime attacks),
// tests/plugins/hog (holds its memory near the cap) and the folders of tests/plugins/loadtime
// (refused or kept apart at load: copied one at a time into the instance's plugin folder).
//
//  1 running out of memory outside a protected call: a 1 MB nested-JSON body to a public and
//    a staff plugin route (and a shipped one), a request and a hook payload pushed into a full
//    state: 413 or 500, the worker lives (the restart counter in /metrics does not move), a
//    registration whose after_save hook cannot run is 201 and saved;
//  2 event-kind hijack: the core's kind or another plugin's is refused at load;
//  3 files that are links out of the plugin's folder (template, migration, lib module,
//    demo.json, static file, test): refused at load;
//  4 table names: "evil"+"box_notes" and "evil_box"+"notes" are two tables; a name too long
//    for MariaDB is refused;
//  5 plugin SQL bounded in time by the database: 8 concurrent slow queries are stopped at the
//    call's budget, /events is served meanwhile, nothing runs on in MariaDB;
//  7 the log budget of print and portal.log;
//  8 redirects: control characters, backslashes, scheme-relative forms refused;
// 10 duplicate routes refused at load; a reload under a backlog that never empties kills no
//    worker (it waited 20 s for one before: see docs/benchmarks.md).
//
// Environment (set by `scripts/portal test`): PORTAL_URL, PORTAL_VAR (its plugins/ folder is
// written to, its log/portald.log read), PORTAL_BIN and PORTAL_CONF (portald migrate).
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { execFile } from 'node:child_process';
import { BASE, get, metric, masterPid, workerPids, waitFor, sleep, assertHealthy, assertJsonError, header }
	from './lib.mjs';
import { addUser, addToken, sql, sqlValue, freshAddress, request, portald, conf, CONF_FILES } from './accounts-lib.mjs';

const REPO = path.resolve(import.meta.dirname ?? '.', '../..');
const VAR = process.env.PORTAL_VAR ?? path.join(REPO, 'var');
const PLUGINS = path.join(VAR, 'plugins');
const FIXTURES = path.join(REPO, 'tests/plugins/loadtime');
const LOG = path.join(VAR, 'log', 'portald.log');
const H = '/api/p/hostile';
const T = { timeout: 120000 };

const logSize = () => (fs.existsSync(LOG) ? fs.statSync(LOG).size : 0);
const logSince = (off) => {
	const b = fs.readFileSync(LOG);
	return b.subarray(Math.min(off, b.length)).toString('utf8');
};
const linesSince = (off, ...needles) => logSince(off).split('\n').filter((l) => needles.every((n) => l.includes(n)));
const restarts = () => metric('portal_worker_restarts_total');

// --- requests

let token;

function send(method, p, { json, raw, auth = false, from = freshAddress(), headers = {} } = {}) {
	const h = { ...headers };
	let body;
	if (raw !== undefined || json !== undefined) {
		h['Content-Type'] = 'application/json';
		body = raw ?? JSON.stringify(json);
	}
	if (auth) h.Authorization = `Bearer ${token}`;
	return request(method, p, { headers: h, body, from }).then((r) => {
		let j;
		try {
			j = JSON.parse(r.body);
		} catch {
			j = undefined;
		}
		return { ...r, json: j };
	});
}

// The JSON error shape with this status (and code), nothing of the failure shown.
function assertCleanError(r, status, code) {
	assert.equal(r.status, status, `expected ${status}, got ${r.status}: ${r.body.slice(0, 300)}`);
	assert.ok(r.json?.error, `a JSON error: ${r.body.slice(0, 200)}`);
	if (code) assert.equal(r.json.error.code, code);
	assert.doesNotMatch(r.body, /traceback|\.lua:\d+|not enough memory|max_statement_time|CPU budget/i);
}

function iso(daysFromNow, hour = 9) {
	const d = new Date(Date.now() + daysFromNow * 86400e3 + 8 * 3600e3);
	return `${d.toISOString().slice(0, 10)}T${String(hour).padStart(2, '0')}:00:00+08:00`;
}
const phone = () => `139${String(crypto.randomInt(0, 1e8)).padStart(8, '0')}`;

async function newEvent(kind = 'general') {
	const r = await send('POST', '/api/v1/events', { auth: true, json: { kind, title: `隔离测试 ${crypto.randomBytes(3).toString('hex')}`,
		location: '社区服务中心', starts_at: iso(12), ends_at: iso(12, 11), capacity: 100 } });
	assert.equal(r.status, 201, r.body);
	const p = await send('POST', `/api/v1/events/${r.json.id}/publish`, { auth: true });
	assert.equal(p.status, 200, p.body);
	return r.json.id;
}

// --- reloads

// SIGHUP and wait until every worker was replaced.
async function reloadAll() {
	const master = masterPid();
	const before = workerPids(master);
	const off = logSize();
	process.kill(master, 'SIGHUP');
	const done = await waitFor(() => /msg="reload (done|stopped)/.exec(logSince(off))?.[1], 60000);
	assert.equal(done, 'done', `the reload went through: ${linesSince(off, 'level=err').join('\n').slice(0, 1500)}`);
	const after = await waitFor(() => {
		const w = workerPids(master);
		return w.length === before.length && w.every((p) => !before.includes(p)) ? w : null;
	}, 30000);
	assert.ok(after, 'every worker replaced');
}

// Put fixture `name` (tests/plugins/loadtime/name) into the instance's plugin folder.
function install(name) {
	const dst = path.join(PLUGINS, name);
	fs.rmSync(dst, { recursive: true, force: true });
	fs.cpSync(path.join(FIXTURES, name), dst, { recursive: true });
	return dst;
}
const uninstall = (name) => fs.rmSync(path.join(PLUGINS, name), { recursive: true, force: true });

// SIGHUP with a plugin the host must refuse: the reload stops with needle in the log, the
// workers that serve stay as they were. Returns the log of the attempt.
async function reloadRefused(needle) {
	const master = masterPid();
	const before = workerPids(master);
	const off = logSize();
	process.kill(master, 'SIGHUP');
	const stopped = await waitFor(() => /msg="reload (done|stopped)/.exec(logSince(off))?.[1], 60000);
	const text = logSince(off);
	assert.equal(stopped, 'stopped', `the reload is refused:\n${text.slice(-1500)}`);
	assert.ok(text.includes(needle), `the log says why (${needle}):\n${text.slice(-1500)}`);
	assert.deepEqual(workerPids(master), before, 'the old workers keep serving');
	return text;
}

test.before(() => {
	const u = addUser('contain', ['staff']);
	token = addToken(u.username).token;
	assert.ok(fs.existsSync(PLUGINS), `${PLUGINS} exists`);
});

// --- 1: out of memory outside a protected call

// 1 MB of deeply nested arrays (the issue's body): about 36 MB of Lua tables, past the 32 MB
// a plugin's state may use.
const NESTED = `[${Array(31000).fill('['.repeat(16) + ']'.repeat(16)).join(',')}]`;

test('1: a nested-JSON body too big for a plugin is a 413 on a public, a staff and a shipped route; no worker dies', T, async () => {
	assert.ok(NESTED.length > 1e6 && NESTED.length < 1 << 20, `the body is about 1 MB (${NESTED.length} bytes)`);
	const r0 = await restarts();
	const off = logSize();
	assertCleanError(await send('POST', `${H}/echo`, { raw: NESTED }), 413, 'too_complex');
	assertCleanError(await send('POST', `${H}/staff_echo`, { raw: NESTED, auth: true }), 413, 'too_complex');
	assertCleanError(await send('POST', '/api/p/welfare/households', { raw: NESTED, auth: true }), 413, 'too_complex');
	// the issue's 8 parallel senders (they killed 397 workers in 25 s)
	const many = await Promise.all(Array.from({ length: 8 }, async () => {
		const out = [];
		for (let i = 0; i < 3; i++) out.push((await send('POST', `${H}/staff_echo`, { raw: NESTED, auth: true })).status);
		return out;
	}));
	assert.deepEqual([...new Set(many.flat())], [413], `every one a 413: ${many.flat()}`);
	assert.equal(await restarts(), r0, 'the worker restart counter did not move');
	assert.ok(linesSince(off, 'plugin request too large', 'plugin=hostile').length >= 1, 'the refusal is logged');
	assert.equal(linesSince(off, 'outside a protected call').length, 0, 'no Lua panic');
	assert.equal(linesSince(off, 'worker died').length, 0, 'no worker died');
	const small = await send('POST', `${H}/echo`, { json: [[1], [2], [3]] });
	assert.equal(small.status, 200, small.body);
	assert.equal(small.json.items, 3, 'a body that fits still reaches the plugin');
	await assertHealthy();
});

test('1: with its state full, a plugin\'s request and hook payload fail cleanly; registrations are 201 and saved', T, async (t) => {
	const r0 = await restarts();
	const off = logSize();
	// Fill the hog plugin's state in (almost surely) every worker, then post to it. On a loaded
	// machine a fill can run out of its time budget before the state is full, or land twice
	// on one worker: fill and post again, up to 8 rounds, until a request meets a full state.
	let echoes = [];
	let full = false;
	for (let round = 1; round <= 8 && !full; round++) {
		const fills = await Promise.all(Array.from({ length: 48 }, () => get('/api/p/hog/fill')));
		t.diagnostic(`round ${round} fill answers: ${JSON.stringify(fills.reduce((m, r) => ({ ...m, [r.status]: (m[r.status] ?? 0) + 1 }), {}))}`);
		// a small request cannot be handed to a full state: a 500 (the plugin's state is full, not
		// the request too big), or a 200 from a worker that no fill reached
		echoes = await Promise.all(Array.from({ length: 16 }, () => send('POST', '/api/p/hog/echo', { json: { a: 1 } })));
		t.diagnostic(`round ${round} echo answers: ${echoes.map((e) => e.status).join(', ')}`);
		for (const e of echoes) {
			assert.ok([200, 500].includes(e.status), `the request to the full plugin: ${e.status} ${e.body.slice(0, 200)}`);
			if (e.status !== 200) assertCleanError(e, 500);
		}
		full = echoes.some((e) => e.status === 500);
	}
	assert.ok(full, 'some landed on a full state');
	// registrations: the core saves, commits and answers; hog's after_save hook cannot even get
	// its payload (the issue: 7 of 19 answered 502 but were saved)
	const ev = await newEvent();
	const phones = Array.from({ length: 24 }, phone);
	const regs = await Promise.all(phones.map((p, i) =>
		send('POST', `/api/v1/events/${ev}/registrations`, { json: { name: `居民${i}`, phone: p } })));
	for (const r of regs) assert.equal(r.status, 201, `every registration answered 201: ${r.status} ${r.body.slice(0, 200)}`);
	const saved = Number(sqlValue(`SELECT COUNT(*) FROM registrations WHERE event_id = ${ev} AND phone IN (${phones.map((p) => `'${p}'`).join(',')})`));
	assert.equal(saved, phones.length, 'and every one was saved: what the client saw is what the database holds');
	await sleep(300);
	assert.ok(linesSince(off, 'plugin=hog', 'passing the request to the plugin').length >= 1,
		'a request pushed into the full state failed inside a protected call (logged)');
	assert.ok(linesSince(off, 'plugin=hog', 'registration.after_save', 'passing the payload to the hook').length >= 1,
		'a hook payload pushed into the full state failed inside a protected call (logged)');
	assert.equal(linesSince(off, 'outside a protected call').length, 0, 'no Lua panic');
	assert.equal(await restarts(), r0, 'the worker restart counter did not move');
	await assertHealthy();
	// give hog fresh states
	await reloadAll();
	assert.equal((await get('/api/p/hog/free')).status, 200);
});

// --- 2: event kinds

test('2: a plugin declaring the core\'s kind "general" is refused; the old set keeps serving', T, async () => {
	install('kind_general');
	try {
		await reloadRefused('"general" is a kind of the portal itself');
		assert.equal((await get('/api/p/kind_general/regs/1')).status, 404, 'it serves nothing');
	} finally {
		uninstall('kind_general');
	}
});

test('2: a plugin declaring outreach\'s kind is refused; outreach keeps its kind and its form', T, async () => {
	install('kind_thief');
	try {
		await reloadRefused('the kind "outreach_screening" is also declared by plugin outreach');
		assert.equal((await get('/api/p/kind_thief/regs/1')).status, 404, 'the thief serves nothing');
		const ev = await newEvent('outreach_screening');
		const r = await send('GET', `/api/v1/events/${ev}`);
		assert.equal(r.status, 200, r.body);
		assert.ok(r.json.form && Array.isArray(r.json.form.fields), 'the screening form is still the kind\'s form');
		const bad = await send('POST', `/api/v1/events/${ev}/registrations`, { json: { name: '王芳', phone: phone(), consent: false } });
		assert.equal(bad.status, 422, `a registration without the form's answers is refused as before: ${bad.body.slice(0, 300)}`);
	} finally {
		uninstall('kind_thief');
	}
});

// --- 3: files outside the folder

test('3: a plugin file that is a link out of its folder is refused, whatever the file', T, async () => {
	const secretConf = CONF_FILES[CONF_FILES.length - 1];
	const password = conf.db_password;
	assert.ok(password && fs.readFileSync(secretConf, 'utf8').includes(password), 'the target holds the passwords');
	const cases = [
		['templates/escape_conf.html', secretConf],                        // rendered portal.conf before
		['migrations/0001_conf.sql', secretConf],
		['lib/conf.lua', secretConf],
		['demo.json', secretConf],
		['static/conf.css', secretConf],
		['tests/conf_test.lua', secretConf],
		['templates/relative.html', '../../../portal.conf'],                 // a relative link out
		['lib/outside', VAR],                                                // a folder outside
	];
	try {
		for (const [rel, target] of cases) {
			const dir = install('escape');
			fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
			fs.symlinkSync(target, path.join(dir, rel));
			await reloadRefused(`plugin escape: ${rel}: a link to`);
			for (const p of ['/p/escape/conf', '/api/p/escape/lib']) {
				const r = await get(p);
				assert.equal(r.status, 404, `${rel}: ${p} is not served`);
				assert.ok(!r.body.includes(password), `${rel}: no password in the answer`);
			}
		}
	} finally {
		uninstall('escape');
	}
});

// --- 4: table names

test('4: "evil"+"box_notes" and "evil_box"+"notes" are two tables; neither sees the other\'s rows', T, async () => {
	install('evil');
	install('evil_box');
	try {
		const m = portald(['migrate']);
		assert.equal(m.status, 0, `portald migrate: ${m.stderr}`);
		await reloadAll();
		const names = sql("SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()" +
			" AND TABLE_NAME IN ('p_evil_box_notes', 'p8_evil_box_notes')").map((r) => r[0]).sort();
		assert.deepEqual(names, ['p8_evil_box_notes', 'p_evil_box_notes'], 'one table each');
		const before = (await send('GET', '/api/p/evil_box/read', { auth: true })).json;
		const w = await send('POST', '/api/p/evil/write', { auth: true });
		assert.equal(w.status, 200, w.body);
		const after = (await send('GET', '/api/p/evil_box/read', { auth: true })).json;
		assert.equal(after.rows, before.rows, 'evil\'s row is not in evil_box\'s table');
		assert.ok(!Object.values(after.bodies).includes('written by evil'), 'nor its text');
		const w2 = await send('POST', '/api/p/evil_box/write', { auth: true });
		assert.equal(w2.status, 200, w2.body);
		assert.equal((await send('GET', '/api/p/evil/read', { auth: true })).json.rows,
			Number(sqlValue('SELECT COUNT(*) FROM p_evil_box_notes')), 'evil counts only its own rows');
	} finally {
		uninstall('evil');
		uninstall('evil_box');
		await reloadAll();
	}
});

test('4: a table whose name in the database would pass 64 characters is refused', T, async () => {
	const id = 'longtablelongtablelongtablelongt';
	install(id);
	try {
		await reloadRefused('is longer than 64 characters');
	} finally {
		uninstall(id);
	}
});

// --- 5: plugin SQL bounded in time

// GET p one after another until stop(); latencies in ms and failures.
async function loop(p, stop) {
	const res = { ms: [], failed: [] };
	while (!stop()) {
		const t0 = Date.now();
		try {
			const r = await fetch(BASE + p, { signal: AbortSignal.timeout(30000) });
			await r.arrayBuffer();
			if (r.status === 200) res.ms.push(Date.now() - t0);
			else res.failed.push(r.status);
		} catch (e) {
			res.failed.push(String(e.cause ?? e));
		}
	}
	return res;
}

const pct = (xs, q) => {
	const s = [...xs].sort((a, b) => a - b);
	return s.length ? s[Math.min(s.length - 1, Math.floor(q * s.length))] : NaN;
};

// The measurement of docs/benchmarks.md ("Plugin SQL under a time budget"): /events alone for
// 4 s, then for 8 s while 8 clients send slow plugin queries one after another.
test('5: eight concurrent slow plugin queries are stopped by the database at the budget; /events is served', T, async (t) => {
	const r0 = await restarts();
	let until = Date.now() + 4000;
	const base = await loop('/events', () => Date.now() > until);
	const off = logSize();
	until = Date.now() + 8000;
	const slowMs = [];
	const slowAnswers = [];
	const senders = Array.from({ length: 8 }, async () => {
		while (Date.now() < until) {
			const s0 = Date.now();
			const r = await get(`${H}/slow_sql`, { signal: AbortSignal.timeout(60000) });
			slowMs.push(Date.now() - s0);
			slowAnswers.push(r);
		}
	});
	let running = true;
	const all = Promise.all(senders).finally(() => { running = false; });
	const during = await loop('/events', () => !running);
	await all;
	const rate = (x, ms) => (x.ms.length / (ms / 1000)).toFixed(1);
	t.diagnostic(`/events alone: ${rate(base, 4000)}/s, median ${pct(base.ms, 0.5)} ms, p95 ${pct(base.ms, 0.95)} ms`);
	t.diagnostic(`/events beside 8 slow-query clients: ${rate(during, 8000)}/s, median ${pct(during.ms, 0.5)} ms, ` +
		`p95 ${pct(during.ms, 0.95)} ms, max ${Math.max(...during.ms)} ms`);
	t.diagnostic(`slow queries: ${slowMs.length} answered, median ${pct(slowMs, 0.5)} ms, max ${Math.max(...slowMs)} ms`);
	for (const r of slowAnswers) {
		assertJsonError(r, 500);
		assert.doesNotMatch(r.body, /max_statement_time|stopped the statement/);
	}
	assert.deepEqual(during.failed, [], '/events never failed meanwhile');
	assert.ok(during.ms.length > 0, '/events answered while the slow queries ran');
	await sleep(300);
	const stopped = linesSince(off, 'plugin=hostile', 'in=/slow_sql', 'the database stopped the statement');
	assert.equal(stopped.length, slowAnswers.length, `each slow query was stopped by the database (${stopped.length} logged)`);
	assert.equal(Number(sqlValue('SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID <> CONNECTION_ID()' +
		" AND INFO LIKE '%max_statement_time%'")), 0, 'nothing of them runs on in MariaDB');
	assert.equal(await restarts(), r0, 'no worker died');
});

test('5: a plugin that catches the database\'s stop cannot go on: the call ends', T, async () => {
	const off = logSize();
	const r = await get(`${H}/slow_sql_pcall`, { signal: AbortSignal.timeout(60000) });
	assertJsonError(r, 500);
	await sleep(300);
	assert.ok(linesSince(off, 'plugin=hostile', 'in=/slow_sql_pcall', 'CPU budget').length === 1,
		'ended by its budget, right after the statement was stopped');
});

// --- 7: the log budget

test('7: a print loop writes at most a call\'s budget of lines, and the log says it was cut', T, async () => {
	const size0 = logSize();
	const r = await get(`${H}/print_flood`, { signal: AbortSignal.timeout(60000) });
	assertJsonError(r, 500);
	await sleep(300);
	const lines = linesSince(size0, 'plugin=hostile', 'hostile-flood-line');
	assert.ok(lines.length >= 1 && lines.length <= 100, `at most 100 lines from one call (${lines.length})`);
	assert.ok(linesSince(size0, 'plugin log output cut', 'plugin=hostile').length >= 1, 'the cut is logged');
	assert.ok(logSize() - size0 < 256 * 1024, `the log grew by ${logSize() - size0} bytes, not 116 MiB`);
	const off = logSize();
	const j = await get(`${H}/log_flood`, { signal: AbortSignal.timeout(60000) });
	assert.ok([200, 500].includes(j.status), `the portal.log loop ends (${j.status})`);
	await sleep(300);
	assert.ok(linesSince(off, 'plugin=hostile', 'hostile-log-flood').length <= 100, 'portal.log counts against it too');
	assert.ok(logSize() - off < 256 * 1024, `the log grew by ${logSize() - off} bytes`);
});

// --- 8: redirects

test('8: redirects with control characters, backslashes or a second slash are refused; a path is kept', T, async () => {
	const refused = ['/\t/evil.example', '/%09/evil.example', '//evil.example', '/\\evil.example', '\\\\evil.example',
		' /evil.example', '/ /evil.example', '/x\r\nSet-Cookie: hostile=1', '/\n/evil.example', '/%0d%0aX: 1',
		'/%5Cevil.example', '/x\\y', '/\x7f/evil.example', 'https://evil.example/', 'evil.example', ''];
	for (const to of refused) {
		const r = await get(`${H}/redirect?to=${encodeURIComponent(to)}`);
		assertJsonError(r, 500);
		assert.equal(header(r, 'location'), '', `no redirect to ${JSON.stringify(to)}`);
	}
	const ok = await get(`${H}/redirect?to=${encodeURIComponent('/p/hostile/page?q=a%20b&n=1')}`);
	assert.equal(ok.status, 303, ok.body);
	assert.equal(header(ok, 'location'), '/p/hostile/page?q=a%20b&n=1');
});

// --- 10: duplicate routes, a reload under load

test('10: two routes with one method and path are refused at load', T, async () => {
	install('dup_route');
	try {
		await reloadRefused('the same method and path as routes[1]');
		assert.equal((await get('/p/dup_route/days/1')).status, 404, 'nothing of it is served');
	} finally {
		uninstall('dup_route');
	}
});

test('10: a reload under a backlog that never empties replaces every worker without killing one', T, async (t) => {
	const off = logSize();
	const wrk = new Promise((resolve) => execFile('wrk', ['-t2', '-c96', '-d10s', `${BASE}/events`],
		{ timeout: 60000 }, (err, stdout) => resolve({ err, stdout })));
	await sleep(2500);
	const t0 = Date.now();
	await reloadAll();
	const took = Date.now() - t0;
	const { err, stdout } = await wrk;
	assert.ok(!err, `wrk ran: ${err}`);
	t.diagnostic(`reload under load took ${took} ms; wrk: ${stdout.split('\n').filter((l) => /Requests\/sec|Non-2xx|Socket/.test(l)).join('; ')}`);
	assert.equal(linesSince(off, 'did not stop in time').length, 0, 'no worker had to be killed');
	assert.doesNotMatch(stdout, /Non-2xx/, 'every request answered 200');
});
