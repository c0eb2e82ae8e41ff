// outreach.test.mjs - the outreach plugin (plugins/outreach) in real Chromium on a phone-sized
// screen: a resident registers a couple for a pre-pregnancy check day from the public event
// page (the core's fields, the plugin's form, the consent) and sees the code; a couple that
// is not eligible is told why next to the field it concerns, and nothing is written; a staff
// member with the health grant opens the plugin's day page and the printable list.
// Screenshots in $PORTAL_VAR/screenshots/outreach-*.png. Environment: as tests/integration.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { BASE } from '../integration/lib.mjs';
import { addToken, addUser, freshAddress, portald, request, sql, sqlValue, uniq } from '../integration/accounts-lib.mjs';
import { assertClean, clearLoopbackLimits, assertFitsPhone, expectStatus, launch, logIn, phonePage, shot } from './lib.mjs';

const nurse = addUser('obnurse', ['staff'], { displayName: '卫生服务站护士' });
const title = `孕前优生健康检查 ${uniq('ob')}`;
const phone = () => `135${String(crypto.randomInt(0, 1e8)).padStart(8, '0')}`;
const tail = () => String(crypto.randomInt(0, 1e4)).padStart(4, '0');
// ISO time n days from today at hh:mm China time
const at = (n, hhmm) => `${new Date(Date.now() + 8 * 3600e3 + n * 86400e3).toISOString().slice(0, 10)}T${hhmm}:00+08:00`;

let browser;
let eventId;
let slots;
let code;
const wife = { name: '王芳', phone: phone(), idTail: tail() };
const husband = { name: '李明', idTail: tail() };

before(async () => {
	browser = await launch();
	clearLoopbackLimits();
	const admin = addUser('obadm', ['staff', 'admin']);
	const token = addToken(admin.username).token;
	const api = (method, p, body) => request(method, p, {
		headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
		body: body === undefined ? undefined : JSON.stringify(body), from: freshAddress(),
	});
	const r = await api('POST', '/api/v1/events', {
		kind: 'outreach_prepreg', title, location: '社区卫生服务站（5号楼一楼）', starts_at: at(15, '08:30'), ends_at: at(15, '10:30'),
		capacity: 40, slots: [{ starts_at: at(15, '08:30'), ends_at: at(15, '09:30'), capacity: 20 },
			{ starts_at: at(15, '09:30'), ends_at: at(15, '10:30'), capacity: 20 }],
	});
	assert.equal(r.status, 201, r.body);
	const ev = JSON.parse(r.body);
	eventId = ev.id;
	slots = ev.slots.map((s) => s.id);
	const pub = await api('POST', `/api/v1/events/${eventId}/publish`);
	assert.equal(pub.status, 200, pub.body);
	const g = portald(['user', 'grant', nurse.username, 'outreach.health']);
	assert.equal(g.status, 0, g.stderr);
});

after(async () => {
	await browser?.close();
});

// The core's fields and the couple's answers on the event page; basis is the label of the
// eligibility choice.
async function fillCouple(page, { name, phone: p, idTail, spouse, spouseTail, basis, months }) {
	await page.getByLabel('参加人姓名').fill(name);
	await page.getByLabel('手机号').fill(p);
	await page.locator(`#slot-${slots[0]}`).check();
	await page.getByLabel('配偶姓名').fill(spouse);
	await page.getByLabel('参加人身份证号后四位').fill(idTail);
	await page.getByLabel('配偶身份证号后四位').fill(spouseTail);
	await page.getByRole('group', { name: /你们是否准备在近期怀孕/ }).getByLabel('是', { exact: true }).check();
	await page.getByRole('radio', { name: basis }).check();
	if (months !== undefined) await page.getByLabel('在本地住了几个月？').fill(String(months));
	await page.getByLabel('我们夫妻同意社区使用以上信息').check();
}

test('a resident registers a couple on the phone and sees the code', async () => {
	const page = await phonePage(browser);
	await page.goto(`${BASE}/events/${eventId}`);
	assert.equal((await page.locator('h1').textContent()).trim(), title);
	const main = await page.locator('main').textContent();
	for (const s of ['孕前优生健康检查', '配偶姓名', '身份证号后四位', '敏感个人信息', '社区不记录检查结果']) {
		assert.ok(main.includes(s), `the page shows ${s}`);
	}
	// forms.js asks the months only of couples who live here without 户籍
	const months = page.getByLabel('在本地住了几个月？');
	assert.equal(await months.isVisible(), false, 'months hidden until that basis is chosen');
	await page.getByRole('radio', { name: '双方都不是本地户籍，但住在本地' }).check();
	assert.ok(await months.isVisible(), 'months asked for residence');
	await assertFitsPhone(page);
	await shot(page, 'outreach-01-event-form');

	await fillCouple(page, { ...wife, spouse: husband.name, spouseTail: husband.idTail, basis: '夫妻至少一方是本地户籍' });
	assert.equal(await months.isVisible(), false);
	await page.getByRole('button', { name: '提交报名' }).click();
	await page.waitForURL(/\/r\/[23456789A-HJ-NP-Z]{6}\?new=1$/);
	code = (await page.locator('#code').textContent()).trim();
	assert.match(code, /^[23456789A-HJ-NP-Z]{6}$/);
	const [row] = sql(`SELECT code, status, slot_id, JSON_VALUE(answers, '$.spouse_name'),
		JSON_VALUE(answers, '$.basis') FROM registrations WHERE event_id = ${eventId} AND phone = '${wife.phone}'`);
	assert.deepEqual(row, [code, 'confirmed', String(slots[0]), husband.name, 'hukou']);
	assert.match(await page.locator('.ev-status').textContent(), /已报名/);
	await assertFitsPhone(page);
	await shot(page, 'outreach-02-confirmation');
	assertClean(page);
	await page.context().close();
});

