-- Builds a push notification body from an order change: the value becomes
-- {"title": ..., "body": ..., "data": {...}}, the key stays the order id. Deletes are dropped
-- (nothing to notify).
function transform(rec)
  if rec.op == "delete" then
    return nil
  end
  local v = rec.value
  if type(v) ~= "table" then
    return nil
  end
  local status = v.status or "updated"
  rec.value = {
    title = "Order " .. rec.key,
    body = "Your order is " .. tostring(status),
    data = { order_id = rec.key, status = tostring(status), offset = tostring(rec.offset) },
  }
  return rec
end
