-- flow_test.lua - a campaign from households to close: the list drawn up, approved by a second
-- person and frozen, receipts at the desk and at home, the stock checked after every step.

local DRAFTER = { roles = { "staff" }, username = "drafter" }
local OTHER = { roles = { "staff" }, username = "colleague" }
local BOSS = { roles = { "approver" }, username = "boss" }
local DRAFTER_APPROVER = { roles = { "staff", "approver" }, username = "drafter" }

-- An API call as a signed-in staff member: a POST sends its fields as JSON (with the
-- session's CSRF token in X-CSRF-Token, as the portal's own scripts do).
local function api(method, path, fields, user)
  return T.request{ method = method, path = path, api = true, json = method ~= "GET" and (fields or {}) or nil,
                    user = user or DRAFTER }
end

local seq = 0
-- A household with a fresh name; returns its id.
local function household(fields)
  seq = seq + 1
  local body = { head_name = "测试户" .. seq, members = 2, address = "流程楼" .. seq .. "号",
                 building = "1号楼", grid = "g1", phone = string.format("1390000%04d", seq),
                 categories = "孤寡老人" }
  for k, v in pairs(fields or {}) do body[k] = v end
  local r = api("POST", "/households", body)
  T.eq(r.status, 201, r.body)
  return r.json.id
end

-- The campaign's stock as { code = item } after asserting that it is consistent.
local function stock(cid)
  local r = api("GET", "/campaigns/" .. cid)
  T.eq(r.status, 200, r.body)
  T.eq(r.json.consistent, true, "stock consistent: " .. portal.json.encode(r.json.problems))
  local out = {}
  for _, it in ipairs(r.json.stock) do
    T.eq(it.received - it.handed_out - it.set_aside, it.remaining, "remaining of " .. it.name)
    T.ok(it.remaining >= 0, "remaining never below zero")
    out[it.name] = it
  end
  return out, r.json
end

local function campaign(extra)
  local body = {
    name = "春节慰问" .. seq, starts_on = "2026-02-01", ends_on = "2026-02-10",
    categories = { "gugua", "dibao" },
    items = { { name = "大米", qty = 200, unit = "袋" }, { name = "食用油", qty = 200, unit = "桶" },
              { name = "面粉", qty = 100, unit = "袋" } },
    rules_text = "全部: 大米=1, 食用油=1\n3人以上: 面粉=1",
  }
  for k, v in pairs(extra or {}) do body[k] = v end
  local r = api("POST", "/campaigns", body)
  T.eq(r.status, 201, r.body)
  return r.json.id
end

T.test("a household needs a head, a whole number of members, an address and a category", function()
  local r = api("POST", "/households", { head_name = "", members = "三", address = "", categories = "学生" })
  T.eq(r.status, 422)
  T.match(r.json.error.message, "没有填户主姓名")
  T.match(r.json.error.message, "人口数“三”不是1到30之间的数字")
  T.match(r.json.error.message, "没有填地址")
  T.match(r.json.error.message, "不认识类别“学生”")
  local id = household({ head_name = "重复户", address = "重复楼1号" })
  T.ok(id)
  r = api("POST", "/households", { head_name = "重复户", address = "重复楼1号", members = 1, categories = "低保" })
  T.eq(r.status, 422)
  T.match(r.json.error.message, "已经在住户名单里")
end)

