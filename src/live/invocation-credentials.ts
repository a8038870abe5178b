// AWS-style credentials of one invocation, derived from its Fare context token (`v1.<body>.<sig>`,
// gateway/fare-context.ts), so that the AWS SDK inside a function calls Fare with no set-up: the
// instance's Runtime API hands them to the SDK as container credentials, and a gateway recognises
// them, recomputes the secret from the session token with its own key, and treats the call as made
// from that invocation (its tenant; its class inherited as with `X-Fare-Context`). They are worth
// exactly what the token is worth: valid only while the invocation runs, only for its tenant.
//
// - access key id: `FARECTX` + 25 hex digits of SHA-256(body), upper case;
// - secret: base64url HMAC-SHA256(key = the token's signature, "fare invocation credential v1");
// - session token: `v1.<body>` (the claims without their signature, which only the secret carries).

import { createHash, createHmac } from 'node:crypto';

export const INVOCATION_KEY_PREFIX = 'FARECTX';

export interface InvocationCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken: string;
}

const TOKEN = /^v1\.([A-Za-z0-9_-]{1,2048})\.([A-Za-z0-9_-]{43})$/;
const SESSION = /^v1\.([A-Za-z0-9_-]{1,2048})$/;

export const invocationKeyId = (body: string): string => `${INVOCATION_KEY_PREFIX}${createHash('sha256').update(body).digest('hex').slice(0, 25).toUpperCase()}`;

export const invocationSecret = (sig: string): string => createHmac('sha256', Buffer.from(sig, 'base64url')).update('fare invocation credential v1').digest('base64url');

/**
 * What an instance hands out outside any invocation (while its code starts, when SDK clients made at
 * start-up ask): a well-formed credential that every gateway refuses, saying why. SDKs ask again at
 * their next call (the credentials expire within a minute), inside an invocation.
 */
export const NO_INVOCATION_SESSION = 'v1.none';
export const NO_INVOCATION: InvocationCredentials = { accessKeyId: invocationKeyId('none'), secretAccessKey: 'none', sessionToken: NO_INVOCATION_SESSION };

/** The credentials of a context token; undefined for anything that is not one. */
export function invocationCredentials(token: string): InvocationCredentials | undefined {
  const m = TOKEN.exec(token);
  if (m === null) return undefined;
  const [, body = '', sig = ''] = m;
  return { accessKeyId: invocationKeyId(body), secretAccessKey: invocationSecret(sig), sessionToken: `v1.${body}` };
}

/** The claims' body of a session token, if it has the shape of one. */
export function sessionBody(sessionToken: string): string | undefined {
  return SESSION.exec(sessionToken)?.[1];
}
