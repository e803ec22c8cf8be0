-- The string library: find/match/gmatch/gsub with patterns, captures and anchors,
-- format, rep, byte/char, reverse, upper/lower, pack/unpack, utf8.
local s = "The quick brown fox jumps over the lazy dog 1234 times, 56.7%"
print(#s, s:upper(), s:lower():sub(5, 9), s:sub(-6), s:sub(-100, 3))
print(s:find("fox"), s:find("o", 20), s:find("%d+"), s:find(".", 1, true))
print(s:match("(%a+) (%a+)"), s:match("(%d+)%s+(%a+)"), s:match("()fox()"))
local words = {}
for w in s:gmatch("%a+") do words[#words + 1] = w end
print(#words, table.concat(words, "/"))
print(s:gsub("o", "0"))
print(s:gsub("(%w+)", "<%1>", 3))
print(("hello world"):gsub("%w+", { hello = "HI", world = false }))
print(("abc"):gsub("", "-"))
print(("x = 1, y = 22, z = 333"):gsub("(%w+) = (%d+)", function(k, v) return v .. "=" .. k end))
print(("%bxy"):len(), ("f(a(b)c)d"):match("%b()"), ("  trim me  "):match("^%s*(.-)%s*$"))
print(("abc"):rep(3, ","), ("ab"):reverse(), ("A"):byte(), string.char(72, 105), ("\0\1\2"):byte(1, -1))
print(string.format("%q", 'a "quoted"\n\0 string'))
print(string.format("[%10s][%-10s][%.3s]", "right", "left", "truncate"))
local packed = string.pack("<i4 >i2 z s1 d", -2, 513, "zero", "len", 2.5)
print(#packed, packed:byte(1, 8))
print(string.unpack("<i4 >i2 z s1 d", packed))
print(utf8.char(72, 228, 8364, 128512), utf8.len("häll€"), utf8.codepoint("€", 1))
for p, c in utf8.codes("aé€") do io.write(p, ":", c, " ") end
print()
-- build a long string and hash it
local parts = {}
for i = 1, 20000 do parts[i] = string.format("%d:%s;", i, ("x"):rep(i % 7)) end
local big = table.concat(parts)
local h = 0
for i = 1, #big, 3 do h = (h * 31 + big:byte(i)) % 4294967296 end
print(#big, h)
print(tostring(nil), tostring(true), tostring(12), tostring(1.5), ("%s"):format(2^63))
