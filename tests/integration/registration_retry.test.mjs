// registration_retry.test.mjs - issue 12 "saved, but the client saw an error": registration
// carries an idempotency key (API header Idempotency-Key; a hidden field of the event page and
// of the staff walk-in form, one per page load), stored by the registering INSERT. A retry of
// a saved submission gets the original code back, also after the worker was killed with
// SIGKILL right after the COMMIT (tests/plugins/stall holds the worker there); a reused key
// with other content is refused; the duplicate answer tells a resident how to find their code
// without promising an SMS nobody sends.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import { addUser, addToken, sql, sqlValue, freshAddress, Browser, signedIn, api, isoDay, randomPhone } from './accounts-lib.mjs';
import { workerPids, sleep, get, CJK } from './lib.mjs';

let staff;   // { token }

const iso = isoDay;
const phone = () => randomPhone('137');

function csrfOf(html) {
	const m = /name="csrf" value="([^"]*)"/.exec(html);
	assert.ok(m, 'the page has a csrf field');
	return m[1];
}

function keyOf(html) {
	const m = /name="idempotency_key" value="([A-Za-z0-9_-]{16,64})"/.exec(html);
	assert.ok(m, 'the form carries an idempotency key');
	return m[1];
}

async function newEvent(extra = {}) {
	const r = await api('POST', '/api/v1/events', {
		token: staff.token,
		body: {
			kind: 'general', title: `重试测试 ${crypto.randomBytes(3).toString('hex')}`, location: '社区服务中心',
			starts_at: iso(10), ends_at: iso(10, 11), capacity: 20, ...extra,
		},
	});
	assert.equal(r.status, 201, r.body);
	const p = await api('POST', `/api/v1/events/${r.json.id}/publish`, { token: staff.token });
	assert.equal(p.status, 200, p.body);
	return r.json;
}

const rows = (id, p) => sql(`SELECT code, status FROM registrations WHERE event_id = ${id} AND phone = '${p}'`);

before(() => {
	staff = addToken(addUser('retrytok', ['staff']).username);
});

test('API: a retry with the same Idempotency-Key gets the original 201 and code, not a 409', async () => {
	const ev = await newEvent();
	const p = phone();
	const key = crypto.randomUUID();
	const body = { name: '钱大妈', phone: p };
	const first = await api('POST', `/api/v1/events/${ev.id}/registrations`, { body, key });
	assert.equal(first.status, 201, first.body);
	assert.equal(first.headers['idempotent-replayed'], undefined);
	// from another address too (a phone changes networks between tries)
	const again = await api('POST', `/api/v1/events/${ev.id}/registrations`, { body, key });
	assert.equal(again.status, 201, again.body);
	assert.deepEqual(again.json, first.json, 'the same body');
	assert.equal(again.headers['idempotent-replayed'], 'true');
	// the structured-field form of the header (a quoted string) is the same key
	const quoted = await api('POST', `/api/v1/events/${ev.id}/registrations`, { body, key: `"${key}"` });
	assert.equal(quoted.status, 201);
	assert.equal(quoted.json.code, first.json.code);
	assert.equal(rows(ev.id, p).length, 1, 'one registration');
	assert.equal(sqlValue(`SELECT taken FROM events WHERE id = ${ev.id}`), '1', 'one seat');
	assert.equal(sqlValue(`SELECT idempotency_key FROM registrations WHERE code = '${first.json.code}'`), key);

	// the same key with other content: refused clearly, nothing written
	const other = await api('POST', `/api/v1/events/${ev.id}/registrations`, { body: { name: '钱大妈', phone: phone() }, key });
	assert.equal(other.status, 422, other.body);
	assert.equal(other.json.error.code, 'idempotency_key_reused');
	assert.match(other.json.error.message, CJK);
	assert.equal(sqlValue(`SELECT COUNT(*) FROM registrations WHERE event_id = ${ev.id}`), '1');

	// the same phone without the key (or with another one): 409 that says how to find the code
	for (const k of [undefined, crypto.randomUUID()]) {
		const dup = await api('POST', `/api/v1/events/${ev.id}/registrations`, { body, key: k });
		assert.equal(dup.status, 409, dup.body);
		assert.equal(dup.json.error.code, 'duplicate_phone');
		assert.match(dup.json.error.message, /签到处报手机号/);
		assert.match(dup.json.error.message, /社区服务窗口/);
		assert.doesNotMatch(dup.json.error.message, /短信/, 'no SMS is promised: no sender sends one');
	}

	// malformed keys are a field error, nothing written
	for (const bad of ['short', 'x'.repeat(65), 'spaces are not allowed in it', 'dots.are.not.allowed.either']) {
		const r = await api('POST', `/api/v1/events/${ev.id}/registrations`, { body: { name: '孙', phone: phone() }, key: bad });
		assert.equal(r.status, 422, `${bad}: ${r.body}`);
		assert.ok(r.json.error.fields.idempotency_key, r.body);
	}
	assert.equal(sqlValue(`SELECT COUNT(*) FROM registrations WHERE event_id = ${ev.id}`), '1');
});

