// The one consistent snapshot of a full load: exported by a session held open for the whole copy
// (with a logical replication slot, so CDC starts exactly where the load's data ends), and imported by
// every copy session with SET TRANSACTION SNAPSHOT.
import { Client, type ClientConfig } from 'pg';
import { ErrorType, FerryError } from '../../errors';
import { type PgConnInfo, classifyPgError, connectPg, describeEndpoint, pgClientConfig } from '../connection';
import { quoteIdent, quoteLiteral } from '../ident';

export interface ExportedSnapshot {
  /** What SET TRANSACTION SNAPSHOT takes, e.g. '00000003-0000001B-1'. */
  snapshotId: string;
  /**
   * With a slot: the LSN from which the slot streams the changes the snapshot does not see. Without:
   * the WAL position just after the export (every commit the snapshot sees lies before it).
   */
  consistentLsn?: string;
  slotName?: string;
  /** consistentLsn is the snapshot's exact boundary (it came from a slot): see HoldSnapshotOptions.temporarySlot. */
  exact?: boolean;
  /** ISO time the snapshot was taken. */
  createdAt: string;
}

export interface HoldSnapshotOptions {
  /** Create this logical replication slot (pgoutput) with the snapshot; omit for a full load only. */
  slotName?: string;
  /**
   * Instead of a lasting slot, export the snapshot from a TEMPORARY logical slot of this name (dropped
   * with the session): its consistent point is the exact WAL boundary of the snapshot, so CDC from an
   * older slot can skip, per table, exactly the transactions such a copy already holds. (A plain
   * pg_export_snapshot has no exact boundary: a commit racing the export may lie on either side.)
   */
  temporarySlot?: string;
  /** Aborting it closes the exporting session; the snapshot then cannot be imported any more. */
  signal: AbortSignal;
  /** Called once, when copies may import the snapshot. */
  onReady: (s: ExportedSnapshot) => void;
  /** How often to check the session and call onKeepalive (default 10 s). */
  keepaliveMs?: number;
  /** Called every keepaliveMs while the session is alive: an activity heartbeats here. */
  onKeepalive?: () => void;
}

/** SQLSTATE duplicate_object: CREATE_REPLICATION_SLOT of a name that exists. */
const DUPLICATE_OBJECT = '42710';
/** SQLSTATE object_in_use: dropping a slot a walsender still holds. */
const OBJECT_IN_USE = '55006';

/**
 * Open the exporting session and keep it open until `signal` aborts (resolves then) or the session
 * dies (rejects with SNAPSHOT_LOST: every copy not yet started would fail to import it).
 *
 * With `slotName`: a replication connection runs `CREATE_REPLICATION_SLOT "<name>" LOGICAL pgoutput
 * EXPORT_SNAPSHOT`. The snapshot lives until the next command on that connection, so the keepalive sends
 * nothing to the server: it only checks that the socket is still open (TCP keepalive is on). The slot
 * outlives the session; drop it with dropSlot when CDC will not use it.
 * @throws REPLICATION_SLOT_EXISTS when the slot exists (a previous run's: its snapshot is gone).
 *
 * Without `slotName`: `BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SELECT pg_export_snapshot()`,
 * the transaction kept open (a `SELECT 1` every keepaliveMs, which does not end it).
 */
export async function holdSnapshot(conn: PgConnInfo, opts: HoldSnapshotOptions): Promise<void> {
  if (opts.signal.aborted) return;
  const slot = opts.slotName ?? opts.temporarySlot;
  const client = slot ? await connectReplication(conn) : await connectPg(conn, 'ferry-snapshot');
  // Settled by abort (resolve) or by the session dying (reject): whichever comes first.
  let lost: ((err: unknown) => void) | undefined;
  const died = new Promise<never>((_, reject) => (lost = reject));
  died.catch(() => undefined);
  const onGone = (err?: unknown) =>
    lost?.(
      new FerryError(
        ErrorType.SNAPSHOT_LOST,
        `${describeEndpoint(conn)}: the session exporting the snapshot${slot ? ` of slot ${slot}` : ''} ` +
          `ended (${err instanceof Error ? err.message : 'connection closed'}); copies cannot import it any more: ` +
          `take a new snapshot and reload the tables not completed under this one`,
        { cause: err },
      ),
    );
  client.on('error', onGone);
  client.on('end', () => onGone());
  let timer: NodeJS.Timeout | undefined;
  try {
    const snapshot = slot
      ? await createSlotWithSnapshot(client, conn, slot, !opts.slotName)
      : await exportSnapshot(client);
    const aborted = new Promise<void>((resolve) => {
      if (opts.signal.aborted) resolve();
      opts.signal.addEventListener('abort', () => resolve(), { once: true });
    });
    if (!opts.signal.aborted) opts.onReady(snapshot);
    timer = setInterval(() => {
      if (slot) {
        // No command may be sent here; a dead socket shows up as 'end'/'error' above.
        opts.onKeepalive?.();
      } else {
        client.query('SELECT 1').then(() => opts.onKeepalive?.(), onGone);
      }
    }, opts.keepaliveMs ?? 10_000);
    await Promise.race([aborted, died]);
  } catch (err) {
    throw classifyPgError(err, conn);
  } finally {
    if (timer) clearInterval(timer);
    lost = undefined;
    await client.end().catch(() => undefined);
  }
}

/** A walsender session on the database (logical replication protocol, SQL allowed). */
async function connectReplication(conn: PgConnInfo): Promise<Client> {
  // connectPg's TLS fallback for sslmode=prefer is not repeated here: with prefer, plain text is used.
  // `replication` is a startup parameter node-postgres passes on; its typings do not list it.
  const config = { ...pgClientConfig(conn, 'ferry-snapshot'), replication: 'database' } as ClientConfig;
  const client = new Client(config);
  try {
    await client.connect();
  } catch (err) {
    await client.end().catch(() => undefined);
    throw classifyPgError(err, conn);
  }
  client.on('error', () => undefined);
  return client;
}

