/* t_tmpl.c - the template engine: escaping by default, values and scopes,
 * blocks and truthiness, partials, layouts, limits, load errors with line
 * numbers, loading a folder. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "tmpl.h"
#include "tap.h"

static buf out = BUF_INIT;
static char err[256];

static json_t *data_of(const char *json)
{
	json_error_t je;
	json_t *d = json ? json_loads(json, JSON_DECODE_ANY, &je) : NULL;
	if (json && !d)
		printf("# bad test JSON: %s\n", je.text);
	return d;
}

/* Renders src with the JSON text json; the output, or "ERROR: message". */
static const char *R(const char *src, const char *json)
{
	json_t *d = data_of(json);
	buf_reset(&out);
	err[0] = 0;
	int rc = tpl_render_string(src, d, &out, err, sizeof err);
	json_decref(d);
	if (rc < 0) {
		buf_reset(&out);
		buf_printf(&out, "ERROR: %s", err);
	}
	return buf_str(&out);
}

/* A set from name/source pairs ended by NULL; a failed add is a failed test. */
static tpl_set *set_of(const char *const *pairs)
{
	tpl_set *s = tpl_new();
	for (; pairs[0]; pairs += 2)
		if (tpl_add(s, pairs[0], pairs[1], strlen(pairs[1]), err, sizeof err) < 0)
			ok(0, "add %s: %s", pairs[0], err);
	return s;
}

/* Renders name of s like R(). */
static const char *RS(tpl_set *s, const char *name, const char *json)
{
	json_t *d = data_of(json);
	buf_reset(&out);
	err[0] = 0;
	int rc = tpl_render(s, name, d, &out, err, sizeof err);
	json_decref(d);
	if (rc < 0) {
		buf_reset(&out);
		buf_printf(&out, "ERROR: %s", err);
	}
	return buf_str(&out);
}

static void test_escaping(void)
{
	is_str(R("<p>{{x}}</p>", "{\"x\":\"<script>alert(1)</script>\"}"),
	       "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>", "<script> in text is escaped");
	is_str(R("<a title=\"{{t}}\">", "{\"t\":\"\\\" onmouseover=\\\"alert(1)\"}"),
	       "<a title=\"&quot; onmouseover&#61;&quot;alert(1)\">", "a value cannot leave its attribute");
	is_str(R("{{x}}", "{\"x\":\"{{y}}\",\"y\":\"EVALUATED\"}"), "{{y}}",
	       "a value holding {{y}} is printed, not evaluated");
	is_str(R("/s?q={{q|url}}", "{\"q\":\"社区 & co\"}"), "/s?q=%E7%A4%BE%E5%8C%BA%20%26%20co",
	       "| url percent-encodes a query value");
	is_str(R("<a href=\"{{u | href}}\">", "{\"u\":\"javascript:alert(1)\"}"), "<a href=\"#\">",
	       "| href turns javascript: into #");
	is_str(R("<a href=\"{{u | href}}\">", "{\"u\":\"https://a.cn/?x=1&y=2\"}"),
	       "<a href=\"https://a.cn/?x&#61;1&amp;y&#61;2\">", "| href keeps https, attribute-escaped");
	is_str(R("<script type=\"application/json\">{{d | json}}</script>",
	         "{\"d\":{\"a\":\"</script><x>\",\"n\":[1,2.5,true,null]}}"),
	       "<script type=\"application/json\">{\"a\":\"\\u003c/script\\u003e\\u003cx\\u003e\","
	       "\"n\":[1,2.5,true,null]}</script>", "| json is compact and cannot close the script");
	is_str(R("{{s|json}} {{missing|json}} {{n | json}}", "{\"s\":\"a\\u2028b\",\"n\":7}"),
	       "\"a\\u2028b\" null 7", "| json of a string, a missing value, a number");
	is_str(R("{{{x}}}", "{\"x\":\"<b>\"}"), "ERROR: string:1: unknown tag {{{x}}",
	       "{{{x}}} (unescaped in other engines) is refused");
	is_str(R("{{&x}}", "{\"x\":\"<b>\"}"), "ERROR: string:1: unknown tag {{&x}}",
	       "{{&x}} (unescaped in other engines) is refused");
	is_str(R("{{x | raw}}", "{}"), "ERROR: string:1: unknown filter (url, href or json) in {{x | raw}}",
	       "there is no raw filter");
}

