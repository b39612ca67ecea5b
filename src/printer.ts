/**
 * Output goes through a Printer so commands and tests never write to the console directly. Every
 * line passes through `redact`, so a password from DATABASE_URL never reaches any output.
 */
export interface Printer {
  line(text: string): void;
  error(text: string): void;
  json(value: unknown): void;
}

export function passwordsIn(env: Record<string, string | undefined>): string[] {
  const url = env.DATABASE_URL ?? '';
  const m = /^[a-z0-9+.-]+:\/\/[^:/@?#]*:([^@/?#]+)@/i.exec(url);
  if (!m) return [];
  let decoded = m[1]!;
  try {
    decoded = decodeURIComponent(m[1]!);
  } catch {
    /* keep raw */
  }
  return [...new Set([m[1]!, decoded])].filter((s) => s.length > 0);
}

export function redactor(secrets: string[]): (text: string) => string {
  const sorted = [...secrets].sort((a, b) => b.length - a.length);
  return (text) => sorted.reduce((t, s) => t.split(s).join('***'), text);
}

export function consolePrinter(secrets: () => string[]): Printer {
  const redact = (text: string) => redactor(secrets())(text);
  return {
    line: (text) => process.stdout.write(`${redact(text)}\n`),
    error: (text) => process.stderr.write(`${redact(text)}\n`),
    json: (value) => process.stdout.write(`${redact(JSON.stringify(value, jsonReplacer, 2))}\n`),
  };
}

function jsonReplacer(key: string, value: unknown): unknown {
  if (key === 'cause') return undefined;
  return value;
}
