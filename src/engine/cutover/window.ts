// When a cutover may start: the SLA's business hours (ferry.yaml `sla.businessHours`, free text such as
// "Mon-Fri 08:00-18:00 Europe/Berlin") are when the application is busy, so a cutover is refused inside
// them, and also when its downtime budget (`sla.maxDowntime`) would run into them.
import type { Sla } from '../../config/schema';

/** The outcome of checkWindow: `ok`, and a sentence saying why (or why not) for status and history. */
export interface WindowCheck {
  ok: boolean;
  reason: string;
  /** The instant checked (ISO 8601). */
  at: string;
  /** The SLA's businessHours as written, when it has one. */
  businessHours?: string;
}

/** One business-hours interval, in minutes since Monday 00:00 local time; `end` may pass 7 * 1440 (wraps). */
interface WeekInterval {
  start: number;
  end: number;
}

export interface BusinessHours {
  /** IANA time zone; UTC when the text names none. */
  timeZone: string;
  intervals: WeekInterval[];
}

const DAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
const WEEK = 7 * 1440;
/** Sampling step when checking that the downtime budget stays outside business hours. */
const STEP_MINUTES = 1;
/** A longer downtime budget is checked over one week only: every weekly interval is met by then. */
const MAX_BUDGET_MINUTES = WEEK;

const EXAMPLE = '"Mon-Fri 08:00-18:00 Europe/Berlin" or "Mon-Fri 07:00-19:00, Sat 09:00-13:00 UTC"';

function dayIndex(s: string): number | undefined {
  const i = DAYS.indexOf(s.slice(0, 3).toLowerCase() as (typeof DAYS)[number]);
  return i < 0 ? undefined : i;
}

function minutes(hhmm: string): number | undefined {
  const m = /^(\d{1,2}):(\d{2})$/.exec(hhmm);
  if (!m) return undefined;
  const h = Number(m[1]);
  const min = Number(m[2]);
  if (min > 59 || h > 24 || (h === 24 && min !== 0)) return undefined;
  return h * 60 + min;
}

function validTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

/**
 * Parse `sla.businessHours`: comma- or semicolon-separated `<days> <HH:MM>-<HH:MM>` parts, then an
 * optional IANA time zone (default UTC). Days are `Mon`..`Sun` (three letters or more), ranges
 * (`Mon-Fri`, `Fri-Mon` wraps), lists (`Sat,Sun`) or `daily`. An end before the start runs past
 * midnight (`Mon-Fri 22:00-06:00`). Returns a sentence saying what is wrong instead when the text does
 * not parse: a cutover gate must not guess what free text meant.
 */
export function parseBusinessHours(text: string): BusinessHours | string {
  let rest = text.trim();
  let timeZone = 'UTC';
  const tz = /\s+([A-Za-z][A-Za-z0-9_+-]*(?:\/[A-Za-z0-9_+-]+)+|UTC|GMT|Z)$/.exec(rest);
  if (tz) {
    timeZone = tz[1] === 'Z' ? 'UTC' : tz[1];
    rest = rest.slice(0, tz.index).trim();
  }
  if (!validTimeZone(timeZone)) return `unknown time zone ${JSON.stringify(timeZone)}`;
  const part =
    /^\s*(daily|[A-Za-z]{3,}(?:\s*[-,]\s*[A-Za-z]{3,})*)\s+(\d{1,2}:\d{2})\s*-\s*(\d{1,2}:\d{2})\s*(?:[,;]|$)/i;
  const intervals: WeekInterval[] = [];
  while (rest.length > 0) {
    const m = part.exec(rest);
    if (!m) return `cannot read ${JSON.stringify(rest)}`;
    rest = rest.slice(m[0].length);
    const from = minutes(m[2]);
    const to = minutes(m[3]);
    if (from === undefined || to === undefined) return `invalid time in ${JSON.stringify(m[0].trim())}`;
    const days = new Set<number>();
    if (m[1].toLowerCase() === 'daily') DAYS.forEach((_, i) => days.add(i));
    else {
      for (const item of m[1].split(/\s*,\s*/)) {
        const [a, b] = item.split(/\s*-\s*/);
        const first = dayIndex(a);
        const last = b === undefined ? first : dayIndex(b);
        if (first === undefined || last === undefined) return `unknown day in ${JSON.stringify(item)}`;
        for (let d = first; ; d = (d + 1) % 7) {
          days.add(d);
          if (d === last) break;
        }
      }
    }
    const length = to > from ? to - from : 1440 - from + to;
    if (to === from) return `empty time range in ${JSON.stringify(m[0].trim())}`;
    for (const d of days) intervals.push({ start: d * 1440 + from, end: d * 1440 + from + length });
  }
  if (intervals.length === 0) return 'no days and hours given';
  return { timeZone, intervals };
}

