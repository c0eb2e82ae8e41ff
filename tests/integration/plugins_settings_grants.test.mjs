// plugins_settings_grants.test.mjs - through nginx: a plugin's settings page (admin only,
// validated, audited, seen by every worker without a reload), grants on routes and in API
// tokens, and volunteer accounts made by a plugin (volunteer role only, the "accounts"
// permission, a one-time password that must be changed at the first login).
// Uses the test plugins tests/plugins/steward and tests/plugins/bystander.
import test from 'node:test';
import assert from 'node:assert/strict';
import { workerPids } from './lib.mjs';
import {
	addUser, addToken, signedIn, Browser, auditRows, sqlValue, portald, withToken, request, csrfField, uniq,
	strongPassword, keepSecret,
} from './accounts-lib.mjs';

const admin = addUser('sgadm', ['admin']);
const staff = addUser('sgstf', ['staff']);

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const storedRows = () => Number(sqlValue("SELECT COUNT(*) FROM plugin_settings WHERE plugin_id = 'steward'"));

// JSON POST with a bearer token.
function postJson(token, p, body) {
	return request('POST', p, {
		headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' }, body: JSON.stringify(body),
	});
}

test('only admins open the settings page', async () => {
	const b = await signedIn(staff);
	assert.equal((await b.get('/admin/plugins/steward/settings')).status, 403);
	const page = await b.get('/account');
	const r = await b.post('/admin/plugins/steward/settings', { csrf: csrfField(page.body), cfg_capacity: '9' });
	assert.equal(r.status, 403, 'nor save it');
	assert.equal((await new Browser().get('/admin/plugins/steward/settings')).status, 303, 'anonymous: to the login');
	const a = await signedIn(admin);
	const list = await a.get('/admin/plugins');
	assert.match(list.body, /href="\/admin\/plugins\/steward\/settings"/, 'linked from the plugin list');
	assert.match(list.body, /accounts/, 'the accounts permission is listed');
	const s = await a.get('/admin/plugins/steward/settings');
	assert.equal(s.status, 200);
	assert.match(s.body, /名额/);
	assert.match(s.body, /type="number"[^>]*min="1"[^>]*max="500"/);
	assert.match(s.body, /type="checkbox"[^>]*name="cfg_remind"/);
});

test('a bad value is refused with a zh-CN message per field and nothing is stored', async () => {
	const a = await signedIn(admin);
	const before = storedRows();
	const r = await a.submit('/admin/plugins/steward/settings', '/admin/plugins/steward/settings',
		{ cfg_capacity: '0', cfg_greeting: '这是一段远远超过二十个字的欢迎语，不应该被保存到数据库里面去的。', cfg_remind: '1' });
	assert.equal(r.status, 422);
	assert.match(r.body, /名额：不能小于 1。/);
	assert.match(r.body, /欢迎语：最多 20 个字。/);
	assert.match(r.body, /没有保存/);
	const r2 = await a.submit('/admin/plugins/steward/settings', '/admin/plugins/steward/settings',
		{ cfg_capacity: 'abc', cfg_greeting: '好', cfg_remind: '1' });
	assert.equal(r2.status, 422);
	assert.match(r2.body, /名额：请填写整数。/);
	assert.equal(storedRows(), before, 'nothing stored, not even the valid fields');
	const cli = portald(['plugin', 'set', 'steward', 'capacity', '501']);
	assert.equal(cli.status, 1);
	assert.match(cli.stderr, /名额：不能大于 500。/);
	assert.equal(storedRows(), before);
});

