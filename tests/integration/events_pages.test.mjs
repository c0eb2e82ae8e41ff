// events_pages.test.mjs - the server-rendered event pages through nginx: a staff member
// creates and publishes an event on the staff pages, residents register from the form,
// see the code and its QR image, look it up and cancel; the door page checks them in and
// undoes it; the sign-in sheet masks phones; HTML in names and titles is escaped on every
// page and in the CSV.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { addToken, addUser, Browser, confValue, request, signedIn, sql, sqlValue, uniq, auditRows } from './accounts-lib.mjs';
import { CJK } from './lib.mjs';

const EVIL_TITLE_PART = '<i>义诊</i>&"x"';
const EVIL_NAME = '<script>alert(1)</script>张"三\'';

// A phone number nobody else in this run uses.
function phone() {
	return `139${String(crypto.randomInt(0, 1e8)).padStart(8, '0')}`;
}

// The value of the hidden csrf field of a page.
function csrfOf(html) {
	const m = /name="csrf" value="([^"]*)"/.exec(html);
	assert.ok(m, 'the page has a csrf field');
	return m[1];
}

// Datetime-local text n days from now at hh:mm (China time, as the form sends it).
function local(days, hhmm) {
	const d = new Date(Date.now() + 8 * 3600e3 + days * 86400e3);
	return `${d.toISOString().slice(0, 10)}T${hhmm}`;
}

// Raw HTML text never carries the unescaped markup; the escaped form is there instead.
function assertEscaped(html, where) {
	assert.ok(!html.includes('<script>alert(1)</script>'), `${where}: no raw <script>`);
	assert.ok(!html.includes('<i>义诊</i>'), `${where}: no raw <i>`);
}

const staff = addUser('evpages', ['staff']);
const title = `${EVIL_TITLE_PART} 测试活动 ${uniq('t')}`;
let eventId;
let sb; // the staff browser

// Register from the public form as a fresh resident; returns { res, b, phone }.
async function register(id, fields = {}) {
	const b = new Browser();
	const page = await b.get(`/events/${id}`);
	assert.equal(page.status, 200, `GET /events/${id}: ${page.status}`);
	const p = fields.phone ?? phone();
	const res = await b.post(`/events/${id}/register`, { csrf: csrfOf(page.body), name: '王五', phone: p, ...fields });
	return { res, b, phone: p };
}

function codeFrom(location) {
	const m = /^\/r\/([23456789A-HJ-NP-Z]{6})\?new=1$/.exec(location ?? '');
	assert.ok(m, `redirect to the confirmation page: ${location}`);
	return m[1];
}

test('a staff member creates and publishes an event on the staff pages', async () => {
	sb = await signedIn(staff);
	const form = await sb.get('/staff/events/new');
	assert.equal(form.status, 200);
	assert.match(form.body, /新建活动/);
	// an invalid form comes back with the input kept and messages next to the fields
	const bad = await sb.post('/staff/events/new', {
		csrf: csrfOf(form.body), kind: 'general', title, location: '社区活动室', starts_at: local(10, '09:00'),
		ends_at: local(10, '11:00'), capacity: 'abc', waitlist: '1',
	});
	assert.equal(bad.status, 422, bad.body.slice(0, 400));
	assert.match(bad.body, /class="field-error"/);
	assert.ok(bad.body.includes('社区活动室'), 'input kept');
	assertEscaped(bad.body, 'edit form');
	assert.equal(sqlValue(`SELECT COUNT(*) FROM events WHERE title = '${title.replace(/'/g, "''")}'`), '0', 'nothing written');

	const ok = await sb.post('/staff/events/new', {
		csrf: csrfOf(form.body), kind: 'general', title, location: '社区活动室（3号楼）', starts_at: local(10, '09:00'),
		ends_at: local(10, '11:00'), capacity: '2', waitlist: '1', description: '请带身份证。\n第二行', publish: '1',
	});
	assert.equal(ok.status, 303, ok.body.slice(0, 400));
	assert.equal(ok.headers.location, '/staff/events?done=published');
	eventId = Number(sqlValue(`SELECT id FROM events WHERE title = '${title.replace(/'/g, "''")}'`));
	assert.ok(eventId > 0);
	assert.equal(sqlValue(`SELECT status FROM events WHERE id = ${eventId}`), 'published');

	const list = await sb.get('/staff/events');
	assert.equal(list.status, 200);
	assert.ok(list.body.includes('&lt;i&gt;义诊&lt;/i&gt;'), 'the title is shown escaped on the staff list');
	assertEscaped(list.body, 'staff list');
});

test('the staff pages need a staff role', async () => {
	const anon = new Browser();
	const r = await anon.get('/staff/events');
	assert.equal(r.status, 303);
	assert.match(r.headers.location, /^\/login\?next=/);
	const vol = await signedIn(addUser('evvol', ['volunteer']));
	assert.equal((await vol.get(`/staff/events/${eventId}/checkin`)).status, 403);
	// state changes need the session's CSRF token
	const noCsrf = await sb.post(`/staff/events/${eventId}/publish`, {});
	assert.equal(noCsrf.status, 403);
});