test('a couple that is not eligible sees why next to the field, and nothing is written', async () => {
	const page = await phonePage(browser);
	await page.goto(`${BASE}/events/${eventId}`);
	const p = phone();
	await fillCouple(page, { name: '张丽', phone: p, idTail: tail(), spouse: '赵强', spouseTail: tail(),
		basis: '双方都不是本地户籍，但住在本地', months: 5 });
	expectStatus(page, `/events/${eventId}/register`, 422);
	const answer = page.waitForResponse((r) => r.request().method() === 'POST' && r.url().endsWith(`/events/${eventId}/register`));
	await page.getByRole('button', { name: '提交报名' }).click();
	assert.equal((await answer).status(), 422);
	const field = page.locator('.pf-field.has-error');
	await field.waitFor();
	assert.equal(await field.count(), 1, 'one field is marked');
	assert.match(await field.textContent(), /在本地住了几个月？/);
	assert.equal((await field.locator('.field-error').textContent()).trim(),
		'夫妻双方都不是本地户籍的，要在本地住满6个月才能免费检查。你们住了5个月，再过1个月就可以报名了。');
	// the field is tied to its message, the answers are kept, the field still shown
	const months = page.getByLabel('在本地住了几个月？');
	assert.ok(await months.isVisible());
	assert.equal(await months.inputValue(), '5');
	assert.equal(await months.getAttribute('aria-invalid'), 'true');
	assert.match(await months.getAttribute('aria-describedby'), /-error\b/);
	assert.equal(await page.getByLabel('参加人姓名').inputValue(), '张丽');
	assert.equal(await page.getByLabel('配偶姓名').inputValue(), '赵强');
	assert.equal(sqlValue(`SELECT COUNT(*) FROM registrations WHERE phone = '${p}'`), '0');
	await field.scrollIntoViewIfNeeded();
	await assertFitsPhone(page);
	await shot(page, 'outreach-03-not-eligible');
	assertClean(page);
	await page.context().close();
});

test('staff with the health grant open the day page and the printable list', async () => {
	assert.ok(code, 'the first test registered the couple');
	const page = await phonePage(browser);
	await page.goto(`${BASE}/p/outreach/days`);
	await logIn(page, nurse, `${BASE}/p/outreach/days`);
	await assertFitsPhone(page);
	await shot(page, 'outreach-04-days', { fullPage: false });
	await page.getByRole('link', { name: title }).click();
	await page.waitForURL(`${BASE}/p/outreach/days/${eventId}`);
	const row = page.locator('tr', { hasText: code });
	const cells = (await row.locator('td').allTextContents()).map((t) => t.trim());
	const masked = `${wife.phone.slice(0, 3)}****${wife.phone.slice(7)}`;
	assert.equal(cells[1], `${wife.name}、${husband.name}`);
	assert.equal(cells[2], masked);
	assert.equal(cells[4], code);
	assert.equal(cells[cells.length - 1], '夫妻至少一方是本地户籍', 'the basis with the grant');
	assert.ok(!(await page.content()).includes(wife.phone), 'never the full phone');
	assert.match(await page.locator('main').textContent(), /已报名 1 人/);
	await assertFitsPhone(page);
	await shot(page, 'outreach-05-day');

	await page.getByRole('link', { name: '打印签到表' }).click();
	await page.waitForURL(`${BASE}/p/outreach/days/${eventId}/print`);
	const printed = page.locator('.signin-table tr', { hasText: code });
	assert.equal((await printed.locator('.c-name').textContent()).trim(), `${wife.name}、${husband.name}`);
	assert.equal((await printed.locator('.c-phone').textContent()).trim(), masked);
	assert.match(await page.locator('.signin-foot').textContent(), /共 1 人/);
	assert.ok(!(await page.content()).includes(wife.phone));
	await shot(page, 'outreach-06-print-screen');
	await page.emulateMedia({ media: 'print' });
	assert.equal(await page.locator('.signin-screen-only').isVisible(), false, 'the back link is not printed');
	await shot(page, 'outreach-07-print');
	assertClean(page);
	await page.context().close();
});
