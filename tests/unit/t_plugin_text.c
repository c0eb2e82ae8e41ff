/* t_plugin_text.c - the CSV reader and the decoder behind portal.csv and portal.text. */
#include "plugin_text.h"
#include "tap.h"
#include <stdlib.h>
#include <string.h>

/* Rows written as "a|b;c|d;" with the start line of each row: "1:a|b;3:c;". */
struct shown {
	buf b;
	int cells;
};

static int show_cell(void *ctx, const char *s, size_t n)
{
	struct shown *w = ctx;
	buf_adds(&w->b, w->cells++ ? "|" : "");
	buf_add(&w->b, s, n);
	return 0;
}

static int show_row(void *ctx, size_t line)
{
	struct shown *w = ctx;
	buf_printf(&w->b, "@%zu;", line);
	w->cells = 0;
	return 0;
}

/* The rows of text as a string, or "ERR line: msg". */
static char *rows(const char *text)
{
	struct shown w = {BUF_INIT, 0};
	ptx_csv_sink sink = {show_cell, show_row, &w};
	size_t n = strlen(text), line = 0;
	char *scratch = malloc(n + 1);
	const char *msg = NULL;
	int rc = ptx_csv_read(text, n, scratch, &sink, &line, &msg);
	free(scratch);
	if (rc != 0) {
		buf_reset(&w.b);
		buf_printf(&w.b, "ERR %zu: %s", line, msg ? msg : "?");
	}
	char *out = strdup(buf_str(&w.b));
	buf_free(&w.b);
	return out;
}

static void is_rows(const char *text, const char *want, const char *name)
{
	char *got = rows(text);
	is_str(got, want, "%s", name);
	free(got);
}

static void test_csv(void)
{
	is_rows("a,b\r\nc,d\r\n", "a|b@1;c|d@2;", "CRLF");
	is_rows("a,b\nc,d", "a|b@1;c|d@2;", "LF, no line end at the end");
	is_rows("\xEF\xBB\xBF" "a\n", "a@1;", "a leading BOM is dropped");
	is_rows("\"a,b\",\"say \"\"hi\"\"\"\n", "a,b|say \"hi\"@1;", "quoted commas and doubled quotes");
	is_rows("\"one\ntwo\",x\nnext\n", "one\ntwo|x@1;next@3;", "a line end inside quotes; the next row's line");
	is_rows("\"one\r\ntwo\"\r\n", "one\r\ntwo@1;", "CRLF inside quotes is kept");
	is_rows("a\n\n\r\nb\n", "a@1;b@4;", "blank lines are skipped but counted");
	is_rows("a,\n,b\n,\n", "a|@1;|b@2;|@3;", "empty cells");
	is_rows("a\rb\n", "a\rb@1;", "a lone CR is data");
	is_rows("\"\"\n", "@1;", "an empty quoted cell");
	is_rows("", "", "empty text");
	is_rows("a\n\"b\nc", "ERR 2: 引号没有闭合（单元格以引号开头，但直到文件结尾都没有结束的引号）。", "unclosed quote: where it opened");
	is_rows("a\nb\nc\"d\n", "ERR 3: 没有用引号括起的单元格里不能有引号（\"）。", "a bare quote");
	is_rows("\"a\nb\"x\n", "ERR 2: 结束的引号后面只能是逗号或换行。", "text after the closing quote, on the cell's last line");
	is_rows("\"a\"\r\n", "a@1;", "a closing quote then CRLF");
	is_rows("\"a\"\r", "a@1;", "a closing quote then CR at the end");
}

static void test_decode(void)
{
	buf out = BUF_INIT;
	size_t bad = 99;
	is_int(ptx_decode("\xD5\xC5\xC8\xFD", 4, "gbk", &out, &bad), 0, "GBK 张三");
	is_str(buf_str(&out), "张三", "decoded to UTF-8");
	buf_reset(&out);
	is_int(ptx_decode("\x81\x30\x81\x30", 4, "GB18030", &out, &bad), 0, "GB18030 four-byte");
	is_str(buf_str(&out), "\xC2\x80", "U+0080");
	buf_reset(&out);
	is_int(ptx_decode("ab\xFF\xFF", 4, "gbk", &out, &bad), -1, "invalid GBK");
	is_int(bad, 2, "offset of the first bad byte");
	buf_reset(&out);
	is_int(ptx_decode("abc\xD5", 4, "gbk", &out, &bad), -1, "cut off at the end");
	is_int(bad, 3, "offset of the cut character");
	buf_reset(&out);
	is_int(ptx_decode("ab\0cd", 5, "utf-8", &out, &bad), -1, "NUL");
	is_int(bad, 2, "offset of the NUL");
	buf_reset(&out);
	is_int(ptx_decode("\xED\xA0\x80", 3, "utf-8", &out, &bad), -1, "a UTF-16 surrogate is not UTF-8");
	is_int(bad, 0, "at the start");
	buf_reset(&out);
	is_int(ptx_decode("x", 1, "latin1", &out, &bad), -2, "unknown encoding");
	buf_free(&out);
}

int main(void)
{
	test_csv();
	test_decode();
	return tap_done();
}
