// A cluster process's connection to NATS: named after the part it carries, reconnecting forever
// (a NATS server that restarts, or a link that comes back, is waited for), and the object store of
// function code.

import { connect, type NatsConnection } from '@nats-io/transport-node';
import { Objm, type ObjectStore } from '@nats-io/obj';
import { codeBucket } from './code.ts';
import { ChurnMap } from '../../core/util/churn-map.ts';

export interface ClusterAddress {
  /** NATS servers, e.g. `nats://10.0.0.1:4222` (several: any of them). */
  readonly servers: readonly string[];
  /** The first token of the cluster's subjects (clusters sharing NATS servers use different ones). */
  readonly prefix: string;
  /** How often every part announces itself (ms). */
  readonly heartbeatMs: number;
  /** A part not heard for this long is dropped (ms). */
  readonly memberTimeoutMs: number;
}

/** Connects to NATS as `name` (seen in the server's monitoring); gives up only if no server answers at first. */
export async function connectNats(c: ClusterAddress, name: string): Promise<NatsConnection> {
  try {
    // noAsyncTraces: a request does not capture a stack trace when it is made (two Error objects per
    // request, 6 % of a gateway's CPU under load in a profile); its errors keep their messages.
    return renewingRequests(await connect({ servers: [...c.servers], name, maxReconnectAttempts: -1, reconnectTimeWait: 250, pingInterval: 5000, maxPingOut: 2, noAsyncTraces: true }));
  } catch (e) {
    throw Object.assign(new Error(`cannot reach NATS at ${c.servers.join(', ')}: ${(e as Error).message} — start nats-server there (or fare cluster up for a local cluster)`), { code: 'FARE_E_NATS' });
  }
}

/**
 * nats.js keeps the requests in flight on a connection in a Map (its MuxSubscription's `reqs`),
 * one set and one delete per request: the Map whose outgrown tables V8 keeps chained, each request
 * kept alive through the scavenges (src/core/util/churn-map.ts). Where the field is as expected it
 * becomes a ChurnMap (the methods nats.js uses: set, get, delete, size, values, forEach); else
 * nothing changes.
 */
function renewingRequests(nc: NatsConnection): NatsConnection {
  const mux = (nc as unknown as { protocol?: { muxSubscriptions?: { reqs?: unknown } } }).protocol?.muxSubscriptions;
  if (mux !== undefined && mux.reqs instanceof Map) mux.reqs = new ChurnMap(mux.reqs as Map<unknown, unknown>);
  return nc;
}

/** The object store of function code (created by whoever comes first, with `replicas` copies). */
export function codeStore(nc: NatsConnection, prefix: string, replicas: number): Promise<ObjectStore> {
  return whenJetStreamReady(() => new Objm(nc).create(codeBucket(prefix), { replicas }));
}

/**
 * Runs a JetStream administration call, again while JetStream is still forming (a NATS cluster
 * whose servers are starting together has no leader or too few peers for a few seconds), for up to
 * `withinMs`.
 */
export async function whenJetStreamReady<T>(f: () => Promise<T>, withinMs = 30_000): Promise<T> {
  const deadline = Date.now() + withinMs;
  for (let wait = 100; ; wait = Math.min(wait * 2, 2000)) {
    try {
      return await f();
    } catch (e) {
      const m = (e as Error).message;
      if (!/no suitable peers|temporarily unavailable|insufficient resources|timeout|no responders/i.test(m) || Date.now() + wait > deadline) throw e;
      await new Promise((r) => setTimeout(r, wait));
    }
  }
}

/** `FARE_TRACE_BUS=1`: every message a part sends and receives, as a timed line on stderr. */
export function traceOption(): { trace?: (line: string) => void } {
  if (process.env.FARE_TRACE_BUS !== '1') return {};
  return { trace: (line) => process.stderr.write(`bus ${new Date().toISOString()} ${line}\n`) };
}

/** Status changes of the connection (disconnected, reconnecting, reconnected), as lines for the operator. */
export async function reportStatus(nc: NatsConnection, name: string, say: (line: string) => void): Promise<void> {
  for await (const s of nc.status()) {
    if (s.type === 'disconnect' || s.type === 'reconnect' || s.type === 'staleConnection') say(`${name}: NATS ${s.type} ${'server' in s ? String(s.server) : ''}`.trim());
  }
}
