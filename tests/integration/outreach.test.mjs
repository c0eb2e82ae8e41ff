// outreach.test.mjs - the outreach plugin (plugins/outreach) through nginx: a couple registers
// for a pre-pregnancy check day from the public event page and is checked in at the door; a
// couple that is not eligible is told why in plain Chinese; the same couple cannot register
// twice in a year, not even with two racing requests; a full slot puts the next resident on
// the waitlist; staff with the health grant record an abnormal reading, which gives a
// referral note and a follow-up, while staff without the grant see no health data; views
// are audited; the core's day-before reminder reaches these kinds exactly once.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { addUser, addToken, Browser, signedIn, sql, sqlValue, portald, freshAddress, request, auditRows }
	from './accounts-lib.mjs';

let token;
let prepreg; // { id, slots: [ids] }
let screening;
let healthStaff;
let plainStaff;

const phone = () => `137${String(crypto.randomInt(0, 1e8)).padStart(8, '0')}`;
const tail = () => String(crypto.randomInt(0, 1e4)).padStart(4, '0');
// ISO time n days from today at hh:mm China time
const at = (n, hhmm) => `${new Date(Date.now() + 8 * 3600e3 + n * 86400e3).toISOString().slice(0, 10)}T${hhmm}:00+08:00`;

function api(method, p, body, { auth = true } = {}) {
	const headers = {};
	if (body !== undefined) headers['Content-Type'] = 'application/json';
	if (auth) headers.Authorization = `Bearer ${token}`;
	return request(method, p, { headers, body: body === undefined ? undefined : JSON.stringify(body), from: freshAddress() })
		.then((r) => ({ ...r, json: (() => { try { return JSON.parse(r.body); } catch { return undefined; } })() }));
}

async function newEvent(kind, title, day, slots) {
	const r = await api('POST', '/api/v1/events', {
		kind, title, location: '幸福里小区3号楼前广场', starts_at: at(day, '08:30'), ends_at: at(day, '11:30'),
		capacity: 40, slots: slots.map(([s, e, capacity]) => ({ starts_at: at(day, s), ends_at: at(day, e), capacity })),
	});
	assert.equal(r.status, 201, r.body);
	assert.equal((await api('POST', `/api/v1/events/${r.json.id}/publish`)).status, 200);
	return { id: r.json.id, slots: r.json.slots.map((s) => s.id) };
}

function csrfOf(html) {
	const m = /name="csrf" value="([^"]*)"/.exec(html);
	assert.ok(m, 'the page has a csrf field');
	return m[1];
}

// A couple's answers on the public form; changes override.
function couple(changes = {}) {
	return { name: '王芳', phone: phone(), spouse_name: '李明', id_tail: tail(), spouse_id_tail: tail(),
		planned: 'true', basis: 'hukou', consent: 'true', ...changes };
}

// Register on the public event page as a resident's phone would.
async function registerOnPage(eventId, fields) {
	const b = new Browser();
	const page = await b.get(`/events/${eventId}`);
	assert.equal(page.status, 200);
	return b.post(`/events/${eventId}/register`, { csrf: csrfOf(page.body), ...fields });
}

function codeFrom(res) {
	assert.equal(res.status, 303, `registered: ${res.status} ${res.body.slice(0, 400)}`);
	const m = /^\/r\/([23456789A-HJ-NP-Z]{6})\?new=1$/.exec(res.headers.location ?? '');
	assert.ok(m, `redirect to the confirmation: ${res.headers.location}`);
	return m[1];
}

before(async () => {
	const admin = addUser('outadm', ['staff', 'admin']);
	token = addToken(admin.username).token;
	// the screening day is tomorrow (for the reminder); its first slot has one place
	prepreg = await newEvent('outreach_prepreg', '孕前优生健康检查（春季）', 20, [['08:30', '09:00', 10], ['09:00', '09:30', 10]]);
	screening = await newEvent('outreach_screening', '血压血糖免费检测', 1, [['08:30', '09:00', 1], ['09:00', '09:30', 10]]);
	const h = addUser('outnurse', ['staff']);
	const g = portald(['user', 'grant', h.username, 'outreach.health']);
	assert.equal(g.status, 0, g.stderr);
	healthStaff = await signedIn(h);
	plainStaff = await signedIn(addUser('outdesk', ['staff']));
});

