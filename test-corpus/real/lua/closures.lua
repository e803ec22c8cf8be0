-- Closures and upvalues: counters, shared upvalues, closures in loops (a fresh local per
-- iteration), recursion through upvalues, varargs, multiple returns, tail calls,
-- higher-order functions, load() of generated code with an environment.
local function counter(start)
  local n = start
  return function(step) n = n + (step or 1); return n end, function() return n end
end
local inc, get = counter(10)
inc(); inc(5)
print(get())
local fs = {}
for i = 1, 5 do fs[i] = function() return i * i end end
print(fs[1](), fs[3](), fs[5]())
local function shared()
  local v = 0
  return function() v = v + 1 return v end, function() v = v * 10 return v end
end
local a1, a2 = shared()
print(a1(), a2(), a1(), a2())
local function fib(n) if n < 2 then return n end return fib(n - 1) + fib(n - 2) end
print(fib(25))
local memo = {}
local function mfib(n)
  if n < 2 then return n end
  if not memo[n] then memo[n] = mfib(n - 1) + mfib(n - 2) end
  return memo[n]
end
print(mfib(90))
local function va(...)
  local n = select("#", ...)
  local t = { ... }
  return n, #t, (select(2, ...))
end
print(va(1, nil, 3, nil))
local function multi() return 1, 2, 3 end
print(multi(), (multi()), #{ multi() }, #{ multi(), multi() })
local function loop(n, acc) if n == 0 then return acc end return loop(n - 1, acc + n) end
print(loop(1000000, 0))
local function map(f, t) local r = {} for i, v in ipairs(t) do r[i] = f(v) end return r end
local function filter(p, t) local r = {} for _, v in ipairs(t) do if p(v) then r[#r + 1] = v end end return r end
local function reduce(f, acc, t) for _, v in ipairs(t) do acc = f(acc, v) end return acc end
local nums = {}
for i = 1, 100 do nums[i] = i end
print(reduce(function(x, y) return x + y end, 0, map(function(x) return x * x end, filter(function(x) return x % 3 == 0 end, nums))))
local function compose(...)
  local fns = { ... }
  return function(x) for i = #fns, 1, -1 do x = fns[i](x) end return x end
end
print(compose(function(x) return x + 1 end, function(x) return x * 2 end)(20))
local env = { x = 6, y = 7 }
local chunk = load("return x * y, z", "gen", "t", env)
print(chunk())
local src = {}
for i = 1, 50 do src[#src + 1] = "s = s + " .. i end
local f2 = load("local s = 0\n" .. table.concat(src, "\n") .. "\nreturn s")
print(f2(), load("syntax error here"))
