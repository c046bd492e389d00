-- name: get_server_info()^
-- The server's version (number and text), the current database and user, and the server's clock (inside a transaction: its start, the moment of its snapshot); client programs such as pg_dump must be of the server's major version.
SELECT current_setting('server_version_num')::int AS version_num,
       current_setting('server_version') AS version,
       current_database()::text AS database,
       current_user::text AS user_name,
       now() AS server_time;