test('the public list shows the published event with its places', async () => {
	// the event's day alone: the list shows 20 a page, and other tests' events come first
	const r = await new Browser().get(`/events?from=${local(10, '').slice(0, 10)}&to=${local(10, '').slice(0, 10)}`);
	assert.equal(r.status, 200);
	assert.ok(r.body.includes(`href="/events/${eventId}"`), 'linked from the list');
	assert.ok(r.body.includes('&lt;i&gt;义诊&lt;/i&gt;&amp;&quot;x&quot;'), 'title escaped');
	assertEscaped(r.body, 'public list');
	assert.match(r.body, /还剩 2 个名额/);
	const page = await new Browser().get(`/events/${eventId}`);
	assert.equal(page.status, 200);
	assert.match(page.body, /替家里人报名/);
	assert.match(page.body, /name="phone"/);
	assertEscaped(page.body, 'event page');
	// a draft is not public
	assert.equal((await new Browser().get('/events/999999999')).status, 404);
});

let first; // { code, phone }

test('registering from the form gives the confirmation page with the code and a QR image', async () => {
	const { res, b, phone: p } = await register(eventId, { name: EVIL_NAME, on_behalf_of: '母亲' });
	assert.equal(res.status, 303, res.body.slice(0, 400));
	const code = codeFrom(res.headers.location);
	first = { code, phone: p };
	const row = sql(`SELECT name, phone, status, on_behalf_of FROM registrations WHERE code = '${code}'`)[0];
	assert.deepEqual(row, [EVIL_NAME, p, 'confirmed', '母亲'], 'stored as typed');
	const done = await b.get(res.headers.location);
	assert.equal(done.status, 200);
	assert.match(done.body, new RegExp(`<p class="ev-code" id="code">${code}</p>`));
	assert.match(done.body, /已报名/);
	assert.ok(done.body.includes(`src="/qr/${code}.svg"`));
	assert.ok(!done.body.includes(p), 'the confirmation page does not show the phone');
	assertEscaped(done.body, 'confirmation page');
	assert.ok(done.body.includes('&lt;i&gt;义诊&lt;/i&gt;'));

	const qr = await b.get(`/qr/${code}.svg`);
	assert.equal(qr.status, 200);
	assert.match(qr.headers['content-type'], /^image\/svg\+xml/);
	assert.match(qr.body, /^<\?xml version="1\.0" encoding="UTF-8"\?>\n<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
	assert.match(qr.body, /<\/svg>\n$/);
	const d = /<path fill="#000" d="([^"]*)"\/>/.exec(qr.body);
	assert.ok(d, 'one path of dark modules');
	assert.match(d[1], /^(M\d+ \d+h\d+v1h-\d+z)+$/);
	const vb = /viewBox="0 0 (\d+) (\d+)"/.exec(qr.body);
	assert.ok(vb && vb[1] === vb[2] && (Number(vb[1]) - 8 - 21) % 4 === 0, 'a QR size (21 + 4k modules) plus the quiet zone');
	// only the code alphabet is ever encoded
	for (const badPath of ['/qr/ABCDE0.svg', '/qr/abcdef.svg', '/qr/ABCDEFG.svg', '/qr/ABCDEF.png', '/qr/%3Cb%3E.svg']) {
		assert.equal((await b.get(badPath)).status, 404, badPath);
	}
});

test('bad input is refused with messages next to the fields, input kept, nothing written', async () => {
	const before = sqlValue(`SELECT COUNT(*) FROM registrations WHERE event_id = ${eventId}`);
	const { res } = await register(eventId, { name: '', phone: '12345' });
	assert.equal(res.status, 422);
	assert.match(res.body, /class="field-error" id="name-error"/);
	assert.match(res.body, /class="field-error" id="phone-error"/);
	assert.match(res.body, /value="12345"/, 'the typed phone is kept');
	const dup = await register(eventId, { phone: first.phone });
	assert.equal(dup.res.status, 409);
	assert.match(dup.res.body, /已经报过名/);
	// no CSRF token: refused
	const b = new Browser();
	const noCsrf = await b.post(`/events/${eventId}/register`, { name: '李四', phone: phone() });
	assert.equal(noCsrf.status, 403);
	assert.match(noCsrf.body, CJK);
	assert.equal(sqlValue(`SELECT COUNT(*) FROM registrations WHERE event_id = ${eventId}`), before);
});

