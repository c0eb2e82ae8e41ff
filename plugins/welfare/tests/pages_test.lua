-- pages_test.lua - the staff pages render, mask phones, audit the views; the public notice
-- shows masked names during the posting period only.
local STAFF = { roles = { "staff" }, username = "pages_staff" }
local BOSS = { roles = { "approver" }, username = "pages_boss" }

local function post(path, form, user)
  return T.request{ method = "POST", path = path, form = form, user = user or STAFF }
end

local today = portal.time.today()
local later = portal.time.date("%Y-%m-%d", portal.time.now() + 10 * 86400)

T.test("staff build a campaign on the pages, an approver approves it, the desk hands out", function()
  local r = T.request{ method = "POST", path = "/households", api = true, user = STAFF,
                       json = { head_name = "欧阳秀华", members = 3, address = "页面楼1号", building = "8号楼",
                                grid = "pg", phone = "13912345678", categories = "失独家庭" } }
  T.eq(r.status, 201, r.body)
  local hid = r.json.id
  local np = T.request{ path = "/campaigns/new", user = STAFF }
  T.eq(np.status, 200)
  -- tap-sized choice rows, not bare labels with line breaks
  T.match(np.body, '<label class="choice"><input type="checkbox" name="categories" value="gugua" checked> 孤寡老人</label>')
  T.ok(not np.body:find("</label><br>"), "no bare label rows")
  r = post("/campaigns/new", { name = "", starts_on = today, ends_on = later, categories = { "shidu" },
                               items_text = "大米,5,袋", rules_text = "全部: 大米=1" })
  T.eq(r.status, 422)
  T.match(r.body, "请填写活动名称")
  r = post("/campaigns/new", { name = "页面测试", starts_on = today, ends_on = later, notice_from = today,
                               notice_to = later, categories = { "shidu" },
                               items_text = "大米,500,袋\n面粉,500,袋", rules_text = "全部: 大米=1\n3人以上: 面粉=1" })
  T.eq(r.status, 303, r.body)
  local cid = tonumber(r.location:match("/campaigns/(%d+)$"))
  T.ok(cid, r.location)
  T.eq(post("/campaigns/" .. cid .. "/draft").status, 303)
  -- the notice is not public before approval
  T.eq(T.request{ path = "/notice/" .. cid }.status, 404)
  local page = T.request{ path = "/campaigns/" .. cid, user = BOSS }
  T.eq(page.status, 200)
  T.eq(page.data.can_approve, true)
  T.match(page.body, "欧阳秀华")
  T.match(page.body, "139%*%*%*%*5678")
  T.ok(not page.body:find("13912345678"), "no full phone on the list")
  -- the drafter is not offered the approval, and is refused it
  T.eq(T.request{ path = "/campaigns/" .. cid, user = { roles = { "staff", "approver" }, username = "pages_staff" } }.data.can_approve, false)
  r = post("/campaigns/" .. cid .. "/approve", {}, { roles = { "staff", "approver" }, username = "pages_staff" })
  T.eq(r.status, 403)
  T.match(r.body, "另一位审批人")
  T.eq(post("/campaigns/" .. cid .. "/approve", {}, BOSS).status, 303)

  -- the public notice: masked name, building, nothing else
  local n = T.request{ path = "/notice/" .. cid }
  T.eq(n.status, 200)
  T.match(n.body, "欧%*华")
  T.ok(not n.body:find("欧阳秀华"), "the full name is not public")
  T.ok(not n.body:find("页面楼1号") and not n.body:find("5678"), "no address or phone on the notice")

  -- the desk: find by phone tail, a proxy without a name is refused on the page
  local d = T.request{ path = "/campaigns/" .. cid .. "/desk", query = { q = "5678" }, user = STAFF }
  T.eq(d.status, 200)
  T.match(d.body, "欧阳秀华")
  T.match(d.body, "大米1袋、面粉1袋")
  r = post("/campaigns/" .. cid .. "/desk/" .. hid, { mode = "proxy", sign_mode = "paper", q = "5678" })
  T.eq(r.status, 422)
  T.match(r.body, "代领人的姓名")
  r = post("/campaigns/" .. cid .. "/desk/" .. hid, { mode = "proxy", proxy_name = "欧阳明", proxy_id_tail = "0017",
                                                      sign_mode = "paper", q = "5678" })
  T.eq(r.status, 303, r.body)
  T.match(r.location, "done=" .. hid)
  -- the success message names the household (masked head, address), never its internal id
  local ok_page = T.request{ path = r.location, user = STAFF }
  T.eq(ok_page.status, 200)
  T.match(ok_page.body, '<div class="notice notice%-ok" role="status"><p>已登记领取：欧%*华，页面楼1号。</p>')
  T.ok(not ok_page.body:find("住户编号"), "no internal number in the message")
  -- a household that did not receive in this campaign gets no message
  local other = T.request{ path = "/campaigns/" .. cid .. "/desk", query = { done = tostring(hid + 100000) }, user = STAFF }
  T.ok(not other.body:find("已登记领取"), "no message for a household without a receipt")
  d = T.request{ path = "/campaigns/" .. cid .. "/desk", query = { q = "欧阳" }, user = STAFF }
  T.match(d.body, '<p class="notice notice%-ok">这一户已于[^<]*由欧阳明代领（证件尾号0017）')
  r = post("/campaigns/" .. cid .. "/desk/" .. hid, { mode = "self", sign_mode = "paper" })
  T.eq(r.status, 409)
  T.match(r.body, "这一户已于")

  -- the printed sheet of the grid masks phones; CSV and summary
  local sh = T.request{ path = "/campaigns/" .. cid .. "/sheet", query = { grid = "pg" }, user = STAFF }
  T.eq(sh.status, 200)
  T.match(sh.body, "%*%*%*%*5678")
  T.ok(not sh.body:find("13912345678"))
  T.match(sh.body, "网格 pg")
  local csv = T.request{ path = "/campaigns/" .. cid .. "/receipts.csv", user = STAFF }
  T.eq(csv.status, 200)
  T.match(csv.body, "欧阳明")
  T.match(csv.body, "0017")
  T.ok(not csv.body:find("13912345678"))
  local s = T.request{ path = "/campaigns/" .. cid .. "/summary", user = STAFF }
  T.eq(s.status, 200)
  T.eq(s.data.s.households.served, 1)
  T.eq(s.data.s.receipts_by_mode.proxy, 1)
  T.eq(T.request{ path = "/", user = STAFF }.status, 200)
  T.eq(T.request{ path = "/households", query = { q = "欧阳" }, user = STAFF }.status, 200)
  local ip = T.request{ path = "/households/import", user = STAFF }
  T.eq(ip.status, 200)
  T.match(ip.body, '<label class="choice"><input type="radio" name="encoding" value="auto" checked> 自动识别</label>')
  T.ok(not ip.body:find("</label><br>"), "no bare label rows")
end)