static void test_values(void)
{
	is_str(R("{{i}} {{r}} {{big}} {{neg}} {{whole}} {{sum}}",
	         "{\"i\":42,\"r\":2.5,\"big\":1e20,\"neg\":-7,\"whole\":3.0,\"sum\":0.30000000000000004}"),
	       "42 2.5 1e+20 -7 3 0.3", "numbers: integers as integers, reals with %%.15g");
	is_str(R("{{i}}", "{\"i\":-9223372036854775807}"), "-9223372036854775807", "numbers: 64-bit integers");
	is_str(R("[{{t}}][{{f}}][{{n}}][{{missing}}][{{arr}}][{{obj}}]",
	         "{\"t\":true,\"f\":false,\"n\":null,\"arr\":[1],\"obj\":{\"a\":1}}"),
	       "[true][false][][][][]", "true/false printed; null, missing, arrays, objects print nothing");
	is_str(R("{{a.b.c}}|{{a.x.c}}|{{items.1.name}}|{{items.9.name}}|{{a.b.c.d}}",
	         "{\"a\":{\"b\":{\"c\":\"deep\"}},\"items\":[{\"name\":\"zero\"},{\"name\":\"one\"}]}"),
	       "deep||one||", "dotted paths, array indexes, missing steps");
	is_str(R("{{ x }}{{x}}{{\tx\n}}{{ x|url }}", "{\"x\":\"v\"}"), "vvvv", "whitespace inside tags ignored");
	is_str(R("{{.}}", "\"root string\""), "root string", "\".\" outside a loop is the root data");
	is_str(R("a{{x}}b", NULL), "ab", "NULL data renders missing values");
	is_str(R("{{#if a}}\nx\n{{/if}}\n", "{\"a\":1}"), "\nx\n\n", "text around block tags kept as written");
	is_str(R("a{{! a comment {{with}} braces }}b", "{}"), "a braces }}b", "comments end at the first }}");
	is_str(R("a{{!\nmulti\nline\n}}b", "{}"), "ab", "comments may span lines");
	is_str(R("{{else.x}}", "{\"else\":{\"x\":\"E\"}}"), "E", "a path may start with a tag word");

	buf_reset(&out);
	buf_adds(&out, "before|");
	tpl_render_string("{{x}}", data_of(NULL), &out, err, sizeof err);
	is_str(buf_str(&out), "before|", "render appends to the buffer");
	json_t *d = data_of("{\"x\":\"<>\"}");
	tpl_render_string("{{x}}", d, &out, err, sizeof err);
	is_str(buf_str(&out), "before|&lt;&gt;", "render appends escaped output");
	is_int(d->refcount, 1, "render leaves the data's reference count alone");
	json_decref(d);
}

