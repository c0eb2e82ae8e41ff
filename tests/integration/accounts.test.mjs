// accounts.test.mjs - staff accounts, roles, sessions, CSRF, API tokens, login limits and
// the audit log (issue 4), through nginx to portald and MariaDB. Users and tokens are made
// with portald's own command line; the tables are read as the portal's runtime DB user.
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { CJK, sleep } from './lib.mjs';
import {
	Browser, VAR, addToken, addUser, auditRows, confValue, csrfField, freshAddress, keepSecret, portald,
	request, secrets, signedIn, sql, sqlValue, strongPassword, tokenHash, uniq, withToken,
} from './accounts-lib.mjs';

const GRID_A = `东区${uniq('g')}`;
const GRID_B = `西区${uniq('g')}`;

test('the login page sets the login CSRF cookie and its form carries the same value', async () => {
	const b = new Browser();
	const r = await b.get('/login');
	assert.equal(r.status, 200);
	assert.match(r.body, /工作人员登录/);
	const c = r.setCookies.portal_csrf;
	assert.ok(c, 'portal_csrf cookie set');
	assert.match(c.value, /^[A-Za-z0-9_-]{43}$/);
	assert.ok(c.attrs.includes('HttpOnly') && c.attrs.includes('SameSite=Lax'), c.line);
	assert.equal(csrfField(r.body), c.value);
	// a second visit keeps the cookie's value instead of setting a new one
	const again = await b.get('/login');
	assert.equal(again.setCookies.portal_csrf, undefined);
	assert.equal(csrfField(again.body), c.value);
});

test('a login without the matching CSRF value is refused (403) and signs nobody in', async () => {
	const u = addUser('csrf', ['staff']);
	const b = new Browser();
	await b.get('/login');
	const noField = await b.post('/login', { username: u.username, password: u.password });
	assert.equal(noField.status, 403);
	assert.match(noField.body, /登录页面已过期/);
	assert.equal(noField.setCookies.portal_session, undefined);
	// a forged form from another site: its own value, but not the victim's cookie
	const forged = await request('POST', '/login', {
		from: b.from, body: { csrf: 'A'.repeat(43), username: u.username, password: u.password },
		cookies: { portal_csrf: 'B'.repeat(43) },
	});
	assert.equal(forged.status, 403);
	assert.equal(forged.setCookies.portal_session, undefined);
	assert.equal(sqlValue(`SELECT COUNT(*) FROM sessions WHERE user_id = ${u.id}`), '0');
});

test('a good login sets an HttpOnly SameSite=Lax session cookie (no Secure over http) and lands on the workbench', async () => {
	const u = addUser('staff', ['staff'], { displayName: '王小丽' });
	const b = new Browser();
	const r = await b.login(u.username, u.password);
	assert.equal(r.status, 303);
	assert.equal(r.headers.location, '/staff');
	const c = r.setCookies.portal_session;
	assert.ok(c, 'session cookie');
	assert.match(c.value, /^[A-Za-z0-9_-]{43}$/, '32 random bytes, base64url');
	assert.ok(c.attrs.includes('Path=/') && c.attrs.includes('HttpOnly') && c.attrs.includes('SameSite=Lax'), c.line);
	assert.ok(!c.attrs.includes('Secure'), 'no Secure flag on a plain-http stack');
	const page = await b.get('/staff');
	assert.equal(page.status, 200);
	assert.match(page.body, /王小丽/);
	assert.match(page.body, /action="\/logout"/, 'the layout shows a logout form');
	const acc = await b.get('/account');
	assert.equal(acc.status, 200);
	assert.match(acc.body, new RegExp(u.username));
	assert.match(acc.body, /工作人员/);
	const me = await b.get('/api/v1/me');
	assert.equal(me.status, 200);
	assert.deepEqual(JSON.parse(me.body).roles, ['staff']);
	assert.equal(JSON.parse(me.body).auth, 'session');
	assert.ok(sqlValue(`SELECT last_login_at IS NOT NULL FROM users WHERE id = ${u.id}`) === '1');
});

test('a wrong password gets 401, keeps the username in the form and never echoes the password', async () => {
	const u = addUser('wrong', ['staff']);
	const b = new Browser();
	const bad = keepSecret(`Not-${u.password}`);
	const r = await b.login(u.username, bad);
	assert.equal(r.status, 401);
	assert.match(r.body, /用户名或密码不正确/);
	assert.match(r.body, new RegExp(`value="${u.username}"`));
	assert.ok(!r.body.includes(bad), 'the password is not in the page');
	assert.equal(r.setCookies.portal_session, undefined);
	// an unknown user gets exactly the same answer
	const r2 = await b.login(uniq('nobody'), bad);
	assert.equal(r2.status, 401);
	assert.match(r2.body, /用户名或密码不正确/);
});

test('pages need a login: a redirect to /login with next, and next only takes same-site paths', async () => {
	const anon = await request('GET', '/admin/users?q=x');
	assert.equal(anon.status, 303);
	assert.equal(anon.headers.location, '/login?next=%2Fadmin%2Fusers%3Fq%3Dx');
	const u = addUser('next', ['staff']);
	const ok = await new Browser().login(u.username, u.password, '/account?x=1');
	assert.equal(ok.status, 303);
	assert.equal(ok.headers.location, '/account?x=1');
	for (const evil of ['//evil.example/', 'https://evil.example/', '/\\evil.example', 'javascript:alert(1)']) {
		const r = await new Browser().login(u.username, u.password, evil);
		assert.equal(r.status, 303);
		assert.equal(r.headers.location, '/staff', `next=${evil} is ignored`);
	}
});

