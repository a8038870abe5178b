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
// It exits when its IPC channel closes (Fare exited, or was killed).

import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { connect } from 'node:net';

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
  child.once('exit', (code, signal) => tell({ t: 'exit', id: m.id, code, signal }));
  if (child.pid === undefined) return;
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
process.once('disconnect', () => process.exit(0));
tell({ t: 'ready', pid: process.pid });
