-- Argo CD health check for k8smon.io/ScrapeRule (see docs/crds.md "How Argo CD reads them").
-- Install: examples/argocd/argocd-cm-patch.yaml (key resource.customizations.health.k8smon.io_ScrapeRule).
-- Lua 5.1, no libraries needed (Argo CD runs it with the standard libraries off).
local hs = { status = "Progressing", message = "Waiting for the k8smon leader to report status" }

local function condition(conds, t)
  if conds == nil then return nil end
  for _, c in ipairs(conds) do
    if c.type == t then return c end
  end
  return nil
end

local function text(c, fallback)
  if c ~= nil and c.message ~= nil and c.message ~= "" then
    if c.reason ~= nil and c.reason ~= "" then return c.reason .. ": " .. c.message end
    return c.message
  end
  if c ~= nil and c.reason ~= nil and c.reason ~= "" then return c.reason end
  return fallback
end

if obj.status == nil or obj.status.observedGeneration == nil then
  return hs
end
local generation = 0
if obj.metadata ~= nil and obj.metadata.generation ~= nil then generation = obj.metadata.generation end
if obj.status.observedGeneration < generation then
  hs.message = "Waiting for the agents to observe generation " .. generation
  return hs
end

local conds = obj.status.conditions
local ready = condition(conds, "Ready")
local reconciling = condition(conds, "Reconciling")
local stalled = condition(conds, "Stalled")

if reconciling ~= nil and reconciling.status == "True" then
  hs.message = text(reconciling, "Reconciling")
  return hs
end
if stalled ~= nil and stalled.status == "True" then
  hs.status = "Degraded"
  hs.message = text(stalled, "Stalled")
  return hs
end
if ready ~= nil and ready.status == "False" and (ready.reason == "InvalidSpec" or ready.reason == "Conflict") then
  hs.status = "Degraded"
  hs.message = text(ready, "Not ready")
  return hs
end
if ready ~= nil and ready.status == "True" then
  hs.status = "Healthy"
  if ready.reason == "NoTargets" then
    hs.message = text(ready, "NoTargets") .. " (the rule selects no targets)"
  else
    hs.message = text(ready, "Accepted")
  end
  return hs
end
hs.message = text(ready, "Waiting for the Ready condition")
return hs
