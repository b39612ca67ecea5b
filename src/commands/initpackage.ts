/**
 * `sluice init`'s edit of package.json: read (and refused before anything is written when it cannot
 * be edited), the missing npm scripts added as text edits, and each change with its undo.
 */
import { applyEdits, findNodeAtLocation, modify, parseTree } from 'jsonc-parser';
import { chmodSync, existsSync, readFileSync, realpathSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigError, describeCause } from '../errors.js';
import type { InitResult } from './init.js';

/** A change init made, and how to take it back (`what`: the path it names when it cannot). */
export interface Undo {
  what: string;
  run(): void;
}

export interface PackageJson {
  file: string;
  /** The text after its byte order mark, if any (`bom`). */
  text?: string;
  bom?: boolean;
  json?: { name?: string; scripts?: Record<string, string> } & Record<string, unknown>;
}

export function readPackageJson(root: string): PackageJson {
  const file = path.join(root, 'package.json');
  if (!existsSync(file)) return { file };
  const raw = readFileSync(file, 'utf8');
  // a byte order mark (some Windows editors write one; npm reads past it) stays, outside the edited text
  const bom = raw.startsWith('\uFEFF');
  const text = bom ? raw.slice(1) : raw;
  let json: PackageJson['json'];
  try {
    json = JSON.parse(text) as PackageJson['json'];
    if (!json || typeof json !== 'object' || Array.isArray(json)) throw new Error('not an object');
  } catch (err) {
    throw new ConfigError(`package.json is not valid JSON (${describeCause(err)}); fix it, then run sluice init again`, { cause: err });
  }
  const scripts = (json as Record<string, unknown>).scripts;
  // read before anything is written: a refused init leaves the project as it was
  if (scripts !== undefined && scripts !== null && (typeof scripts !== 'object' || Array.isArray(scripts))) {
    throw new ConfigError(`package.json's "scripts" is ${Array.isArray(scripts) ? 'an array' : `a ${typeof scripts}`}, not an object of named scripts; fix it (or remove it), then run sluice init again`);
  }
  // "scripts" twice: JSON.parse and npm read the last, while the text edits below would go into the first
  // (a hunt: init reported scripts added that npm never saw)
  const twice = (parseTree(text)?.children ?? []).filter((p) => p.children?.[0]?.value === 'scripts').length;
  if (twice > 1) throw new ConfigError(`package.json has "scripts" ${twice} times (npm reads only the last); merge them into one, then run sluice init again`);
  return { file, text, json, bom };
}

/**
 * Add the scripts package.json lacks, changing nothing else in the file: the new entries are inserted
 * as text edits (jsonc-parser), so numbers, key order, spacing and line ends stay as they were (a
 * JSON.parse/JSON.stringify round trip rounded 12345678901234567890 and rewrote 1.50 as 1.5). A
 * package.json that is a symbolic link is written where it points, keeping its mode; one with other
 * hard links is written in place (a rename would leave the other names on the old text), and one with
 * a byte order mark keeps it.
 */
export function addScripts(pkg: PackageJson, wanted: Record<string, string>, undo: Undo[]): InitResult['scripts'] {
  const result: InitResult['scripts'] = { added: [], kept: [] };
  if (!pkg.json || pkg.text === undefined) return result;
  const scripts = pkg.json.scripts ?? {};
  for (const name of Object.keys(wanted)) (name in scripts ? result.kept : result.added).push(name);
  if (!result.added.length) return result;
  const indent = /^([ \t]+)"/m.exec(pkg.text)?.[1] ?? '  ';
  const eol = pkg.text.includes('\r\n') ? '\r\n' : '\n';
  // jsonc-parser formats the whole line an insertion lands on: an object written on one line (the file,
  // or its "scripts") gets the entries inserted as they are instead (was: a one-line package.json was
  // re-indented whole, and a one-line "scripts" spread one key per line; found by a hunt)
  const tree = parseTree(pkg.text);
  const target = (tree && findNodeAtLocation(tree, ['scripts'])?.type === 'object' ? findNodeAtLocation(tree, ['scripts']) : tree) ?? undefined;
  const oneLine = !!target && !/[\r\n]/.test(pkg.text.slice(target.offset, target.offset + target.length));
  const options = oneLine ? {} : { formattingOptions: { insertSpaces: !indent.includes('\t'), tabSize: indent.includes('\t') ? 1 : indent.length, eol } };
  let text = pkg.text;
  if (pkg.json.scripts === null) text = applyEdits(text, modify(text, ['scripts'], {}, options)); // "scripts": null reads as none
  for (const name of result.added) text = applyEdits(text, modify(text, ['scripts', name], wanted[name], options));
  if (pkg.bom) text = `\uFEFF${text}`;
  const real = realpathSync(pkg.file);
  const before = readFileSync(real);
  const st = statSync(real);
  const inPlace = st.nlink > 1;
  replaceContent(real, text, st.mode & 0o7777, inPlace);
  undo.push({ what: 'package.json', run: () => replaceContent(real, before, st.mode & 0o7777, inPlace) });
  return result;
}

/** A file's new content: through a temporary file renamed over it (its mode kept), or written in place (`inPlace`: it has other hard links). */
function replaceContent(real: string, content: string | Buffer, mode: number, inPlace: boolean): void {
  if (inPlace) {
    writeFileSync(real, content);
    return;
  }
  const tmp = `${real}.sluice-${process.pid}`;
  try {
    writeFileSync(tmp, content, { mode, flag: 'wx' });
    chmodSync(tmp, mode); // the umask may have narrowed it
    renameSync(tmp, real);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}
