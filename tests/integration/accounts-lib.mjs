// accounts-lib.mjs - helpers for accounts.test.mjs: a small cookie-keeping browser that can
// speak from any loopback address, portald's own command line, and SQL against the stack's
// MariaDB as the portal's runtime user. Environment (set by `scripts/portal test`):
//   PORTAL_URL   the stack under test (default http://127.0.0.1:8080)
//   PORTAL_BIN   the portald binary of the stack
//   PORTAL_CONF  its configuration files, joined with ':' (later files win)
//   PORTAL_VAR   the instance folder (its log/ is read by the test on secrets in logs)
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { execFileSync, spawnSync } from 'node:child_process';
import assert from 'node:assert/strict';
import { BASE, HOST, PORT } from './lib.mjs';

const REPO = path.resolve(import.meta.dirname ?? '.', '../..');
export const VAR = process.env.PORTAL_VAR ?? path.join(REPO, 'var');
export const BIN = process.env.PORTAL_BIN ?? path.join(VAR, 'build', 'portald');
export const CONF_FILES = (process.env.PORTAL_CONF ?? `${path.join(REPO, 'conf/portal.conf')}:${path.join(VAR, 'portal.conf')}`)
	.split(':').filter(Boolean);

// Every secret value a test saw (passwords, session cookies, CSRF tokens, API tokens): the
// last test checks that none of them reached a log file.
export const secrets = new Set();
export function keepSecret(v) {
	if (v) secrets.add(v);
	return v;
}

// --- configuration and command line

// key = value pairs of the stack's config files, later files winning (the secrets are not
// in `portald config dump`, so the files are read directly).
function readConf() {
	const c = {};
	for (const f of CONF_FILES) {
		for (const line of fs.readFileSync(f, 'utf8').split('\n')) {
			const m = /^\s*([a-z_]+)\s*=\s*(.*?)\s*$/.exec(line);
			if (m) c[m[1]] = m[2].replace(/^"(.*)"$/, '$1');
		}
	}
	return c;
}
export const conf = readConf();

// The effective numbers, from portald itself (defaults included).
export function confValue(key) {
	const out = execFileSync(BIN, [...CONF_FILES.flatMap((f) => ['-c', f]), 'config', 'dump'], { encoding: 'utf8' });
	const m = new RegExp(`^${key} = (.*)$`, 'm').exec(out);
	assert.ok(m, `config dump has ${key}`);
	return m[1];
}

