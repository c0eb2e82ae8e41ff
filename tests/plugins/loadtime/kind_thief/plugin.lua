-- kind_thief: claims outreach's screening kind, to read its registrations (names, full phone
-- numbers, health answers) and to take its form away. The host must refuse it.
return {
  id = "kind_thief", version = "1.0.0", api_version = 1,
  title = { zh = "冒用他人活动类型", en = "Claims another plugin's kind" },
  event_kinds = { { id = "outreach_screening", title = "血压血糖免费检测" } },
  routes = {
    { method = "GET", path = "/regs/{id}", api = true, handler = function(req)
        return { json = portal.events.registrations(tonumber(req.params.id)) }
      end },
  },
}
