-- name: get_cached_translation(source_language, target_language, original_text)^
-- An unexpired cache entry, counting the hit in the same statement; a miss adds to the cache_misses counter.
WITH hit AS (
    UPDATE twitter_bot.translation_cache
       SET hit_count = hit_count + 1, last_accessed_at = now()
     WHERE cache_key = ops.sha256_hex(:source_language || ':' || :target_language || ':' || :original_text)
       AND expires_at > now()
    RETURNING cache_key, source_language, target_language, original_text, translated_text, confidence,
              hit_count, created_at, last_accessed_at, expires_at
), miss AS (
    INSERT INTO twitter_bot.system_state AS s (key, value)
    SELECT 'cache_misses', '1'::jsonb
     WHERE NOT EXISTS (SELECT 1 FROM hit)
        ON CONFLICT (key) DO UPDATE SET value = to_jsonb((s.value #>> '{}')::bigint + 1)
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
-- Entries (live and expired), hits, misses and hit rate of the translation cache.
SELECT count(*) FILTER (WHERE expires_at > now())::bigint AS live_entries,
       count(*) FILTER (WHERE expires_at <= now())::bigint AS expired_entries,
       coalesce(sum(hit_count), 0)::bigint AS hits,
       coalesce((SELECT (value #>> '{}')::bigint FROM twitter_bot.system_state WHERE key = 'cache_misses'), 0) AS misses,
       coalesce(sum(hit_count)::double precision
                / nullif(sum(hit_count) + coalesce((SELECT (value #>> '{}')::bigint FROM twitter_bot.system_state
                                                   WHERE key = 'cache_misses'), 0), 0), 0) AS hit_rate
  FROM twitter_bot.translation_cache;
