import { describe, expect, it } from 'vitest';
import { MemberTable } from './membership.ts';

describe('MemberTable', () => {
  it('a first beat joins; beats keep a member; silence for the timeout drops it', () => {
    const t = new MemberTable(3000);
    expect(t.heard(4, 'a', 0)).toEqual([{ kind: 'join', id: 4, incarnation: 'a' }]);
    expect(t.heard(2, 'b', 500)).toEqual([{ kind: 'join', id: 2, incarnation: 'b' }]);
    expect(t.heard(4, 'a', 1000)).toEqual([]);
    expect(t.ids()).toEqual([2, 4]);
    expect(t.expire(3499)).toEqual([]);
    expect(t.expire(3500)).toEqual([{ kind: 'leave', id: 2, incarnation: 'b', why: 'silent' }]);
    expect(t.ids()).toEqual([4]);
    expect(t.expire(4000)).toEqual([{ kind: 'leave', id: 4, incarnation: 'a', why: 'silent' }]);
    expect(t.ids()).toEqual([]);
  });

  it('a new incarnation within the timeout: the old one leaves (restarted) and the new one joins', () => {
    const t = new MemberTable(3000);
    t.heard(1, 'old', 0);
    expect(t.heard(1, 'new', 100)).toEqual([
      { kind: 'leave', id: 1, incarnation: 'old', why: 'restarted' },
      { kind: 'join', id: 1, incarnation: 'new' },
    ]);
    expect(t.incarnationOf(1)).toBe('new');
  });

  it('a beat delivered late (an older time) does not move the member back', () => {
    const t = new MemberTable(1000);
    t.heard(1, 'a', 900);
    t.heard(1, 'a', 100);
    expect(t.expire(1500)).toEqual([]);
  });

  it('a draining member takes no new work but stays a member until gone; its goodbye drops it at once', () => {
    const t = new MemberTable(3000);
    t.heard(1, 'a', 0);
    t.heard(2, 'b', 0);
    expect(t.heard(1, 'a', 100, 'draining')).toEqual([{ kind: 'drain', id: 1, incarnation: 'a' }]);
    expect(t.heard(1, 'a', 200, 'draining')).toEqual([]);
    expect(t.ids()).toEqual([2]);
    expect(t.incarnationOf(1)).toBe('a');
    // A goodbye of another incarnation is stale.
    expect(t.heard(1, 'z', 250, 'gone')).toEqual([]);
    expect(t.heard(1, 'a', 300, 'gone')).toEqual([{ kind: 'leave', id: 1, incarnation: 'a', why: 'left' }]);
    expect(t.incarnationOf(1)).toBeUndefined();
    // Draining and silent: it leaves at its timeout like any member.
    t.heard(2, 'b', 400, 'draining');
    expect(t.expire(3400)).toEqual([{ kind: 'leave', id: 2, incarnation: 'b', why: 'silent' }]);
  });
});