static void test_each(void)
{
	is_str(R("{{#each xs}}{{@index}}/{{@number}}:{{.}}{{#if @first}}F{{/if}}{{#if @last}}L{{/if}};{{/each}}",
	         "{\"xs\":[\"a\",\"b\",\"c\"]}"),
	       "0/1:aF;1/2:b;2/3:cL;", "each: @index @number @first @last");
	is_str(R("{{#each xs}}{{#if @first}}{{#if @last}}only{{/if}}{{/if}}{{/each}}", "{\"xs\":[1]}"),
	       "only", "each: one item is first and last");
	is_str(R("{{#each groups}}[{{name}}:{{#each items}}{{@index}}{{t}}@{{name}}@{{site}},"
	         "{{else}}empty{{/each}}]{{/each}}",
	         "{\"site\":\"S\",\"groups\":[{\"name\":\"G1\",\"items\":[{\"t\":\"a\"},"
	         "{\"t\":\"b\",\"site\":\"own\"}]},{\"name\":\"G2\",\"items\":[]}]}"),
	       "[G1:0a@G1@S,1b@G1@own,][G2:empty]",
	       "nested each: item first, then the outer item, then the root");
	is_str(R("{{#each xs}}{{name}}{{/each}}", "{\"name\":\"root\",\"xs\":[{\"name\":null},{}]}"),
	       "root", "a key present with null shadows outer scopes");
	is_str(R("{{#each o}}{{@key}}={{.}}{{#if @last}}.{{else}};{{/if}}{{/each}}",
	         "{\"o\":{\"x\":1,\"y\":\"<2>\"}}"),
	       "x=1;y=&lt;2&gt;.", "each over an object: values in order, @key");
	is_str(R("{{#each xs}}x{{else}}none{{/each}}|{{#each m}}x{{else}}none{{/each}}|"
	         "{{#each s}}x{{else}}none{{/each}}|{{#each o}}x{{else}}none{{/each}}",
	         "{\"xs\":[],\"s\":\"str\",\"o\":{}}"),
	       "none|none|none|none", "each: else for empty, missing, non-array, empty object");
	is_str(R("[{{@index}}{{@first}}{{@key}}]{{#if @first}}y{{else}}n{{/if}}", "{}"), "[]n",
	       "@ names outside a loop are missing");
	is_str(R("{{#each xs}}{{@index | json}}{{@first|json}}{{/each}}", "{\"xs\":[0]}"), "0true",
	       "@ names through | json");
	is_str(R("{{#each rows}}{{#each .}}{{.}}{{/each}};{{/each}}", "{\"rows\":[[1,2],[3]]}"), "12;3;",
	       "each over \".\"");
}

static void test_truthiness(void)
{
	static const struct { const char *json; int truthy; } cases[] = {
		{"null", 0}, {"false", 0}, {"true", 1}, {"0", 0}, {"1", 1}, {"-1", 1},
		{"0.0", 0}, {"0.5", 1}, {"\"\"", 0}, {"\"0\"", 1}, {"\"false\"", 1},
		{"[]", 0}, {"[0]", 1}, {"{}", 0}, {"{\"a\":null}", 1},
	};
	char json[64];
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		snprintf(json, sizeof json, "{\"v\":%s}", cases[i].json);
		const char *want = cases[i].truthy ? "T" : "F";
		is_str(R("{{#if v}}T{{else}}F{{/if}}", json), want, "if %s", cases[i].json);
		is_str(R("{{#unless v}}F{{else}}T{{/unless}}", json), want, "unless %s", cases[i].json);
	}
	is_str(R("{{#if missing}}T{{else}}F{{/if}}", "{}"), "F", "if: missing is falsy");
	is_str(R("{{#if v}}T{{/if}}{{#unless v}}U{{/unless}}", "{\"v\":0}"), "U", "if and unless without else");
}

