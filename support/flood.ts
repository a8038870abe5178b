// The streaming handler of the backpressure tests (response streaming on `fare up`, over a cluster,
// and into `fare invoke --stream`): it writes 16 MB of 'a' in 64 KB writes, each waiting for the
// stream's room as a careful handler does, then how long that took; and what a caller made of it.

export const FLOOD_BYTES = 16 * 1024 * 1024;

/** index.mjs of a Node.js function (handler `index.handler`). */
export const FLOOD_HANDLER = `export const handler = awslambda.streamifyResponse(async (e, stream) => {
  const t0 = Date.now();
  const piece = Buffer.alloc(64 * 1024, 97);
  for (let i = 0; i < 256; i++) if (!stream.write(piece)) await new Promise((r) => stream.once('drain', r));
  stream.end('|written in ' + (Date.now() - t0) + ' ms');
});
`;

/** What a caller received: whether its first FLOOD_BYTES are all 'a', its tail, and the ms the function took to write them (NaN without the tail). */
export function floodReceived(body: Buffer): { readonly intact: boolean; readonly tail: string; readonly writtenMs: number } {
  const tail = body.subarray(FLOOD_BYTES).toString('utf8');
  return {
    intact: body.length >= FLOOD_BYTES && body.subarray(0, FLOOD_BYTES).every((b) => b === 97),
    tail,
    writtenMs: Number(/^\|written in (\d+) ms$/.exec(tail)?.[1]),
  };
}
