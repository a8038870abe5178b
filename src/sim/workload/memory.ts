// Per-job memory draws (the total a job reaches, MB) for the synthetic generator and for traces that
// record no memory: uniform (the paper's 100 MB–10 GB), fixed, or Burr XII (the Azure 2019 fit).

import type { Rng } from '../../core/rng.ts';
import type { ResolvedMemory } from './config.ts';
import { burrQuantile } from './distributions.ts';

const Kind = {
  Uniform: 0,
  Fixed: 1,
  Burr: 2,
} as const;
type Kind = (typeof Kind)[keyof typeof Kind];

export class MemorySampler {
  private readonly kind: Kind;
  private readonly lo: number;
  private readonly hi: number;
  private readonly c: number;
  private readonly k: number;
  private readonly lambda: number;

  constructor(spec: Readonly<ResolvedMemory>) {
    this.c = 1;
    this.k = 1;
    this.lambda = 1;
    switch (spec.kind) {
      case 'uniform':
        this.kind = Kind.Uniform;
        this.lo = spec.minMB;
        this.hi = spec.maxMB;
        break;
      case 'fixed':
        this.kind = Kind.Fixed;
        this.lo = spec.mb;
        this.hi = spec.mb;
        break;
      case 'burr':
        this.kind = Kind.Burr;
        this.lo = spec.minMB;
        this.hi = spec.maxMB;
        this.c = spec.c;
        this.k = spec.k;
        this.lambda = spec.lambdaMB;
        break;
    }
  }

  /** Writes n draws to out[0..n). Uniform and Burr take one uniform per job; fixed takes none. */
  fill(out: Float32Array, n: number, rng: Rng): void {
    const lo = this.lo;
    const hi = this.hi;
    switch (this.kind) {
      case Kind.Uniform: {
        const w = hi - lo;
        for (let i = 0; i < n; i++) out[i] = lo + w * rng.next();
        break;
      }
      case Kind.Fixed:
        out.fill(lo, 0, n);
        break;
      case Kind.Burr: {
        const c = this.c;
        const k = this.k;
        const lambda = this.lambda;
        for (let i = 0; i < n; i++) out[i] = Math.min(hi, Math.max(lo, burrQuantile(rng.next(), c, k, lambda)));
        break;
      }
    }
  }
}
