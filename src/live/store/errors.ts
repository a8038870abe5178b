// Errors the store raises for expected conditions (a name already taken, a key file with loose
// permissions). Each carries a stable FARE_E_* code and a message that says what to do.

export type StoreErrorCode =
  | 'FARE_E_STORE_TOO_NEW'
  | 'FARE_E_STORE_MIGRATION'
  | 'FARE_E_MASTER_KEY'
  | 'FARE_E_TENANT_EXISTS'
  | 'FARE_E_TENANT_NOT_FOUND'
  | 'FARE_E_FUNCTION_NOT_FOUND'
  | 'FARE_E_FUNCTION_EXISTS'
  | 'FARE_E_CODE_PATH'
  | 'FARE_E_CREDENTIAL'
  | 'FARE_E_BACKUP';

export class StoreError extends Error {
  readonly code: StoreErrorCode;
  constructor(code: StoreErrorCode, message: string) {
    super(message);
    this.name = 'StoreError';
    this.code = code;
  }
}
