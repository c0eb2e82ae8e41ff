// plugins_host_b.test.mjs - the host API of docs/plugins.md §10-§12 that plugins build on,
// through nginx, with tests/plugins/pairs (kind "pair_day") and tests/plugins/seniors (kind
// "senior_day", someone else's): portal.events sees its own kinds in full and only public
// fields of others' published events; registration.keys makes "one registration per couple"
// hold under concurrent requests, with the plugin's message; uploads reach staff routes only;
// GBK files decode; CSV out is neutralised; portal.db works in `portald jobs run daily`.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { addUser, addToken, sqlValue, freshAddress, request, portald, signedIn } from './accounts-lib.mjs';
import { BASE } from './lib.mjs';

let token, staff;
let pairEvent, pairSlots, seniorEvent, seniorDraft;

const json = (r) => ({ ...r, json: (() => { try { return JSON.parse(r.body); } catch { return undefined; } })() });

function api(method, p, { body, auth = true } = {}) {
	const headers = {};
	if (body !== undefined) headers['Content-Type'] = 'application/json';
	if (auth) headers.Authorization = `Bearer ${token}`;
	return request(method, p, { headers, body: body === undefined ? undefined : JSON.stringify(body), from: freshAddress() })
		.then(json);
}

const day = (n, h) => `${new Date(Date.now() + n * 86400e3 + 8 * 3600e3).toISOString().slice(0, 10)}T${h}:00:00+08:00`;
const phone = () => `139${String(crypto.randomInt(0, 1e8)).padStart(8, '0')}`;

async function newEvent(body, publish = true) {
	const r = await api('POST', '/api/v1/events', { body });
	assert.equal(r.status, 201, r.body);
	if (publish) assert.equal((await api('POST', `/api/v1/events/${r.json.id}/publish`)).status, 200);
	return r.json.id;
}

// A multipart POST with the staff token (fetch: FormData and Blob carry the exact bytes).
async function upload(p, bytes, { auth = true, fields = {}, cookie } = {}) {
	const fd = new FormData();
	for (const [k, v] of Object.entries(fields)) fd.append(k, v);
	fd.append('file', new Blob([bytes], { type: 'text/csv' }), '名单.csv');
	const headers = {};
	if (auth) headers.Authorization = `Bearer ${token}`;
	if (cookie) headers.Cookie = cookie;
	const r = await fetch(BASE + p, { method: 'POST', body: fd, headers, redirect: 'manual' });
	return json({ status: r.status, body: await r.text() });
}

before(async () => {
	staff = addUser('hostb', ['staff']);
	token = addToken(staff.username).token;
	pairEvent = await newEvent({ kind: 'pair_day', title: '孕前检查（夫妇同报）', location: '社区卫生服务站',
		starts_at: day(20, '09'), ends_at: day(20, '12'), capacity: 10,
		slots: [{ starts_at: day(20, '09'), ends_at: day(20, '10'), capacity: 5 },
			{ starts_at: day(20, '10'), ends_at: day(20, '11'), capacity: 5 }] });
	const ev = await api('GET', `/api/v1/events/${pairEvent}`, { auth: false });
	pairSlots = ev.json.slots.map((s) => s.id);
	seniorEvent = await newEvent({ kind: 'senior_day', title: '重阳节登高', location: '社区公园', starts_at: day(21, '09'),
		ends_at: day(21, '11'), capacity: 20 });
	seniorDraft = await newEvent({ kind: 'senior_day', title: '草稿活动', location: '某处', starts_at: day(22, '09'),
		ends_at: day(22, '11'), capacity: 20 }, false);
});

