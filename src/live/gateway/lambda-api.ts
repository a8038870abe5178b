// Lambda's Invoke API: `POST /2015-03-31/functions/{FunctionName}/invocations`, with the headers,
// status codes and error shapes AWS SDKs expect. RequestResponse runs through the platform and is
// billed here (invoke-sync.ts); Event is queued durably before the 202; DryRun checks everything and
// answers 204. Both kinds pass budget admission (budget-gate.ts) and hold their estimate until billed.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { inheritContext } from '../../core/classes.ts';
import { authenticatedBody } from './auth.ts';
import { admitOrThrow, runSync } from './invoke-sync.ts';
import { functionArn, invocableTarget, ownClassIndex, type GatewayContext } from './context.ts';
import { ApiError, badRequest, contextUnconfirmed, tooLarge } from './errors.ts';
import { FARE_CONTEXT_HEADER, ownDeadline, type ContextCheck, type RunningInvocation } from './fare-context.ts';
import { parseFunctionRef } from './function-ref.ts';
import { header, sendEmpty } from './http.ts';
import { BYTES, EMPTY } from './rest.ts';
import { LAMBDA_ERROR, parse, ValidationError, z } from './schema.ts';
import { noteRequest } from './access-log.ts';
import { formatAmznTraceId, startTrace, traceAnswerHeaders, traceHeadersOf } from './trace.ts';
import { ResponseEventStream } from './lambda-stream.ts';

export const INVOKE_PATH = /^\/2015-03-31\/functions\/([^/]+)\/invocations\/?$/;
/** InvokeWithResponseStream's path (lambda-stream.ts). */
export const STREAM_INVOKE_PATH = /^\/2021-11-15\/functions\/([^/]+)\/response-streaming-invocations\/?$/;

/** Lambda's wording of an enum member it does not know. */
const lambdaEnum = <const T extends readonly [string, ...string[]]>(member: string, values: T) =>
  z.enum(values, { error: (iss) => `1 validation error detected: Value '${String(iss.input)}' at '${member}' failed to satisfy constraint: Member must satisfy enum value set: [${values.join(', ')}]` });

const INVOCATION_TYPE = lambdaEnum('invocationType', ['Event', 'RequestResponse', 'DryRun']).describe('X-Amz-Invocation-Type: RequestResponse (default) runs and answers the result; Event queues it durably and answers 202; DryRun checks everything and answers 204');
const LOG_TYPE = lambdaEnum('logType', ['None', 'Tail']).describe("X-Amz-Log-Type: Tail answers the last 4 KB of the execution's log in X-Amz-Log-Result (base64)");

type InvocationType = z.output<typeof INVOCATION_TYPE>;

/** Invoke in the API description (openapi.ts): its headers are validated by the schemas above. */
export const INVOKE_DOC = {
  path: '/2015-03-31/functions/{FunctionName}/invocations',
  operation: 'Invoke',
  summary: "Invokes a function (by name, name:qualifier or ARN; a version or alias as ?Qualifier=) and answers its result as the function returned it. Runs at the function's class, raised by X-Fare-Context (or the invocation credentials a function was given) for a synchronous call into the caller's own tenant",
  query: { Qualifier: z.string().describe('A version number, an alias or $LATEST') },
  headers: {
    'X-Amz-Invocation-Type': INVOCATION_TYPE,
    'X-Amz-Log-Type': LOG_TYPE,
    'X-Amz-Client-Context': z.string().describe('A base64-encoded JSON object (at most 3,583 bytes), handed to the function'),
    'X-Fare-Context': z.string().describe("The context a running invocation was given, to call at least at its class (the caller's own tenant, synchronous calls)"),
    traceparent: z.string().describe('W3C trace context: the invocation continues this trace (a new span); answered with its own traceparent'),
    tracestate: z.string().describe('W3C trace state, passed on with a valid traceparent'),
    'X-Amzn-Trace-Id': z.string().describe("Lambda's trace header (Root=1-…;Parent=…;Sampled=0|1), used when there is no valid traceparent"),
  },
  payload: z.unknown().describe('Any JSON document, or nothing (by default at most 6 MB; an Event at most 256 KB)'),
  answers: {
    200: BYTES('application/json', "The function's result (X-Amz-Function-Error: Unhandled when it failed; X-Amz-Executed-Version; X-Fare-Class; X-Fare-Budget warn|degrade)"),
    202: EMPTY,
    204: EMPTY,
    400: LAMBDA_ERROR,
    403: LAMBDA_ERROR,
    404: LAMBDA_ERROR,
    413: LAMBDA_ERROR,
    429: LAMBDA_ERROR,
  },
} as const;