async function createSlotWithSnapshot(
  client: Client,
  conn: PgConnInfo,
  slotName: string,
  temporary: boolean,
): Promise<ExportedSnapshot> {
  // A role's idle_session_timeout (14+) would end the idle exporter between copies; older servers do
  // not know the setting, hence the catch. Sent before the slot: any later command ends the snapshot.
  await client.query('SET idle_session_timeout = 0').catch(() => undefined);
  try {
    // PostgreSQL 13's syntax (15 accepts it too). Simple query protocol: pg sends it as is.
    const { rows } = await client.query<{
      slot_name: string;
      consistent_point: string;
      snapshot_name: string;
    }>(
      `CREATE_REPLICATION_SLOT ${quoteIdent(slotName)}${temporary ? ' TEMPORARY' : ''} LOGICAL pgoutput EXPORT_SNAPSHOT`,
    );
    return {
      snapshotId: rows[0].snapshot_name,
      consistentLsn: rows[0].consistent_point,
      ...(!temporary && { slotName: rows[0].slot_name }),
      exact: true,
      createdAt: new Date().toISOString(),
    };
  } catch (err) {
    if ((err as { code?: string }).code === DUPLICATE_OBJECT) {
      throw new FerryError(
        ErrorType.REPLICATION_SLOT_EXISTS,
        `${describeEndpoint(conn)}: replication slot "${slotName}" already exists, left by an earlier run; its ` +
          `exported snapshot is gone, so a full load cannot start from it. Drop it (ferry drops it with dropSlot) to ` +
          `load again, or keep it and run CDC only from its position`,
        { cause: err },
      );
    }
    throw err;
  }
}

async function exportSnapshot(client: Client): Promise<ExportedSnapshot> {
  // A role-level idle_in_transaction_session_timeout would end the exporter between keepalives.
  await client.query(
    `BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SET LOCAL idle_in_transaction_session_timeout = 0; SET LOCAL statement_timeout = 0`,
  );
  // The WAL position read after exporting is past every commit the snapshot sees: a CDC catch-up
  // replaying from an older slot position up to here may meet rows this snapshot already copied.
  const { rows } = await client.query<{ id: string; lsn: string }>(
    'SELECT pg_catalog.pg_export_snapshot() AS id, pg_catalog.pg_current_wal_lsn()::text AS lsn',
  );
  return { snapshotId: rows[0].id, consistentLsn: rows[0].lsn, createdAt: new Date().toISOString() };
}

/**
 * Start a read-only repeatable-read transaction on `client` that sees exactly the exported snapshot.
 * @throws SNAPSHOT_LOST when the exporting session is gone (SQLSTATE 22023 "invalid snapshot
 * identifier", or 55000 when its process died without cleaning up).
 */
export async function beginSnapshotTransaction(
  client: Client,
  snapshotId: string,
  conn: PgConnInfo,
): Promise<void> {
  await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
  try {
    await client.query(`SET TRANSACTION SNAPSHOT ${quoteLiteral(snapshotId)}`);
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    const code = (err as { code?: string }).code;
    if (code === '22023' || code === '55000') {
      throw new FerryError(
        ErrorType.SNAPSHOT_LOST,
        `${describeEndpoint(conn)}: snapshot ${snapshotId} can no longer be imported (its exporting session ended); ` +
          `take a new snapshot and reload the tables not completed under this one (server said: ${(err as Error).message})`,
        { cause: err },
      );
    }
    throw err;
  }
}

/**
 * Drop a replication slot if it exists; a no-op otherwise. A slot still held by a walsender that is
 * shutting down (the holder just closed) is retried for up to `waitMs`.
 */
export async function dropSlot(
  conn: PgConnInfo,
  slotName: string,
  opts: { waitMs?: number } = {},
): Promise<boolean> {
  const client = await connectPg(conn, 'ferry-snapshot');
  const deadline = Date.now() + (opts.waitMs ?? 10_000);
  try {
    for (;;) {
      try {
        const { rows } = await client.query(
          `SELECT pg_catalog.pg_drop_replication_slot(slot_name) FROM pg_catalog.pg_replication_slots WHERE slot_name = $1`,
          [slotName],
        );
        return rows.length > 0;
      } catch (err) {
        if ((err as { code?: string }).code !== OBJECT_IN_USE || Date.now() > deadline) throw err;
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  } catch (err) {
    throw classifyPgError(err, conn);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * Export a snapshot (from a temporary slot when `temporarySlot` is given: an exact WAL boundary), run
 * `fn` while it is held, and release it.
 */
export async function withSnapshot<T>(
  conn: PgConnInfo,
  opts: { temporarySlot?: string },
  fn: (s: ExportedSnapshot) => Promise<T>,
): Promise<T> {
  const release = new AbortController();
  let ready: (s: ExportedSnapshot) => void = () => undefined;
  const exported = new Promise<ExportedSnapshot>((r) => (ready = r));
  const held = holdSnapshot(conn, {
    temporarySlot: opts.temporarySlot,
    signal: release.signal,
    onReady: ready,
  });
  held.catch(() => undefined);
  try {
    const snap = await Promise.race([
      exported,
      held.then(() =>
        Promise.reject(new Error('the snapshot holder ended before the snapshot was exported')),
      ),
    ]);
    return await fn(snap);
  } finally {
    release.abort();
    await held.catch(() => undefined);
  }
}
