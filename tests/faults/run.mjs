// tests/faults/run.mjs - registration load for the fault runs (scripts/lib/faults.sh; the
// suite `faults` of `scripts/portal test`; docs/benchmarks.md "Fault runs").
//
//   node tests/faults/run.mjs setup PHASE...        events for each phase -> JSON on stdout
//   node tests/faults/run.mjs load PHASE SECONDS EVENTS.json OUT.json
//   node tests/faults/run.mjs check EVENTS.json OUT.json...   TAP and the figures
//
// load: residents register for the phase's events, each from a loopback address of its own
// (the per-address limits stay on and are not what is measured), while faults.sh breaks the
// stack. A resident's submission is retried on any 5xx, timeout or dropped connection, with
// the same body and, for most residents, the same Idempotency-Key, until it gets an answer
// (or the drain deadline passes); some residents cancel again, freeing seats for the
// waitlist. Nine in ten residents send a key; the others show what happens without one.
//
// check: against the database (as the portal's own user) for every phase:
//   - 201s not saved: a code a resident got that is not stored for that phone (must be 0);
//   - saved but reported failed, keyed: a stored registration whose resident (with a key)
//     ended without its 201 and code (must be 0); the same figure for keyless residents is
//     printed, not asserted (that is what the key is for);
//   - overbooked: an event or slot with more confirmed registrations than seats, or whose
//     taken count differs from its confirmed registrations (must be 0).
// Environment as for the integration tests: PORTAL_URL, PORTAL_BIN, PORTAL_CONF.
import http from 'node:http';
import fs from 'node:fs';
import crypto from 'node:crypto';
import { addUser, addToken, sql } from '../integration/accounts-lib.mjs';
import { HOST, PORT } from '../integration/lib.mjs';

const CONCURRENCY = Number(process.env.PORTAL_FAULT_CLIENTS ?? 16);
const DRAIN_SECONDS = 60;          // after the load stops, unanswered residents retry this long
const KEYLESS_SHARE = 0.1;
const CANCEL_SHARE = 0.15;