// Run `portald ARGS` with the stack's configuration; input goes to stdin. Returns
// { status, stdout, stderr }.
export function portald(args, input = '') {
	const r = spawnSync(BIN, [...CONF_FILES.flatMap((f) => ['-c', f]), ...args], {
		input, encoding: 'utf8', timeout: 60000,
		env: { ...process.env, ASAN_OPTIONS: 'detect_leaks=1' },
	});
	return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

// Names unique to this run, so a run against a long-lived dev stack never meets old users.
const RUN = crypto.randomBytes(3).toString('hex');
let seq = 0;
export function uniq(prefix) {
	return `${prefix}${RUN}${++seq}`;
}

// A password the rules accept.
export function strongPassword() {
	return keepSecret(`Ok-${crypto.randomBytes(9).toString('base64url')}-7`);
}

// Create a user with the command line; returns { id, username, password }.
export function addUser(prefix, roles, { grid, displayName } = {}) {
	const username = uniq(prefix);
	const password = strongPassword();
	const args = ['user', 'add', username, ...roles.flatMap((r) => ['--role', r])];
	if (grid) args.push('--grid', grid);
	if (displayName) args.push('--display-name', displayName);
	const r = portald(args, password + '\n');
	assert.equal(r.status, 0, `user add ${username}: ${r.stderr}`);
	const id = Number(sqlValue(`SELECT id FROM users WHERE username = '${username}'`));
	assert.ok(id > 0);
	return { id, username, password };
}

// Create an API token with the command line; returns { id, token }.
export function addToken(username, extra = []) {
	const r = portald(['token', 'create', username, ...extra]);
	assert.equal(r.status, 0, `token create: ${r.stderr}`);
	const lines = r.stdout.trimEnd().split('\n');
	const token = keepSecret(lines[lines.length - 1]);
	assert.match(token, /^pt_[A-Za-z0-9_-]{43}$/, 'the last line is the token alone');
	const id = Number(/token (\d+) for/.exec(r.stderr)?.[1]);
	assert.ok(id > 0, `the token's id is reported: ${r.stderr}`);
	return { id, token };
}

// --- SQL as the portal's own database user

// Rows of a query (tab-separated columns), run with the mariadb client over the stack's
// socket as db_user. Throws with the server's message when the statement fails.
export function sql(query) {
	const args = ['--no-defaults', `--socket=${conf.db_socket}`, '-u', conf.db_user, '-N', '-B', '-r', '-e', query,
		conf.db_name];
	const r = spawnSync('mariadb', args, { encoding: 'utf8', env: { ...process.env, MYSQL_PWD: conf.db_password ?? '' } });
	if (r.status !== 0) throw new Error(r.stderr.trim() || `mariadb exited ${r.status}`);
	return r.stdout.split('\n').filter((l) => l.length).map((l) => l.split('\t'));
}
export function sqlValue(query) {
	const rows = sql(query);
	return rows.length ? rows[0][0] : undefined;
}

// The hex SHA-256 of a token's 32 random bytes (what the tables keep).
export function tokenHash(b64url) {
	const raw = Buffer.from(b64url.replace(/^pt_/, ''), 'base64url');
	assert.equal(raw.length, 32, 'a token is 32 random bytes');
	return crypto.createHash('sha256').update(raw).digest('hex').toUpperCase();
}

// --- HTTP from a chosen source address

// A loopback address of its own: the login limits count per client address, so tests that
// fail logins on purpose never lock out 127.0.0.1 for the other suites.
export function freshAddress() {
	const b = crypto.randomBytes(3);
	return `127.${10 + (b[0] % 200)}.${b[1] % 250}.${1 + (b[2] % 250)}`;
}

// One request. body: a urlencoded string, or an object sent as a urlencoded form. Returns
// { status, headers, body, setCookies: { name: { value, attrs } } }.
export function request(method, p, { headers = {}, body, from, cookies } = {}) {
	let data = body;
	const h = { 'User-Agent': 'accounts-test/1.0 (node)', ...headers };
	if (body && typeof body === 'object') data = new URLSearchParams(body).toString();
	if (data !== undefined && !Object.keys(h).some((k) => k.toLowerCase() === 'content-type')) {
		h['Content-Type'] = 'application/x-www-form-urlencoded';
	}
	if (cookies && Object.keys(cookies).length) {
		h.Cookie = Object.entries(cookies).map(([k, v]) => `${k}=${v}`).join('; ');
	}
	if (data !== undefined) h['Content-Length'] = Buffer.byteLength(data);
	return new Promise((resolve, reject) => {
		const req = http.request({ host: HOST, port: PORT, method, path: p, headers: h, localAddress: from }, (res) => {
			const chunks = [];
			res.on('data', (c) => chunks.push(c));
			res.on('end', () => {
				const setCookies = {};
				for (const line of res.headers['set-cookie'] ?? []) {
					const [pair, ...attrs] = line.split(';').map((s) => s.trim());
					const i = pair.indexOf('=');
					setCookies[pair.slice(0, i)] = { value: pair.slice(i + 1), attrs, line };
				}
				resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString('utf8'), setCookies });
			});
		});
		req.on('error', reject);
		req.setTimeout(30000, () => req.destroy(new Error(`no answer to ${method} ${p}`)));
		if (data !== undefined) req.write(data);
		req.end();
	});
}

// A JSON API request: body is sent as JSON (raw: these bytes as they are) with
// Content-Type type (application/json unless given; null: none); token is a bearer token,
// key an Idempotency-Key. Returns request()'s answer plus json (the parsed body or undefined).
export function api(method, p, { body, raw, type = 'application/json', token, key, from = freshAddress() } = {}) {
	const headers = {};
	const data = raw !== undefined ? raw : body !== undefined ? JSON.stringify(body) : undefined;
	if (data !== undefined && type) headers['Content-Type'] = type;
	if (token) headers.Authorization = `Bearer ${token}`;
	if (key) headers['Idempotency-Key'] = key;
	return request(method, p, { headers, body: data, from }).then((r) => {
		let json;
		try {
			json = JSON.parse(r.body);
		} catch {
			json = undefined;
		}
		return { ...r, json };
	});
}

