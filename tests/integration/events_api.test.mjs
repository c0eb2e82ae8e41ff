// events_api.test.mjs - the events JSON API through nginx (docs/api.md): staff create and
// publish by bearer token; residents register, look up and cancel; capacity and waitlist
// under 200 concurrent registrations; one registration per phone; bad input refused with
// nothing written; CSV escaping; rate limits. Each test speaks from fresh source addresses so
// the per-address limits of one test never touch another.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { addUser, addToken, sql, sqlValue, freshAddress, request, confValue, portald, api, isoDay, randomPhone } from './accounts-lib.mjs';

let staff;   // { token }

const iso = isoDay;
const phone = () => randomPhone('139');

function assertError(r, status, code) {
	assert.equal(r.status, status, `status ${r.status}: ${r.body.slice(0, 300)}`);
	assert.ok(r.json && r.json.error, `JSON error shape: ${r.body.slice(0, 300)}`);
	assert.equal(typeof r.json.error.message, 'string');
	assert.ok(r.json.error.message.length > 0);
	if (code) assert.equal(r.json.error.code, code);
}

async function newEvent(extra = {}, publish = true) {
	const r = await api('POST', '/api/v1/events', {
		token: staff.token,
		body: {
			kind: 'general', title: `测试活动 ${crypto.randomBytes(3).toString('hex')}`, location: '社区服务中心',
			starts_at: iso(10), ends_at: iso(10, 11), capacity: 50, ...extra,
		},
	});
	assert.equal(r.status, 201, r.body);
	assert.ok(r.json.id > 0);
	if (publish) {
		const p = await api('POST', `/api/v1/events/${r.json.id}/publish`, { token: staff.token });
		assert.equal(p.status, 200, p.body);
		assert.equal(p.json.status, 'published');
	}
	return r.json;
}

function regCount(eventId) {
	return Number(sqlValue(`SELECT COUNT(*) FROM registrations WHERE event_id = ${Number(eventId)}`));
}

before(() => {
	const u = addUser('evstaff', ['staff']);
	staff = { ...u, token: addToken(u.username).token };
});

test('staff create a draft, which the public cannot see until it is published', async () => {
	const ev = await newEvent({ slots: [{ starts_at: iso(10), ends_at: iso(10, 10), capacity: 5 }] }, false);
	assert.equal(ev.status, 'draft');
	assert.equal(ev.slots.length, 1);
	assertError(await api('GET', `/api/v1/events/${ev.id}`), 404, 'not_found');
	assertError(await api('POST', `/api/v1/events/${ev.id}/registrations`, { body: { name: '张三', phone: phone() } }), 404);
	const p = await api('POST', `/api/v1/events/${ev.id}/publish`, { token: staff.token });
	assert.equal(p.status, 200);
	const g = await api('GET', `/api/v1/events/${ev.id}`);
	assert.equal(g.status, 200);
	assert.equal(g.json.remaining, 50);
	assert.equal(g.json.slots[0].remaining, 5);
	assert.equal(g.json.starts_at, iso(10));
	assert.ok('form' in g.json);
	const list = await api('GET', '/api/v1/events?kind=general');
	const listed = list.json.events.find((e) => e.id === ev.id);
	assert.ok(listed, 'the published event is listed');
	assert.equal(listed.slots.length, 1, 'with its slots');
	assert.equal(listed.slots[0].capacity, 5);
	const day = iso(10).slice(0, 10);
	assert.ok((await api('GET', `/api/v1/events?from=${day}&to=${day}`)).json.events.some((e) => e.id === ev.id));
	assert.ok(!(await api('GET', `/api/v1/events?to=${iso(9).slice(0, 10)}`)).json.events.some((e) => e.id === ev.id));
	assertError(await api('GET', '/api/v1/events?from=2026-13-01'), 422);
	const none = await api('GET', '/api/v1/events?kind=nosuchkind');
	assert.equal(none.json.events.length, 0);
	// without a token: 401; the staff API is not public
	assertError(await api('POST', '/api/v1/events', { body: {} }), 401);
	// PATCH changes only the given keys
	const u = await api('PATCH', `/api/v1/events/${ev.id}`, { token: staff.token, body: { title: '改过的标题' } });
	assert.equal(u.status, 200, u.body);
	assert.equal(u.json.title, '改过的标题');
	assert.equal(u.json.location, '社区服务中心');
});