test('a volunteer gets 403 on staff pages and on the staff API', async () => {
	const v = addUser('vol', ['volunteer']);
	const b = await signedIn(v);
	assert.equal(b.jar.portal_session ? 1 : 0, 1);
	for (const p of ['/staff', '/admin/users', '/admin/tokens', '/admin/audit', `/grids/${encodeURIComponent(GRID_A)}`]) {
		const r = await b.get(p);
		assert.equal(r.status, 403, `${p} answered ${r.status}`);
		assert.match(r.body, CJK);
	}
	assert.equal((await b.get('/account')).status, 200, 'their own account page works');
	const { token } = addToken(v.username);
	const api = await withToken(token, `/api/v1/grids/${encodeURIComponent(GRID_A)}/members`);
	assert.equal(api.status, 403);
	assert.equal(JSON.parse(api.body).error.code, 'forbidden');
	const viaSession = await b.get(`/api/v1/grids/${encodeURIComponent(GRID_A)}/members`);
	assert.equal(viaSession.status, 403);
	assert.equal((await withToken(token, '/api/v1/me')).status, 200);
});

test("a grid worker sees their own grid only; staff see every grid (the host's scope rule)", async () => {
	const g = addUser('grid', ['grid'], { grid: GRID_A, displayName: '李网格' });
	addUser('gridb', ['grid'], { grid: GRID_B });
	const s = addUser('desk', ['staff']);
	const { token } = addToken(g.username);
	const own = await withToken(token, `/api/v1/grids/${encodeURIComponent(GRID_A)}/members`);
	assert.equal(own.status, 200);
	const j = JSON.parse(own.body);
	assert.equal(j.grid, GRID_A);
	assert.ok(j.members.some((m) => m.username === g.username && m.display_name === '李网格'));
	const other = await withToken(token, `/api/v1/grids/${encodeURIComponent(GRID_B)}/members`);
	assert.equal(other.status, 403);
	assert.equal(JSON.parse(other.body).error.code, 'out_of_scope');
	const b = await signedIn(g);
	assert.equal((await b.get(`/grids/${encodeURIComponent(GRID_A)}`)).status, 200);
	const page = await b.get(`/grids/${encodeURIComponent(GRID_B)}`);
	assert.equal(page.status, 403);
	assert.match(page.body, /自己所在网格/);
	const staff = addToken(s.username).token;
	assert.equal((await withToken(staff, `/api/v1/grids/${encodeURIComponent(GRID_B)}/members`)).status, 200);
	assert.equal((await withToken(staff, `/api/v1/grids/${encodeURIComponent(GRID_A)}/members`)).status, 200);
});

test('a stolen session cookie without the CSRF token cannot change anything (403); with it, it can', async () => {
	const admin = addUser('adm', ['admin']);
	const victim = addUser('vic', ['staff']);
	const b = await signedIn(admin);
	// the attacker has the cookie (and uses it from elsewhere) but not the page's token
	const thief = { cookies: { portal_session: b.session }, from: freshAddress() };
	// a token sent in the query string does not count either (it would end up in access
	// logs): tried with a session of its own, whose token is not one the log test looks for
	const q = await signedIn(admin);
	const qCsrf = csrfField((await q.get('/account')).body);
	const attempts = [
		['/admin/users/' + victim.id + '/disable', {}],
		['/admin/users/' + victim.id + '/password', { password: strongPassword() }],
		['/admin/users', { username: uniq('evil'), display_name: 'x', roles: 'admin', password: strongPassword() }],
		['/account/logout-all', {}],
		['/logout', {}],
	];
	for (const [p, form] of attempts) {
		const none = await request('POST', p, { ...thief, body: form });
		assert.equal(none.status, 403, `${p} without csrf: ${none.status}`);
		const wrong = await request('POST', p, { ...thief, body: { ...form, csrf: 'x'.repeat(43) } });
		assert.equal(wrong.status, 403, `${p} with a wrong csrf: ${wrong.status}`);
		const inQuery = await request('POST', `${p}?csrf=${encodeURIComponent(qCsrf)}`,
			{ from: thief.from, cookies: { portal_session: q.session }, body: form });
		assert.equal(inQuery.status, 403, `${p} with csrf in the query string only: ${inQuery.status}`);
	}
	assert.equal(sqlValue(`SELECT disabled FROM users WHERE id = ${victim.id}`), '0', 'nothing was changed');
	assert.equal((await b.get('/account')).status, 200, 'the session still works');
	// the token of another session does not fit this one
	const other = await signedIn(admin);
	const otherCsrf = csrfField((await other.get('/account')).body);
	const mixed = await request('POST', `/admin/users/${victim.id}/disable`, { ...thief, body: { csrf: otherCsrf } });
	assert.equal(mixed.status, 403);
	const ok = await b.submit(`/admin/users/${victim.id}`, `/admin/users/${victim.id}/disable`, {});
	assert.equal(ok.status, 303);
	assert.equal(sqlValue(`SELECT disabled FROM users WHERE id = ${victim.id}`), '1', 'with the token it worked');
});