T.test("a campaign with a broken rule or no items is refused with the field", function()
  local r = api("POST", "/campaigns", { name = "坏规则", starts_on = "2026-02-01", ends_on = "2026-01-01",
    categories = { "gugua" }, items = { { name = "大米", qty = 10 } }, rules_text = "全部: 牛奶=1" })
  T.eq(r.status, 422)
  T.match(r.json.error.fields.ends_on, "不能早于")
  T.match(r.json.error.fields.rules_text, "没有叫“牛奶”的物品")
  r = api("POST", "/campaigns", { name = "没物品", starts_on = "2026-02-01", ends_on = "2026-02-02",
    items = {}, rules_text = "全部: 大米=1" })
  T.eq(r.status, 422)
  T.ok(r.json.error.fields.items and r.json.error.fields.categories)
  -- categories are a JSON list; the form workaround of one "a,b" field is gone
  r = api("POST", "/campaigns", { name = "一串类别", starts_on = "2026-02-01", ends_on = "2026-02-02",
    categories = "gugua,dibao", items = { { name = "大米", qty = 10, unit = "袋" } }, rules_text = "全部: 大米=1" })
  T.eq(r.status, 422)
  T.match(r.json.error.fields.categories, "一组类别代码")
  -- and a form body is not read by the API at all
  r = T.request{ method = "POST", path = "/campaigns", api = true, user = DRAFTER,
                 form = { name = "表单", starts_on = "2026-02-01", ends_on = "2026-02-02", categories = "gugua",
                          items_text = "大米,10,袋", rules_text = "全部: 大米=1" } }
  T.eq(r.status, 422)
end)

