-- SQL for the real-program checks (test-corpus/real/check): tables, indexes, joins,
-- aggregates, transactions with commit/rollback/savepoints, constraint errors, CTEs,
-- window functions, views, triggers, upserts. Deterministic: no random(), no time
-- functions, every multi-row SELECT ordered.
create table dept(id integer primary key, name text not null unique, budget real);
create table emp(id integer primary key, name text not null, dept_id integer references dept(id),
                 salary integer check (salary > 0), manager_id integer, hired text);
create index emp_dept on emp(dept_id);
create index emp_salary on emp(salary desc, name);
insert into dept(name, budget) values ('engineering', 1.5e6), ('sales', 750000.5), ('support', 320000), ('research', null);
with recursive n(i) as (select 1 union all select i + 1 from n where i < 400)
insert into emp(name, dept_id, salary, manager_id, hired)
  select 'emp' || printf('%03d', i), (i % 4) + 1, 30000 + (i * 7919) % 90000,
         case when i > 10 then (i % 10) + 1 end, printf('20%02d-%02d-%02d', 10 + i % 14, 1 + i % 12, 1 + i % 28)
  from n;
select count(*), sum(salary), min(salary), max(salary), avg(salary) from emp;
select d.name, count(e.id), sum(e.salary), round(avg(e.salary), 2), max(e.hired)
  from dept d left join emp e on e.dept_id = d.id group by d.id order by d.name;
select d.name, e.name, e.salary from emp e join dept d on d.id = e.dept_id
  where e.salary > 115000 order by e.salary desc, e.name limit 10;
select m.name, count(*) as reports from emp e join emp m on m.id = e.manager_id
  group by m.id having count(*) > 30 order by reports desc, m.name;
select dept_id, name, salary, rank() over (partition by dept_id order by salary desc, name) as r
  from emp where id % 37 = 0 order by dept_id, r;
select name, salary, sum(salary) over (order by id rows between 2 preceding and current row) from emp
  where id <= 8 order by id;
select substr(hired, 1, 4) as year, count(*), group_concat(id, ',') from emp
  where id < 40 group by year order by year;
explain query plan select * from emp where dept_id = 2 and salary > 100000;
-- transactions
begin;
update emp set salary = salary + 1000 where dept_id = 1;
select sum(salary) from emp where dept_id = 1;
rollback;
select sum(salary) from emp where dept_id = 1;
begin;
savepoint a;
delete from emp where id > 390;
select count(*) from emp;
rollback to a;
insert into emp(name, dept_id, salary) values ('late', 3, 45000);
release a;
commit;
select count(*), max(id) from emp;
-- constraint violations are errors, the script goes on
insert into emp(name, dept_id, salary) values ('broke', 1, -5);
insert into dept(name) values ('sales');
insert into emp(id, name, salary) values (1, 'dup', 1);
select count(*) from emp where name in ('broke', 'dup');
-- upsert, view, trigger
create table counts(word text primary key, n integer not null default 0);
insert into counts(word, n) values ('a', 1), ('b', 1);
insert into counts(word, n) values ('a', 1), ('c', 1) on conflict(word) do update set n = n + excluded.n;
select * from counts order by word;
create view rich as select name, salary from emp where salary >= 110000;
select count(*), min(salary) from rich;
create table audit(emp_id integer, old_salary integer, new_salary integer);
create trigger emp_raise after update of salary on emp begin
  insert into audit values (old.id, old.salary, new.salary);
end;
update emp set salary = salary * 2 where id in (5, 6, 7);
select * from audit order by emp_id;
-- strings, nulls, types, math
select typeof(1), typeof(1.5), typeof('x'), typeof(x'00ff'), typeof(null), 1 / 2, 1.0 / 2, 7 % 3, -7 / 2;
select upper('abc'), lower('ÄBC'), length('häll€'), instr('hello', 'll'), replace('aaa', 'a', 'bb'), trim('  x  '), hex('zv');
select coalesce(null, null, 3), nullif(2, 2), ifnull(null, 'd'), null = null, null is null, 3 between 1 and 5;
select printf('%5.2f|%-6s|%d|%x|%e', 3.14159, 'ab', 42, 255, 12345.678), 1e300 * 1e10, -0.0, 2.5e-7;
select cast('12abc' as integer), cast(3.99 as integer), cast(12 as text) || 'x', round(2.5), round(-2.5), abs(-9);
select x'cafe' || x'babe', zeroblob(3), quote('it''s'), char(72, 105), unicode('€');
select count(distinct dept_id), total(budget), sum(budget) from emp join dept on dept.id = emp.dept_id;
select json_object('a', 1, 'b', json_array(1, 2, 'x')), json_extract('{"k":[5,6,7]}', '$.k[1]');
-- a bigger computation: primes by recursive CTE and an aggregate over a self-join
with recursive n(i) as (select 2 union all select i + 1 from n where i < 3000)
select count(*), sum(i) from n where not exists (select 1 from n as d where d.i * d.i <= n.i and n.i % d.i = 0);
select count(*), sum(a.salary - b.salary) from emp a join emp b on a.dept_id = b.dept_id and a.id < b.id
  where a.id % 5 = 0;
drop index emp_salary;
select name from emp where salary = (select max(salary) from emp);
vacuum;
select name from sqlite_schema where type in ('table', 'index', 'view', 'trigger') order by name;
pragma integrity_check;