test("disabling a user ends their sessions and tokens at once (page and command line)", async () => {
	const admin = addUser('adm', ['admin']);
	const u = addUser('dis', ['staff']);
	const b = await signedIn(u);
	const { token } = addToken(u.username);
	assert.equal((await b.get('/staff')).status, 200);
	assert.equal((await withToken(token, '/api/v1/me')).status, 200);
	const a = await signedIn(admin);
	const r = await a.submit(`/admin/users/${u.id}`, `/admin/users/${u.id}/disable`, {});
	assert.equal(r.status, 303);
	const page = await b.get('/staff');
	assert.equal(page.status, 303, 'the session no longer works');
	assert.match(page.headers.location, /^\/login\?next=/);
	assert.equal((await withToken(token, '/api/v1/me')).status, 401, 'the token no longer works');
	assert.equal(sqlValue(`SELECT COUNT(*) FROM sessions WHERE user_id = ${u.id}`), '0', 'sessions deleted');
	const again = await new Browser().login(u.username, u.password);
	assert.equal(again.status, 403);
	assert.match(again.body, /已停用/);
	// enabled again: a new login works; then the command line disables it
	assert.equal((await a.submit(`/admin/users/${u.id}`, `/admin/users/${u.id}/enable`, {})).status, 303);
	const b2 = await signedIn(u);
	const cli = portald(['user', 'disable', u.username]);
	assert.equal(cli.status, 0, cli.stderr);
	assert.equal((await b2.get('/account')).status, 303);
	assert.equal((await withToken(token, '/api/v1/me')).status, 401);
});

test('forged, malformed, expired and revoked tokens get 401 with the JSON error shape', async () => {
	const u = addUser('tok', ['staff', 'admin']);
	const forged = keepSecret(`pt_${Buffer.alloc(32, 7).toString('base64url')}`);
	for (const t of [forged, 'pt_short', 'xx_' + 'A'.repeat(43), '']) {
		const r = await withToken(t, '/api/v1/me');
		assert.equal(r.status, 401, `token "${t}"`);
		assert.equal(JSON.parse(r.body).error.code, 'unauthorized');
		assert.match(JSON.parse(r.body).error.message, CJK);
		assert.match(r.headers['www-authenticate'], /^Bearer/);
	}
	// a bad token on a page is refused too, not redirected to a login form
	assert.equal((await withToken(forged, '/staff')).status, 401);

	const expiring = addToken(u.username, ['--expires', '1']);
	assert.equal((await withToken(expiring.token, '/api/v1/me')).status, 200);
	sql(`UPDATE api_tokens SET expires_at = NOW() - INTERVAL 1 SECOND WHERE id = ${expiring.id}`);
	assert.equal((await withToken(expiring.token, '/api/v1/me')).status, 401, 'expired');

	const viaCli = addToken(u.username);
	assert.equal((await withToken(viaCli.token, '/api/v1/me')).status, 200);
	const rv = portald(['token', 'revoke', String(viaCli.id)]);
	assert.equal(rv.status, 0, rv.stderr);
	assert.equal((await withToken(viaCli.token, '/api/v1/me')).status, 401, 'revoked on the command line');

	const viaPage = addToken(u.username);
	const b = await signedIn(u);
	const r = await b.submit('/admin/tokens', `/admin/tokens/${viaPage.id}/revoke`, {});
	assert.equal(r.status, 303);
	assert.equal((await withToken(viaPage.token, '/api/v1/me')).status, 401, 'revoked on the admin page');
});

test('a token narrowed to one role has only that role', async () => {
	const u = addUser('narrow', ['staff', 'admin']);
	const { token, id } = addToken(u.username, ['--role', 'staff', '--name', '小程序后台']);
	const me = JSON.parse((await withToken(token, '/api/v1/me')).body);
	assert.deepEqual(me.roles, ['staff']);
	assert.equal(me.token_id, id);
	assert.equal((await withToken(token, '/admin/users')).status, 403, 'no admin pages');
	const full = addToken(u.username).token;
	assert.equal((await withToken(full, '/admin/users')).status, 200);
	// a role the user does not hold cannot be given to a token
	assert.notEqual(portald(['token', 'create', u.username, '--role', 'grid']).status, 0);
});

test('the 11th wrong password from one address gets 429, the right one too; other addresses are not held', async () => {
	const max = Number(confValue('login_max_failures'));
	const minutes = Number(confValue('login_window_minutes'));
	assert.equal(max, 10, 'the default limit is 10 wrong passwords');
	const u = addUser('limit', ['staff']);
	const b = new Browser();
	const bad = keepSecret(`Wrong-${u.password}`);
	for (let i = 1; i <= max; i++) {
		const r = await b.login(u.username, bad);
		assert.equal(r.status, 401, `wrong password #${i}`);
	}
	const eleventh = await b.login(u.username, bad);
	assert.equal(eleventh.status, 429);
	assert.match(eleventh.body, new RegExp(`登录失败次数过多，请${minutes}分钟后再试`));
	assert.equal(eleventh.headers['retry-after'], String(minutes * 60));
	const right = await b.login(u.username, u.password);
	assert.equal(right.status, 429, 'the right password is refused as well');
	assert.equal(right.setCookies.portal_session, undefined);
	assert.equal(sqlValue(`SELECT COUNT(*) FROM sessions WHERE user_id = ${u.id}`), '0');
	// the counters are in the database, per address and account, and for the account
	assert.ok(Number(sqlValue(`SELECT SUM(hits) FROM rate_limits WHERE bucket = 'login:pair:${b.from}:${u.username}'`)) >= max);
	assert.ok(Number(sqlValue(`SELECT SUM(hits) FROM rate_limits WHERE bucket = 'login:user:${u.username}'`)) >= max);
	const blocked = auditRows(`action = 'login.blocked' AND object_id = '${u.id}'`);
	assert.ok(blocked.length >= 2, 'each refused attempt is audited');
	assert.equal(blocked[0].detail.limit, 'client');
	// a stranger who knows the username cannot lock its owner out: another address signs in
	const elsewhere = await new Browser().login(u.username, u.password);
	assert.equal(elsewhere.status, 303, 'the account still opens from another address');
});