test('portal.events.list: own kinds in full, other kinds only published and public', async () => {
	const own = await api('GET', '/api/p/pairs/events');
	assert.equal(own.status, 200, own.body);
	assert.equal(own.json.ok, true, own.body);
	const mine = own.json.value.find((e) => e.id === pairEvent);
	assert.ok(mine, 'the own-kind event is listed');
	assert.ok(own.json.value.every((e) => e.kind === 'pair_day'), 'no other kind without all_kinds');
	assert.equal(mine.capacity, 10);
	assert.equal(mine.confirmed, 0);
	assert.equal(mine.slots.length, 2);
	assert.match(mine.starts_at, /^\d{4}-\d\d-\d\d 09:00:00$/, 'local time as stored');

	const all = await api('GET', '/api/p/pairs/events?all_kinds=1');
	assert.equal(all.json.ok, true, all.body);
	const other = all.json.value.find((e) => e.id === seniorEvent);
	assert.ok(other, 'a published event of another kind is listed');
	assert.deepEqual(Object.keys(other).sort(), ['ends_at', 'id', 'kind', 'location', 'starts_at', 'status', 'title']);
	assert.ok(!all.json.value.some((e) => e.id === seniorDraft), 'drafts of other kinds stay hidden');

	const bad = await api('GET', '/api/p/pairs/events?kind=senior_day');
	assert.equal(bad.json.ok, false);
	assert.match(bad.json.error, /not an event kind of plugin pairs/);
	const from = day(20, '00').slice(0, 10);
	const ranged = await api('GET', `/api/p/pairs/events?from=${from}&to=${from}`);
	assert.ok(ranged.json.value.some((e) => e.id === pairEvent));
	assert.ok(ranged.json.value.every((e) => e.starts_at.startsWith(from)), 'only that day');
});

