-- portal.text and portal.csv, as a plugin importing a spreadsheet uses them.
local gbk = "\xD5\xC5\xC8\xFD,\xB5\xE7\xBB\xB0"          -- "张三,电话" in GBK

T.test("GBK and GB18030 bytes decode to the right UTF-8", function()
  T.eq(portal.text.decode(gbk, "gbk"), "张三,电话")
  T.eq(portal.text.decode(gbk, "GB18030"), "张三,电话")
  T.eq(portal.text.decode("\x81\x30\x81\x30", "gb18030"), "\u{80}", "a four-byte GB18030 sequence")
  T.eq(portal.text.decode("plain", "utf-8"), "plain")
end)

T.test("invalid bytes give nil, \"invalid\" and the offset", function()
  local s, err, off = portal.text.decode("AB\xFF\xFFC", "gbk")
  T.eq(s, nil)
  T.eq(err, "invalid")
  T.eq(off, 2)
  s, err, off = portal.text.decode("ab\xD5", "gbk")          -- cut off in the middle of a character
  T.eq(err, "invalid")
  T.eq(off, 2)
  s, err, off = portal.text.decode("\xE5\xBC\xA0\xC0\xAF", "utf-8")  -- an overlong "/"
  T.eq(err, "invalid")
  T.eq(off, 3)
  s, err, off = portal.text.decode("a\xED\xA0\x80", "utf-8")       -- a surrogate
  T.eq(err, "invalid")
  T.eq(off, 1)
  s, err, off = portal.text.decode("ok\0no", "utf-8")
  T.eq(err, "invalid")
  T.eq(off, 2, "a NUL is not text")
  T.fails(function() portal.text.decode("x", "big5") end, "unknown encoding")
end)

T.test("is_utf8", function()
  T.eq(portal.text.is_utf8("张三"), true)
  T.eq(portal.text.is_utf8(gbk), false)
  T.eq(portal.text.is_utf8("\xED\xA0\x80"), false, "a surrogate")
end)

T.test("csv.parse: quotes, doubled quotes, line ends in cells, CRLF and LF, BOM, blank lines", function()
  local text = "\xEF\xBB\xBF姓名,备注\r\n\"王,五\",\"说\"\"你好\"\"\"\r\n\r\n李四,\"第一行\r\n第二行\"\n赵六,\n"
  local rows, lines = portal.csv.parse(text)
  T.eq(#rows, 4)
  T.eq(rows[1][1], "姓名", "the BOM is dropped")
  T.eq(rows[2][1], "王,五")
  T.eq(rows[2][2], "说\"你好\"")
  T.eq(rows[3][2], "第一行\r\n第二行")
  T.eq(rows[4][1], "赵六")
  T.eq(rows[4][2], "", "a trailing comma is an empty last cell")
  T.eq(#rows[4], 2)
  T.eq(table.concat(lines, ","), "1,2,4,6", "the line each row starts on")
  T.eq(#portal.csv.parse(""), 0)
end)

T.test("csv.parse reports malformed lines in Chinese", function()
  local rows, msg, line = portal.csv.parse("a,b\nc,\"d\ne,f\n")
  T.eq(rows, nil)
  T.eq(line, 2, "an unclosed quote: the line where it opened")
  T.match(msg, "^第 2 行：引号没有闭合")
  rows, msg, line = portal.csv.parse("a,b\nc,d\ne,x\"y\"\n")
  T.eq(line, 3)
  T.match(msg, "引号")
  rows, msg, line = portal.csv.parse("\"a\"b,c\n")
  T.eq(line, 1)
  T.match(msg, "结束的引号后面")
  rows, msg, line = portal.csv.parse("ok\n" .. gbk .. "\n")
  T.eq(line, 2)
  T.match(msg, "UTF%-8")
end)

T.test("csv.encode neutralises = + - @ and quotes like the core's export", function()
  local out = portal.csv.encode({ { "=SUM(A1)", "+1", "-1", "@x", "\tx", "a\"b", "平常" }, { 12, 1.5 } })
  T.eq(out, "\xEF\xBB\xBF'=SUM(A1),'+1,'-1,'@x,'\tx,\"a\"\"b\",平常\r\n12,1.5\r\n")
  T.fails(function() portal.csv.encode({ { {} } }) end, "row 1, cell 1")
  -- what parse reads back is what was written (apart from the neutralising quote)
  local rows = portal.csv.parse(portal.csv.encode({ { "a,b", "c\nd" } }))
  T.eq(rows[1][1], "a,b")
  T.eq(rows[1][2], "c\nd")
end)

T.test("registration.keys: one key per couple, whichever of them registers", function()
  local a = T.hook("registration.keys", { kind = "pair_day", name = "刘伟", phone = "13900000001",
                                          answers = { partner = "13900000002" } })
  local b = T.hook("registration.keys", { kind = "pair_day", name = "陈静", phone = "13900000002",
                                          answers = { partner = "13900000001" } })
  T.eq(a[1].result[1].key, b[1].result[1].key)
  T.eq(a[1].result[1].message, "这对夫妇本轮已经报名。")
  T.eq(#T.hook("registration.keys", { kind = "general", name = "x", phone = "13900000001", answers = {} }), 0)
  T.fails(function() T.hook("registration.keys", { kind = "pair_day", name = "钥匙出错", phone = "1", answers = { partner = "2" } }) end)
end)

T.test("a signed-in user's JSON POST carries the session's CSRF token; without it, 403", function()
  local staff = { roles = { "staff" } }
  local r = T.request{ method = "POST", path = "/export", api = true, user = staff, json = { rows = { { "a" } } } }
  T.eq(r.status, 200, r.body)
  r = T.request{ method = "POST", path = "/export", api = true, user = staff, json = { rows = { { "a" } } }, csrf = false }
  T.eq(r.status, 403, r.body)
end)
