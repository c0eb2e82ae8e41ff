// register_checkin.test.mjs - real Chromium (Debian's /usr/bin/chromium, driven by
// playwright-core): a resident registers on a phone-sized screen and sees the code; a staff
// member logs in and checks them in on the door page. Screenshots of the main pages go to
// $PORTAL_VAR/screenshots (var/test/screenshots under `scripts/portal test`).
// Environment: as tests/integration (PORTAL_URL, PORTAL_VAR, PORTAL_BIN, PORTAL_CONF).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { BASE } from '../integration/lib.mjs';
import { addUser, signedIn, sqlValue, uniq } from '../integration/accounts-lib.mjs';
import { assertClean, clearLoopbackLimits, assertFitsPhone, expectStatus, launch, logIn, phonePage, shot } from './lib.mjs';

let browser;
let eventId;
let code;
const staff = addUser('evbrowser', ['staff'], { displayName: '门口的工作人员' });
const title = `血压血糖免费检测 ${uniq('b')}`;
const residentPhone = `138${String(crypto.randomInt(0, 1e8)).padStart(8, '0')}`;

// Datetime-local text n days from now at hh:mm (China time).
function local(days, hhmm) {
	const d = new Date(Date.now() + 8 * 3600e3 + days * 86400e3);
	return `${d.toISOString().slice(0, 10)}T${hhmm}`;
}

before(async () => {
	clearLoopbackLimits();
	browser = await launch();
	// the event, made and published on the staff pages over plain HTTP
	const sb = await signedIn(staff);
	const form = await sb.get('/staff/events/new');
	const csrf = /name="csrf" value="([^"]*)"/.exec(form.body)[1];
	const r = await sb.post('/staff/events/new', {
		csrf, kind: 'general', title, location: '社区卫生服务站（5号楼一楼）', starts_at: local(7, '08:30'),
		ends_at: local(7, '11:30'), capacity: '30', waitlist: '1', description: '空腹来，带上医保卡。', publish: '1',
	});
	assert.equal(r.status, 303, r.body.slice(0, 300));
	eventId = Number(sqlValue(`SELECT id FROM events WHERE title = '${title}'`));
	assert.ok(eventId > 0);
});

after(async () => {
	await browser?.close();
});

test('a resident registers on a phone-sized screen and sees the code', async () => {
	const page = await phonePage(browser);
	await page.goto(`${BASE}/events`);
	await shot(page, '01-events-list', { fullPage: false });
	// the list shows 20 a page: page on, as a resident would, until the event shows up
	const link = page.getByRole('link', { name: new RegExp(title) });
	for (let i = 0; i < 20 && (await link.count()) === 0; i++)
		await page.getByRole('link', { name: /下一页/ }).click();
	await link.click();
	await page.waitForURL(`${BASE}/events/${eventId}`);
	assert.equal(await page.locator('h1').textContent(), title);
	await shot(page, '02-event-form');
	await assertFitsPhone(page);

	// a mistake first: the message sits next to the field and the name is kept
	await page.getByLabel('参加人姓名').fill('李秀英');
	await page.getByLabel('手机号').fill('1234');
	expectStatus(page, `/events/${eventId}/register`, 422);
	await page.getByRole('button', { name: '提交报名' }).click();
	await page.locator('#phone-error').waitFor();
	assert.equal(await page.getByLabel('参加人姓名').inputValue(), '李秀英');
	await shot(page, '03-event-form-error');

	await page.getByLabel('手机号').fill(residentPhone);
	await page.getByLabel('替谁报名（自己报名不用填）').fill('母亲');
	await page.getByRole('button', { name: '提交报名' }).click();
	await page.waitForURL(/\/r\/[23456789A-HJ-NP-Z]{6}\?new=1$/);
	code = (await page.locator('#code').textContent()).trim();
	assert.match(code, /^[23456789A-HJ-NP-Z]{6}$/);
	assert.equal(sqlValue(`SELECT code FROM registrations WHERE event_id = ${eventId} AND phone = '${residentPhone}'`), code);
	assert.match(await page.locator('.ev-status').textContent(), /已报名/);
	// the QR image loaded (an SVG the browser could decode)
	const qrOk = await page.locator('.ev-qr img').evaluate((img) => img.complete && img.naturalWidth > 0);
	assert.ok(qrOk, 'the QR code image is shown');
	// large enough to read: the code's font is bigger than the body text
	const sizes = await page.evaluate(() => [
		parseFloat(getComputedStyle(document.getElementById('code')).fontSize),
		parseFloat(getComputedStyle(document.body).fontSize)]);
	assert.ok(sizes[0] >= 2 * sizes[1], `code font ${sizes[0]}px vs body ${sizes[1]}px`);
	await shot(page, '04-confirmation');

	// the lookup page with code + phone
	await page.goto(`${BASE}/lookup?code=${code}`);
	await page.getByLabel('手机号').fill(residentPhone);
	await page.getByRole('button', { name: '查询' }).click();
	await page.locator('.ev-reg').waitFor();
	assert.match(await page.locator('.ev-reg').textContent(), /已报名/);
	await shot(page, '05-lookup');
	assertClean(page);
	await page.context().close();
});

