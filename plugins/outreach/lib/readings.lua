-- lib/readings.lua - blood pressure and glucose readings of the screening days: the checks
-- the "reading" form cannot express as data, what counts as abnormal, and the referral note
-- the resident takes home. Plain functions; thresholds come from the settings.
local M = {}

M.GLUCOSE_KINDS = { { "fasting", "空腹" }, { "random", "随机（饭后）" } }

-- "6.1" or "6" -> 61 (tenths of mmol/L: integers keep the comparisons with the thresholds
-- exact), or nil when it is not a number with at most one decimal (what meters show).
function M.glucose_tenths(text)
  local s = (text or ""):match("^%s*(.-)%s*$")
  local whole, frac = s:match("^(%d%d?)%.(%d)$")
  if not whole then
    whole, frac = s:match("^(%d%d?)$"), "0"
  end
  if not whole then
    return nil
  end
  return tonumber(whole) * 10 + tonumber(frac)
end

-- 61 -> "6.1"
function M.tenths_text(t)
  return string.format("%d.%d", t // 10, t % 10)
end

-- The form's validate(values): rules between fields. Blood pressure needs both numbers and a
-- diastolic below the systolic; a glucose value needs its kind and a plausible number; at
-- least one of the two was measured.
function M.validate(v)
  local errors = {}
  if (v.systolic == nil) ~= (v.diastolic == nil) then
    errors[v.systolic and "diastolic" or "systolic"] = "血压要填高压和低压两个数。"
  elseif v.systolic and v.diastolic >= v.systolic then
    errors.diastolic = "低压（舒张压）应小于高压（收缩压），请核对后重新填写。"
  end
  if v.glucose then
    local t = M.glucose_tenths(v.glucose)
    if not t then
      errors.glucose = "血糖请填数字，例如 5.6。"
    elseif t < 10 or t > 333 then
      errors.glucose = "血糖应在 1.0 到 33.3 mmol/L 之间，请核对。"
    end
    if not v.glucose_kind then
      errors.glucose_kind = "请选择是空腹血糖还是随机血糖。"
    end
  end
  if not v.systolic and not v.glucose then
    errors.systolic = "请至少填写血压或血糖中的一项。"
  end
  if next(errors) then
    return errors
  end
end

-- Which parts of a reading are abnormal. r: { systolic, diastolic, glucose_tenths,
-- glucose_kind }; th: { systolic, diastolic, fasting_tenths, random_tenths } (the settings).
-- Returns a list of plain-Chinese findings, empty when everything is in range.
function M.findings(r, th)
  local out = {}
  if r.systolic and (r.systolic >= th.systolic or r.diastolic >= th.diastolic) then
    out[#out + 1] = string.format("血压 %d/%d mmHg，达到或高于 %d/%d", r.systolic, r.diastolic,
                                  th.systolic, th.diastolic)
  end
  if r.glucose_tenths then
    local limit = r.glucose_kind == "fasting" and th.fasting_tenths or th.random_tenths
    if r.glucose_tenths >= limit then
      out[#out + 1] = string.format("%s血糖 %s mmol/L，达到或高于 %s",
                                    r.glucose_kind == "fasting" and "空腹" or "随机",
                                    M.tenths_text(r.glucose_tenths), M.tenths_text(limit))
    end
  end
  return out
end

-- The referral note for the resident (printed and handed over at the table).
function M.referral_note(findings)
  return "您这次筛查的结果：" .. table.concat(findings, "；") .. "。" ..
         "筛查结果不是诊断，但建议您在两周内到社区卫生服务中心或医院复查，复查时带上这张单子。" ..
         "社区工作人员之后也会打电话问问您的情况。"
end

return M
