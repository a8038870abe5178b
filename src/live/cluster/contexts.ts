// Invocation contexts across the gateways of a cluster. Each gateway keeps the registrations of the
// invocations it began (gateway/fare-context.ts: in memory, from hand-over to answer) and writes its
// number into their nonces; another gateway shown one of their contexts (X-Fare-Context, or the
// invocation credentials derived from it) asks it — a NATS request addressed to that gateway,
// `<prefix>.contexts.<gateway number>`, carrying the nonce — and it answers with the running
// invocation, or `{}` if it has none by that nonce. Nothing is written or cached on either side: the
// answer serves the requests that were waiting for it, and a context stops working as soon as its
// invocation answers, on every gateway.

import { RequestError, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import { CONTEXT_ASK_TIMEOUT_MS, type ContextPeers, type FareContexts, type RunningInvocation } from '../gateway/fare-context.ts';

export const contextSubject = (prefix: string, gateway: number): string => `${prefix}.contexts.${gateway}`;

/** A nonce as `FareContexts.begin` writes it: 16 bytes in base64url. */
const NONCE = /^[A-Za-z0-9_-]{22}$/;

const text = (v: unknown): v is string => typeof v === 'string' && v.length > 0 && v.length <= 256;

/** The running invocation of an answer, undefined for `{}`; throws for anything else (counted as no answer). */
export function parseAnswer(s: string): RunningInvocation | undefined {
  const v = JSON.parse(s) as unknown;
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('an answer about a context is a JSON object');
  const o = v as Record<string, unknown>;
  if (Object.keys(o).length === 0) return undefined;
  if (!text(o.requestId) || !text(o.tenant) || !text(o.function) || !Number.isSafeInteger(o.cls) || !Number.isSafeInteger(o.deadline)) {
    throw new Error('an answer about a context names a running invocation: requestId, tenant, function, cls, deadline');
  }
  const inv = { requestId: o.requestId, tenant: o.tenant, function: o.function, cls: o.cls as number, deadline: o.deadline as number };
  // Its trace, so a call it makes through this gateway continues it (a gateway before traces sends none).
  return text(o.trace) ? { ...inv, trace: o.trace } : inv;
}

/** The other gateways of the cluster over NATS, for gateway `self`. */
export class NatsContextPeers implements ContextPeers {
  #sub: Subscription | undefined;

  constructor(
    private readonly nc: NatsConnection,
    private readonly prefix: string,
    readonly self: number,
    readonly timeoutMs: number = CONTEXT_ASK_TIMEOUT_MS,
  ) {}

  /**
   * Asks gateway `gateway`. No gateway of that number on NATS (it stopped or died, and with it every
   * registration it had) is an answer — not running — at once; a timeout or a connection that is
   * down rejects.
   */
  async ask(gateway: number, nonce: string, timeoutMs: number): Promise<RunningInvocation | undefined> {
    try {
      const m = await this.nc.request(contextSubject(this.prefix, gateway), nonce, { timeout: timeoutMs });
      return parseAnswer(m.string());
    } catch (e) {
      if (e instanceof RequestError && e.isNoResponders()) return undefined;
      throw e;
    }
  }

  /** Answers the other gateways' questions about `contexts`' registrations (resolves once the server has the subscription). */
  async answer(contexts: FareContexts): Promise<void> {
    this.#sub = this.nc.subscribe(contextSubject(this.prefix, this.self), {
      callback: (err, m) => {
        if (err !== null) return;
        const nonce = m.string();
        if (!NONCE.test(nonce)) return;
        const inv = contexts.registered(nonce);
        m.respond(inv === undefined ? '{}' : JSON.stringify({ requestId: inv.requestId, tenant: inv.tenant, function: inv.function, cls: inv.cls, deadline: inv.deadline, ...(inv.trace !== undefined ? { trace: inv.trace } : {}) }));
      },
    });
    await this.nc.flush();
  }

  /** Stops answering (the others then hear that no such gateway is there). */
  stop(): void {
    this.#sub?.unsubscribe();
    this.#sub = undefined;
  }
}
