import { describe, expect, it } from 'vitest';
import { EXPERIMENTS } from './sim.ts';
import { QUESTIONS } from '../sim/experiments/questions.ts';

describe('fare sim', () => {
  it("lists the simulator's experiments as they are, without loading the simulator for its help", () => {
    expect(EXPERIMENTS).toEqual(QUESTIONS.map(({ name, about }) => ({ name, about })));
  });
});
