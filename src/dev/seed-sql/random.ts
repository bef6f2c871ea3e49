// Deterministic "random" SQL expressions for the sample-database seed: md5 of a row key and a salt, never random().
//
// Every helper takes `key`, an SQL expression naming the row (usually the generate_series variable `g`),
// and a numeric `salt` so two columns of one row draw independent values. The same key and salt give
// the same value on every run, every server and every major, which is what makes the seed's row
// counts and checksums reproducible.

/** A double in [0, 1): the first 32 bits of md5(key#salt) as an unsigned integer over 2^32. */
export function rnd(key: string, salt: number): string {
  return `(('x' || substr(md5((${key})::text || '#${salt}'), 1, 8))::bit(32)::bigint / 4294967296.0)`;
}

/** An integer in [lo, hi] (both SQL expressions or numbers). */
export function pick(key: string, salt: number, lo: number | string, hi: number | string): string {
  return `((${lo}) + floor(${rnd(key, salt)} * ((${hi}) - (${lo}) + 1))::int)`;
}

/** `expr`, or NULL for about `fraction` of the rows. */
export function orNull(expr: string, key: string, salt: number, fraction = 0.05): string {
  return `CASE WHEN ${rnd(key, salt)} < ${fraction} THEN NULL ELSE ${expr} END`;
}

/** One of `values` (SQL expressions of one type), uniformly. */
export function choose(key: string, salt: number, values: readonly string[]): string {
  return `(ARRAY[${values.join(', ')}])[${pick(key, salt, 1, values.length)}]`;
}

/** A timestamptz in [from, from + days), to the microsecond. `from` is a literal such as '2021-07-01 00:00:00+00'. */
export function timestampBetween(key: string, salt: number, from: string, days: number): string {
  return `(timestamptz '${from}' + floor(${rnd(key, salt)} * ${days * 86_400_000_000}) * interval '1 microsecond')`;
}

/** A decimal literal-like numeric with 64 fractional digits drawn from md5, for unconstrained numeric columns. */
export function longDecimal(key: string, salt: number, intPart: string): string {
  const digits = (s: number) => `translate(md5((${key})::text || '#${s}'), 'abcdef', '012345')`;
  return `((${intPart})::text || '.' || ${digits(salt)} || ${digits(salt + 1)})::numeric`;
}

/** SQL string literal of `s` (standard_conforming_strings on: only single quotes need doubling). */
export function literal(s: string): string {
  return `'${s.replace(/'/g, "''")}'`;
}
