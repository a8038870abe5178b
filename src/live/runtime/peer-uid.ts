// Who is on the other end of a loopback TCP connection: the uid that owns the client's socket, so the
// Runtime API can answer only its own instance's processes (each instance runs under its own uid).
//
// Preferred: one exact netlink sock_diag lookup (SOCK_DIAG_BY_FAMILY, inet_diag_req_v2 without
// NLM_F_DUMP) of the client's 4-tuple, through libc's socket/send/recv called with koffi. It is
// synchronous and takes microseconds whatever the number of sockets; the kernel answers within
// send(), so recv never waits. It is proven once, on a loopback connection of our own, before use.
// Fallback, when koffi does not load or netlink is refused: /proc/net/tcp (and tcp6, for a client
// that connected through a v4-mapped IPv6 socket), read asynchronously; a read walks the kernel's whole
// TCP hash table (~0.4-1 ms on an idle machine) and prints every socket, TIME_WAIT ones included
// (~2 us more each), so lookups that arrive while a read is in flight share the next read: at most
// one read runs, whatever the rate of connections.
//
// A socket whose owning process closed it (timewait or orphaned: inode 0) is reported as gone: a
// Runtime API client that has closed its socket cannot read an answer anyway.
//
// Just over 400 lines: most of it is the netlink request and reply layout (structs written and read
// by hand), which belongs with the lookup that uses it.

import { endianness } from 'node:os';
import { open } from 'node:fs/promises';
import { type AddressInfo, createServer, connect, type Socket } from 'node:net';

/** An accepted connection as the server sees it: its own end (local) and the client's (remote). */
export interface LoopbackConnection {
  readonly localAddress: string;
  readonly localPort: number;
  readonly remoteAddress: string;
  readonly remotePort: number;
}

/** The owner of the client's socket, or why there is none. */
export type PeerOwner =
  | { readonly found: true; readonly uid: number; readonly inode: number }
  | { readonly found: false; readonly reason: string };

export type PeerMechanism = 'netlink' | 'proc';

export interface PeerLookup {
  /** The mechanism in use now (netlink switches to proc for good if it starts failing). */
  readonly mechanism: PeerMechanism;
  /** Why the fallback is used ('' with netlink). */
  readonly fallbackReason: string;
  /** The owner of the client end of `conn`: at once with netlink, after a read with /proc. Never rejects. */
  owner(conn: LoopbackConnection): PeerOwner | Promise<PeerOwner>;
  close(): void;
}

export interface PeerLookupOptions {
  /** Force a mechanism (tests, benchmarks); default: netlink if it works, else proc. */
  readonly mechanism?: PeerMechanism;
  /** The /proc files (tests); default /proc/net/tcp and /proc/net/tcp6. */
  readonly procFiles?: readonly string[];
}

let shared: Promise<PeerLookup> | null = null;

/** The process-wide lookup, probed once. */
export function peerLookup(): Promise<PeerLookup> {
  shared ??= openPeerLookup();
  return shared;
}

/** One line for Fare's start-up message, e.g. "Runtime API peer check: netlink sock_diag via koffi". */
export function describePeerLookup(l: Pick<PeerLookup, 'mechanism' | 'fallbackReason'>): string {
  return l.mechanism === 'netlink'
    ? 'Runtime API peer check: netlink sock_diag via koffi'
    : `Runtime API peer check: /proc/net/tcp, read off the main thread (${l.fallbackReason})`;
}

/**
 * Opens a lookup: loads koffi, opens a NETLINK_SOCK_DIAG socket and proves it on a loopback connection
 * of our own (its owner must be our uid); any failure selects /proc/net/tcp, with the reason kept.
 */
export async function openPeerLookup(opts: PeerLookupOptions = {}): Promise<PeerLookup> {
  const proc = new ProcNetTcp(opts.procFiles ?? ['/proc/net/tcp', '/proc/net/tcp6']);
  if (opts.mechanism === 'proc') return new Lookup(null, proc, 'chosen by the caller');
  let nl: NetlinkDiag;
  try {
    nl = await NetlinkDiag.open();
  } catch (e) {
    return new Lookup(null, proc, `netlink unavailable: ${message(e)}`);
  }
  try {
    const uid = await ownUidThrough(nl);
    const me = process.geteuid?.() ?? -1;
    if (uid !== me) throw new Error(`a socket of ours was reported as uid ${uid}, not ${me}`);
  } catch (e) {
    nl.close();
    if (opts.mechanism === 'netlink') throw e;
    return new Lookup(null, proc, `netlink unavailable: ${message(e)}`);
  }
  return new Lookup(nl, proc, '');
}

