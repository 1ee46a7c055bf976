-- Drops every record of the "audit" collection; the others pass through unchanged.
-- (A filter on the ventilator, --collections, is cheaper when the rule is only the collection:
-- this shows the same in a transform, where it can depend on the value too.)
function transform(rec)
  if rec.collection == "audit" then
    return nil
  end
  return rec
end
