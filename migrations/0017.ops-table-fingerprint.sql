-- Backups: a fingerprint of a table's contents that does not depend on row order, so a backup's manifest can
-- be compared with the tables restored from it (`datalayer backup verify`, `datalayer restore`).

CREATE FUNCTION ops.table_fingerprint(tbl regclass, OUT rows bigint, OUT checksum numeric)
LANGUAGE plpgsql STABLE
-- The text of a row depends on these settings (time zone, date and interval styles, float digits, bytea output,
-- the search path for reg* values): fixed here, the same rows give the same fingerprint in every session.
SET search_path = pg_catalog, pg_temp
SET timezone = 'UTC'
SET datestyle = 'ISO, YMD'
SET intervalstyle = 'postgres'
SET extra_float_digits = 1
SET bytea_output = 'hex'
AS $$
BEGIN
    -- One pass, constant memory: the sum (not XOR, so duplicate rows count) of a 64-bit hash of each row's text.
    EXECUTE format('SELECT count(*), coalesce(sum(hashtextextended(t::text, 0)), 0) FROM ONLY %s AS t', tbl)
       INTO rows, checksum;
END;
$$;
COMMENT ON FUNCTION ops.table_fingerprint(regclass) IS 'Backups: exact row count and an order-independent checksum (sum of hashtextextended of each row''s text, with fixed output settings) of one table''s own rows (ONLY: a partitioned parent has none).';
