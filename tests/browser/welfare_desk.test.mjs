// welfare_desk.test.mjs - the welfare plugin's hand-out desk (plugins/welfare) in real
// Chromium on a phone-sized screen: a campaign with an approved list is set up over HTTP (the
// households imported from CSV and the campaign drawn up by one staff member through the
// plugin's JSON API, the list approved by a second person); then a desk staff member logs in,
// finds a household, signs on the screen (www/static/signature.js) and records the receipt.
// A cleared pad with 屏幕签名 chosen is refused in plain Chinese and nothing is written.
// Screenshots in $PORTAL_VAR/screenshots/welfare-*.png. Environment: as tests/integration.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { BASE } from '../integration/lib.mjs';
import { addToken, addUser, freshAddress, request, sql, sqlValue, uniq } from '../integration/accounts-lib.mjs';
import { PHONE_VIEWPORT, assertClean, assertFitsPhone, expectStatus, launch, logIn, phonePage, shot } from './lib.mjs';

const RUN = uniq('wb');
const staff = addUser('wbdesk', ['staff'], { displayName: '发放窗口的工作人员' });
const boss = addUser('wbboss', ['approver']);
const signer = { name: `张桂芝${RUN}`, phone: `1381${String(crypto.randomInt(0, 1e7)).padStart(7, '0')}` };
const unsigned = { name: `王德顺${RUN}`, phone: `1382${String(crypto.randomInt(0, 1e7)).padStart(7, '0')}` };
const waiting = { name: `孙玉兰${RUN}`, phone: `1383${String(crypto.randomInt(0, 1e7)).padStart(7, '0')}` };
const SCREEN_LABEL = '屏幕签名（在下面的方框里签）';
const day = (n) => new Date(Date.now() + 8 * 3600e3 + n * 86400e3).toISOString().slice(0, 10);

let browser;
let page; // the desk staff member's phone, signed in by the first test
let cid;

// A JSON API call with a user's bearer token; answers { status, json, body }.
async function api(token, method, p, body) {
	const r = await request(method, p, {
		headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
		body: body === undefined ? undefined : JSON.stringify(body), from: freshAddress(),
	});
	let json;
	try { json = JSON.parse(r.body); } catch { json = undefined; }
	return { status: r.status, json, body: r.body };
}

function householdId(h) {
	return Number(sqlValue(`SELECT id FROM p_welfare_households WHERE head_name = '${h.name}'`));
}

function receipts(h) {
	return sql(`SELECT sign_mode, IFNULL(signature, '') FROM p_welfare_receipts WHERE campaign_id = ${cid}
		AND household_id = ${householdId(h)}`);
}

// The household's card on the desk page.
function card(h) {
	return page.locator('li.card', { hasText: h.name });
}

// Search the desk for a household by name; waits for its card.
async function find(h) {
	await page.getByLabel('找住户：姓名、地址或手机尾号4位').fill(h.name);
	await page.getByRole('button', { name: '查找', exact: true }).click();
	await card(h).waitFor();
}

// A signature with the mouse over the household's drawing area: two strokes, like a name.
async function sign(h) {
	const canvas = card(h).locator('canvas');
	await canvas.scrollIntoViewIfNeeded();
	const box = await canvas.boundingBox();
	assert.ok(box && box.width > 200 && box.height > 80, `a drawing area big enough for a finger: ${JSON.stringify(box)}`);
	const at = (fx, fy) => [box.x + box.width * fx, box.y + box.height * fy];
	for (const stroke of [[[0.15, 0.6], [0.25, 0.3], [0.35, 0.7], [0.45, 0.35]], [[0.55, 0.5], [0.7, 0.45], [0.85, 0.55]]]) {
		await page.mouse.move(...at(...stroke[0]));
		await page.mouse.down();
		for (const pt of stroke.slice(1)) await page.mouse.move(...at(...pt), { steps: 6 });
		await page.mouse.up();
	}
}