class Lookup implements PeerLookup {
  constructor(
    private nl: NetlinkDiag | null,
    private readonly proc: ProcNetTcp,
    private reason: string,
  ) {}

  get mechanism(): PeerMechanism {
    return this.nl === null ? 'proc' : 'netlink';
  }

  get fallbackReason(): string {
    return this.reason;
  }

  owner(conn: LoopbackConnection): PeerOwner | Promise<PeerOwner> {
    const tuple = tupleOf(conn);
    if (tuple === null) return { found: false, reason: `not an IPv4 loopback connection (${conn.remoteAddress}:${conn.remotePort})` };
    if (this.nl !== null) {
      try {
        return this.nl.owner(tuple);
      } catch (e) {
        // Not an answer about this socket but a failing mechanism: use /proc from now on.
        this.nl.close();
        this.nl = null;
        this.reason = `netlink failed: ${message(e)}`;
      }
    }
    return this.proc.owner(tuple);
  }

  close(): void {
    this.nl?.close();
    this.nl = null;
  }
}

/** The client's socket: its own address and port (src) and the server's (dst), addresses as 4 bytes. */
interface Tuple {
  readonly src: Buffer;
  readonly sport: number;
  readonly dst: Buffer;
  readonly dport: number;
}

function tupleOf(c: LoopbackConnection): Tuple | null {
  const src = ipv4(c.remoteAddress);
  const dst = ipv4(c.localAddress);
  if (src === null || dst === null) return null;
  return { src, sport: c.remotePort, dst, dport: c.localPort };
}

function ipv4(a: string): Buffer | null {
  const m = /^(?:::ffff:)?(\d+)\.(\d+)\.(\d+)\.(\d+)$/i.exec(a);
  if (m === null) return null;
  const b = [m[1], m[2], m[3], m[4]].map(Number);
  return b.every((x) => x <= 255) ? Buffer.from(b) : null;
}

const LE = endianness() === 'LE';
const u32 = (b: Buffer, off: number): number => (LE ? b.readUInt32LE(off) : b.readUInt32BE(off));
const i32 = (b: Buffer, off: number): number => (LE ? b.readInt32LE(off) : b.readInt32BE(off));
const u16 = (b: Buffer, off: number): number => (LE ? b.readUInt16LE(off) : b.readUInt16BE(off));
const putU32 = (b: Buffer, v: number, off: number): void => void (LE ? b.writeUInt32LE(v, off) : b.writeUInt32BE(v, off));
const putU16 = (b: Buffer, v: number, off: number): void => void (LE ? b.writeUInt16LE(v, off) : b.writeUInt16BE(v, off));

// Linux constants (include/uapi/linux/{socket,netlink,sock_diag,inet_diag}.h, asm-generic/errno-base.h).
const AF_NETLINK = 16;
const AF_INET = 2;
const SOCK_DGRAM = 2;
const SOCK_CLOEXEC = 0o2000000;
const NETLINK_SOCK_DIAG = 4;
const SOCK_DIAG_BY_FAMILY = 20;
const NLMSG_ERROR = 2;
const NLM_F_REQUEST = 1;
const IPPROTO_TCP = 6;
const MSG_DONTWAIT = 0x40;
const ENOENT = 2;
const EINTR = 4;
const NLMSG_HDRLEN = 16; // struct nlmsghdr: u32 len, u16 type, u16 flags, u32 seq, u32 pid
const REQ_LEN = 56; // struct inet_diag_req_v2: u8 family, protocol, ext, pad; u32 states; inet_diag_sockid (48)
const MSG_LEN = 72; // struct inet_diag_msg: u8 family, state, timer, retrans; sockid (48); u32 expires, rqueue, wqueue, uid, inode

interface Libc {
  socket(domain: number, type: number, protocol: number): number;
  send(fd: number, buf: Buffer, len: number, flags: number): number;
  recv(fd: number, buf: Buffer, len: number, flags: number): number;
  close(fd: number): number;
  errno(): number;
}

/** A NETLINK_SOCK_DIAG socket kept open for the life of the lookup; one request and one answer per call. */
class NetlinkDiag {
  private readonly req = Buffer.alloc(NLMSG_HDRLEN + REQ_LEN);
  private readonly ans = Buffer.alloc(1024); // the answer is ~124 bytes; koffi copies the buffer both ways
  private seq = 0;

