/**
 * migrate-lint's `narrowing-type` (PostgreSQL ups): a column's type changed, with no USING of the
 * user's own, to a narrower type of its family, which PostgreSQL's cast reaches by rounding or cutting
 * values, with no error: fewer digits or fractional digits (`numeric(10,2)` → `numeric(10,1)`, a float
 * or numeric to an integer), shorter text (`text` → `varchar(32)`), fewer fractional seconds
 * (`timestamp(6)` → `timestamp(0)`), a time of day dropped (`timestamp` → `date`), interval fields
 * dropped (`interval` → `interval day`). migrate-down counts such values and refuses; an up is the
 * change the models asked for, so it is reported here instead (found by a hunt: `12.34` became `12.3`,
 * "applied", no finding). The old type is the previous snapshot's; a change it cannot tell is not reported.
 */
import { plainRetypes } from './preflight.js';

type Snapshot = Record<string, unknown>;

const norm = (t: string) => t.toLowerCase().replace(/"/g, '').replace(/\s+/g, ' ').replace(/\s*\(\s*/g, '(').replace(/\s*,\s*/g, ',').replace(/\s*\)/g, ')').trim();
const params = (t: string) => (/\(([\d,]+)\)/.exec(t)?.[1] ?? '').split(',').filter(Boolean).map(Number);
const base = (t: string) => t.replace(/\([^)]*\)/g, '').replace(/\[\]$/, '').trim();

const TEXT = /^(text|varchar|character varying|char|character|bpchar)$/;
const INTS: Record<string, number> = { smallint: 1, int2: 1, integer: 2, int: 2, int4: 2, bigint: 3, int8: 3 };
const FLOATS: Record<string, number> = { real: 1, float4: 1, 'double precision': 2, float8: 2 };
const TIMES = /^(timestamp|timestamptz|timestamp with time zone|timestamp without time zone|time|timetz|time with time zone|time without time zone)$/;
const INTERVAL_FIELDS = ['year', 'month', 'day', 'hour', 'minute', 'second'];

/** Whether `from` → `to` rounds or cuts values silently; false when it keeps them or fails loudly instead. */
export function narrows(fromType: string, toType: string): boolean {
  const from = norm(fromType);
  const to = norm(toType);
  if (from === to || from.endsWith('[]') !== to.endsWith('[]')) return false;
  const [fb, tb] = [base(from), base(to)];
  const [fp, tp] = [params(from), params(to)];
  // text: a length given, or shortened (text and varchar without one hold any length)
  if (TEXT.test(fb) && TEXT.test(tb)) return tp.length > 0 && (fp.length === 0 || tp[0]! < fp[0]!);
  // numbers: fractions dropped (to an integer), scale or precision cut, double to real
  const numeric = (b: string) => b === 'numeric' || b === 'decimal';
  if ((numeric(fb) || fb in FLOATS) && tb in INTS) return true;
  if (numeric(tb) && tp.length) {
    if (numeric(fb)) return fp.length === 0 || (tp[1] ?? 0) < (fp[1] ?? 0) || tp[0]! - (tp[1] ?? 0) < fp[0]! - (fp[1] ?? 0);
    if (fb in FLOATS) return true;
  }
  if (fb in FLOATS && tb in FLOATS) return FLOATS[tb]! < FLOATS[fb]!;
  // times: fewer fractional seconds, a timestamp's time of day dropped, interval fields dropped
  if (TIMES.test(fb.replace(/ with(out)? time zone$/, '')) || TIMES.test(fb)) {
    if (tb === 'date') return fb.startsWith('timestamp');
    if (TIMES.test(tb)) return tp.length > 0 && (fp.length === 0 || tp[0]! < fp[0]!);
  }
  if (fb.startsWith('interval') && tb.startsWith('interval')) {
    const last = (t: string) => {
      const words = t.replace(/^interval\s*/, '').split(/\s+/).filter((w) => INTERVAL_FIELDS.includes(w));
      return words.length ? INTERVAL_FIELDS.indexOf(words.at(-1)!) : INTERVAL_FIELDS.length - 1;
    };
    return last(tb) < last(fb) || (tp.length > 0 && (fp.length === 0 || tp[0]! < fp[0]!));
  }
  return false;
}

/** The narrowing findings of one up statement: `table.column from → to` messages. */
export function narrowingFindings(sql: string, previous: (() => Snapshot) | undefined): string[] {
  if (!previous || !/\btype\b/i.test(sql)) return [];
  const changes = plainRetypes(sql);
  if (!changes.length) return [];
  let tables: Record<string, { name?: string; schema?: string; columns?: Record<string, { name?: string; type?: string }> }>;
  try {
    tables = (previous().tables ?? {}) as typeof tables;
  } catch {
    return [];
  }
  const unq = (n: string) => n.replace(/^"|"$/g, '').replace(/""/g, '"');
  const out: string[] = [];
  for (const c of changes) {
    const parts = c.table.split(/"\."/).map(unq);
    const [schema, table] = parts.length > 1 ? [parts[0]!, parts[1]!] : ['public', parts[0]!];
    const column = unq(c.column);
    const t = Object.values(tables).find((x) => x.name === table && (x.schema || 'public') === schema);
    const old = t && Object.values(t.columns ?? {}).find((x) => x.name === column)?.type;
    if (old && narrows(old, c.type)) {
      out.push(`changes ${table}.${column} from ${old} to ${c.type}: PostgreSQL's cast rounds or cuts what the new type cannot hold, with no error, and no down brings the old values back; check the values first, or write a USING of your own`);
    }
  }
  return out;
}
