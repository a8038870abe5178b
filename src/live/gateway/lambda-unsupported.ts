// Lambda API operations Fare does not have, each with why and what to do instead, so that the AWS CLI
// and the SDKs print a reason rather than an empty 404. Any path under a Lambda API version (a date,
// `/2019-09-30/…`) is answered in Lambda's error shape (`X-Amzn-ErrorType`, `{Type, Message}`): the
// only shape those clients can read. Paths follow Lambda's API reference.

import { ApiError } from './errors.ts';

/** A path under one of Lambda's API versions (`/YYYY-MM-DD/…`): its errors are in Lambda's shape. */
export const LAMBDA_VERSION_PATH = /^\/\d{4}-\d{2}-\d{2}\//;

interface Unsupported {
  /** The operations, as the AWS CLI and SDKs name them. */
  readonly operations: string;
  readonly path: RegExp;
  /** Why Fare has no such thing, and what to do instead. */
  readonly why: string;
}

const FN = '[^/]+';

const TABLE: readonly Unsupported[] = [
  {
    operations: 'PutProvisionedConcurrencyConfig, GetProvisionedConcurrencyConfig, ListProvisionedConcurrencyConfigs, DeleteProvisionedConcurrencyConfig',
    path: new RegExp(`^/2019-09-30/functions/${FN}/provisioned-concurrency/?$`),
    why: 'Fare has no provisioned concurrency: it keeps idle instances frozen for reuse and runtimes started ahead of need (stem cells), so a cold start takes milliseconds and nothing needs provisioning',
  },
  {
    operations: 'CreateEventSourceMapping, GetEventSourceMapping, ListEventSourceMappings, UpdateEventSourceMapping, DeleteEventSourceMapping',
    path: /^\/2015-03-31\/event-source-mappings(\/[^/]*)?\/?$/,
    why: 'Fare reads no event sources (queues, streams): have the producer invoke the function, with InvocationType Event for work to be done later (accepted Events are kept until they have run)',
  },
  {
    operations: 'the layer operations (PublishLayerVersion, ListLayers, GetLayerVersion, …)',
    path: /^\/2018-10-31\/layers(\/.*)?$/,
    why: 'Fare has no layers: put the dependencies in the function\'s zip (fare deploy DIR zips the whole folder)',
  },
  {
    operations: 'the code signing operations',
    path: new RegExp(`^/2020-(04-22/code-signing-configs(/.*)?|06-30/functions/${FN}/code-signing-config/?)$`),
    why: 'Fare does not sign or verify code: a function runs the zip its tenant uploaded, whose SHA-256 every FunctionConfiguration reports (CodeSha256)',
  },
  {
    operations: 'PutRuntimeManagementConfig, GetRuntimeManagementConfig',
    path: new RegExp(`^/2021-07-20/functions/${FN}/runtime-management-config/?$`),
    why: 'Fare runs the machine\'s own Node.js and Python (fare up prints which), not managed runtime versions',
  },
  {
    operations: 'PutFunctionRecursionConfig, GetFunctionRecursionConfig',
    path: new RegExp(`^/2024-08-31/functions/${FN}/recursion-config/?$`),
    why: 'Fare does not detect recursive loops: each call runs within its own timeout and is billed to its tenant, whose monthly budget bounds what a loop can spend',
  },
  {
    operations: 'InvokeAsync',
    path: new RegExp(`^/2014-11-13/functions/${FN}/invoke-async/?$`),
    why: 'InvokeAsync is deprecated in Lambda and not offered by Fare: use Invoke with InvocationType Event (aws lambda invoke --invocation-type Event)',
  },
];

/**
 * The error for a request under a Lambda API version that no route of Fare's answers: names the
 * operation and why Fare has none (for the ones in the table), else says the path is unknown.
 */
export function unsupportedLambdaOperation(method: string, path: string): ApiError {
  const known = TABLE.find((u) => u.path.test(path));
  const message = known !== undefined
    ? `Fare does not implement ${known.operations} (${method} ${path}): ${known.why}`
    : `Fare does not implement ${method} ${path} of the Lambda API: see src/live/gateway/README.md for the operations it has`;
  return new ApiError({ status: 404, code: 'FARE_E_ROUTE_NOT_FOUND', message, lambdaType: 'UnknownOperationException' });
}
