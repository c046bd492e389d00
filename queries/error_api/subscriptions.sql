-- name: upsert_subscription(user_id, stripe_subscription_id, stripe_price_id, tier, status, current_period_start, current_period_end, canceled_at, stripe_event_at)^
-- Apply a Stripe subscription event unless a newer one was applied already (events arrive out of order and more than once); the account's tier follows an applied event. applied tells whether it changed anything.
WITH written AS (
    INSERT INTO error_api.subscriptions AS s
           (user_id, stripe_subscription_id, stripe_price_id, tier, status, current_period_start,
            current_period_end, canceled_at, stripe_event_at)
    VALUES (:user_id, :stripe_subscription_id, :stripe_price_id, :tier, :status, :current_period_start,
            :current_period_end, :canceled_at, :stripe_event_at)
        ON CONFLICT ON CONSTRAINT subscriptions_stripe_id_unique DO UPDATE
       SET stripe_price_id = EXCLUDED.stripe_price_id, tier = EXCLUDED.tier, status = EXCLUDED.status,
           current_period_start = EXCLUDED.current_period_start, current_period_end = EXCLUDED.current_period_end,
           canceled_at = EXCLUDED.canceled_at, stripe_event_at = EXCLUDED.stripe_event_at
     WHERE s.stripe_event_at < EXCLUDED.stripe_event_at
    RETURNING s.id, s.user_id, s.stripe_subscription_id, s.stripe_price_id, s.tier, s.status, s.current_period_start,
              s.current_period_end, s.canceled_at, s.stripe_event_at, s.created_at, s.updated_at
), tiered AS (
    UPDATE error_api.users AS u
       SET subscription_tier = CASE WHEN w.status IN ('active', 'trialing', 'past_due') THEN w.tier ELSE 'free' END
      FROM written AS w
     WHERE u.id = w.user_id
       AND u.subscription_tier IS DISTINCT FROM CASE WHEN w.status IN ('active', 'trialing', 'past_due') THEN w.tier ELSE 'free' END
)
SELECT id, user_id, stripe_subscription_id, stripe_price_id, tier, status, current_period_start, current_period_end,
       canceled_at, stripe_event_at, created_at, updated_at, true AS applied
  FROM written
 UNION ALL
SELECT id, user_id, stripe_subscription_id, stripe_price_id, tier, status, current_period_start, current_period_end,
       canceled_at, stripe_event_at, created_at, updated_at, false
  FROM error_api.subscriptions
 WHERE stripe_subscription_id = :stripe_subscription_id AND NOT EXISTS (SELECT 1 FROM written);

-- name: get_current_subscription(user_id)^
-- A user's subscription as the newest billing event left it.
SELECT id, user_id, stripe_subscription_id, stripe_price_id, tier, status, current_period_start, current_period_end,
       canceled_at, stripe_event_at, created_at, updated_at
  FROM error_api.subscriptions
 WHERE user_id = :user_id
 ORDER BY stripe_event_at DESC
 LIMIT 1;