test('lookup: a wrong phone gives the same answer as an unknown code; the right one shows the status', async () => {
	const b = new Browser();
	const form = await b.get('/lookup');
	assert.equal(form.status, 200);
	const csrf = csrfOf(form.body);
	const wrong = await b.post('/lookup', { csrf, code: first.code, phone: phone() });
	const unknown = await b.post('/lookup', { csrf, code: 'ZZZZZZ', phone: first.phone });
	const malformed = await b.post('/lookup', { csrf, code: '<b>', phone: first.phone });
	assert.equal(wrong.status, 404);
	assert.equal(unknown.status, wrong.status);
	assert.equal(malformed.status, wrong.status);
	const msg = (r) => /role="alert" id="lookup-error"><p>([^<]*)<\/p>/.exec(r.body)?.[1];
	assert.ok(msg(wrong));
	assert.equal(msg(unknown), msg(wrong));
	assert.equal(msg(malformed), msg(wrong));
	assert.ok(!wrong.body.includes('&lt;i&gt;义诊'), 'nothing of the event leaks');
	const right = await b.post('/lookup', { csrf, code: first.code.toLowerCase(), phone: first.phone });
	assert.equal(right.status, 200);
	assert.match(right.body, /已报名/);
	assert.ok(right.body.includes('&lt;script&gt;alert(1)&lt;/script&gt;张&quot;三&#39;') || right.body.includes('&lt;script&gt;alert(1)&lt;/script&gt;张&quot;三&#x27;'),
		'the name shown escaped');
	assertEscaped(right.body, 'lookup');
	assert.ok(right.body.includes(`<dd>${first.phone.slice(0, 3)}****${first.phone.slice(-4)}</dd>`), 'the phone is shown masked');
	assert.equal(right.body.split(first.phone).length - 1, 1, 'the full number only in the cancel form\'s hidden field');
	assert.ok(right.body.includes(`<input type="hidden" name="phone" value="${first.phone}">`));
	assert.match(right.body, /取消这次报名/);
});

test('when full, the next registrant is waitlisted; a cancellation by code + phone promotes them', async () => {
	const second = await register(eventId);
	assert.equal(second.res.status, 303);
	const third = await register(eventId);
	assert.equal(third.res.status, 303);
	const code3 = codeFrom(third.res.headers.location);
	const done = await third.b.get(third.res.headers.location);
	assert.match(done.body, /候补第 <strong class="ev-position">1<\/strong> 位/);
	assert.match((await new Browser().get('/events')).body, /已满，可候补/);

	const b = new Browser();
	const form = await b.get('/lookup');
	const csrf = csrfOf(form.body);
	// a wrong phone cancels nothing
	const wrong = await b.post(`/r/${first.code}/cancel`, { csrf, phone: phone() });
	assert.equal(wrong.status, 404);
	assert.equal(sqlValue(`SELECT status FROM registrations WHERE code = '${first.code}'`), 'confirmed');
	// without the CSRF pair nothing happens either
	assert.equal((await new Browser().post(`/r/${first.code}/cancel`, { phone: first.phone })).status, 403);
	const ok = await b.post(`/r/${first.code}/cancel`, { csrf, phone: first.phone });
	assert.equal(ok.status, 303);
	assert.equal(ok.headers.location, '/lookup?done=cancelled');
	assert.equal(sqlValue(`SELECT status FROM registrations WHERE code = '${first.code}'`), 'cancelled');
	assert.equal(sqlValue(`SELECT status FROM registrations WHERE code = '${code3}'`), 'confirmed', 'promoted');
	// put the cancelled one back as a fresh registration for the pages below
	const again = await register(eventId, { name: EVIL_NAME, phone: phone() });
	assert.equal(again.res.status, 303);
	first = { code: codeFrom(again.res.headers.location), phone: again.phone };
});

test('check-in by code marks the registration and undo reverts it', async () => {
	// the event is full again: the re-registered one is waitlisted; check in a confirmed one
	const code = sqlValue(`SELECT code FROM registrations WHERE event_id = ${eventId} AND status = 'confirmed' ORDER BY id LIMIT 1`);
	const page = await sb.get(`/staff/events/${eventId}/checkin?q=${code.toLowerCase()}`);
	assert.equal(page.status, 200);
	assert.ok(page.body.includes(`value="${code}"`), 'the registration is found by its code');
	const csrf = csrfOf(page.body);
	const r = await sb.post(`/staff/events/${eventId}/checkin`, { csrf, code, q: code });
	assert.equal(r.status, 303);
	assert.match(r.headers.location, new RegExp(`^/staff/events/${eventId}/checkin\\?done=checkin&n=1&q=${code}$`));
	assert.notEqual(sqlValue(`SELECT IFNULL(checked_in_at, 'null') FROM registrations WHERE code = '${code}'`), 'null');
	const after = await sb.get(r.headers.location);
	assert.match(after.body, /已签到 1 人/);
	assert.match(after.body, /撤销 .* 的签到/);
	const undo = await sb.post(`/staff/events/${eventId}/checkin/undo`, { csrf, code, q: code });
	assert.equal(undo.status, 303);
	assert.equal(sqlValue(`SELECT IFNULL(checked_in_at, 'null') FROM registrations WHERE code = '${code}'`), 'null');
	// a waitlisted registration cannot be checked in
	const wl = sqlValue(`SELECT code FROM registrations WHERE event_id = ${eventId} AND status = 'waitlisted' LIMIT 1`);
	const refused = await sb.post(`/staff/events/${eventId}/checkin`, { csrf, code: wl });
	assert.equal(refused.status, 409);
	assert.equal(sqlValue(`SELECT IFNULL(checked_in_at, 'null') FROM registrations WHERE code = '${wl}'`), 'null');
	// search by phone tail finds the family: everyone with that number's last four digits
	const tail = sqlValue(`SELECT RIGHT(phone, 4) FROM registrations WHERE code = '${code}'`);
	const byTail = await sb.get(`/staff/events/${eventId}/checkin?q=${tail}`);
	assert.ok(byTail.body.includes(code));
	assertEscaped(byTail.body, 'door page');
});

