// server.test.mjs - portald's processes under load: a killed worker is replaced, a reload
// (SIGHUP) replaces every worker without one failed request. Needs the stack's pid file
// (PORTAL_VAR or PORTAL_PID_FILE) and runs as the user that started portald.
//
// Load is 8 concurrent request loops against / on loopback, bounded in time and count.
import test from 'node:test';
import assert from 'node:assert/strict';
import { masterPid, workerPids, load, metric, waitFor, sleep, assertHealthy, get } from './lib.mjs';

test('kill -9 of a worker under load: the master respawns it and requests succeed', { timeout: 60000 }, async (t) => {
	const master = masterPid();
	const before = workerPids(master);
	assert.ok(before.length >= 2, `at least two workers (have ${before.length})`);
	const restarts = await metric('portal_worker_restarts_total');
	assert.equal(typeof restarts, 'number', 'portal_worker_restarts_total is exported');

	const victim = before[0];
	const running = load({ ms: 3000 });
	await sleep(800);
	process.kill(victim, 'SIGKILL');
	const during = await running;
	t.diagnostic(`killed worker ${victim}: ${during.ok} requests answered, ${during.failed} failed`);

	// A worker serves one request at a time, so at most the one request in flight on the
	// killed worker may fail (nginx answers it 502); every other request must succeed.
	assert.ok(during.failed <= 1, `${during.failed} requests failed under load: ${during.failures.join('; ')}`);
	assert.ok(during.ok > 50, `the load got answers (${during.ok})`);

	const after = await waitFor(() => {
		const w = workerPids(master);
		return w.length === before.length && !w.includes(victim) ? w : null;
	}, 15000);
	assert.ok(after, `the worker count returns to ${before.length} without pid ${victim} (now ${workerPids(master)})`);
	assert.equal(masterPid(), master, 'the master itself carried on');

	// After the respawn, everything succeeds.
	const next = await load({ ms: 1000, concurrency: 4 });
	assert.equal(next.failed, 0, `failures after the respawn: ${next.failures.join('; ')}`);
	assert.ok(next.ok > 20);

	const restartsAfter = await metric('portal_worker_restarts_total');
	assert.ok(restartsAfter >= restarts + 1, `portal_worker_restarts_total went from ${restarts} to ${restartsAfter}`);
	assert.equal(await metric('portal_workers'), before.length, 'portal_workers reports the full count');
	await assertHealthy();
});

test('SIGHUP twice under load: zero failed requests, every worker replaced', { timeout: 90000 }, async (t) => {
	const master = masterPid();
	const before = workerPids(master);
	assert.ok(before.length >= 2, `at least two workers (have ${before.length})`);

	const running = load({ ms: 5000 });
	await sleep(1000);
	process.kill(master, 'SIGHUP');
	await sleep(2000);
	process.kill(master, 'SIGHUP');
	const during = await running;
	t.diagnostic(`two reloads: ${during.ok} requests answered, ${during.failed} failed`);

	assert.equal(during.failed, 0, `${during.failed} requests failed during the reloads: ${during.failures.join('; ')}`);
	assert.ok(during.ok > 100, `the load got answers (${during.ok})`);

	// The reload replaces workers one at a time; wait for the last to be replaced.
	const after = await waitFor(() => {
		const w = workerPids(master);
		return w.length === before.length && w.every((p) => !before.includes(p)) ? w : null;
	}, 30000);
	assert.ok(after, `every worker replaced: before ${before}, now ${workerPids(master)}`);
	assert.equal(masterPid(), master, 'the master stays');

	const r = await get('/');
	assert.equal(r.status, 200);
	await assertHealthy();
});