const formatters = new Map<string, Intl.DateTimeFormat>();
/** Building a formatter costs far more than using one: one per time zone. */
function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      weekday: 'short',
      hour: '2-digit',
      minute: '2-digit',
      hourCycle: 'h23',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

/** Minutes since Monday 00:00 of `at` in `timeZone`. */
export function minuteOfWeek(at: Date, timeZone: string): number {
  const parts = formatter(timeZone).formatToParts(at);
  const get = (t: string) => parts.find((p) => p.type === t)?.value ?? '';
  return dayIndex(get('weekday'))! * 1440 + Number(get('hour')) * 60 + Number(get('minute'));
}

/** Whether `at` falls inside the business hours. */
export function inBusinessHours(hours: BusinessHours, at: Date): boolean {
  const m = minuteOfWeek(at, hours.timeZone);
  return hours.intervals.some(
    (i) => (m >= i.start && m < i.end) || (m + WEEK >= i.start && m + WEEK < i.end),
  );
}

/**
 * May a cutover start at `now`? Refused inside the SLA's business hours, and when the downtime budget
 * (`downtimeMs`, default the SLA's maxDowntime) starting now would reach into them, since the write
 * freeze may last that long. An SLA without business hours allows any time; business hours that do not
 * parse refuse, with the reason, until they are fixed (or an approver overrides the gate).
 */
export function checkWindow(sla: Sla, now: Date, opts: { downtimeMs?: number } = {}): WindowCheck {
  const at = now.toISOString();
  if (!sla.businessHours)
    return { ok: true, reason: 'the SLA names no business hours: any time is allowed', at };
  const base = { at, businessHours: sla.businessHours };
  const hours = parseBusinessHours(sla.businessHours);
  if (typeof hours === 'string')
    return {
      ok: false,
      reason: `the SLA's businessHours ${JSON.stringify(sla.businessHours)} cannot be read (${hours}); write it as ${EXAMPLE}`,
      ...base,
    };
  if (inBusinessHours(hours, now))
    return {
      ok: false,
      reason: `${at} is inside the business hours ${JSON.stringify(sla.businessHours)}: cut over outside them`,
      ...base,
    };
  const downtimeMs = opts.downtimeMs ?? (sla.maxDowntime !== undefined ? sla.maxDowntime * 1000 : 0);
  const budget = Math.min(Math.ceil(downtimeMs / 60_000), MAX_BUDGET_MINUTES);
  for (let m = STEP_MINUTES; m <= budget; m += STEP_MINUTES) {
    const t = new Date(now.getTime() + Math.min(m * 60_000, downtimeMs));
    if (inBusinessHours(hours, t))
      return {
        ok: false,
        reason:
          `business hours ${JSON.stringify(sla.businessHours)} begin at ${t.toISOString()}, within the ` +
          `${Math.round(downtimeMs / 1000)} s downtime budget starting ${at}: start earlier in the window`,
        ...base,
      };
  }
  return {
    ok: true,
    reason:
      `${at} is outside the business hours ${JSON.stringify(sla.businessHours)}` +
      (downtimeMs ? ` and so is the ${Math.round(downtimeMs / 1000)} s downtime budget after it` : ''),
    ...base,
  };
}

/**
 * The first instant from `now` (within `horizonDays`, default 8) at which checkWindow allows a cutover,
 * in whole `stepMinutes` (default 5) after `now`; undefined when the SLA's business hours cannot be read
 * or leave no window long enough for the downtime budget.
 */
export function nextCutoverWindow(
  sla: Sla,
  now: Date,
  opts: { downtimeMs?: number; stepMinutes?: number; horizonDays?: number } = {},
): Date | undefined {
  if (!sla.businessHours) return now;
  const hours = parseBusinessHours(sla.businessHours);
  if (typeof hours === 'string') return undefined;
  const downtimeMs = opts.downtimeMs ?? (sla.maxDowntime !== undefined ? sla.maxDowntime * 1000 : 0);
  const budget = Math.min(Math.ceil(downtimeMs / 60_000), MAX_BUDGET_MINUTES);
  const step = opts.stepMinutes ?? 5;
  const horizon = (opts.horizonDays ?? 8) * 1440;
  // Busy or not, minute by minute over the horizon plus one budget; then, walking backwards, how many
  // free minutes follow each one. A start fits when the budget's minutes after it are all free.
  const n = horizon + budget + 1;
  const freeRun = new Array<number>(n + 1).fill(0);
  for (let i = n - 1; i >= 0; i--) {
    const busy = inBusinessHours(hours, new Date(now.getTime() + i * 60_000));
    freeRun[i] = busy ? 0 : freeRun[i + 1] + 1;
  }
  for (let i = 0; i <= horizon; i += step) {
    if (freeRun[i] >= budget + 1) return new Date(now.getTime() + i * 60_000);
  }
  return undefined;
}
