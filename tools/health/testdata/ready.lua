-- Example Argo CD health check used by wso-health's tests: Healthy when the Ready condition is
-- True for the current generation, Degraded when Stalled is True, Progressing otherwise.
local hs = { status = "Progressing", message = "Waiting for the object to be reconciled" }
if obj.status == nil or obj.status.conditions == nil then
  return hs
end
if obj.status.observedGeneration ~= nil and obj.status.observedGeneration ~= obj.metadata.generation then
  hs.message = "Waiting for generation " .. obj.metadata.generation .. " to be observed"
  return hs
end
for _, c in ipairs(obj.status.conditions) do
  if c.type == "Stalled" and c.status == "True" then
    hs.status = "Degraded"
    hs.message = c.message or c.reason or "Stalled"
    return hs
  end
end
for _, c in ipairs(obj.status.conditions) do
  if c.type == "Ready" and c.status == "True" then
    hs.status = "Healthy"
    hs.message = c.message or "Ready"
    return hs
  end
end
return hs
