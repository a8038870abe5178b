// How a long-running command (fare up, fare cluster up, the cluster's parts) hears it must stop:
// Ctrl-C (SIGINT), a service manager (SIGTERM), or its terminal closing (SIGHUP, which would otherwise
// end the process at once, without its graceful stop — and leave what it started running). After a
// hang-up, stdout and stderr may lead nowhere: what is said then is dropped, never an error (the
// same when a pipe's reader has gone).

/** Calls `stop` at each SIGINT, SIGTERM and SIGHUP (the command counts them: the second stops at once). */
export function onStopSignals(stop: () => void): void {
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  process.on('SIGHUP', () => {
    // The terminal is gone: writes to it would fail (EIO), whoever makes them.
    guard(process.stdout);
    guard(process.stderr);
    stop();
  });
}

/** Writes `text` to stdout, unless nobody reads it any more (the terminal or the pipe's reader gone). */
export function say(text: string): void {
  write(process.stdout, text);
}

/** The same, to stderr. */
export function sayError(text: string): void {
  write(process.stderr, text);
}

const broken = new WeakSet<NodeJS.WriteStream>();
const guarded = new WeakSet<NodeJS.WriteStream>();

/** A failed write to `to` (EPIPE, EIO: asynchronous) means its reader is gone: the command goes on without printing. */
function guard(to: NodeJS.WriteStream): void {
  if (guarded.has(to)) return;
  guarded.add(to);
  to.on('error', () => broken.add(to));
}

function write(to: NodeJS.WriteStream, text: string): void {
  if (broken.has(to)) return;
  guard(to);
  try {
    to.write(text);
  } catch {
    broken.add(to);
  }
}
