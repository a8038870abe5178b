import { describe, expect, it } from 'vitest';
import { chargeFor, classIndex, costOf, ratesFor, DEFAULT_PRICE_TABLE, inheritClass, inheritContext, makePriceTable, maxPrice, type PriceClass } from './classes.ts';

const error = (classes: readonly PriceClass[], memoryPrice = 0): string => {
  const r = makePriceTable(classes, memoryPrice);
  if (r.ok) throw new Error('expected an error');
  return r.error;
};

describe('makePriceTable validation', () => {
  it('rejects an empty table', () => {
    expect(error([])).toBe('the price table has no classes: give at least one {name, price}');
  });

  it('rejects bad class names and says what is allowed', () => {
    for (const name of ['', 'High', '1st', 'has space', 'a'.repeat(33), '-x']) {
      expect(error([{ name, price: 1 }])).toBe(
        `class name ${JSON.stringify(name)} is not valid: use 1–32 lower-case letters, digits or '-', starting with a letter`,
      );
    }
    expect(makePriceTable([{ name: `a${'-9'.repeat(15)}z`.slice(0, 32), price: 1 }], 0).ok).toBe(true);
  });

  it('rejects a class listed twice', () => {
    expect(error([{ name: 'a', price: 1 }, { name: 'a', price: 2 }])).toBe('class a is listed twice: give each class once');
  });

  it('rejects prices that are not positive finite numbers', () => {
    for (const price of [0, -1, NaN, Infinity]) {
      expect(error([{ name: 'a', price }])).toBe(`class a has price ${String(price)}: prices must be positive numbers (µ¢ per CPU-second)`);
    }
  });

  it('rejects two classes with the same price', () => {
    expect(error([{ name: 'a', price: 1 }, { name: 'b', price: 1 }])).toBe(
      'two classes have the same price: classes are ordered by price, so prices must differ',
    );
  });

  it('rejects a negative or non-finite memory price, accepts zero', () => {
    expect(error([{ name: 'a', price: 1 }], -0.5)).toBe('memory price -0.5 is not valid: give a number ≥ 0 (µ¢ per GB-second)');
    expect(error([{ name: 'a', price: 1 }], NaN)).toMatch(/^memory price NaN is not valid/);
    expect(makePriceTable([{ name: 'a', price: 1 }], 0).ok).toBe(true);
  });
});

describe('makePriceTable sorting', () => {
  it('sorts classes by price, highest first, so index 0 is the highest class', () => {
    const r = makePriceTable([{ name: 'low', price: 0.5 }, { name: 'high', price: 2 }, { name: 'mid', price: 1 }], 0.25);
    expect(r).toEqual({
      ok: true,
      value: { classes: [{ name: 'high', price: 2 }, { name: 'mid', price: 1 }, { name: 'low', price: 0.5 }], memoryPrice: 0.25 },
    });
  });

  it('does not reorder its input', () => {
    const input = [{ name: 'b', price: 1 }, { name: 'a', price: 2 }];
    makePriceTable(input, 0);
    expect(input.map((c) => c.name)).toEqual(['b', 'a']);
  });

  it('accepts the default table as it stands', () => {
    expect(makePriceTable(DEFAULT_PRICE_TABLE.classes, DEFAULT_PRICE_TABLE.memoryPrice)).toEqual({ ok: true, value: DEFAULT_PRICE_TABLE });
  });
});

describe('class lookups', () => {
  it('finds a class index by name, or undefined', () => {
    expect(classIndex(DEFAULT_PRICE_TABLE, 'high')).toBe(0);
    expect(classIndex(DEFAULT_PRICE_TABLE, 'low')).toBe(3);
    expect(classIndex(DEFAULT_PRICE_TABLE, 'gold')).toBeUndefined();
  });

  it('gives the highest price, or 1 for an empty table', () => {
    expect(maxPrice(DEFAULT_PRICE_TABLE)).toBe(2);
    expect(maxPrice({ classes: [], memoryPrice: 0 })).toBe(1);
  });
});

