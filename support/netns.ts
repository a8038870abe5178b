// Hosts for tests across machines on one machine: each "host" a network namespace with its own
// address, joined to a bridge in the root namespace by a veth pair (`ip netns`, `ip link`; root).
// The root namespace has the bridge's address, so a server there (NATS) is reachable from every host,
// and a host's link can be cut and restored (`ip link set … down/up`) to cause a network partition.

import { execFileSync, spawnSync } from 'node:child_process';
import { alive } from '../src/live/runtime/proc.ts';

export interface Hosts {
  /** The bridge's address (the root namespace), e.g. 10.77.0.1. */
  readonly rootIp: string;
  ip(host: string): string;
  /** The command prefix that runs a program on `host`. */
  wrap(host: string): readonly string[];
  /** Cuts `host` off the network (its veth goes down), and brings it back. */
  cut(host: string): void;
  restore(host: string): void;
  destroy(): void;
}

/** Why hosts cannot be made here, or undefined when they can. */
export function whyNoHosts(): string | undefined {
  if (process.platform !== 'linux') return 'network namespaces need Linux';
  if (process.getuid?.() !== 0) return 'network namespaces need root';
  if (spawnSync('ip', ['-V']).status !== 0) return 'the ip command (iproute2) is missing';
  const probe = `fareprobe${process.pid % 10000}`;
  const r = spawnSync('ip', ['netns', 'add', probe]);
  if (r.status !== 0) return `ip netns add failed: ${r.stderr.toString().trim()}`;
  spawnSync('ip', ['netns', 'del', probe]);
  return undefined;
}

const ip = (...args: string[]): void => {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
};

/**
 * Removes the namespaces and bridges that a test process which died (kill, timeout) left behind:
 * their bridge holds the same subnet's address, and would take the new hosts' traffic.
 */
function reapStale(): void {
  const dead = (name: string): boolean => {
    const m = /^f(\d+)(?:-|br$)/.exec(name);
    return m !== null && Number(m[1]) !== process.pid % 100000 && !alive(Number(m[1]));
  };
  for (const line of spawnSync('ip', ['netns', 'list']).stdout.toString().split('\n')) {
    const ns = line.split(' ')[0] ?? '';
    if (dead(ns)) spawnSync('ip', ['netns', 'del', ns]);
  }
  for (const m of spawnSync('ip', ['-o', 'link', 'show', 'type', 'bridge']).stdout.toString().matchAll(/^\d+: (f\d+br)[:@]/gm)) {
    if (dead(m[1] as string)) spawnSync('ip', ['link', 'del', m[1] as string]);
  }
}

/** Makes one namespace per name on a fresh bridge (subnet 10.<net>.0.0/24). Names: short, [a-z0-9]. */
export function makeHosts(names: readonly string[], net = 77): Hosts {
  reapStale();
  const tag = `f${process.pid % 100000}`;
  const bridge = `${tag}br`;
  const rootIp = `10.${net}.0.1`;
  const addr = new Map<string, string>();
  const hostSide = new Map<string, string>();
  const made: string[] = [];
  const destroy = (): void => {
    for (const ns of made) spawnSync('ip', ['netns', 'del', ns]);
    spawnSync('ip', ['link', 'del', bridge]);
  };
  try {
    ip('link', 'add', bridge, 'type', 'bridge');
    ip('addr', 'add', `${rootIp}/24`, 'dev', bridge);
    ip('link', 'set', bridge, 'up');
    names.forEach((name, i) => {
      const ns = `${tag}-${name}`;
      const a = `${tag}h${i}`, b = `${tag}n${i}`;
      ip('netns', 'add', ns);
      made.push(ns);
      ip('link', 'add', a, 'type', 'veth', 'peer', 'name', b);
      ip('link', 'set', b, 'netns', ns);
      ip('link', 'set', a, 'master', bridge);
      ip('link', 'set', a, 'up');
      const at = `10.${net}.0.${10 + i}`;
      ip('netns', 'exec', ns, 'ip', 'addr', 'add', `${at}/24`, 'dev', b);
      ip('netns', 'exec', ns, 'ip', 'link', 'set', b, 'up');
      ip('netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up');
      addr.set(name, at);
      hostSide.set(name, a);
    });
  } catch (e) {
    destroy();
    throw e;
  }
  const get = <T>(m: Map<string, T>, host: string): T => {
    const v = m.get(host);
    if (v === undefined) throw new Error(`no host ${host}: ${[...m.keys()].join(', ')}`);
    return v;
  };
  return {
    rootIp,
    ip: (host) => get(addr, host),
    wrap: (host) => ['ip', 'netns', 'exec', `${tag}-${(get(addr, host), host)}`],
    cut: (host) => ip('link', 'set', get(hostSide, host), 'down'),
    restore: (host) => ip('link', 'set', get(hostSide, host), 'up'),
    destroy,
  };
}
