-- Masks the local part of value.email: "jane.doe@example.com" -> "j***@example.com".
-- Records without an email field pass through byte for byte.
function transform(rec)
  local v = rec.value
  if type(v) == "table" and type(v.email) == "string" then
    local user, domain = string.match(v.email, "^([^@]*)@(.*)$")
    if user then
      v.email = string.sub(user, 1, 1) .. "***@" .. domain
    else
      v.email = "***"
    end
  end
  return rec
end
