-- evil_box: its table "notes" and evil's "box_notes" were once one MariaDB table. With an id
-- containing '_' its tables are now named p8_evil_box_..., apart from evil's.
return {
  id = "evil_box", version = "1.0.0", api_version = 1,
  title = { zh = "表名碰撞 乙", en = "Table collision B" },
  tables = { notes = { columns = { "body" } } },
  routes = {
    { method = "POST", path = "/write", api = true, roles = { "staff", "admin" }, handler = function(req)
        return { json = { id = portal.db.insert("notes", { body = "written by evil_box" }) } }
      end },
    { method = "GET", path = "/read", api = true, roles = { "staff", "admin" }, handler = function(req)
        local rows = portal.db.find("notes", {}, { order_by = "id" })
        local bodies = {}
        for i, r in ipairs(rows) do bodies[i] = r.body end
        return { json = { rows = #rows, bodies = bodies } }
      end },
  },
}
