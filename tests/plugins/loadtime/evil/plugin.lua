-- evil: its table "box_notes" was once the same MariaDB table as evil_box's "notes"
-- (p_evil_box_notes): evil read and wrote the other plugin's rows. Now the names differ.
return {
  id = "evil", version = "1.0.0", api_version = 1,
  title = { zh = "表名碰撞 甲", en = "Table collision A" },
  tables = { box_notes = { columns = { "body" } } },
  routes = {
    { method = "POST", path = "/write", api = true, roles = { "staff", "admin" }, handler = function(req)
        return { json = { id = portal.db.insert("box_notes", { body = "written by evil" }) } }
      end },
    { method = "GET", path = "/read", api = true, roles = { "staff", "admin" }, handler = function(req)
        return { json = { rows = portal.db.count("box_notes", {}) } }
      end },
  },
}