function send(method, path, { body, headers = {}, from, timeout = 15000 } = {}) {
	const data = body === undefined ? undefined : JSON.stringify(body);
	const h = { ...headers };
	if (data !== undefined) {
		h['Content-Type'] = 'application/json';
		h['Content-Length'] = Buffer.byteLength(data);
	}
	return new Promise((resolve) => {
		const req = http.request({ host: HOST, port: PORT, method, path, headers: h, localAddress: from, agent: false }, (res) => {
			const chunks = [];
			res.on('data', (c) => chunks.push(c));
			res.on('end', () => {
				const text = Buffer.concat(chunks).toString('utf8');
				let json;
				try {
					json = JSON.parse(text);
				} catch {
					json = undefined;
				}
				resolve({ status: res.statusCode, headers: res.headers, json });
			});
			res.on('error', () => resolve({ status: 0 }));
		});
		req.on('error', () => resolve({ status: 0 }));
		req.setTimeout(timeout, () => req.destroy(new Error('timeout')));
		if (data !== undefined) req.write(data);
		req.end();
	});
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function iso(daysFromNow, hour) {
	const d = new Date(Date.now() + daysFromNow * 86400e3 + 8 * 3600e3).toISOString().slice(0, 10);
	return `${d}T${String(hour).padStart(2, '0')}:00:00+08:00`;
}

// Events with little room, so the seats run out and free up (cancellations) all the time:
// waitlisted and not, with and without slots.
async function setup(phases) {
	const token = addToken(addUser('faults', ['staff']).username).token;
	const out = {};
	for (const phase of phases) {
		out[phase] = [];
		for (let i = 0; i < 12; i++) {
			const slots = i % 6 === 5
				? [0, 1, 2].map((k) => ({ starts_at: iso(20 + i, 8 + k), ends_at: iso(20 + i, 9 + k), capacity: 4 }))
				: undefined;
			const body = {
				kind: 'general', title: `故障演练 ${phase} 第${i + 1}场`, location: '社区服务中心',
				starts_at: iso(20 + i, 8), ends_at: iso(20 + i, 12), capacity: slots ? 12 : 6 + (i % 4) * 6,
				waitlist: i % 2 === 0, ...(slots ? { slots } : {}),
			};
			const r = await send('POST', '/api/v1/events', { body, headers: { Authorization: `Bearer ${token}` } });
			if (r.status !== 201) throw new Error(`creating an event: ${r.status} ${JSON.stringify(r.json)}`);
			const p = await send('POST', `/api/v1/events/${r.json.id}/publish`, { headers: { Authorization: `Bearer ${token}` } });
			if (p.status !== 200) throw new Error(`publishing: ${p.status}`);
			out[phase].push({ id: r.json.id, slots: (r.json.slots ?? []).map((s) => s.id) });
		}
	}
	process.stdout.write(JSON.stringify(out));
}

// One resident: a phone, an address, an event; submits until answered, maybe cancels.
async function resident(n, phase, events, deadline, stats) {
	const ev = events[crypto.randomInt(events.length)];
	const r = {
		n,
		phone: `15${String(n % 1e9).padStart(9, '0')}`,
		from: `127.${20 + ((n >> 16) & 0x7f)}.${(n >> 8) & 0xff}.${1 + (n & 0xff) % 250}`,
		event: ev.id,
		keyed: Math.random() >= KEYLESS_SHARE,
		final: 'gave_up', code: null, errors: 0, replayed: false, cancelled: null,
	};
	const body = { name: `演练${n}`, phone: r.phone };
	if (ev.slots.length) body.slot_id = ev.slots[crypto.randomInt(ev.slots.length)];
	const headers = r.keyed ? { 'Idempotency-Key': crypto.randomUUID() } : {};
	for (let attempt = 0; Date.now() < deadline; attempt++) {
		const a = await send('POST', `/api/v1/events/${ev.id}/registrations`, { body, headers, from: r.from });
		stats.requests++;
		if (a.status === 201) {
			r.final = 'ok';
			r.code = a.json.code;
			r.status = a.json.status;
			r.replayed = a.headers['idempotent-replayed'] === 'true';
			break;
		}
		const code = a.json?.error?.code;
		if (a.status === 409 && code === 'duplicate_phone') { r.final = 'duplicate'; break; }
		if ((a.status === 409 && code === 'full') || (a.status === 403 && code === 'closed')) { r.final = 'full'; break; }
		if (a.status === 422) { r.final = code === 'idempotency_key_reused' ? 'key_reused' : 'invalid'; break; }
		// 5xx, 0 (connection dropped or timed out), 429: the answer is unknown; try again
		r.errors++;
		stats.errors++;
		await sleep(50 + Math.min(attempt, 10) * 40 + crypto.randomInt(100));
	}
	if (r.final === 'ok' && Math.random() < CANCEL_SHARE) {
		for (let attempt = 0; Date.now() < deadline; attempt++) {
			const c = await send('DELETE', `/api/v1/registrations/${r.code}?phone=${r.phone}`, { from: r.from });
			stats.requests++;
			// 409: cancelled already (by the first try, whose answer was lost)
			if (c.status === 200 || c.status === 409) { r.cancelled = true; break; }
			if (c.status === 404 || c.status === 422) { r.cancelled = false; break; }
			stats.errors++;
			await sleep(100 + crypto.randomInt(100));
		}
	}
	return r;
}

async function load(phase, seconds, eventsFile, outFile) {
	const events = JSON.parse(fs.readFileSync(eventsFile, 'utf8'))[phase];
	const t0 = Date.now();
	const stop = t0 + seconds * 1000, deadline = stop + DRAIN_SECONDS * 1000;
	const stats = { requests: 0, errors: 0 };
	const residents = [];
	let next = crypto.randomInt(1e6) * 1000;   // phones of this run
	await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
		while (Date.now() < stop) residents.push(await resident(next++, phase, events, deadline, stats));
	}));
	const out = { phase, seconds, elapsed: (Date.now() - t0) / 1000, ...stats, residents };
	fs.writeFileSync(outFile, JSON.stringify(out));
}