T.test("draft, approve by a second person, freeze, hand out, close: stock holds after every step", function()
  local small = household({ members = 2, categories = "孤寡老人" })
  local big = household({ members = 4, categories = "低保、残疾" })
  local proxy = household({ members = 3, categories = "低保" })
  local never = household({ members = 1, categories = "孤寡老人" })
  local outside = household({ members = 5, categories = "失独家庭" })
  local cid = campaign()
  local s = stock(cid)
  T.eq(s["大米"].received, 200); T.eq(s["大米"].set_aside, 0)

  -- handing out before approval is refused
  local r = api("POST", "/campaigns/" .. cid .. "/receipts", { household_id = small, mode = "self", sign_mode = "paper" })
  T.eq(r.status, 409)
  T.match(r.json.error.message, "还没有审批")

  r = api("POST", "/campaigns/" .. cid .. "/draft")
  T.eq(r.status, 200, r.body)
  T.eq(r.json.result.done, true)
  local listed = r.json.result.listed
  T.ok(listed >= 4, "the four households of the categories are listed")
  local _, info = stock(cid)
  T.eq(info.recipients.listed, listed)

  -- the one who drew up the list cannot approve it, even holding the approver role
  r = api("POST", "/campaigns/" .. cid .. "/approve", nil, DRAFTER_APPROVER)
  T.eq(r.status, 403)
  T.match(r.json.error.message, "另一位审批人")
  -- staff without the approver role cannot either
  T.eq(api("POST", "/campaigns/" .. cid .. "/approve", nil, OTHER).status, 403)
  -- a draft may be edited without a reason; the editor then cannot approve either
  r = api("POST", "/campaigns/" .. cid .. "/recipients/remove", { household_id = small }, { roles = { "staff", "approver" }, username = "editor" })
  T.eq(r.status, 200, r.body)
  r = api("POST", "/campaigns/" .. cid .. "/approve", nil, { roles = { "approver" }, username = "editor" })
  T.eq(r.status, 403)
  r = api("POST", "/campaigns/" .. cid .. "/recipients", { household_id = small }, OTHER)
  T.eq(r.status, 200, r.body)
  stock(cid)

  r = api("POST", "/campaigns/" .. cid .. "/approve", nil, BOSS)
  T.eq(r.status, 200, r.body)
  T.eq(r.json.status, "approved")
  s, info = stock(cid)
  T.eq(s["大米"].set_aside, listed, "one bag of rice per household set aside")
  T.eq(s["食用油"].set_aside, listed)
  T.ok(s["面粉"].set_aside >= 2, "flour for the two households of 3+")
  T.eq(api("POST", "/campaigns/" .. cid .. "/approve", nil, BOSS).status, 409, "approved once")

  -- frozen: no new draft, changes need a reason and are recorded
  T.eq(api("POST", "/campaigns/" .. cid .. "/draft").status, 409)
  r = api("POST", "/campaigns/" .. cid .. "/recipients", { household_id = outside })
  T.eq(r.status, 422)
  T.eq(r.json.error.code, "reason_required")
  T.eq(stock(cid)["大米"].set_aside, listed, "nothing set aside by a refused change")
  -- the 失独 household is outside the campaign's categories but staff may add it, with a reason
  r = api("POST", "/campaigns/" .. cid .. "/recipients", { household_id = outside, reason = "街道补充名单" })
  T.eq(r.status, 200, r.body)
  s = stock(cid)
  T.eq(s["大米"].set_aside, listed + 1)
  T.eq(s["面粉"].set_aside, 3)
  r = api("POST", "/campaigns/" .. cid .. "/recipients/remove", { household_id = outside })
  T.eq(r.status, 422)
  r = api("POST", "/campaigns/" .. cid .. "/recipients/remove", { household_id = outside, reason = "已搬走" })
  T.eq(r.status, 200, r.body)
  T.eq(stock(cid)["大米"].set_aside, listed)

  -- at the desk: the recipient
  r = api("POST", "/campaigns/" .. cid .. "/receipts", { household_id = small, mode = "self", sign_mode = "paper" })
  T.eq(r.status, 201, r.body)
  s = stock(cid)
  T.eq(s["大米"].handed_out, 1); T.eq(s["大米"].set_aside, listed - 1)
  -- a second time: refused, saying who and when
  r = api("POST", "/campaigns/" .. cid .. "/receipts", { household_id = small, mode = "self", sign_mode = "paper" }, OTHER)
  T.eq(r.status, 409)
  T.eq(r.json.error.code, "already_received")
  T.match(r.json.error.message, "本人领取")
  T.match(r.json.error.message, "经办人：drafter")
  T.eq(stock(cid)["大米"].handed_out, 1)

  -- a proxy needs a name and the last four characters of an ID number
  r = api("POST", "/campaigns/" .. cid .. "/receipts", { household_id = proxy, mode = "proxy", sign_mode = "paper" })
  T.eq(r.status, 422)
  T.match(r.json.error.message, "代领人的姓名")
  r = api("POST", "/campaigns/" .. cid .. "/receipts", { household_id = proxy, mode = "proxy", proxy_name = "李四", proxy_id_tail = "12", sign_mode = "paper" })
  T.eq(r.status, 422)
  T.match(r.json.error.message, "后4位")
  T.eq(stock(cid)["大米"].handed_out, 1, "nothing handed out by refused receipts")
  r = api("POST", "/campaigns/" .. cid .. "/receipts", { household_id = proxy, mode = "proxy", proxy_name = "李四", proxy_id_tail = "123x", sign_mode = "paper" })
  T.eq(r.status, 201, r.body)
  s = stock(cid)
  T.eq(s["大米"].handed_out, 2); T.eq(s["面粉"].handed_out, 1)
  r = api("POST", "/campaigns/" .. cid .. "/receipts", { household_id = proxy, mode = "self", sign_mode = "paper" })
  T.eq(r.status, 409)
  T.match(r.json.error.message, "由李四代领（证件尾号123X）")

  -- a household not on the list gets nothing
  r = api("POST", "/campaigns/" .. cid .. "/receipts", { household_id = outside, mode = "self", sign_mode = "paper" })
  T.eq(r.status, 404)
  stock(cid)

  -- home delivery by the grid worker of the household's grid only
  r = api("POST", "/campaigns/" .. cid .. "/deliveries", { household_id = big, sign_mode = "paper" },
          { roles = { "grid" }, username = "gw2", grid = "g2" })
  T.eq(r.status, 403)
  T.eq(r.json.error.code, "out_of_scope")
  r = api("POST", "/campaigns/" .. cid .. "/deliveries", { household_id = big, sign_mode = "paper" },
          { roles = { "grid" }, username = "gw1", grid = "g1" })
  T.eq(r.status, 201, r.body)
  s = stock(cid)
  T.eq(s["大米"].handed_out, 3); T.eq(s["面粉"].handed_out, 2)

  -- close: what was not collected goes back to the remaining stock
  local before = stock(cid)
  r = api("POST", "/campaigns/" .. cid .. "/close")
  T.eq(r.status, 200, r.body)
  T.eq(r.json.result, listed - 3, "the rest released")
  s = stock(cid)
  for name, it in pairs(s) do
    T.eq(it.set_aside, 0, name .. " nothing set aside after close")
    T.eq(it.handed_out, before[name].handed_out)
    T.eq(it.remaining, it.received - it.handed_out)
  end
  T.eq(api("POST", "/campaigns/" .. cid .. "/receipts", { household_id = never, mode = "self", sign_mode = "paper" }).status, 409)
  T.eq(api("POST", "/campaigns/" .. cid .. "/recipients", { household_id = outside, reason = "晚了" }).status, 409)

  local sum = api("GET", "/campaigns/" .. cid .. "/summary").json
  T.eq(sum.households.served, 3)
  T.eq(sum.households.released, listed - 3)
  T.eq(sum.receipts_by_mode.proxy, 1); T.eq(sum.receipts_by_mode.delivery, 1); T.eq(sum.receipts_by_mode.self, 1)
  for _, it in ipairs(sum.items) do
    if it.name == "大米" then
      T.eq(it.handed_out, 3); T.eq(it.undelivered, listed - 3); T.eq(it.remaining, 197)
    end
  end
end)

