// plugins_admin.test.mjs - the admin page of plugins, enable/disable without losing data
// (each change reloads every worker), and the host's rate limit on residents' submissions.
// Uses the tutorial plugin (tests/plugins/haircut), which the test instance serves.
import test from 'node:test';
import assert from 'node:assert/strict';
import { masterPid, workerPids, waitFor } from './lib.mjs';
import { addUser, signedIn, Browser, csrfField, auditRows, sqlValue } from './accounts-lib.mjs';

// Wait until every worker of the master has been replaced (a reload finished).
async function reloaded(before) {
	const master = masterPid();
	const after = await waitFor(() => {
		const w = workerPids(master);
		return w.length === before.length && w.every((p) => !before.includes(p)) ? w : null;
	}, 30000);
	assert.ok(after, `the workers were replaced (before ${before}, now ${workerPids(master)})`);
}

const admin = addUser('padm', ['admin']);

test('the admin page lists each plugin with its status, routes and tables', async () => {
	const b = await signedIn(admin);
	const r = await b.get('/admin/plugins');
	assert.equal(r.status, 200);
	assert.match(r.body, /id="plugin-haircut"/);
	assert.match(r.body, /正常/);
	assert.match(r.body, /\/p\/haircut/, 'the routes are listed');
	assert.match(r.body, /p_haircut_signups/, 'the tables are listed');
});

test('only admins reach the plugin page and its buttons', async () => {
	const vol = await signedIn(addUser('pvol', ['volunteer']));
	assert.equal((await vol.get('/admin/plugins')).status, 403);
	const page = await vol.get('/account');
	const r = await vol.post('/admin/plugins/reload', { csrf: csrfField(page.body) ?? '' });
	assert.equal(r.status, 403);
});

test('disable keeps the data and stops the pages; enable brings them back', { timeout: 90000 }, async () => {
	const b = await signedIn(admin);
	const before = Number(sqlValue('SELECT COUNT(*) FROM p_haircut_signups'));
	assert.equal((await new Browser().get('/p/haircut')).status, 200, 'served before');

	let workers = workerPids();
	let r = await b.submit('/admin/plugins', '/admin/plugins/haircut/disable', {});
	assert.equal(r.status, 303);
	await reloaded(workers);
	assert.equal((await new Browser().get('/p/haircut')).status, 404, 'a disabled plugin is not served');
	const page = await b.get('/admin/plugins');
	assert.match(page.body, /已停用/);
	assert.equal(Number(sqlValue('SELECT COUNT(*) FROM p_haircut_signups')), before, 'its data is kept');
	assert.ok(auditRows("action = 'plugin.disable' AND object_id = 'haircut'").length >= 1, 'audited');

	workers = workerPids();
	r = await b.submit('/admin/plugins', '/admin/plugins/haircut/enable', {});
	assert.equal(r.status, 303);
	await reloaded(workers);
	assert.equal((await new Browser().get('/p/haircut')).status, 200, 'served again');
	assert.ok(auditRows("action = 'plugin.enable' AND object_id = 'haircut'").length >= 1, 'audited');
});

test('the reload button replaces every worker', { timeout: 60000 }, async () => {
	const b = await signedIn(admin);
	const workers = workerPids();
	const r = await b.submit('/admin/plugins', '/admin/plugins/reload', {});
	assert.equal(r.status, 303);
	await reloaded(workers);
});

test('residents posting to a plugin too often from one address get 429, others are not affected', async () => {
	const limit = 30; // plugin_post_limit's default
	const resident = new Browser();
	const page = await resident.get('/p/haircut');
	assert.equal(page.status, 200);
	const csrf = csrfField(page.body);
	assert.ok(csrf, 'the form carries a CSRF token');
	const statuses = [];
	for (let i = 0; i <= limit; i++) {
		statuses.push((await resident.post('/p/haircut', { csrf, name: '', phone: '1' })).status);
	}
	assert.ok(statuses.slice(0, limit).every((s) => s === 422), `the first ${limit} are answered (${statuses})`);
	assert.equal(statuses[limit], 429, 'then the limit');
	const other = new Browser();
	const p2 = await other.get('/p/haircut');
	const r = await other.post('/p/haircut', { csrf: csrfField(p2.body), name: '', phone: '1' });
	assert.equal(r.status, 422, 'another address is not limited');
});
