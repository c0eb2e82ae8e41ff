-- outreach: health outreach days (健康服务日) - the worked example plugin.
--
-- Two kinds of core event: the pre-pregnancy health check day (孕前优生健康检查) and the blood
-- pressure / glucose screening (血压血糖免费检测). Residents register on the core's event pages
-- (/events/{id}) with this plugin's forms; the core keeps the registrations, slots, waitlist,
-- check-in and reminders. This plugin adds what is particular to health days:
--   * who may have the free pre-pregnancy check (registration.validate) and one per couple a
--     year (registration.keys, enforced by a unique key in the core's transaction);
--   * screening readings recorded at the table, with consent, in its own tables; an abnormal
--     one gives the resident a referral note and the staff a follow-up item;
--   * staff pages per outreach day, a printable list, a yearly summary CSV;
--   * its own data anonymised after the retention period (daily job).
-- Sensitive fields are shown only to staff with the grant "outreach.health", and every view
-- of them is in the audit log. Read README.md first; run the tests with
--   portald plugin test plugins/outreach
local rules = require("lib.rules")
local readings = require("lib.readings")
local registration = require("lib.registration")
local staff = require("lib.staff")
local retention = require("lib.retention")
local refusal = require("lib.refusal")

local STAFF = { "staff", "admin" }   -- roles are not ranked: admin does not imply staff

return {
  id = "outreach",
  version = "1.0.0",
  api_version = 1,
  title = { zh = "健康服务日", en = "Health outreach days" },
  description = "孕前优生健康检查和血压血糖免费检测：报名资格、现场测量记录、异常转诊和随访、名单与年度汇总。",
  requires = { core = ">=0.1" },
  permissions = { "audit" },

  -- Editable by an admin on /admin/plugins/outreach/settings. Glucose limits are in tenths
  -- of mmol/L because settings are whole numbers (70 = 7.0 mmol/L).
  config = {
    min_residence_months = { type = "number", default = 6, min = 1, max = 120,
                             label = "非本地户籍的夫妻，需在本地住满几个月才能免费做孕前检查" },
    bp_systolic_high = { type = "number", default = 140, min = 100, max = 200, label = "高压（收缩压）异常线，mmHg" },
    bp_diastolic_high = { type = "number", default = 90, min = 60, max = 130, label = "低压（舒张压）异常线，mmHg" },
    glucose_fasting_high = { type = "number", default = 70, min = 50, max = 150,
                             label = "空腹血糖异常线，单位0.1 mmol/L（70即7.0）" },
    glucose_random_high = { type = "number", default = 111, min = 70, max = 250,
                            label = "随机血糖异常线，单位0.1 mmol/L（111即11.1）" },
    retention_days = { type = "number", default = 365, min = 30, max = 3650,
                       label = "测量记录和随访在活动结束后保留几天，之后匿名化" },
  },

  -- A plugin-defined permission an admin grants per user (HOST_API A2).
  grants = {
    health = { zh = "查看和记录健康筛查信息", en = "See and record health screening data" },
  },

  event_kinds = {
    { id = rules.PREPREG, title = { zh = "孕前优生健康检查", en = "Pre-pregnancy health check" },
      form = "prepreg", retention_days = 365 },
    { id = rules.SCREENING, title = { zh = "血压血糖免费检测", en = "Blood pressure and glucose screening" },
      form = "screening", retention_days = 365 },
  },

  forms = {
    -- Asked on the core's event page of a pre-pregnancy day, after 参加人姓名 and 手机号.
    prepreg = {
      title = "孕前优生健康检查报名",
      fields = {
        { name = "spouse_name", type = "text", label = "配偶姓名", required = true, min = 2, max = 20,
          help = "上面填夫妻中的一位，这里填另一位（丈夫或妻子）。检查需要夫妻两人一起来。" },
        { name = "id_tail", type = "text", label = "参加人身份证号后四位", required = true, min = 4, max = 4,
          help = "只要最后四位，用来确认是同一对夫妻，不要填完整号码。" },
        { name = "spouse_id_tail", type = "text", label = "配偶身份证号后四位", required = true, min = 4, max = 4 },
        { name = "planned", type = "yesno", label = "你们是否准备在近期怀孕？", required = true },
        { name = "basis", type = "enum", label = "免费检查的资格", required = true, choices = {
            { "hukou", "夫妻至少一方是本地户籍" },
            { "residence", "双方都不是本地户籍，但住在本地" },
            { "none", "以上都不是" } } },
        { name = "residence_months", type = "number", label = "在本地住了几个月？", required = true,
          min = 0, max = 600, help = "从搬来本地算起，整月数。", show_if = { field = "basis", equals = "residence" } },
        { name = "consent", type = "consent", label = "我们夫妻同意社区使用以上信息", required = true,
          purpose = "夫妻姓名、身份证号后四位、户籍或居住情况和怀孕打算是敏感个人信息，" ..
                    "只用来核对免费检查资格、安排这次检查和提醒你们；社区不记录检查结果；" ..
                    "活动结束一年后删除姓名和电话。" },
      },
      validate = registration.validate_prepreg,
    },
    screening = {
      title = "血压血糖免费检测报名",
      fields = {
        { name = "age_band", type = "enum", label = "年龄", required = true, choices = {
            { "18_44", "18—44岁" }, { "45_59", "45—59岁" }, { "60_74", "60—74岁" }, { "75_plus", "75岁及以上" } } },
        { name = "consent", type = "consent", label = "我同意社区使用以上信息安排检测", required = true,
          purpose = "姓名、电话和年龄段只用来安排这次检测和提醒您。现场量出的血压血糖，要您当场同意才记录。" },
      },
    },
    -- Filled in by staff at the measuring table (route grant "health").
    reading = {
      title = "记录测量结果",
      fields = {
        { name = "systolic", type = "number", label = "高压（收缩压），mmHg", min = 60, max = 260 },
        { name = "diastolic", type = "number", label = "低压（舒张压），mmHg", min = 30, max = 160 },
        { name = "glucose", type = "text", label = "血糖，mmol/L", max = 5, help = "例如 5.6；没测可不填。" },
        { name = "glucose_kind", type = "enum", label = "血糖类型", choices = readings.GLUCOSE_KINDS },
        { name = "consent", type = "consent", label = "居民本人同意记录这次测量结果", required = true,
          purpose = "测量结果只用于这次筛查和异常时的随访，只有有权限的工作人员能看；活动结束后按规定期限匿名化。" },
      },
      validate = readings.validate,
    },
  },

  tables = {
    readings = { columns = { "event_id", "event_ends_at", "reg_code", "systolic", "diastolic", "glucose_tenths",
                             "glucose_kind", "abnormal", "referral_note", "recorded_by", "recorded_at", "anonymised_at" } },
    followups = { columns = { "event_id", "event_ends_at", "reg_code", "reading_id", "reason", "status",
                              "created_at", "done_by", "done_at", "anonymised_at" } },
  },

  queries = {
    -- follow-ups per event of one year, for the summary
    followups_by_event = "SELECT event_id, COUNT(*) AS n, COUNT(CASE WHEN status = 'done' THEN 1 END) AS done" ..
                         " FROM {followups} WHERE event_ends_at >= ? AND event_ends_at < ? GROUP BY event_id",
  },

  -- Behind the host's role and grant checks; a handler may refuse() (lib/refusal.lua).
  routes = refusal.routes {
    { method = "GET", path = "/days", roles = STAFF, handler = staff.days },
    { method = "GET", path = "/days/{id}", roles = STAFF, handler = staff.day },
    { method = "GET", path = "/days/{id}/print", roles = STAFF, handler = staff.print },
    { method = "GET", path = "/days/{id}/readings/{code}", roles = STAFF, grant = "health", handler = staff.reading_form },
    { method = "POST", path = "/days/{id}/readings/{code}", roles = STAFF, grant = "health", handler = staff.record_reading },
    { method = "GET", path = "/readings/{id}/slip", roles = STAFF, grant = "health", handler = staff.slip },
    { method = "POST", path = "/followups/{id}/done", roles = STAFF, grant = "health", handler = staff.followup_done },
    { method = "GET", path = "/summary.csv", roles = STAFF, handler = staff.summary_csv },
  },

  hooks = {
    -- who may have the free pre-pregnancy check, explained in plain words when not
    ["registration.validate"] = registration.eligible,
    -- one free check per couple per year, held by a unique key in the core's transaction
    ["registration.keys"] = registration.couple_keys,
  },

  jobs = {
    { name = "anonymise", every = "daily", handler = retention.run },
  },
}
