-- name: revoke_token(token_jti, token_type, revoked_by, revocation_reason, expires_at)$
-- Blacklist a token by its jti; true when newly revoked, false when it already was.
WITH revoked AS (
    INSERT INTO error_api.token_blacklist (token_jti, token_type, revoked_by, revocation_reason, expires_at)
    VALUES (:token_jti, :token_type, :revoked_by, :revocation_reason, :expires_at)
        ON CONFLICT ON CONSTRAINT token_blacklist_jti_unique DO NOTHING
    RETURNING 1
)
SELECT EXISTS (SELECT 1 FROM revoked);

-- name: check_token_revoked(token_jti)$
-- Whether a token's jti is blacklisted (an index lookup).
SELECT EXISTS (SELECT 1 FROM error_api.token_blacklist WHERE token_jti = :token_jti);

-- name: delete_expired_tokens(before)$
-- Forget revoked tokens that expired before a time (they cannot be used anyway); returns how many.
WITH deleted AS (
    DELETE FROM error_api.token_blacklist WHERE expires_at < :before RETURNING 1
)
SELECT count(*)::bigint FROM deleted;
