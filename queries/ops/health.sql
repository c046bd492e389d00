-- name: ping()$
-- One round trip; used to measure latency.
SELECT 1;

-- name: get_server_info()^
-- Server version, database and user of this connection.
SELECT current_setting('server_version') AS server_version,
       current_setting('server_version_num')::int AS server_version_num,
       current_database()::text AS database,
       current_user::text AS user_name;
