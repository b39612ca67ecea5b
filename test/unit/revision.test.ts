import { describe, expect, it } from 'vitest';
import { AmbiguousRevision, TargetOutOfRange, UnknownRevision } from '../../src/errors.js';
import { BASE, comesAfter, compareTags, currentIndex, findRevision, lastAppliedLeft, outOfOrder, plan, planStamp, resolveTarget, type Revision } from '../../src/revision.js';

const history: Revision[] = ['0000_init', '0001_add_audits', '0002_add_sessions', '0003_add_phone', '0013_add_tags'].map((id, index) => ({
  id,
  index,
  number: Number(id.slice(0, 4)),
  message: id,
  createdAt: index,
}));
const applied = (...ids: number[]) => new Set(ids.map((i) => history[i]!.id));
const ids = (steps: { revision: Revision; direction: string }[]) => steps.map((s) => `${s.direction} ${s.revision.id}`);

describe('findRevision', () => {
  it('finds by tag, number with or without zeros, and unique prefix', () => {
    expect(findRevision(history, '0001_add_audits').index).toBe(1);
    expect(findRevision(history, '3').id).toBe('0003_add_phone');
    expect(findRevision(history, '0003').id).toBe('0003_add_phone');
    expect(findRevision(history, '13').id).toBe('0013_add_tags');
    expect(findRevision(history, '0002_add').id).toBe('0002_add_sessions');
  });
  it('refuses unknown names with close candidates', () => {
    const err = (() => {
      try {
        findRevision(history, 'add_audit');
      } catch (e) {
        return e as UnknownRevision;
      }
    })();
    expect(err).toBeInstanceOf(UnknownRevision);
    expect(err!.candidates).toContain('0001_add_audits');
    expect(err!.message).toMatch(/did you mean 0001_add_audits/);
    expect(() => findRevision(history, '42')).toThrow(UnknownRevision);
  });
  it('refuses ambiguous prefixes listing the matches', () => {
    const merged: Revision[] = ['0004_add_a', '0004_add_b'].map((id, index) => ({ id, index, number: 4, message: id, createdAt: 0 }));
    expect(() => findRevision(merged, '4')).toThrow(AmbiguousRevision);
    expect(() => findRevision(merged, '0004_add')).toThrow(/matches 0004_add_a, 0004_add_b; give the full tag/);
  });
});

describe('resolveTarget', () => {
  it('resolves head, base and names', () => {
    expect(resolveTarget(history, applied(), 'head')).toBe(4);
    expect(resolveTarget(history, applied(0, 1), 'base')).toBe(BASE);
    expect(resolveTarget(history, applied(), '2')).toBe(2);
  });
  it('counts relative targets from the current revision', () => {
    expect(resolveTarget(history, applied(0, 1), '+2')).toBe(3);
    expect(resolveTarget(history, applied(0, 1), '-1')).toBe(0);
    expect(resolveTarget(history, applied(0, 1), '-2')).toBe(BASE);
    expect(resolveTarget(history, applied(), '+1')).toBe(0);
  });
  // a gap (0001 pending below the applied 0002, as a merged branch leaves it): relative names count
  // places from the current revision, so none of them lands below it going up (found by review: counting
  // pending revisions made `stamp +1` resolve to 0001 and unrecord 0002)
  it('counts places from the current revision where one is pending below it: +1 is above the current one', () => {
    const gap = applied(0, 2);
    expect(resolveTarget(history, gap, '+1')).toBe(3);
    expect(ids(plan(history, gap, resolveTarget(history, gap, '+1'), 'up'))).toEqual(['up 0001_add_audits', 'up 0003_add_phone']);
    expect(ids(planStamp(history, gap, resolveTarget(history, gap, '+1')))).toEqual(['up 0001_add_audits', 'up 0003_add_phone']);
    expect(resolveTarget(history, gap, '-1')).toBe(1);
    expect(ids(plan(history, gap, resolveTarget(history, gap, '-1'), 'down'))).toEqual(['down 0002_add_sessions']);
    // up -1 lands on the pending 0001: not named, so refused
    expect(() => plan(history, gap, resolveTarget(history, gap, '-1'), 'up')).toThrow(/below the current revision/);
  });
  it('refuses relative targets past head or base', () => {
    expect(() => resolveTarget(history, applied(0, 1), '+5')).toThrow(/\+5 is past head: only 3 revision/);
    expect(() => resolveTarget(history, applied(0, 1), '-5')).toThrow(/-5 is past base: only 2 revision/);
    expect(() => resolveTarget(history, applied(), '-1')).toThrow(TargetOutOfRange);
    // a revision pending below the current one: the applied ones counted, not the places (a hunt: "only 4" of 3)
    expect(() => resolveTarget(history, applied(0, 2, 3), '-5')).toThrow(/^-5 is past base: only 3 revision\(s\) are applied \(the current revision is 4 places from base: 1 below it pending\)$/);
  });
  it('refuses an empty name', () => {
    expect(() => resolveTarget(history, applied(), '  ')).toThrow(/empty revision/);
  });
});

