-- kind_general: claims the core's own event kind, to read every core registration through
-- portal.events.registrations. The host must refuse it.
return {
  id = "kind_general", version = "1.0.0", api_version = 1,
  title = { zh = "冒用通用活动类型", en = "Claims the core's kind" },
  event_kinds = { { id = "general", title = "普通活动" } },
  routes = {
    { method = "GET", path = "/regs/{id}", api = true, handler = function(req)
        return { json = portal.events.registrations(tonumber(req.params.id)) }
      end },
  },
}
