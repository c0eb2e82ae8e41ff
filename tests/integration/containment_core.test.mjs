// containment_core.test.mjs - the core's half of issue 12 besides registration retries
// (registration_retry.test.mjs) and the login limits (accounts.test.mjs):
// - the core JSON APIs take application/json bodies only: text/plain, a form or no type on a
//   POST/PATCH/DELETE with a body is 415 in the JSON error shape, before anything happens
//   (text/plain needs no CORS preflight, so any web page could otherwise register its
//   visitors from their own addresses);
// - /metrics answers only the machine itself (the rule in conf/nginx-portal.inc, which the
//   production site includes too); /healthz answers anyone with "ok" and nothing more;
// - names lose bidi controls and invisible characters: residents' names (API, page form, a
//   plugin form's text field), staff display names (command line and admin page).
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import {
	addUser, addToken, sql, sqlValue, freshAddress, signedIn, Browser, csrfField, portald, strongPassword, api, isoDay,
	randomPhone,
} from './accounts-lib.mjs';
import { CJK } from './lib.mjs';

let staff;   // { token }
const RLO = '\u202E', ZWSP = '\u200B', ZWJ = '\u200D', LRI = '\u2066', PDI = '\u2069', BOM = '\uFEFF';

const iso = isoDay;
const phone = () => randomPhone('136');
// a body as it is (a string) with the given Content-Type, or none
const send = (method, p, { body, type = null, token, from } = {}) => api(method, p, { raw: body, type, token, from });

async function newEvent(extra = {}) {
	const body = JSON.stringify({
		kind: 'general', title: `封装测试 ${crypto.randomBytes(3).toString('hex')}`, location: '社区服务中心',
		starts_at: iso(12), ends_at: iso(12, 11), capacity: 20, ...extra,
	});
	const r = await send('POST', '/api/v1/events', { body, type: 'application/json', token: staff.token });
	assert.equal(r.status, 201, r.body);
	const p = await send('POST', `/api/v1/events/${r.json.id}/publish`, { token: staff.token });
	assert.equal(p.status, 200, p.body);
	return r.json;
}

before(() => {
	staff = addToken(addUser('ctstaff', ['staff']).username);
});

test('core JSON APIs: a body that is not application/json is 415 with the JSON error shape, nothing happens', async () => {
	const ev = await newEvent();
	const p = phone();
	const reg = await send('POST', `/api/v1/events/${ev.id}/registrations`,
		{ body: JSON.stringify({ name: '正常报名', phone: p }), type: 'application/json; charset=utf-8' });
	assert.equal(reg.status, 201, reg.body);
	const code = reg.json.code;
	const evBefore = sql(`SELECT title, capacity, status FROM events WHERE id = ${ev.id}`);
	const regsBefore = sqlValue(`SELECT COUNT(*) FROM registrations WHERE event_id = ${ev.id}`);
	const boundary = 'xYz123';
	const multipart = `--${boundary}\r\nContent-Disposition: form-data; name="name"\r\n\r\n张三\r\n--${boundary}--\r\n`;
	const kinds = [
		['text/plain', JSON.stringify({ name: '跨站报名', phone: phone() })],     // the CORS-simple way in
		['text/plain;charset=UTF-8', JSON.stringify({ name: '跨站报名', phone: phone() })],
		[undefined, JSON.stringify({ name: '无类型', phone: phone() })],
		['application/x-www-form-urlencoded', `name=${encodeURIComponent('表单')}&phone=${phone()}`],
		[`multipart/form-data; boundary=${boundary}`, multipart],
		['application/jsonp', JSON.stringify({ name: '近似类型', phone: phone() })],
		['text/json', JSON.stringify({ name: '近似类型', phone: phone() })],
	];
	const routes = [
		['POST', `/api/v1/events/${ev.id}/registrations`, null],
		['POST', '/api/v1/events', staff.token],
		['PATCH', `/api/v1/events/${ev.id}`, staff.token],
		['POST', `/api/v1/events/${ev.id}/publish`, staff.token],
		['POST', `/api/v1/registrations/${code}/checkin`, staff.token],
		['DELETE', `/api/v1/registrations/${code}?phone=${p}`, null],
	];
	for (const [method, path, token] of routes) {
		for (const [type, body] of kinds) {
			const r = await send(method, path, { body, type, token });
			assert.equal(r.status, 415, `${method} ${path} with ${type}: ${r.status} ${r.body.slice(0, 200)}`);
			assert.match(r.headers['content-type'], /^application\/json/);
			assert.equal(r.json.error.code, 'json_required');
			assert.match(r.json.error.message, CJK);
		}
	}
	assert.deepEqual(sql(`SELECT title, capacity, status FROM events WHERE id = ${ev.id}`), evBefore, 'event unchanged');
	assert.equal(sqlValue(`SELECT COUNT(*) FROM registrations WHERE event_id = ${ev.id}`), regsBefore, 'no registration');
	assert.equal(sqlValue(`SELECT status FROM registrations WHERE code = '${code}'`), 'confirmed', 'not cancelled');
	assert.equal(sqlValue(`SELECT checked_in_at IS NULL FROM registrations WHERE code = '${code}'`), '1', 'not checked in');
	// requests without a body need no type, as before: publish, cancel by code and phone
	assert.equal((await send('POST', `/api/v1/events/${ev.id}/publish`, { token: staff.token })).status, 200);
	assert.equal((await send('DELETE', `/api/v1/registrations/${code}?phone=${p}`)).status, 200);
});

