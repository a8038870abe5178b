// A child process's output, line by line: `next()` resolves with the next line (waiting for it).

import type { Readable } from 'node:stream';

export function lineReader(stream: Readable | null | undefined): () => Promise<string> {
  const got: string[] = [];
  let waiting: ((l: string) => void) | undefined;
  let buf = '';
  stream?.on('data', (c: Buffer) => {
    buf += c.toString();
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const l = buf.slice(0, i);
      buf = buf.slice(i + 1);
      if (waiting) {
        const w = waiting;
        waiting = undefined;
        w(l);
      } else got.push(l);
    }
  });
  return () => (got.length > 0 ? Promise.resolve(got.shift() as string) : new Promise((r) => (waiting = r)));
}