T.test("a grid worker's delivery page lists only their own grid", function()
  local r = T.request{ method = "POST", path = "/households", api = true, user = STAFF,
                       json = { head_name = "网格甲", members = 1, address = "网格楼1号", grid = "ga", categories = "其他" } }
  local a = r.json.id
  T.request{ method = "POST", path = "/households", api = true, user = STAFF,
             json = { head_name = "网格乙", members = 1, address = "网格楼2号", grid = "gb", categories = "其他" } }
  r = post("/campaigns/new", { name = "送上门", starts_on = today, ends_on = later, categories = { "other" },
                               items_text = "食用油,100,桶", rules_text = "其他: 食用油=1" })
  local cid = tonumber(r.location:match("(%d+)$"))
  post("/campaigns/" .. cid .. "/draft")
  post("/campaigns/" .. cid .. "/approve", {}, BOSS)
  local gw = { roles = { "grid" }, username = "gw_a", grid = "ga" }
  local p = T.request{ path = "/campaigns/" .. cid .. "/deliver", user = gw }
  T.eq(p.status, 200)
  T.match(p.body, "网格甲")
  T.ok(not p.body:find("网格乙"), "another grid's household is not shown")
  r = post("/campaigns/" .. cid .. "/deliver/" .. a, { sign_mode = "paper" }, gw)
  T.eq(r.status, 303, r.body)
  T.eq(T.request{ path = "/campaigns/" .. cid .. "/sheet", user = gw }.status, 403, "the sheet is for staff")
  -- a volunteer sees no list, only what a search finds
  local vol = { roles = { "volunteer" }, username = "vol1" }
  p = T.request{ path = "/campaigns/" .. cid .. "/deliver", user = vol }
  T.eq(p.status, 200)
  T.ok(not p.body:find("网格乙"), "no list for a volunteer")
  p = T.request{ path = "/campaigns/" .. cid .. "/deliver", query = { q = "网格乙" }, user = vol }
  T.match(p.body, "网格乙")
end)
