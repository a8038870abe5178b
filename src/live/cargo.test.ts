import { describe, expect, it } from 'vitest';
import { invocationCargo, requestOf } from './cargo.ts';
import type { FunctionSpec } from './types.ts';

const fn: FunctionSpec = { tenant: 'acme', name: 'hello', runtime: 'nodejs', handler: 'index.handler', cls: 'high', codeDir: '/code', version: 1, timeoutMs: 3000, env: {} };

describe('invocation cargo', () => {
  it("carries the invocation's trace to the worker, through JSON as over NATS", () => {
    const traceId = 'Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1';
    const cargo = JSON.parse(JSON.stringify(invocationCargo(3, { fn, requestId: 'r1', payload: Buffer.from('{}'), cls: 0, traceId }))) as ReturnType<typeof invocationCargo>;
    const { gateway, req } = requestOf(cargo, 0);
    expect(gateway).toBe(3);
    expect(req.traceId).toBe(traceId);
    expect(requestOf(invocationCargo(0, { fn, requestId: 'r2', payload: Buffer.alloc(0), cls: 1 }), 1).req.traceId).toBeUndefined();
  });
});