test('200 concurrent registrations for 50 seats: 50 confirmed, 150 waitlisted with distinct positions', async () => {
	const ev = await newEvent({ capacity: 50 });
	const results = await Promise.all(Array.from({ length: 200 }, (_, i) =>
		api('POST', `/api/v1/events/${ev.id}/registrations`, { body: { name: `居民${i}`, phone: phone() } })));
	for (const r of results) assert.equal(r.status, 201, r.body);
	const confirmed = results.filter((r) => r.json.status === 'confirmed');
	const waitlisted = results.filter((r) => r.json.status === 'waitlisted');
	assert.equal(confirmed.length, 50);
	assert.equal(waitlisted.length, 150);
	const positions = waitlisted.map((r) => r.json.position).sort((a, b) => a - b);
	assert.deepEqual(positions, Array.from({ length: 150 }, (_, i) => i + 1));
	assert.equal(new Set(results.map((r) => r.json.code)).size, 200);
	for (const r of results) assert.match(r.json.code, /^[23456789ABCDEFGHJKLMNPQRSTUVWXYZ]{6}$/);
	// the database agrees with itself
	const [[taken, cap]] = sql(`SELECT taken, capacity FROM events WHERE id = ${ev.id}`);
	assert.equal(Number(taken), 50);
	assert.equal(Number(cap), 50);
	assert.equal(Number(sqlValue(`SELECT COUNT(*) FROM registrations WHERE event_id = ${ev.id} AND status = 'confirmed'`)), 50);
	assert.equal(Number(sqlValue(`SELECT COUNT(DISTINCT waitlist_position) FROM registrations WHERE event_id = ${ev.id} AND status = 'waitlisted'`)), 150);

	// cancelling a confirmed registration promotes exactly the head of the waitlist
	const victim = confirmed[0];
	const victimPhone = JSON.parse(sqlValue(`SELECT JSON_QUOTE(phone) FROM registrations WHERE code = '${victim.json.code}'`));
	const head = waitlisted.find((r) => r.json.position === 1);
	const del = await api('DELETE', `/api/v1/registrations/${victim.json.code}?phone=${victimPhone}`);
	assert.equal(del.status, 200, del.body);
	assert.equal(del.json.status, 'cancelled');
	assert.equal(sqlValue(`SELECT status FROM registrations WHERE code = '${head.json.code}'`), 'confirmed');
	assert.equal(Number(sqlValue(`SELECT COUNT(*) FROM registrations WHERE event_id = ${ev.id} AND status = 'confirmed'`)), 50);
	assert.equal(Number(sqlValue(`SELECT COUNT(*) FROM registrations WHERE event_id = ${ev.id} AND status = 'waitlisted'`)), 149);
	assert.equal(Number(sqlValue(`SELECT taken FROM events WHERE id = ${ev.id}`)), 50);
	// logged in the outbox: one promotion message for the head
	assert.equal(Number(sqlValue(`SELECT COUNT(*) FROM outbox o JOIN registrations r ON r.id = o.registration_id WHERE r.code = '${head.json.code}' AND o.kind = 'promotion'`)), 1);
	// a second cancel of the same registration is refused, and promotes nobody
	const again = await api('DELETE', `/api/v1/registrations/${victim.json.code}?phone=${victimPhone}`);
	assertError(again, 409);
	assert.equal(Number(sqlValue(`SELECT COUNT(*) FROM registrations WHERE event_id = ${ev.id} AND status = 'waitlisted'`)), 149);

	// the staff list and the check-in
	const list = await api('GET', `/api/v1/events/${ev.id}/registrations`, { token: staff.token });
	assert.equal(list.status, 200);
	assert.equal(list.json.registrations.length, 200);
	const ci = await api('POST', `/api/v1/registrations/${head.json.code}/checkin`, { token: staff.token });
	assert.equal(ci.status, 200, ci.body);
	assert.ok(ci.json.checked_in_at);
	const undo = await api('POST', `/api/v1/registrations/${head.json.code}/checkin`, { token: staff.token, body: { undo: true } });
	assert.equal(undo.status, 200);
	assert.equal(undo.json.checked_in_at, null);
	assertError(await api('POST', `/api/v1/registrations/${waitlisted.find((r) => r.json.position === 10).json.code}/checkin`, { token: staff.token }), 409);
});

