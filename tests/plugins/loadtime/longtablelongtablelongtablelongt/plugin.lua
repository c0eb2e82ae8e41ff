-- longtablelongtablelongtablelongt: an id of 32 characters and a table name of 30: its name in
-- the database, "p_" .. id .. "_" .. table, would be 65 characters, past MariaDB's 64 (a name
-- cut to fit could meet another plugin's). Refused at load.
return {
  id = "longtablelongtablelongtablelongt", version = "1.0.0", api_version = 1,
  title = { zh = "过长的表名", en = "Table name too long" },
  tables = { abcdefghijklmnopqrstuvwxyzabcd = { columns = { "body" } } },
}
