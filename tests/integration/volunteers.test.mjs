// volunteers.test.mjs - the volunteers plugin (plugins/volunteers) through nginx: a resident
// applies, staff approve and hand over the one-time password, the volunteer changes it,
// signs up on the page; staff confirm the hours and print the certificate. Volunteers race
// for the last place of a shift and for two overlapping shifts (the database decides), and a
// volunteer never sees another volunteer's visit address or any resident's phone.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { addUser, addToken, signedIn, Browser, csrfField, request, freshAddress, sql, sqlValue, strongPassword,
	auditRows } from './accounts-lib.mjs';

const P = '/p/volunteers';
const T = 'p_volunteers_';
let staff; // a signed-in staff browser
let token; // a staff API token

// A mobile number no earlier run used.
const phone = () => `17${String(crypto.randomInt(0, 1e9)).padStart(9, '0')}`;

// Beijing date / time of now + ms
const bjDate = (ms = 0) => new Date(Date.now() + ms + 8 * 3600e3).toISOString().slice(0, 10);
const DAY = 86400e3;

function api(method, p, body) {
	const headers = { Authorization: `Bearer ${token}` };
	if (body !== undefined) headers['Content-Type'] = 'application/json';
	return request(method, p, { headers, body: body === undefined ? undefined : JSON.stringify(body), from: freshAddress() })
		.then((r) => ({ ...r, json: (() => { try { return JSON.parse(r.body); } catch { return undefined; } })() }));
}

// A shift made with the staff JSON API; returns its id.
async function apiShift(fields) {
	const r = await api('POST', '/api/p/volunteers/shifts', {
		kind: 'place', role: '活动引导', place: '社区活动室', day: bjDate(3 * DAY), start: '09:00', end: '11:00',
		headcount: 1, ...fields,
	});
	assert.equal(r.status, 201, r.body);
	return r.json.id;
}

// A volunteer's browser, signed in with a password of their own (the one-time password
// from staff opens only the account page, where it is changed).
async function volunteerBrowser(username, oneTime) {
	const b = new Browser();
	const r = await b.login(username, oneTime, `${P}/me`);
	assert.equal(r.status, 303, `login ${username}: ${r.status}`);
	const locked = await b.get(`${P}/me`);
	assert.equal(locked.status, 303, 'the one-time password opens no plugin page');
	assert.match(locked.headers.location, /^\/account/);
	const pw = strongPassword();
	const c = await b.submit('/account', '/account/password', { current: oneTime, new: pw, confirm: pw });
	assert.equal(c.status, 303, `password change: ${c.status} ${c.body.slice(0, 300)}`);
	const me = await b.get(`${P}/me`);
	assert.equal(me.status, 200, `the volunteer's page after the change: ${me.status}`);
	b.password = pw;
	return b;
}

// A volunteer made with the staff API (consent asked in person), signed in.
async function apiVolunteer(fields = {}) {
	const r = await api('POST', '/api/p/volunteers/volunteers', { name: '志愿者', phone: phone(), consent: true, ...fields });
	assert.equal(r.status, 201, r.body);
	return { id: r.json.id, username: r.json.username, b: await volunteerBrowser(r.json.username, r.json.password) };
}

// POST a volunteer's sign-up form for a shift, with the CSRF token of their page.
async function signUp(v, id, csrf) {
	return v.b.post(`${P}/shifts/${id}/signup`, { csrf });
}

before(async () => {
	const u = addUser('volstaff', ['staff'], { displayName: '王主任' });
	staff = await signedIn(u);
	token = addToken(u.username).token;
});