  private constructor(
    private readonly libc: Libc,
    private fd: number,
  ) {
    const r = this.req;
    putU32(r, r.length, 0);
    putU16(r, SOCK_DIAG_BY_FAMILY, 4);
    putU16(r, NLM_F_REQUEST, 6); // no NLM_F_DUMP: an exact lookup of one socket
    r[16] = AF_INET; // an AF_INET lookup also finds a v4-mapped IPv6 client socket (same hash table)
    r[17] = IPPROTO_TCP;
    putU32(r, 0xffffffff, 20); // idiag_states: any
    putU32(r, 0xffffffff, 64); // idiag_cookie: INET_DIAG_NOCOOKIE, both words
    putU32(r, 0xffffffff, 68);
  }

  static async open(): Promise<NetlinkDiag> {
    let koffi: typeof import('koffi');
    try {
      koffi = await import('koffi');
    } catch (e) {
      throw new Error(`koffi did not load: ${message(e)}`);
    }
    const c = koffi.load(null); // this process: node links libc
    const libc: Libc = {
      socket: c.func('int socket(int, int, int)') as Libc['socket'],
      send: c.func('intptr_t send(int, const void *, uintptr_t, int)') as Libc['send'],
      recv: c.func('intptr_t recv(int, void *, uintptr_t, int)') as Libc['recv'],
      close: c.func('int close(int)') as Libc['close'],
      errno: () => koffi.errno(),
    };
    const fd = libc.socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
    if (fd < 0) throw new Error(`socket(AF_NETLINK, NETLINK_SOCK_DIAG) failed: errno ${libc.errno()}`);
    return new NetlinkDiag(libc, fd);
  }

  /** Throws only when netlink itself fails (not for a socket that is gone). */
  owner(t: Tuple): PeerOwner {
    if (this.fd < 0) throw new Error('netlink socket closed');
    const r = this.req;
    const seq = (this.seq = (this.seq + 1) >>> 0);
    putU32(r, seq, 8);
    r.writeUInt16BE(t.sport, 24); // inet_diag_sockid: ports and addresses in network byte order
    r.writeUInt16BE(t.dport, 26);
    r.fill(0, 28, 60);
    t.src.copy(r, 28);
    t.dst.copy(r, 44);
    const sent = this.retry(() => this.libc.send(this.fd, r, r.length, 0));
    if (sent !== r.length) throw new Error(`send on netlink failed: errno ${this.libc.errno()}`);
    // The kernel answers within send(); a stale answer (a sequence number not ours) is skipped.
    for (let tries = 0; tries < 8; tries++) {
      const a = this.ans;
      const n = this.retry(() => this.libc.recv(this.fd, a, a.length, MSG_DONTWAIT));
      if (n < 0) throw new Error(`recv on netlink failed: errno ${this.libc.errno()}`);
      if (n < NLMSG_HDRLEN + 4) throw new Error(`short netlink answer (${n} bytes)`);
      if (u32(a, 8) !== seq) continue;
      const type = u16(a, 4);
      if (type === NLMSG_ERROR) {
        const err = -i32(a, NLMSG_HDRLEN);
        if (err === ENOENT) return { found: false, reason: 'no such socket (the client has closed it)' };
        throw new Error(`sock_diag answered errno ${err}`);
      }
      if (type !== SOCK_DIAG_BY_FAMILY || n < NLMSG_HDRLEN + MSG_LEN) throw new Error(`unexpected netlink answer (type ${type}, ${n} bytes)`);
      const m = NLMSG_HDRLEN;
      if (a.readUInt16BE(m + 4) !== t.sport || a.readUInt16BE(m + 6) !== t.dport) throw new Error('sock_diag answered about another socket');
      const uid = u32(a, m + 64);
      const inode = u32(a, m + 68);
      if (inode === 0) return { found: false, reason: 'the client has closed its socket' };
      return { found: true, uid, inode };
    }
    throw new Error('no netlink answer to our request');
  }

  close(): void {
    if (this.fd >= 0) this.libc.close(this.fd);
    this.fd = -1;
  }

  private retry(call: () => number): number {
    let n = call();
    for (let i = 0; n < 0 && this.libc.errno() === EINTR && i < 8; i++) n = call();
    return n;
  }
}

