// lib.mjs - helpers for the HTTP integration tests: real requests through nginx to portald
// and MariaDB. Environment (set by `scripts/portal test`):
//   PORTAL_URL       base URL of the stack under test (default http://127.0.0.1:8080)
//   PORTAL_VAR       the stack's instance folder (var/ or var/test/), for pid files
//   PORTAL_PID_FILE  portald's pid file (default $PORTAL_VAR/run/portald.pid)
import net from 'node:net';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import assert from 'node:assert/strict';

export const BASE = (process.env.PORTAL_URL ?? 'http://127.0.0.1:8080').replace(/\/+$/, '');
const target = new URL(BASE);
export const HOST = target.hostname.replace(/^\[|\]$/g, '');
export const PORT = Number(target.port || 80);

// Load and failure tests send traffic only to this machine.
if (!/^(127\.\d+\.\d+\.\d+|localhost|::1)$/.test(HOST)) {
	throw new Error(`PORTAL_URL must point at loopback, not ${HOST}`);
}

// Chinese characters: every user-visible message is zh-CN.
export const CJK = /[\u4e00-\u9fff]/;

// GET (or any method in init) with fetch; redirects are not followed.
// Returns { status, headers (a Headers object), body (text) }.
export async function get(p, init = {}) {
	const res = await fetch(BASE + p, { redirect: 'manual', ...init });
	return { status: res.status, headers: res.headers, body: await res.text() };
}

// POST body (string or Buffer) with the given headers.
export async function post(p, body, headers = {}) {
	return get(p, { method: 'POST', body, headers });
}

// Send exactly these bytes on a fresh connection and read the whole answer (the request
// should carry "Connection: close"). Returns { status, headers (lower-case names; repeated
// headers joined with ", "), body (Buffer), text }. A reset after the answer arrived (nginx
// closing on a request it refused before reading all of it) still yields that answer.
export function raw(bytes, { timeout = 15000 } = {}) {
	return new Promise((resolve, reject) => {
		const chunks = [];
		const sock = net.connect({ host: HOST, port: PORT });
		let done = false;
		const finish = (err) => {
			if (done) return;
			done = true;
			clearTimeout(timer);
			sock.destroy();
			const data = Buffer.concat(chunks);
			try {
				resolve(parseResponse(data));
			} catch (e) {
				reject(err ?? e);
			}
		};
		const timer = setTimeout(() => finish(new Error(`no complete answer within ${timeout} ms`)), timeout);
		sock.on('data', (c) => chunks.push(c));
		sock.on('end', () => finish());
		sock.on('close', () => finish());
		sock.on('error', (e) => finish(e));
		sock.write(bytes);
	});
}

// Build an HTTP/1.1 request with Host, Connection: close and, with a body, Content-Length.
// target is sent as given (no normalising: "..", raw "%00" and invalid bytes stay as they are).
export function request({ method = 'GET', target: t = '/', headers = {}, body } = {}) {
	let head = `${method} ${t} HTTP/1.1\r\nHost: ${HOST}:${PORT}\r\nConnection: close\r\n`;
	for (const [k, v] of Object.entries(headers)) head += `${k}: ${v}\r\n`;
	const b = body === undefined ? null : Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8');
	if (b) head += `Content-Length: ${b.length}\r\n`;
	head += '\r\n';
	return b ? Buffer.concat([Buffer.from(head, 'latin1'), b]) : Buffer.from(head, 'latin1');
}

// raw(request(...)) in one call.
export function rawRequest(opts, rawOpts) {
	return raw(request(opts), rawOpts);
}

function parseResponse(data) {
	const end = data.indexOf('\r\n\r\n');
	if (end < 0) throw new Error(`incomplete HTTP answer (${data.length} bytes)`);
	const lines = data.subarray(0, end).toString('latin1').split('\r\n');
	const m = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0]);
	if (!m) throw new Error(`bad status line: ${lines[0]}`);
	const headers = {};
	for (const line of lines.slice(1)) {
		const i = line.indexOf(':');
		if (i < 0) continue;
		const k = line.slice(0, i).trim().toLowerCase();
		const v = line.slice(i + 1).trim();
		headers[k] = k in headers ? `${headers[k]}, ${v}` : v;
	}
	let body = data.subarray(end + 4);
	if (/\bchunked\b/i.test(headers['transfer-encoding'] ?? '')) body = dechunk(body);
	else if (headers['content-length'] !== undefined) body = body.subarray(0, Number(headers['content-length']));
	return { status: Number(m[1]), headers, body, text: body.toString('utf8') };
}

