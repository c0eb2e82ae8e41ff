-- volunteers: 志愿服务排班 - volunteer profiles, shifts (event helpers and home visits to
-- elderly residents), self sign-up with a cut-off, coverage, hours and certificates,
-- visit notes and reminders. See README.md in this folder.
-- Tests: portald plugin test plugins/volunteers
local C = require("lib.common")
local pages = require("lib.pages")
local staff = require("lib.staff")
local J = require("lib.jobs")
local refusal = require("lib.refusal")

local STAFF = { "staff", "admin" }
local VOLUNTEER = { "volunteer" }

local RESIDENT_HELP = "只给报名这次探访的志愿者看姓名和地址；电话只有工作人员能看到。"

return {
  id = "volunteers",
  version = "1.0.0",
  api_version = 1,
  title = { zh = "志愿服务排班", en = "Volunteer scheduling" },
  description = "志愿者报名与审核、班次与上门探访、缺人提醒、服务时长与证明。",
  requires = { core = ">=0.1" },
  -- accounts: a login (role volunteer only) for each approved volunteer;
  -- outbox: reminders and calls for help; audit: views of residents' and volunteers' data
  permissions = { "accounts", "outbox", "audit" },

  config = {
    cutoff_hours = { type = "number", default = 12, min = 0, max = 168,
                     label = "班次开始前多少小时停止报名和退出" },
    plan_weeks = { type = "number", default = 4, min = 1, max = 12,
                   label = "定期探访计划提前生成几周的班次" },
    show_weeks = { type = "number", default = 4, min = 1, max = 12,
                   label = "志愿者和缺人一览显示未来几周的班次" },
    -- retention (PIPL: keep personal data no longer than the task needs), applied daily
    visit_keep_days = { type = "number", default = 365, min = 30, max = 3650,
                        label = "上门探访的住户姓名、地址、电话和探访记录在探访结束后保留几天" },
    inactive_keep_days = { type = "number", default = 365, min = 30, max = 3650,
                           label = "停用的志愿者资料在停用几天后匿名" },
  },

  forms = {
    -- the public application, also used by staff who add a volunteer themselves
    join = {
      title = "志愿者报名",
      fields = {
        { name = "name", type = "text", label = "姓名", required = true, min = 2, max = 20 },
        { name = "phone", type = "phone", label = "手机号", required = true,
          help = "审核通过后，这个号码就是您的登录名（前面加 v）。" },
        { name = "skills", type = "multiselect", label = "特长", choices = C.SKILLS,
          help = "有些班次需要特长，例如陪老人看病需要会开车。没有可以不选。" },
        { name = "days", type = "multiselect", label = "一般哪几天有空", choices = C.DAYS,
          help = "不选表示哪天都可以问您。" },
        { name = "parts", type = "multiselect", label = "一般什么时段有空", choices = C.PARTS },
        { name = "availability_note", type = "text", label = "其他说明", max = 100,
          help = "例如：寒暑假有空、每月第一周出差。" },
        { name = "consent", type = "consent", label = "我同意社区保存以上信息，用来安排志愿服务", required = true,
          purpose = "姓名、手机号、特长和空闲时间只用来排班、提醒和统计服务时长，不会给别人。" },
      },
    },
    shift = {
      title = "新建班次",
      fields = {
        { name = "kind", type = "enum", label = "班次类型", required = true,
          choices = { { "place", "活动或服务点" }, { "visit", "上门探访" } } },
        { name = "role", type = "text", label = "做什么", required = true, max = 40,
          help = "例如：活动引导、协助测血压、陪老人聊天打扫。" },
        { name = "event_id", type = "number", label = "属于哪个活动", min = 1 },
        { name = "place", type = "text", label = "地点", required = true, max = 100,
          show_if = { field = "kind", equals = "place" } },
        { name = "resident_name", type = "text", label = "探访对象姓名", required = true, max = 20,
          help = RESIDENT_HELP, show_if = { field = "kind", equals = "visit" } },
        { name = "resident_address", type = "text", label = "探访地址", required = true, max = 100,
          show_if = { field = "kind", equals = "visit" } },
        { name = "resident_phone", type = "phone", label = "探访对象或家属电话（只给工作人员看）",
          show_if = { field = "kind", equals = "visit" } },
        { name = "day", type = "date", label = "日期", required = true },
        { name = "start", type = "text", label = "开始时间", required = true, max = 5, help = "例如 09:00" },
        { name = "end", type = "text", label = "结束时间", required = true, max = 5, help = "例如 11:30" },
        { name = "headcount", type = "number", label = "需要几个人", required = true, min = 1, max = 100 },
        { name = "skill", type = "enum", label = "需要的特长", choices = C.SKILLS,
          help = "不选表示谁都可以报名。" },
        { name = "note", type = "text", label = "备注", max = 200 },
      },
      validate = C.check_times,
    },
    plan = {
      title = "新建定期探访计划",
      fields = {
        { name = "title", type = "text", label = "计划名称", required = true, max = 60,
          help = "例如：每周二探访独居老人" },
        { name = "role", type = "text", label = "做什么", required = true, max = 40 },
        { name = "resident_name", type = "text", label = "探访对象姓名", required = true, max = 20,
          help = RESIDENT_HELP },
        { name = "resident_address", type = "text", label = "探访地址", required = true, max = 100 },
        { name = "resident_phone", type = "phone", label = "探访对象或家属电话（只给工作人员看）" },
        { name = "weekday", type = "enum", label = "每周哪一天", required = true, choices = C.DAYS },
        { name = "start", type = "text", label = "开始时间", required = true, max = 5 },
        { name = "end", type = "text", label = "结束时间", required = true, max = 5 },
        { name = "headcount", type = "number", label = "需要几个人", required = true, min = 1, max = 10 },
        { name = "skill", type = "enum", label = "需要的特长", choices = C.SKILLS },
      },
      validate = C.check_times,
    },
    note = {
      title = "探访记录",
      fields = {
        { name = "done_text", type = "textarea", label = "这次做了什么", required = true, max = 1000,
          help = "例如：打扫了厨房，陪老人聊天一小时。" },
        { name = "concern", type = "textarea", label = "需要社区注意的情况", max = 1000,
          help = "例如：老人说最近头晕、家里燃气有味道。写了会提醒工作人员处理。" },
      },
    },
  },

  tables = {
    volunteers = { columns = { "name", "phone", "skills", "days", "parts", "availability_note",
                               "status", "user_id", "username", "created_at", "approved_at",
                               "approved_by", "inactive_since", "inactive_by", "anonymised_at", "rev" } },
    plans = { columns = { "title", "role", "skill", "resident_name", "resident_address",
                          "resident_phone", "weekday", "start_time", "end_time", "headcount",
                          "active", "created_at" } },
    shifts = { columns = { "kind", "role", "place", "resident_name", "resident_address",
                           "resident_phone", "starts_at", "ends_at", "headcount", "skill",
                           "event_id", "event_title", "plan_id", "note", "created_at",
                           "created_by", "purged_at", "rev" } },
    assignments = { columns = { "shift_id", "volunteer_id", "by_staff", "created_at",
                                "attendance", "minutes", "confirmed_by", "confirmed_at" } },
    messages = { columns = { "shift_id", "volunteer_id", "kind", "created_at" } },
    notes = { columns = { "shift_id", "volunteer_id", "done_text", "concern", "concern_open",
                          "handled_by", "handled_at", "created_at" } },
  },

  queries = {
    lock_volunteer = "SELECT id, status, skills, days, parts, rev FROM {volunteers} WHERE id = ? FOR UPDATE",
    lock_shift = [[SELECT id, kind, role, place, starts_at, ends_at, headcount, skill, rev
                   FROM {shifts} WHERE id = ? FOR UPDATE]],
    taken = "SELECT COUNT(*) AS n FROM {assignments} WHERE shift_id = ?",
    -- shifts of one volunteer that overlap [?2 start, ?1 end)
    overlapping = [[SELECT COUNT(*) AS n FROM {assignments} a JOIN {shifts} s ON s.id = a.shift_id
                    WHERE a.volunteer_id = ? AND s.starts_at < ? AND s.ends_at > ?]],
    busy = [[SELECT DISTINCT a.volunteer_id FROM {assignments} a JOIN {shifts} s ON s.id = a.shift_id
             WHERE s.starts_at < ? AND s.ends_at > ?]],
    -- no resident columns: volunteers browse this list
    upcoming = [[SELECT s.id, s.kind, s.role, s.place, s.starts_at, s.ends_at, s.headcount, s.skill,
                        s.event_id, s.event_title, s.plan_id, COUNT(a.id) AS taken
                 FROM {shifts} s LEFT JOIN {assignments} a ON a.shift_id = s.id
                 WHERE s.starts_at >= ? AND s.starts_at < ?
                 GROUP BY s.id, s.kind, s.role, s.place, s.starts_at, s.ends_at, s.headcount, s.skill,
                          s.event_id, s.event_title, s.plan_id
                 ORDER BY s.starts_at, s.id LIMIT 500]],
    -- the volunteer's own shifts: name and address of a visit, never the resident's phone
    mine = [[SELECT s.id, s.kind, s.role, s.place, s.resident_name, s.resident_address, s.starts_at,
                    s.ends_at, s.event_title, a.attendance, a.minutes
             FROM {assignments} a JOIN {shifts} s ON s.id = a.shift_id
             WHERE a.volunteer_id = ? ORDER BY s.starts_at DESC LIMIT 500]],
    -- how many shifts still ahead a volunteer is on
    ahead = [[SELECT COUNT(*) AS n FROM {assignments} a JOIN {shifts} s ON s.id = a.shift_id
              WHERE a.volunteer_id = ? AND s.starts_at > ?]],
    roster = [[SELECT a.id, a.volunteer_id, a.by_staff, a.attendance, a.minutes, v.name, v.phone, v.status
               FROM {assignments} a JOIN {volunteers} v ON v.id = a.volunteer_id
               WHERE a.shift_id = ? ORDER BY a.id]],
    to_remind = [[SELECT a.shift_id, a.volunteer_id, v.phone, s.kind, s.role, s.place, s.starts_at, s.ends_at
                  FROM {assignments} a JOIN {shifts} s ON s.id = a.shift_id
                  JOIN {volunteers} v ON v.id = a.volunteer_id
                  WHERE s.starts_at >= ? AND s.starts_at < ? AND v.status = 'active' ORDER BY a.id LIMIT 1000]],
    totals = [[SELECT a.volunteer_id, v.name, v.phone,
                      SUM(CASE WHEN a.attendance = 'present' THEN a.minutes ELSE 0 END) AS minutes,
                      SUM(CASE WHEN a.attendance = 'present' THEN 1 ELSE 0 END) AS present,
                      SUM(CASE WHEN a.attendance = 'no_show' THEN 1 ELSE 0 END) AS no_shows
               FROM {assignments} a JOIN {shifts} s ON s.id = a.shift_id
               JOIN {volunteers} v ON v.id = a.volunteer_id
               WHERE a.attendance IS NOT NULL AND s.starts_at >= ? AND s.starts_at < ?
               GROUP BY a.volunteer_id, v.name, v.phone ORDER BY v.name, a.volunteer_id LIMIT 1000]],
    served = [[SELECT s.id, s.kind, s.role, s.place, s.starts_at, s.ends_at, a.minutes
               FROM {assignments} a JOIN {shifts} s ON s.id = a.shift_id
               WHERE a.volunteer_id = ? AND a.attendance = 'present' AND s.starts_at >= ? AND s.starts_at < ?
               ORDER BY s.starts_at LIMIT 1000]],
    open_concerns = [[SELECT n.id, n.shift_id, n.done_text, n.concern, n.created_at, v.name AS volunteer,
                             s.resident_name, s.starts_at
                      FROM {notes} n JOIN {volunteers} v ON v.id = n.volunteer_id
                      JOIN {shifts} s ON s.id = n.shift_id
                      WHERE n.concern_open = 1 ORDER BY n.id LIMIT 200]],
    unconfirmed = [[SELECT s.id, s.role, s.place, s.kind, s.starts_at, s.ends_at, COUNT(a.id) AS waiting
                    FROM {shifts} s JOIN {assignments} a ON a.shift_id = s.id
                    WHERE a.attendance IS NULL AND s.starts_at < ?
                    GROUP BY s.id, s.role, s.place, s.kind, s.starts_at, s.ends_at
                    ORDER BY s.starts_at DESC LIMIT 50]],
  },

  -- Behind the host's role checks; a handler may refuse() (lib/refusal.lua).
  routes = refusal.routes {
    -- residents who want to volunteer
    { method = "GET", path = "/", handler = pages.join_page },
    { method = "POST", path = "/", handler = pages.join_post },

    -- volunteers
    { method = "GET", path = "/me", roles = VOLUNTEER, handler = pages.me },
    { method = "GET", path = "/shifts/{id}", roles = VOLUNTEER, handler = pages.shift },
    { method = "POST", path = "/shifts/{id}/signup", roles = VOLUNTEER, handler = pages.signup },
    { method = "POST", path = "/shifts/{id}/withdraw", roles = VOLUNTEER, handler = pages.withdraw },
    { method = "GET", path = "/shifts/{id}/note", roles = VOLUNTEER, handler = pages.note_page },
    { method = "POST", path = "/shifts/{id}/note", roles = VOLUNTEER, handler = pages.note_post },
    { method = "GET", path = "/shifts", api = true, roles = VOLUNTEER, handler = pages.api_open },
    { method = "POST", path = "/shifts/{id}/signup", api = true, roles = VOLUNTEER, handler = pages.signup },
    { method = "POST", path = "/shifts/{id}/withdraw", api = true, roles = VOLUNTEER, handler = pages.withdraw },

    -- staff
    { method = "GET", path = "/staff", roles = STAFF, handler = staff.dashboard },
    { method = "GET", path = "/staff/volunteers", roles = STAFF, handler = staff.volunteers },
    { method = "POST", path = "/staff/volunteers", roles = STAFF, handler = staff.volunteer_create },
    { method = "GET", path = "/staff/volunteers/{id}", roles = STAFF, handler = staff.volunteer },
    { method = "POST", path = "/staff/volunteers/{id}/approve", roles = STAFF, handler = staff.approve },
    { method = "POST", path = "/staff/volunteers/{id}/reject", roles = STAFF, handler = staff.reject },
    { method = "GET", path = "/staff/volunteers/{id}/certificate", roles = STAFF, handler = staff.certificate },
    { method = "POST", path = "/staff/volunteers/{id}/deactivate", roles = STAFF, handler = staff.deactivate },
    { method = "POST", path = "/staff/volunteers/{id}/reactivate", roles = STAFF, handler = staff.reactivate },
    { method = "GET", path = "/staff/shifts/new", roles = STAFF, handler = staff.shift_new },
    { method = "POST", path = "/staff/shifts", roles = STAFF, handler = staff.shift_create },
    { method = "GET", path = "/staff/shifts/{id}", roles = STAFF, handler = staff.shift },
    { method = "POST", path = "/staff/shifts/{id}/assign", roles = STAFF, handler = staff.assign },
    { method = "POST", path = "/staff/shifts/{id}/unassign", roles = STAFF, handler = staff.unassign },
    { method = "POST", path = "/staff/shifts/{id}/attendance", roles = STAFF, handler = staff.attendance },
    { method = "POST", path = "/staff/shifts/{id}/call", roles = STAFF, handler = staff.call },
    { method = "GET", path = "/staff/coverage", roles = STAFF, handler = staff.coverage },
    { method = "GET", path = "/staff/plans", roles = STAFF, handler = staff.plans },
    { method = "POST", path = "/staff/plans", roles = STAFF, handler = staff.plan_create },
    { method = "POST", path = "/staff/plans/generate", roles = STAFF, handler = staff.generate },
    { method = "GET", path = "/staff/hours", roles = STAFF, handler = staff.hours },
    { method = "GET", path = "/staff/hours.csv", roles = STAFF, handler = staff.hours_csv },
    { method = "POST", path = "/staff/notes/{id}/handled", roles = STAFF, handler = staff.handled },

    -- staff JSON API (also what demo.json uses, hence "admin")
    { method = "POST", path = "/volunteers", api = true, roles = STAFF, handler = staff.volunteer_create },
    { method = "POST", path = "/shifts", api = true, roles = STAFF, handler = staff.shift_create },
    { method = "POST", path = "/plans", api = true, roles = STAFF, handler = staff.plan_create },
    { method = "POST", path = "/plans/generate", api = true, roles = STAFF, handler = staff.generate },
    { method = "GET", path = "/coverage", api = true, roles = STAFF, handler = staff.coverage },
  },

  jobs = {
    -- keeps the care plans' shifts a few weeks ahead (idempotent)
    { name = "plans", every = "daily", handler = J.generate },
    -- residents' data of old visits removed, long-inactive volunteers anonymised
    { name = "retention", every = "daily", handler = J.retention },
    -- the day-before reminders (each one once, however often this runs)
    { name = "reminders", every = "hourly", handler = J.remind },
  },
}
