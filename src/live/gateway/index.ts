// The gateway's public surface.

export { createGateway, type Gateway, type GatewayOptions } from './server.ts';
export { concurrencyCapOf, isThrottled, RESERVED_CONCURRENCY_REASON, schedulerPlatform, type Platform, type PlatformResult, type PlatformThrottled, type SchedulerPlatformOptions } from './platform.ts';
export { AsyncRunner, type AsyncRunnerOptions } from './async-runner.ts';
export { DEFAULT_LIMITS, type GatewayLimits } from './context.ts';
export { FareContexts, FARE_CONTEXT_HEADER } from './fare-context.ts';
export { verifySigV4, type SigV4Request, type SigV4Result } from './sigv4.ts';
export { readZip, ZipError, type ZipEntry, type ZipLimits } from './zip.ts';
export type { FareErrorCode, LambdaErrorType } from './errors.ts';