test('a guesser spread over many addresses is held per account, but never the browser the account signed in on', async () => {
	const pair = Number(confValue('login_max_failures'));
	const account = Number(confValue('login_max_failures_account'));
	const minutes = Number(confValue('login_window_minutes'));
	assert.ok(account > pair, 'the account-wide limit is above the per-address one');
	const u = addUser('desk', ['staff']);
	// the desk signs in once: its browser becomes known to the account
	const desk = await signedIn(u);
	const dc = desk.jar.portal_device;
	assert.ok(dc, 'signing in gives the browser a device cookie');
	delete desk.jar.portal_session;
	assert.equal(sqlValue(`SELECT COUNT(*) FROM login_devices WHERE user_id = ${u.id}`), '1');
	// a stranger with many addresses, each under the per-address limit
	const bad = keepSecret(`Wrong-${u.password}`);
	const addrs = Array.from({ length: Math.ceil(account / (pair - 2)) + 1 }, () => new Browser());
	let wrong = 0;
	for (let i = 0; wrong < account; i++) {
		const r = await addrs[i % addrs.length].login(u.username, bad);
		assert.equal(r.status, 401, `wrong password #${wrong + 1}`);
		wrong++;
	}
	// brute force stays limited: the next guess from any unknown client is refused
	const more = await addrs[0].login(u.username, bad);
	assert.equal(more.status, 429);
	const stranger = await new Browser().login(u.username, u.password);
	assert.equal(stranger.status, 429, 'an unknown client is held, even with the right password');
	assert.match(stranger.body, new RegExp(`${minutes}分钟内只能在以前登录过这个账号的电脑或手机上登录`));
	const blocked = auditRows(`action = 'login.blocked' AND object_id = '${u.id}'`);
	assert.ok(blocked.some((e) => e.detail.limit === 'account'), 'audited with the limit that held it');
	// the desk's browser is not: its own wrong password counts only for itself
	assert.equal((await desk.login(u.username, bad)).status, 401);
	const ok = await desk.login(u.username, u.password);
	assert.equal(ok.status, 303, `the desk still signs in: ${ok.body.slice(0, 300)}`);
	assert.equal(desk.jar.portal_device, dc, 'it keeps its device cookie');
	// a made-up device cookie is no known device
	const forged = new Browser();
	forged.jar.portal_device = 'A'.repeat(43);
	assert.equal((await forged.login(u.username, u.password)).status, 429);
});

test('the device cookie: HttpOnly, only for /login, forgotten when the password changes', async () => {
	const u = addUser('devc', ['staff']);
	const b = new Browser();
	const r = await b.login(u.username, u.password);
	assert.equal(r.status, 303);
	const c = r.setCookies.portal_device;
	assert.ok(c, 'set at login');
	assert.match(c.value, /^[A-Za-z0-9_-]{43}$/);
	const attrs = c.attrs.map((a) => a.toLowerCase());
	assert.ok(attrs.includes('httponly'));
	assert.ok(attrs.includes('path=/login'));
	assert.ok(attrs.includes('samesite=lax'));
	assert.ok(attrs.includes(`max-age=${Number(confValue('login_device_days')) * 86400}`));
	const hex = crypto.createHash('sha256').update(Buffer.from(c.value, 'base64url')).digest('hex').toUpperCase();
	assert.equal(sqlValue(`SELECT HEX(device_hash) FROM login_devices WHERE user_id = ${u.id}`), hex, 'only its hash is kept');
	// a new password: no browser keeps the trust the old one earned
	const page = await b.get('/account');
	const pw = strongPassword();
	const ch = await b.post('/account/password', { csrf: csrfField(page.body), current: u.password, new: pw, confirm: pw });
	assert.equal(ch.status, 303, ch.body.slice(0, 300));
	assert.equal(sqlValue(`SELECT COUNT(*) FROM login_devices WHERE user_id = ${u.id}`), '0');
});

test('wrong passwords from one address for many accounts hit the per-address limit', async () => {
	const max = Number(confValue('login_max_failures_addr'));
	const u = addUser('addr', ['staff']);
	const from = freshAddress();
	const b = new Browser(from);
	const bad = keepSecret(strongPassword());
	for (let i = 1; i <= max; i++) {
		const r = await b.login(uniq('spray'), bad);
		assert.equal(r.status, 401, `attempt #${i}`);
	}
	const r = await b.login(u.username, u.password);
	assert.equal(r.status, 429, 'the address is held, even for a right password');
	assert.match(r.body, /登录失败次数过多/);
	const other = await new Browser().login(u.username, u.password);
	assert.equal(other.status, 303, 'the same account from another address still works');
});

