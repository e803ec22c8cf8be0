-- SQLite benchmark workload (scripts/bench-real), run by test-corpus/real/sqlite/driver.c
-- on ":memory:": bulk inserts in a transaction, index builds, joins, grouping, sorting,
-- window functions, updates and deletes. Deterministic (no random(), no time).
create table item(id integer primary key, cat integer, name text, price real, qty integer);
create table cat(id integer primary key, label text);
begin;
with recursive n(i) as (select 1 union all select i + 1 from n where i < 200000)
insert into item select i, i % 97, 'item-' || (i * 7919 % 200000), (i * 37 % 10000) / 100.0, i % 13 from n;
with recursive n(i) as (select 0 union all select i + 1 from n where i < 96)
insert into cat select i, 'category ' || i from n;
commit;
create index item_cat on item(cat, price);
create index item_name on item(name);
select count(*), sum(price * qty), avg(price) from item;
select c.label, count(*), round(sum(i.price), 2), max(i.qty) from item i join cat c on c.id = i.cat
  group by c.id order by 3 desc limit 5;
select name, price from item where cat = 42 and price between 20 and 21 order by price, name limit 5;
select count(*) from item a join item b on b.name = a.name where a.id % 100 = 0;
select cat, id, price, rank() over (partition by cat order by price desc, id) r from item
  where qty = 3 and cat < 3 order by cat, r limit 6;
update item set price = price * 1.1 where cat % 3 = 0;
delete from item where qty = 0;
select count(*), round(sum(price), 2) from item;
select substr(name, 1, 7), count(*) from item group by 1 order by 2 desc, 1 limit 3;
select count(distinct name), min(name), max(name) from item;
