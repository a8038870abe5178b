// The store's public surface.

export { openStore, Store, DB_FILE, type StoreOptions } from './store.ts';
export { StoreError, type StoreErrorCode } from './errors.ts';
export { MIGRATIONS, migrate, schemaVersion, type Migration } from './migrations.ts';
export { installMasterKey, MASTER_KEY_FILE } from './master-key.ts';
export { ACCESS_KEY_PREFIX } from './secrets.ts';
export { budgetState, monthBounds, BUDGET_WARN_AT, type BudgetState } from './budget.ts';
export { Reservations } from './reservations.ts';
export { Retention, DEFAULT_RETENTION_MS, MIN_RETENTION_MS, type RetentionOptions, type RetentionStats } from './retention.ts';
export { WAL_LIMIT_BYTES, type CheckpointStats } from './checkpointer.ts';
export { CostHistory } from './cost-history.ts';
export { linkProblem, MAX_LINK_TARGET, stageCode, stageZip, safeJoin, type CodeFile } from './code.ts';
export { monthOf } from './sql.ts';
export type { Tenant, NewTenant, TenantPatch, Credential, IssuedCredential, Grant, OverBudgetAction, Clock } from './tenants.ts';
export { DEFAULT_MEMORY_MB, MAX_RESERVED_CONCURRENCY, type FunctionRecord, type FunctionConfig, type FunctionPatch, type LambdaSettings, type StagedCode } from './functions.ts';
export { LATEST, isVersionNumber, type Alias, type AliasRouting, type Resolved } from './versions.ts';
export type { FunctionUrl, UrlAuthType, UrlCors, UrlInvokeMode } from './urls.ts';
export type { Schedule, ScheduleSettings, ScheduleState } from './schedules.ts';
export { DEFAULT_MAX_EVENT_AGE_S, DEFAULT_MAX_RETRY_ATTEMPTS, type EventConfig, type EventConfigSettings } from './event-configs.ts';
export type { Invocation, InvocationStatus, NewInvocation, Finish } from './invocations.ts';
export { billingRecordOf } from './billing.ts';
export type { BillingInput, BillingRecord, BillingRow, Usage, FunctionUsage, ClassUsage, TenantUsage, MonthUsage } from './billing.ts';
export { LogRepo, DEFAULT_LOG_RETENTION, type LogEntry, type LogQuery, type LogRetention, type BilledExecution } from './logs.ts';
export { executionLog, keepEnds, lastBytes, LOG_TEXT_MAX_BYTES, type ExecutionLog, type ExecutionRef } from './log-text.ts';