describe('plan', () => {
  it('plans up in order and down newest first', () => {
    expect(ids(plan(history, applied(0), 2, 'up'))).toEqual(['up 0001_add_audits', 'up 0002_add_sessions']);
    expect(ids(plan(history, applied(0, 1, 2), BASE, 'down'))).toEqual(['down 0002_add_sessions', 'down 0001_add_audits', 'down 0000_init']);
    expect(plan(history, applied(0, 1), 1, 'up')).toEqual([]);
  });
  it('refuses to go up to a lower revision or down to a higher one', () => {
    expect(() => plan(history, applied(0, 1, 2), 0, 'up')).toThrow(/below the current revision 0002_add_sessions; use migrate-down/);
    expect(() => plan(history, applied(0), 3, 'down')).toThrow(/above the current revision 0000_init; use migrate-up/);
  });
  it('goes up to a named revision pending below the current one (was: refused as below the current revision, while a plain up applied it)', () => {
    const a = applied(0, 2);
    expect(ids(plan(history, a, 1, 'up', { named: true }))).toEqual(['up 0001_add_audits']);
    expect(() => plan(history, a, 1, 'up')).toThrow(/0001_add_audits is below the current revision 0002_add_sessions/);
    expect(() => plan(history, a, 0, 'up', { named: true })).toThrow(/0000_init is below the current revision 0002_add_sessions; use migrate-down/);
  });
  it('includes pending revisions that sort before the current one, never skipping them', () => {
    const a = applied(0, 2);
    expect(currentIndex(history, a)).toBe(2);
    expect(outOfOrder(history, a).map((r) => r.id)).toEqual(['0001_add_audits']);
    expect(ids(plan(history, a, 4, 'up'))).toEqual(['up 0001_add_audits', 'up 0003_add_phone', 'up 0013_add_tags']);
    expect(ids(plan(history, a, BASE, 'down'))).toEqual(['down 0002_add_sessions', 'down 0000_init']);
  });
  it('plans stamp in either direction', () => {
    expect(ids(planStamp(history, applied(0, 1, 2), 0))).toEqual(['down 0002_add_sessions', 'down 0001_add_audits']);
    expect(ids(planStamp(history, applied(0), 2))).toEqual(['up 0001_add_audits', 'up 0002_add_sessions']);
    expect(planStamp(history, applied(0, 1), 1)).toEqual([]);
  });
  it('lastAppliedLeft: the revision applied last, when a down leaves it applied', () => {
    const rows = (...r: [number, string][]) => r.map(([i, t]) => ({ revision: history[i]!.id, appliedAt: t }));
    const inOrder = rows([0, '2026-01-01T00:00:00Z'], [1, '2026-01-02T00:00:00Z'], [2, '2026-01-03T00:00:00Z']);
    const a = applied(0, 1, 2);
    expect(lastAppliedLeft(history, inOrder, plan(history, a, 1, 'down'))).toBeUndefined();
    // 0001 applied last, out of order: down -1 takes back 0002 and leaves it
    const late = rows([0, '2026-01-01T00:00:00Z'], [1, '2026-01-05T00:00:00Z'], [2, '2026-01-03T00:00:00Z']);
    expect(lastAppliedLeft(history, late, plan(history, a, 1, 'down'))?.revision.id).toBe('0001_add_audits');
    expect(lastAppliedLeft(history, late, plan(history, a, 0, 'down'))).toBeUndefined();
    // ties go by place; a time that cannot be read, or no step, says nothing
    const tie = rows([0, '2026-01-01T00:00:00Z'], [1, '2026-01-03T00:00:00Z'], [2, '2026-01-03T00:00:00Z']);
    expect(lastAppliedLeft(history, tie, plan(history, a, 1, 'down'))).toBeUndefined();
    expect(lastAppliedLeft(history, rows([0, 'x'], [1, 'y'], [2, 'z']), plan(history, a, 1, 'down'))).toBeUndefined();
    expect(lastAppliedLeft(history, late, [])).toBeUndefined();
  });
  // found by a hunt: `stamp -1` after a merge recorded the pending 0001 as applied although it never ran
  it('a relative stamp at or below the current revision only removes rows: one pending below stays pending', () => {
    const gap = applied(0, 2, 3); // 0001 pending out of order
    expect(ids(planStamp(history, gap, resolveTarget(history, gap, '-1'), { relative: true }))).toEqual(['down 0003_add_phone']);
    expect(ids(planStamp(history, gap, resolveTarget(history, gap, '-2'), { relative: true }))).toEqual(['down 0003_add_phone', 'down 0002_add_sessions']);
    expect(planStamp(history, gap, resolveTarget(history, gap, '-0'), { relative: true })).toEqual([]);
    // above the current revision, relative or not, and a target named: the database is said to be there
    expect(ids(planStamp(history, gap, resolveTarget(history, gap, '+1'), { relative: true }))).toEqual(['up 0001_add_audits', 'up 0013_add_tags']);
    expect(ids(planStamp(history, gap, 2))).toEqual(['down 0003_add_phone', 'up 0001_add_audits']);
    expect(ids(planStamp(history, gap, 3))).toEqual(['up 0001_add_audits']);
  });
});

// status names a revision the database has and the folder lacks as current, or "ahead of the code",
// only when it comes after (found by a review: tags compared as text)
describe('comesAfter / compareTags', () => {
  it('orders tags by their number, past 9999 and by timestamp too; base first', () => {
    expect(comesAfter('0004_x', '0003_y')).toBe(true);
    expect(comesAfter('0003_y', '0004_x')).toBe(false);
    expect(comesAfter('10000_x', '9999_y')).toBe(true);
    expect(comesAfter('20261206120000_b', '20251206120000_a')).toBe(true);
    expect(comesAfter('0000_init', 'base')).toBe(true);
    expect(comesAfter('base', 'base')).toBe(false);
    expect(['10000_x', '0002_a', '9999_y', '0002_b'].sort(compareTags)).toEqual(['0002_a', '0002_b', '9999_y', '10000_x']);
  });
  it('two tags of one number are two branches: neither comes after the other', () => {
    expect(comesAfter('0002_theirs', '0002_ours')).toBe(false);
    expect(comesAfter('0002_ours', '0002_theirs')).toBe(false);
  });
});

