// The notification port: what Ferry tells people (a gate waits for them, the catalog changed, a
// migration fell back or failed) and the one method every channel implements. No Temporal here:
// activities, the CLI and tests all send through the same Notifier.

export const NOTIFICATION_KINDS = [
  'gate-pending',
  'gate-reminder',
  'gate-escalation',
  'catalog-change',
  'fallback',
  'phase',
  'failure',
] as const;
export type NotificationKind = (typeof NOTIFICATION_KINDS)[number];

/** Someone a notification is addressed to (an inventory owner, an approver, a fallback contact). */
export interface Recipient {
  name: string;
  email?: string;
  role?: string;
}

export interface Notification {
  kind: NotificationKind;
  migration?: string;
  database?: string;
  /** The inventory's application that uses the database: whose users a cutover or fallback affects. */
  application?: string;
  phase?: string;
  /** One line, e.g. "catalog: new extension postgis in shop on onsite". */
  subject: string;
  /** What is asked or what happened, naming the database, the phase and what is asked of the reader. */
  text: string;
  to: Recipient[];
  /** ISO 8601 time the event happened. */
  at: string;
  /** Machine-readable details (plain JSON). */
  data?: Record<string, unknown>;
}

export interface Notifier {
  /**
   * Delivers one notification. Resolves when the channel accepted it; rejects with a FerryError whose
   * message names the channel (never a secret) when it did not. Callers decide whether a failed
   * notification fails their step; sending the same notification twice is acceptable (at least once).
   */
  notify(n: Notification): Promise<void>;
}
