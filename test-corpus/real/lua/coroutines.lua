-- Coroutines: generators, passing values both ways, status, wrap, yield across pcall,
-- errors inside coroutines, a producer/consumer pipeline and close().
local function gen(n)
  return coroutine.wrap(function() for i = 1, n do coroutine.yield(i, i * i) end return "done" end)
end
local g = gen(4)
print(g()); print(g()); print(g()); print(g()); print(g())
local co = coroutine.create(function(a, b)
  print("start", a, b)
  local c = coroutine.yield(a + b)
  print("got", c)
  local d, e = coroutine.yield(c * 2)
  print("got", d, e)
  return "end", a + b + c + d + e
end)
print(coroutine.status(co), coroutine.resume(co, 1, 2))
print(coroutine.resume(co, 10))
print(coroutine.resume(co, 100, 1000))
print(coroutine.status(co), coroutine.resume(co))
local bad = coroutine.create(function() coroutine.yield(1) error("boom in coroutine") end)
print(coroutine.resume(bad))
local ok, msg = coroutine.resume(bad)
print(ok, (msg:gsub("^.-:%d+: ", "")), coroutine.status(bad))
-- yield across pcall (allowed in 5.4)
local across = coroutine.wrap(function()
  local ok2, v = pcall(function() local x = coroutine.yield("inside pcall") return x + 1 end)
  coroutine.yield(tostring(ok2) .. " " .. tostring(v))
  return "finished"
end)
print(across(), across(41), across())
-- producer / filter / consumer
local function producer()
  return coroutine.create(function()
    for i = 1, 2000 do coroutine.yield(i) end
  end)
end
local function filter(src)
  return coroutine.create(function()
    while true do
      local _, v = coroutine.resume(src)
      if v == nil then return end
      if v % 7 == 0 or v % 11 == 0 then coroutine.yield(v) end
    end
  end)
end
local f = filter(producer())
local count, sum = 0, 0
while true do
  local _, v = coroutine.resume(f)
  if v == nil then break end
  count, sum = count + 1, sum + v
end
print("pipeline", count, sum)
print(coroutine.isyieldable(), select(2, coroutine.running()), type((coroutine.running())))
local cl = coroutine.create(function() coroutine.yield() end)
coroutine.resume(cl)
print(coroutine.close(cl), coroutine.status(cl))
-- many coroutines alive at once
local cos = {}
for i = 1, 500 do cos[i] = coroutine.wrap(function() local s = 0 while true do s = s + i coroutine.yield(s) end end) end
local total = 0
for round = 1, 10 do for i = 1, 500 do total = total + cos[i]() end end
print("many", total)