// The same with a finger: touch events as a phone's screen sends them (the pad must take
// them as drawing, not as scrolling).
async function signWithFinger(h) {
	const canvas = card(h).locator('canvas');
	await canvas.scrollIntoViewIfNeeded();
	const box = await canvas.boundingBox();
	const scrolled = await page.evaluate(() => window.scrollY);
	const cdp = await page.context().newCDPSession(page);
	const touch = (type, fx, fy) => cdp.send('Input.dispatchTouchEvent', {
		type, touchPoints: type === 'touchEnd' ? [] : [{ x: box.x + box.width * fx, y: box.y + box.height * fy }],
	});
	// downwards, as a finger pulling the page back up would move
	await touch('touchStart', 0.15, 0.1);
	for (let i = 1; i <= 16; i++) await touch('touchMove', 0.15 + i * 0.04, 0.1 + i * 0.05);
	await touch('touchEnd');
	await cdp.detach();
	assert.equal(await page.evaluate(() => window.scrollY), scrolled, 'the finger drew instead of scrolling the page');
}

// How many dark pixels a PNG data URL has (decoded on a blank page, which has no CSP).
async function darkPixels(dataUrl) {
	const blank = await page.context().newPage();
	try {
		return await blank.evaluate(async (src) => {
			const img = new Image();
			img.src = src;
			await img.decode();
			const c = document.createElement('canvas');
			c.width = img.naturalWidth;
			c.height = img.naturalHeight;
			const ctx = c.getContext('2d');
			ctx.drawImage(img, 0, 0);
			const px = ctx.getImageData(0, 0, c.width, c.height).data;
			let n = 0;
			for (let i = 0; i < px.length; i += 4) if (px[i] < 100 && px[i + 1] < 100 && px[i + 2] < 100) n++;
			return n;
		}, dataUrl);
	} finally {
		await blank.close();
	}
}

before(async () => {
	browser = await launch();
	const staffToken = addToken(staff.username).token;
	const csv = '户主姓名,人口数,地址,楼栋,网格,联系电话,类别,备注\r\n'
		+ `${signer.name},1,幸福里${RUN}-5-101,5号楼,wg1,${signer.phone},孤寡老人,\r\n`
		+ `${unsigned.name},2,幸福里${RUN}-5-102,5号楼,wg1,${unsigned.phone},"孤寡老人、残疾",\r\n`
		+ `${waiting.name},1,幸福里${RUN}-5-103,5号楼,wg1,${waiting.phone},孤寡老人,\r\n`;
	const imp = await api(staffToken, 'POST', '/api/p/welfare/households/import', { csv, confirm: true });
	assert.equal(imp.status, 200, imp.body);
	assert.equal(imp.json.imported, 3);
	// households of earlier runs are drawn up too: enough stock for all of them
	const made = await api(staffToken, 'POST', '/api/p/welfare/campaigns', {
		name: `春节慰问${RUN}`, starts_on: day(0), ends_on: day(20), categories: ['gugua'],
		items: [{ name: '大米', qty: 100000, unit: '袋' }, { name: '食用油', qty: 100000, unit: '桶' }],
		rules_text: '全部: 大米=1, 食用油=1', draft: true,
	});
	assert.equal(made.status, 201, made.body);
	cid = made.json.id;
	assert.ok(made.json.listed >= 3, made.body);
	const ok = await api(addToken(boss.username).token, 'POST', `/api/p/welfare/campaigns/${cid}/approve`, {});
	assert.equal(ok.status, 200, ok.body);
	assert.equal(sqlValue(`SELECT status FROM p_welfare_campaigns WHERE id = ${cid}`), 'approved');
});

after(async () => {
	await browser?.close();
});

