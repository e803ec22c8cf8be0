-- Numeric loops: integer and float arithmetic, integer overflow wrap-around, floor
-- division and modulo signs, math library, string <-> number conversions.
local sum, fsum = 0, 0.0
for i = 1, 200000 do
  sum = sum + i * i % 1009
  fsum = fsum + 1.0 / i
end
print("sum", sum, "harmonic", string.format("%.12f", fsum))
print("maxint wrap", math.maxinteger + 1 == math.mininteger, math.mininteger // -1)
print("floor div", 7 // 2, -7 // 2, 7 // -2, 7.5 // 2, -7 % 3, 7 % -3, 5.5 % 2)
print("pow", 2 ^ 10, 2 ^ 0.5, 10 // 3 * 3 + 10 % 3)
print("bits", 0xF0 & 0x3C, 0xF0 | 0x0F, 0xFF ~ 0x0F, 1 << 62, -1 >> 60, ~0)
print("tointeger", math.tointeger(3.0), math.tointeger(3.5), 3 == 3.0, math.type(1), math.type(1.0))
print("conv", tonumber("0x1p4"), tonumber("  12  "), tonumber("1e2"), tonumber("z", 36), tonumber("10", 2))
print("math", math.floor(-3.5), math.ceil(-3.5), math.abs(-7), math.max(3, 9, 1), math.min(2.5, -1))
print("fmt", string.format("%5d|%-5d|%05.1f|%x|%X|%o|%e|%g|%g", 42, 42, 3.14159, 255, 255, 8, 12345.678, 1e20, 0.1))
print("sqrt/exp/log", string.format("%.10f %.10f %.10f %.10f", math.sqrt(2), math.exp(1), math.log(10), math.log(8, 2)))
print("trig", string.format("%.10f %.10f %.10f", math.sin(1), math.cos(1), math.atan(1, 2)))
-- Collatz lengths and a small prime sieve
local best, bestn = 0, 0
for n = 1, 30000 do
  local x, len = n, 1
  while x ~= 1 do
    if x % 2 == 0 then x = x // 2 else x = 3 * x + 1 end
    len = len + 1
  end
  if len > best then best, bestn = len, n end
end
print("collatz", bestn, best)
local sieve, primes = {}, 0
for i = 2, 100000 do
  if not sieve[i] then
    primes = primes + 1
    for j = i * i, 100000, i do sieve[j] = true end
  end
end
print("primes below 100000", primes)
-- float loop with a fractional step
local c = 0
for x = 0, 1, 0.125 do c = c + x end
print("float for", c, 1 / 0, -1 / 0, 0 / 0 ~= 0 / 0)