/** InvokeWithResponseStream in the API description: Invoke's request, answered as an event stream (lambda-stream.ts). */
export const STREAM_INVOKE_DOC = {
  path: '/2021-11-15/functions/{FunctionName}/response-streaming-invocations',
  operation: 'InvokeWithResponseStream',
  summary: 'Invokes a function as Invoke does, and answers its response as the function streams it (awslambda.streamifyResponse in Node.js; a custom runtime posting in streaming mode): a PayloadChunk event per part as it comes, then InvokeComplete (ErrorCode and ErrorDetails when the function failed, LogResult with X-Amz-Log-Type: Tail). A function that does not stream is answered in one PayloadChunk. At most 20 MB streamed',
  query: INVOKE_DOC.query,
  headers: { ...INVOKE_DOC.headers, 'X-Amz-Invocation-Type': lambdaEnum('invocationType', ['RequestResponse', 'DryRun']).describe('RequestResponse (default) or DryRun; an Event is queued with Invoke') },
  payload: z.unknown().describe('Any JSON document, or nothing (at most 6 MB)'),
  answers: {
    200: BYTES('application/vnd.amazon.eventstream', 'Events PayloadChunk {Payload} and, last, InvokeComplete {ErrorCode?, ErrorDetails?, LogResult?} (X-Amz-Executed-Version; X-Fare-Class; X-Fare-Budget warn|degrade)'),
    204: EMPTY,
    400: LAMBDA_ERROR,
    403: LAMBDA_ERROR,
    404: LAMBDA_ERROR,
    413: LAMBDA_ERROR,
    429: LAMBDA_ERROR,
  },
} as const;

function lambdaHeader<S extends z.ZodType>(schema: S, v: string): z.output<S> {
  try {
    return parse(schema, v);
  } catch (e) {
    if (e instanceof ValidationError) throw badRequest('FARE_E_INVALID_REQUEST', e.message);
    throw e;
  }
}

