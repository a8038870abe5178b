// Reservations: the estimated cost of every invocation admitted and not yet billed, per tenant, so
// that admission counts the work in flight and in the queue, not only what is billed. A synchronous
// invocation holds its estimate in memory from admission to its billing record; a queued or running
// Event invocation holds it in its row (`invocations.reserved_uc`), which this ledger mirrors and
// which is read back at open, so a restart keeps the reservations of the invocations still queued.

import { ChurnMap } from '../../core/util/churn-map.ts';

/** Per tenant: µ¢ held, and by how many invocations (when none hold any, the sum is reset to 0). */
interface Held {
  uc: number;
  n: number;
}

export class Reservations {
  readonly #byTenant = new ChurnMap<string, Held>();

  /** µ¢ held by `tenant`'s admitted, unbilled invocations. */
  total(tenant: string): number {
    return this.#byTenant.get(tenant)?.uc ?? 0;
  }

  /** Holds `uc` for a synchronous invocation; call the returned function once it is billed (or did not run). */
  hold(tenant: string, uc: number): () => void {
    if (!(uc > 0)) return () => undefined;
    this.add(tenant, uc);
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      this.remove(tenant, uc);
    };
  }

  /** For `InvocationRepo`: a row now holds `uc` more. */
  add(tenant: string, uc: number): void {
    if (!(uc > 0)) return;
    const h = this.#byTenant.get(tenant);
    if (h === undefined) this.#byTenant.set(tenant, { uc, n: 1 });
    else {
      h.uc += uc;
      h.n += 1;
    }
  }

  /** For `InvocationRepo`: a row no longer holds `uc`. */
  remove(tenant: string, uc: number): void {
    if (!(uc > 0)) return;
    const h = this.#byTenant.get(tenant);
    if (h === undefined) return;
    h.n -= 1;
    // Sums of doubles do not cancel exactly: when nothing is held, nothing is left.
    if (h.n <= 0) this.#byTenant.delete(tenant);
    else h.uc = Math.max(0, h.uc - uc);
  }

  /** Replaces the ledger of queued invocations (at open, from the table). */
  load(rows: readonly { tenant: string; uc: number; n: number }[]): void {
    this.#byTenant.clear();
    for (const r of rows) if (r.n > 0 && r.uc > 0) this.#byTenant.set(r.tenant, { uc: r.uc, n: r.n });
  }
}
