-- probe.lua - helpers of the hostile test plugin (loaded with require("probe"),
-- which also shows that a plugin can require its own files).

local probe = { name = "probe" }

-- pcall(f, ...) as a JSON-friendly table: { ok = bool, err = "message" }.
function probe.try(f, ...)
  local ok, err = pcall(f, ...)
  return { ok = ok, err = not ok and probe.text(err) or nil }
end

-- Any value as a short, valid UTF-8 text (JSON strings must be UTF-8).
function probe.text(v)
  local s = tostring(v)
  if #s > 300 then
    s = s:sub(1, 300)
  end
  if utf8.len(s) == nil then
    return "<" .. #s .. " bytes, not UTF-8>"
  end
  return s
end

-- Sorted names of a table's keys, joined with commas.
function probe.keys(t)
  local k = {}
  for name in pairs(t) do
    k[#k + 1] = tostring(name)
  end
  table.sort(k)
  return table.concat(k, ",")
end

-- Every string reachable from root through pairs() (keys and values), up to
-- depth levels; host tables are proxies and iterate through __pairs.
function probe.strings(root, depth, out, seen)
  out, seen = out or {}, seen or {}
  if seen[root] or depth < 0 then
    return out
  end
  seen[root] = true
  for k, v in pairs(root) do
    for _, x in ipairs({ k, v }) do
      if type(x) == "string" then
        out[#out + 1] = probe.text(x)
      elseif type(x) == "table" then
        probe.strings(x, depth - 1, out, seen)
      end
    end
  end
  return out
end

-- Every function reachable from root, with its dotted name.
function probe.functions(root, prefix, out, seen)
  out, seen = out or {}, seen or {}
  if seen[root] then
    return out
  end
  seen[root] = true
  for k, v in pairs(root) do
    local name = prefix .. "." .. tostring(k)
    if type(v) == "function" then
      out[#out + 1] = { name = name, fn = v }
    elseif type(v) == "table" then
      probe.functions(v, name, out, seen)
    end
  end
  table.sort(out, function(a, b) return a.name < b.name end)
  return out
end

-- Try to write a field into every table reachable from root; the names of
-- those that accepted it.
function probe.writable(root, prefix, out, seen)
  out, seen = out or {}, seen or {}
  if seen[root] then
    return out
  end
  seen[root] = true
  if pcall(function() root.__hostile_was_here = true end) then
    out[#out + 1] = prefix
  end
  for k, v in pairs(root) do
    if type(v) == "table" then
      probe.writable(v, prefix .. "." .. tostring(k), out, seen)
    end
  end
  return out
end

return probe