static void test_partials_layouts(void)
{
	static const char *const pairs[] = {
		"base", "<html><title>{{title}}</title><body>{{yield}}</body>{{> foot}}</html>",
		"foot", "<footer>{{title}}</footer>",
		"home", "{{! the home page }}{{layout \"base\"}}<h1>{{title}}</h1>{{> list}}",
		"list", "<ul>{{#each xs}}{{> item}}{{/each}}</ul>",
		"item", "<li>{{name}}@{{title}}</li>",
		"inner", "{{layout \"base\"}}<div>{{yield}}</div>",
		"deep", "{{layout \"inner\"}}x",
		"slot", "[{{yield}}]",
		"framed", "{{layout \"frame\"}}body",
		"frame", "<f>{{> slot}}</f>",
		"wrapped", "{{layout \"frame\"}}W",
		"uses_wrapped", "<{{> wrapped}}>",
		"loop", "{{> loop}}",
		"ping", "a{{> pong}}",
		"pong", "b{{> ping}}",
		"tree", "{{name}}({{#each kids}}{{> tree}}{{/each}})",
		"l1", "{{layout \"l2\"}}",
		"l2", "{{layout \"l1\"}}",
		NULL,
	};
	tpl_set *s = set_of(pairs);
	is_int(tpl_has(s, "home"), 1, "tpl_has finds a template");
	is_int(tpl_has(s, "nope"), 0, "tpl_has misses an unknown name");
	is_str(RS(s, "home", "{\"title\":\"T<\",\"xs\":[{\"name\":\"a\"},{\"name\":\"b\",\"title\":\"own\"}]}"),
	       "<html><title>T&lt;</title><body><h1>T&lt;</h1><ul><li>a@T&lt;</li><li>b@own</li></ul></body>"
	       "<footer>T&lt;</footer></html>",
	       "layout + yield + partials, partials see the loop item");
	is_str(RS(s, "deep", "{\"title\":\"D\"}"), "<html><title>D</title><body><div>x</div></body><footer>D</footer></html>",
	       "a layout can have a layout");
	is_str(RS(s, "framed", "{}"), "<f>[body]</f>", "{{yield}} in a partial of the layout");
	is_str(RS(s, "uses_wrapped", "{}"), "<<f>[W]</f>>", "a partial with a layout is wrapped in it");
	is_str(RS(s, "slot", "{}"), "[]", "{{yield}} outside a layout prints nothing");
	is_str(RS(s, "loop", "{}"), "ERROR: loop:1: include depth over 16 (recursive partial or layout?)",
	       "a partial including itself hits the depth limit");
	const char *r = RS(s, "ping", "{}");
	ok(strncmp(r, "ERROR: ", 7) == 0 && strstr(r, "include depth over 16"), "mutual recursion stops: %s", r);
	is_str(RS(s, "tree", "{\"name\":\"r\",\"kids\":[{\"name\":\"a\",\"kids\":[{\"name\":\"c\",\"kids\":[]}]},"
	                     "{\"name\":\"b\",\"kids\":[]}]}"),
	       "r(a(c())b())", "a recursive partial over a tree works");
	r = RS(s, "tree", "{\"name\":\"r\",\"kids\":[{\"name\":\"leaf\"}]}");
	ok(strstr(r, "include depth over 16") != NULL,
	   "a leaf without its own kids finds the parent's (outward lookup) and recursion stops");
	r = RS(s, "l1", "{}");
	ok(strstr(r, "include depth over 16") != NULL, "circular layouts stop at render: %s", r);
	is_int(tpl_check(s, err, sizeof err), -1, "tpl_check refuses circular layouts");
	ok(strstr(err, "circular") != NULL, "  message: %s", err);
	is_str(RS(s, "zzz", "{}"), "ERROR: template \"zzz\" not found", "unknown template");

	is_int(tpl_add(s, "foot", "v2", 2, err, sizeof err), 0, "tpl_add replaces a template");
	is_str(RS(s, "foot", "{}"), "v2", "  the new version renders");
	is_int(tpl_add(s, "foot", "{{#if x}}", 9, err, sizeof err), -1, "a broken replacement is refused");
	is_str(RS(s, "foot", "{}"), "v2", "  and the old version stays");
	tpl_free(s);

	static const char *const missing[] = {
		"page", "x\n{{> nope}}",
		NULL,
	};
	s = set_of(missing);
	is_int(tpl_check(s, err, sizeof err), -1, "tpl_check: missing partial");
	is_str(err, "page:2: partial \"nope\" not found", "  message names template and line");
	is_str(RS(s, "page", "{}"), "ERROR: page:2: partial \"nope\" not found", "  render reports it too");
	tpl_free(s);
	static const char *const nolayout[] = {
		"page", "\n{{layout \"gone\"}}x",
		NULL,
	};
	s = set_of(nolayout);
	is_int(tpl_check(s, err, sizeof err), -1, "tpl_check: missing layout");
	is_str(err, "page:2: layout \"gone\" not found", "  message names template and line");
	tpl_free(s);
}