test('logout deletes the session; the session list shows devices and ends one; log out everywhere ends all', async () => {
	const u = addUser('sess', ['staff']);
	const b1 = await signedIn(u);
	const b2 = await signedIn(u);
	const s1 = b1.session;
	const page = await b1.get('/account');
	assert.match(page.body, /当前设备/);
	assert.match(page.body, /accounts-test\/1\.0/, 'the user agent is listed');
	assert.match(page.body, new RegExp(b2.from.replace(/\./g, '\\.')), 'the other device\'s address is listed');
	const otherId = sqlValue(`SELECT id FROM sessions WHERE user_id = ${u.id} AND ip = '${b2.from}'`);
	const rv = await b1.submit('/account', `/account/sessions/${otherId}/revoke`, {});
	assert.equal(rv.status, 303);
	assert.equal((await b2.get('/account')).status, 303, 'the other device is signed out');
	assert.equal((await b1.get('/account')).status, 200, 'this one is not');

	const out = await b1.submit('/account', '/logout', {});
	assert.equal(out.status, 303);
	assert.equal(out.headers.location, '/login?bye=1');
	assert.ok(/max-age=0/i.test(out.setCookies.portal_session?.line ?? ''), 'the cookie is cleared');
	assert.equal((await request('GET', '/account', { cookies: { portal_session: s1 } })).status, 303, 'the old cookie is dead');
	assert.equal(sqlValue(`SELECT COUNT(*) FROM sessions WHERE user_id = ${u.id}`), '0');

	const c1 = await signedIn(u);
	const c2 = await signedIn(u);
	const all = await c1.submit('/account', '/account/logout-all', {});
	assert.equal(all.status, 303);
	assert.equal((await c1.get('/account')).status, 303);
	assert.equal((await c2.get('/account')).status, 303);
	assert.equal(sqlValue(`SELECT COUNT(*) FROM sessions WHERE user_id = ${u.id}`), '0');
});

test('sessions end after the idle time and at the absolute end', async () => {
	const idle = Number(confValue('session_idle_minutes'));
	const u = addUser('idle', ['staff']);
	const b1 = await signedIn(u);
	sql(`UPDATE sessions SET last_seen_at = NOW() - INTERVAL ${idle + 1} MINUTE WHERE user_id = ${u.id}`);
	const r1 = await b1.get('/account');
	assert.equal(r1.status, 303, 'idle too long');
	assert.ok(/max-age=0/i.test(r1.setCookies.portal_session?.line ?? ''), 'the dead cookie is cleared');
	const b2 = await signedIn(u);
	sql(`UPDATE sessions SET expires_at = NOW() - INTERVAL 1 SECOND WHERE user_id = ${u.id} AND last_seen_at > NOW() - INTERVAL 1 MINUTE`);
	assert.equal((await b2.get('/account')).status, 303, 'past the absolute end');
	const b3 = await signedIn(u);
	assert.equal((await b3.get('/account')).status, 200, 'a fresh session works');
	const max = Number(sqlValue(`SELECT TIMESTAMPDIFF(HOUR, created_at, expires_at) FROM sessions WHERE user_id = ${u.id} ORDER BY id DESC LIMIT 1`));
	assert.equal(max, Number(confValue('session_max_hours')));
});

test('changing my password: wrong current and weak new are refused in plain Chinese; success ends my other sessions', async () => {
	const u = addUser('chpw', ['staff']);
	const b = await signedIn(u);
	const other = await signedIn(u);
	const fresh = strongPassword();
	const wrong = await b.submit('/account', '/account/password', { current: 'not-it-at-all-1', new: fresh, confirm: fresh });
	assert.equal(wrong.status, 422);
	assert.match(wrong.body, /当前密码不正确/);
	assert.ok(!wrong.body.includes(fresh), 'no password is echoed');
	const weak = await b.submit('/account', '/account/password', { current: u.password, new: 'password123', confirm: 'password123' });
	assert.equal(weak.status, 422);
	assert.match(weak.body, /太常见/);
	const short = await b.submit('/account', '/account/password', { current: u.password, new: 'abc', confirm: 'abc' });
	assert.match(short.body, /至少需要10个字符/);
	const mismatch = await b.submit('/account', '/account/password', { current: u.password, new: fresh, confirm: fresh + 'x' });
	assert.match(mismatch.body, /不一致/);
	const ok = await b.submit('/account', '/account/password', { current: u.password, new: fresh, confirm: fresh });
	assert.equal(ok.status, 303);
	assert.equal((await b.get('/account')).status, 200, 'this session stays');
	assert.equal((await other.get('/account')).status, 303, 'the other session ended');
	assert.equal((await new Browser().login(u.username, u.password)).status, 401, 'the old password is gone');
	assert.equal((await new Browser().login(u.username, fresh)).status, 303);
});

