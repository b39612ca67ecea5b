/** An explicitly empty revision is refused, never read as a default or as "every revision" (issue 13). */
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/errors.js';
import { findRevision, requireRevisionName, resolveTarget, type Revision } from '../../src/revision.js';

const history: Revision[] = ['0000_init', '0001_add_audits'].map((id, index) => ({ id, index, number: index, message: id, createdAt: index }));
const single: Revision[] = [history[0]!];

describe('requireRevisionName', () => {
  it('returns the name trimmed', () => {
    expect(requireRevisionName(' head ')).toBe('head');
    expect(requireRevisionName('-1', '-1')).toBe('-1');
  });
  // found by a hunt: a library caller's `revision: 3` was refused as "empty revision"
  it('reads a whole number as its text; names any other type', () => {
    expect(requireRevisionName(3 as unknown as string)).toBe('3');
    expect(requireRevisionName(-1 as unknown as string)).toBe('-1');
    expect(findRevision(history, 1 as unknown as string).id).toBe('0001_add_audits');
    expect(() => requireRevisionName(1.5)).toThrow(/^revision 1\.5 is not a revision; give head, base, \+N, -N, a tag or a number, as a string$/);
    expect(() => requireRevisionName({})).toThrow(/^revision of type object is not a revision/);
  });
  it('refuses empty, blank and missing names, hinting at the default when there is one', () => {
    for (const bad of ['', '  ', '\n', undefined, null]) expect(() => requireRevisionName(bad)).toThrow(UsageError);
    expect(() => requireRevisionName('', 'head')).toThrow(/^empty revision; give head, base, \+N, -N, a tag or a number \(or leave it out for head\)$/);
    expect(() => requireRevisionName('')).toThrow(/^empty revision; give head, base, \+N, -N, a tag or a number$/);
  });
});

describe('an empty name never matches', () => {
  it('findRevision refuses it instead of matching every tag by prefix', () => {
    expect(() => findRevision(history, '')).toThrow(/^empty revision/);
    // with one revision the empty prefix used to select it silently
    expect(() => findRevision(single, '')).toThrow(/^empty revision/);
  });
  it('resolveTarget refuses it (and a missing one) with a usage error, not a TypeError', () => {
    expect(() => resolveTarget(history, new Set(), ' ')).toThrow(UsageError);
    expect(() => resolveTarget(history, new Set(), undefined as unknown as string)).toThrow(UsageError);
  });
});
