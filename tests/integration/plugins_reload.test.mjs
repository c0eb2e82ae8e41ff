// plugins_reload.test.mjs - plugins change under load: a reload (SIGHUP) brings in a new or
// changed plugin with zero failed requests, and a plugin with a syntax error never replaces
// the working one (the old set keeps serving; the refusal is logged and recorded).
//
// Works in the test instance's own plugin folder (PORTAL_VAR/plugins), never in the repo.
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { get, load, masterPid, workerPids, waitFor, sleep, assertHealthy } from './lib.mjs';

const VAR = process.env.PORTAL_VAR;
const DIR = VAR && path.join(VAR, 'plugins', 'reloadme');
const LOG = VAR && path.join(VAR, 'log', 'portald.log');

const manifest = (version, word) => `-- written by plugins_reload.test.mjs
return {
  id = "reloadme", version = "${version}", api_version = 1,
  title = { zh = "重新加载测试", en = "reload test" },
  routes = {
    { method = "GET", path = "/word", api = true, handler = function(req)
        return { json = { word = "${word}", version = "${version}" } }
      end },
  },
}
`;

function write(text) {
	fs.mkdirSync(DIR, { recursive: true });
	// write then rename: a worker never reads half a file
	fs.writeFileSync(path.join(DIR, 'plugin.lua.tmp'), text);
	fs.renameSync(path.join(DIR, 'plugin.lua.tmp'), path.join(DIR, 'plugin.lua'));
}

const logSize = () => (fs.existsSync(LOG) ? fs.statSync(LOG).size : 0);
const logSince = (off) => fs.readFileSync(LOG, 'utf8').slice(off);

// SIGHUP and wait until every worker has been replaced.
async function reloadAll() {
	const master = masterPid();
	const before = workerPids(master);
	process.kill(master, 'SIGHUP');
	const after = await waitFor(() => {
		const w = workerPids(master);
		return w.length === before.length && w.every((p) => !before.includes(p)) ? w : null;
	}, 30000);
	assert.ok(after, `every worker replaced after SIGHUP (before ${before}, now ${workerPids(master)})`);
}

const word = async () => {
	const r = await get('/api/p/reloadme/word');
	return r.status === 200 ? JSON.parse(r.body).word : r.status;
};

test('setup: the test instance has its own plugin folder', () => {
	assert.ok(VAR, 'PORTAL_VAR is set');
	assert.ok(fs.existsSync(path.join(VAR, 'plugins')), `${VAR}/plugins exists`);
	fs.rmSync(DIR, { recursive: true, force: true });
});

test('a new plugin folder is served after a reload', { timeout: 60000 }, async () => {
	assert.equal(await word(), 404, 'not there before');
	write(manifest('1.0.0', 'one'));
	await reloadAll();
	assert.equal(await word(), 'one');
});

test('changing a plugin file under load: zero failed requests, the change is served', { timeout: 60000 }, async (t) => {
	write(manifest('1.1.0', 'two'));
	const running = load({ p: '/api/p/reloadme/word', ms: 5000 });
	await sleep(1000);
	await reloadAll();
	const during = await running;
	t.diagnostic(`reload under load: ${during.ok} answered, ${during.failed} failed`);
	assert.equal(during.failed, 0, `failures: ${during.failures.join('; ')}`);
	assert.ok(during.ok > 50, `the load got answers (${during.ok})`);
	assert.equal(await word(), 'two');
});

test('a syntax error does not replace the working plugin', { timeout: 60000 }, async (t) => {
	const master = masterPid();
	const before = workerPids(master);
	const off = logSize();
	write(manifest('1.2.0', 'three').replace('return {', 'return {{ oops'));
	const running = load({ p: '/api/p/reloadme/word', ms: 4000 });
	await sleep(500);
	process.kill(master, 'SIGHUP');
	const refused = await waitFor(() => /reload stopped/.test(logSince(off)), 20000);
	const during = await running;
	t.diagnostic(`refused reload under load: ${during.ok} answered, ${during.failed} failed`);
	assert.ok(refused, 'the master logs that the reload stopped');
	assert.match(logSince(off), /plugin=reloadme|reloadme/, 'the log names the broken plugin');
	assert.equal(during.failed, 0, `failures: ${during.failures.join('; ')}`);
	assert.deepEqual(workerPids(master), before, 'the working workers kept serving');
	assert.equal(await word(), 'two', 'the old version is still served');
	await assertHealthy();
});

test('cleanup: the plugin is gone after it is removed and reloaded', { timeout: 60000 }, async () => {
	fs.rmSync(DIR, { recursive: true, force: true });
	await reloadAll();
	assert.equal(await word(), 404);
});