test('the same phone twice: one 201, then 409, never two rows', async () => {
	const ev = await newEvent({ capacity: 10 });
	const p = phone();
	const both = await Promise.all([0, 1].map(() =>
		api('POST', `/api/v1/events/${ev.id}/registrations`, { body: { name: '李四', phone: p } })));
	assert.deepEqual(both.map((r) => r.status).sort(), [201, 409]);
	assertError(both.find((r) => r.status === 409), 409, 'duplicate_phone');
	const third = await api('POST', `/api/v1/events/${ev.id}/registrations`, { body: { name: '李四', phone: `+86 ${p}` } });
	assertError(third, 409, 'duplicate_phone');
	assert.equal(Number(sqlValue(`SELECT COUNT(*) FROM registrations WHERE event_id = ${ev.id} AND phone = '${p}'`)), 1);
	assert.equal(Number(sqlValue(`SELECT taken FROM events WHERE id = ${ev.id}`)), 1);
});

test('lookup by code and phone: wrong phone and unknown code get the same 404', async () => {
	const ev = await newEvent();
	const p = phone();
	const r = await api('POST', `/api/v1/events/${ev.id}/registrations`, { body: { name: '王五', phone: p } });
	assert.equal(r.status, 201);
	const ok = await api('GET', `/api/v1/registrations/${r.json.code}?phone=${p}`);
	assert.equal(ok.status, 200);
	assert.equal(ok.json.status, 'confirmed');
	assert.equal(ok.json.phone, `${p.slice(0, 3)}****${p.slice(7)}`);
	const wrongPhone = await api('GET', `/api/v1/registrations/${r.json.code}?phone=13800000000`);
	const unknown = await api('GET', '/api/v1/registrations/ZZZZZZ?phone=13800000000');
	assertError(wrongPhone, 404, 'not_found');
	assert.equal(wrongPhone.body, unknown.body);
	const wrongDelete = await api('DELETE', `/api/v1/registrations/${r.json.code}?phone=13800000000`);
	assertError(wrongDelete, 404);
	assert.equal(sqlValue(`SELECT status FROM registrations WHERE code = '${r.json.code}'`), 'confirmed');
});

test('bad input: each a 4xx with a clear message, nothing written', async () => {
	const ev = await newEvent({ slots: [{ starts_at: iso(10), ends_at: iso(10, 10), capacity: 5 }] });
	const other = await newEvent({ slots: [{ starts_at: iso(11), ends_at: iso(11, 10), capacity: 5 }] });
	const slot = ev.slots[0].id;
	const otherSlot = other.slots[0].id;
	const url = `/api/v1/events/${ev.id}/registrations`;
	const cases = [
		[{ name: '', phone: phone(), slot_id: slot }, 422, 'name'],
		[{ name: '长'.repeat(51), phone: phone(), slot_id: slot }, 422, 'name'],
		[{ name: '张三', phone: '12345', slot_id: slot }, 422, 'phone'],
		[{ name: '张三', phone: '23800000000', slot_id: slot }, 422, 'phone'],
		[{ name: '张三', phone: 13912345678, slot_id: slot }, 422, 'phone'],
		[{ name: ['张三'], phone: phone(), slot_id: slot }, 422, 'name'],
		[{ name: '张三', phone: phone(), slot_id: '1' }, 422, 'slot_id'],
		[{ name: '张三', phone: phone(), slot_id: slot, color: 'red' }, 422, 'color'],
		[{ name: '张三', phone: phone(), slot_id: otherSlot }, 422, 'slot_id'],
		[{ name: '张三', phone: phone() }, 422, 'slot_id'],
		[{ name: '张三', phone: phone(), slot_id: slot, consent: 'yes' }, 422, 'consent'],
		[{ name: '张三', phone: phone(), slot_id: slot, answers: [] }, 422, 'answers'],
		[{ name: 'a\u0007b', phone: phone(), slot_id: slot }, 422, 'name'],
	];
	const before = regCount(ev.id);
	for (const [body, status, field] of cases) {
		const r = await api('POST', url, { body });
		assertError(r, status);
		assert.ok(r.json.error.fields && field in r.json.error.fields, `${JSON.stringify(body).slice(0, 80)}: fields ${r.body}`);
	}
	// not JSON, not an object, a 1 MB name
	assertError(await api('POST', url, { raw: '{"name": ' }), 400, 'invalid_json');
	assertError(await api('POST', url, { raw: '[1,2]' }), 422);
	const big = await api('POST', url, { body: { name: 'x'.repeat(1 << 20), phone: phone(), slot_id: slot } });
	assert.ok(big.status === 413 || big.status === 422, `1 MB name: ${big.status}`);
	assert.equal(regCount(ev.id), before, 'nothing written');
	assert.equal(Number(sqlValue(`SELECT taken FROM events WHERE id = ${ev.id}`)), 0);

	// staff input: unknown fields, wrong types, invalid dates, unknown kind
	const evBefore = Number(sqlValue('SELECT COUNT(*) FROM events'));
	const good = { kind: 'general', title: 'x', location: 'y', starts_at: iso(5), ends_at: iso(5, 10), capacity: 3 };
	const bad = [
		[{ ...good, colour: 1 }, 'colour'],
		[{ ...good, capacity: '3' }, 'capacity'],
		[{ ...good, capacity: 0 }, 'capacity'],
		[{ ...good, starts_at: '2026-02-30T09:00:00+08:00' }, 'starts_at'],
		[{ ...good, starts_at: 'tomorrow' }, 'starts_at'],
		[{ ...good, ends_at: iso(4) }, 'ends_at'],
		[{ ...good, kind: 'nosuchkind' }, 'kind'],
		[{ ...good, waitlist: 'yes' }, 'waitlist'],
		[{ ...good, title: 't'.repeat(101) }, 'title'],
		[{ ...good, slots: [{ starts_at: iso(5), capacity: 1 }] }, 'slots[0]'],
		[{ title: 'x' }, 'kind'],
	];
	for (const [body, field] of bad) {
		const r = await api('POST', '/api/v1/events', { token: staff.token, body });
		assertError(r, 422, 'invalid');
		assert.ok(field in r.json.error.fields, `${field}: ${r.body}`);
	}
	assert.equal(Number(sqlValue('SELECT COUNT(*) FROM events')), evBefore, 'no event written');
});

