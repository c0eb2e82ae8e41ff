// healthz.test.mjs - the basic pages, headers and error shapes, through nginx to portald.
import test from 'node:test';
import assert from 'node:assert/strict';
import { get, post, CJK, metric, assertHtmlError, assertJsonError, header } from './lib.mjs';

// Every response portald or nginx builds for a browser carries these.
function assertSecurityHeaders(r) {
	const csp = header(r, 'content-security-policy');
	assert.match(csp, /default-src 'none'|default-src 'self'/, 'a Content-Security-Policy with a default-src');
	assert.match(csp, /frame-ancestors 'none'/, 'the CSP forbids framing');
	assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/, 'no unsafe-* in the CSP');
	assert.equal(header(r, 'x-content-type-options'), 'nosniff');
	assert.match(header(r, 'referrer-policy'), /^(same-origin|no-referrer|strict-origin|strict-origin-when-cross-origin)$/);
}

test('/healthz answers 200 "ok" when the database answers', async () => {
	const r = await get('/healthz');
	assert.equal(r.status, 200);
	assert.equal(r.body.trim(), 'ok');
	assert.match(header(r, 'content-type'), /^text\/plain;\s*charset=utf-8/i);
});

test('/ is a zh-CN HTML page from a template', async () => {
	const r = await get('/');
	assert.equal(r.status, 200);
	assert.match(header(r, 'content-type'), /^text\/html;\s*charset=utf-8$/i);
	assert.match(r.body, /^<!doctype html>/i);
	assert.match(r.body, /<html lang="zh-CN">/);
	assert.match(r.body, CJK);
	assert.match(r.body, /<link rel="stylesheet" href="\/static\/portal\.css">/);
	assert.match(r.body, /<\/html>\s*$/, 'the page is complete');
});

test('HEAD / answers like GET without a body', async () => {
	const g = await get('/');
	const h = await get('/', { method: 'HEAD' });
	assert.equal(h.status, 200);
	assert.equal(h.body, '');
	assert.equal(header(h, 'content-type'), header(g, 'content-type'));
});

test('security headers on /', async () => {
	assertSecurityHeaders(await get('/'));
});

test("security headers on portald's error page", async () => {
	const r = await get('/no-such-page');
	assert.equal(r.status, 404);
	assertSecurityHeaders(r);
});

test("security headers on nginx's own error page", async () => {
	const r = await get('/static/no-such-file.css');
	assertHtmlError(r, 404);
	assertSecurityHeaders(r);
});

test('/metrics is Prometheus text with the request counter and latency histogram', async () => {
	const r = await get('/metrics');
	assert.equal(r.status, 200);
	assert.match(header(r, 'content-type'), /^text\/plain/);
	const b = r.body;
	assert.match(b, /^# TYPE portal_requests_total counter$/m);
	assert.match(b, /^portal_requests_total\{status="200"\} \d+$/m);
	assert.match(b, /^# TYPE portal_request_duration_seconds histogram$/m);
	assert.match(b, /^portal_request_duration_seconds_bucket\{le="\+Inf"\} \d+$/m);
	assert.match(b, /^portal_request_duration_seconds_sum [\d.e+-]+$/m);
	assert.match(b, /^portal_request_duration_seconds_count \d+$/m);
	assert.match(b, /^portal_worker_restarts_total \d+$/m);
	assert.match(b, /^portal_db_errors_total \d+$/m);
	assert.match(b, /^portal_workers [1-9]\d*$/m);
	// Buckets are cumulative: never decreasing, and +Inf equals _count.
	const buckets = [...b.matchAll(/^portal_request_duration_seconds_bucket\{le="([^"]+)"\} (\d+)$/gm)].map((m) => Number(m[2]));
	assert.ok(buckets.length >= 5, 'several buckets');
	for (let i = 1; i < buckets.length; i++) assert.ok(buckets[i] >= buckets[i - 1], 'cumulative buckets');
	const count = Number(/^portal_request_duration_seconds_count (\d+)$/m.exec(b)[1]);
	assert.equal(buckets.at(-1), count);
});

test('/metrics counts requests (of every worker)', async () => {
	const before = await metric('portal_requests_total{status="404"}') ?? 0;
	for (let i = 0; i < 5; i++) await get('/counted-404');
	const after = await metric('portal_requests_total{status="404"}');
	assert.ok(after >= before + 5, `404 counter went from ${before} to ${after}`);
});

test('an unknown path is a 404 zh-CN HTML page', async () => {
	assertHtmlError(await get('/no/such/page'), 404);
});

test('an unknown /api/ path is a 404 JSON error', async () => {
	assertJsonError(await get('/api/no-such-thing'), 404, 'not_found');
});

test('POST to / is 405 with an Allow header', async () => {
	const r = await post('/', '');
	assertHtmlError(r, 405);
	const allow = header(r, 'allow').split(/\s*,\s*/);
	assert.ok(allow.includes('GET'), `Allow: ${allow}`);
	assert.ok(!allow.includes('POST'));
});

test('/static/portal.css is served by nginx from www/static', async () => {
	const r = await get('/static/portal.css');
	assert.equal(r.status, 200);
	assert.match(header(r, 'content-type'), /^text\/css/);
	assert.match(r.body, /font-family/);
	// A file from disk: nginx adds Last-Modified and an ETag, which portald never sends.
	assert.notEqual(header(r, 'last-modified'), '');
	assert.notEqual(header(r, 'etag'), '');
	assert.equal(header(r, 'x-content-type-options'), 'nosniff');
});
