import { describe, expect, it } from 'vitest';
import { InstanceOutput } from './output.ts';

const b = (s: string): Buffer => Buffer.from(s);

describe('InstanceOutput', () => {
  it("keeps an invocation's output from begin() to end(), and the instance's latest across invocations", () => {
    const streamed: string[] = [];
    const out = new InstanceOutput(1024, 1024, (c) => streamed.push(c.toString()));
    out.push(b('init\n'));
    out.begin();
    out.push(b('one\n'));
    expect(out.end()).toEqual({ logs: 'one\n', omitted: 0 });
    out.push(b('between\n'));
    out.begin(); // what came between invocations is no invocation's
    out.push(b('two\n'));
    expect(out.end()).toEqual({ logs: 'two\n', omitted: 0 });
    expect(out.recent).toBe('init\none\nbetween\ntwo\n');
    expect(streamed.join('')).toBe('init\none\nbetween\ntwo\n');
  });

  it("keeps Fare's own notes with the recent output only", () => {
    const streamed: string[] = [];
    const out = new InstanceOutput(1024, 1024, (c) => streamed.push(c.toString()));
    out.begin();
    out.note('spawn failed');
    expect(out.end().logs).toBe('');
    expect(out.recent).toBe('spawn failed\n');
    expect(streamed).toEqual([]);
  });

  it("bounds an invocation's output to its first quarter and last three quarters, and says how much was left out", () => {
    const out = new InstanceOutput(8, 1024);
    out.begin();
    out.push(b('abcdefghijkl'));
    const { logs, omitted } = out.end();
    expect(omitted).toBe(4);
    expect(logs.startsWith('ab\n')).toBe(true);
    expect(logs.endsWith('ijkl')).toBe(true);
  });

  it('is drained once output stops for a turn', async () => {
    const out = new InstanceOutput(1024, 1024);
    const chatty = setInterval(() => out.push(b('x')), 0);
    let done = false;
    const d = out.drained().then(() => (done = true));
    await new Promise<void>((r) => setImmediate(r));
    clearInterval(chatty);
    await d;
    expect(done).toBe(true);
  });
});
