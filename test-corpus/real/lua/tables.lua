-- Tables: arrays and hashes, length, insert/remove/move/sort with comparators, concat,
-- metatables (__index, __newindex, __call, __eq, __lt, __len, __tostring, __concat),
-- next/pairs with sorted keys (iteration order itself is not portable), weak-free GC use.
local t = {}
for i = 1, 1000 do t[i] = (i * 7919) % 1000 end
table.sort(t)
print(#t, t[1], t[500], t[1000])
table.sort(t, function(a, b) return a > b end)
print(t[1], t[2], t[1000])
table.insert(t, 1, -1); table.insert(t, 5000); print(#t, t[1], t[#t], table.remove(t), table.remove(t, 1), #t)
print(table.concat({ 1, 2, 3, "a", 4.5 }, ", "), table.concat({}, "x"), select("#", table.unpack({ 1, nil, 3 }, 1, 3)))
print(table.unpack(table.move({ 1, 2, 3, 4, 5 }, 2, 4, 1)))
local h = {}
for i = 1, 500 do h["k" .. i] = i * i end
h.k7 = nil
local keys = {}
for k in pairs(h) do keys[#keys + 1] = k end
table.sort(keys)
local acc = 0
for _, k in ipairs(keys) do acc = acc + h[k] end
print(#keys, keys[1], keys[#keys], acc)
-- records sorted by two fields
local people = {}
local names = { "ada", "bob", "cy", "dee", "eve", "fay" }
for i = 1, 60 do people[i] = { name = names[i % 6 + 1], age = (i * 37) % 50, id = i } end
table.sort(people, function(a, b)
  if a.age ~= b.age then return a.age < b.age end
  return a.id < b.id
end)
for i = 1, 5 do io.write(people[i].name, "/", people[i].age, "/", people[i].id, " ") end
print()
-- metatables
local Vec = {}
Vec.__index = Vec
Vec.__add = function(a, b) return Vec.new(a.x + b.x, a.y + b.y) end
Vec.__eq = function(a, b) return a.x == b.x and a.y == b.y end
Vec.__lt = function(a, b) return a:len2() < b:len2() end
Vec.__le = function(a, b) return a:len2() <= b:len2() end
Vec.__tostring = function(v) return "(" .. v.x .. "," .. v.y .. ")" end
Vec.__concat = function(a, b) return tostring(a) .. tostring(b) end
Vec.__len = function() return 2 end
Vec.__call = function(v, k) return v.x * k end
function Vec.new(x, y) return setmetatable({ x = x, y = y }, Vec) end
function Vec:len2() return self.x * self.x + self.y * self.y end
local a, b = Vec.new(1, 2), Vec.new(3, 4)
print(tostring(a + b), a == Vec.new(1, 2), a < b, b <= a, #a, a(10), a .. b)
local log = {}
local proxy = setmetatable({}, {
  __index = function(_, k) return "default-" .. k end,
  __newindex = function(t2, k, v) log[#log + 1] = k; rawset(t2, k, v) end,
})
proxy.one = 1; proxy.two = 2
print(proxy.one, proxy.three, #log, rawget(proxy, "three"), rawlen({ 1, 2, 3 }), rawequal(a, a))
-- nested structures and a checksum
local grid = {}
for y = 1, 100 do
  grid[y] = {}
  for x = 1, 100 do grid[y][x] = (x * y) % 17 end
end
local s = 0
for y = 2, 99 do for x = 2, 99 do s = s + grid[y - 1][x] + grid[y + 1][x] - grid[y][x - 1] * grid[y][x + 1] end end
print("grid", s, collectgarbage("count") > 0)
