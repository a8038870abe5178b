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
});
