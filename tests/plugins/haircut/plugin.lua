-- haircut: 义剪日, free haircuts for elderly residents.
-- The plugin that the tutorial of docs/plugins.md builds step by step.
-- Run its tests with: portald plugin test tests/plugins/haircut
local portal = portal
local db = portal.db
-- portal.config is filled in only after this file has run: read it inside
-- functions (as below), never into a local at the top of the file.

local AGE_BANDS = {
  { "60_69", "60—69岁" },
  { "70_79", "70—79岁" },
  { "80_89", "80—89岁" },
  { "90_plus", "90岁及以上" },
}

local WEEKDAYS = { "日", "一", "二", "三", "四", "五", "六" }

-- "2025-06-15" -> "6月15日（星期日）"
local function day_text(day)
  local t = portal.time.parse(day)
  if not t then
    return day
  end
  local w = tonumber(portal.time.date("%w", t))
  return string.format("%d月%d日（星期%s）", tonumber(portal.time.date("%m", t)),
                       tonumber(portal.time.date("%d", t)), WEEKDAYS[w + 1])
end

local function age_label(value)
  for _, band in ipairs(AGE_BANDS) do
    if band[1] == value then
      return band[2]
    end
  end
  return value
end

local function is_full()
  return db.count("signups", { day = portal.config.day }) >= portal.config.capacity
end

-- The sign-up page: the form, empty or filled in again with what was typed.
local function form_page(status, input, errors, notice)
  return {
    status = status,
    template = "haircut_form",
    data = {
      title = "义剪日报名",
      day = day_text(portal.config.day),
      time = portal.config.time,
      place = portal.config.place,
      full = is_full(),
      notice = notice,
      fields = portal.form.view("signup", input, errors),
    },
  }
end

return {
  id = "haircut",
  version = "1.0.0",
  api_version = 1,
  title = { zh = "义剪日", en = "Free haircut day" },
  description = "为社区老人免费理发：居民在网上报名，工作人员查看名单。",
  requires = { core = ">=0.1" },
  permissions = { "audit" },

  config = {
    day = { type = "text", default = "2025-06-15", label = "义剪日的日期" },
    time = { type = "text", default = "上午9点到11点半", label = "时间" },
    place = { type = "text", default = "社区活动室（3号楼一楼）", label = "地点" },
    capacity = { type = "number", default = 40, label = "名额" },
  },

  strings = {
    zh = {
      check = "有几处需要改一下，请看标红的地方。",
      again = "这个电话已经报过名了，不用再报。",
    },
  },

  event_kinds = {
    { id = "haircut", title = { zh = "义剪日", en = "Free haircut day" }, form = "signup",
      retention_days = 90 },
  },

  tables = {
    signups = { columns = { "day", "name", "phone", "age_band", "home_visit", "address", "created_at" } },
  },

  forms = {
    signup = {
      title = "义剪日报名",
      fields = {
        { name = "name", type = "text", label = "老人姓名", required = true, min = 2, max = 20,
          help = "家里人代报名，也请填老人的名字。" },
        { name = "phone", type = "phone", label = "联系电话", required = true,
          help = "11位手机号。活动时间有变动，社区会打这个电话告诉您。" },
        { name = "age_band", type = "enum", label = "老人年龄", required = true, choices = AGE_BANDS },
        { name = "home_visit", type = "yesno", label = "需要理发师上门吗？", required = true,
          help = "老人行动不方便、下不了楼的，理发师可以到家里来。" },
        { name = "address", type = "text", label = "上门地址", required = true, max = 60,
          help = "写到楼号和门牌号，例如：5号楼2单元301。",
          show_if = { field = "home_visit", equals = true } },
        { name = "consent", type = "consent", label = "我同意社区用上面的信息安排理发", required = true,
          purpose = "姓名和电话只用来安排这次理发、有事时联系您；上门地址只告诉上门的理发师。不会用在别的地方。" },
      },
      -- runs after the declared checks have passed
      validate = function(values)
        if values.name:find("%d") then
          return { name = "姓名里不要填数字，电话请填在下面。" }
        end
      end,
    },
  },

  routes = {
    -- the public page with the form
    { method = "GET", path = "/", handler = function(req)
        return form_page(200)
      end },

    -- the form is sent here: check, store, confirm
    { method = "POST", path = "/", handler = function(req)
        local ok, values, errors = portal.form.validate("signup")
        if not ok then
          return form_page(422, req.form, errors, portal.t("check"))
        end
        if is_full() then
          return form_page(409)           -- the page says the places are taken
        end
        local id = db.insert("signups", {
          day = portal.config.day,
          name = values.name,
          phone = values.phone,
          age_band = values.age_band,
          home_visit = values.home_visit,
          address = values.address,        -- nil (left out) unless a home visit was asked for
          created_at = portal.time.date("%Y-%m-%d %H:%M:%S"),
        })
        if not id then                     -- nil, "duplicate": the unique key (day, phone)
          return form_page(409, req.form, nil, portal.t("again"))
        end
        return {
          template = "haircut_done",
          data = {
            title = "报名成功",
            id = id,
            name = values.name,
            phone = portal.mask.phone(values.phone),
            home_visit = values.home_visit,
            day = day_text(portal.config.day),
            time = portal.config.time,
            place = portal.config.place,
          },
        }
      end },

    -- staff only: the host sends everyone else to the login page (or answers 403)
    { method = "GET", path = "/list", roles = { "staff" }, handler = function(req)
        local rows = db.find("signups", { day = portal.config.day }, { order_by = "id", limit = 1000 })
        local list = {}
        for i, r in ipairs(rows) do
          list[i] = {
            id = r.id,
            name = r.name,
            phone = portal.mask.phone(r.phone),
            age = age_label(r.age_band),
            home_visit = r.home_visit == 1,  -- TINYINT comes back as 1 or 0 (and 0 is true in Lua)
            address = r.address or "",       -- every row has every key the template uses
            created_at = r.created_at,
          }
        end
        portal.audit("list.view", "haircut_day", portal.config.day, { rows = #list })
        return {
          template = "haircut_list",
          data = {
            title = "义剪日名单",
            day = day_text(portal.config.day),
            time = portal.config.time,
            place = portal.config.place,
            count = #list,
            capacity = portal.config.capacity,
            rows = list,
          },
        }
      end },
  },
}