export async function handleInvoke(ctx: GatewayContext, req: IncomingMessage, res: ServerResponse, rawName: string, query: URLSearchParams, requestId: string, streaming = false): Promise<void> {
  if (req.method !== 'POST') {
    throw new ApiError({ status: 405, code: 'FARE_E_METHOD_NOT_ALLOWED', message: `Invoke takes POST, not ${req.method ?? '?'}`, lambdaType: 'UnknownOperationException', headers: { Allow: 'POST' } });
  }
  const { principal, body } = await authenticatedBody(
    ctx.auth,
    req,
    ctx.limits.syncPayloadBytes,
    `Request must be smaller than ${ctx.limits.syncPayloadBytes} bytes for the InvokeFunction operation`,
  );

  const type = invocationType(header(req, 'x-amz-invocation-type'));
  if (streaming && type === 'Event') {
    throw badRequest('FARE_E_INVALID_REQUEST', "1 validation error detected: Value 'Event' at 'invocationType' failed to satisfy constraint: InvokeWithResponseStream takes RequestResponse or DryRun; queue an Event with Invoke", 'InvalidParameterValueException');
  }
  const tail = logType(header(req, 'x-amz-log-type'));
  if (type === 'Event' && body.length > ctx.limits.asyncPayloadBytes) {
    throw tooLarge('FARE_E_PAYLOAD_TOO_LARGE', `Request must be smaller than ${ctx.limits.asyncPayloadBytes} bytes for the InvokeAsync operation`);
  }
  const clientContext = checkClientContext(ctx, header(req, 'x-amz-client-context'));

  let name: string;
  try {
    name = decodeURIComponent(rawName);
  } catch {
    throw badRequest('FARE_E_INVALID_REQUEST', `the function name ${JSON.stringify(rawName)} has an invalid percent-encoding`);
  }
  const ref = parseFunctionRef(name);
  if (ref === undefined) {
    throw badRequest('FARE_E_INVALID_REQUEST', `1 validation error detected: Value '${name}' at 'functionName' failed to satisfy constraint: give a function name, name:qualifier, or arn:aws:lambda:REGION:TENANT:function:NAME`);
  }
  const owner = ref.owner ?? principal.tenant;
  noteRequest(req, { tenant: principal.tenant, function: ref.name });
  const qualifier = qualifierOf(query.get('Qualifier') ?? undefined, ref.qualifier);
  const target = invocableTarget(ctx, principal, owner, ref.name, qualifier);
  const fn = target.fn;

  if (body.length > 0) {
    try {
      JSON.parse(body.toString('utf8'));
    } catch (e) {
      throw badRequest('FARE_E_INVALID_PAYLOAD', `Could not parse request body into json: ${(e as Error).message}. Send a JSON document as the payload (or nothing).`, 'InvalidRequestContentException');
    }
  }

  // Class: the function's own, raised by a caller's context (`inheritContext`: a synchronous call
  // into the caller's own tenant), lowered to the cheapest when over budget.
  // Signed with the invocation credentials a function was given, the call is that invocation's.
  const token = header(req, FARE_CONTEXT_HEADER) ?? principal.context;
  // A context of an invocation begun on another gateway of the cluster is asked about there (a
  // Promise), unless authentication has just done so for the credentials that signed the request.
  const found = token === undefined ? undefined : token === principal.context && principal.caller !== undefined ? { ok: true as const, caller: principal.caller } : ctx.contexts.find(token, principal.tenant, ctx.clock());
  const caller = found === undefined ? undefined : callerContext(found instanceof Promise ? await found : found, principal.tenant);
  const ownCls = ownClassIndex(ctx, fn);
  const inherited = inheritContext(caller, { owner, cls: ownCls, deadline: ownDeadline(ctx.clock(), fn.timeoutMs) }, type === 'RequestResponse');
  let cls = inherited.cls;

  if (type === 'DryRun') {
    sendEmpty(res, 204, { 'x-amzn-RequestId': requestId });
    return;
  }

  // The owner pays: spent + reserved + this invocation's estimate must stay within its line.
  const admitted = admitOrThrow(ctx, fn, cls);
  cls = admitted.cls;
  const fareHeaders: Record<string, string> = { 'x-amzn-RequestId': requestId, 'X-Fare-Class': admitted.clsName };
  if (admitted.budget !== undefined) fareHeaders['X-Fare-Budget'] = admitted.budget;
  // Its trace: the caller's (headers, else the calling invocation's), a new span; a new trace otherwise.
  // An Event keeps it in its row, and each attempt continues it in a span of its own.
  const trace = startTrace(traceHeadersOf(req.headers), caller?.trace, ctx.clock());
  traceAnswerHeaders(trace, fareHeaders);
  noteRequest(req, { traceId: trace.traceId });

  // The ARN the caller named (with its version or alias), as the function is told it, sync or Event.
  const invoked = qualifier !== undefined ? { invokedArn: functionArn(ctx.region, owner, ref.name, qualifier) } : {};
  if (type === 'Event') {
    const inv = ctx.store.invocations.enqueue({
      id: requestId,
      tenant: owner,
      function: fn.name,
      version: fn.version,
      caller: principal.tenant,
      cls: admitted.clsName,
      classIndex: cls,
      payload: body,
      ...(clientContext !== undefined ? { clientContext } : {}),
      ...(fn.published !== undefined ? { qualifier: String(fn.published) } : {}),
      ...invoked,
      reservedMicroCents: admitted.reserve,
      trace: formatAmznTraceId(trace),
    });
    try {
      ctx.platform.enqueued(inv);
    } catch {
      // The invocation is durable; the platform will find it when it next claims.
    }
    sendEmpty(res, 202, fareHeaders);
    return;
  }

  const call = { requestId, fn, ownCls, callerTenant: principal.tenant, admitted, deadline: inherited.deadline, payload: body, tail, trace, ...(clientContext !== undefined ? { clientContext } : {}), ...invoked, ...(caller !== undefined ? { caller } : {}) };
  if (streaming) {
    const headers: Record<string, string> = Object.assign({}, fareHeaders);
    headers['X-Amz-Executed-Version'] = target.executedVersion;
    const stream = new ResponseEventStream(res, headers);
    try {
      await runSync(ctx, { ...call, onChunk: (chunk) => stream.chunk(chunk) }, (out, log) => stream.answer(out, log !== undefined ? logTail(log.text, ctx.limits.tailBytes) : undefined));
    } catch (e) {
      // Before the first event an error is answered as any (a status and Lambda's error document);
      // after it, the stream can only end with it.
      if (!stream.begun) throw e;
      stream.complete({ ErrorCode: e instanceof ApiError ? e.lambdaType ?? 'ServiceException' : 'ServiceException', ErrorDetails: (e as Error).message });
    }
    return;
  }
  await runSync(ctx, call, (out, log) => {
    // Assigned, not `{ ...fareHeaders, … }` (a spread followed by more properties is V8's slow path).
    const headers: Record<string, string> = Object.assign({}, fareHeaders);
    headers['X-Amz-Executed-Version'] = target.executedVersion;
    headers['Content-Type'] = 'application/json';
    headers['Content-Length'] = String(out.payload.length);
    if (out.status === 'error') headers['X-Amz-Function-Error'] = out.functionError ?? 'Unhandled';
    if (log !== undefined) headers['X-Amz-Log-Result'] = logTail(log.text, ctx.limits.tailBytes);
    res.writeHead(200, headers);
    res.end(out.payload);
  });
}