function check(eventsFile, outFiles) {
	const events = JSON.parse(fs.readFileSync(eventsFile, 'utf8'));
	let n = 0, failed = 0;
	const ok = (cond, what) => {
		n++;
		if (!cond) failed++;
		console.log(`${cond ? 'ok' : 'not ok'} ${n} - ${what}`);
	};
	const rows = [];
	for (const f of outFiles) {
		const run = JSON.parse(fs.readFileSync(f, 'utf8'));
		const ids = events[run.phase].map((e) => e.id).join(',');
		const saved = new Map();   // phone -> [{ code, status, event }]
		for (const [code, phone, status, event] of sql(`SELECT code, phone, status, event_id FROM registrations WHERE event_id IN (${ids})`)) {
			if (!saved.has(phone)) saved.set(phone, []);
			saved.get(phone).push({ code, status, event: Number(event) });
		}
		const byPhone = new Map(run.residents.map((r) => [r.phone, r]));
		const res = run.residents;
		const ok201 = res.filter((r) => r.final === 'ok');
		const lost = ok201.filter((r) => !(saved.get(r.phone) ?? []).some((s) => s.code === r.code && s.event === r.event));
		let failedKeyed = 0, failedKeyless = 0, stray = 0;
		for (const [phone, list] of saved) {
			const r = byPhone.get(phone);
			for (const s of list) {
				if (!r) stray++;
				else if (r.final !== 'ok' || r.code !== s.code) {
					if (r.keyed) failedKeyed++;
					else failedKeyless++;
				}
			}
		}
		const cancelMismatch = res.filter((r) => r.cancelled === true && !(saved.get(r.phone) ?? []).some((s) => s.code === r.code && s.status === 'cancelled'));
		// seats: every event and slot against its confirmed registrations
		const over = sql(`SELECT e.id, e.capacity, e.taken, (SELECT COUNT(*) FROM registrations r WHERE r.event_id = e.id AND r.status = 'confirmed') AS n
			FROM events e WHERE e.id IN (${ids})`).filter(([, cap, taken, c]) => Number(taken) > Number(cap) || Number(c) > Number(cap) || Number(taken) !== Number(c));
		const overSlots = sql(`SELECT s.id, s.capacity, s.taken, (SELECT COUNT(*) FROM registrations r WHERE r.slot_id = s.id AND r.status = 'confirmed') AS n
			FROM event_slots s WHERE s.event_id IN (${ids})`).filter(([, cap, taken, c]) => Number(taken) > Number(cap) || Number(c) > Number(cap) || Number(taken) !== Number(c));
		const waitDup = Number(sql(`SELECT COUNT(*) - COUNT(DISTINCT event_id, waitlist_position) FROM registrations WHERE event_id IN (${ids}) AND status = 'waitlisted'`)[0][0]);
		const seats = sql(`SELECT SUM(capacity), SUM(taken) FROM events WHERE id IN (${ids})`)[0].map(Number);
		const count = (f) => res.filter(f).length;
		ok(lost.length === 0, `${run.phase}: 201s not saved = ${lost.length}`);
		ok(failedKeyed === 0, `${run.phase}: saved but reported failed, residents with a key = ${failedKeyed}`);
		ok(over.length + overSlots.length === 0, `${run.phase}: overbooked or miscounted events/slots = ${over.length + overSlots.length}`);
		ok(waitDup === 0 && stray === 0, `${run.phase}: waitlist positions distinct, no registration nobody made (${waitDup}, ${stray})`);
		ok(cancelMismatch.length === 0, `${run.phase}: cancellations answered 200/409 are stored = ${count((r) => r.cancelled === true) - cancelMismatch.length}/${count((r) => r.cancelled === true)}`);
		ok(count((r) => r.final === 'gave_up' || r.final === 'invalid' || r.final === 'key_reused') === 0,
			`${run.phase}: every resident got an answer (gave up ${count((r) => r.final === 'gave_up')}, invalid ${count((r) => r.final === 'invalid')}, key reused ${count((r) => r.final === 'key_reused')})`);
		rows.push({
			phase: run.phase, seconds: run.seconds, residents: res.length, requests: run.requests, errors: run.errors,
			created: ok201.length, replayed: count((r) => r.replayed), recovered: count((r) => r.final === 'ok' && r.errors > 0),
			full: count((r) => r.final === 'full'), dupKeyless: count((r) => !r.keyed && r.final === 'duplicate'),
			dupKeyed: count((r) => r.keyed && r.final === 'duplicate'), lost: lost.length, failedKeyed, failedKeyless,
			overbooked: over.length + overSlots.length, cancelled: count((r) => r.cancelled === true), seats,
		});
	}
	console.log(`1..${n}`);
	console.log('# phase    s  residents requests errors   201s replayed recovered full/closed 409-keyless 409-keyed not-saved failed-keyed failed-keyless overbooked cancelled seats');
	for (const r of rows) {
		console.log(`# ${r.phase.padEnd(8)} ${String(r.seconds).padStart(2)} ${String(r.residents).padStart(9)} ${String(r.requests).padStart(8)} ${String(r.errors).padStart(6)} ${String(r.created).padStart(6)} ${String(r.replayed).padStart(8)} ${String(r.recovered).padStart(9)} ${String(r.full).padStart(11)} ${String(r.dupKeyless).padStart(11)} ${String(r.dupKeyed).padStart(9)} ${String(r.lost).padStart(9)} ${String(r.failedKeyed).padStart(12)} ${String(r.failedKeyless).padStart(14)} ${String(r.overbooked).padStart(10)} ${String(r.cancelled).padStart(9)} ${r.seats[1]}/${r.seats[0]}`);
	}
	process.exitCode = failed ? 1 : 0;
}

const [cmd, ...args] = process.argv.slice(2);
if (cmd === 'setup') await setup(args);
else if (cmd === 'load') await load(args[0], Number(args[1]), args[2], args[3]);
else if (cmd === 'check') check(args[0], args.slice(1));
else {
	console.error('usage: run.mjs setup PHASE... | load PHASE SECONDS EVENTS OUT | check EVENTS OUT...');
	process.exit(2);
}