test('a staff member logs in and checks the resident in on the door page', async () => {
	assert.ok(code, 'the first test registered someone');
	const page = await phonePage(browser);
	await page.goto(`${BASE}/staff/events/${eventId}/checkin`);
	await logIn(page, staff, `${BASE}/staff/events/${eventId}/checkin`);
	await shot(page, '06-door-page');

	await page.getByLabel('报名码、手机尾号或姓名').fill(code.toLowerCase());
	await page.getByRole('button', { name: '查找' }).click();
	const pick = page.locator(`#pick-${code}`);
	await pick.waitFor();
	assert.ok(await pick.isChecked(), 'a single result is ticked already');
	await shot(page, '07-door-found');
	await page.getByRole('button', { name: '签到所选的人' }).click();
	await page.locator('.notice-ok').waitFor();
	assert.match(await page.locator('.notice-ok').textContent(), /已签到 1 人/);
	assert.notEqual(sqlValue(`SELECT IFNULL(checked_in_at, 'none') FROM registrations WHERE code = '${code}'`), 'none');
	await shot(page, '08-door-checked-in');

	// undo, then check in again by the phone's last four digits
	await page.getByRole('button', { name: /^撤销 .* 的签到$/ }).click();
	await page.locator('.notice-ok').waitFor();
	assert.match(await page.locator('.notice-ok').textContent(), /已撤销签到 1 人/);
	assert.equal(sqlValue(`SELECT IFNULL(checked_in_at, 'none') FROM registrations WHERE code = '${code}'`), 'none');
	await page.getByLabel('报名码、手机尾号或姓名').fill(residentPhone.slice(-4));
	await page.getByRole('button', { name: '查找' }).click();
	await page.locator(`#pick-${code}`).check();
	await page.getByRole('button', { name: '签到所选的人' }).click();
	await page.locator('.notice-ok').waitFor();
	assert.notEqual(sqlValue(`SELECT IFNULL(checked_in_at, 'none') FROM registrations WHERE code = '${code}'`), 'none');

	await page.goto(`${BASE}/staff/events`);
	assert.match(await page.locator('main').textContent(), new RegExp(title));
	await shot(page, '09-staff-events', { fullPage: false });
	await page.goto(`${BASE}/staff/events/${eventId}/edit`);
	assert.equal(await page.getByLabel('活动名称').inputValue(), title);
	await shot(page, '10-staff-event-edit');
	await page.goto(`${BASE}/staff/events/${eventId}/registrations`);
	assert.match(await page.locator('.ev-regs').textContent(), new RegExp(code));
	await shot(page, '11-registrations');
	await page.goto(`${BASE}/staff/events/${eventId}/signin.html`);
	await page.emulateMedia({ media: 'print' });
	await shot(page, '12-signin-sheet-print');
	assert.ok(!(await page.content()).includes(residentPhone), 'the sheet masks the phone');
	assertClean(page);
	await page.context().close();
});