test('names are stored verbatim and neutralised in the CSV export', async () => {
	const ev = await newEvent();
	const names = ['<script>alert(1)</script>', "Robert'); DROP TABLE registrations;--", '=1+1', '@SUM(A1)', '张"三",'];
	for (const name of names) {
		const r = await api('POST', `/api/v1/events/${ev.id}/registrations`, { body: { name, phone: phone() } });
		assert.equal(r.status, 201, r.body);
		assert.equal(sqlValue(`SELECT name FROM registrations WHERE code = '${r.json.code}'`), name);
	}
	const csv = await api('GET', `/api/v1/events/${ev.id}/registrations.csv`, { token: staff.token });
	assert.equal(csv.status, 200);
	assert.match(csv.headers['content-type'], /^text\/csv/);
	assert.ok(csv.body.startsWith('\uFEFF'), 'UTF-8 BOM');
	assert.ok(csv.body.includes("'=1+1"), 'formula neutralised');
	assert.ok(csv.body.includes("'@SUM(A1)"));
	assert.ok(!/(^|,)=1\+1/m.test(csv.body));
	assert.ok(csv.body.includes('"张""三"","'));
	assert.ok(csv.body.includes('<script>alert(1)</script>'), 'CSV is text, not HTML');
	const audited = Number(sqlValue(`SELECT COUNT(*) FROM audit_log WHERE action = 'event.export' AND object_id = '${ev.id}'`));
	assert.equal(audited, 1);
	// the public JSON is JSON-escaped text
	const lookup = await api('GET', `/api/v1/events/${ev.id}/registrations`, { token: staff.token });
	assert.ok(lookup.json.registrations.some((r) => r.name === '<script>alert(1)</script>'));
	const found = await api('GET', `/api/v1/events/${ev.id}/registrations?q=${encodeURIComponent('张"三')}`, { token: staff.token });
	assert.equal(found.status, 200, found.body);
	assert.deepEqual(found.json.registrations.map((r) => r.name), ['张"三",']);
	const pct = await api('GET', `/api/v1/events/${ev.id}/registrations?q=%25`, { token: staff.token });
	assert.equal(pct.json.registrations.length, 0, 'a % searches for a literal %');
});

test('registration closed: 403; full without waitlist: 409', async () => {
	const closed = await newEvent({ registration_closes_at: iso(-1) });
	assertError(await api('POST', `/api/v1/events/${closed.id}/registrations`, { body: { name: '赵六', phone: phone() } }), 403, 'closed');
	const small = await newEvent({ capacity: 1, waitlist: false });
	assert.equal((await api('POST', `/api/v1/events/${small.id}/registrations`, { body: { name: '甲', phone: phone() } })).status, 201);
	assertError(await api('POST', `/api/v1/events/${small.id}/registrations`, { body: { name: '乙', phone: phone() } }), 409, 'full');
	assert.equal(regCount(small.id), 1);
});