test('staff registrations: masked phones, an audited reveal, walk-in registration by staff', async () => {
	const list = await sb.get(`/staff/events/${eventId}/registrations`);
	assert.equal(list.status, 200);
	assertEscaped(list.body, 'registrations');
	assert.ok(list.body.includes('&lt;script&gt;alert(1)&lt;/script&gt;'));
	for (const [p] of sql(`SELECT phone FROM registrations WHERE event_id = ${eventId}`)) {
		assert.ok(!list.body.includes(p), 'no full phone number on the list');
	}
	const csrf = csrfOf(list.body);
	const reveal = await sb.post(`/staff/events/${eventId}/registrations/${first.code}/phone`, { csrf });
	assert.equal(reveal.status, 200);
	assert.ok(reveal.body.includes(first.phone), 'the one number is shown');
	const audit = auditRows(`action = 'registration.phone_view' AND object_id = '${first.code}'`);
	assert.equal(audit.length, 1);
	assert.equal(audit[0].userId, staff.id);

	const p = phone();
	const walk = await sb.post(`/staff/events/${eventId}/registrations`, { csrf, name: '赵六', phone: p });
	assert.equal(walk.status, 303, walk.body.slice(0, 300));
	assert.equal(sqlValue(`SELECT registered_by FROM registrations WHERE phone = '${p}' AND event_id = ${eventId}`), String(staff.id));
	const bad = await sb.post(`/staff/events/${eventId}/registrations`, { csrf, name: '赵六', phone: '123' });
	assert.equal(bad.status, 422);
	assert.match(bad.body, /value="123"/);
});

test('the sign-in sheet masks phones to the last four digits and escapes names', async () => {
	const r = await sb.get(`/staff/events/${eventId}/signin.html`);
	assert.equal(r.status, 200);
	assert.ok(r.body.includes('/static/signin.css'));
	assertEscaped(r.body, 'sign-in sheet');
	const rows = sql(`SELECT phone FROM registrations WHERE event_id = ${eventId} AND status = 'confirmed'`);
	assert.ok(rows.length >= 2);
	for (const [p] of rows) {
		assert.ok(!r.body.includes(p), 'no full phone number');
		assert.ok(!r.body.includes(p.slice(0, 7)), 'not even the first seven digits');
		assert.ok(r.body.includes(`****${p.slice(-4)}`), 'the last four digits');
	}
	const css = await new Browser().get('/static/signin.css');
	assert.equal(css.status, 200);
	assert.match(css.body, /@media print/);
});

test('the CSV export escapes names and neutralises formulas', async () => {
	const f = await register(eventId, { name: '=HYPERLINK("http://x")' });
	assert.equal(f.res.status, 303);
	const r = await sb.get(`/staff/events/${eventId}/registrations.csv`);
	assert.equal(r.status, 200);
	assert.match(r.headers['content-type'], /^text\/csv/);
	assert.ok(r.body.startsWith('\ufeff'), 'UTF-8 BOM');
	assert.ok(r.body.includes('"<script>alert(1)</script>张""三\'"'), 'quoted as CSV text, not HTML');
	assert.ok(r.body.includes(`"'=HYPERLINK(""http://x"")"`), 'a formula is neutralised');
	assert.ok(!/(^|,)=HYPERLINK/m.test(r.body));
});

test('the iCalendar feed lists the event', async () => {
	const r = await new Browser().get('/events.ics');
	assert.equal(r.status, 200);
	assert.match(r.headers['content-type'], /^text\/calendar/);
	assert.match(r.body, /BEGIN:VCALENDAR\r\n/);
	assert.ok(r.body.replace(/\r\n[ \t]/g, '').includes('测试活动'));
});

