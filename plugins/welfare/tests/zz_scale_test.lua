-- zz_scale_test.lua (runs last: its 3000 households would join every later campaign's
-- list) - a recipient list of thousands of households is drawn up in steps that each fit a
-- request's budget, and comes out the same as in one go: every eligible household once,
-- with its share.
local db = portal.db
local util = require("lib.util")
local cats = require("lib.cats")
local campaign = require("lib.campaign")
local STAFF = { roles = { "staff" }, username = "scaler" }
local BOSS = { roles = { "approver" }, username = "scale_boss" }
local KINDS = { "gugua", "dibao", "canji", "shidu", "dibao,canji" }
local N = 3000

local function api(path, json, user)
  return T.request{ method = "POST", path = path, api = true, user = user or STAFF, json = json or {} }
end

T.test("3000 households: the list is drawn up in steps of DRAFT_CHUNK, each eligible household once", function()
  local now = util.now()
  db.transaction(function()
    for i = 1, N do
      db.insert("households", { head_name = "规模" .. i, members = 1 + i % 5, address = "规模楼" .. i .. "号",
        building = (i % 20) .. "号楼", grid = "s" .. (i % 7), phone = string.format("137%08d", i),
        categories = KINDS[i % 5 + 1], note = "", created_by = "scale", created_at = now })
    end
  end)
  local total = db.count("households", {})
  T.ok(total >= N)
  local r = api("/campaigns", { name = "规模", starts_on = "2026-02-01", ends_on = "2026-02-10",
    categories = { "dibao", "canji" },
    items = { { name = "大米", qty = 100000, unit = "袋" }, { name = "面粉", qty = 100000, unit = "袋" } },
    rules_text = "全部: 大米=1\n3人以上: 面粉=1" })
  T.eq(r.status, 201, r.body)
  local cid = r.json.id

  -- the first step: not done yet; the list can be neither approved nor edited meanwhile
  r = api("/campaigns/" .. cid .. "/draft")
  T.eq(r.status, 200, r.body)
  T.eq(r.json.result.done, false)
  T.eq(r.json.result.processed, campaign.DRAFT_CHUNK)
  local a = api("/campaigns/" .. cid .. "/approve", {}, BOSS)
  T.eq(a.status, 409)
  T.eq(a.json.error.code, "drafting")
  local someone = db.find("households", { head_name = "规模" .. N })[1]
  T.eq(api("/campaigns/" .. cid .. "/recipients", { household_id = someone.id }).json.error.code, "drafting")
  local page = T.request{ path = "/campaigns/" .. cid, user = STAFF }
  T.match(page.body, "继续生成名单")

  -- carry on until done: ceil(total / chunk) steps in all (one more when it divides evenly)
  local steps = 1
  while not r.json.result.done do
    r = api("/campaigns/" .. cid .. "/draft")
    T.eq(r.status, 200, r.body)
    steps = steps + 1
    T.ok(steps <= total // campaign.DRAFT_CHUNK + 1, "no endless drawing")
  end
  T.eq(r.json.result.processed, total)
  T.eq(r.json.consistent, true)

  -- the same list as one pass over every household would give
  local want = {}
  for _, h in ipairs(util.find_all("households", {})) do
    for _, code in ipairs(cats.from_stored(h.categories)) do
      if code == "dibao" or code == "canji" then
        want[h.id] = h.members >= 3 and 2 or 1
      end
    end
  end
  local got = util.find_all("recipients", { campaign_id = cid })
  local n = 0
  for _, rc in ipairs(got) do
    local alloc = util.decode_alloc(rc.alloc_json)
    T.ok(want[rc.household_id], "household " .. rc.household_id .. " is eligible")
    T.eq((alloc.i1 or 0) + (alloc.i2 or 0), want[rc.household_id], "share of " .. rc.household_id)
    n = n + 1
  end
  local wanted = 0
  for _ in pairs(want) do wanted = wanted + 1 end
  T.eq(n, wanted, "every eligible household once")
  T.eq(r.json.result.listed, wanted)

  -- done: approvable (the drafter is not the approver), and a redraw starts afresh
  T.eq(api("/campaigns/" .. cid .. "/draft").json.result.done, false)
  T.ok(db.count("recipients", { campaign_id = cid }) < wanted, "the old list was emptied")
  repeat r = api("/campaigns/" .. cid .. "/draft") until r.json.result.done
  T.eq(db.count("recipients", { campaign_id = cid }), wanted)
  a = api("/campaigns/" .. cid .. "/approve", {}, BOSS)
  T.eq(a.status, 200, a.body)
  T.eq(a.json.consistent, true)

  -- the campaign page and the summary read the households in batches
  T.eq(T.request{ path = "/campaigns/" .. cid, user = STAFF }.status, 200)
  local s = T.request{ path = "/campaigns/" .. cid .. "/summary", api = true, user = STAFF }
  T.eq(s.status, 200)
  T.eq(s.json.households.listed, wanted)
end)