test('a saved value reaches portal.config in every worker within about a second, without a reload', async () => {
	const workers = workerPids();
	assert.ok(workers.length >= 2, `several workers serve (${workers})`);
	// every worker reads the current value first (and caches its version)
	const old = (await request('GET', '/api/p/steward/config')).body;
	for (let i = 0; i < 20; i++) await request('GET', '/api/p/steward/config');
	const want = 100 + Math.floor(Math.random() * 300);
	const a = await signedIn(admin);
	const r = await a.submit('/admin/plugins/steward/settings', '/admin/plugins/steward/settings',
		{ cfg_capacity: String(want), cfg_greeting: '你好', cfg_remind: '1' });
	assert.equal(r.status, 303);
	await sleep(1500);
	for (let i = 0; i < 30; i++) {
		const c = JSON.parse((await request('GET', '/api/p/steward/config')).body);
		assert.equal(c.capacity, want, `request ${i} sees the new value`);
		assert.equal(c.greeting, '你好');
	}
	assert.deepEqual(workerPids(), workers, 'no worker was replaced (no reload)');
	const entry = auditRows("action = 'plugin.settings' AND object_id = 'steward'").at(-1);
	assert.ok(entry, 'audited');
	assert.equal(entry.actor, admin.username);
	assert.equal(entry.detail.capacity.new, want);
	assert.equal(entry.detail.capacity.old, JSON.parse(old).capacity, 'with the old value');
	const page = await a.get('/admin/plugins/steward/settings');
	assert.match(page.body, new RegExp(`value="${want}"`), 'the form shows the stored value');
	// the command line writes the same way
	assert.equal(portald(['plugin', 'set', 'steward', 'remind', 'no']).status, 0);
	await sleep(1500);
	assert.equal(JSON.parse((await request('GET', '/api/p/steward/config')).body).remind, false);
	assert.ok(auditRows("action = 'plugin.settings' AND object_id = 'steward' AND actor = 'cli'").length >= 1);
});

test('a route with grant= refuses staff without the grant and admits them once granted', async () => {
	const u = addUser('sggr', ['staff']);
	const b = await signedIn(u);
	let r = await b.get('/api/p/steward/health');
	assert.equal(r.status, 403);
	assert.equal(JSON.parse(r.body).error.message, '您没有查看此内容的权限。');
	assert.equal((await b.get('/p/steward/health-page')).status, 403, 'pages too');
	const tok = addToken(u.username);
	assert.equal((await withToken(tok.token, '/api/p/steward/health')).status, 403);

	// the admin ticks the grant on the user page
	const a = await signedIn(admin);
	const page = await a.get(`/admin/users/${u.id}`);
	assert.match(page.body, /name="grants" value="steward.health"/);
	assert.match(page.body, /查看健康敏感信息/);
	const save = await a.submit(`/admin/users/${u.id}`, `/admin/users/${u.id}/grants`, 'grants=steward.health');
	assert.equal(save.status, 303);
	r = await b.get('/api/p/steward/health');
	assert.equal(r.status, 200);
	assert.deepEqual(JSON.parse(r.body), { health: true, notes: false });
	assert.equal((await withToken(tok.token, '/api/p/steward/health')).status, 200, 'the token carries the grant');
	assert.equal(auditRows(`action = 'grant.add' AND object_id = '${u.id}'`).at(-1).detail.grant, 'steward.health');

	// and the command line takes it away again
	const cli = portald(['user', 'revoke', u.username, 'steward.health']);
	assert.equal(cli.status, 0, cli.stderr);
	assert.equal((await b.get('/api/p/steward/health')).status, 403);
	assert.equal(auditRows(`action = 'grant.remove' AND object_id = '${u.id}'`).length, 1);
	assert.equal(portald(['user', 'grant', u.username, 'steward.nothing']).status, 1, 'an unknown grant is refused');
	const g = portald(['user', 'grant', u.username, 'steward.notes']);
	assert.equal(g.status, 0, g.stderr);
	assert.deepEqual(JSON.parse((await b.get('/api/p/steward/whoami')).body), { health: false, notes: true });
});

test('has_grant of another plugin\'s grant and accounts without the permission raise', async () => {
	const tok = addToken(staff.username);
	const r = await withToken(tok.token, '/api/p/bystander/try');
	assert.equal(r.status, 200);
	const j = JSON.parse(r.body);
	assert.match(j.accounts, /did not ask for the "accounts" permission/);
	assert.match(j.get, /did not ask for the "accounts" permission/);
	assert.match(j.grant, /declares no grant "steward.health"/);
	assert.equal(sqlValue("SELECT COUNT(*) FROM users WHERE username = 'bystander1'"), '0');
});

