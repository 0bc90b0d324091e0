-- 002_topics: the topics a subscription follows (e.g. "event:123"), for
-- sends addressed with {"to": {"topic": ...}}.  A table of ours beside the
-- seed's; rows go with their subscription.

CREATE TABLE IF NOT EXISTS "PushSubscriptionTopic" (
    "subscriptionId" TEXT NOT NULL,
    "topic"          TEXT NOT NULL,
    "createdAt"      TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "PushSubscriptionTopic_pkey"
        PRIMARY KEY ("subscriptionId", "topic"),
    CONSTRAINT "PushSubscriptionTopic_subscriptionId_fkey"
        FOREIGN KEY ("subscriptionId") REFERENCES "PushSubscription" ("id")
        ON DELETE CASCADE ON UPDATE CASCADE
);

-- Audience of a topic send: keyset pages by subscription id within a topic.
CREATE INDEX IF NOT EXISTS "PushSubscriptionTopic_topic_subscriptionId_idx"
    ON "PushSubscriptionTopic" ("topic", "subscriptionId");