test('the command line refuses weak and common passwords and prints the token alone on the last line', () => {
	for (const weak of ['short', 'password123', '1234567890', '13812345678', 'aaaaaaaaaaaa', 'abcdefghijk']) {
		const r = portald(['user', 'add', uniq('weak'), '--role', 'staff'], weak + '\n');
		assert.equal(r.status, 1, `"${weak}" refused`);
		assert.match(r.stderr, /password refused: .*[\u4e00-\u9fff]/);
	}
	const u = addUser('cli', ['volunteer']);
	const dup = portald(['user', 'add', u.username, '--role', 'staff'], strongPassword() + '\n');
	assert.equal(dup.status, 1);
	assert.match(dup.stderr, /exists/);
	const t = portald(['token', 'create', u.username, '--name', 'script']);
	assert.equal(t.status, 0);
	keepSecret(t.stdout.trim());
	assert.match(t.stdout, /^pt_[A-Za-z0-9_-]{43}\n$/, 'stdout is the token alone');
	const list = portald(['token', 'list', u.username]);
	assert.equal(list.status, 0);
	assert.ok(!list.stdout.includes(t.stdout.trim()), 'token list never shows a token');
	const users = portald(['user', 'list']);
	assert.match(users.stdout, new RegExp(`${u.username}\\s+volunteer`));
	const pw = strongPassword();
	assert.equal(portald(['user', 'passwd', u.username], pw + '\n').status, 0);
	assert.equal(sqlValue(`SELECT COUNT(*) FROM audit_log WHERE action = 'password.reset' AND actor = 'cli' AND object_id = '${u.id}'`), '1');
});

test('admin pages: create a user (errors next to the field, input kept, never the password), change roles, reset a password', async () => {
	const admin = addUser('adm', ['admin']);
	const b = await signedIn(admin);
	const name = uniq('new');
	const pw = strongPassword();
	const bad = await b.submit('/admin/users', '/admin/users', {
		username: 'Bad Name!', display_name: '赵六', password: 'password123', grid: '',
	});
	assert.equal(bad.status, 422);
	assert.match(bad.body, /用户名只能用小写字母/);
	assert.match(bad.body, /请至少选择一个角色/);
	assert.match(bad.body, /太常见/);
	assert.match(bad.body, /value="赵六"/, 'the input is kept');
	assert.ok(!bad.body.includes('password123'), 'the password is not kept');
	const noGrid = await b.submit('/admin/users', '/admin/users', {
		username: name, display_name: '赵六', password: pw, roles: 'grid',
	});
	assert.equal(noGrid.status, 422);
	assert.match(noGrid.body, /网格员需要填写所属网格/);
	const created = await b.submit('/admin/users', '/admin/users', new URLSearchParams([
		['username', name], ['display_name', '赵六'], ['password', pw], ['roles', 'grid'], ['roles', 'volunteer'], ['grid', GRID_A],
	]).toString());
	assert.equal(created.status, 303);
	const id = Number(/\/admin\/users\/(\d+)/.exec(created.headers.location)[1]);
	assert.equal(sqlValue(`SELECT GROUP_CONCAT(role ORDER BY role) FROM user_roles WHERE user_id = ${id}`), 'grid,volunteer');
	const taken = await b.submit('/admin/users', '/admin/users', {
		username: name, display_name: 'x', password: strongPassword(), roles: 'staff',
	});
	assert.match(taken.body, /已被使用/);
	assert.equal((await new Browser().login(name, pw)).status, 303, 'the new user can sign in');

	const upd = await b.submit(`/admin/users/${id}`, `/admin/users/${id}`, new URLSearchParams([
		['display_name', '赵六六'], ['roles', 'staff'], ['roles', 'volunteer'], ['grid', ''],
	]).toString());
	assert.equal(upd.status, 303);
	assert.equal(sqlValue(`SELECT GROUP_CONCAT(role ORDER BY role) FROM user_roles WHERE user_id = ${id}`), 'staff,volunteer');
	const self = await b.submit(`/admin/users/${admin.id}`, `/admin/users/${admin.id}`, { display_name: 'x', roles: 'staff' });
	assert.equal(self.status, 422);
	assert.match(self.body, /不能取消自己的管理员角色/);
	const selfOff = await b.submit(`/admin/users/${admin.id}`, `/admin/users/${admin.id}/disable`, {});
	assert.equal(selfOff.status, 422);

	const victim = await signedIn({ username: name, password: pw });
	const npw = strongPassword();
	const reset = await b.submit(`/admin/users/${id}`, `/admin/users/${id}/password`, { password: npw });
	assert.equal(reset.status, 303);
	assert.equal((await victim.get('/account')).status, 303, 'a reset ends the user\'s sessions');
	assert.equal((await new Browser().login(name, npw)).status, 303);
	const list = await b.get('/admin/users');
	assert.match(list.body, /赵六六/);
});

test('the admin token page shows a new token once; it works until revoked', async () => {
	const admin = addUser('adm', ['admin']);
	const u = addUser('prog', ['staff']);
	const b = await signedIn(admin);
	const bad = await b.submit('/admin/tokens', '/admin/tokens', { username: u.username, role: 'admin', days: '30', name: '' });
	assert.equal(bad.status, 422);
	assert.match(bad.body, /该用户没有这个角色/);
	const r = await b.submit('/admin/tokens', '/admin/tokens', { username: u.username, role: 'staff', days: '30', name: '小程序后台' });
	assert.equal(r.status, 201);
	assert.match(r.headers['cache-control'], /no-store/);
	const token = keepSecret(/value="(pt_[A-Za-z0-9_-]{43})"/.exec(r.body)?.[1]);
	assert.ok(token, 'the page shows the token');
	assert.equal((await withToken(token, '/api/v1/me')).status, 200);
	const list = await b.get('/admin/tokens');
	assert.ok(!list.body.includes(token), 'the list never shows it again');
	const id = Number(sqlValue(`SELECT id FROM api_tokens WHERE user_id = ${u.id} ORDER BY id DESC LIMIT 1`));
	assert.equal((await b.submit('/admin/tokens', `/admin/tokens/${id}/revoke`, {})).status, 303);
	assert.equal((await withToken(token, '/api/v1/me')).status, 401);
});

