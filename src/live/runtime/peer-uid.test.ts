import { spawn } from 'node:child_process';
import { readlinkSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { type AddressInfo, connect, createServer, type Server, type Socket } from 'node:net';
import { endianness, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { connOf, describePeerLookup, openPeerLookup, type PeerLookup, type PeerOwner } from './peer-uid.ts';

const OTHER_UID = 100123;
const root = process.geteuid?.() === 0;
const me = process.geteuid?.() ?? -1;
const netlink = await openPeerLookup();
const proc = await openPeerLookup({ mechanism: 'proc' });
const lookups: Array<[string, PeerLookup]> = [['proc', proc]];
if (netlink.mechanism === 'netlink') lookups.unshift(['netlink', netlink]);
else console.log(`peer-uid.test: netlink sock_diag tests skipped: ${netlink.fallbackReason}`);
if (!root) console.log('peer-uid.test: cross-uid tests skipped: not root, so no process of another uid can be started');

afterAll(() => {
  netlink.close();
  proc.close();
});

/** A loopback server whose accepted connections are handed to `onConn`. */
async function listen(onConn: (s: Socket) => void): Promise<{ server: Server; port: number }> {
  const server = createServer(onConn);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return { server, port: (server.address() as AddressInfo).port };
}

const closeServer = (s: Server): Promise<void> => new Promise((resolve) => s.close(() => resolve()));

/** The owner of the next connection the server accepts, looked up while the client keeps it open. */
async function ownerOfNext(l: PeerLookup, open: Opener): Promise<PeerOwner> {
  let accepted: (s: Socket) => void = () => undefined;
  const got = new Promise<Socket>((resolve) => (accepted = resolve));
  const { server, port } = await listen((s) => accepted(s));
  const { ready, hangUp } = open(port);
  try {
    const [s] = await Promise.all([got, ready]);
    const o = await l.owner(connOf(s));
    s.destroy();
    return o;
  } finally {
    hangUp();
    await closeServer(server);
  }
}

/** A child process under `uid` that connects to the port and holds the connection until told to go. */
type Opener = (port: number) => { readonly ready: Promise<void>; readonly hangUp: () => void };

function connectAs(uid: number, host = '127.0.0.1'): Opener {
  return (port) => {
    const child = spawn(
      process.execPath,
      ['-e', `const s = require('node:net').connect(${port}, ${JSON.stringify(host)}); process.stdin.on('end', () => { s.destroy(); }); process.stdin.resume();`],
      { uid, gid: uid, cwd: '/', stdio: ['pipe', 'ignore', 'inherit'] },
    );
    return { ready: Promise.resolve(), hangUp: () => child.stdin.end() };
  };
}

/** A connection from this process; the check also compares the inode with our client socket's. */
function connectSelf(host = '127.0.0.1', seen?: { inode: number }): Opener {
  return (port) => {
    const c = connect(port, host);
    const ready = new Promise<void>((resolve) =>
      c.once('connect', () => {
        const fd = (c as unknown as { _handle: { fd: number } })._handle.fd;
        if (seen) seen.inode = Number(/socket:\[(\d+)\]/.exec(readlinkSync(`/proc/self/fd/${fd}`))?.[1]);
        resolve();
      }),
    );
    return { ready, hangUp: () => c.destroy() };
  };
}

describe.each(lookups)('peer lookup through %s', (_name, l) => {
  it('finds this process as the owner of a connection it made, by the client socket (its inode)', async () => {
    const seen = { inode: -1 };
    const o = await ownerOfNext(l, connectSelf('127.0.0.1', seen));
    expect(o).toEqual({ found: true, uid: me, inode: seen.inode });
  });

  it('finds the owner of a client that connected through a v4-mapped IPv6 socket', async () => {
    const o = await ownerOfNext(l, connectSelf('::ffff:127.0.0.1'));
    expect(o).toMatchObject({ found: true, uid: me });
  });

  it.skipIf(!root)(`finds uid ${OTHER_UID} for a connection made by a child process running as that uid`, async () => {
    expect(await ownerOfNext(l, connectAs(OTHER_UID))).toMatchObject({ found: true, uid: OTHER_UID });
  });

  it('reports a connection whose client has closed its socket as gone, not as anyone', async () => {
    let accepted: (s: Socket) => void = () => undefined;
    const ended = new Promise<Socket>((resolve) => (accepted = resolve));
    const { server, port } = await listen((s) => {
      s.resume();
      s.once('end', () => accepted(s)); // the client's FIN: it has closed its socket
    });
    const c = connect(port, '127.0.0.1', () => c.end());
    const s = await ended;
    c.destroy();
    const o = await l.owner(connOf(s));
    s.destroy();
    await closeServer(server);
    expect(o.found).toBe(false);
  });

  it('reports a connection that does not exist as not found', async () => {
    const o = await l.owner({ localAddress: '127.0.0.1', localPort: 1, remoteAddress: '127.0.0.1', remotePort: 2 });
    expect(o).toMatchObject({ found: false });
  });

  it('answers many lookups at once, each with its own connection', async () => {
    const clients: Socket[] = [];
    const accepted: Socket[] = [];
    let all: () => void = () => undefined;
    const allIn = new Promise<void>((resolve) => (all = resolve));
    const { server, port } = await listen((s) => {
      accepted.push(s);
      if (accepted.length === 20) all();
    });
    for (let i = 0; i < 20; i++) clients.push(connect(port, '127.0.0.1'));
    await allIn;
    const owners = await Promise.all(accepted.map((s) => Promise.resolve(l.owner(connOf(s)))));
    const inodes = owners.map((o) => (o.found ? o.inode : 0));
    for (const c of clients) c.destroy();
    for (const s of accepted) s.destroy();
    await closeServer(server);
    expect(owners.every((o) => o.found && o.uid === me)).toBe(true);
    expect(new Set(inodes).size).toBe(20);
  });

  it('refuses an address that is not IPv4', async () => {
    expect(await l.owner({ localAddress: '::1', localPort: 1, remoteAddress: '::1', remotePort: 2 })).toMatchObject({ found: false });
  });
});

describe('both mechanisms', () => {
  it.skipIf(!root || netlink.mechanism !== 'netlink')('agree on the uid and inode of another uid\'s connection', async () => {
    let accepted: (s: Socket) => void = () => undefined;
    const got = new Promise<Socket>((resolve) => (accepted = resolve));
    const { server, port } = await listen((s) => accepted(s));
    const { hangUp } = connectAs(OTHER_UID)(port);
    const s = await got;
    const a = await netlink.owner(connOf(s));
    const b = await proc.owner(connOf(s));
    hangUp();
    s.destroy();
    await closeServer(server);
    expect(a).toMatchObject({ found: true, uid: OTHER_UID });
    expect(b).toEqual(a);
  });
});

describe('/proc/net/tcp parsing', () => {
  it('reads the kernel\'s hex format in tcp and v4-mapped tcp6 lines, and takes inode 0 as a closed socket', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'fare-peer-'));
    const tcp = join(dir, 'tcp');
    const tcp6 = join(dir, 'tcp6');
    const head = '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n';
    // 127.0.0.1 is 0100007F on a little-endian machine, 7F000001 on a big-endian one.
    const lo = endianness() === 'LE' ? '0100007F' : '7F000001';
    writeFileSync(tcp, head +
      `   0: ${lo}:9C40 ${lo}:1F90 01 00000000:00000000 00:00000000 00000000 100123        0 4242 1 0000000000000000 20 4 30 10 -1\n` +
      `   1: ${lo}:9C41 ${lo}:1F90 06 00000000:00000000 03:00001770 00000000     0        0 0 3 0000000000000000\n`);
    writeFileSync(tcp6, head +
      `   0: 0000000000000000FFFF0000${lo}:9C42 0000000000000000FFFF0000${lo}:1F90 01 00000000:00000000 00:00000000 00000000 100124        0 4343 1 0000000000000000 20 4 30 10 -1\n`);
    const l = await openPeerLookup({ mechanism: 'proc', procFiles: [tcp, tcp6] });
    const conn = (remotePort: number) => ({ localAddress: '127.0.0.1', localPort: 0x1f90, remoteAddress: '127.0.0.1', remotePort });
    try {
      expect(await l.owner(conn(0x9c40))).toEqual({ found: true, uid: 100123, inode: 4242 });
      expect(await l.owner(conn(0x9c41))).toMatchObject({ found: false });
      expect(await l.owner(conn(0x9c42))).toEqual({ found: true, uid: 100124, inode: 4343 });
      expect(await l.owner(conn(0x9c43))).toMatchObject({ found: false });
    } finally {
      await rm(dir, { recursive: true });
    }
  });

  it('fails closed when the files cannot be read', async () => {
    const l = await openPeerLookup({ mechanism: 'proc', procFiles: ['/nonexistent/tcp'] });
    expect(await l.owner({ localAddress: '127.0.0.1', localPort: 1, remoteAddress: '127.0.0.1', remotePort: 2 })).toMatchObject({
      found: false,
      reason: expect.stringContaining('could not read /nonexistent/tcp') as unknown,
    });
  });
});

describe('describePeerLookup', () => {
  it('names the mechanism in one line, with the reason for a fallback', () => {
    expect(describePeerLookup({ mechanism: 'netlink', fallbackReason: '' })).toBe('Runtime API peer check: netlink sock_diag via koffi');
    expect(describePeerLookup(proc)).toBe('Runtime API peer check: /proc/net/tcp, read off the main thread (chosen by the caller)');
  });
});