test('API: the retry of the last seat gets its code although the event is full now', async () => {
	const ev = await newEvent({ capacity: 1, waitlist: false });
	const key = crypto.randomUUID();
	const body = { name: '最后一位', phone: phone() };
	const first = await api('POST', `/api/v1/events/${ev.id}/registrations`, { body, key });
	assert.equal(first.status, 201, first.body);
	const other = await api('POST', `/api/v1/events/${ev.id}/registrations`, { body: { name: '晚到', phone: phone() } });
	assert.equal(other.status, 409);
	assert.equal(other.json.error.code, 'full');
	const retry = await api('POST', `/api/v1/events/${ev.id}/registrations`, { body, key });
	assert.equal(retry.status, 201, retry.body);
	assert.equal(retry.json.code, first.json.code);
	assert.equal(retry.json.status, 'confirmed');
});

// The state letter of a process (R running or runnable, S sleeping, ...), or undefined.
function procState(pid) {
	try {
		return fs.readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '')[0];
	} catch {
		return undefined;
	}
}

// Send a registration for an event of the kind stall_day and SIGKILL the worker serving it
// while its after_save hook spins (after the COMMIT, before the answer). That worker is the
// one that stays runnable (state R) for 0.1 s on end, in every one of 5+ looks: a registration sleeps on MariaDB's
// answers every few milliseconds, the spinning hook never does, for its whole 0.5 s budget
// (wall clock, so on a loaded machine too). Returns { res, code }: the answer the client saw
// and the code stored.
async function killAfterCommit(eventId, p, send) {
	const before = workerPids();
	let answered;
	const pending = send().then((r) => (answered = r));
	const runningSince = new Map();
	let victim, pids = before;
	for (let i = 0, t0 = Date.now(); !victim && !answered && Date.now() - t0 < 30000; i++) {
		if (i % 50 === 49) pids = workerPids();
		const now = Date.now();
		for (const pid of pids) {
			const seen = runningSince.get(pid);
			if (procState(pid) !== 'R') runningSince.delete(pid);
			else if (!seen) runningSince.set(pid, { t: now, n: 1 });
			else if (++seen.n >= 5 && now - seen.t >= 100) victim = pid;
		}
		if (!victim) await sleep(5);
	}
	assert.ok(victim, `a worker spins in the after_save hook (answered: ${answered?.status})`);
	process.kill(victim, 'SIGKILL');
	const res = await pending;
	const r = rows(eventId, p);
	assert.equal(r.length, 1, 'the registration had committed');
	// the master starts a new worker; wait until the site answers again
	for (let i = 0; i < 100; i++) {
		const now = workerPids();
		if (now.length >= before.length && !now.includes(victim) && (await get('/healthz')).status === 200) break;
		await sleep(100);
	}
	return { res, code: r[0][0] };
}

test('kill -9 right after COMMIT: the client saw 502, its retry with the key returns the saved code', async () => {
	const ev = await newEvent({ kind: 'stall_day' });
	const p = phone();
	const key = crypto.randomUUID();
	const body = { name: '故障后重试', phone: p };
	const from = freshAddress();
	const { res, code } = await killAfterCommit(ev.id, p,
		() => api('POST', `/api/v1/events/${ev.id}/registrations`, { body, key, from }).catch((e) => ({ status: 0, error: e })));
	assert.ok(res.status === 0 || res.status >= 500, `the client saw an error, not ${res.status}`);
	assert.equal(rows(ev.id, p).length, 1, 'but the registration was saved');

	const retry = await api('POST', `/api/v1/events/${ev.id}/registrations`, { body, key, from });
	assert.equal(retry.status, 201, retry.body);
	assert.equal(retry.json.code, code, 'the original code');
	assert.equal(retry.headers['idempotent-replayed'], 'true');
	assert.equal(rows(ev.id, p).length, 1, 'still one registration');
	assert.equal(sqlValue(`SELECT taken FROM events WHERE id = ${ev.id}`), '1');
	// without the key the same retry is the 409 residents used to get, now with directions
	const keyless = await api('POST', `/api/v1/events/${ev.id}/registrations`, { body, from });
	assert.equal(keyless.status, 409);
	assert.match(keyless.json.error.message, /签到处/);
});

