// The launcher: a small Node.js process that Fare forks once (launcher.ts) and that spawns function
// runtimes for it, so that Fare's own event loop never forks. A fork copies the parent's page
// tables; on this paravirtualised machine that blocks the forking process for ≈ 25 ms at Fare's
// size (≈ 150–200 MB), and every invocation of every function waited meanwhile. Here it blocks
// only this process, which holds nothing else (≈ 40 MB, Node's own).
//
// Plain JavaScript, not TypeScript: it runs without a loader, from src/ as from dist/ (bin/build.js
// copies it), and loads only node:child_process, node:net and node:fs.
//
// Protocol, over the IPC channel ('advanced' serialization):
//   Fare → { t: 'spawn', id, file, args, cwd, env, detached, uid?, gid?, join, socket, token }
//   here → { t: 'ready', pid } once; then per spawn { t: 'spawned', id, pid }, later { t: 'exit',
//          id, code, signal } — or { t: 'error', id, stage, message, code, errno, syscall, path }
//          (stage 'connect': nothing was spawned; 'spawn': as ChildProcess's 'error').
// The runtime's output does not pass through here: for each spawn this process connects twice to
// Fare's unix socket `socket`, writes `<token> 1\n` / `<token> 2\n` on them, hands them to the child
// as its stdout and stderr, and closes its own copies. Fare reads them directly.
// `join`: `cgroup.procs` files the child's pid is written into right after the spawn (the late join
// of launch.ts, when there is neither the sandbox helper nor setpriv).
// It exits when its IPC channel closes (Fare exited, or was killed — even by SIGKILL: the kernel
// closes Fare's end of the channel), and first kills, by SIGKILL, the process group of every
// runtime it started that has not exited (stem cells included): without the sandbox nothing else
// would end them (in it, each helper dies with this process too: PR_SET_PDEATHSIG). Their frozen
// instance groups are thawed after the signal, since a task frozen by the cgroup v1 freezer dies
// only once thawed; only groups named as Fare's (`…-p<Fare's pid>-…` under a `fare/` group) are
// touched.

import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';

/** Fare's pid (it forked this process): its instances' and stem cells' groups carry it in their names. */
const FARE_PID = process.ppid;

/** The runtimes started and not exited yet: each is spawned detached, so its pid is its process group's id. */
const running = new Set();

/** Sends a message to Fare; a channel already closed means Fare is gone (we exit on 'disconnect'). */
function tell(msg) {
  if (process.connected) process.send(msg);
}

/** A connected socket to Fare's output socket, its header written. */
function outputSocket(path, header) {
  return new Promise((ok, fail) => {
    const s = connect(path);
    s.once('error', fail);
    s.once('connect', () => {
      s.write(header, (e) => {
        if (e) fail(e);
        else ok(s);
      });
    });
  });
}

function errorFields(e) {
  return { message: e.message, code: e.code, errno: e.errno, syscall: e.syscall, path: e.path };
}

async function launch(m) {
  let out = null;
  let err = null;
  try {
    out = await outputSocket(m.socket, `${m.token} 1\n`);
    err = await outputSocket(m.socket, `${m.token} 2\n`);
  } catch (e) {
    out?.destroy();
    err?.destroy();
    tell({ t: 'error', id: m.id, stage: 'connect', ...errorFields(e) });
    return;
  }
  let child;
  try {
    child = spawn(m.file, m.args, {
      cwd: m.cwd,
      env: m.env,
      detached: m.detached,
      stdio: ['ignore', out, err],
      ...(m.uid !== undefined ? { uid: m.uid, gid: m.gid } : {}),
    });
  } catch (e) {
    tell({ t: 'error', id: m.id, stage: 'spawn', ...errorFields(e) });
    return;
  } finally {
    // The child holds its own copies (or there is no child): ours would keep Fare from seeing the end of its output.
    out.destroy();
    err.destroy();
  }
  child.once('error', (e) => {
    // Only a failed spawn is reported (Fare signals its runtimes itself, by process group).
    if (child.pid === undefined) tell({ t: 'error', id: m.id, stage: 'spawn', ...errorFields(e) });
  });
  child.once('exit', (code, signal) => {
    running.delete(child.pid);
    tell({ t: 'exit', id: m.id, code, signal });
  });
  if (child.pid === undefined) return;
  running.add(child.pid);
  for (const f of m.join) {
    try {
      writeFileSync(f, String(child.pid));
    } catch {
      // accounting then misses this group; the instance still runs
    }
  }
  tell({ t: 'spawned', id: m.id, pid: child.pid });
}

process.on('message', (m) => {
  if (m !== null && typeof m === 'object' && m.t === 'spawn') void launch(m);
});
/**
 * The directories of the instance groups `pid` is in that can be frozen — its v1 freezer group and
 * its v2 group — where they are Fare's (see the header), from /proc/<pid>/cgroup and the mounts.
 */
function freezableGroups(pid) {
  const dirs = [];
  let mounts;
  let groups;
  try {
    mounts = readFileSync('/proc/self/mountinfo', 'utf8').split('\n');
    groups = readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n');
  } catch {
    return dirs;
  }
  for (const line of groups) {
    const [, controllers, path] = line.split(':');
    if (path === undefined || !/\/fare\/[^/]+$/.test(path) || !path.includes(`-p${FARE_PID}-`)) continue;
    const v2 = controllers === '';
    if (!v2 && !controllers.split(',').includes('freezer')) continue;
    for (const m of mounts) {
      // id parent major:minor root mount-point options … - fstype source super-options
      const [left, right] = m.split(' - ');
      if (right === undefined) continue;
      const [fstype, , superOpts = ''] = right.split(' ');
      const f = left.split(' ');
      const root = f[3] ?? '';
      const point = f[4] ?? '';
      const ours = v2 ? fstype === 'cgroup2' : fstype === 'cgroup' && superOpts.split(',').includes('freezer');
      if (!ours || !(root === '/' || path.startsWith(`${root}/`))) continue;
      const rel = root === '/' ? path : path.slice(root.length);
      dirs.push({ dir: `${point}${rel}`, v2 });
      break;
    }
  }
  return dirs;
}

/** Fare is gone: every runtime still running is killed, whole process group, and its groups thawed so that frozen ones die. */
function killRunning() {
  for (const pid of running) {
    if (pid <= 1) continue; // kill(-1) would signal every process there is
    const groups = freezableGroups(pid);
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // gone already
    }
    for (const g of groups) {
      try {
        writeFileSync(`${g.dir}/${g.v2 ? 'cgroup.freeze' : 'freezer.state'}`, g.v2 ? '0' : 'THAWED');
      } catch {
        // not frozen, or gone
      }
    }
  }
  running.clear();
}

process.once('disconnect', () => {
  killRunning();
  process.exit(0);
});
tell({ t: 'ready', pid: process.pid });
