// Where CDC apply has got to, for the pending-record rule: the position stored with the changes on the
// target (ferry.cdc_progress), the replication slot's confirmed position on the source (which also
// moves across stretches of WAL with nothing to apply, while the stored one only moves with batches),
// and a caller's own source of it, whichever is furthest.
import type { Client } from 'pg';
import { type PgConnInfo, connectPg } from '../connection';
import { maxLsn } from '../cdc/types';
import type { CdcPositionSource } from './types';

export class AppliedPosition {
  private hasTable = false;
  private source: Client | undefined;
  private sourceFailed = false;
  private inflight: Promise<string | undefined> | undefined;

  constructor(
    private readonly control: Client,
    private readonly sourceConn: PgConnInfo,
    private readonly migration: string,
    private readonly custom?: CdcPositionSource,
  ) {}

  /** Whether ferry.cdc_progress exists on the target (looked up again until it does). */
  async progressTable(): Promise<boolean> {
    if (this.hasTable) return true;
    const { rows } = await this.control.query<{ ok: boolean }>(
      `SELECT pg_catalog.to_regclass('ferry.cdc_progress') IS NOT NULL AS ok`,
    );
    this.hasTable = rows[0].ok;
    return this.hasTable;
  }

  /** Whether CDC has recorded a position for the migration (what `cdc: undefined` decides by). */
  async started(): Promise<boolean> {
    if (!(await this.progressTable())) return false;
    const { rows } = await this.control.query(`SELECT 1 FROM ferry.cdc_progress WHERE migration = $1`, [
      this.migration,
    ]);
    return rows.length > 0;
  }

  /**
   * The applied position now: every source transaction that ended at or before it is committed on the
   * target or touched nothing migrated. Read before a target snapshot, it holds for that snapshot.
   * Concurrent callers share one read (an earlier position is still a true lower bound).
   */
  read(): Promise<string | undefined> {
    this.inflight ??= this.readNow().finally(() => (this.inflight = undefined));
    return this.inflight;
  }

  private async readNow(): Promise<string | undefined> {
    let pos: string | undefined;
    const take = (l: string | undefined | null) => {
      if (l) pos = pos ? maxLsn(pos, l) : l;
    };
    if (this.custom) take(await this.custom.appliedLsn());
    if (await this.progressTable()) {
      const { rows } = await this.control.query<{ applied: string; slot: string }>(
        `SELECT applied_lsn::text AS applied, slot_name AS slot FROM ferry.cdc_progress WHERE migration = $1`,
        [this.migration],
      );
      if (rows[0]) {
        take(rows[0].applied);
        take(await this.slotConfirmed(rows[0].slot));
      }
    }
    return pos;
  }

  /** The stored position inside a target transaction (consistent with the rows it reads). */
  async inTarget(c: Client): Promise<string | undefined> {
    if (!this.hasTable) return undefined;
    const { rows } = await c.query<{ applied: string }>(
      `SELECT applied_lsn::text AS applied FROM ferry.cdc_progress WHERE migration = $1`,
      [this.migration],
    );
    return rows[0]?.applied;
  }

  /**
   * The slot's confirmed_flush_lsn: CDC confirms a position only after the target committed what came
   * before it. Best effort: without access to the source's slot view, the stored position alone counts.
   */
  private async slotConfirmed(slot: string): Promise<string | undefined> {
    if (this.sourceFailed) return undefined;
    try {
      this.source ??= await connectPg(this.sourceConn, 'ferry-validate-position');
      const { rows } = await this.source.query<{ lsn: string | null }>(
        `SELECT confirmed_flush_lsn::text AS lsn FROM pg_catalog.pg_replication_slots
          WHERE slot_name = $1 AND database = pg_catalog.current_database()`,
        [slot],
      );
      return rows[0]?.lsn ?? undefined;
    } catch {
      await this.source?.end().catch(() => undefined);
      this.source = undefined;
      this.sourceFailed = true;
      return undefined;
    }
  }

  async close(): Promise<void> {
    await this.source?.end().catch(() => undefined);
    this.source = undefined;
  }
}