test('portal.events.get and registrations refuse other kinds', async () => {
	const g = await api('GET', `/api/p/pairs/events/${seniorEvent}`);
	assert.deepEqual(Object.keys(g.json.value).sort(), ['ends_at', 'id', 'kind', 'location', 'starts_at', 'status', 'title']);
	const draft = await api('GET', `/api/p/pairs/events/${seniorDraft}`);
	assert.equal(draft.json.ok, true);
	assert.equal(draft.json.value, undefined, 'nil for another kind\'s draft');
	const regs = await api('GET', `/api/p/pairs/events/${seniorEvent}/registrations`);
	assert.equal(regs.json.ok, false, 'reading another kind\'s registrations raises');
	assert.match(regs.json.error, /not an event of plugin pairs's kinds/);
	// and a registration code of another kind is nil
	const r = await api('POST', `/api/v1/events/${seniorEvent}/registrations`, { auth: false,
		body: { name: '赵大爷', phone: phone(), answers: { age: 70 } } });
	assert.equal(r.status, 201, r.body);
	const one = await api('GET', `/api/p/pairs/registration/${r.json.code}`);
	assert.equal(one.json.ok, true);
	assert.equal(one.json.value, undefined);
});

test('two concurrent registrations of one couple: exactly one row and one 409 with the plugin\'s message', async () => {
	const [a, b] = [phone(), phone()];
	const before = Number(sqlValue(`SELECT COUNT(*) FROM registrations WHERE event_id = ${pairEvent}`));
	const res = await Promise.all([
		api('POST', `/api/v1/events/${pairEvent}/registrations`, { auth: false,
			body: { name: '刘伟', phone: a, slot_id: pairSlots[0], answers: { partner: b } } }),
		api('POST', `/api/v1/events/${pairEvent}/registrations`, { auth: false,
			body: { name: '陈静', phone: b, slot_id: pairSlots[1], answers: { partner: a } } }),
	]);
	const statuses = res.map((r) => r.status).sort();
	assert.deepEqual(statuses, [201, 409], res.map((r) => r.body).join(' | '));
	const refused = res.find((r) => r.status === 409);
	assert.equal(refused.json.error.code, 'duplicate');
	assert.equal(refused.json.error.message, '这对夫妇本轮已经报名。');
	assert.equal(Number(sqlValue(`SELECT COUNT(*) FROM registrations WHERE event_id = ${pairEvent}`)), before + 1);
	const code = res.find((r) => r.status === 201).json.code;
	assert.equal(Number(sqlValue(`SELECT COUNT(*) FROM registration_keys k JOIN registrations r ON r.id = k.registration_id
		WHERE r.code = '${code}' AND k.plugin_id = 'pairs'`)), 1);

	// what the plugin reads back about it
	const regs = await api('GET', `/api/p/pairs/events/${pairEvent}/registrations?status=confirmed`);
	assert.equal(regs.json.ok, true, regs.body);
	const mine = regs.json.value.find((x) => x.code === code);
	assert.ok(mine);
	assert.ok([a, b].includes(mine.phone), 'staff-side: the full phone');
	assert.ok([a, b].includes(mine.answers.partner));
	assert.equal(mine.status, 'confirmed');
	assert.equal(mine.no_show, false);
	assert.equal(mine.by_staff, false);
	assert.equal(mine.consent, false);
	assert.match(mine.created_at, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
	const one = await api('GET', `/api/p/pairs/registration/${code.toLowerCase()}`);
	assert.equal(one.json.value.event_id, pairEvent);
	const ev = await api('GET', `/api/p/pairs/events/${pairEvent}`);
	assert.equal(ev.json.value.confirmed, before + 1);
	assert.equal(ev.json.value.slots.reduce((n, s) => n + s.confirmed, 0), before + 1);

	// cancelling frees the key: the couple can register again
	const who = mine.phone;
	const c = await request('DELETE', `/api/v1/registrations/${code}?phone=${who}`, { from: freshAddress() });
	assert.equal(c.status, 200, c.body);
	assert.equal(Number(sqlValue(`SELECT COUNT(*) FROM registration_keys k JOIN registrations r ON r.id = k.registration_id
		WHERE r.code = '${code}'`)), 0);
	const again = await api('POST', `/api/v1/events/${pairEvent}/registrations`, { auth: false,
		body: { name: '陈静', phone: who === a ? b : a, slot_id: pairSlots[0], answers: { partner: who } } });
	assert.equal(again.status, 201, again.body);
});

test('cancelling the event frees its registrations\' keys', async () => {
	const ev = await newEvent({ kind: 'pair_day', title: '将取消的活动', location: '社区卫生服务站',
		starts_at: day(25, '09'), ends_at: day(25, '11'), capacity: 5 });
	const r = await api('POST', `/api/v1/events/${ev}/registrations`, { auth: false,
		body: { name: '孙丽', phone: phone(), answers: { partner: phone() } } });
	assert.equal(r.status, 201, r.body);
	const keys = () => Number(sqlValue(`SELECT COUNT(*) FROM registration_keys k JOIN registrations r
		ON r.id = k.registration_id WHERE r.event_id = ${ev}`));
	assert.equal(keys(), 1);
	const b = await signedIn(staff);
	const page = await b.get(`/staff/events/${ev}/edit`);
	const csrf = /name="csrf" value="([^"]*)"/.exec(page.body)[1];
	assert.equal((await b.post(`/staff/events/${ev}/cancel`, { csrf, confirm: '1' })).status, 303);
	assert.equal(keys(), 0);
});

test('the page shows the plugin\'s message by the form', async () => {
	const [a, b] = [phone(), phone()];
	const first = await api('POST', `/api/v1/events/${pairEvent}/registrations`, { auth: false,
		body: { name: '周强', phone: a, slot_id: pairSlots[0], answers: { partner: b } } });
	assert.equal(first.status, 201, first.body);
	const from = freshAddress();
	const page = await request('GET', `/events/${pairEvent}`, { from });
	const csrf = /name="csrf" value="([^"]*)"/.exec(page.body)[1];
	const cookies = Object.fromEntries(Object.entries(page.setCookies).map(([k, v]) => [k, v.value]));
	const r = await request('POST', `/events/${pairEvent}/register`, { from, cookies,
		body: { csrf, name: '吴敏', phone: b, slot_id: String(pairSlots[1]), partner: a } });
	assert.equal(r.status, 409, r.body.slice(0, 400));
	assert.match(r.body, /这对夫妇本轮已经报名。/);
});

