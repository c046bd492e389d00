-- name: get_cached_translation(source_language, target_language, original_text)^
-- An unexpired cache entry, counting the hit in the same statement (a HOT update: neither column is indexed); a miss adds to this backend's slot of translation_cache_misses.
WITH hit AS (
    UPDATE twitter_bot.translation_cache
       SET hit_count = hit_count + 1, last_accessed_at = now()
     WHERE cache_key = ops.sha256_hex(:source_language || ':' || :target_language || ':' || :original_text)
       AND expires_at > now()
    RETURNING cache_key, source_language, target_language, original_text, translated_text, confidence,
              hit_count, created_at, last_accessed_at, expires_at
), miss AS (
    -- one of 16 rows by backend, so concurrent misses rarely wait for each other's row lock
    INSERT INTO twitter_bot.translation_cache_misses AS m (slot, misses)
    SELECT pg_backend_pid() % 16, 1
     WHERE NOT EXISTS (SELECT 1 FROM hit)
        ON CONFLICT (slot) DO UPDATE SET misses = m.misses + 1
)
SELECT cache_key, source_language, target_language, original_text, translated_text, confidence,
       hit_count, created_at, last_accessed_at, expires_at
  FROM hit;

-- name: put_cached_translation(source_language, target_language, original_text, translated_text, confidence, ttl_seconds)^
-- Store or refresh a translation in the cache for ttl_seconds (hit count kept on refresh).
INSERT INTO twitter_bot.translation_cache AS c
       (source_language, target_language, original_text, translated_text, confidence, expires_at)
VALUES (:source_language, :target_language, :original_text, :translated_text, :confidence,
        now() + make_interval(secs => :ttl_seconds::double precision))
    ON CONFLICT (cache_key) DO UPDATE
   SET translated_text = EXCLUDED.translated_text,
       confidence = EXCLUDED.confidence,
       created_at = now(),
       expires_at = EXCLUDED.expires_at
RETURNING cache_key, source_language, target_language, original_text, translated_text, confidence,
          hit_count, created_at, last_accessed_at, expires_at;

-- name: purge_expired_cache()$
-- Delete expired cache entries; returns how many.
WITH deleted AS (
    DELETE FROM twitter_bot.translation_cache WHERE expires_at <= now() RETURNING 1
)
SELECT count(*)::bigint FROM deleted;

-- name: cache_stats()^
-- Entries (live and expired), hits, misses and hit rate of the translation cache (misses: the 16 slots, plus a system_state cache_misses a process older than migration 0021 may still write).
WITH misses AS (
    SELECT coalesce((SELECT sum(misses) FROM twitter_bot.translation_cache_misses), 0)::bigint
           + coalesce((SELECT (value #>> '{}')::bigint FROM twitter_bot.system_state WHERE key = 'cache_misses'), 0)
           AS misses
), entries AS (
    SELECT count(*) FILTER (WHERE expires_at > now())::bigint AS live_entries,
           count(*) FILTER (WHERE expires_at <= now())::bigint AS expired_entries,
           coalesce(sum(hit_count), 0)::bigint AS hits
      FROM twitter_bot.translation_cache
)
SELECT e.live_entries, e.expired_entries, e.hits, m.misses,
       coalesce(e.hits::double precision / nullif(e.hits + m.misses, 0), 0) AS hit_rate
  FROM entries AS e, misses AS m;
