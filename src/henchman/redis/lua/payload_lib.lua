-- Shared by the scripts that move a job back to a queue (schedule, schedule_queue, admin_move,
-- admin_move_queue): set a top-level number in a payload by editing its text, not re-encoding
-- it, so every other byte (float formatting, key order) is kept.
local function set_number(raw, job, key, value)
  if job[key] == nil then
    return '{"' .. key .. '":' .. value .. ',' .. string.sub(raw, 2)
  end
  local pattern = '"' .. key .. '":%s*%-?[%d%.eE%+%-]+'
  local _, count = string.gsub(raw, pattern, '')
  if count == 1 then
    return (string.gsub(raw, pattern, '"' .. key .. '":' .. value))
  end
  -- The key also appears inside args (or is not a number): append; JSON readers keep the last
  -- duplicate.
  return string.sub(raw, 1, -2) .. ',"' .. key .. '":' .. value .. '}'
end