test('end to end: apply, approve, change the password, sign up on the page, hours, certificate', async () => {
	// staff create a shift on the page
	const shiftDay = bjDate(4 * DAY);
	const s = await staff.submit(`${P}/staff/shifts/new`, `${P}/staff/shifts`, {
		kind: 'place', role: '重阳节活动引导', place: '社区活动室（3号楼一楼）', day: shiftDay, start: '09:00', end: '11:30',
		headcount: '3', event_id: '',
	});
	assert.equal(s.status, 303, s.body.slice(0, 500));
	const shiftId = Number(/\/shifts\/(\d+)$/.exec(s.headers.location)[1]);

	// a resident applies on the public page
	const resident = new Browser();
	const tel = phone();
	const a = await resident.submit(P, P, { name: '陈小红', phone: tel, skills: 'company', consent: 'true' });
	assert.equal(a.status, 200, a.body.slice(0, 500));
	assert.match(a.body, /报名已收到/);
	const volId = Number(sqlValue(`SELECT id FROM ${T}volunteers WHERE phone = '${tel}'`));
	assert.ok(volId > 0);
	assert.equal(sqlValue(`SELECT status FROM ${T}volunteers WHERE id = ${volId}`), 'pending');

	// staff approve: the page shows the login name and the one-time password once
	const ap = await staff.submit(`${P}/staff/volunteers`, `${P}/staff/volunteers/${volId}/approve`, {});
	assert.equal(ap.status, 200, ap.body.slice(0, 500));
	const username = /class="account-username">([^<]+)</.exec(ap.body)[1];
	const oneTime = /class="account-password">([^<]+)</.exec(ap.body)[1];
	assert.equal(username, `v${tel}`);
	assert.equal(sqlValue(`SELECT must_change_password FROM users WHERE username = '${username}'`), '1');

	// the volunteer signs in, changes the password, signs up through the page
	const v = await volunteerBrowser(username, oneTime);
	const me = await v.get(`${P}/me`);
	assert.match(me.body, /重阳节活动引导/);
	const r = await v.post(`${P}/shifts/${shiftId}/signup`, { csrf: csrfField(me.body) });
	assert.equal(r.status, 303, r.body.slice(0, 300));
	assert.equal(r.headers.location, `${P}/me?done=signed`);
	const after = await v.get(r.headers.location);
	assert.match(after.body, /报名成功/);
	assert.match(after.body, new RegExp(`/p/volunteers/shifts/${shiftId}/withdraw`), 'listed as theirs, with a withdraw button');

	// time passes: the shift took place yesterday
	const y = bjDate(-DAY);
	sql(`UPDATE ${T}shifts SET starts_at = '${y} 09:00:00', ends_at = '${y} 11:30:00' WHERE id = ${shiftId}`);

	// staff confirm attendance with the actual hours
	const c = await staff.submit(`${P}/staff/shifts/${shiftId}`, `${P}/staff/shifts/${shiftId}/attendance`,
		{ volunteer_id: String(volId), attendance: 'present', hours: '2.5' });
	assert.equal(c.status, 303, c.body.slice(0, 300));

	// the certificate shows the total; the volunteer's page too
	const cert = await staff.get(`${P}/staff/volunteers/${volId}/certificate?from=${bjDate(-30 * DAY)}&to=${bjDate()}`);
	assert.equal(cert.status, 200);
	assert.match(cert.body, /陈小红/);
	assert.match(cert.body, /class="certificate-total">2\.5</);
	assert.match(cert.body, /重阳节活动引导/);
	assert.match(cert.body, /href="\/static\/signin\.css"/, 'the print stylesheet is linked');
	assert.match((await v.get(`${P}/me`)).body, /累计服务 <strong>2\.5<\/strong> 小时/);
	assert.ok(auditRows(`action = 'volunteers.certificate.view' AND object_id = '${volId}'`).length >= 1, 'the certificate view is audited');

	// the CSV export has the total, the phone masked
	const csv = await staff.get(`${P}/staff/hours.csv?from=${bjDate(-30 * DAY)}&to=${bjDate()}`);
	assert.equal(csv.status, 200);
	assert.match(csv.headers['content-type'], /^text\/csv/);
	assert.match(csv.body, /陈小红,17\d\*{4}\d{4},1,2\.5,0\r\n/);
	assert.ok(!csv.body.includes(tel), 'no full phone number in the export');
});

