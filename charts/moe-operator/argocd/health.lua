-- Argo CD health check for training.moe.dev/MoETrainingJob (argocd-cm: resource.customizations.health.training.moe.dev_MoETrainingJob).
-- Reads only status, which the operator writes: phase, observedGeneration, conditions, lastFailure, progress.
--   Pending    -> Progressing  (gang being created or scheduled; the condition says why it waits)
--   Running    -> Healthy      (training; the message carries the last reported step)
--   Restarting -> Progressing  (a retriable failure: the gang is being restarted; lastFailure says why)
--   Suspended  -> Suspended
--   Succeeded  -> Healthy
--   Failed     -> Degraded     (lastFailure: reason, pod, exit code)
--   Invalid    -> Degraded     (the plan engine's message from the PlanValid condition)
-- No status yet, or a status of an older generation: Progressing (the operator has not looked at this spec yet).
local function condition(status, ctype)
  if status.conditions == nil then return nil end
  for _, c in ipairs(status.conditions) do
    if c.type == ctype then return c end
  end
  return nil
end

local function failure(status)
  local f = status.lastFailure
  if f == nil then return "" end
  local parts = {}
  if f.reason ~= nil then table.insert(parts, f.reason) end
  if f.pod ~= nil then table.insert(parts, "pod " .. f.pod) end
  if f.exitCode ~= nil then table.insert(parts, "exit code " .. tostring(f.exitCode)) end
  if f.message ~= nil then table.insert(parts, f.message) end
  return table.concat(parts, ", ")
end

local function waiting(status, fallback)
  for _, t in ipairs({"GangScheduled", "Running", "PlanValid"}) do
    local c = condition(status, t)
    if c ~= nil and c.status ~= "True" and c.message ~= nil and c.message ~= "" then return c.message end
  end
  return fallback
end

local hs = {}
local status = obj.status
if status == nil or status.phase == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to observe the job"
  return hs
end
if obj.metadata ~= nil and obj.metadata.generation ~= nil and status.observedGeneration ~= nil
    and status.observedGeneration < obj.metadata.generation then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to observe generation " .. tostring(obj.metadata.generation)
  return hs
end
local phase = status.phase
if phase == "Pending" then
  hs.status = "Progressing"
  hs.message = waiting(status, "Gang pending")
elseif phase == "Running" then
  hs.status = "Healthy"
  if status.progress ~= nil and status.progress.step ~= nil then
    hs.message = "Training: step " .. tostring(status.progress.step)
  else
    hs.message = "Training"
  end
elseif phase == "Restarting" then
  hs.status = "Progressing"
  hs.message = "Restarting the gang (restart " .. tostring(status.restarts or 0) .. ") after " .. failure(status)
elseif phase == "Suspended" then
  hs.status = "Suspended"
  hs.message = "Suspended (spec.suspend=true)"
elseif phase == "Succeeded" then
  hs.status = "Healthy"
  hs.message = "Training completed"
elseif phase == "Failed" then
  hs.status = "Degraded"
  hs.message = "Failed: " .. failure(status)
elseif phase == "Invalid" then
  hs.status = "Degraded"
  local c = condition(status, "PlanValid")
  if c ~= nil and c.message ~= nil then hs.message = c.message else hs.message = "The plan engine rejected the spec" end
else
  hs.status = "Unknown"
  hs.message = "Unknown phase " .. tostring(phase)
end
return hs