static void test_limits(void)
{
	static const char *const pairs[] = {
		"boom", "{{#each a}}{{#each a}}{{#each a}}{{#each a}}{{#each a}}{{#each a}}x"
		        "{{/each}}{{/each}}{{/each}}{{/each}}{{/each}}{{/each}}",
		"big", "{{#each a}}0123456789{{/each}}",
		NULL,
	};
	tpl_set *s = set_of(pairs);
	tpl_limits(s, 1000, 0);
	const char *r = RS(s, "boom", "{\"a\":[1,2,3,4,5,6,7,8,9,10]}");
	ok(strstr(r, "render stopped after 1000 steps") != NULL, "step limit stops a runaway template: %.60s", r);
	tpl_limits(s, 0, 50);
	r = RS(s, "big", "{\"a\":[1,2,3,4,5,6,7,8,9,10]}");
	ok(strstr(r, "output over 50 bytes") != NULL, "output limit: %.60s", r);
	is_str(RS(s, "big", "{\"a\":[1,2,3]}"), "012345678901234567890123456789", "  small output passes");
	tpl_free(s);
}

static void test_syntax_errors(void)
{
	static const struct { const char *src, *want; } cases[] = {
		{"a\n{{foo bar}}", "string:2: unknown tag {{foo bar}}"},
		{"{{#if a}}\nx\n", "string:1: {{#if}} is not closed"},
		{"{{#each a}}{{#if b}}\n", "string:1: {{#if}} is not closed"},
		{"\n\n{{#if a}}{{/each}}", "string:3: {{/each}} does not match {{#if}} opened on line 3"},
		{"{{#each a}}\n{{/unless}}", "string:2: {{/unless}} does not match {{#each}} opened on line 1"},
		{"x\n{{/if}}", "string:2: {{/if}} without an open block"},
		{"x\ny\n{{ab", "string:3: unterminated {{"},
		{"x\ny\n{{ab}", "string:3: unterminated {{"},
		{"{{else}}", "string:1: {{else}} outside a block"},
		{"{{#if a}}\n{{else}}\n{{else}}{{/if}}", "string:3: second {{else}} in {{#if}} opened on line 1"},
		{"{{#while a}}{{/while}}", "string:1: unknown block {{#while a}}"},
		{"{{#if}}{{/if}}", "string:1: a value name must follow the block word in {{#if}}"},
		{"{{#if a b}}{{/if}}", "string:1: expected one value name in {{#if a b}}"},
		{"{{/if x}}", "string:1: unexpected text in {{/if x}}"},
		{"{{ }}", "string:1: empty tag {{}}"},
		{"{{a..b}}", "string:1: bad value name in {{a..b}}"},
		{"{{.a}}", "string:1: bad value name in {{.a}}"},
		{"{{@foo}}", "string:1: bad value name in {{@foo}}"},
		{"{{>}}", "string:1: expected one template name in {{>}}"},
		{"{{> a b}}", "string:1: expected one template name in {{> a b}}"},
		{"<p>{{x}}</p>\n{{layout \"base\"}}", "string:2: {{layout}} must be the first tag"},
		{"{{layout \"a\"}}{{layout \"b\"}}", "string:1: {{layout}} must be the first tag"},
		{"{{layout base}}", "string:1: expected a quoted template name in {{layout base}}"},
		{"{{layout}}", "string:1: expected a quoted template name in {{layout}}"},
		{"{{!\ncomment\n}}\n{{bad tag}}", "string:4: unknown tag {{bad tag}}"},
		{"{{x\t|\tnope}}\n", "string:1: unknown filter (url, href or json) in {{x\t|\tnope}}"},
		{"{{aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa bb}}",
		 "string:1: unknown tag {{aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa}}..."},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char want[300];
		snprintf(want, sizeof want, "ERROR: %s", cases[i].want);
		is_str(R(cases[i].src, "{}"), want, "load error %zu: %s", i, cases[i].want);
	}
	is_str(R("{{x}", "{\"x\":1}"), "ERROR: string:1: unterminated {{", "\"}\" alone does not close a tag");
	is_str(R("a}}b{", "{}"), "a}}b{", "stray braces in text are text");

	/* nesting: 64 blocks are fine, 65 are refused */
	buf src = BUF_INIT;
	for (int i = 0; i < 64; i++)
		buf_adds(&src, "{{#if a}}");
	buf_adds(&src, "in");
	for (int i = 0; i < 64; i++)
		buf_adds(&src, "{{/if}}");
	is_str(R(buf_str(&src), "{\"a\":1}"), "in", "64 nested blocks render");
	buf_reset(&src);
	for (int i = 0; i < 65; i++)
		buf_adds(&src, "{{#if a}}");
	is_str(R(buf_str(&src), "{}"), "ERROR: string:1: blocks nested deeper than 64", "65 nested blocks refused");
	buf_free(&src);
}