// The test stack serves tests/plugins: the haircut plugin adds the kind "haircut" with its
// own form (age band, home visit, an address shown only for home visits, consent).
test('a plugin kind: slots and the kind\'s extra questions on the form, errors next to them', async () => {
	const form = await sb.get('/staff/events/new');
	assert.match(form.body, /<option value="haircut"/, 'the plugin kind is offered');
	const htitle = `义剪日 ${uniq('h')}`;
	const made = await sb.post('/staff/events/new', {
		csrf: csrfOf(form.body), kind: 'haircut', title: htitle, location: '社区活动室', starts_at: local(12, '09:00'),
		ends_at: local(12, '11:00'), capacity: '4', waitlist: '1', publish: '1',
		slot1_starts_at: local(12, '09:00'), slot1_ends_at: local(12, '10:00'), slot1_capacity: '2',
		slot2_starts_at: local(12, '10:00'), slot2_ends_at: local(12, '11:00'), slot2_capacity: '2',
	});
	assert.equal(made.status, 303, made.body.slice(0, 400));
	const id = Number(sqlValue(`SELECT id FROM events WHERE title = '${htitle}'`));
	assert.equal(sqlValue(`SELECT COUNT(*) FROM event_slots WHERE event_id = ${id}`), '2');
	const b = new Browser();
	const page = await b.get(`/events/${id}`);
	assert.equal(page.status, 200);
	assert.match(page.body, /name="age_band"/);
	assert.match(page.body, /name="home_visit"/);
	assert.equal(page.body.match(/name="name"/g).length, 1, 'the kind\'s own name field is the core one');
	const slots = [...page.body.matchAll(/name="slot_id" value="(\d+)"/g)].map((m) => m[1]);
	assert.equal(slots.length, 2);
	const csrf = csrfOf(page.body);
	const p = phone();
	const bad = await b.post(`/events/${id}/register`, { csrf, name: '王大妈', phone: p, slot_id: slots[1], home_visit: 'true' });
	assert.equal(bad.status, 422);
	assert.match(bad.body, /pf-field pf-enum has-error" id="[^"]*age_band[^"]*-field"/, 'the age band is marked');
	assert.match(bad.body, /pf-field pf-text has-error" id="[^"]*address[^"]*-field"/, 'the address is required for a home visit');
	assert.match(bad.body, new RegExp(`id="slot-${slots[1]}" name="slot_id" value="${slots[1]}" checked`), 'slot kept');
	assert.equal(sqlValue(`SELECT COUNT(*) FROM registrations WHERE event_id = ${id}`), '0');
	const ok = await b.post(`/events/${id}/register`, {
		csrf, name: '王大妈', phone: p, slot_id: slots[1], age_band: '70_79', home_visit: 'false', consent: 'true',
	});
	assert.equal(ok.status, 303, ok.body.slice(0, 400));
	const row = sql(`SELECT slot_id, answers FROM registrations WHERE event_id = ${id} AND phone = '${p}'`)[0];
	assert.equal(row[0], slots[1]);
	assert.equal(JSON.parse(row[1]).age_band, '70_79');
	const done = await b.get(ok.headers.location);
	assert.match(done.body, /10:00–11:00/, 'the chosen slot\'s time');
});

test('staff edit, duplicate for next year and cancel an event (registrants get a notice queued)', async () => {
	const edit = await sb.get(`/staff/events/${eventId}/edit`);
	assert.equal(edit.status, 200);
	assertEscaped(edit.body, 'edit form');
	assert.match(edit.body, /name="starts_at" value="\d{4}-\d\d-\d\dT09:00"/, 'times in the datetime-local form');
	const csrf = csrfOf(edit.body);
	const newTitle = `${title} 改`;
	const saved = await sb.post(`/staff/events/${eventId}/edit`, { csrf, title: newTitle, location: '社区活动室（2楼）',
		starts_at: local(10, '09:00'), ends_at: local(10, '11:00'), capacity: '3', waitlist: '1', description: '' });
	assert.equal(saved.status, 303, saved.body.slice(0, 400));
	assert.equal(sqlValue(`SELECT location FROM events WHERE id = ${eventId}`), '社区活动室（2楼）');
	// capacity below the seats taken is refused with the message next to the field
	const tooSmall = await sb.post(`/staff/events/${eventId}/edit`, { csrf, title: newTitle, location: 'x',
		starts_at: local(10, '09:00'), ends_at: local(10, '11:00'), capacity: '1', waitlist: '1' });
	assert.equal(tooSmall.status, 422, tooSmall.body.slice(0, 300));
	assert.match(tooSmall.body, /class="field-error"/);
	assert.equal(sqlValue(`SELECT capacity FROM events WHERE id = ${eventId}`), '3');

	const dup = await sb.post(`/staff/events/${eventId}/duplicate`, { csrf });
	assert.equal(dup.status, 303);
	const m = /^\/staff\/events\/(\d+)\/edit$/.exec(dup.headers.location);
	assert.ok(m, dup.headers.location);
	assert.equal(sqlValue(`SELECT status FROM events WHERE id = ${m[1]}`), 'draft');
	assert.equal(sqlValue(`SELECT DATEDIFF(c.starts_at, o.starts_at) FROM events c, events o WHERE c.id = ${m[1]} AND o.id = ${eventId}`), '364');
	assert.equal((await new Browser().get(`/events/${m[1]}`)).status, 404, 'a draft is not public');

	const noConfirm = await sb.post(`/staff/events/${eventId}/cancel`, { csrf });
	assert.equal(noConfirm.status, 400);
	assert.equal(sqlValue(`SELECT status FROM events WHERE id = ${eventId}`), 'published');
	const live = Number(sqlValue(`SELECT COUNT(*) FROM registrations WHERE event_id = ${eventId} AND status IN ('confirmed', 'waitlisted')`));
	const cancelled = await sb.post(`/staff/events/${eventId}/cancel`, { csrf, confirm: '1' });
	assert.equal(cancelled.status, 303);
	assert.equal(sqlValue(`SELECT status FROM events WHERE id = ${eventId}`), 'cancelled');
	const notices = Number(sqlValue(`SELECT COUNT(*) FROM outbox o JOIN registrations g ON g.id = o.registration_id WHERE g.event_id = ${eventId} AND o.kind = 'cancellation'`));
	assert.ok(live > 0 && notices >= live, `a cancellation notice for each of ${live} registrants (${notices})`);
	const page = await new Browser().get(`/events/${eventId}`);
	assert.equal(page.status, 200);
	assert.match(page.body, /这个活动已经取消了/);
	assert.ok(!page.body.includes('name="phone"'), 'no form on a cancelled event');
});

test('the door page checks in a whole family found by a shared name part at once', async () => {
	const form = await sb.get('/staff/events/new');
	const ftitle = `家庭签到 ${uniq('f')}`;
	const made = await sb.post('/staff/events/new', { csrf: csrfOf(form.body), kind: 'general', title: ftitle,
		location: '社区广场', starts_at: local(3, '15:00'), ends_at: local(3, '17:00'), capacity: '10', waitlist: '1', publish: '1' });
	assert.equal(made.status, 303);
	const id = Number(sqlValue(`SELECT id FROM events WHERE title = '${ftitle}'`));
	const family = uniq('陈家');
	const codes = [];
	for (const who of ['爷爷', '奶奶', '孙子']) {
		const { res } = await register(id, { name: `${family}${who}` });
		assert.equal(res.status, 303);
		codes.push(codeFrom(res.headers.location));
	}
	const page = await sb.get(`/staff/events/${id}/checkin?q=${encodeURIComponent(family)}`);
	assert.equal(page.status, 200);
	for (const c of codes) assert.ok(page.body.includes(`value="${c}"`));
	assert.match(page.body, /一家人一起签到（全部 3 人）/);
	const all = /<form method="post" action="[^"]*" class="ev-all">([^]*?)<\/form>/.exec(page.body)[1];
	const body = new URLSearchParams({ csrf: csrfOf(page.body), q: family });
	for (const m of all.matchAll(/name="code" value="([^"]+)"/g)) body.append('code', m[1]);
	const r = await sb.post(`/staff/events/${id}/checkin`, body.toString());
	assert.equal(r.status, 303);
	assert.match(r.headers.location, /done=checkin&n=3/);
	assert.equal(sqlValue(`SELECT COUNT(*) FROM registrations WHERE event_id = ${id} AND checked_in_at IS NOT NULL`), '3');
	const after = await sb.get(r.headers.location);
	assert.doesNotMatch(after.body, /一家人一起签到/, 'nobody left to check in');
	assert.equal((after.body.match(/撤销 .* 的签到/g) ?? []).length, 3, 'an undo for each');
});

test('lookups are rate-limited per address, right or wrong, and the confirmation page counts too', async () => {
	const limit = Number(confValue('lookup_limit_per_hour'));
	assert.equal(confValue('rate_limits'), 'on');
	const b = new Browser();
	const csrf = csrfOf((await b.get('/lookup')).body);
	for (let i = 0; i < limit - 1; i++) {
		const r = await b.post('/lookup', { csrf, code: 'ZZZZZZ', phone: phone() });
		assert.equal(r.status, 404, `lookup ${i + 1}`);
	}
	assert.equal((await b.get('/r/ZZZZZZ')).status, 404, 'the last one within the limit');
	const over = await b.post('/lookup', { csrf, code: first.code, phone: first.phone });
	assert.equal(over.status, 429, 'even the right code and phone, once over the limit');
	assert.match(over.body, /查询次数太多了/);
	assert.equal((await b.get(`/r/${first.code}`)).status, 429);
	// another address is not affected
	const other = new Browser();
	const ok = await other.post('/lookup', { csrf: csrfOf((await other.get('/lookup')).body), code: first.code, phone: first.phone });
	assert.equal(ok.status, 200);
});

test('a draft is hidden until published; stopping registration removes the form', async () => {
	const form = await sb.get('/staff/events/new');
	const csrf = csrfOf(form.body);
	const dtitle = `草稿活动 ${uniq('d')}`;
	const made = await sb.post('/staff/events/new', { csrf, kind: 'general', title: dtitle, location: '社区',
		starts_at: local(4, '09:00'), ends_at: local(4, '10:00'), capacity: '5' });
	assert.equal(made.status, 303);
	assert.equal(made.headers.location, '/staff/events?done=saved');
	const id = Number(sqlValue(`SELECT id FROM events WHERE title = '${dtitle}'`));
	assert.equal(sqlValue(`SELECT status FROM events WHERE id = ${id}`), 'draft');
	const day = `/events?from=${local(4, '').slice(0, 10)}&to=${local(4, '').slice(0, 10)}`; // 20 a page: its day alone
	assert.ok(!(await new Browser().get(day)).body.includes(`/events/${id}"`));
	assert.equal((await new Browser().get(`/events/${id}`)).status, 404);
	const list = await sb.get('/staff/events');
	assert.ok(list.body.includes(`action="/staff/events/${id}/publish"`), 'a publish button for the draft');
	assert.equal((await sb.post(`/staff/events/${id}/publish`, { csrf })).status, 303);
	assert.ok((await new Browser().get(day)).body.includes(`/events/${id}"`));
	assert.match((await new Browser().get(`/events/${id}`)).body, /name="phone"/);
	assert.equal((await sb.post(`/staff/events/${id}/close`, { csrf })).status, 303);
	assert.equal(sqlValue(`SELECT status FROM events WHERE id = ${id}`), 'closed');
	const closed = await new Browser().get(`/events/${id}`);
	assert.equal(closed.status, 200);
	assert.doesNotMatch(closed.body, /name="phone"/);
	assert.match(closed.body, /现在不能报名/);
	const b = new Browser();
	const late = await b.post(`/events/${id}/register`, { csrf: csrfOf((await b.get('/lookup')).body), name: '晚到', phone: phone() });
	assert.equal(late.status, 403, 'registration refused once closed');
	assert.equal(sqlValue(`SELECT COUNT(*) FROM registrations WHERE event_id = ${id}`), '0');
});

// --- paging of the public list (20 a page, docs/events-pages.md)

// The event ids of a list page in page order, and its pager links (unescaped) and page count.
function listPage(html) {
	const ids = [...html.matchAll(/<a class="card ev-card" href="\/events\/(\d+)"/g)].map((m) => Number(m[1]));
	const link = (rel) => /<a [^>]*rel="(?:prev|next)"[^>]*>/g[Symbol.match](html)
		?.find((a) => a.includes(`rel="${rel}"`))?.match(/href="([^"]*)"/)?.[1]
		.replace(/&#(\d+);/g, (_, n) => String.fromCharCode(Number(n))).replaceAll('&amp;', '&');
	const at = /第 (\d+) 页，共 (\d+) 页/.exec(html);
	return { ids, prev: link('prev'), next: link('next'), page: at ? Number(at[1]) : 1, pages: at ? Number(at[2]) : 1 };
}

// Walk a list from its first address by the 下一页 links; returns the pages, checking each.
async function walk(first) {
	const pages = [];
	for (let url = first; url;) {
		const r = await new Browser().get(url);
		assert.equal(r.status, 200, `${url}: ${r.status}`);
		const p = listPage(r.body);
		pages.push({ url, ...p });
		assert.equal(p.page, pages.length, `${url} is page ${pages.length}`);
		if (p.next) assert.match(r.body, /rel="next"[^>]*>下一页<\/a>/);
		if (p.prev) assert.match(r.body, /rel="prev"[^>]*>上一页<\/a>/);
		assert.ok(pages.length <= 1000, 'the walk ends');
		url = p.next;
	}
	return pages;
}

// The order of the pages within one kind group: by start, then id (creation).
function byStart(evs) {
	return evs.slice().sort((a, b) => a.starts.localeCompare(b.starts) || a.id - b.id);
}

const pg = { general: [], haircut: [] }; // the paging test's own events: { id, starts }
let pgRange;                             // `from=...&to=...`: only pg's events start inside it

test('paging: 45 events of a kind in a month of their own make 3 pages with the filter kept in the links', async () => {
	const tok = addToken(staff.username).token;
	// a month of a far year: after every other test's events and only ours inside it; three
	// events share each start (the id breaks the tie), created out of start order
	const year = 2080 + crypto.randomInt(0, 8), month = String(1 + crypto.randomInt(0, 12)).padStart(2, '0');
	pgRange = `from=${year}-${month}-01&to=${year}-${month}-28`;
	const plan = [...Array.from({ length: 45 }, (_, i) => ['general', i]), ...Array.from({ length: 22 }, (_, i) => ['haircut', i])]
		.sort(() => crypto.randomInt(0, 3) - 1);
	const make = async ([kind, i]) => {
		const starts = `${year}-${month}-${String(1 + Math.floor(i / 3)).padStart(2, '0')}T${kind === 'general' ? '09' : '10'}:00:00+08:00`;
		const c = await request('POST', '/api/v1/events', { headers: { Authorization: `Bearer ${tok}`, 'Content-Type': 'application/json' },
			body: JSON.stringify({ kind, title: `分页测试 ${kind} ${i}`, location: '社区活动室', starts_at: starts,
				ends_at: starts.replace(/T\d\d/, 'T12'), capacity: 5 }) });
		assert.equal(c.status, 201, c.body);
		const id = JSON.parse(c.body).id;
		const p = await request('POST', `/api/v1/events/${id}/publish`, { headers: { Authorization: `Bearer ${tok}` } });
		assert.equal(p.status, 200, p.body);
		pg[kind].push({ id, starts });
	};
	for (let k = 0; k < plan.length; k += 6) await Promise.all(plan.slice(k, k + 6).map(make));

	const general = byStart(pg.general).map((e) => e.id);
	const pages = await walk(`/events?kind=general&${pgRange}`);
	assert.equal(pages.length, 3);
	assert.deepEqual(pages.map((p) => p.ids.length), [20, 20, 5]);
	assert.deepEqual(pages.flatMap((p) => p.ids), general, 'every event once, in start order');
	assert.deepEqual(pages.map((p) => p.pages), [3, 3, 3]);
	assert.equal(pages[0].prev, undefined, 'no 上一页 on the first page');
	assert.equal(pages[2].next, undefined, 'no 下一页 on the last page');
	for (const p of pages.slice(1)) {
		assert.match(p.url, new RegExp(`^/events\\?kind=general&${pgRange}&page=\\d$`), 'the filters are kept');
	}
	// 上一页 leads back the same way; page 1's address has no page number (one cache entry)
	assert.equal(pages[2].prev, pages[1].url);
	assert.equal(pages[1].prev, `/events?kind=general&${pgRange}`);
});

test('paging: both kinds together, another kind alone, and the whole list without filters', async () => {
	// both kinds: 67 events, 4 pages; on each page the events are those of its place in the
	// start order (grouped by kind on the page)
	const both = byStart([...pg.general, ...pg.haircut]).map((e) => e.id);
	const pages = await walk(`/events?${pgRange}`);
	assert.deepEqual(pages.map((p) => p.ids.length), [20, 20, 20, 7]);
	pages.forEach((p, i) => assert.deepEqual(p.ids.slice().sort(), both.slice(i * 20, i * 20 + 20).sort(), `page ${i + 1}`));
	assert.match((await new Browser().get(pages[1].url)).body, /义剪日/, 'the kind groups show on a page');
	// the other kind: 22 events, 2 pages
	const hc = await walk(`/events?kind=haircut&${pgRange}`);
	assert.deepEqual(hc.map((p) => p.ids), [byStart(pg.haircut).map((e) => e.id).slice(0, 20), byStart(pg.haircut).map((e) => e.id).slice(20)]);
	// the whole public list: 20 a page, no event twice, ours each once and in order
	const whole = await walk('/events');
	const ids = whole.flatMap((p) => p.ids);
	assert.equal(new Set(ids).size, ids.length, 'no event on two pages');
	whole.slice(0, -1).forEach((p, i) => assert.equal(p.ids.length, 20, `page ${i + 1} is full`));
	assert.ok(whole.at(-1).ids.length >= 1 && whole.at(-1).ids.length <= 20);
	const ours = new Set(both);
	assert.deepEqual(ids.filter((id) => ours.has(id)).sort(), both.slice().sort(), 'each of ours once');
	assert.equal(Number(sqlValue("SELECT COUNT(*) FROM events WHERE status = 'published' AND ends_at >= NOW()")), ids.length,
		'every upcoming published event is on some page');
});

test('paging: a malformed page number shows page 1, one past the end the last page, never an error', async () => {
	const base = `/events?kind=general&${pgRange}`;
	const first = (await walk(base))[0].ids, last = byStart(pg.general).map((e) => e.id).slice(40);
	for (const q of ['page=', 'page=0', 'page=-1', 'page=abc', 'page=1.5', 'page=%EF%BC%92', 'page=1e3', 'page=2x', 'page=+2']) {
		const r = await new Browser().get(`${base}&${q}`);
		assert.equal(r.status, 200, `${q}: ${r.status}`);
		assert.deepEqual(listPage(r.body).ids, first, `${q}: page 1`);
		assert.equal(listPage(r.body).page, 1);
	}
	for (const q of ['page=3', 'page=4', 'page=999999999', 'page=99999999999999999999999']) {
		const r = await new Browser().get(`${base}&${q}`);
		assert.equal(r.status, 200, `${q}: ${r.status}`);
		assert.deepEqual(listPage(r.body).ids, last, `${q}: the last page`);
		assert.equal(listPage(r.body).page, 3);
	}
	// malformed dates are ignored (the list, never an error page); an empty range is the
	// usual "no events" notice, without a pager
	assert.equal((await new Browser().get(`/events?kind=general&from=2026-13-01&page=2`)).status, 200);
	const none = await new Browser().get('/events?from=2030-01-02&to=2030-01-01&page=5');
	assert.equal(none.status, 200);
	assert.match(none.body, /最近没有可以报名的活动/);
	assert.doesNotMatch(none.body, /ev-pager/);
});