test('the public page asks the couple\'s questions and the consent with its purpose', async () => {
	const r = await new Browser().get(`/events/${prepreg.id}`);
	assert.equal(r.status, 200);
	for (const s of ['配偶姓名', '身份证号后四位', '你们是否准备在近期怀孕', '夫妻至少一方是本地户籍', '敏感个人信息']) {
		assert.ok(r.body.includes(s), `the page shows ${s}`);
	}
});

test('a couple registers from the public page and is checked in at the door', async () => {
	const c = couple({ slot_id: String(prepreg.slots[0]) });
	const code = codeFrom(await registerOnPage(prepreg.id, c));
	const { answers } = (await api('GET', `/api/v1/registrations/${code}?phone=${c.phone}`, undefined, { auth: false })).json;
	assert.equal(answers.spouse_name, '李明');
	assert.equal(answers.basis, 'hukou');

	// the core's door page finds them by code and checks them in
	const page = await healthStaff.get(`/staff/events/${prepreg.id}/checkin?q=${code}`);
	assert.equal(page.status, 200);
	const done = await healthStaff.post(`/staff/events/${prepreg.id}/checkin`, { csrf: csrfOf(page.body), code, q: code });
	assert.equal(done.status, 303, done.body.slice(0, 300));
	assert.notEqual(sqlValue(`SELECT IFNULL(checked_in_at, 'null') FROM registrations WHERE code = '${code}'`), 'null');

	// the plugin's day page shows the couple, checked in, with the phone masked
	const day = await plainStaff.get(`/p/outreach/days/${prepreg.id}`);
	assert.equal(day.status, 200);
	assert.ok(day.body.includes('王芳、李明'), 'both names');
	assert.ok(day.body.includes(`${c.phone.slice(0, 3)}****${c.phone.slice(7)}`), 'masked phone');
	assert.ok(!day.body.includes(c.phone), 'never the full phone');
	assert.match(day.body, /已签到/);
	assert.ok(!day.body.includes('本地户籍'), 'no eligibility basis without the health grant');
	const withGrant = await healthStaff.get(`/p/outreach/days/${prepreg.id}`);
	assert.ok(withGrant.body.includes('夫妻至少一方是本地户籍'), 'the basis with the grant');
	const audit = auditRows(`object_id = '${prepreg.id}' AND action IN ('outreach.day.view', 'outreach.health.view')`);
	assert.deepEqual(audit.map((a) => a.action), ['outreach.day.view', 'outreach.health.view']);
});

test('a couple that is not eligible is told why in plain Chinese, and nothing is written', async () => {
	const count = () => Number(sqlValue(`SELECT COUNT(*) FROM registrations WHERE event_id = ${prepreg.id}`));
	const before = count();
	const short = await registerOnPage(prepreg.id, couple({ basis: 'residence', residence_months: '5', slot_id: String(prepreg.slots[1]) }));
	assert.equal(short.status, 422);
	assert.ok(short.body.includes('要在本地住满6个月才能免费检查。你们住了5个月，再过1个月就可以报名了。'), short.body.slice(0, 2000));
	const notPlanned = await registerOnPage(prepreg.id, couple({ planned: 'false', slot_id: String(prepreg.slots[1]) }));
	assert.equal(notPlanned.status, 422);
	assert.ok(notPlanned.body.includes('为准备怀孕的夫妻安排的'));
	const noConsent = await registerOnPage(prepreg.id, couple({ consent: '', slot_id: String(prepreg.slots[1]) }));
	assert.equal(noConsent.status, 422);
	assert.equal(count(), before);
	// six months exactly is enough
	codeFrom(await registerOnPage(prepreg.id, couple({ basis: 'residence', residence_months: '6', slot_id: String(prepreg.slots[1]) })));
});