test('the database holds hashes only: argon2id passwords, SHA-256 of session and token bytes', async () => {
	const u = addUser('hash', ['staff']);
	const b = await signedIn(u);
	const { token, id } = addToken(u.username);
	const ph = sqlValue(`SELECT password_hash FROM users WHERE id = ${u.id}`);
	assert.match(ph, /^\$argon2id\$v=19\$m=\d+,t=\d+,p=\d+\$/);
	assert.ok(!ph.includes(u.password));
	const sh = sql(`SELECT HEX(token_hash), LENGTH(token_hash) FROM sessions WHERE user_id = ${u.id}`);
	assert.equal(sh.length, 1);
	assert.equal(sh[0][1], '32');
	assert.equal(sh[0][0], tokenHash(b.session), 'sessions.token_hash is SHA-256 of the cookie\'s bytes');
	assert.notEqual(sh[0][0], Buffer.from(b.session, 'base64url').toString('hex').toUpperCase());
	assert.equal(sqlValue(`SELECT HEX(token_hash) FROM api_tokens WHERE id = ${id}`), tokenHash(token));
	// no column of these tables holds the secrets themselves
	for (const [table, cols] of [['sessions', 'ip, user_agent'], ['api_tokens', 'name, IFNULL(role, \'\')'], ['users', 'password_hash, username, display_name']]) {
		const dump = sql(`SELECT CONCAT_WS('|', ${cols}) FROM ${table}`).map((r) => r[0]).join('\n');
		for (const s of [b.session, token, token.slice(3), u.password]) assert.ok(!dump.includes(s), `${table} does not hold a secret`);
	}
});

test('the audit log records logins, failures, logouts, account, role and token changes, and exports (CSV)', async () => {
	const admin = addUser('aud', ['admin']);
	const u = addUser('audu', ['staff']);
	const b = new Browser();
	const bad = keepSecret(`Bad-${u.password}`);
	assert.equal((await b.login(u.username, bad)).status, 401);
	const ub = await signedIn(u);
	await ub.submit('/account', '/logout', {});
	const a = await signedIn(admin);
	await a.submit(`/admin/users/${u.id}`, `/admin/users/${u.id}`, new URLSearchParams([
		['display_name', '审计测试'], ['roles', 'volunteer'], ['grid', ''],
	]).toString());
	await a.submit(`/admin/users/${u.id}`, `/admin/users/${u.id}/disable`, {});
	await a.submit(`/admin/users/${u.id}`, `/admin/users/${u.id}/enable`, {});
	const t = await a.submit('/admin/tokens', '/admin/tokens', { username: u.username, role: '', days: '7', name: 'audit' });
	assert.equal(t.status, 201);
	keepSecret(/value="(pt_[^"]+)"/.exec(t.body)?.[1]);
	const tokId = sqlValue(`SELECT id FROM api_tokens WHERE user_id = ${u.id} ORDER BY id DESC LIMIT 1`);
	await a.submit('/admin/tokens', `/admin/tokens/${tokId}/revoke`, {});

	const rows = auditRows(`object_id = '${u.id}' AND object_type = 'user' OR (object_type = 'token' AND object_id = '${tokId}')`);
	const by = (action) => rows.filter((r) => r.action === action);
	const failed = by('login.failed');
	assert.equal(failed.length, 1);
	assert.equal(failed[0].detail.username, u.username);
	assert.equal(failed[0].userId, null, 'a failed login is anonymous');
	assert.equal(failed[0].ip, b.from, 'from where');
	assert.ok(!JSON.stringify(failed[0]).includes(bad), 'never the password tried');
	assert.equal(by('login.ok')[0].userId, u.id);
	assert.equal(by('user.create').length, 1);
	assert.equal(by('user.create')[0].actor, 'cli');
	const upd = by('user.update')[0];
	assert.equal(upd.userId, admin.id, 'who');
	assert.equal(upd.detail.display_name[1], '审计测试', 'what changed');
	assert.deepEqual(by('role.grant').map((r) => r.detail.role), ['volunteer']);
	assert.deepEqual(by('role.revoke').map((r) => r.detail.role), ['staff']);
	assert.equal(by('user.disable').length, 1);
	assert.equal(by('user.enable').length, 1);
	assert.equal(by('token.create').length, 1);
	assert.equal(by('token.create')[0].detail.username, u.username);
	assert.equal(by('token.revoke').length, 1);
	const logout = auditRows(`action = 'logout' AND user_id = ${u.id}`);
	assert.equal(logout.length, 1);

	// the page filters by user and action, and the CSV export carries the same entries
	const page = await a.get(`/admin/audit?object_type=user&object_id=${u.id}&action=login.failed`);
	assert.equal(page.status, 200);
	assert.match(page.body, /登录失败/);
	assert.match(page.body, /<span class="muted">login\.failed<\/span>/);
	assert.doesNotMatch(page.body, /<span class="muted">user\.disable<\/span>/, 'filtered by action');
	const csv = await a.get(`/admin/audit.csv?object_type=user&object_id=${u.id}`);
	assert.equal(csv.status, 200);
	assert.match(csv.headers['content-type'], /^text\/csv; charset=utf-8/);
	assert.match(csv.headers['content-disposition'], /^attachment; filename="audit-\d{8}-\d{6}\.csv"$/);
	assert.ok(csv.body.startsWith('\uFEFF编号,时间,用户'), 'UTF-8 BOM and a Chinese header');
	for (const act of ['login.failed', 'login.ok', 'user.update', 'role.grant', 'user.disable']) assert.ok(csv.body.includes(act), act);
	const exp = auditRows(`action = 'audit.export' AND user_id = ${admin.id}`);
	assert.equal(exp.length, 1, 'the export itself is audited');
	assert.equal(exp[0].detail.object_id, String(u.id));
	assert.ok(exp[0].detail.rows >= 8);
	// a bad date filter is shown, not run
	const badDate = await a.get('/admin/audit?from=2025-13-40');
	assert.equal(badDate.status, 422);
	assert.match(badDate.body, /日期格式/);
});