test('/metrics answers only this machine; /healthz answers anyone and says nothing more than ok', async () => {
	const local = await send('GET', '/metrics', { from: '127.0.0.1' });
	assert.equal(local.status, 200);
	assert.match(local.body, /portal_requests_total/);
	const other = await send('GET', '/metrics', { from: freshAddress() });
	assert.equal(other.status, 403, 'another address gets the 403 page');
	assert.doesNotMatch(other.body, /portal_requests_total|portal_worker/);
	const hz = await send('GET', '/healthz', { from: freshAddress() });
	assert.equal(hz.status, 200);
	assert.equal(hz.body, 'ok\n');
});

test("residents' names lose bidi overrides and invisible characters (API, event page, a plugin form's text field)", async () => {
	const ev = await newEvent();
	const stored = (p) => sqlValue(`SELECT HEX(name) FROM registrations WHERE event_id = ${ev.id} AND phone = '${p}'`);
	const hex = (s) => Buffer.from(s, 'utf8').toString('hex').toUpperCase();
	const cases = [
		[`${RLO}dlrow olleh`, 'dlrow olleh'],
		[`张${ZWSP}三`, '张三'],
		[`${LRI}李四${PDI}`, '李四'],
		[`${BOM}王${ZWJ}五${ZWSP}`, '王五'],
		[`${ZWSP} 赵六 ${ZWSP}`, '赵六'],
	];
	for (const [typed, want] of cases) {
		const p = phone();
		const r = await send('POST', `/api/v1/events/${ev.id}/registrations`,
			{ body: JSON.stringify({ name: typed, phone: p }), type: 'application/json' });
		assert.equal(r.status, 201, `${JSON.stringify(typed)}: ${r.body}`);
		assert.equal(stored(p), hex(want), `${JSON.stringify(typed)} is stored as ${want}`);
	}
	// nothing visible left: no name
	const empty = await send('POST', `/api/v1/events/${ev.id}/registrations`,
		{ body: JSON.stringify({ name: `${ZWSP}${RLO}${ZWJ}`, phone: phone() }), type: 'application/json' });
	assert.equal(empty.status, 422);
	assert.ok(empty.json.error.fields.name, empty.body);
	// the relation typed by a family member too
	const p2 = phone();
	assert.equal((await send('POST', `/api/v1/events/${ev.id}/registrations`,
		{ body: JSON.stringify({ name: '孙七', phone: p2, on_behalf_of: `母${RLO}亲` }), type: 'application/json' })).status, 201);
	assert.equal(sqlValue(`SELECT on_behalf_of FROM registrations WHERE event_id = ${ev.id} AND phone = '${p2}'`), '母亲');

	// the event page's form
	const b = new Browser();
	const page = await b.get(`/events/${ev.id}`);
	const p3 = phone();
	const r = await b.post(`/events/${ev.id}/register`, { csrf: csrfField(page.body), name: `${RLO}周${ZWSP}八`, phone: p3 });
	assert.equal(r.status, 303, r.body.slice(0, 300));
	assert.equal(stored(p3), hex('周八'));

	// a plugin form's text field goes through the same validation (haircut's "name")
	const hc = await newEvent({ kind: 'haircut' });
	const p4 = phone();
	const h = await send('POST', `/api/v1/events/${hc.id}/registrations`, {
		type: 'application/json',
		body: JSON.stringify({ name: '吴九', phone: p4, consent: true,
			answers: { name: `吴${ZWSP}${RLO}九`, age_band: '70_79', home_visit: false } }),
	});
	assert.equal(h.status, 201, h.body);
	assert.equal(sqlValue(`SELECT JSON_VALUE(answers, '$.name') FROM registrations WHERE event_id = ${hc.id} AND phone = '${p4}'`), '吴九');
});

test('staff display names lose bidi overrides and invisible characters (command line and admin page)', async () => {
	const u = addUser('bidi', ['staff'], { displayName: `管理${RLO}员${ZWSP}` });
	assert.equal(sqlValue(`SELECT display_name FROM users WHERE id = ${u.id}`), '管理员');
	const admin = addUser('bidiadm', ['admin']);
	const ab = await signedIn(admin);
	const page = await ab.get(`/admin/users/${u.id}`);
	assert.equal(page.status, 200);
	const r = await ab.post(`/admin/users/${u.id}`,
		`csrf=${encodeURIComponent(csrfField(page.body))}&display_name=${encodeURIComponent(`${LRI}前台${ZWSP}小王${PDI}`)}&grid=&roles=staff`);
	assert.equal(r.status, 303, r.body.slice(0, 300));
	assert.equal(sqlValue(`SELECT display_name FROM users WHERE id = ${u.id}`), '前台小王');
	const list = await ab.get('/admin/users');
	assert.ok(!list.body.includes(RLO) && !list.body.includes(ZWSP), 'the staff list shows no hidden characters');
	// nothing visible: refused on the command line
	const bad = portald(['user', 'add', `bidi${crypto.randomBytes(3).toString('hex')}`, '--role', 'staff',
		'--display-name', `${ZWSP}${RLO}`], `${strongPassword()}\n`);
	assert.notEqual(bad.status, 0, 'a display name of hidden characters only is refused');
});
