-- welfare: holiday welfare distribution (节日慰问, 米面油).
-- Households (imported from the office's spreadsheet), campaigns with items and stock,
-- allocation rules as data, a recipient list drawn up by staff and approved by a second
-- person, the hand-out desk with one receipt per household, printed signature sheets, the
-- receipts CSV and a summary. README.md says what each page is for.
-- Tests: portald plugin test plugins/welfare
local cats = require("lib.cats")
local households = require("lib.households")
local pages = require("lib.campaign_pages")
local desk = require("lib.desk")
local notice = require("lib.notice")
local api = require("lib.campaign_api")
local refusal = require("lib.refusal")

local STAFF = { "staff", "admin" }
local DELIVERERS = { "grid", "volunteer", "staff", "admin" }
local READERS = { "staff", "admin", "approver" }   -- approvers read the list they approve

return {
  id = "welfare",
  version = "1.0.0",
  api_version = 1,
  title = { zh = "节日慰问发放", en = "Holiday welfare distribution" },
  description = "节日慰问米面油：住户名单、发放规则、名单审批、窗口发放签收、库存核对和汇总。",
  requires = { core = ">=0.1" },
  permissions = { "audit" },

  config = {
    -- a form value is at most max_field_len (64 KB by default) anyway; a signature pad of a
    -- phone's width gives 5 to 30 KB
    signature_max_kb = { type = "number", default = 48, min = 4, max = 64,
                         label = "屏幕签名图片的大小上限（KB）" },
  },

  forms = {
    -- only to read the repeated check boxes of the campaign form
    campaign_cats = { fields = {
      { name = "categories", type = "multiselect", label = "发放对象类别", choices = cats.LIST },
    } },
  },

  tables = {
    households = { columns = { "head_name", "members", "address", "building", "grid", "phone",
                               "categories", "note", "created_by", "created_at" } },
    campaigns = { columns = { "name", "starts_on", "ends_on", "notice_from", "notice_to", "categories",
                              "rules_text", "rules_json", "status", "created_by", "created_at",
                              "drafted_by", "drafted_at", "approved_by", "approved_at", "closed_by",
                              "closed_at", "draft_cursor" } },
    items = { columns = { "campaign_id", "code", "name", "unit", "received", "handed_out", "set_aside" } },
    recipients = { columns = { "campaign_id", "household_id", "alloc_json", "status", "updated_at" } },
    receipts = { columns = { "campaign_id", "household_id", "mode", "proxy_name", "proxy_id_tail",
                             "sign_mode", "signature", "alloc_json", "recorded_by", "recorded_name",
                             "received_at" } },
    changes = { columns = { "campaign_id", "household_id", "action", "reason", "detail_json", "by_user",
                            "done_at" } },
    imports = { columns = { "rows_json", "row_count", "status", "created_by", "created_at" } },
  },

  queries = {
    -- every change to a campaign's list or stock takes this lock first
    lock_campaign = "SELECT id, status, drafted_by, draft_cursor FROM {campaigns} WHERE id = ? FOR UPDATE",
    lock_items = "SELECT id, code, name, unit, received, handed_out, set_aside FROM {items} WHERE campaign_id = ? ORDER BY id FOR UPDATE",
  },

  -- Behind the host's role checks; a handler may refuse() (lib/refusal.lua).
  routes = refusal.routes {
    -- households and their import
    { method = "GET", path = "/", roles = STAFF, handler = pages.home },
    { method = "GET", path = "/households", roles = STAFF, handler = households.list },
    { method = "GET", path = "/households/import", roles = STAFF, handler = households.import_form },
    { method = "POST", path = "/households/import", roles = STAFF, handler = households.import_upload },
    { method = "POST", path = "/households/import/{id}/confirm", roles = STAFF, handler = households.import_confirm },

    -- a campaign and its list
    { method = "GET", path = "/campaigns/new", roles = STAFF, handler = pages.new },
    { method = "POST", path = "/campaigns/new", roles = STAFF, handler = pages.create },
    { method = "GET", path = "/campaigns/{id}", roles = READERS, handler = pages.show },
    { method = "POST", path = "/campaigns/{id}/draft", roles = STAFF, handler = pages.draft },
    { method = "POST", path = "/campaigns/{id}/add", roles = STAFF, handler = pages.add },
    { method = "POST", path = "/campaigns/{id}/remove", roles = STAFF, handler = pages.remove },
    { method = "POST", path = "/campaigns/{id}/approve", roles = { "approver" }, handler = pages.approve },
    { method = "POST", path = "/campaigns/{id}/close", roles = STAFF, handler = pages.close },

    -- the hand-out desk, and home delivery by grid workers and volunteers
    { method = "GET", path = "/campaigns/{id}/desk", roles = STAFF, handler = desk.desk },
    { method = "GET", path = "/campaigns/{id}/deliver", roles = DELIVERERS, handler = desk.deliver },
    { method = "POST", path = "/campaigns/{id}/desk/{hid}", roles = STAFF, handler = desk.desk_receipt },
    { method = "POST", path = "/campaigns/{id}/deliver/{hid}", roles = DELIVERERS, handler = desk.delivery_receipt },

    -- printouts, exports, the public notice
    { method = "GET", path = "/campaigns/{id}/sheet", roles = STAFF, handler = pages.sheet },
    { method = "GET", path = "/campaigns/{id}/receipts.csv", roles = STAFF, handler = pages.receipts_csv },
    { method = "GET", path = "/campaigns/{id}/summary", roles = READERS, handler = pages.summary },
    { method = "GET", path = "/notice/{id}", handler = notice.page },

    -- ------------------------------------------------------------ JSON API (staff tokens)
    { method = "GET", path = "/households", api = true, roles = STAFF, handler = households.api_list },
    { method = "POST", path = "/households", api = true, roles = STAFF, handler = households.api_add },
    { method = "POST", path = "/households/import", api = true, roles = STAFF, handler = households.api_import },
    { method = "POST", path = "/campaigns", api = true, roles = STAFF, handler = api.create },
    { method = "GET", path = "/campaigns/{id}", api = true, roles = READERS, handler = api.show },
    { method = "POST", path = "/campaigns/{id}/draft", api = true, roles = STAFF, handler = api.draft },
    { method = "POST", path = "/campaigns/{id}/recipients", api = true, roles = STAFF, handler = api.add },
    { method = "POST", path = "/campaigns/{id}/recipients/remove", api = true, roles = STAFF, handler = api.remove },
    { method = "POST", path = "/campaigns/{id}/approve", api = true, roles = { "approver" }, handler = api.approve },
    { method = "POST", path = "/campaigns/{id}/receipts", api = true, roles = STAFF, handler = api.receipt },
    { method = "POST", path = "/campaigns/{id}/deliveries", api = true, roles = DELIVERERS, handler = api.delivery },
    { method = "POST", path = "/campaigns/{id}/close", api = true, roles = STAFF, handler = api.close },
    { method = "GET", path = "/campaigns/{id}/summary", api = true, roles = READERS, handler = api.summary },
  },
}
