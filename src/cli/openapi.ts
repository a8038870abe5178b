// `fare openapi`: prints the gateway's API description (OpenAPI 3.1), built from the route tables'
// schemas — the document `GET /openapi.json` serves and docs/openapi.json keeps.

import { openApiDocument } from '../live/gateway/openapi.ts';
import { API_TABLES } from '../live/gateway/server.ts';

/** The description as docs/openapi.json keeps it: indented, with a final newline. */
export const openApiText = (): string => `${JSON.stringify(openApiDocument(API_TABLES), null, 2)}\n`;

export function printOpenApi(args: readonly string[]): number {
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write('Usage: fare openapi > openapi.json\n\nPrints the description (OpenAPI 3.1) of the gateway\'s HTTP APIs: Fare\'s REST API under /v1/ and the parts of Lambda\'s API Fare implements.\nA running gateway serves the same at GET /openapi.json.\n');
    return 0;
  }
  if (args.length > 0) {
    process.stderr.write(`fare openapi: unexpected argument "${args[0] ?? ''}": it takes none; redirect its output to a file (FARE_E_USAGE)\n`);
    return 2;
  }
  process.stdout.write(openApiText());
  return 0;
}