test('lookups past the limit from one address get 429', async () => {
	const limit = Number(confValue('lookup_limit_per_hour'));
	assert.ok(limit > 0 && limit < 1000);
	const from = freshAddress();
	let last;
	for (let i = 0; i <= limit; i++) last = await api('GET', '/api/v1/registrations/ZZZZZZ?phone=13800000000', { from });
	assertError(last, 429, 'rate_limited');
	// another address is not affected
	assertError(await api('GET', '/api/v1/registrations/ZZZZZZ?phone=13800000000'), 404);
});

test('a plugin kind: its form is in the event, answers are checked against it, consent required', async () => {
	const ev = await newEvent({ kind: 'haircut', capacity: 5 });
	const g = await api('GET', `/api/v1/events/${ev.id}`);
	assert.equal(g.status, 200);
	assert.equal(g.json.kind, 'haircut');
	assert.equal(g.json.consent_required, true);
	assert.equal(g.json.retention_days, 90, "the kind's retention period");
	assert.ok(g.json.form.fields.some((f) => f.name === 'age_band'));
	const url = `/api/v1/events/${ev.id}/registrations`;
	const p = phone();
	const noConsent = await api('POST', url, { body: { name: '陈奶奶', phone: p, answers: { age_band: '80_89', home_visit: false } } });
	assertError(noConsent, 422, 'invalid');
	assert.ok('answers.consent' in noConsent.json.error.fields, noConsent.body);
	const badBand = await api('POST', url, { body: { name: '陈奶奶', phone: p, consent: true, answers: { age_band: '200', home_visit: false } } });
	assertError(badBand, 422);
	assert.ok('answers.age_band' in badBand.json.error.fields, badBand.body);
	const unknown = await api('POST', url, { body: { name: '陈奶奶', phone: p, consent: true, answers: { age_band: '80_89', home_visit: false, shoe_size: 40 } } });
	assertError(unknown, 422);
	assert.ok('answers.shoe_size' in unknown.json.error.fields, unknown.body);
	assert.equal(regCount(ev.id), 0, 'nothing written');
	const good = await api('POST', url, { body: { name: '陈奶奶', phone: p, consent: true, on_behalf_of: '女儿', answers: { age_band: '80_89', home_visit: true, address: '5号楼2单元301' } } });
	assert.equal(good.status, 201, good.body);
	const [[answers, behalf, consent]] = sql(`SELECT answers, on_behalf_of, consent FROM registrations WHERE code = '${good.json.code}'`);
	assert.equal(JSON.parse(answers).address, '5号楼2单元301');
	assert.equal(behalf, '女儿');
	assert.equal(consent, '1');
	assertError(await api('POST', '/api/v1/events', { token: staff.token, body: { kind: 'nosuchkind', title: 'x', location: 'y', starts_at: iso(5), ends_at: iso(5, 10), capacity: 3 } }), 422);
});

test('the hourly job queues the day-before reminder and the log sender sends it with the phone masked', async () => {
	const ev = await newEvent({ starts_at: iso(1, 15), ends_at: iso(1, 17), capacity: 5 });
	const p = phone();
	const r = await api('POST', `/api/v1/events/${ev.id}/registrations`, { body: { name: '周大爷', phone: p } });
	assert.equal(r.status, 201, r.body);
	const regId = sqlValue(`SELECT id FROM registrations WHERE code = '${r.json.code}'`);
	assert.equal(sqlValue(`SELECT status FROM outbox WHERE registration_id = ${regId} AND kind = 'confirmation'`), 'queued');
	// The exit status also reflects the plugins' jobs, and the test instance serves a hostile
	// plugin whose hourly job fails on purpose: the core's work is checked by its results.
	const run = portald(['jobs', 'run', 'hourly', '--force']);
	assert.ok(run.status === 0 || run.status === 1, `jobs run exited ${run.status}: ${run.stderr.slice(-500)}`);
	assert.equal(sqlValue(`SELECT COUNT(*) FROM outbox WHERE registration_id = ${regId} AND kind = 'reminder'`), '1');
	assert.equal(sqlValue(`SELECT status FROM outbox WHERE registration_id = ${regId} AND kind = 'reminder'`), 'sent');
	assert.equal(sqlValue(`SELECT status FROM outbox WHERE registration_id = ${regId} AND kind = 'confirmation'`), 'sent');
	const out = run.stdout + run.stderr;
	assert.ok(out.includes(`${p.slice(0, 3)}****${p.slice(7)}`), 'the masked phone is logged');
	assert.ok(!out.includes(p), 'never the full phone');
	// a second run queues no second reminder
	portald(['jobs', 'run', 'hourly', '--force']);
	assert.equal(sqlValue(`SELECT COUNT(*) FROM outbox WHERE registration_id = ${regId} AND kind = 'reminder'`), '1');
});

