-- Constraint and trigger health of the data layer's schemas. Read-only.

-- name: list_not_valid_constraints(schemas)
-- CHECK and foreign-key constraints added NOT VALID and never validated: new rows are checked, old ones are
-- not, and the planner cannot rely on them.
SELECT n.nspname::text AS schema_name,
       t.relname::text AS table_name,
       k.conname::text AS constraint_name,
       CASE k.contype WHEN 'c' THEN 'check' WHEN 'f' THEN 'foreign key' ELSE k.contype::text END AS kind
  FROM pg_constraint AS k
  JOIN pg_class AS t ON t.oid = k.conrelid
  JOIN pg_namespace AS n ON n.oid = t.relnamespace
 WHERE n.nspname = ANY(:schemas::text[]) AND NOT k.convalidated
 ORDER BY 1, 2, 3;

-- name: list_disabled_triggers(schemas)
-- User triggers of the given schemas' tables that are disabled (ALTER TABLE … DISABLE TRIGGER): updated_at
-- and the other rules they keep are silently not kept.
SELECT n.nspname::text AS schema_name,
       t.relname::text AS table_name,
       g.tgname::text AS trigger_name
  FROM pg_trigger AS g
  JOIN pg_class AS t ON t.oid = g.tgrelid
  JOIN pg_namespace AS n ON n.oid = t.relnamespace
 WHERE n.nspname = ANY(:schemas::text[]) AND NOT g.tgisinternal AND g.tgenabled = 'D'
 ORDER BY 1, 2, 3;
