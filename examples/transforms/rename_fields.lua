-- Renames value fields for the receiver: fname -> first_name, lname -> last_name.
local renames = { fname = "first_name", lname = "last_name" }

function transform(rec)
  local v = rec.value
  if type(v) == "table" then
    for from, to in pairs(renames) do
      if v[from] ~= nil then
        v[to] = v[from]
        v[from] = nil
      end
    end
  end
  return rec
end
