SET lock_timeout = '5s';
ALTER TABLE error_api.api_keys RESET (fillfactor);
UPDATE error_api.usage_logs AS l SET api_key_id = NULL
 WHERE api_key_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM error_api.api_keys AS k WHERE k.id = l.api_key_id);
ALTER TABLE error_api.usage_logs ADD CONSTRAINT usage_logs_api_key_fk
    FOREIGN KEY (api_key_id) REFERENCES error_api.api_keys (id) ON DELETE SET NULL;
COMMENT ON CONSTRAINT usage_logs_api_key_fk ON error_api.usage_logs IS 'The key is stored, or NULL once deleted.';
CREATE INDEX usage_logs_api_key_id_idx ON error_api.usage_logs (api_key_id) WHERE api_key_id IS NOT NULL;
COMMENT ON INDEX error_api.usage_logs_api_key_id_idx IS 'Foreign key to api_keys (a key delete sets these to NULL).';
COMMENT ON COLUMN error_api.usage_logs.api_key_id IS 'The key used, when there was one (set to NULL when the key is deleted).';
DROP TABLE error_api.usage_minutes;