/**
 * The running invocation whose context the caller passed, or an error saying why it cannot be used:
 * 400 for a token that is not one of Fare's, 403 for one of another tenant's invocation, 400 for one
 * whose invocation has ended (or passed its deadline), 503 for one whose gateway did not answer in
 * time. Never a silent fallback to the callee's own class: a caller relying on its class must learn
 * that it does not have it.
 */
function callerContext(c: ContextCheck, tenant: string): RunningInvocation {
  if (c.ok) return c.caller;
  switch (c.refusal) {
    case 'malformed':
    case 'forged':
      throw badRequest('FARE_E_INVALID_CONTEXT', `X-Fare-Context is not a context this Fare issued (${c.refusal === 'forged' ? 'its signature does not match' : 'it is not v1.<body>.<signature> as Fare writes it'}): pass on the context your function was given (context.fareContext in Node, context.fare_context in Python) unchanged, or leave the header out`);
    case 'other-tenant':
      throw new ApiError({
        status: 403,
        code: 'FARE_E_CONTEXT_FORBIDDEN',
        message: `X-Fare-Context belongs to an invocation of tenant ${c.tenant ?? '?'}, and tenant ${tenant} is calling: a context may be used only with the credentials of the tenant whose function received it; leave the header out or call with that tenant's credentials`,
        lambdaType: 'AccessDeniedException',
      });
    case 'ended':
    case 'expired':
      throw badRequest('FARE_E_CONTEXT_ENDED', `X-Fare-Context belongs to an invocation that has ${c.refusal === 'ended' ? 'ended' : 'passed its deadline'}: a context is honoured only while its invocation runs; leave the header out to call at the function's own class`);
    case 'unconfirmed':
      throw contextUnconfirmed(`X-Fare-Context belongs to an invocation that began on gateway ${c.gateway ?? '?'} of this cluster, which did not say in time whether it still runs (it is busy, or NATS cannot be reached): retry; a context is honoured only while its invocation runs`);
    default: {
      const never: never = c.refusal;
      throw new Error(`unknown context refusal ${String(never)}`);
    }
  }
}

function invocationType(v: string | undefined): InvocationType {
  // The common case first, without a parse: the warm path is measured in microseconds.
  if (v === undefined || v === '' || v === 'RequestResponse') return 'RequestResponse';
  return lambdaHeader(INVOCATION_TYPE, v);
}

function logType(v: string | undefined): boolean {
  if (v === undefined || v === '' || v === 'None') return false;
  return lambdaHeader(LOG_TYPE, v) === 'Tail';
}

function checkClientContext(ctx: GatewayContext, v: string | undefined): string | undefined {
  if (v === undefined || v === '') return undefined;
  const invalid = (why: string): ApiError => badRequest('FARE_E_INVALID_REQUEST', `X-Amz-Client-Context ${why}: send a base64-encoded JSON object of at most ${ctx.limits.clientContextBytes} bytes`, 'InvalidRequestContentException');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(v) || v.length % 4 !== 0) throw invalid('is not base64');
  const decoded = Buffer.from(v, 'base64');
  if (decoded.length > ctx.limits.clientContextBytes) throw invalid(`is ${decoded.length} bytes decoded`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(decoded.toString('utf8'));
  } catch {
    throw invalid('is not JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw invalid('is not a JSON object');
  return v;
}

/** The qualifier of `?Qualifier=` and of the name (`name:q`): the same if both are given, as Lambda requires. */
function qualifierOf(query: string | undefined, inName: string | undefined): string | undefined {
  if (query !== undefined && inName !== undefined && query !== inName) {
    throw badRequest('FARE_E_INVALID_REQUEST', `The derived qualifier from the function name does not match the specified qualifier: ${inName} in the name, ${query} in ?Qualifier=; give one of them`);
  }
  return query ?? inName;
}

/** Lambda's tail: the last `bytes` of the execution's log (START / output / END / REPORT), base64. */
export function logTail(text: string, bytes: number): string {
  const b = Buffer.from(text, 'utf8');
  return b.subarray(Math.max(0, b.length - bytes)).toString('base64');
}

