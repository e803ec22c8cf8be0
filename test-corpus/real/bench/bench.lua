-- Lua benchmark workload (scripts/bench-real): numeric loops, string building and
-- patterns, table sort/insert/hash, closures and method calls; prints checksums so the
-- three builds' outputs can be compared. Raises no error and uses no coroutine: the
-- wasm32-wasi build of Lua has no longjmp (see test-corpus/real/wasm/setjmp.h).
local N = tonumber(arg and arg[1]) or 1
local function numeric()
  local s, f = 0, 0.0
  for i = 1, 3000000 * N do
    s = (s + i * i) % 1000000007
    f = f + (i % 7) * 0.5
  end
  return s, f
end
local function strings()
  local parts, h = {}, 0
  for i = 1, 150000 * N do parts[#parts + 1] = string.format("%d:%x;", i, i * 31) end
  local s = table.concat(parts)
  for a, b in s:gmatch("(%d+):(%x+);") do h = (h + #a * 3 + #b) % 65521 end
  local r = s:sub(1, 200000):gsub("%d", "#"):upper()
  return #s, h, #r
end
local function tables()
  local t = {}
  for i = 1, 200000 * N do t[i] = (i * 7919) % 100003 end
  table.sort(t)
  local h = {}
  for i = 1, #t, 3 do h["k" .. t[i]] = (h["k" .. t[i]] or 0) + 1 end
  local n = 0
  for _, v in pairs(h) do n = n + v end
  return t[1], t[#t], n
end
local function objects()
  local Point = {}
  Point.__index = Point
  function Point.new(x, y) return setmetatable({ x = x, y = y }, Point) end
  function Point:add(o) return Point.new(self.x + o.x, self.y + o.y) end
  local acc = Point.new(0, 0)
  local step = function(i) return Point.new(i % 3, i % 5) end
  for i = 1, 600000 * N do acc = acc:add(step(i)) end
  return acc.x, acc.y
end
local function fib(n) if n < 2 then return n end return fib(n - 1) + fib(n - 2) end
print(numeric())
print(strings())
print(tables())
print(objects())
print(fib(27))
