-- stall: a test plugin whose registration.after_save hook spins until the CPU budget stops
-- it, for registrations of its own kind "stall_day" only. The registration has committed by
-- then and the worker has not answered yet: tests/integration/registration_retry.test.mjs
-- kills that worker with SIGKILL there, so the client sees a 502 for a saved registration
-- (issue 12, "saved, but the client saw an error") and retries with its idempotency key.
return {
  id = "stall",
  version = "1.0.0",
  api_version = 1,
  title = { zh = "故障注入（测试）", en = "stall (test plugin)" },
  event_kinds = {
    { id = "stall_day", title = { zh = "故障测试活动", en = "stall day" }, retention_days = 30 },
  },
  hooks = {
    ["registration.after_save"] = function(p)
      if p.kind ~= "stall_day" then return nil end
      local n = 0
      while true do n = n + 1 end   -- plugin_cpu_ms ends it; the test kills the worker first
    end,
  },
}
