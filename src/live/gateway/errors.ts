// Errors at the HTTP edge. Each carries a stable Fare code (`FARE_E_…`) for the REST API and the
// exception name Lambda would send (`X-Amzn-ErrorType`) for the Invoke API, so one throw renders
// correctly on either surface.

export type FareErrorCode =
  | 'FARE_E_AUTH_MISSING'
  | 'FARE_E_AUTH_INVALID'
  | 'FARE_E_AUTH_EXPIRED'
  | 'FARE_E_FORBIDDEN'
  | 'FARE_E_ROUTE_NOT_FOUND'
  | 'FARE_E_METHOD_NOT_ALLOWED'
  | 'FARE_E_FUNCTION_NOT_FOUND'
  | 'FARE_E_FUNCTION_EXISTS'
  | 'FARE_E_REVISION_MISMATCH'
  | 'FARE_E_UNSUPPORTED'
  | 'FARE_E_CODE_LOCATION'
  | 'FARE_E_TENANT_NOT_FOUND'
  | 'FARE_E_INVOCATION_NOT_FOUND'
  | 'FARE_E_RECEIPT_NOT_FOUND'
  | 'FARE_E_RECORD_PENDING'
  | 'FARE_E_CREDENTIAL_NOT_FOUND'
  | 'FARE_E_GRANT_NOT_FOUND'
  | 'FARE_E_GRANT_EXISTS'
  | 'FARE_E_SCHEDULE_NOT_FOUND'
  | 'FARE_E_SCHEDULE_EXISTS'
  | 'FARE_E_SCHEDULE_QUOTA'
  | 'FARE_E_INVALID_REQUEST'
  | 'FARE_E_BAD_HTTP'
  | 'FARE_E_HEADERS_TOO_LARGE'
  | 'FARE_E_REQUEST_TIMEOUT'
  | 'FARE_E_INVALID_JSON'
  | 'FARE_E_INVALID_PAYLOAD'
  | 'FARE_E_INVALID_CONTEXT'
  | 'FARE_E_CONTEXT_FORBIDDEN'
  | 'FARE_E_CONTEXT_ENDED'
  | 'FARE_E_CONTEXT_UNCONFIRMED'
  | 'FARE_E_UNKNOWN_CLASS'
  | 'FARE_E_BAD_ZIP'
  | 'FARE_E_ZIP_UNSAFE_PATH'
  | 'FARE_E_ZIP_TOO_LARGE'
  | 'FARE_E_PAYLOAD_TOO_LARGE'
  | 'FARE_E_UNSUPPORTED_MEDIA_TYPE'
  | 'FARE_E_TENANT_EXISTS'
  | 'FARE_E_SINGLE_TENANT'
  | 'FARE_E_THROTTLED'
  | 'FARE_E_OVER_BUDGET'
  | 'FARE_E_AUTH_RATE_LIMITED'
  | 'FARE_E_CONCURRENCY_LIMIT'
  | 'FARE_E_SHUTTING_DOWN'
  | 'FARE_E_INTERNAL';

/** Exception names of the Lambda API, as SDKs expect them in `X-Amzn-ErrorType`. */
export type LambdaErrorType =
  | 'MissingAuthenticationTokenException'
  | 'IncompleteSignatureException'
  | 'InvalidSignatureException'
  | 'UnrecognizedClientException'
  | 'AccessDeniedException'
  | 'ResourceNotFoundException'
  | 'InvalidParameterValueException'
  | 'InvalidRequestContentException'
  | 'RequestTooLargeException'
  | 'TooManyRequestsException'
  | 'UnsupportedMediaTypeException'
  | 'UnknownOperationException'
  | 'ResourceConflictException'
  | 'PreconditionFailedException'
  | 'ServiceException'
  // EventBridge Scheduler's (schedules-api.ts).
  | 'ValidationException'
  | 'ConflictException'
  | 'ServiceQuotaExceededException';

export interface ApiErrorInit {
  readonly status: number;
  readonly code: FareErrorCode;
  readonly message: string;
  readonly lambdaType: LambdaErrorType;
  /** Status on the Lambda surface, when it differs (AWS answers every auth failure with 403). */
  readonly lambdaStatus?: number;
  readonly headers?: Readonly<Record<string, string>>;
  /** Extra members of the Lambda error body (e.g. `Reason`). */
  readonly lambdaBody?: Readonly<Record<string, unknown>>;
}

export class ApiError extends Error {
  readonly status: number;
  readonly code: FareErrorCode;
  readonly lambdaType: LambdaErrorType;
  readonly lambdaStatus: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly lambdaBody: Readonly<Record<string, unknown>>;