function dechunk(b) {
	const out = [];
	let i = 0;
	for (;;) {
		const eol = b.indexOf('\r\n', i);
		if (eol < 0) break;
		const size = parseInt(b.subarray(i, eol).toString('latin1'), 16);
		if (!(size > 0)) break;
		out.push(b.subarray(eol + 2, eol + 2 + size));
		i = eol + 2 + size + 2;
	}
	return Buffer.concat(out);
}

// The server still answers /healthz with 200 "ok" (call after every hostile request).
export async function assertHealthy() {
	const r = await get('/healthz');
	assert.equal(r.status, 200, `/healthz answered ${r.status}: ${r.body.slice(0, 200)}`);
	assert.equal(r.body.trim(), 'ok');
}

// A zh-CN HTML error page with the given status (headers: a Headers object or a plain object).
export function assertHtmlError(r, status) {
	assert.equal(r.status, status, `expected ${status}, got ${r.status}: ${bodyText(r).slice(0, 300)}`);
	assert.match(header(r, 'content-type'), /^text\/html;\s*charset=utf-8$/i);
	assert.match(bodyText(r), /lang="zh-CN"/);
	assert.match(bodyText(r), CJK, 'the page says something in Chinese');
}

// The JSON error shape of /api/: {"error":{"code":"...","message":"..."}}, message in zh-CN.
// Returns the error object.
export function assertJsonError(r, status, code) {
	assert.equal(r.status, status, `expected ${status}, got ${r.status}: ${bodyText(r).slice(0, 300)}`);
	assert.match(header(r, 'content-type'), /^application\/json/i);
	const j = JSON.parse(bodyText(r));
	assert.equal(typeof j.error, 'object');
	assert.equal(typeof j.error.code, 'string');
	assert.ok(j.error.code.length > 0, 'error.code is not empty');
	if (code !== undefined) assert.equal(j.error.code, code);
	assert.match(j.error.message, CJK, 'error.message is in Chinese');
	return j.error;
}

export function header(r, name) {
	return (typeof r.headers.get === 'function' ? r.headers.get(name) : r.headers[name.toLowerCase()]) ?? '';
}

function bodyText(r) {
	return typeof r.body === 'string' ? r.body : r.text;
}

// --- the portald processes of the stack under test

export function pidFile() {
	if (process.env.PORTAL_PID_FILE) return process.env.PORTAL_PID_FILE;
	const v = process.env.PORTAL_VAR ?? path.resolve(import.meta.dirname ?? '.', '../../var');
	return path.join(v, 'run', 'portald.pid');
}

export function masterPid() {
	const pid = Number(fs.readFileSync(pidFile(), 'utf8').trim());
	assert.ok(pid > 1, `a pid in ${pidFile()}`);
	return pid;
}

// The master's live children (its workers), sorted.
export function workerPids(master = masterPid()) {
	let out = '';
	try {
		out = execFileSync('pgrep', ['-P', String(master)], { encoding: 'utf8' });
	} catch (e) {
		if (e.status !== 1) throw e; // 1: no children
	}
	return out.split('\n').filter(Boolean).map(Number)
		.filter((p) => !isZombie(p)).sort((a, b) => a - b);
}

function isZombie(pid) {
	try {
		return /^State:\s*Z/m.test(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
	} catch {
		return true; // gone already
	}
}

// The value of one sample line of /metrics ("name" or 'name{label="x"}'), or undefined.
export async function metric(sample) {
	const r = await get('/metrics');
	assert.equal(r.status, 200);
	for (const line of r.body.split('\n')) {
		if (line.startsWith(sample + ' ')) return Number(line.slice(sample.length + 1));
	}
	return undefined;
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Poll fn until it returns a truthy value (returned) or ms pass (then the last value).
export async function waitFor(fn, ms = 10000, step = 100) {
	const end = Date.now() + ms;
	let v;
	while (Date.now() < end) {
		v = await fn();
		if (v) return v;
		await sleep(step);
	}
	return v;
}

// `concurrency` loops, each sending GET p one after another for `ms` milliseconds (and at
// most `maxPerLoop` requests). Returns { ok, failed, failures: [first few reasons] }.
export async function load({ p = '/', ms = 3000, concurrency = 8, maxPerLoop = 20000 } = {}) {
	const end = Date.now() + ms;
	const res = { ok: 0, failed: 0, failures: [] };
	const loop = async () => {
		for (let n = 0; n < maxPerLoop && Date.now() < end; n++) {
			try {
				const r = await fetch(BASE + p);
				await r.arrayBuffer();
				if (r.status === 200) res.ok++;
				else fail(`status ${r.status}`);
			} catch (e) {
				fail(String(e.cause ?? e));
			}
		}
	};
	const fail = (why) => {
		res.failed++;
		if (res.failures.length < 10) res.failures.push(why);
	};
	await Promise.all(Array.from({ length: concurrency }, loop));
	return res;
}
