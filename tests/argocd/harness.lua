-- Runs an Argo CD health script the way Argo CD does: global `obj`, script returns {status, message}.
-- usage: lua5.1 harness.lua HEALTH_SCRIPT OBJECT_CHUNK   (OBJECT_CHUNK: Lua file returning the object table)
local script, objfile = arg[1], arg[2]
local load_obj, err = loadfile(objfile)
if not load_obj then io.stderr:write(err .. "\n"); os.exit(2) end
obj = load_obj()
local check, err2 = loadfile(script)
if not check then io.stderr:write(err2 .. "\n"); os.exit(2) end
-- Argo CD runs health scripts without the standard libraries unless useOpenLibs is set:
-- run ours in a sandbox that only has what Lua's base library offers them.
setfenv(check, { obj = obj, ipairs = ipairs, pairs = pairs, tostring = tostring, tonumber = tonumber, type = type })
local ok, hs = pcall(check)
if not ok then io.stderr:write(tostring(hs) .. "\n"); os.exit(3) end
if type(hs) ~= "table" or hs.status == nil then io.stderr:write("script did not return {status=...}\n"); os.exit(3) end
io.write(hs.status, "\t", hs.message or "", "\n")