T.test("approval is refused when the stock cannot cover the list, and nothing is set aside", function()
  household({ members = 3, categories = "低保" })
  local cid = campaign({ items = { { name = "大米", qty = 1, unit = "袋" }, { name = "食用油", qty = 500, unit = "桶" },
                                  { name = "面粉", qty = 0, unit = "袋" } } })
  T.eq(api("POST", "/campaigns/" .. cid .. "/draft").status, 200)
  local r = api("POST", "/campaigns/" .. cid .. "/approve", nil, BOSS)
  T.eq(r.status, 409)
  T.match(r.json.error.message, "库存不够")
  T.match(r.json.error.message, "大米需要")
  local s, info = stock(cid)
  T.eq(info.campaign.status, "draft")
  T.eq(s["食用油"].set_aside, 0)
end)

T.test("a signature drawn on screen must be a PNG data URL within the size limit", function()
  local hid = household({ categories = "孤寡老人" })
  local cid = campaign()
  T.eq(api("POST", "/campaigns/" .. cid .. "/draft").status, 200)
  T.eq(api("POST", "/campaigns/" .. cid .. "/approve", nil, BOSS).status, 200)
  local function sign(sig)
    return api("POST", "/campaigns/" .. cid .. "/receipts", { household_id = hid, mode = "self", sign_mode = "screen", signature = sig })
  end
  T.eq(sign(nil).json.error.code, "signature_required")
  T.eq(sign("data:text/html;base64,PHNjcmlwdD4=").json.error.code, "signature_invalid")
  T.eq(sign("data:image/png;base64," .. string.rep("A", portal.config.signature_max_kb * 1024)).json.error.code, "signature_too_large")
  stock(cid)
  local png = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
  T.eq(sign(png).status, 201)
  stock(cid)
end)

T.test("pages and the API are for staff; approving is for approvers", function()
  T.eq(T.request{ path = "/" }.status, 303)
  T.eq(T.request{ path = "/campaigns/1/desk", user = { roles = { "volunteer" } } }.status, 403)
  T.eq(T.request{ path = "/households", api = true }.status, 401)
  T.eq(T.request{ method = "POST", path = "/campaigns/1/approve", user = { roles = { "staff" } } }.status, 403)
end)
