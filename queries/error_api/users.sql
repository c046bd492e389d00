-- name: create_user(email, password_hash, full_name)^
-- A new account (Conflict on users_email_lower_unique when the e-mail exists in any case).
INSERT INTO error_api.users (email, password_hash, full_name)
VALUES (:email, :password_hash, :full_name)
RETURNING id, email, full_name, subscription_tier, stripe_customer_id, is_active, is_verified, created_at,
          updated_at, last_login;

-- name: get_user(id)^
-- One account by id.
SELECT id, email, full_name, subscription_tier, stripe_customer_id, is_active, is_verified, created_at, updated_at,
       last_login
  FROM error_api.users
 WHERE id = :id;

-- name: get_user_by_email(email)^
-- One account by e-mail, without regard to case.
SELECT id, email, full_name, subscription_tier, stripe_customer_id, is_active, is_verified, created_at, updated_at,
       last_login
  FROM error_api.users
 WHERE lower(email) = lower(:email);

-- name: get_user_credentials(email)^
-- What verifying a password needs: the account's id, hash and whether it is active (never leaves the repository).
SELECT id, password_hash, is_active
  FROM error_api.users
 WHERE lower(email) = lower(:email);

-- name: get_user_credentials_by_id(id)^
-- The same as get_user_credentials, by account id (changing a password).
SELECT id, password_hash, is_active
  FROM error_api.users
 WHERE id = :id;

-- name: update_password_hash(id, old_hash, new_hash)$
-- Replace a password hash only if it is still the one the caller verified; true when replaced.
WITH changed AS (
    UPDATE error_api.users
       SET password_hash = :new_hash
     WHERE id = :id AND password_hash IS NOT DISTINCT FROM :old_hash
    RETURNING 1
)
SELECT EXISTS (SELECT 1 FROM changed);

-- name: update_user_profile(id, full_name, email)^
-- Change the name and/or e-mail (NULL keeps a field); a new e-mail is no longer verified.
UPDATE error_api.users
   SET full_name = coalesce(:full_name, full_name),
       email = coalesce(:email, email),
       is_verified = is_verified AND lower(coalesce(:email, email)) = lower(email)
 WHERE id = :id
RETURNING id, email, full_name, subscription_tier, stripe_customer_id, is_active, is_verified, created_at,
          updated_at, last_login;

-- name: set_user_tier(id, tier)^
-- Put an account on a tier.
UPDATE error_api.users
   SET subscription_tier = :tier
 WHERE id = :id
RETURNING id, email, full_name, subscription_tier, stripe_customer_id, is_active, is_verified, created_at,
          updated_at, last_login;

-- name: set_user_stripe_customer(id, stripe_customer_id)^
-- Link an account to its Stripe customer.
UPDATE error_api.users
   SET stripe_customer_id = :stripe_customer_id
 WHERE id = :id
RETURNING id, email, full_name, subscription_tier, stripe_customer_id, is_active, is_verified, created_at,
          updated_at, last_login;

-- name: set_user_verified(id)^
-- Mark the account's e-mail as confirmed.
UPDATE error_api.users
   SET is_verified = true
 WHERE id = :id
RETURNING id, email, full_name, subscription_tier, stripe_customer_id, is_active, is_verified, created_at,
          updated_at, last_login;

-- name: deactivate_user(id)^
-- Deactivate an account: it cannot log in and its keys stop authenticating.
UPDATE error_api.users
   SET is_active = false
 WHERE id = :id
RETURNING id, email, full_name, subscription_tier, stripe_customer_id, is_active, is_verified, created_at,
          updated_at, last_login;

-- name: record_login(id, at)^
-- Remember a successful login; last_login never moves backwards.
UPDATE error_api.users
   SET last_login = greatest(last_login, :at)
 WHERE id = :id
RETURNING id, email, full_name, subscription_tier, stripe_customer_id, is_active, is_verified, created_at,
          updated_at, last_login;

-- name: count_active_users()$
-- Accounts that are active (monitoring).
SELECT count(*)::bigint FROM error_api.users WHERE is_active;
