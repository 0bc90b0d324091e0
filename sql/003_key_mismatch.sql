-- 003_key_mismatch: subscriptions made under another VAPID key.  A push
-- service that accepts our key for other subscriptions but answers "key
-- mismatch" (Apple VapidPkHashMismatch, FCM "do not correspond", autopush
-- "VAPID public key mismatch") for this one will never accept it: the
-- browser must subscribe again with our key.  The sender records it here
-- and leaves it out of audiences; a subscribe with new keys clears it.
-- A table of ours beside the seed's; rows go with their subscription.

CREATE TABLE IF NOT EXISTS "PushSubscriptionKeyMismatch" (
    "subscriptionId" TEXT NOT NULL,
    "vapidKey"       TEXT NOT NULL,
    "reason"         TEXT NOT NULL,
    "createdAt"      TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "PushSubscriptionKeyMismatch_pkey"
        PRIMARY KEY ("subscriptionId"),
    CONSTRAINT "PushSubscriptionKeyMismatch_subscriptionId_fkey"
        FOREIGN KEY ("subscriptionId") REFERENCES "PushSubscription" ("id")
        ON DELETE CASCADE ON UPDATE CASCADE
);