test('parallel sign-ups for the last place: exactly one gets it', async () => {
	const vols = [];
	for (let i = 0; i < 6; i++) vols.push(await apiVolunteer({ name: `抢位${i}` }));
	const id = await apiShift({ headcount: 1, role: '最后一个名额' });
	const pages = await Promise.all(vols.map((v) => v.b.get(`${P}/me`)));
	const answers = await Promise.all(vols.map((v, i) => signUp(v, id, csrfField(pages[i].body))));
	const codes = answers.map((r) => r.status).sort();
	assert.deepEqual(codes, [303, 409, 409, 409, 409, 409], `answers: ${codes}`);
	for (const r of answers.filter((x) => x.status === 409)) assert.match(r.body, /人数已经满了/);
	assert.equal(sqlValue(`SELECT COUNT(*) FROM ${T}assignments WHERE shift_id = ${id}`), '1');
});

test('parallel sign-ups of one volunteer for overlapping shifts: only one is kept', async () => {
	const v = await apiVolunteer({ name: '重叠测试' });
	const day = bjDate(6 * DAY);
	const ids = [];
	// 08:00-10:00, 08:30-10:30, 09:00-11:00, 09:30-11:30: every two of them overlap
	for (const [start, end] of [['08:00', '10:00'], ['08:30', '10:30'], ['09:00', '11:00'], ['09:30', '11:30']]) {
		ids.push(await apiShift({ day, start, end, headcount: 5 }));
	}
	const page = await v.b.get(`${P}/me`);
	const csrf = csrfField(page.body);
	const answers = await Promise.all(ids.map((id) => signUp(v, id, csrf)));
	assert.equal(answers.filter((r) => r.status === 303).length, 1, `answers: ${answers.map((r) => r.status)}`);
	assert.equal(answers.filter((r) => r.status === 409 && /同一时间只能参加一个/.test(r.body)).length, 3);
	assert.equal(sqlValue(`SELECT COUNT(*) FROM ${T}assignments WHERE volunteer_id = ${v.id}`), '1');
});

test('a volunteer sees a visit address only on their own visit, and never a resident phone', async () => {
	const mine = await apiVolunteer({ name: '探访甲' });
	const other = await apiVolunteer({ name: '探访乙' });
	const address = `幸福里${crypto.randomInt(10, 99)}号楼302`;
	const residentPhone = '13600002222';
	const id = await apiShift({ kind: 'visit', role: '探访独居老人', place: undefined, resident_name: '孙秀兰',
		resident_address: address, resident_phone: residentPhone, headcount: 2, day: bjDate(7 * DAY) });
	const p = await mine.b.get(`${P}/me`);
	assert.ok(!p.body.includes(address), 'not before signing up');
	assert.equal((await signUp(mine, id, csrfField(p.body))).status, 303);

	const own = await mine.b.get(`${P}/me`);
	assert.ok(own.body.includes(address), 'the address is on their page');
	assert.ok(own.body.includes('孙秀兰'));
	const detail = await mine.b.get(`${P}/shifts/${id}`);
	assert.equal(detail.status, 200);
	assert.ok(detail.body.includes(address));
	for (const body of [own.body, detail.body]) assert.ok(!body.includes(residentPhone), 'no resident phone for the volunteer');

	const theirs = await other.b.get(`${P}/me`);
	assert.equal(theirs.status, 200);
	assert.match(theirs.body, /报名后可以看到地址/, 'the visit is offered without its address');
	assert.ok(!theirs.body.includes(address), "another volunteer's visit address is not shown");
	assert.ok(!theirs.body.includes('孙秀兰'));
	assert.ok(!theirs.body.includes(residentPhone));
	const peek = await other.b.get(`${P}/shifts/${id}`);
	assert.equal(peek.status, 404);
	assert.ok(!peek.body.includes(address));

	// staff see it all, and the view is audited
	const st = await staff.get(`${P}/staff/shifts/${id}`);
	assert.ok(st.body.includes(residentPhone));
	assert.ok(auditRows(`action = 'volunteers.shift.view' AND object_id = '${id}'`).length >= 1);
	assert.ok(auditRows(`action = 'volunteers.visit.view' AND object_id = '${id}'`).length >= 1);
});