// Cells of a CSV text (RFC 4180 quoting), one array per row.
function parseCsv(text) {
	const rows = [];
	let row = [], cell = '', quoted = false;
	for (let i = 0; i < text.length; i++) {
		const c = text[i];
		if (quoted) {
			if (c === '"' && text[i + 1] === '"') cell += text[++i];
			else if (c === '"') quoted = false;
			else cell += c;
		} else if (c === '"') quoted = true;
		else if (c === ',') { row.push(cell); cell = ''; }
		else if (c === '\r' && text[i + 1] === '\n') { row.push(cell); rows.push(row); row = []; cell = ''; i++; }
		else cell += c;
	}
	if (cell || row.length) { row.push(cell); rows.push(row); }
	return rows;
}

test('the CSV export quotes every cell so each entry stays one row of 11 columns, formulas neutralised', async () => {
	const admin = addUser('csv', ['admin']);
	const odd = addUser('odd', ['staff'], { displayName: '=HYPERLINK("http://x"),"a"' });
	const a = await signedIn(admin);
	await a.submit(`/admin/users/${odd.id}`, `/admin/users/${odd.id}`, { display_name: '+SUM(1,2);"x"', roles: 'staff', grid: '' });
	const csv = await a.get(`/admin/audit.csv?object_type=user&object_id=${odd.id}`);
	assert.equal(csv.status, 200);
	const rows = parseCsv(csv.body.replace(/^\uFEFF/, ''));
	assert.ok(rows.length >= 3, 'a header and the entries');
	for (const r of rows) assert.equal(r.length, 11, `one row, 11 cells: ${JSON.stringify(r)}`);
	for (const r of rows) for (const c of r) assert.doesNotMatch(c, /^[=+\-@]/, `no cell starts a formula: ${c}`);
	const update = rows.find((r) => r[6] === 'user.update');
	assert.ok(update, 'the update is there');
	assert.deepEqual(JSON.parse(update[10]).display_name, ['=HYPERLINK("http://x"),"a"', '+SUM(1,2);"x"'], 'the detail survives intact');
});

test("the audit log is append-only for the portal's own database user", () => {
	const last = sqlValue('SELECT MAX(id) FROM audit_log');
	assert.ok(Number(last) > 0);
	assert.throws(() => sql(`UPDATE audit_log SET action = action WHERE id = ${last}`), /append-only|denied/);
	assert.throws(() => sql(`DELETE FROM audit_log WHERE id = ${last}`), /append-only|denied/);
	assert.equal(sqlValue(`SELECT COUNT(*) FROM audit_log WHERE id = ${last}`), '1');
	assert.throws(() => sql('DROP TRIGGER audit_log_no_update'), /denied/);
	assert.throws(() => sql('TRUNCATE TABLE audit_log'), /denied/);
	// its rights on the served database and globally (the test stack gives it more on the
	// separate databases of `make check`, which the running portal never uses)
	const db = sqlValue('SELECT DATABASE()');
	const grants = sql('SHOW GRANTS FOR CURRENT_USER').map((r) => r[0])
		.filter((g) => g.includes(' ON *.* ') || g.includes(` ON \`${db}\`.`)).join('\n');
	assert.match(grants, new RegExp(`ON \`${db}\`\\.\\*`), 'the grant on the portal database is listed');
	assert.doesNotMatch(grants, /ALL PRIVILEGES|\bDROP\b|\bTRIGGER\b|\bALTER\b|\bSUPER\b/, grants);
});

test('each request by token is logged with the token id, and no secret ever reaches a log file', async () => {
	const u = addUser('logs', ['staff']);
	const { token, id } = addToken(u.username);
	assert.equal((await withToken(token, `/api/v1/me?probe=${id}`)).status, 200);
	await withToken(`pt_${'Z'.repeat(43)}`, '/api/v1/me');
	await sleep(1500); // nginx writes its access log at most a second late
	const dir = path.join(VAR, 'log');
	const files = fs.readdirSync(dir).filter((f) => f.endsWith('.log')).map((f) => path.join(dir, f));
	assert.ok(files.some((f) => f.endsWith('portald.log')), `portald.log in ${dir}`);
	const portaldLog = fs.readFileSync(path.join(dir, 'portald.log'), 'utf8');
	assert.match(portaldLog, new RegExp(`msg="api token used" token_id=${id} user_id=${u.id}\\b`));
	assert.ok(secrets.size > 40, `the tests collected secrets to look for (${secrets.size})`);
	for (const f of files) {
		const text = fs.readFileSync(f, 'utf8');
		for (const s of secrets) {
			if (s.length < 10) continue;
			assert.ok(!text.includes(s), `${path.basename(f)} contains a secret (${s.slice(0, 6)}...)`);
		}
	}
});
