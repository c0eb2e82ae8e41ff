// lib.mjs - what the browser tests share: Debian's Chromium through playwright-core, a
// phone-sized page that records every console error and uncaught exception, screenshots in
// $PORTAL_VAR/screenshots (var/test/screenshots under `scripts/portal test`).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { sql, VAR } from '../integration/accounts-lib.mjs';

export const SHOTS = path.join(VAR, 'screenshots');
export const PHONE_VIEWPORT = { width: 390, height: 844 };

// Headless Chromium, and the screenshot folder made.
export async function launch() {
	fs.mkdirSync(SHOTS, { recursive: true });
	return chromium.launch({
		executablePath: '/usr/bin/chromium',
		headless: true,
		args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
			'--disable-sync', '--no-first-run'],
	});
}

// Chromium asks every site for /favicon.ico on its own; the portal has none (a 404 that no
// page caused).
const FAVICON = /\/favicon\.ico$/;

// Chromium speaks from 127.0.0.1, which earlier suites' registrations and lookups may have
// counted against the per-address limits: a resident in the browser starts with a clean slate.
export function clearLoopbackLimits() {
	sql("DELETE FROM rate_limits WHERE bucket IN ('register:addr:127.0.0.1', 'lookup:addr:127.0.0.1')");
}

// A phone-sized page of its own (cookies not shared with other contexts). page.problems
// collects console errors (a CSP violation, a failed script, a failed resource) and uncaught
// exceptions; assertClean(page) fails the test on any of them. A page answered on purpose
// with an error status (a refused form) is declared with expectStatus first.
export async function phonePage(browser) {
	const ctx = await browser.newContext({
		viewport: PHONE_VIEWPORT, deviceScaleFactor: 2, isMobile: true, hasTouch: true, locale: 'zh-CN',
	});
	const page = await ctx.newPage();
	page.problems = [];
	page.expected = [];
	page.on('console', (msg) => {
		if (msg.type() !== 'error') return;
		const url = msg.location().url ?? '';
		const status = /^Failed to load resource: the server responded with a status of (\d+)/.exec(msg.text());
		if (status && status[1] === '404' && FAVICON.test(url)) return;
		const i = page.expected.findIndex((e) => status && Number(status[1]) === e.status && url.includes(e.path));
		if (i >= 0) {
			page.expected.splice(i, 1);
			return;
		}
		page.problems.push(`console: ${msg.text()} (${url})`);
	});
	page.on('pageerror', (err) => page.problems.push(`pageerror: ${err.message}`));
	return page;
}

// The next answer from a URL containing path has this error status on purpose (Chromium logs
// every error status as a console error, a form refused with 422 too).
export function expectStatus(page, path, status) {
	page.expected.push({ path, status });
}

// No console error and no uncaught exception on the page so far.
export function assertClean(page) {
	assert.deepEqual(page.problems, [], `errors in the browser:\n${page.problems.join('\n')}`);
}

// A screenshot NAME.png. Lists grow with every run against a long-lived stack: those are
// taken one screen high.
export async function shot(page, name, { fullPage = true } = {}) {
	const file = path.join(SHOTS, `${name}.png`);
	await page.screenshot({ path: file, fullPage });
	assert.ok(fs.statSync(file).size > 1000, `${file} was written`);
}

// The page fits the phone: nothing wider than the screen (no sideways scrolling).
export async function assertFitsPhone(page) {
	const wide = await page.evaluate(() => document.documentElement.scrollWidth);
	assert.ok(wide <= PHONE_VIEWPORT.width, `${page.url()}: page width ${wide}px on a ${PHONE_VIEWPORT.width}px screen`);
}

// Log in on the login page the browser was sent to, and wait to be back at url.
export async function logIn(page, user, url) {
	await page.waitForURL(/\/login\?next=/);
	await page.getByLabel('用户名').fill(user.username);
	await page.getByLabel('密码').fill(user.password);
	await page.getByRole('button', { name: '登录' }).click();
	await page.waitForURL(url);
}