test('the daily job marks no-shows and anonymises registrants past the retention period', async () => {
	const old = await newEvent({ starts_at: iso(-20), ends_at: iso(-20, 11), retention_days: 10, capacity: 5 });
	const recent = await newEvent({ starts_at: iso(-2), ends_at: iso(-2, 11), retention_days: 10, capacity: 5 });
	const p1 = phone();
	const p2 = phone();
	// registrations of events already over are written directly (the API refuses them)
	sql(`INSERT INTO registrations (event_id, code, name, phone, status, answers) VALUES
		(${old.id}, 'OLD${crypto.randomBytes(2).toString('hex').toUpperCase().replace(/[01]/g, '2').slice(0, 3)}', '老用户', '${p1}', 'confirmed', '{"a": 1}'),
		(${recent.id}, 'NEW${crypto.randomBytes(2).toString('hex').toUpperCase().replace(/[01]/g, '2').slice(0, 3)}', '新用户', '${p2}', 'confirmed', NULL)`);
	const run = portald(['jobs', 'run', 'daily', '--force']);
	assert.equal(run.status, 0, run.stderr);
	const [[name, ph, answers, status]] = sql(`SELECT name, phone, answers IS NULL, status FROM registrations WHERE event_id = ${old.id}`);
	assert.equal(name, '已匿名');
	assert.notEqual(ph, p1);
	assert.equal(answers, '1');
	assert.equal(status, 'no_show');
	const [[name2, ph2, status2]] = sql(`SELECT name, phone, status FROM registrations WHERE event_id = ${recent.id}`);
	assert.equal(name2, '新用户', 'inside the retention period: kept');
	assert.equal(ph2, p2);
	assert.equal(status2, 'no_show');
	assert.equal(Number(sqlValue(`SELECT COUNT(*) FROM audit_log WHERE action = 'event.anonymise' AND object_id = '${old.id}'`)), 1);
});

test('registrations past the limit from one address get 429, and nothing is written', async () => {
	const limit = Number(confValue('register_limit_per_hour'));
	assert.ok(limit > 0 && limit < 1000);
	const ev = await newEvent({ capacity: 1000 });
	const from = freshAddress();
	for (let i = 0; i < limit; i++) {
		const r = await api('POST', `/api/v1/events/${ev.id}/registrations`, { from, body: { name: `限${i}`, phone: phone() } });
		assert.equal(r.status, 201, r.body);
	}
	const over = await api('POST', `/api/v1/events/${ev.id}/registrations`, { from, body: { name: '超出', phone: phone() } });
	assertError(over, 429, 'rate_limited');
	assert.equal(regCount(ev.id), limit);
	// another address still registers
	assert.equal((await api('POST', `/api/v1/events/${ev.id}/registrations`, { body: { name: '别处', phone: phone() } })).status, 201);
});

test('staff register a caller on their behalf: recorded and audited', async () => {
	const ev = await newEvent({ capacity: 5 });
	const r = await api('POST', `/api/v1/events/${ev.id}/registrations`, { token: staff.token, body: { name: '电话报名', phone: phone() } });
	assert.equal(r.status, 201, r.body);
	assert.equal(Number(sqlValue(`SELECT registered_by FROM registrations WHERE code = '${r.json.code}'`)), staff.id);
	assert.equal(Number(sqlValue(`SELECT COUNT(*) FROM audit_log WHERE action = 'registration.on_behalf' AND object_id = '${r.json.code}'`)), 1);
	const self = await api('POST', `/api/v1/events/${ev.id}/registrations`, { body: { name: '自己报名', phone: phone() } });
	assert.equal(sqlValue(`SELECT registered_by IS NULL FROM registrations WHERE code = '${self.json.code}'`), '1');
	// the staff view of one registration has the full phone; check-in of an unknown code is 404
	assertError(await api('POST', '/api/v1/registrations/ZZZZZZ/checkin', { token: staff.token }), 404);
	assertError(await api('POST', `/api/v1/registrations/${r.json.code}/checkin`, { token: staff.token, body: { undo: 'yes' } }), 422);
});