test('accounts.create gives volunteers only, audited, with a one-time password that must be changed', async () => {
	const tok = addToken(staff.username);
	const name = uniq('v139');
	for (const role of ['staff', 'admin']) {
		const r = await postJson(tok.token, '/api/p/steward/volunteers', { username: name, display_name: '王芳', role });
		assert.equal(r.status, 500, `role ${role} raises`);
	}
	assert.equal(sqlValue(`SELECT COUNT(*) FROM users WHERE username = '${name}'`), '0', 'nothing written');

	const r = await postJson(tok.token, '/api/p/steward/volunteers', { username: name, display_name: '王芳', role: 'volunteer' });
	assert.equal(r.status, 201);
	const acc = JSON.parse(r.body);
	keepSecret(acc.password);
	assert.equal(acc.username, name);
	assert.match(acc.password, /^[A-Za-z0-9]{12}$/);
	assert.equal(sqlValue(`SELECT GROUP_CONCAT(role) FROM user_roles WHERE user_id = ${acc.id}`), 'volunteer');
	assert.equal(sqlValue(`SELECT must_change_password FROM users WHERE id = ${acc.id}`), '1');
	const created = auditRows(`action = 'user.create' AND object_id = '${acc.id}'`);
	assert.equal(created.length, 1);
	assert.equal(created[0].detail.plugin, 'steward');
	assert.equal(created[0].actor, staff.username, 'the staff member who asked is the actor');
	assert.ok(!JSON.stringify(created[0].detail).includes(acc.password), 'never the password');

	const again = await postJson(tok.token, '/api/p/steward/volunteers', { username: name, display_name: '李四', role: 'volunteer' });
	assert.equal(again.status, 409);
	assert.equal(JSON.parse(again.body).error, 'taken');

	// the first login lands on the account page; nothing else opens until the password changed
	const b = new Browser();
	const login = await b.login(name, acc.password);
	assert.equal(login.status, 303);
	let shift = await b.get('/p/steward/shift');
	assert.equal(shift.status, 303);
	assert.equal(shift.headers.location, '/account?done=must_change');
	const account = await b.get('/account');
	assert.equal(account.status, 200);
	assert.match(account.body, /初始密码/);
	const api = await b.get('/api/p/steward/whoami');
	assert.equal(api.status, 403);
	assert.equal(JSON.parse(api.body).error.code, 'password_change_required');
	const fresh = strongPassword();
	const ch = await b.submit('/account', '/account/password', { current: acc.password, new: fresh, confirm: fresh });
	assert.equal(ch.status, 303);
	shift = await b.get('/p/steward/shift');
	assert.equal(shift.status, 200, 'open once the password was changed');
	assert.equal(sqlValue(`SELECT must_change_password FROM users WHERE id = ${acc.id}`), '0');
	assert.equal((await new Browser().login(name, acc.password)).status, 401, 'the one-time password is gone');

	// disable and enable: volunteers only
	let d = await postJson(tok.token, `/api/p/steward/volunteers/${acc.id}/disabled`, { disabled: true });
	assert.equal(d.status, 200);
	assert.equal(JSON.parse(d.body).disabled, true);
	assert.equal((await b.get('/p/steward/shift')).status, 303, 'the disabled volunteer is signed out');
	assert.equal(auditRows(`action = 'user.disable' AND object_id = '${acc.id}'`).length, 1);
	d = await postJson(tok.token, `/api/p/steward/volunteers/${acc.id}/disabled`, { disabled: false });
	assert.equal(JSON.parse(d.body).disabled, false);
	d = await postJson(tok.token, `/api/p/steward/volunteers/${staff.id}/disabled`, { disabled: true });
	assert.equal(d.status, 422, 'a staff account cannot be touched');
	assert.match(JSON.parse(d.body).error, /only role is volunteer/);
	assert.equal(sqlValue(`SELECT disabled FROM users WHERE id = ${staff.id}`), '0');
});
