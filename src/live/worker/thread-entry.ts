// The worker of `fare up --worker-thread` on a thread of its own (on-thread.ts starts it): worker 0
// as local-worker.ts assembles it — the machine scheduler over real instances, with their memory
// management, stem cells and Runtime APIs — which `fare up` otherwise runs on its event loop beside
// the gateway and the shard. It talks to them only through the protocol's messages, carried over the
// thread's MessagePort; the rest of what crosses (start-up report, warnings, metrics events and
// census, retire notices, stop) is the small `ToThread` / `FromThread` vocabulary of on-thread.ts.

import { parentPort, workerData } from 'node:worker_threads';
import type { WorkerEvents } from './machine-driver.ts';
import { startLocalWorker } from './local-worker.ts';
import { InProcessBus } from '../transport/in-process.ts';
import { realClock } from '../transport/clock.ts';
import { startLauncher } from '../runtime/launcher.ts';
import { Outbox, type FromThread, type ThreadInit, type ToThread } from './on-thread.ts';

/** How often the instances' census and the stem cells' counts go to the main thread's metrics (also before each scrape). */
const CENSUS_MS = 500;

const port = parentPort;
if (port === null) throw new Error('thread-entry.ts runs as the worker thread of fare up --worker-thread');
const o = workerData as ThreadInit;
const outbox = new Outbox<FromThread>((m) => port.postMessage(m));
const post = (m: FromThread): void => outbox.post(m);

// Messages for the gateway and the shard go to the main thread, in the order sent.
const bus = new InProcessBus({ clock: realClock, undeliverable: (m) => outbox.push(m) });
const events: WorkerEvents = {
  preempted: (machine, cls, by) => post({ event: ['preempted', machine, cls, by ?? null] }),
  ioWaited: (machine, cls) => post({ event: ['ioWaited', machine, cls] }),
  swapped: (machine, cls, direction) => post({ event: ['swapped', machine, cls, direction] }),
};
// This thread spawns the runtimes: the launcher is its own (the main thread starts none).
const launcherLine = startLauncher();
const reach: { endpoint?: string } = {};
const worker = await startLocalWorker({ ...o, endpoint: () => reach.endpoint, warn: (line) => post({ warn: line }), events }, bus);
const censusTimer = setInterval(() => post(worker.census()), CENSUS_MS);
censusTimer.unref();

let stopping: Promise<void> | undefined;
port.on('message', (d: ToThread) => {
  if ('msgs' in d) for (const m of d.msgs) bus.sendOwned(m);
  else if ('endpoint' in d) reach.endpoint = d.endpoint;
  else if ('retire' in d) worker.retire(d.retire.tenant, d.retire.name, d.retire.version);
  else if ('census' in d) post(worker.census());
  else if ('stopStems' in d) void worker.stopStems().then(() => post({ stemsStopped: true }));
  else if ('stop' in d) {
    stopping ??= (async () => {
      clearInterval(censusTimer);
      // (The stem cells were stopped when the main thread asked, first; closing the instances kills any left.)
      // Calls still running are cut: their answers and outcomes reach the main thread before `stopped`.
      await worker.closeInstances();
      worker.close();
      bus.flush();
      post({ stopped: true });
    })();
  }
});
// Infinity (memory not managed) does not survive JSON, but a structured clone keeps it.
post({ ready: [launcherLine, ...worker.report], capacityMB: worker.capacityMB, ...worker.census() });
