-- Routes orders by value.region into collection "orders_<region>" and also keeps an
-- all-regions copy in "orders" (a split: two outputs with the source offset). Deletes carry
-- no value, so they go to "orders" only.
function transform(rec)
  if rec.collection ~= "orders" then
    return rec
  end
  local v = rec.value
  if type(v) == "table" and type(v.region) == "string" and string.match(v.region, "^[a-z]+$") then
    return { rec, { collection = "orders_" .. v.region } }
  end
  return rec
end
