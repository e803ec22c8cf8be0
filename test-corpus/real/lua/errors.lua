-- pcall/error/xpcall: error values of every type, levels and positions, error objects
-- with metatables, nested pcall, errors from the runtime (arithmetic on nil, bad calls,
-- string-to-number), tostring of messages, error in __index, assert, traceback shape.
local function strip(m) return (tostring(m):gsub("^[^:]*:%d+: ", "")) end
print(pcall(error, "plain"))
print(pcall(error, "with level", 0))
print(pcall(error, 42))
print(pcall(error, nil))
local ok, e = pcall(error, { code = 7 })
print(ok, type(e), e.code)
print(select("#", pcall(error)))
local ok2, m2 = pcall(function() local x = nil; return x.field end)
print(ok2, strip(m2))
print(pcall(function() return 1 + {} end))
print(pcall(function() return #5 end))
print(pcall(function() return ("x") < 1 end))
print(pcall(function() undefined_function() end))
print(pcall(string.rep))
print(pcall(string.format, "%d", 1.5))
print(pcall(function() return "10" + 5, "3" * "4", 10 .. 20 end))
print(pcall(function() return math.tointeger("8") end))
local function lvl() error("at level 2", 2) end
local ok3, m3 = pcall(function() lvl() end)
print(ok3, strip(m3))
print(xpcall(function() error("handled") end, function(m) return "handler saw: " .. strip(m) end))
print(xpcall(function(a, b) return a + b end, print, 3, 4))
local depth = 0
local function nest(n)
  if n == 0 then error("bottom") end
  local ok4, m4 = pcall(nest, n - 1)
  depth = depth + 1
  error(strip(m4) .. "<" .. n, 0)
end
print(pcall(nest, 5), depth)
local E = setmetatable({}, { __tostring = function() return "custom error object" end })
local ok5, m5 = pcall(error, E)
print(ok5, tostring(m5), m5 == E)
local prox = setmetatable({}, { __index = function(_, k) error("no field " .. k) end })
print(pcall(function() return prox.missing end))
print(pcall(assert, false, "assert message"))
print(pcall(assert, 1 == 1, "unused"))
print(pcall(assert, nil))
local tb = debug.traceback("tb", 1)
print(tb:match("^tb\nstack traceback:") ~= nil)
-- error inside a deep recursion is caught; stack overflow is an error, not a crash
local function down(n) return down(n + 1) + 1 end
local ok6, m6 = pcall(down, 1)
print(ok6, (strip(m6):match("stack overflow")))
-- many caught errors in a loop
local caught = 0
for i = 1, 20000 do
  local okx = pcall(function() if i % 3 == 0 then error(i) end return i end)
  if not okx then caught = caught + 1 end
end
print("caught", caught)