test('staff pages refuse volunteers, and the JSON API answers in the error shape', async () => {
	const v = await apiVolunteer({ name: '越权测试' });
	assert.equal((await v.b.get(`${P}/staff/coverage`)).status, 403);
	const r = await api('POST', '/api/p/volunteers/shifts', { kind: 'place', role: '', day: 'x' });
	assert.equal(r.status, 422);
	assert.equal(r.json.error.code, 'invalid');
	assert.match(r.json.error.fields.role, /[\u4e00-\u9fff]/);
	const cov = await api('GET', '/api/p/volunteers/coverage?weeks=2');
	assert.equal(cov.status, 200);
	assert.ok(Array.isArray(cov.json.shifts));
});

test('staff deactivate a volunteer: signed out, no login, no sign-up; reactivated, they log in again', async () => {
	const v = await apiVolunteer({ name: '停用测试' });
	const id = await apiShift({ headcount: 3, role: '停用后报名', day: bjDate(8 * DAY) });
	const ahead = await apiShift({ headcount: 3, role: '停用前报名', day: bjDate(9 * DAY) });
	const page = await v.b.get(`${P}/me`);
	const csrf = csrfField(page.body);
	assert.equal((await signUp(v, ahead, csrf)).status, 303);

	const off = await staff.submit(`${P}/staff/volunteers/${v.id}`, `${P}/staff/volunteers/${v.id}/deactivate`, {});
	assert.equal(off.status, 303, off.body.slice(0, 300));
	assert.equal(sqlValue(`SELECT status FROM ${T}volunteers WHERE id = ${v.id}`), 'inactive');
	assert.equal(sqlValue(`SELECT disabled FROM users WHERE username = '${v.username}'`), '1');
	// the shift ahead is listed for staff to reassign
	const shown = await staff.get(`${P}/staff/volunteers/${v.id}`);
	assert.match(shown.body, /已停用/);
	assert.match(shown.body, new RegExp(`href="${P}/staff/shifts/${ahead}"`));

	// the open session is gone: the sign-up form of the old page does nothing
	const late = await signUp(v, id, csrf);
	assert.notEqual(late.status, 200);
	assert.ok(late.status === 303 ? /^\/login/.test(late.headers.location) : late.status >= 400, `answer ${late.status}`);
	assert.equal(sqlValue(`SELECT COUNT(*) FROM ${T}assignments WHERE shift_id = ${id}`), '0');
	// and a new login is refused
	const b = new Browser(freshAddress());
	const login = await b.login(v.username, v.b.password, `${P}/me`);
	assert.notEqual(login.status, 303, 'no login while deactivated');
	assert.equal((await b.get(`${P}/me`)).status, 303, 'not signed in');

	// audited: the plugin's action (with the shifts still ahead) and the core's account change
	const audit = auditRows(`action = 'volunteers.volunteer.deactivate' AND object_id = '${v.id}'`);
	assert.equal(audit.length, 1);
	assert.equal(audit[0].detail.shifts_ahead, 1);
	assert.equal(auditRows(`action = 'user.disable' AND object_id = '${sqlValue(`SELECT id FROM users WHERE username = '${v.username}'`)}'`).length, 1);

	const on = await staff.submit(`${P}/staff/volunteers/${v.id}`, `${P}/staff/volunteers/${v.id}/reactivate`, {});
	assert.equal(on.status, 303, on.body.slice(0, 300));
	const again = new Browser(freshAddress());
	assert.equal((await again.login(v.username, v.b.password, `${P}/me`)).status, 303, 'logs in again');
	const mine = await again.get(`${P}/me`);
	assert.equal(mine.status, 200);
	assert.equal((await again.post(`${P}/shifts/${id}/signup`, { csrf: csrfField(mine.body) })).status, 303, 'signs up again');
	assert.equal(auditRows(`action = 'volunteers.volunteer.reactivate' AND object_id = '${v.id}'`).length, 1);
});
