-- 001_init: the seed's three tables, exactly as its Prisma schema names them.
--
-- Idempotent: every statement is IF NOT EXISTS (or naturally repeatable), and
-- names follow Prisma's conventions ("Table_pkey", "Table_col_key",
-- "Table_col1_col2_idx"), so this applies cleanly onto a database where a
-- Prisma migration already created the tables and indexes.  The only thing
-- we add to Prisma's shape is a default for "id" (Prisma generates ids in the
-- client; we let SQL inserts omit them).  A check right after the tables
-- refuses a pre-existing table whose columns differ from what we rely on.
--
-- Run by `webpush-cli migrate` inside one transaction; it must not contain
-- transaction control of its own.

-- "PushSubscription": one browser subscription; endpoint is unique.
CREATE TABLE IF NOT EXISTS "PushSubscription" (
    "id"         TEXT NOT NULL,
    "userId"     TEXT NOT NULL,
    "endpoint"   TEXT NOT NULL,
    "p256dh"     TEXT NOT NULL,
    "auth"       TEXT NOT NULL,
    "ua"         TEXT,
    "enabled"    BOOLEAN NOT NULL DEFAULT true,
    "createdAt"  TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "lastSeenAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "PushSubscription_pkey" PRIMARY KEY ("id")
);

-- "NotificationLog": one row per send request (audience size and outcome).
CREATE TABLE IF NOT EXISTS "NotificationLog" (
    "id"                TEXT NOT NULL,
    "type"              TEXT NOT NULL,
    "eventId"           TEXT,
    "userId"            TEXT,
    "subscriptionCount" INTEGER NOT NULL DEFAULT 0,
    "sentCount"         INTEGER NOT NULL DEFAULT 0,
    "failedCount"       INTEGER NOT NULL DEFAULT 0,
    "payload"           JSONB NOT NULL,
    "metadata"          JSONB,
    "createdAt"         TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "NotificationLog_pkey" PRIMARY KEY ("id")
);

-- "PushError": one row per failed delivery attempt.
CREATE TABLE IF NOT EXISTS "PushError" (
    "id"         TEXT NOT NULL,
    "endpoint"   TEXT NOT NULL,
    "error"      TEXT NOT NULL,
    "statusCode" INTEGER,
    "jobId"      TEXT,
    "eventId"    TEXT,
    "createdAt"  TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "PushError_pkey" PRIMARY KEY ("id")
);

-- Refuse a pre-existing table that lacks a column we use or types it
-- differently, naming every mismatch, before anything else touches it
-- (instead of failing later at runtime).
DO $check$
DECLARE
    problems TEXT;
BEGIN
    SELECT string_agg(format('%I.%I: want %s%s, found %s',
                             w.tbl, w.col, w.typ,
                             CASE WHEN w.required THEN ' NOT NULL' ELSE '' END,
                             COALESCE(c.data_type
                                      || CASE WHEN c.is_nullable = 'NO'
                                              THEN ' NOT NULL' ELSE '' END,
                                      'no such column')),
                      '; ' ORDER BY w.tbl, w.col)
      INTO problems
      FROM (VALUES
        ('PushSubscription', 'id',                'text',                        true),
        ('PushSubscription', 'userId',            'text',                        true),
        ('PushSubscription', 'endpoint',          'text',                        true),
        ('PushSubscription', 'p256dh',            'text',                        true),
        ('PushSubscription', 'auth',              'text',                        true),
        ('PushSubscription', 'ua',                'text',                        false),
        ('PushSubscription', 'enabled',           'boolean',                     true),
        ('PushSubscription', 'createdAt',         'timestamp without time zone', true),
        ('PushSubscription', 'lastSeenAt',        'timestamp without time zone', true),
        ('NotificationLog',  'id',                'text',                        true),
        ('NotificationLog',  'type',              'text',                        true),
        ('NotificationLog',  'eventId',           'text',                        false),
        ('NotificationLog',  'userId',            'text',                        false),
        ('NotificationLog',  'subscriptionCount', 'integer',                     true),
        ('NotificationLog',  'sentCount',         'integer',                     true),
        ('NotificationLog',  'failedCount',       'integer',                     true),
        ('NotificationLog',  'payload',           'jsonb',                       true),
        ('NotificationLog',  'metadata',          'jsonb',                       false),
        ('NotificationLog',  'createdAt',         'timestamp without time zone', true),
        ('PushError',        'id',                'text',                        true),
        ('PushError',        'endpoint',          'text',                        true),
        ('PushError',        'error',             'text',                        true),
        ('PushError',        'statusCode',        'integer',                     false),
        ('PushError',        'jobId',             'text',                        false),
        ('PushError',        'eventId',           'text',                        false),
        ('PushError',        'createdAt',         'timestamp without time zone', true)
      ) AS w(tbl, col, typ, required)
      LEFT JOIN information_schema.columns c
             ON c.table_schema = current_schema()
            AND c.table_name = w.tbl
            AND c.column_name = w.col
     WHERE c.column_name IS NULL
        OR c.data_type <> w.typ
        OR (c.is_nullable = 'NO') <> w.required;

    IF problems IS NOT NULL THEN
        RAISE EXCEPTION 'existing tables do not match the expected schema: %',
                        problems;
    END IF;
END
$check$;

-- Indexes, with the names Prisma gives them.
CREATE UNIQUE INDEX IF NOT EXISTS "PushSubscription_endpoint_key"
    ON "PushSubscription" ("endpoint");
CREATE INDEX IF NOT EXISTS "PushSubscription_userId_enabled_idx"
    ON "PushSubscription" ("userId", "enabled");
CREATE INDEX IF NOT EXISTS "NotificationLog_createdAt_idx"
    ON "NotificationLog" ("createdAt");
CREATE INDEX IF NOT EXISTS "NotificationLog_eventId_idx"
    ON "NotificationLog" ("eventId");
CREATE INDEX IF NOT EXISTS "PushError_endpoint_idx"
    ON "PushError" ("endpoint");
CREATE INDEX IF NOT EXISTS "PushError_createdAt_idx"
    ON "PushError" ("createdAt");

-- ids: UUID text generated by the database when an insert omits them
-- (gen_random_uuid() is core since PostgreSQL 13).  SET DEFAULT simply
-- replaces any default, so this is repeatable on Prisma-created tables.
ALTER TABLE "PushSubscription" ALTER COLUMN "id" SET DEFAULT gen_random_uuid()::text;
ALTER TABLE "NotificationLog"  ALTER COLUMN "id" SET DEFAULT gen_random_uuid()::text;
ALTER TABLE "PushError"        ALTER COLUMN "id" SET DEFAULT gen_random_uuid()::text;