/* Writes dir/name with text; a failure is a failed test. */
static void put(const char *dir, const char *name, const char *text)
{
	char path[512];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	if (!f || fputs(text, f) < 0 || fclose(f) != 0)
		ok(0, "write %s", path);
}

static void rm(const char *dir, const char *name)
{
	char path[512];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	if (unlink(path) < 0 && rmdir(path) < 0)
		ok(0, "remove %s", path);
}

static void test_load_dir(void)
{
	char dir[] = "/tmp/t_tmpl.XXXXXX";
	if (!mkdtemp(dir)) {
		ok(0, "mkdtemp");
		return;
	}
	char sub[600];
	put(dir, "base.html", "<html>{{yield}}</html>\n");
	put(dir, "home.html", "{{layout \"base\"}}<h1>{{title}}</h1>{{> card}}");
	put(dir, "card.html", "<div>{{title | url}}</div>");
	put(dir, "notes.txt", "{{#if broken");
	put(dir, ".hidden.html", "{{#if broken");
	snprintf(sub, sizeof sub, "%s/folder.html", dir);
	ok(mkdir(sub, 0700) == 0, "make a folder named like a template");

	tpl_set *s = tpl_new();
	is_int(tpl_load_dir(s, dir, err, sizeof err), 3, "tpl_load_dir loads the *.html files only (%s)", err);
	is_int(tpl_has(s, "card") + tpl_has(s, "notes") + tpl_has(s, "folder") + tpl_has(s, ".hidden"), 1,
	       "names are file names without .html");
	is_str(RS(s, "home", "{\"title\":\"a b\"}"), "<html><h1>a b</h1><div>a%20b</div></html>\n",
	       "a loaded page renders with its layout and partial");
	tpl_free(s);

	put(dir, "broken.html", "ok\n{{#each xs}}\n");
	s = tpl_new();
	is_int(tpl_load_dir(s, dir, err, sizeof err), -1, "a broken file fails the load");
	is_str(err, "broken:2: {{#each}} is not closed", "  with its name and line");
	tpl_free(s);
	rm(dir, "broken.html");

	put(dir, "orphan.html", "{{> missing}}");
	s = tpl_new();
	is_int(tpl_load_dir(s, dir, err, sizeof err), -1, "a missing partial fails the load");
	is_str(err, "orphan:1: partial \"missing\" not found", "  message");
	tpl_free(s);
	rm(dir, "orphan.html");

	s = tpl_new();
	snprintf(sub, sizeof sub, "%s/absent", dir);
	is_int(tpl_load_dir(s, sub, err, sizeof err), -1, "a missing folder fails");
	ok(strstr(err, "absent") != NULL, "  message names the folder: %s", err);
	is_int(tpl_load_dir(s, dir, NULL, 0), 3, "err may be NULL");
	tpl_free(s);

	rm(dir, "base.html");
	rm(dir, "home.html");
	rm(dir, "card.html");
	rm(dir, "notes.txt");
	rm(dir, ".hidden.html");
	rm(dir, "folder.html");
	ok(rmdir(dir) == 0, "temp folder cleaned up");
}

int main(void)
{
	test_escaping();
	test_values();
	test_each();
	test_truthiness();
	test_partials_layouts();
	test_limits();
	test_syntax_errors();
	test_load_dir();
	buf_free(&out);
	return tap_done();
}
