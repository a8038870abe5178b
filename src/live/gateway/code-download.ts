// The code locations GetFunction hands out: `GET /code/<ticket>.<signature>` answers the function
// version's code as a zip, without credentials (as Lambda's presigned S3 URLs), while the ticket is
// signed by this data directory's key and has not expired (10 minutes).

import type { ServerResponse } from 'node:http';
import { ApiError } from './errors.ts';
import { openCodeTicket } from './lambda-shapes.ts';
import { zipDirectory } from './zip-writer.ts';
import type { GatewayContext } from './context.ts';

export function serveCode(ctx: GatewayContext, res: ServerResponse, path: string): void {
  const t = openCodeTicket(ctx.store.deriveKey('code-location'), path, ctx.clock());
  if (t === 'invalid' || t === 'expired') {
    throw new ApiError({
      status: 403,
      code: 'FARE_E_CODE_LOCATION',
      message: t === 'expired' ? 'this code location has expired (they last 10 minutes): call GetFunction again for a new one' : 'this is not a code location Fare gave: call GetFunction for one',
      lambdaType: 'AccessDeniedException',
    });
  }
  const fn = ctx.store.functions.get(t.t, t.n);
  const version = fn?.version === t.v ? fn : ctx.store.versions.versions(t.t, t.n).find((v) => v.version === t.v);
  if (version === undefined) {
    throw new ApiError({ status: 404, code: 'FARE_E_FUNCTION_NOT_FOUND', message: `the code of ${t.n} at this location was replaced or deleted since the location was given: call GetFunction again`, lambdaType: 'ResourceNotFoundException' });
  }
  const zip = zipDirectory(version.codeDir);
  res.writeHead(200, { 'Content-Type': 'application/zip', 'Content-Length': String(zip.length), 'Content-Disposition': `attachment; filename="${t.n}.zip"` });
  res.end(zip);
}