// "YYYY-MM-DDTHH:00:00+08:00", days from now at hour, China time.
export function isoDay(daysFromNow, hour = 9) {
	const day = new Date(Date.now() + daysFromNow * 86400e3 + 8 * 3600e3).toISOString().slice(0, 10);
	return `${day}T${String(hour).padStart(2, '0')}:00:00+08:00`;
}

// A mobile number unlikely to be used twice in a run: prefix (3 digits) + 8 random digits.
export function randomPhone(prefix = '139') {
	return `${prefix}${String(crypto.randomInt(0, 1e8)).padStart(8, '0')}`;
}

// The hidden CSRF field of a page.
export function csrfField(html) {
	const m = /name="csrf" value="([^"]*)"/.exec(html);
	return m ? m[1] : undefined;
}

// A browser: keeps cookies, speaks from one source address (a fresh one by default).
export class Browser {
	constructor(from = freshAddress()) {
		this.from = from;
		this.jar = {};
	}

	async send(method, p, opts = {}) {
		const r = await request(method, p, { ...opts, from: this.from, cookies: { ...this.jar, ...(opts.cookies ?? {}) } });
		for (const [k, c] of Object.entries(r.setCookies)) {
			if (c.attrs.some((a) => /^max-age=0$/i.test(a))) delete this.jar[k];
			else this.jar[k] = keepSecret(c.value);
		}
		return r;
	}

	get(p, opts) {
		return this.send('GET', p, opts);
	}

	post(p, form, opts = {}) {
		return this.send('POST', p, { ...opts, body: form });
	}

	// GET page, then POST its form to action with the page's CSRF token added. form: an
	// object, or a urlencoded string (for repeated fields such as roles).
	async submit(page, action, form) {
		const g = await this.get(page);
		assert.equal(g.status, 200, `GET ${page}: ${g.status}`);
		const csrf = keepSecret(csrfField(g.body));
		assert.ok(csrf, `${page} has a csrf field`);
		const body = typeof form === 'string' ? `csrf=${encodeURIComponent(csrf)}&${form}` : { csrf, ...form };
		return this.post(action, body);
	}

	// The login form, filled in. Returns the POST's answer.
	async login(username, password, next) {
		const g = await this.get(next ? `/login?next=${encodeURIComponent(next)}` : '/login');
		assert.equal(g.status, 200);
		const form = { csrf: csrfField(g.body), username, password };
		if (next) form.next = next;
		return this.post('/login', form);
	}

	get session() {
		return this.jar.portal_session;
	}
}

// A browser signed in as user (asserting the login worked).
export async function signedIn(user, from) {
	const b = new Browser(from);
	const r = await b.login(user.username, user.password);
	assert.equal(r.status, 303, `login of ${user.username}: ${r.status} ${r.body.slice(0, 300)}`);
	assert.ok(b.session, 'a session cookie was set');
	return b;
}

// GET with a bearer token.
export function withToken(token, p, opts = {}) {
	return request('GET', p, { ...opts, headers: { Authorization: `Bearer ${token}`, ...(opts.headers ?? {}) } });
}

// Audit entries of the portal's audit_log matching a WHERE clause, newest last, as objects.
export function auditRows(where) {
	return sql(`SELECT id, IFNULL(user_id, ''), IFNULL(token_id, ''), actor, ip, action, object_type, object_id, detail`
		+ ` FROM audit_log WHERE ${where} ORDER BY id`).map(([id, userId, tokenId, actor, ip, action, objectType, objectId, detail]) => ({
		id: Number(id), userId: userId === '' ? null : Number(userId), tokenId: tokenId === '' ? null : Number(tokenId),
		actor, ip, action, objectType, objectId, detail: JSON.parse(detail),
	}));
}

export { BASE };