  constructor(init: ApiErrorInit) {
    super(init.message);
    this.name = 'ApiError';
    this.status = init.status;
    this.code = init.code;
    this.lambdaType = init.lambdaType;
    this.lambdaStatus = init.lambdaStatus ?? init.status;
    this.headers = init.headers ?? {};
    this.lambdaBody = init.lambdaBody ?? {};
  }
}

export const badRequest = (code: FareErrorCode, message: string, lambdaType: LambdaErrorType = 'InvalidParameterValueException'): ApiError =>
  new ApiError({ status: 400, code, message, lambdaType });

export const notFound = (code: FareErrorCode, message: string): ApiError => new ApiError({ status: 404, code, message, lambdaType: 'ResourceNotFoundException' });

export const forbidden = (message: string): ApiError => new ApiError({ status: 403, code: 'FARE_E_FORBIDDEN', message, lambdaType: 'AccessDeniedException' });

export const tooLarge = (code: FareErrorCode, message: string): ApiError => new ApiError({ status: 413, code, message, lambdaType: 'RequestTooLargeException' });

export const internal = (message: string): ApiError => new ApiError({ status: 500, code: 'FARE_E_INTERNAL', message, lambdaType: 'ServiceException' });

/**
 * A context (or invocation credential) whose invocation began on another gateway of the cluster,
 * which did not say in time whether it still runs: not a refusal of the context, so 503 (the SDKs
 * retry it) rather than the 400 or 403 of one that is bad or has ended.
 */
export const contextUnconfirmed = (message: string): ApiError =>
  new ApiError({ status: 503, code: 'FARE_E_CONTEXT_UNCONFIRMED', message, lambdaType: 'ServiceException', headers: { 'Retry-After': '1' } });

/**
 * An invocation answered whose record (receipt, log entry) is still to come after the wait allowed
 * (settling.ts): 503 with Retry-After, not 404, as it will be there.
 */
export const recordPending = (message: string): ApiError =>
  new ApiError({ status: 503, code: 'FARE_E_RECORD_PENDING', message, lambdaType: 'ServiceException', headers: { 'Retry-After': '1' } });

/**
 * A request that came on an open connection while this gateway stops (it finishes the calls it has,
 * takes no new ones): 503 with Retry-After and `Connection: close`, so a client or load balancer
 * sends it again elsewhere (the SDKs retry a 503).
 */
export const shuttingDown = (): ApiError =>
  new ApiError({ status: 503, code: 'FARE_E_SHUTTING_DOWN', message: 'this Fare gateway is stopping: it finishes the calls it has and takes no new ones; send the request again (to another gateway, or once Fare has restarted)', lambdaType: 'ServiceException', headers: { 'Retry-After': '1', Connection: 'close' } });

export function throttled(code: 'FARE_E_THROTTLED' | 'FARE_E_OVER_BUDGET' | 'FARE_E_AUTH_RATE_LIMITED' | 'FARE_E_CONCURRENCY_LIMIT', message: string, retryAfterS: number, reason: string): ApiError {
  const s = Math.max(1, Math.ceil(retryAfterS));
  return new ApiError({
    status: 429,
    code,
    message,
    lambdaType: 'TooManyRequestsException',
    headers: { 'Retry-After': String(s) },
    lambdaBody: { Reason: reason },
  });
}

export type AuthFailure = 'missing' | 'malformed' | 'unknown-key' | 'mismatch' | 'expired';

/** Authentication failures: 401 on the REST API, 403 with AWS's exception names on the Lambda API. */
export function authError(kind: AuthFailure, message: string): ApiError {
  switch (kind) {
    case 'missing':
      return new ApiError({ status: 401, lambdaStatus: 403, code: 'FARE_E_AUTH_MISSING', message, lambdaType: 'MissingAuthenticationTokenException' });
    case 'malformed':
      return new ApiError({ status: 401, lambdaStatus: 403, code: 'FARE_E_AUTH_INVALID', message, lambdaType: 'IncompleteSignatureException' });
    case 'unknown-key':
      return new ApiError({ status: 401, lambdaStatus: 403, code: 'FARE_E_AUTH_INVALID', message, lambdaType: 'UnrecognizedClientException' });
    case 'mismatch':
      return new ApiError({ status: 401, lambdaStatus: 403, code: 'FARE_E_AUTH_INVALID', message, lambdaType: 'InvalidSignatureException' });
    case 'expired':
      return new ApiError({ status: 401, lambdaStatus: 403, code: 'FARE_E_AUTH_EXPIRED', message, lambdaType: 'InvalidSignatureException' });
    default: {
      const never: never = kind;
      throw new Error(`unknown auth failure ${String(never)}`);
    }
  }
}