test('desk staff find a household, sign on the screen and record the receipt', async () => {
	page = await phonePage(browser);
	const desk = `${BASE}/p/welfare/campaigns/${cid}/desk`;
	await page.goto(desk);
	await logIn(page, staff, desk);
	await find(signer);
	assert.match(await card(signer).textContent(), /物品：大米1袋/);
	// the script ran: the screen choice is shown, paper is still the default
	const screen = card(signer).getByLabel(SCREEN_LABEL);
	assert.ok(await screen.isVisible(), 'the 屏幕签名 choice is shown where the script runs');
	assert.equal(await screen.isChecked(), false);
	await assertFitsPhone(page);
	await shot(page, 'welfare-01-desk-search');

	await sign(signer);
	assert.ok(await screen.isChecked(), 'drawing ticked 屏幕签名');
	const value = await card(signer).locator('input[name="signature"]').inputValue();
	assert.match(value, /^data:image\/png;base64,[A-Za-z0-9+/]+=*$/);
	await assertFitsPhone(page);
	await shot(page, 'welfare-02-desk-signed');

	await card(signer).getByRole('button', { name: '登记领取' }).click();
	await page.locator('.notice-ok[role="status"]').waitFor();
	const done = await page.locator('.notice-ok[role="status"]').textContent();
	assert.match(done, new RegExp(`已登记领取：${signer.name[0]}\\*.*，幸福里${RUN}-5-101。`), 'the masked head and the address');
	assert.ok(!done.includes(signer.name) && !done.includes('住户编号'), done);
	assert.match(await card(signer).locator('.notice-ok').textContent(), /这一户已于.*由本人领取，经办人：发放窗口的工作人员/);
	await shot(page, 'welfare-03-desk-recorded');

	// stored as drawn: the screen mode and the PNG, with the strokes in it
	const rows = receipts(signer);
	assert.equal(rows.length, 1);
	assert.equal(rows[0][0], 'screen');
	assert.equal(rows[0][1], value);
	assert.ok(await darkPixels(rows[0][1]) > 200, 'the stored picture has the strokes');
	assertClean(page);
});

test('a cleared pad with 屏幕签名 chosen is refused in Chinese and nothing is written', async () => {
	assert.ok(page, 'the first test signed in');
	await find(unsigned);
	const screen = card(unsigned).getByLabel(SCREEN_LABEL);
	const signature = card(unsigned).locator('input[name="signature"]');
	await sign(unsigned);
	assert.notEqual(await signature.inputValue(), '');
	await card(unsigned).getByRole('button', { name: '清除' }).click();
	assert.equal(await signature.inputValue(), '', 'clearing empties the signature');
	await screen.check();

	const post = `/desk/${householdId(unsigned)}`;
	expectStatus(page, post, 422);
	const answer = page.waitForResponse((r) => r.request().method() === 'POST' && r.url().includes(post));
	await card(unsigned).getByRole('button', { name: '登记领取' }).click();
	assert.equal((await answer).status(), 422);
	const refusal = page.locator('.notice-error');
	await refusal.waitFor();
	assert.equal((await refusal.textContent()).trim(), '请先在屏幕上签名，或选择“在纸质签收表上签字”。');
	assert.deepEqual(receipts(unsigned), [], 'nothing written');
	// the household is still on the page, the pad ready again
	await card(unsigned).locator('canvas').waitFor();
	await assertFitsPhone(page);
	await shot(page, 'welfare-04-desk-refused');

	// signed with a finger this time, the receipt is recorded
	await signWithFinger(unsigned);
	assert.ok(await screen.isChecked(), 'the finger ticked 屏幕签名');
	await card(unsigned).getByRole('button', { name: '登记领取' }).click();
	await page.locator('.notice-ok[role="status"]').waitFor();
	const [[mode, png]] = receipts(unsigned);
	assert.equal(mode, 'screen');
	assert.ok(await darkPixels(png) > 200, 'the strokes of the finger are in the stored picture');
	assertClean(page);
	await page.context().close();
});

test('without the script there is no screen signature to choose', async () => {
	const ctx = await browser.newContext({ viewport: PHONE_VIEWPORT, javaScriptEnabled: false, locale: 'zh-CN' });
	const p = await ctx.newPage();
	const desk = `${BASE}/p/welfare/campaigns/${cid}/desk`;
	await p.goto(desk);
	await logIn(p, staff, desk);
	await p.goto(`${desk}?q=${encodeURIComponent(waiting.name)}`);
	const c = p.locator('li.card', { hasText: waiting.name });
	await c.waitFor();
	assert.equal(await c.getByLabel(SCREEN_LABEL).isVisible(), false, 'the 屏幕签名 choice is hidden');
	assert.equal(await c.locator('canvas').count(), 0);
	assert.ok(await c.getByLabel('在纸质签收表上签字').isVisible());
	await ctx.close();
});
