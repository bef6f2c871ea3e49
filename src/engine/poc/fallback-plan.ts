// PoC step 6: the written way back — who to tell, which applications, and the exact commands that
// restore the source database from the dump, with the password read from its secret reference. Pure.

export interface Contact {
  name: string;
  email?: string;
  phone?: string;
  role?: string;
}

export interface FallbackPlanInput {
  migration: string;
  source: {
    endpointId: string;
    host: string;
    port: number;
    database: string;
    user: string;
    /** The endpoint's secret reference (env:NAME, file:PATH, aws-secretsmanager:ARN), never a password. */
    passwordRef: string;
    /** libpq sslmode for the commands; omitted: libpq's default. */
    sslmode?: string;
  };
  /** The pg_dump -Fc archive to restore from. */
  dumpFile: string;
  owners: Contact[];
  fallbackContacts: Contact[];
  application?: string;
  /** From the catalog inventory; durations in seconds. */
  sla?: { maxDowntime?: number; rpo?: number; businessHours?: string };
}

export interface FallbackPlan {
  notify: { to: Contact[]; subject: string; message: string };
  applications: string[];
  /** Shell commands, in order, ready to paste; none contains a password. */
  commands: string[];
  notes: string[];
}

/** Single-quote for POSIX shells: nothing inside is expanded. */
export function shellQuote(s: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * `PGPASSWORD=...` prefix that fetches the password when the command runs, or undefined when the
 * reference is empty or of an unknown form (the reference is then not echoed: it might be a password
 * typed where a reference belongs).
 */
export function passwordFromRef(ref: string | undefined): string | undefined {
  if (!ref) return undefined;
  if (ref.startsWith('env:') && /^[A-Za-z_][A-Za-z0-9_]*$/.test(ref.slice(4)))
    return `PGPASSWORD="$${ref.slice(4)}"`;
  if (ref.startsWith('file:') && ref.length > 5) return `PGPASSWORD="$(cat ${shellQuote(ref.slice(5))})"`;
  const arn = /^aws-secretsmanager:(arn:aws[a-z-]*:secretsmanager:([a-z0-9-]+):\d{12}:secret:.+)$/.exec(ref);
  if (arn) {
    return (
      `PGPASSWORD="$(aws secretsmanager get-secret-value --region ${arn[2]} --secret-id ${shellQuote(arn[1])} ` +
      `--query SecretString --output text)"`
    );
  }
  return undefined;
}

function seconds(s: number): string {
  if (s % 3600 === 0 && s >= 3600) return `${s / 3600} h`;
  if (s % 60 === 0 && s >= 60) return `${s / 60} min`;
  return `${s} s`;
}

export function buildFallbackPlan(input: FallbackPlanInput): FallbackPlan {
  const { source: s } = input;
  const pw = passwordFromRef(s.passwordRef);
  const envPrefix = [pw, s.sslmode ? `PGSSLMODE=${shellQuote(s.sslmode)}` : undefined]
    .filter(Boolean)
    .join(' ');
  const prefix = envPrefix ? `${envPrefix} ` : '';
  // A name containing "=" would be read as a connection string by -d; make it one on purpose.
  const db = s.database.includes('=')
    ? `dbname='${s.database.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`
    : s.database;
  const login = `-h ${shellQuote(s.host)} -p ${s.port} -U ${shellQuote(s.user)} -d ${shellQuote(db)}`;
  const file = shellQuote(input.dumpFile);

  const commands = [
    // Fails fast, before anything is dropped, if the archive is missing or unreadable.
    `pg_restore --list ${file} > /dev/null`,
    `${prefix}pg_restore --clean --if-exists --no-owner --single-transaction --exit-on-error ${login} ${file}`,
    `${prefix}psql ${login} -v ON_ERROR_STOP=1 -c ANALYZE`,
  ];

  const seen = new Set<string>();
  const to: Contact[] = [];
  for (const c of [...input.owners, ...input.fallbackContacts]) {
    const key = (c.email ?? c.name).toLowerCase();
    if (seen.has(key)) continue;
    seen.add(key);
    to.push(c);
  }
  const where = `${s.database} on ${s.host}:${s.port} (endpoint ${s.endpointId})`;
  const app = input.application ? ` used by ${input.application}` : '';

  const notes = [
    `Run the commands on a host that can reach ${s.host}:${s.port} and read ${input.dumpFile}, with a pg_restore at ` +
      `least as new as the pg_dump that wrote it.`,
    `Stop the application's writes to the target first, then point ${input.application ?? 'the application'} back to ${where}.`,
    `--clean --if-exists drops each object in the archive before recreating it: rows written to those tables after the ` +
      `dump are lost; objects not in the archive are left as they are.`,
    `--single-transaction: the restore either completes or changes nothing, so a failure leaves the source as it was.`,
    `--no-owner: restored objects belong to ${s.user}; reassign owners with ALTER ... OWNER TO if the application needs it.`,
  ];
  if (!pw) {
    notes.push(
      `The endpoint's password reference is not env:, file: or aws-secretsmanager:, or is empty: export PGPASSWORD ` +
        `(or use ~/.pgpass) before running the commands, unless the server needs no password.`,
    );
  }
  if (input.sla?.maxDowntime !== undefined)
    notes.push(`SLA: maximum downtime ${seconds(input.sla.maxDowntime)}.`);
  if (input.sla?.rpo !== undefined) notes.push(`SLA: recovery point objective ${seconds(input.sla.rpo)}.`);
  if (input.sla?.businessHours) notes.push(`SLA: business hours ${input.sla.businessHours}.`);
  if (!to.length)
    notes.push(
      'Nobody to notify: add owners to the catalog inventory or fallback.contacts to the migration.',
    );

  return {
    notify: {
      to,
      subject: `Ferry fallback for migration ${input.migration}: ${s.database} back on ${s.host}`,
      message:
        `Migration ${input.migration} is falling back: database ${where}${app} is being restored from ${input.dumpFile}. ` +
        `Writes to the new target must stop; the application returns to the source when the restore completes.`,
    },
    applications: input.application ? [input.application] : [],
    commands,
    notes,
  };
}
