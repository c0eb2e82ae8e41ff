// plugin_new.test.mjs - `portald plugin new` scaffolds a plugin in the house style of
// docs/plugins.md (the manifest names handlers that live in lib/; refuse() of lib/refusal.lua),
// its own tests pass in the real sandbox against the stack's database, and the shipped
// plugins keep the same style: manifests without code, one lib/refusal.lua for all.
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { BIN, CONF_FILES, portald } from './accounts-lib.mjs';

const REPO = path.resolve(import.meta.dirname ?? '.', '../..');
const SHIPPED = ['outreach', 'welfare', 'volunteers'];

// `portald plugin new ID` with plugin_dir pointing at a folder of its own (a config file
// given last wins over the stack's).
function scaffold(id) {
	const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'plugin-new-'));
	const conf = path.join(dir, 'plugin-dir.conf');
	fs.writeFileSync(conf, `plugin_dir = ${dir}\n`);
	const r = spawnSync(BIN, [...CONF_FILES.flatMap((f) => ['-c', f]), '-c', conf, 'plugin', 'new', id],
		{ encoding: 'utf8', timeout: 60000 });
	return { dir, conf, status: r.status, stdout: r.stdout, stderr: r.stderr };
}

// A Lua file without its comments (what is left is code and data).
function code(file) {
	return fs.readFileSync(file, 'utf8').replace(/--[^\n]*/g, '');
}

function files(dir) {
	const out = [];
	for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
		const p = path.join(dir, e.name);
		if (e.isDirectory()) out.push(...files(p).map((f) => path.join(e.name, f)));
		else out.push(e.name);
	}
	return out.sort();
}

test('plugin new writes the house layout, and its tests pass in the sandbox', (t) => {
	const s = scaffold('scaffolded');
	t.after(() => fs.rmSync(s.dir, { recursive: true, force: true }));
	assert.equal(s.status, 0, s.stderr);
	const dir = path.join(s.dir, 'scaffolded');
	assert.deepEqual(files(dir), ['lib/pages.lua', 'lib/refusal.lua', 'migrations/0001_notes.sql', 'plugin.lua',
		'templates/scaffolded_index.html', 'templates/scaffolded_thanks.html', 'tests/notes_test.lua']);
	assert.doesNotMatch(code(path.join(dir, 'plugin.lua')), /\bfunction\b/, 'the manifest holds no code');
	assert.match(code(path.join(dir, 'plugin.lua')), /routes = refusal\.routes \{/);
	assert.match(fs.readFileSync(path.join(dir, 'templates/scaffolded_index.html'), 'utf8'), /action="\/p\/scaffolded"/);
	assert.doesNotMatch(fs.readFileSync(path.join(dir, 'lib/pages.lua'), 'utf8'), /@ID@/, 'every placeholder replaced');
	assert.equal(fs.readFileSync(path.join(dir, 'lib/refusal.lua'), 'utf8'),
		fs.readFileSync(path.join(REPO, 'plugins/outreach/lib/refusal.lua'), 'utf8'),
		'the scaffold writes the shipped plugins\' lib/refusal.lua');

	const r = portald(['plugin', 'test', dir]);
	assert.equal(r.status, 0, r.stdout + r.stderr);
	const ok = r.stdout.split('\n').filter((l) => l.startsWith('ok ')).length;
	assert.equal(ok, 6, r.stdout);
	assert.doesNotMatch(r.stdout, /^not ok/m);
	assert.match(r.stdout, /^ok \d+ - tests\/notes_test\.lua: a note that does not exist is refused in the API's error shape$/m);
});

test('plugin new never writes over an existing plugin', (t) => {
	const s = scaffold('twice');
	t.after(() => fs.rmSync(s.dir, { recursive: true, force: true }));
	assert.equal(s.status, 0, s.stderr);
	const manifest = path.join(s.dir, 'twice', 'plugin.lua');
	fs.writeFileSync(manifest, '-- mine\n');
	const again = spawnSync(BIN, [...CONF_FILES.flatMap((f) => ['-c', f]), '-c', s.conf, 'plugin', 'new', 'twice'],
		{ encoding: 'utf8', timeout: 60000 });
	assert.notEqual(again.status, 0);
	assert.match(again.stderr, /File exists/);
	assert.equal(fs.readFileSync(manifest, 'utf8'), '-- mine\n');
});

test('the shipped plugins keep the house style: manifests without code, one refusal module', () => {
	const refusal = fs.readFileSync(path.join(REPO, 'plugins/outreach/lib/refusal.lua'), 'utf8');
	for (const id of SHIPPED) {
		const manifest = code(path.join(REPO, 'plugins', id, 'plugin.lua'));
		assert.doesNotMatch(manifest, /\bfunction\b/, `plugins/${id}/plugin.lua names its handlers, it holds none`);
		assert.match(manifest, /routes = refusal\.routes \{/, `plugins/${id}: routes wrapped so a handler may refuse()`);
		assert.equal(fs.readFileSync(path.join(REPO, 'plugins', id, 'lib/refusal.lua'), 'utf8'), refusal,
			`plugins/${id}/lib/refusal.lua is the one copy`);
	}
});