test('a resident who cancelled can register again with the same phone; the cancelled one stays on record', async () => {
	const ev = await newEvent({ capacity: 5 });
	const p = phone();
	const first = await api('POST', `/api/v1/events/${ev.id}/registrations`, { body: { name: '赵阿姨', phone: p } });
	assert.equal(first.status, 201, first.body);
	const cancel = await api('DELETE', `/api/v1/registrations/${first.json.code}?phone=${p}`);
	assert.equal(cancel.status, 200, cancel.body);
	const again = await api('POST', `/api/v1/events/${ev.id}/registrations`, { body: { name: '赵阿姨', phone: p } });
	assert.equal(again.status, 201, again.body);
	assert.notEqual(again.json.code, first.json.code, 'a new code');
	const rows = sql(`SELECT code, status FROM registrations WHERE event_id = ${ev.id} AND phone = '${p}' ORDER BY id`);
	assert.deepEqual(rows, [[first.json.code, 'cancelled'], [again.json.code, 'confirmed']],
		'the cancelled registration keeps its row; only the new one holds the phone');
	const old = await api('GET', `/api/v1/registrations/${first.json.code}?phone=${p}`);
	assert.equal(old.status, 200, old.body);
	assert.equal(old.json.status, 'cancelled', 'the old code still looks up, as cancelled');
	const dup = await api('POST', `/api/v1/events/${ev.id}/registrations`, { body: { name: '赵阿姨', phone: p } });
	assert.equal(dup.status, 409, 'and a second registration of that phone is still refused');
	assert.equal(Number(sqlValue(`SELECT taken FROM events WHERE id = ${ev.id}`)), 1, 'one seat taken');
});

// Workers keep what registering reads of a published event for a moment (core/evcache.c);
// the seat-taking UPDATE carries the event's rev, so a staff change is seen by the very next
// registration in every worker. Many registrations first, so that every worker holds the
// event; then each change, then registrations again at once.
test('a staff change of an event reaches the next registration in every worker', async () => {
	const ev = await newEvent({ capacity: 100 });
	const burst = (n) => Promise.all(Array.from({ length: n }, () =>
		api('POST', `/api/v1/events/${ev.id}/registrations`, { body: { name: '缓存测试', phone: phone() } })));
	for (const r of await burst(16)) assert.equal(r.status, 201, r.body);
	// a new title: the confirmations queued right after carry it
	const title = `改名后的活动 ${crypto.randomBytes(3).toString('hex')}`;
	const patch = await api('PATCH', `/api/v1/events/${ev.id}`, { token: staff.token, body: { title } });
	assert.equal(patch.status, 200, patch.body);
	const after = await burst(16);
	for (const r of after) assert.equal(r.status, 201, r.body);
	const codes = after.map((r) => `'${r.json.code}'`).join(',');
	const bodies = sql(`SELECT o.body FROM outbox o JOIN registrations r ON r.id = o.registration_id
		WHERE r.code IN (${codes}) AND o.kind = 'confirmation'`).map((row) => row[0]);
	assert.equal(bodies.length, 16);
	for (const b of bodies) assert.ok(b.includes(title), `confirmation with the new title: ${b}`);
	// capacity lowered to what is taken: the next registrations wait
	const taken = Number(sqlValue(`SELECT taken FROM events WHERE id = ${ev.id}`));
	const cap = await api('PATCH', `/api/v1/events/${ev.id}`, { token: staff.token, body: { capacity: taken, waitlist: false } });
	assert.equal(cap.status, 200, cap.body);
	for (const r of await burst(8)) assertError(r, 409, 'full');
	// room again: registrations are confirmed at once
	const reopen = await api('PATCH', `/api/v1/events/${ev.id}`, { token: staff.token, body: { capacity: 100 } });
	assert.equal(reopen.status, 200, reopen.body);
	for (const r of await burst(8)) assert.equal(r.status, 201, r.body);
	// registration closed an hour ago: every worker refuses at once
	const hourAgo = new Date(Date.now() - 3600e3 + 8 * 3600e3).toISOString().slice(0, 19) + '+08:00';
	const close = await api('PATCH', `/api/v1/events/${ev.id}`, { token: staff.token, body: { registration_closes_at: hourAgo } });
	assert.equal(close.status, 200, close.body);
	for (const r of await burst(8)) assertError(r, 403, 'closed');
	assert.equal(Number(sqlValue(`SELECT taken FROM events WHERE id = ${ev.id}`)),
		Number(sqlValue(`SELECT COUNT(*) FROM registrations WHERE event_id = ${ev.id} AND status = 'confirmed'`)),
		'the seat count agrees with the rows');
});

