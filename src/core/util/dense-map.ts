// A map from small whole-number ids (machines: 0…n) to numbers, kept in an array indexed by id: no
// hashing on the idle list's hot paths (a Map's set was a builtin call each time). An id far beyond
// the rest (from FAR on) goes to a Map instead of growing the array to it. NaN is not a value it
// holds: it reads as absent.

/** Ids from here on are kept in a Map (an array that long would be mostly empty). */
export const FAR = 1 << 20;

export class DenseMap {
  /** By id; NaN: absent (the array stays packed and holds only numbers). */
  private readonly at: number[] = [];
  private far: Map<number, number> | undefined;

  get(id: number): number | undefined {
    if (id >= FAR || id < 0) return this.far?.get(id);
    const v = this.at[id];
    return v === undefined || v !== v ? undefined : v;
  }

  set(id: number, v: number): void {
    if (id >= FAR || id < 0) {
      (this.far ??= new Map()).set(id, v);
      return;
    }
    const at = this.at;
    while (at.length < id) at.push(NaN);
    at[id] = v;
  }

  delete(id: number): void {
    if (id >= FAR || id < 0) this.far?.delete(id);
    else if (id < this.at.length) this.at[id] = NaN;
  }

  has(id: number): boolean {
    return this.get(id) !== undefined;
  }
}
