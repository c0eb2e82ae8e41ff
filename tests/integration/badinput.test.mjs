// badinput.test.mjs - hostile and broken requests get a clear 4xx, and nothing breaks.
// Every case ends by checking that the server still answers /healthz with 200.
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import {
	post, rawRequest, assertHealthy, assertHtmlError, assertJsonError, CJK, header,
} from './lib.mjs';

const FORM = { 'Content-Type': 'application/x-www-form-urlencoded' };
const MB = 1024 * 1024;

test('malformed percent-encoding in the query is 400 with a zh-CN message', async () => {
	for (const t of ['/?q=%zz', '/?q=%', '/?q=%4', '/?%zz=1']) {
		assertHtmlError(await rawRequest({ target: t }), 400);
	}
	await assertHealthy();
});

test('malformed percent-encoding in an urlencoded body is 400', async () => {
	assertHtmlError(await post('/', 'name=%zz&phone=1', FORM), 400);
	assertHtmlError(await post('/', 'name=abc%', FORM), 400);
	await assertHealthy();
});

test('invalid UTF-8 in the query is 400', async () => {
	for (const t of ['/?q=%ff%fe', '/?q=%c3%28', '/?q=%ed%a0%80' /* a surrogate */, '/?q=%c0%af' /* overlong "/" */]) {
		assertHtmlError(await rawRequest({ target: t }), 400);
	}
	await assertHealthy();
});

test('invalid UTF-8 in a body is 400', async () => {
	assertHtmlError(await post('/', 'name=%ff%fe', FORM), 400);
	assertHtmlError(await post('/', Buffer.from([0x6e, 0x3d, 0xff, 0xfe]), FORM), 400);
	await assertHealthy();
});

test('an encoded NUL in the query is 400', async () => {
	assertHtmlError(await rawRequest({ target: '/?q=a%00b' }), 400);
	await assertHealthy();
});

test('a body over max_body (1.5 MB) is 413 from portald', async () => {
	const body = 'a=' + 'x'.repeat(1.5 * MB);
	const r = await post('/', body, FORM);
	assertHtmlError(r, 413);
	await assertHealthy();
});

test('a body over max_body under /api/ is 413 JSON', async () => {
	const body = JSON.stringify({ a: 'x'.repeat(1.5 * MB) });
	assertJsonError(await post('/api/v1/anything', body, { 'Content-Type': 'application/json' }), 413);
	await assertHealthy();
});

test('a body far over the limit (20 MB) is refused by nginx with our zh-CN page', async () => {
	const body = Buffer.alloc(20 * MB, 0x61);
	const r = await post('/', body, FORM);
	assertHtmlError(r, 413);
	assert.match(r.body, /提交的内容太大/);
	const j = await post('/api/v1/anything', body, { 'Content-Type': 'application/json' });
	assertJsonError(j, 413, 'payload_too_large');
	await assertHealthy();
});

test('multipart without a boundary is 400', async () => {
	const body = '--x\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n--x--\r\n';
	assertHtmlError(await post('/', body, { 'Content-Type': 'multipart/form-data' }), 400);
	assertHtmlError(await post('/', body, { 'Content-Type': 'multipart/form-data; boundary=' }), 400);
	await assertHealthy();
});

test('multipart with a 1000-byte boundary is 400', async () => {
	const b = 'B'.repeat(1000);
	const body = `--${b}\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n--${b}--\r\n`;
	assertHtmlError(await post('/', body, { 'Content-Type': `multipart/form-data; boundary=${b}` }), 400);
	await assertHealthy();
});

test('a multipart body that ends before its close delimiter is 400', async () => {
	const body = '--xyz\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n';
	assertHtmlError(await post('/', body, { 'Content-Type': 'multipart/form-data; boundary=xyz' }), 400);
	await assertHealthy();
});

test('10,000 form fields are refused with a 4xx and a zh-CN message', async () => {
	const body = Array.from({ length: 10000 }, (_, i) => `f${i}=1`).join('&');
	const r = await post('/', body, FORM);
	assert.ok(r.status === 400 || r.status === 413, `got ${r.status}`);
	assertHtmlError(r, r.status);
	await assertHealthy();
});

test('more query fields than max_fields (2,000 in 4 KB) are 400 from portald', async () => {
	// Short enough for nginx's 8 KB request line, so portald's own limit answers.
	const q = Array.from({ length: 2000 }, () => 'a').join('&');
	assertHtmlError(await rawRequest({ target: '/?' + q }), 400);
	await assertHealthy();
});

test('a 64 KB request line is refused by nginx (414) with our zh-CN page', async () => {
	const q = Array.from({ length: 10000 }, (_, i) => `f${i}=1`).join('&');
	assertHtmlError(await rawRequest({ target: '/?' + q }), 414);
	await assertHealthy();
});

test('a 1 MB Cookie header is 400 from nginx with our zh-CN page', async () => {
	const cookie = 'a=' + 'x'.repeat(MB);
	const r = await rawRequest({ target: '/', headers: { Cookie: cookie } });
	assertHtmlError(r, 400);
	assert.match(r.text, /请求有误/);
	const j = await rawRequest({ target: '/api/v1/anything', headers: { Cookie: cookie } });
	assertJsonError(j, 400, 'bad_request');
	await assertHealthy();
});

test('a Cookie header over max_cookie (but within nginx) is 400 from portald', async () => {
	const r = await rawRequest({ target: '/', headers: { Cookie: 'a=' + 'x'.repeat(8000) + '; b=' + 'y'.repeat(300) } });
	assert.equal(r.status, 400, `got ${r.status}`);
	assertHtmlError(r, 400);
	await assertHealthy();
});

test('paths with ".." never reach a file outside www/static', async () => {
	const passwd = fs.readFileSync('/etc/passwd', 'utf8').split('\n')[0];
	const targets = [
		'/static/../etc/passwd',
		'/static/../../../../etc/passwd',
		'/static/%2e%2e/%2e%2e/%2e%2e/etc/passwd',
		'/static/..%2f..%2f..%2fetc/passwd',
		'/static/%2e%2e%2f%2e%2e%2fconf/portal.conf',
		'/static/../conf/portal.conf',
		'/a/%2e%2e/b',
		'/a/../b',
		'/..',
	];
	for (const t of targets) {
		const r = await rawRequest({ target: t });
		assert.ok([400, 403, 404].includes(r.status), `${t}: got ${r.status}`);
		assert.ok(!r.text.includes(passwd), `${t}: served /etc/passwd`);
		assert.ok(!r.text.includes('db_password'), `${t}: served a config file`);
		assert.match(r.text, CJK, `${t}: a zh-CN answer`);
	}
	await assertHealthy();
});

test('an encoded NUL in the path is 400', async () => {
	for (const t of ['/a%00b', '/static/portal.css%00.html', '/api/v1/x%00']) {
		const r = await rawRequest({ target: t });
		assert.equal(r.status, 400, `${t}: got ${r.status}`);
		assert.match(r.text, CJK);
	}
	await assertHealthy();
});

test('a path with invalid UTF-8 is 400', async () => {
	assertHtmlError(await rawRequest({ target: '/%ff' }), 400);
	await assertHealthy();
});

test('an unknown method is refused', async () => {
	const r = await rawRequest({ target: '/', method: 'BREW' });
	assert.ok(r.status === 400 || r.status === 405 || r.status === 501, `got ${r.status}`);
	assert.doesNotMatch(header(r, 'content-type'), /^$/);
	await assertHealthy();
});
