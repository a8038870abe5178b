// InvokeWithResponseStream's answer (`POST /2021-11-15/functions/{FunctionName}/response-streaming-invocations`):
// an `application/vnd.amazon.eventstream` body of `PayloadChunk` events, one per chunk the function
// streams, sent as each comes, then one `InvokeComplete` (its error, if the function failed; its
// log's tail, with `X-Amz-Log-Type: Tail`). A function that does not stream is answered the same
// way, its whole response in one chunk. The messages are encoded by the AWS SDK's own event stream
// codec (@smithy/core), so what the SDKs decode is what they were written for.

import type { ServerResponse } from 'node:http';
import { EventStreamCodec } from '@smithy/core/event-streams';
import type { InvocationAnswer } from '../types.ts';
import { whenDrained } from './http.ts';

const codec = new EventStreamCodec((b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('utf8'), (s: string) => Buffer.from(s, 'utf8'));

/** `InvokeComplete`'s fields (Lambda's InvokeWithResponseStreamCompleteEvent). */
export interface InvokeComplete {
  readonly ErrorCode?: string;
  readonly ErrorDetails?: string;
  /** The last 4 KB of the execution's log, base64. */
  readonly LogResult?: string;
}

function event(type: 'PayloadChunk' | 'InvokeComplete', contentType: string, body: Uint8Array): Uint8Array {
  return codec.encode({
    headers: {
      ':event-type': { type: 'string', value: type },
      ':message-type': { type: 'string', value: 'event' },
      ':content-type': { type: 'string', value: contentType },
    },
    body,
  });
}

/**
 * Writes one invocation's event stream on `res`: the head (with `headers`) before the first event,
 * chunks as they come, and the completion, once, which ends the answer.
 */
export class ResponseEventStream {
  private started = false;
  private ended = false;
  /** Chunks written so far. */
  chunks = 0;

  constructor(
    private readonly res: ServerResponse,
    private readonly headers: Record<string, string>,
  ) {}

  /** Whether the head has gone (an error can no longer be answered as a status, only in `InvokeComplete`). */
  get begun(): boolean {
    return this.started;
  }

  private begin(): void {
    if (this.started) return;
    this.started = true;
    const h: Record<string, string> = Object.assign({}, this.headers);
    h['Content-Type'] = 'application/vnd.amazon.eventstream';
    this.res.writeHead(200, h);
    // Each event goes out as it is written (no waiting to fill a packet).
    this.res.socket?.setNoDelay(true);
  }

  /** Writes a chunk: a promise back while the client has not read what was written (see whenDrained). */
  chunk(data: Buffer): Promise<void> | undefined {
    if (this.ended || data.length === 0) return undefined;
    this.begin();
    this.chunks++;
    this.res.write(event('PayloadChunk', 'application/octet-stream', data));
    return whenDrained(this.res);
  }

  complete(c: InvokeComplete): void {
    if (this.ended) return;
    this.begin();
    this.ended = true;
    const body: Record<string, string> = {};
    if (c.ErrorCode !== undefined) body.ErrorCode = c.ErrorCode;
    if (c.ErrorDetails !== undefined) body.ErrorDetails = c.ErrorDetails;
    if (c.LogResult !== undefined) body.LogResult = c.LogResult;
    this.res.end(event('InvokeComplete', 'application/json', Buffer.from(JSON.stringify(body))));
  }

  /**
   * The function's answer ends the stream. One that did not stream goes out as one chunk (or, when it
   * failed, as the completion's error); one that did is checked whole: a chunk lost on the way (a
   * cluster's carrier dropped it) ends the stream with an error rather than a silent gap.
   */
  answer(a: InvocationAnswer, logResult?: string): void {
    const tail = logResult !== undefined ? { LogResult: logResult } : {};
    const streamed = a.streamed;
    if (streamed === undefined && a.status === 'ok') void this.chunk(a.payload);
    if (streamed !== undefined && this.chunks < streamed.chunks) {
      return this.complete({ ErrorCode: 'Fare.StreamIncomplete', ErrorDetails: `${this.chunks} of the ${streamed.chunks} chunks the function streamed reached this gateway (the network between the worker and the gateway lost some): call it again`, ...tail });
    }
    if (a.status === 'error') return this.complete({ ErrorCode: a.errorType ?? a.functionError ?? 'Unhandled', ErrorDetails: errorDetails(a.payload), ...tail });
    this.complete(tail);
  }
}

/** The error's message, from the function's error document (or its text, when it is not one). */
function errorDetails(payload: Buffer): string {
  const text = payload.toString('utf8');
  try {
    const doc = JSON.parse(text) as { errorMessage?: unknown };
    if (typeof doc.errorMessage === 'string') return doc.errorMessage;
  } catch {
    // not JSON: the text as it is
  }
  return text;
}