/** The uid netlink reports for a loopback connection we make to ourselves. */
async function ownUidThrough(nl: NetlinkDiag): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const accepted = new Promise<Socket>((resolve) => server.once('connection', resolve));
  const client = connect((server.address() as AddressInfo).port, '127.0.0.1');
  const failed = new Promise<never>((_, reject) => client.once('error', reject));
  try {
    const s = await Promise.race([accepted, failed]);
    try {
      const o = nl.owner(tupleOf(connOf(s)) ?? fail('the probe connection has no IPv4 addresses'));
      if (!o.found) throw new Error(`the probe connection was not found: ${o.reason}`);
      return o.uid;
    } finally {
      s.destroy();
    }
  } finally {
    client.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

/** The connection as the server sees it, from an accepted socket ('' and 0 once it is destroyed). */
export function connOf(s: Socket): LoopbackConnection {
  return { localAddress: s.localAddress ?? '', localPort: s.localPort ?? 0, remoteAddress: s.remoteAddress ?? '', remotePort: s.remotePort ?? 0 };
}

/**
 * /proc/net/tcp (then tcp6), read asynchronously. Lookups that arrive while a read is in flight wait
 * for the next one (the socket may have been accepted after the file was read), so one read at a time.
 * The kernel hands the file out a page (~4 KB, ~27 sockets) per read(2), each a trip to the thread
 * pool; the lines wanted are found with indexOf, not by splitting every line.
 */
class ProcNetTcp {
  private batch: Array<{ readonly keys: readonly string[]; readonly done: (o: PeerOwner) => void }> = [];
  private reading = false;
  private buf = Buffer.allocUnsafe(1 << 16);

  constructor(private readonly files: readonly string[]) {}

  owner(t: Tuple): Promise<PeerOwner> {
    return new Promise((done) => {
      const port = (p: number): string => p.toString(16).toUpperCase().padStart(4, '0');
      // A line is "%4d: <local> <remote> <st> ...": ": " before the client's end makes the match exact.
      const keys = [`: ${hex4(t.src)}:${port(t.sport)} ${hex4(t.dst)}:${port(t.dport)} `, `: ${hex6(t.src)}:${port(t.sport)} ${hex6(t.dst)}:${port(t.dport)} `];
      this.batch.push({ keys, done });
      if (!this.reading) void this.read();
    });
  }

  private async read(): Promise<void> {
    this.reading = true;
    while (this.batch.length > 0) {
      let left = this.batch;
      this.batch = [];
      let failure = '';
      for (const file of this.files) {
        if (left.length === 0) break;
        let data: Buffer;
        try {
          data = await this.readAll(file);
        } catch (e) {
          failure = `could not read ${file}: ${message(e)}`;
          continue;
        }
        left = left.filter((b) => {
          const o = b.keys.reduce<PeerOwner | null>((found, key) => found ?? ownerIn(data, key), null); // tcp or tcp6 format
          if (o !== null) b.done(o);
          return o === null;
        });
      }
      for (const b of left) b.done({ found: false, reason: failure || 'no such socket (the client has closed it)' });
    }
    this.reading = false;
  }

  /** The whole file, into a buffer reused from read to read (one read runs at a time). */
  private async readAll(file: string): Promise<Buffer> {
    const fh = await open(file, 'r');
    try {
      let len = 0;
      for (;;) {
        if (len === this.buf.length) {
          const bigger = Buffer.allocUnsafe(this.buf.length * 2);
          this.buf.copy(bigger, 0, 0, len);
          this.buf = bigger;
        }
        const { bytesRead } = await fh.read(this.buf, len, this.buf.length - len, null);
        if (bytesRead === 0) return this.buf.subarray(0, len);
        len += bytesRead;
      }
    } finally {
      await fh.close();
    }
  }
}

/** The owner on the line that `key` starts in (": local remote "), or null when there is none. */
function ownerIn(data: Buffer, key: string): PeerOwner | null {
  const at = data.indexOf(key, 0, 'latin1');
  if (at < 0) return null;
  const end = data.indexOf(10, at);
  // ": local remote st tx:rx tr:when retrnsmt uid timeout inode ..."
  const f = data.toString('latin1', at + 2, end < 0 ? data.length : end).trim().split(/\s+/);
  const uid = Number(f[6]);
  const inode = Number(f[8]);
  if (!Number.isInteger(uid) || !Number.isInteger(inode)) return { found: false, reason: `unreadable /proc/net/tcp line: ${f.join(' ')}` };
  return inode === 0 ? { found: false, reason: 'the client has closed its socket' } : { found: true, uid, inode };
}

// /proc/net/tcp prints an address as the 32-bit words of the kernel's (network-order) value read as host
// integers, "%08X" each, and a port as "%04X" of its host value.
const word = (b: Buffer, off: number): string => u32(b, off).toString(16).toUpperCase().padStart(8, '0');
const hex4 = (a: Buffer): string => word(a, 0);
const hex6 = (a: Buffer): string => {
  const b = Buffer.alloc(16);
  b.writeUInt16BE(0xffff, 10); // ::ffff:a.b.c.d
  a.copy(b, 12);
  return word(b, 0) + word(b, 4) + word(b, 8) + word(b, 12);
};

function fail(msg: string): never {
  throw new Error(msg);
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