// Paging (docs/api.md): 45 events of their own in a month of a far year (after every other
// test's events, and only theirs between `from` and `to`), with starts shared by three events
// at a time so the order's tie-break (the id) is exercised; created out of start order.
test('the list pages by limit and offset: every event exactly once, in start order; bad values are 422', async () => {
	const year = 2088 + crypto.randomInt(0, 8), month = String(1 + crypto.randomInt(0, 12)).padStart(2, '0');
	const from = `${year}-${month}-01`, to = `${year}-${month}-28`;
	const made = [];
	const order = Array.from({ length: 45 }, (_, i) => i).sort(() => crypto.randomInt(0, 3) - 1);
	for (let k = 0; k < order.length; k += 5) {
		made.push(...await Promise.all(order.slice(k, k + 5).map((i) => {
			const day = `${year}-${month}-${String(1 + Math.floor(i / 3)).padStart(2, '0')}`;
			return newEvent({ title: `分页API ${i}`, starts_at: `${day}T09:00:00+08:00`, ends_at: `${day}T11:00:00+08:00` });
		})));
	}
	const expected = made.slice().sort((a, b) => a.starts_at.localeCompare(b.starts_at) || a.id - b.id).map((e) => e.id);
	const range = `from=${from}&to=${to}`;

	// no limit: the whole range at once (up to 100, as before paging), and no next page
	const all = await api('GET', `/api/v1/events?${range}`);
	assert.equal(all.status, 200, all.body);
	assert.deepEqual(all.json.events.map((e) => e.id), expected, 'all 45 in start order, ties by id');
	assert.equal(all.json.limit, 100);
	assert.equal(all.json.offset, 0);
	assert.equal(all.json.next_offset, null);

	// a walk by next_offset at several page sizes returns every event exactly once, in order
	for (const limit of [20, 7, 44, 45, 1]) {
		const seen = [];
		let offset = 0, pages = 0;
		while (offset !== null) {
			const r = await api('GET', `/api/v1/events?${range}&limit=${limit}&offset=${offset}`);
			assert.equal(r.status, 200, r.body);
			assert.equal(r.json.limit, limit);
			assert.equal(r.json.offset, offset);
			assert.ok(r.json.events.length <= limit);
			if (r.json.next_offset !== null) {
				assert.equal(r.json.events.length, limit, 'only the last page is short');
				assert.equal(r.json.next_offset, offset + limit);
			}
			seen.push(...r.json.events.map((e) => e.id));
			offset = r.json.next_offset;
			assert.ok(++pages <= 45, 'the walk ends');
		}
		assert.deepEqual(seen, expected, `limit ${limit}: every event once, in order`);
		assert.equal(pages, Math.ceil(45 / limit), `limit ${limit}: ${Math.ceil(45 / limit)} pages`);
	}
	const page2 = await api('GET', `/api/v1/events?${range}&limit=20&offset=20`);
	assert.deepEqual(page2.json.events.map((e) => e.id), expected.slice(20, 40), 'the second page of 20');
	const past = await api('GET', `/api/v1/events?${range}&limit=20&offset=45`);
	assert.equal(past.status, 200, 'an offset past the end is an empty page, not an error');
	assert.deepEqual(past.json.events, []);
	assert.equal(past.json.next_offset, null);
	// paging combines with the kind filter
	const kinded = await api('GET', `/api/v1/events?kind=general&${range}&limit=40&offset=10`);
	assert.deepEqual(kinded.json.events.map((e) => e.id), expected.slice(10, 45));
	assert.equal((await api('GET', `/api/v1/events?kind=haircut&${range}&limit=5`)).json.events.length, 0);

	// invalid values: 422 with a zh-CN message per field, several at once
	for (const [q, bad] of [['limit=0', ['limit']], ['limit=101', ['limit']], ['limit=-1', ['limit']],
		['limit=abc', ['limit']], ['limit=1.5', ['limit']], ['offset=-1', ['offset']], ['offset=x', ['offset']],
		['offset=1000001', ['offset']], ['limit=0&offset=-5&from=2026-02-30', ['from', 'limit', 'offset']],
		['to=tomorrow', ['to']]]) {
		const r = await api('GET', `/api/v1/events?${q}`);
		assertError(r, 422, 'invalid');
		assert.deepEqual(Object.keys(r.json.error.fields).sort(), bad, `${q}: ${r.body}`);
		for (const f of bad) assert.match(r.json.error.fields[f], /[\u4e00-\u9fff]/, `${q}: a zh-CN message for ${f}`);
	}
});
