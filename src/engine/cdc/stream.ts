// Capture: a logical replication stream from a slot, decoded by pg-logical-replication's pgoutput
// parser (values kept as the text the source printed, never converted to JS types and back), turned into
// whole source transactions. Transactions larger than `spillBytes` go to a file as they arrive, so a
// 100 MB transaction never sits in memory. Positions are confirmed only through ack(), which the caller
// calls after the target committed: a crash replays, never skips.
import { closeSync, createReadStream, mkdirSync, openSync, rmSync, writeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import type { Client, ClientConfig } from 'pg';
import { LogicalReplicationService, Pgoutput, PgoutputPlugin } from 'pg-logical-replication';
import { type PgConnInfo, classifyPgError, pgClientConfig } from '../connection';
import { quoteIdent, quoteLiteral } from '../ident';
import {
  tableKeyOf,
  type Change,
  type RowImage,
  type SourceTxn,
  bigIntToLsn,
  compareLsn,
  lsnToBigInt,
} from './types';

/** A committed source transaction as queued for apply: in memory, or spilled to a file. */
export interface CapturedTxn extends SourceTxn {
  /** Estimated in-memory size of `changes` (0 once spilled). */
  bytes: number;
  /** Set when the changes were written to a file: `changes` is empty, read them with readSpill. */
  spill?: { file: string; count: number };
}

export interface StreamHandlers {
  /** A whole transaction arrived. A returned promise pauses the stream until it settles (backpressure). */
  onTxn: (txn: CapturedTxn) => void | Promise<void>;
  /** The server reported its WAL position (keepalive). */
  onKeepalive?: (walEnd: string) => void;
}

export interface ChangeStreamOptions {
  slotName: string;
  publication: string;
  /** A transaction above this many bytes is spilled to disk (default 64 MiB). */
  spillBytes?: number;
  /** Where spill files go (default the OS temp dir). */
  spillDir?: string;
  /**
   * Per table key, a WAL position: that table's changes in transactions whose commit record lies
   * before it are dropped here (a copy read under a snapshot with that exact boundary holds them).
   */
  skipBefore?: Record<string, string>;
}

/** pgoutput, with every column's value left as text (the library would parse it into JS values). */
class TextPgoutputPlugin extends PgoutputPlugin {
  override parse(buffer: Buffer): Pgoutput.Message {
    const msg = super.parse(buffer);
    if (msg.tag === 'relation') for (const c of msg.columns) c.parser = (raw: unknown) => raw;
    return msg;
  }

  /** The library also sends `messages`, which PostgreSQL 13 rejects; proto_version 1 works from 10 up. */
  override start(client: Client, slotName: string, lastLsn: string): Promise<unknown> {
    const pubs = this.options.publicationNames.map((p) => quoteIdent(p)).join(',');
    return client.query(
      `START_REPLICATION SLOT ${quoteIdent(slotName)} LOGICAL ${lastLsn} ` +
        `(proto_version '1', publication_names ${quoteLiteral(pubs)})`,
    );
  }
}

const norm = (lsn: string | null): string => (lsn ? bigIntToLsn(lsnToBigInt(lsn)) : '0/0');

function imageBytes(img: RowImage | undefined): number {
  if (!img) return 0;
  let n = 0;
  for (const k in img) {
    const v = img[k];
    n += k.length + 16 + (typeof v === 'string' ? v.length : 0);
  }
  return n;
}

export function changeBytes(c: Change): number {
  switch (c.kind) {
    case 'insert':
      return 64 + imageBytes(c.new);
    case 'update':
      return 64 + imageBytes(c.new) + imageBytes(c.old);
    case 'delete':
      return 64 + imageBytes(c.old);
    default:
      return 64;
  }
}

function relationKey(r: Pgoutput.MessageRelation): string {
  return tableKeyOf(r.schema, r.name);
}

/** The library's key tuples leave non-key columns undefined; drop them so "not sent" stays "absent". */
function image(t: Record<string, unknown> | null | undefined): RowImage | undefined {
  if (!t) return undefined;
  const out: RowImage = {};
  for (const k in t) {
    const v = t[k];
    if (v === null) out[k] = null;
    else if (typeof v === 'string') out[k] = v;
    else if (v instanceof Uint8Array) out[k] = Buffer.from(v).toString();
  }
  return out;
}

function toChange(m: Pgoutput.Message): Change | undefined {
  switch (m.tag) {
    case 'insert':
      return { kind: 'insert', table: relationKey(m.relation), new: image(m.new) ?? {} };
    case 'update': {
      const old = image(m.old ?? m.key);
      return {
        kind: 'update',
        table: relationKey(m.relation),
        ...(old ? { old } : {}),
        new: image(m.new) ?? {},
      };
    }
    case 'delete':
      return { kind: 'delete', table: relationKey(m.relation), old: image(m.old ?? m.key) ?? {} };
    case 'truncate':
      return {
        kind: 'truncate',
        tables: m.relations.filter((r) => r).map(relationKey),
        cascade: m.cascade,
        restartIdentity: m.restartIdentity,
      };
    default:
      return undefined;
  }
}

/** One open (BEGIN seen, COMMIT not yet) transaction. */
class OpenTxn {
  changes: Change[] = [];
  bytes = 0;
  count = 0;
  private fd?: number;
  private file?: string;
  private pending: string[] = [];
  private pendingBytes = 0;

  constructor(
    readonly xid: number,
    readonly commitLsn: string,
    readonly commitTime: number,
    private readonly spillBytes: number,
    private readonly spillDir: string,
  ) {}

  add(c: Change): void {
    this.count++;
    if (this.fd === undefined) {
      this.changes.push(c);
      this.bytes += changeBytes(c);
      if (this.bytes > this.spillBytes) this.spillAll();
      return;
    }
    const line = JSON.stringify(c) + '\n';
    this.pending.push(line);
    this.pendingBytes += line.length;
    if (this.pendingBytes > 1 << 20) this.flush();
  }

  private spillAll(): void {
    mkdirSync(this.spillDir, { recursive: true });
    this.file = path.join(this.spillDir, `ferry-txn-${process.pid}-${this.xid}-${Date.now()}.jsonl`);
    this.fd = openSync(this.file, 'w', 0o600);
    for (const c of this.changes) this.pending.push(JSON.stringify(c) + '\n');
    this.changes = [];
    this.bytes = 0;
    this.flush();
  }

  private flush(): void {
    if (this.fd === undefined || !this.pending.length) return;
    writeSync(this.fd, this.pending.join(''));
    this.pending = [];
    this.pendingBytes = 0;
  }

  finish(endLsn: string): CapturedTxn {
    const base = { xid: this.xid, commitLsn: this.commitLsn, endLsn, commitTime: this.commitTime };
    if (this.fd === undefined) return { ...base, changes: this.changes, bytes: this.bytes };
    this.flush();
    closeSync(this.fd);
    return { ...base, changes: [], bytes: 0, spill: { file: this.file!, count: this.count } };
  }

  discard(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    if (this.file) rmSync(this.file, { force: true });
  }
}

/** Read a spilled transaction back in chunks of `chunk` changes. */
export async function* readSpill(file: string, chunk: number): AsyncGenerator<Change[]> {
  const lines = createInterface({ input: createReadStream(file, 'utf8'), crlfDelay: Infinity });
  let buf: Change[] = [];
  for await (const line of lines) {
    if (!line) continue;
    buf.push(JSON.parse(line) as Change);
    if (buf.length >= chunk) {
      yield buf;
      buf = [];
    }
  }
  if (buf.length) yield buf;
}

export function removeSpill(txn: CapturedTxn): void {
  if (txn.spill) rmSync(txn.spill.file, { force: true });
}

/**
 * A walsender session streaming one slot. start() resolves when stop() ends it and rejects when the
 * session fails (server restart, network): the caller restarts from its last applied position.
 */
export class ChangeStream {
  private service?: LogicalReplicationService;
  private open?: OpenTxn;
  private stopped = false;
  /** Highest position seen in the stream (data or keepalive). */
  receivedLsn = '0/0';

  /** True between a transaction's BEGIN and COMMIT: its changes are arriving. */
  get inTxn(): boolean {
    return this.open !== undefined;
  }

  constructor(
    private readonly conn: PgConnInfo,
    private readonly opts: ChangeStreamOptions,
  ) {}

  async start(fromLsn: string, handlers: StreamHandlers): Promise<void> {
    const config = { ...pgClientConfig(this.conn, 'ferry-cdc'), replication: 'database' } as ClientConfig;
    const service = new LogicalReplicationService(config, {
      // Never let the library confirm on its own: only ack() after the target commit moves the slot.
      acknowledge: { auto: false, timeoutSeconds: 0 },
      // Messages are handed over as they are parsed, keepalives in their place among them (the
      // library's flow control queues data but not keepalives, and awaits a promise per message).
      // Backpressure is ours: the socket is paused while onTxn's promise is pending.
      flowControl: { enabled: false },
    });
    this.service = service;
    const spillBytes = this.opts.spillBytes ?? 64 << 20;
    const spillDir = this.opts.spillDir ?? path.join(os.tmpdir(), 'ferry-cdc-spill');
    let failed: (e: unknown) => void = () => undefined;
    const failure = new Promise<never>((_, reject) => (failed = reject));
    failure.catch(() => undefined);
    service.on('error', (e: Error) => failed(e));
    service.on('heartbeat', (lsn: string) => {
      const l = norm(lsn);
      if (lsnToBigInt(l) > lsnToBigInt(this.receivedLsn)) this.receivedLsn = l;
      handlers.onKeepalive?.(l);
    });
    /** The replication connection's socket (pg-logical-replication 2.5 keeps the pg Connection private). */
    const socket = () =>
      (service as unknown as { _connection?: { stream?: { pause(): void; resume(): void } } })._connection
        ?.stream;
    let paused = 0;
    service.on('data', (_lsn: string, msg: Pgoutput.Message) => {
      const r = this.handle(msg, handlers, spillBytes, spillDir);
      if (r === undefined) return;
      if (paused++ === 0) socket()?.pause();
      r.catch((e: unknown) => failed(e)).finally(() => {
        if (--paused === 0) socket()?.resume();
      });
    });
    const plugin = new TextPgoutputPlugin({ protoVersion: 1, publicationNames: [this.opts.publication] });
    try {
      await Promise.race([service.subscribe(plugin, this.opts.slotName, fromLsn), failure]);
      if (!this.stopped) throw new Error('the replication stream ended');
    } catch (err) {
      if (this.stopped) return;
      throw classifyPgError(err, this.conn);
    } finally {
      this.open?.discard();
      this.open = undefined;
      await service.stop().catch(() => undefined);
    }
  }

  /** One data message: transactions are assembled here; a whole one goes to onTxn (its promise returned). */
  private handle(
    msg: Pgoutput.Message,
    handlers: StreamHandlers,
    spillBytes: number,
    spillDir: string,
  ): Promise<void> | undefined {
    switch (msg.tag) {
      case 'begin':
        this.open?.discard();
        this.open = new OpenTxn(
          msg.xid,
          norm(msg.commitLsn),
          Number(BigInt(msg.commitTime.toString()) / 1000n),
          spillBytes,
          spillDir,
        );
        return undefined;
      case 'commit': {
        const txn = this.open;
        this.open = undefined;
        if (!txn) return undefined;
        const end = norm(msg.commitEndLsn);
        if (lsnToBigInt(end) > lsnToBigInt(this.receivedLsn)) this.receivedLsn = end;
        const r: unknown = handlers.onTxn(txn.finish(end));
        return r === undefined ? undefined : Promise.resolve(r as PromiseLike<void>);
      }
      default: {
        const c = toChange(msg);
        const kept = c && this.open && this.skipped(c, this.open.commitLsn);
        if (kept) this.open!.add(kept);
        return undefined;
      }
    }
  }

  /** The change without what skipBefore drops from a transaction committed at `commitLsn` (undefined: all). */
  private skipped(c: Change, commitLsn: string): Change | undefined {
    const skip = this.opts.skipBefore;
    if (!skip) return c;
    const before = (t: string) => {
      const lsn = Object.prototype.hasOwnProperty.call(skip, t) ? skip[t] : undefined;
      return lsn !== undefined && compareLsn(commitLsn, lsn) < 0;
    };
    if (c.kind !== 'truncate') return before(c.table) ? undefined : c;
    const tables = c.tables.filter((t) => !before(t));
    return tables.length ? { ...c, tables } : undefined;
  }

  /**
   * Confirm to the source that everything before `lsn` is applied (write = flush = apply = lsn); with
   * `ping` the server answers with a keepalive carrying its position.
   */
  ack(lsn: string, ping = false): void {
    // The library reports lsn + 1 (it takes "the last byte received"); pass lsn - 1 so the slot's
    // confirmed_flush_lsn becomes exactly `lsn`: the next transaction's commit may start right there.
    const v = lsnToBigInt(lsn);
    if (v === 0n) {
      if (ping) void this.service?.acknowledge('0/0', true).catch(() => undefined);
      return;
    }
    void this.service?.acknowledge(bigIntToLsn(v - 1n), ping).catch(() => undefined);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.service?.stop().catch(() => undefined);
  }
}
