import { pgEnum, pgTable, serial, text, varchar, integer, timestamp, jsonb, boolean, index } from 'drizzle-orm/pg-core';

export const role = pgEnum('role', ['member', 'admin']);

export const users = pgTable('users', {
  id: serial('id').primaryKey(),
  email: varchar('email', { length: 255 }).notNull().unique(),
  name: text('name'),
  phone: varchar('phone', { length: 32 }),
  role: role('role').notNull().default('member'),
  createdAt: timestamp('created_at').notNull().defaultNow(),
});

export const submissions = pgTable(
  'submissions',
  {
    id: serial('id').primaryKey(),
    automationSlug: varchar('automation_slug', { length: 64 }).notNull(),
    payload: jsonb('payload').notNull(),
    status: varchar('status', { length: 16 }).notNull().default('pending'),
    result: jsonb('result'),
    error: text('error'),
    createdAt: timestamp('created_at').notNull().defaultNow(),
    updatedAt: timestamp('updated_at').notNull().defaultNow(),
  },
  (t) => [index('submissions_automation_slug_idx').on(t.automationSlug)],
);

export const audits = pgTable(
  'audits',
  {
    id: serial('id').primaryKey(),
    timestamp: timestamp('timestamp').notNull().defaultNow(),
    userId: integer('user_id').references(() => users.id, { onDelete: 'set null' }),
    action: varchar('action', { length: 64 }).notNull(),
    status: varchar('status', { length: 16 }).notNull(),
    details: jsonb('details'),
  },
  (t) => [index('audits_timestamp_idx').on(t.timestamp)],
);

export const sessions = pgTable('sessions', {
  id: varchar('id', { length: 128 }).primaryKey(),
  userId: integer('user_id')
    .notNull()
    .references(() => users.id, { onDelete: 'cascade' }),
  ip: varchar('ip', { length: 64 }),
  userAgent: varchar('user_agent', { length: 256 }),
  createdAt: timestamp('created_at').notNull().defaultNow(),
  expiresAt: timestamp('expires_at').notNull(),
  revoked: boolean('revoked').notNull().default(false),
});
