// The code locations GetFunction hands out: `GET /code/<ticket>.<signature>` answers the function
// version's code as a zip, without credentials (as Lambda's presigned S3 URLs), while the ticket is
// signed by this data directory's key and has not expired (10 minutes). The zip is the upload itself,
// kept by the store (`zips/<sha256>.zip`), so its SHA-256 is the version's CodeSha256; code that has
// no kept upload (deployed before Fare kept them, or not from a zip: the examples) is answered as a
// zip rebuilt from its files, whose hash differs.

import { closeSync, createReadStream, fstatSync, openSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { ApiError } from './errors.ts';
import { openCodeTicket } from './lambda-shapes.ts';
import { zipDirectory } from './zip-writer.ts';
import type { GatewayContext } from './context.ts';

export async function serveCode(ctx: GatewayContext, res: ServerResponse, path: string): Promise<void> {
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
  const headers = { 'Content-Type': 'application/zip', 'Content-Disposition': `attachment; filename="${t.n}.zip"` };
  // Opened in the same turn as the lookup: the store deletes a zip only in a synchronous call, so it
  // cannot go between the two; once open, it is read whole even if it is deleted meanwhile.
  const fd = openKept(ctx.store.functions.zipFile(version.codeSha256));
  if (fd !== undefined) {
    let size: number;
    try {
      size = fstatSync(fd).size;
    } catch (e) {
      closeSync(fd);
      throw e;
    }
    const stream = createReadStream('', { fd });
    res.writeHead(200, { ...headers, 'Content-Length': String(size) });
    try {
      await pipeline(stream, res);
    } catch {
      // The client went away, or the disk failed mid-way: the answer is cut short, as its length says.
      res.destroy();
    }
    return;
  }
  const zip = zipDirectory(version.codeDir);
  res.writeHead(200, { ...headers, 'Content-Length': String(zip.length) });
  res.end(zip);
}

/** An open descriptor of the kept upload, or undefined if there is none. */
function openKept(file: string | undefined): number | undefined {
  if (file === undefined) return undefined;
  try {
    return openSync(file, 'r');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}