test('a keys hook that raises refuses the registration (fail closed)', async () => {
	const before = Number(sqlValue(`SELECT COUNT(*) FROM registrations WHERE event_id = ${pairEvent}`));
	const r = await api('POST', `/api/v1/events/${pairEvent}/registrations`, { auth: false,
		body: { name: '钥匙出错', phone: phone(), slot_id: pairSlots[0], answers: { partner: phone() } } });
	assert.ok(r.status >= 500, `refused: ${r.status} ${r.body}`);
	assert.equal(Number(sqlValue(`SELECT COUNT(*) FROM registrations WHERE event_id = ${pairEvent}`)), before);
});

// "姓名,电话" CRLF "张三,13800000000" CRLF "\"王,五\",\"多\n行\"" CRLF in GBK
const GBK_CSV = Buffer.from('d0d5c3fb2cb5e7bbb00d0ad5c5c8fd2c31333830303030303030300d0a22cdf52ccee5222c22b6e00ad0d0220d0a', 'hex');

test('a staff route gets the uploaded GBK file, decoded and parsed', async () => {
	const r = await upload('/api/p/pairs/import', GBK_CSV);
	assert.equal(r.status, 200, r.body);
	assert.equal(r.json.filename, '名单.csv');
	assert.equal(r.json.content_type, 'text/csv');
	assert.equal(r.json.size, GBK_CSV.length);
	assert.deepEqual(r.json.rows, [['姓名', '电话'], ['张三', '13800000000'], ['王,五', '多\n行']]);
	assert.deepEqual(r.json.lines, [1, 2, 3], 'the line each row starts on');
	assert.equal(new TextDecoder('gbk').decode(GBK_CSV).split('\r\n')[1], '张三,13800000000', 'the bytes are GBK');

	const bad = await upload('/api/p/pairs/import', Buffer.from([0x41, 0x42, 0xff, 0xff, 0x43]));
	assert.equal(bad.status, 422, bad.body);
	assert.deepEqual(bad.json, { error: 'invalid', offset: 2 });
});

test('a public route never gets the uploaded file', async () => {
	const tok = crypto.randomBytes(32).toString('base64url');
	const r = await upload('/p/pairs/public-upload', GBK_CSV, { auth: false, fields: { csrf: tok },
		cookie: `portal_csrf=${tok}` });
	assert.equal(r.status, 200, r.body);
	assert.equal(r.body, 'no files');
	const noRole = await upload('/api/p/pairs/import', GBK_CSV, { auth: false });
	assert.equal(noRole.status, 401);
});

test('csv.encode neutralises formulas exactly like the core\'s export', async () => {
	const r = await api('POST', '/api/p/pairs/export', { body: { rows: [['=1+1', '+86', '-2', '@x', 'a,b', '平常'], [1, 2.5]] } });
	assert.equal(r.status, 200, r.body);
	assert.equal(r.body, '\ufeff\'=1+1,\'+86,\'-2,\'@x,"a,b",平常\r\n1,2.5\r\n');
});

test('portal.db works in a daily job run by `portald jobs run daily`', async () => {
	const count = async () => (await api('GET', '/api/p/pairs/seen?what=daily_job')).json.length;
	const n = await count();
	const r = portald(['jobs', 'run', 'daily', '--force']);
	assert.equal(r.status, 0, r.stderr);
	assert.equal(await count(), n + 1);
	const last = (await api('GET', '/api/p/pairs/seen?what=daily_job')).json.at(-1);
	assert.ok(Number(last.detail) >= 1, 'the job saw the plugin\'s events through portal.events');
});