test('the same couple cannot register twice this year, even racing; cancelling frees them', async () => {
	const a = tail();
	const b = tail();
	const first = couple({ name: '赵丽', spouse_name: '钱军', id_tail: a, spouse_id_tail: b, slot_id: String(prepreg.slots[1]) });
	const code = codeFrom(await registerOnPage(prepreg.id, first));
	// the husband tries again with his own phone, names swapped
	const again = await registerOnPage(prepreg.id, couple({ name: '钱军', spouse_name: '赵 丽', id_tail: b, spouse_id_tail: a,
		slot_id: String(prepreg.slots[1]) }));
	assert.equal(again.status, 409);
	assert.ok(again.body.includes('这对夫妻今年已经报过名了'), again.body.slice(0, 2000));

	// two racing API registrations of a new couple: exactly one wins
	const x = tail();
	const y = tail();
	const body = (p) => ({ name: '孙娜', phone: p, slot_id: prepreg.slots[1], consent: true,
		answers: { spouse_name: '周强', id_tail: x, spouse_id_tail: y, planned: true, basis: 'hukou' } });
	const race = await Promise.all([0, 1, 2, 3].map(() =>
		api('POST', `/api/v1/events/${prepreg.id}/registrations`, body(phone()), { auth: false })));
	assert.deepEqual(race.map((r) => r.status).sort(), [201, 409, 409, 409], race.map((r) => r.body).join('\n'));
	for (const r of race.filter((q) => q.status === 409)) {
		assert.equal(r.json.error.code, 'duplicate');
		assert.match(r.json.error.message, /这对夫妻今年已经报过名了/);
	}

	// cancelling the first registration lets the couple register again
	assert.equal((await api('DELETE', `/api/v1/registrations/${code}?phone=${first.phone}`, undefined, { auth: false })).status, 200);
	codeFrom(await registerOnPage(prepreg.id, { ...first, phone: phone() }));
});

test('a full slot puts the next resident on the waitlist', async () => {
	const first = await api('POST', `/api/v1/events/${screening.id}/registrations`, {
		name: '刘大爷', phone: phone(), slot_id: screening.slots[0], consent: true, answers: { age_band: '60_74' } }, { auth: false });
	assert.equal(first.status, 201, first.body);
	assert.equal(first.json.status, 'confirmed');
	const second = await api('POST', `/api/v1/events/${screening.id}/registrations`, {
		name: '陈奶奶', phone: phone(), slot_id: screening.slots[0], consent: true, answers: { age_band: '75_plus' } }, { auth: false });
	assert.equal(second.status, 201, second.body);
	assert.equal(second.json.status, 'waitlisted');
	const day = await plainStaff.get(`/p/outreach/days/${screening.id}`);
	assert.match(day.body, /1 \/ 1 <span class="badge">已满<\/span>/);
	assert.match(day.body, /候补第\d+位/);
});

