-- Argo CD health check for the four kinds of speech.watson.dev (CustomLanguageModel,
-- CustomAcousticModel, CustomVoiceModel, SpeechService): one script for all of them, registered
-- under resource.customizations.health.speech.watson.dev_<Kind> in argocd-cm (see
-- docs/operations.md, "Argo CD"). It reads the same conditions kstatus (Flux, kpt) reads:
--   Healthy      Ready is True for the current generation
--   Suspended    phase Suspended (spec.suspend: true)
--   Degraded     Stalled is True (nothing changes without you: the message says what to fix)
--   Progressing  anything else: Reconciling is True, or the operator has not seen this
--                generation yet, or the object is being deleted
-- tests/ecosystem/gitops_health.rs runs this file with gopher-lua (the interpreter Argo CD embeds) on live
-- objects in every phase.
local hs = { status = "Progressing", message = "waiting for the operator" }
if obj.status == nil then
  return hs
end
local conditions = {}
if obj.status.conditions ~= nil then
  for _, c in ipairs(obj.status.conditions) do
    conditions[c.type] = c
  end
end
local function describe(c)
  if c == nil then
    return obj.status.phase or "waiting for the operator"
  end
  local text = c.reason or ""
  if obj.status.phase ~= nil then
    text = obj.status.phase .. " (" .. text .. ")"
  end
  if c.message ~= nil and c.message ~= "" then
    text = text .. ": " .. c.message
  end
  return text
end
local ready, stalled = conditions["Ready"], conditions["Stalled"]
local generation = obj.metadata.generation
local observed = obj.status.observedGeneration
local current = generation == nil or (observed ~= nil and observed >= generation)
if obj.metadata.deletionTimestamp ~= nil then
  hs.status = "Progressing"
  hs.message = "being deleted: " .. describe(ready)
elseif not current then
  hs.status = "Progressing"
  hs.message = "the operator has not seen generation " .. tostring(generation) .. " yet"
elseif ready ~= nil and ready.status == "True" then
  hs.status = "Healthy"
  hs.message = describe(ready)
elseif obj.status.phase == "Suspended" then
  hs.status = "Suspended"
  hs.message = describe(ready)
elseif stalled ~= nil and stalled.status == "True" then
  hs.status = "Degraded"
  hs.message = describe(stalled)
else
  hs.status = "Progressing"
  hs.message = describe(ready)
end
return hs
