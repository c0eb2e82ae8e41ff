-- portal.db directly in test bodies and in jobs run by T.jobs (no request in progress).
T.test("portal.db works in a test body, before any request", function()
  local id = portal.db.insert("seen", { what = "body", detail = "x" })
  T.ok(id > 0)
  T.eq(portal.db.get("seen", id).detail, "x")
  T.eq(portal.db.count("seen", { what = "body" }), 1)
end)

T.test("portal.db.transaction works in a test body", function()
  local id = portal.db.transaction(function() return portal.db.insert("seen", { what = "tx" }) end)
  T.eq(portal.db.get("seen", id).what, "tx")
end)

T.test("a daily job writes with portal.db", function()
  T.jobs("daily")
  T.eq(portal.db.count("seen", { what = "daily_job" }), 1)
end)
