// The cluster's control messages besides the scheduling protocol: a gateway tells every worker that a
// function's older versions must not run again (it changed, or was deleted). Best effort, like the
// instances' idle timeout behind it.

/** `version`: instances of versions before it retire; null: all of the function's instances. */
export interface RetireNotice {
  readonly tenant: string;
  readonly name: string;
  readonly version: number | null;
}

export const retireSubject = (prefix: string): string => `${prefix}.control.retire`;