test('kill -9 right after COMMIT of the event page form: sending the same form again shows the saved code', async () => {
	const ev = await newEvent({ kind: 'stall_day' });
	await sleep(2500);   // the worker respawned by the previous test is past its start-up grace
	const b = new Browser();
	const page = await b.get(`/events/${ev.id}`);
	assert.equal(page.status, 200);
	const key = keyOf(page.body);
	assert.notEqual(keyOf((await b.get(`/events/${ev.id}`)).body), key, 'a new key per page load');
	const p = phone();
	const form = { csrf: csrfOf(page.body), idempotency_key: key, name: '表单重试', phone: p };
	const { res, code } = await killAfterCommit(ev.id, p,
		() => b.post(`/events/${ev.id}/register`, form).catch((e) => ({ status: 0, error: e })));
	assert.ok(res.status === 0 || res.status >= 500, `the browser saw an error page, not ${res.status}`);
	// the browser sends the same form again (its reload of the error page resends the POST)
	const again = await b.post(`/events/${ev.id}/register`, form);
	assert.equal(again.status, 303, again.body.slice(0, 300));
	assert.equal(again.headers.location, `/r/${code}?new=1`);
	assert.equal(rows(ev.id, p).length, 1);
});

test('event page: the same form twice is one registration; the page key with other content is refused clearly', async () => {
	const ev = await newEvent();
	const b = new Browser();
	const page = await b.get(`/events/${ev.id}`);
	const key = keyOf(page.body);
	const p = phone();
	const form = { csrf: csrfOf(page.body), idempotency_key: key, name: '双击', phone: p };
	const [one, two] = await Promise.all([b.post(`/events/${ev.id}/register`, form), b.post(`/events/${ev.id}/register`, form)]);
	assert.equal(one.status, 303, one.body.slice(0, 300));
	assert.equal(two.status, 303, two.body.slice(0, 300));
	assert.equal(one.headers.location, two.headers.location, 'both show the same code');
	assert.equal(rows(ev.id, p).length, 1);
	// the same page (same key) used for someone else: not answered with the first code
	const p2 = phone();
	const other = await b.post(`/events/${ev.id}/register`, { ...form, name: '家里另一个人', phone: p2 });
	assert.equal(other.status, 409, other.body.slice(0, 300));
	assert.match(other.body, /这个页面之前已经提交过一次报名/);
	assert.ok(!other.body.includes(one.headers.location.slice(3, 9)), 'the first code is not shown');
	const fresh = keyOf(other.body);
	assert.notEqual(fresh, key, 'the page comes back with a new key');
	const ok = await b.post(`/events/${ev.id}/register`, { ...form, idempotency_key: fresh, name: '家里另一个人', phone: p2 });
	assert.equal(ok.status, 303, ok.body.slice(0, 300));
	assert.equal(rows(ev.id, p2).length, 1);
	// a page without a key (an old page, a script) still registers; a duplicate says what to do
	const dup = await b.post(`/events/${ev.id}/register`, { csrf: csrfOf(page.body), name: '双击', phone: p });
	assert.equal(dup.status, 409);
	assert.match(dup.body, /签到处报手机号就能签到/);
	assert.doesNotMatch(dup.body, /发短信|短信通知/);
	// an invalid form keeps its key, so correcting it is still the same submission
	const k3 = crypto.randomBytes(18).toString('base64url');
	const bad = await b.post(`/events/${ev.id}/register`, { csrf: csrfOf(page.body), idempotency_key: k3, name: '', phone: phone() });
	assert.equal(bad.status, 422);
	assert.equal(keyOf(bad.body), k3);
});

test('staff walk-in: submitting the same walk-in form twice registers once', async () => {
	const ev = await newEvent();
	const u = addUser('walkidem', ['staff']);
	const sb = await signedIn(u);
	const page = await sb.get(`/staff/events/${ev.id}/registrations`);
	assert.equal(page.status, 200);
	const key = keyOf(page.body);
	const p = phone();
	const form = { csrf: csrfOf(page.body), idempotency_key: key, name: '现场报名', phone: p };
	const one = await sb.post(`/staff/events/${ev.id}/registrations`, form);
	const two = await sb.post(`/staff/events/${ev.id}/registrations`, form);
	assert.equal(one.status, 303, one.body.slice(0, 300));
	assert.equal(two.status, 303, two.body.slice(0, 300));
	assert.equal(one.headers.location, two.headers.location);
	assert.equal(rows(ev.id, p).length, 1);
	assert.equal(sqlValue(`SELECT registered_by FROM registrations WHERE event_id = ${ev.id} AND phone = '${p}'`), String(u.id));
});