test('an abnormal reading gives a referral note and a follow-up; only the grant sees them', async () => {
	const p = phone();
	const r = await api('POST', `/api/v1/events/${screening.id}/registrations`, {
		name: '周阿姨', phone: p, slot_id: screening.slots[1], consent: true, answers: { age_band: '60_74' } }, { auth: false });
	assert.equal(r.status, 201, r.body);
	const code = r.json.code;
	const form = `/p/outreach/days/${screening.id}/readings/${code}`;

	assert.equal((await plainStaff.get(form)).status, 403, 'no grant, no readings');
	const bad = await healthStaff.submit(form, form, { systolic: '90', diastolic: '120', consent: 'true' });
	assert.equal(bad.status, 422);
	assert.ok(bad.body.includes('低压（舒张压）应小于高压'));
	const noConsent = await healthStaff.submit(form, form, { systolic: '150', diastolic: '95' });
	assert.equal(noConsent.status, 422);
	assert.equal(sqlValue(`SELECT COUNT(*) FROM p_outreach_readings WHERE reg_code = '${code}'`), '0');

	const ok = await healthStaff.submit(form, form, { systolic: '152', diastolic: '96', glucose: '7.4',
		glucose_kind: 'fasting', consent: 'true' });
	assert.equal(ok.status, 303, ok.body.slice(0, 500));
	const saved = await healthStaff.get(ok.headers.location);
	assert.ok(saved.body.includes('血压 152/96 mmHg，达到或高于 140/90'), 'the referral note');
	assert.ok(saved.body.includes('空腹血糖 7.4 mmol/L'));
	const slip = /href="(\/p\/outreach\/readings\/\d+\/slip)"/.exec(saved.body)[1];
	const printed = await healthStaff.get(slip);
	assert.equal(printed.status, 200);
	assert.ok(printed.body.includes('建议您在两周内'));
	assert.equal((await plainStaff.get(slip)).status, 403);

	const day = await healthStaff.get(`/p/outreach/days/${screening.id}`);
	assert.match(day.body, /待办 1 项/);
	const fid = /action="\/p\/outreach\/followups\/(\d+)\/done"/.exec(day.body)[1];
	const plainDay = await plainStaff.get(`/p/outreach/days/${screening.id}`);
	assert.ok(!plainDay.body.includes('152/96') && !plainDay.body.includes('/followups/'), 'no health data without the grant');
	const done = await healthStaff.post(`/p/outreach/followups/${fid}/done`, { csrf: csrfOf(day.body) });
	assert.equal(done.status, 303);
	assert.match((await healthStaff.get(done.headers.location)).body, /待办 0 项/);
	const actions = auditRows(`action LIKE 'outreach.%' AND object_id IN ('${code}', '${fid}')`).map((a) => a.action);
	for (const a of ['outreach.health.view', 'outreach.reading.record', 'outreach.referral.print', 'outreach.followup.done']) {
		assert.ok(actions.includes(a), `audited ${a}: ${actions}`);
	}

	// the yearly summary counts the day's follow-up
	const year = sqlValue(`SELECT YEAR(starts_at) FROM events WHERE id = ${screening.id}`);
	const csv = await healthStaff.get(`/p/outreach/summary.csv?year=${year}`);
	assert.equal(csv.status, 200);
	assert.match(csv.headers['content-type'], /^text\/csv/);
	assert.ok(csv.body.startsWith('\ufeff年度,活动类型,活动,日期,报名人数,到场人数,异常转诊,随访已完成\r\n'));
});

test('the printable list masks phone numbers', async () => {
	const r = await plainStaff.get(`/p/outreach/days/${screening.id}/print`);
	assert.equal(r.status, 200);
	assert.match(r.body, /137\*\*\*\*\d{4}/);
	assert.ok(!/137\d{8}/.test(r.body), 'no full number');
});

test('the core queues one day-before reminder per confirmed registration of these kinds', async () => {
	const confirmed = Number(sqlValue(`SELECT COUNT(*) FROM registrations WHERE event_id = ${screening.id} AND status = 'confirmed'`));
	assert.ok(confirmed >= 2);
	for (let i = 0; i < 2; i++) {
		// (the exit status is 1 on the test stack: tests/plugins/hostile fails its hourly hook on purpose)
		const j = portald(['jobs', 'run', 'hourly', '--force']);
		assert.match(j.stderr, /msg="reminders queued" count=\d+/, j.stderr);
		assert.ok(!/level=error[^\n]*plugin=outreach/.test(j.stderr), j.stderr);
	}
	const rows = sql(`SELECT r.code, COUNT(o.id) FROM registrations r LEFT JOIN outbox o ON o.registration_id = r.id AND o.kind = 'reminder'
		WHERE r.event_id = ${screening.id} GROUP BY r.id, r.code, r.status ORDER BY r.id`);
	const st = sql(`SELECT code, status FROM registrations WHERE event_id = ${screening.id} ORDER BY id`);
	st.forEach(([c, s], i) => assert.equal(rows[i][1], s === 'confirmed' ? '1' : '0', `${c} (${s})`));
	assert.equal(Number(sqlValue(`SELECT COUNT(*) FROM outbox WHERE kind = 'reminder' AND event_id = ${prepreg.id}`)), 0,
		'not yet for the day in 20 days');
});
