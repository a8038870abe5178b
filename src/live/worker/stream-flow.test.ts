import { describe, expect, it } from 'vitest';
import { STREAM_ACK_WAIT_MS, STREAM_WINDOW_BYTES } from '../../core/protocol.ts';
import { VirtualClock } from '../transport/clock.ts';
import { StreamFlow } from './stream-flow.ts';

/** Whether `p` has settled (after the microtasks queued so far). */
async function settled(p: Promise<void> | undefined): Promise<boolean> {
  if (p === undefined) return true;
  let done = false;
  void p.then(() => (done = true));
  await Promise.resolve();
  await Promise.resolve();
  return done;
}

describe('a streamed response\'s flow control on the worker', () => {
  it('lets the function write while at most a window is sent and not taken, then holds it until its caller takes enough', async () => {
    const flow = new StreamFlow(new VirtualClock(), 1000, 5000);
    expect(flow.wrote(600)).toBeUndefined();
    expect(flow.wrote(400)).toBeUndefined(); // exactly the window
    const held = flow.wrote(1);
    expect(held).toBeDefined();
    expect(flow.holding).toBe(true);
    // A chunk the runtime had read already before it paused is held by the same wait.
    expect(flow.wrote(10)).toBe(held);
    flow.acked(5); // not enough room yet (1011 sent, 5 taken)
    expect(await settled(held)).toBe(false);
    flow.acked(11);
    expect(await settled(held)).toBe(true);
    expect(flow).toMatchObject({ sent: 1011, taken: 11, holds: 1, timeouts: 0, holding: false });
  });

  it('takes acknowledgements that come twice or out of order as the most taken, never more than was sent', () => {
    const flow = new StreamFlow(new VirtualClock(), 100, 5000);
    void flow.wrote(50);
    flow.acked(40);
    flow.acked(20);
    expect(flow.taken).toBe(40);
    flow.acked(999);
    expect(flow.taken).toBe(50);
  });

  it('lets one more chunk go when no acknowledgement comes in time (one lost slows the stream, never stops it)', async () => {
    const clock = new VirtualClock();
    const flow = new StreamFlow(clock, 100, 2000);
    void flow.wrote(100);
    const held = flow.wrote(50);
    while (clock.fireNext(1999));
    expect(await settled(held)).toBe(false);
    while (clock.fireNext(2000));
    expect(await settled(held)).toBe(true);
    expect(flow.timeouts).toBe(1);
    // Still past the window: the next write waits again.
    expect(flow.wrote(1)).toBeDefined();
  });

  it('lets everything go when the stream ends (its job answered, failed or was given up), and its timer is cancelled', async () => {
    const clock = new VirtualClock();
    const flow = new StreamFlow(clock, 10, 2000);
    const held = flow.wrote(11);
    flow.end();
    expect(await settled(held)).toBe(true);
    expect(clock.nextTimer()).toBe(Infinity);
  });

  it('defaults to the protocol\'s window and wait', () => {
    const clock = new VirtualClock();
    const flow = new StreamFlow(clock);
    expect(flow.wrote(STREAM_WINDOW_BYTES)).toBeUndefined();
    expect(flow.wrote(1)).toBeDefined();
    expect(clock.nextTimer()).toBe(STREAM_ACK_WAIT_MS);
  });
});
