-- import_test.lua - households from the office's spreadsheet (CSV, UTF-8 or GBK): every bad
-- row reported with its row number, nothing written unless every row is good.
local importer = require("lib.importer")
local db = portal.db

local STAFF = { roles = { "staff" }, username = "importer" }
local HEADER = "户主姓名,人口数,地址,楼栋,网格,联系电话,类别,备注\r\n"

-- "张秀华" in GBK: D5C5 D0E3 BBAA; "低保" D8B5 B1A3
local GBK_FILE = "\xbb\xa7\xd6\xf7\xd0\xd5\xc3\xfb,\xc8\xcb\xbf\xda\xca\xfd,\xb5\xd8\xd6\xb7,\xc0\xe0\xb1\xf0\r\n" ..
                 "\xd5\xc5\xd0\xe3\xbb\xaa,2,GBK\xc2\xa5101,\xb5\xcd\xb1\xa3\r\n"

local function count()
  return db.count("households", {})
end

local function messages(res)
  local out = {}
  for _, e in ipairs(res.errors) do
    out[#out + 1] = e.message
  end
  return table.concat(out, "\n")
end

T.test("a good UTF-8 file (with a BOM, quotes and CRLF) is checked, then imported whole", function()
  local csv = "\u{FEFF}" .. HEADER ..
    "王秀英,1,导入1号楼101,1号楼,网格一,13800001111,孤寡老人,\r\n" ..
    "\"李, 建国\",4,导入1号楼102,1号楼,网格一,138-0000-2222,\"低保、残疾\",\"轮椅，需送上门\"\r\n" ..
    ",,,,,,,\r\n"
  local before = count()
  local res, err = importer.check(csv, "auto")
  T.ok(res, err)
  T.eq(#res.errors, 0, messages(res))
  T.eq(#res.rows, 2)
  T.eq(res.rows[2].head_name, "李, 建国")
  T.eq(res.rows[2].phone, "13800002222")
  T.eq(res.rows[2].categories, "dibao,canji")
  T.eq(res.rows[2].line, 3)
  T.eq(count(), before, "checking writes nothing")
  T.eq(importer.commit(res.rows, "importer"), 2)
  T.eq(count(), before + 2)
end)

T.test("GBK from Excel is read when chosen or detected, and refused as UTF-8 with its row", function()
  local res, err = importer.check(GBK_FILE, "gbk")
  T.ok(res, err)
  T.eq(res.rows[1].head_name, "张秀华")
  T.eq(res.rows[1].categories, "dibao")
  res = importer.check(GBK_FILE, "auto")
  T.eq(res.rows[1].head_name, "张秀华")
  local none, msg = importer.check(GBK_FILE, "utf-8")
  T.eq(none, nil)
  T.match(msg, "^第1行：文件不是UTF%-8编码")
  -- valid UTF-8 header, then a GBK row: the error names row 2
  none, msg = importer.check(HEADER .. "\xd5\xc5\xd0\xe3\xbb\xaa,2,x,,,,\xb5\xcd\xb1\xa3\r\n", "utf-8")
  T.eq(none, nil)
  T.match(msg, "^第2行：")
  -- bytes that are neither
  none, msg = importer.check(HEADER .. "\xff\xff\xff,2,x,,,,低保\r\n", "auto")
  T.eq(none, nil)
  T.match(msg, "^第2行：文件里有无法识别的文字")
end)

T.test("bad rows are all reported with their row numbers and nothing is written", function()
  local before = count()
  local csv = HEADER ..
    "赵大爷,2,坏行楼1号,,,,孤寡老人,\n" ..          -- 2: fine
    ",3,坏行楼2号,,,,低保,\n" ..                     -- 3: no head
    "钱大妈,三,坏行楼3号,,,,低保,\n" ..              -- 4: members not a number
    "赵大爷,2,坏行楼1号,,,,孤寡老人,\n" ..          -- 5: same household as row 2
    "孙奶奶,1,坏行楼5号,,,12345,残疾,\n" ..          -- 6: not a phone number
    "周爷爷,1,坏行楼6号,,,,学生,\n" ..               -- 7: unknown category
    "王秀英,1,导入1号楼101,,,,孤寡老人,\n"           -- 8: imported by the first test
  local res, err = importer.check(csv, "auto")
  T.ok(res, err)
  local m = messages(res)
  T.match(m, "第3行：没有填户主姓名")
  T.match(m, "第4行：人口数“三”不是1到30之间的数字")
  T.match(m, "第5行：和第2行是同一户")
  T.match(m, "第6行：联系电话“12345”不是有效的号码")
  T.match(m, "第7行：不认识类别“学生”")
  T.match(m, "第8行：这一户已经在住户名单里了")
  T.eq(#res.errors, 6)
  T.eq(count(), before)
end)

T.test("a file without the required columns or broken quoting is refused as a whole", function()
  local none, msg = importer.check("姓名,地址\n张三,1号楼\n", "auto")
  T.eq(none, nil)
  T.match(msg, "第1行：表头里没有“人口数”这一列")
  none, msg = importer.check(HEADER .. "张三,1,\"1号楼\n", "auto")
  T.eq(none, nil)
  T.match(msg, "^第%d+行：")
  none, msg = importer.check("", "auto")
  T.eq(none, nil)
end)

T.test("a household that appears between check and commit rolls the whole import back", function()
  local csv = HEADER .. "甲一,1,回滚楼1号,,,,低保,\n甲二,1,回滚楼2号,,,,低保,\n甲三,1,回滚楼3号,,,,低保,\n"
  local res = importer.check(csv, "auto")
  T.eq(#res.errors, 0, messages(res))
  -- meanwhile someone types in the third household by hand
  local r = T.request{ method = "POST", path = "/households", api = true, user = STAFF,
                       json = { head_name = "甲三", members = 1, address = "回滚楼3号", categories = "低保" } }
  T.eq(r.status, 201, r.body)
  local before = count()
  local n, err = importer.commit(res.rows, "importer")
  T.eq(n, nil)
  T.match(err, "第4行")
  T.match(err, "整个文件都没有导入")
  T.eq(count(), before, "the first two rows were rolled back")
  T.eq(db.count("households", { head_name = "甲一" }), 0)
end)

T.test("the API checks, previews and imports a CSV text; bad rows answer 422 with row numbers", function()
  local bad = HEADER .. "丙一,1,接口楼1号,,,,低保,\n,2,接口楼2号,,,,低保,\n"
  local before = count()
  local r = T.request{ method = "POST", path = "/households/import", api = true, user = STAFF,
                       json = { csv = bad, confirm = true } }
  T.eq(r.status, 422)
  T.eq(r.json.errors[1].line, 3)
  T.match(r.json.errors[1].message, "第3行：没有填户主姓名")
  T.eq(count(), before)
  local good = HEADER .. "丙一,1,接口楼1号,,,,低保,\n丙二,2,接口楼2号,,,,低保,\n"
  r = T.request{ method = "POST", path = "/households/import", api = true, user = STAFF, json = { csv = good } }
  T.eq(r.status, 200, r.body)
  T.eq(r.json.count, 2)
  T.eq(count(), before, "a preview writes no household")
  -- the preview's confirmation page imports it, once, and only for the one who uploaded it
  local id = r.json.import_id
  T.eq(T.request{ method = "POST", path = "/households/import/" .. id .. "/confirm",
                  user = { roles = { "staff" }, username = "someone_else" } }.status, 409)
  T.eq(count(), before)
  r = T.request{ method = "POST", path = "/households/import/" .. id .. "/confirm", user = STAFF }
  T.eq(r.status, 303)
  T.match(r.location, "imported=2")
  T.eq(count(), before + 2)
  T.eq(T.request{ method = "POST", path = "/households/import/" .. id .. "/confirm", user = STAFF }.status, 409)
  T.eq(count(), before + 2)
end)
