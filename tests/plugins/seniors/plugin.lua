-- seniors: a test plugin with an eligibility rule. Its event kind "senior_day" asks for the
-- age, and its registration.validate hook refuses anyone under the configured age, in plain
-- words; registration.after_save and checkin are counted in its own table, so the tests can
-- see that the core calls the hooks.
return {
  id = "seniors",
  version = "1.0.0",
  api_version = 1,
  title = { zh = "老年人活动（测试）", en = "seniors (test plugin)" },
  config = { min_age = { type = "number", default = 60, label = "最低年龄" } },
  tables = { seen = { columns = { "hook", "code" } } },
  forms = {
    senior = { fields = {
      { name = "age", type = "number", label = "年龄", required = true, min = 1, max = 120 },
    } },
  },
  event_kinds = {
    { id = "senior_day", title = { zh = "老年人活动日", en = "seniors' day" }, form = "senior", retention_days = 90 },
  },
  hooks = {
    ["registration.validate"] = function(p)
      if p.kind ~= "senior_day" then return nil end
      -- the payload carries the phone, normalised (a failing hook refuses: the tests see it)
      assert(type(p.phone) == "string" and p.phone:match("^1%d%d%d%d%d%d%d%d%d%d$"), "payload.phone")
      if (p.answers.age or 0) < portal.config.min_age then
        return { ["answers.age"] = string.format("此活动只面向%d岁及以上的居民。", portal.config.min_age) }
      end
    end,
    ["registration.after_save"] = function(p)
      if p.kind == "senior_day" then portal.db.insert("seen", { hook = "after_save", code = p.code }) end
    end,
    checkin = function(p)
      portal.db.insert("seen", { hook = p.undo and "checkin_undo" or "checkin", code = p.code })
    end,
  },
  routes = {
    -- staff can see what the hooks saw (the integration test reads it)
    { method = "GET", path = "/seen", api = true, roles = { "staff", "admin" }, handler = function(req)
        return { json = portal.db.find("seen", {}, { order_by = "id" }) }
      end },
  },
}