describe('inheritClass', () => {
  it('runs a callee at the higher of its own and its caller’s class', () => {
    expect(inheritClass(0, 3)).toBe(0); // a high-class caller lifts a low-class callee
    expect(inheritClass(3, 0)).toBe(0); // a low-class caller never lowers a high-class callee
    expect(inheritClass(2, 2)).toBe(2);
  });

  it('keeps the job’s own class when there is no caller', () => {
    expect(inheritClass(undefined, 3)).toBe(3);
  });
});

describe('inheritContext', () => {
  const own = { owner: 'acme', cls: 3, deadline: 5000 };

  it('raises a synchronous call into the caller\'s own tenant, and its context expires no later than the caller\'s', () => {
    expect(inheritContext({ tenant: 'acme', cls: 0, deadline: 2000 }, own, true)).toEqual({ cls: 0, deadline: 2000, raised: true });
    expect(inheritContext({ tenant: 'acme', cls: 0, deadline: 9000 }, own, true)).toEqual({ cls: 0, deadline: 5000, raised: true });
  });

  it('leaves a call not raised, with its own deadline, when the caller\'s class is not higher', () => {
    expect(inheritContext({ tenant: 'acme', cls: 3, deadline: 2000 }, own, true)).toEqual({ cls: 3, deadline: 5000, raised: false });
    expect(inheritContext({ tenant: 'acme', cls: 3, deadline: 2000 }, { ...own, cls: 1 }, true)).toEqual({ cls: 1, deadline: 5000, raised: false });
  });

  it('never raises a call into another tenant\'s function: the grantee cannot raise the owner\'s bill', () => {
    expect(inheritContext({ tenant: 'zeta', cls: 0, deadline: 2000 }, own, true)).toEqual({ cls: 3, deadline: 5000, raised: false });
  });

  it('never raises a call the caller does not wait for (an Event)', () => {
    expect(inheritContext({ tenant: 'acme', cls: 0, deadline: 2000 }, own, false)).toEqual({ cls: 3, deadline: 5000, raised: false });
  });

  it('gives a call without a context its own class and deadline', () => {
    expect(inheritContext(undefined, own, true)).toEqual({ cls: 3, deadline: 5000, raised: false });
  });
});

describe('chargeFor', () => {
  it('charges CPU-seconds at the class price and GB-seconds at the one memory price', () => {
    const c = chargeFor(DEFAULT_PRICE_TABLE, 0, 1500, 2);
    expect(c.cpu).toBeCloseTo(3, 12); // 1.5 s × 2 µ¢
    expect(c.memory).toBeCloseTo(0.5, 12); // 2 GB·s × 0.25 µ¢
    expect(c.total).toBeCloseTo(3.5, 12);
    expect(chargeFor(DEFAULT_PRICE_TABLE, 3, 1500, 2).cpu).toBeCloseTo(0.75, 12);
    expect(() => chargeFor(DEFAULT_PRICE_TABLE, 9, 1, 1)).toThrow(/class 9 is not in the price table/);
  });

  it('is costOf at the rates the table gives the class', () => {
    for (let cls = 0; cls < DEFAULT_PRICE_TABLE.classes.length; cls++) {
      const { price, memoryPrice } = ratesFor(DEFAULT_PRICE_TABLE, cls);
      expect(price).toBe(DEFAULT_PRICE_TABLE.classes[cls]?.price);
      expect(memoryPrice).toBe(DEFAULT_PRICE_TABLE.memoryPrice);
      expect(chargeFor(DEFAULT_PRICE_TABLE, cls, 1234, 0.5)).toEqual(costOf(1234, 0.5, price, memoryPrice));
    }
    expect(() => ratesFor(DEFAULT_PRICE_TABLE, -1)).toThrow(/class -1 is not in the price table/);
  });
});

describe('costOf', () => {
  it('charges CPU-seconds at the given price and GB-seconds at the given memory price', () => {
    expect(costOf(1500, 2, 2, 0.25)).toEqual({ cpu: 3, memory: 0.5, total: 3.5 });
    expect(costOf(0, 0, 2, 0.25).total).toBe(0);
  });

  it('counts negative amounts as nothing', () => {
    expect(costOf(-100, -1, 2, 0.25)).toEqual({ cpu: 0, memory: 0, total: 0 });
  });
});
