// events_hooks.test.mjs - the core calls the plugins' hooks: a plugin kind's eligibility
// rule (registration.validate) refuses a registration with its own plain-Chinese message and
// nothing is written; registration.after_save and checkin reach the plugin, which records
// them in its own table. Uses tests/plugins/seniors (served by the test instance).
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { addUser, addToken, sqlValue, freshAddress, request } from './accounts-lib.mjs';

let token;
let eventId;

function api(method, p, { body, auth = true } = {}) {
	const headers = {};
	if (body !== undefined) headers['Content-Type'] = 'application/json';
	if (auth) headers.Authorization = `Bearer ${token}`;
	return request(method, p, { headers, body: body === undefined ? undefined : JSON.stringify(body), from: freshAddress() })
		.then((r) => ({ ...r, json: (() => { try { return JSON.parse(r.body); } catch { return undefined; } })() }));
}

const day = (n, h) => `${new Date(Date.now() + n * 86400e3 + 8 * 3600e3).toISOString().slice(0, 10)}T${h}:00:00+08:00`;
const phone = () => `138${String(crypto.randomInt(0, 1e8)).padStart(8, '0')}`;

before(async () => {
	const u = addUser('hookstaff', ['staff']);
	token = addToken(u.username).token;
	const r = await api('POST', '/api/v1/events', {
		body: { kind: 'senior_day', title: '重阳节茶话会', location: '社区活动室', starts_at: day(12, '14'),
			ends_at: day(12, '16'), capacity: 10 },
	});
	assert.equal(r.status, 201, r.body);
	eventId = r.json.id;
	assert.equal((await api('POST', `/api/v1/events/${eventId}/publish`)).status, 200);
});

test('the plugin kind is offered with its form', async () => {
	const r = await api('GET', `/api/v1/events/${eventId}`, { auth: false });
	assert.equal(r.status, 200);
	assert.equal(r.json.kind, 'senior_day');
	assert.ok(JSON.stringify(r.json).includes('"age"'), 'the form schema names the age field');
});

test('the eligibility hook refuses a resident under the age, in plain words, and writes nothing', async () => {
	const before = Number(sqlValue(`SELECT COUNT(*) FROM registrations WHERE event_id = ${eventId}`));
	const r = await api('POST', `/api/v1/events/${eventId}/registrations`, {
		auth: false, body: { name: '王小明', phone: phone(), answers: { age: 45 } },
	});
	assert.equal(r.status, 422, r.body);
	assert.match(JSON.stringify(r.json.error.fields), /60岁及以上/);
	assert.equal(Number(sqlValue(`SELECT COUNT(*) FROM registrations WHERE event_id = ${eventId}`)), before);
});

test('an eligible resident registers; after_save and checkin reach the plugin', async () => {
	const r = await api('POST', `/api/v1/events/${eventId}/registrations`, {
		auth: false, body: { name: '李奶奶', phone: phone(), answers: { age: 78 } },
	});
	assert.equal(r.status, 201, r.body);
	const code = r.json.code;
	const c = await api('POST', `/api/v1/registrations/${code}/checkin`);
	assert.equal(c.status, 200, c.body);
	const seen = await api('GET', '/api/p/seniors/seen');
	assert.equal(seen.status, 200, seen.body);
	const hooks = seen.json.filter((x) => x.code === code).map((x) => x.hook);
	assert.deepEqual(hooks, ['after_save', 'checkin']);
});
