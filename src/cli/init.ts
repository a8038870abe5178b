// `fare init [--runtime nodejs|python|provided] DIR`: a function ready to deploy (`fare deploy DIR`
// takes its name, runtime and handler from the folder), with a test that runs with the language's own
// test runner and a README saying both.

import { chmodSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { parse, UsageError } from './args.ts';
import { FUNCTION_NAME } from './function-dir.ts';

const HELP = `fare init [--runtime nodejs|python|provided] DIR
            a new function in DIR (made if missing; refused if it holds anything): its handler, a
            test (node --test, or python3 -m unittest), and a README. Default runtime: nodejs.
            Deploy it with fare deploy DIR (the folder's name is the function's).`;

interface Template {
  readonly files: Readonly<Record<string, string>>;
  /** Files to make executable. */
  readonly executable: readonly string[];
  readonly handler: string;
  readonly test: string;
}

const NODE: Template = {
  handler: 'index.handler (index.mjs)',
  test: 'node --test',
  executable: [],
  files: {
    'index.mjs': `// A Fare function: Lambda's Node.js handler, (event, context) => answer.
// context.fareContext passed back in the X-Fare-Context header lets a call it makes to Fare run at its class.
export const handler = async (event) => {
  const name = typeof event?.name === 'string' ? event.name : 'world';
  return { greeting: \`Hello, \${name}!\` };
};
`,
    'index.test.mjs': `// Run with: node --test
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { handler } from './index.mjs';

test('greets by name', async () => {
  assert.deepEqual(await handler({ name: 'Ada' }, {}), { greeting: 'Hello, Ada!' });
});

test('greets the world when no name is given', async () => {
  assert.deepEqual(await handler({}, {}), { greeting: 'Hello, world!' });
});
`,
  },
};

const PYTHON: Template = {
  handler: 'app.handler (app.py)',
  test: 'python3 -m unittest',
  executable: [],
  files: {
    'app.py': `"""A Fare function: Lambda's Python handler, handler(event, context) -> answer."""


def handler(event, context):
    name = event.get("name") if isinstance(event, dict) else None
    return {"greeting": f"Hello, {name if isinstance(name, str) else 'world'}!"}
`,
    'test_app.py': `"""Run with: python3 -m unittest"""
import unittest

from app import handler


class HandlerTest(unittest.TestCase):
    def test_greets_by_name(self):
        self.assertEqual(handler({"name": "Ada"}, None), {"greeting": "Hello, Ada!"})

    def test_greets_the_world_when_no_name_is_given(self):
        self.assertEqual(handler({}, None), {"greeting": "Hello, world!"})


if __name__ == "__main__":
    unittest.main()
`,
  },
};

const PROVIDED: Template = {
  handler: 'bootstrap (a custom runtime: shell and curl, calling ./handler for each event)',
  test: 'node --test',
  executable: ['bootstrap', 'handler'],
  files: {
    bootstrap: `#!/bin/sh
# A custom runtime, as for AWS Lambda: it asks the Lambda Runtime API for the next event, runs
# ./handler with the event on its standard input, and posts what it printed as the answer (or, if it
# failed, an error). Needs curl.
set -eu
cd "$(dirname "$0")"
API="http://\${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime/invocation"
while true; do
  HEADERS="$(mktemp)"
  EVENT="$(curl -sS -D "$HEADERS" "$API/next")"
  ID="$(grep -Fi Lambda-Runtime-Aws-Request-Id "$HEADERS" | tr -d '[:space:]' | cut -d: -f2)"
  rm -f "$HEADERS"
  if ANSWER="$(printf '%s' "$EVENT" | ./handler)"; then
    curl -sS -o /dev/null "$API/$ID/response" -d "$ANSWER"
  else
    curl -sS -o /dev/null "$API/$ID/error" -d '{"errorMessage":"./handler failed","errorType":"HandlerError"}'
  fi
done
`,
    handler: `#!/bin/sh
# The function: reads the event (JSON) on standard input, prints the answer (JSON).
EVENT="$(cat)"
printf '{"received":%s}\\n' "\${EVENT:-null}"
`,
    'handler.test.mjs': `// Run with: node --test
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';

const handler = (event) => JSON.parse(execFileSync('./handler', { cwd: new URL('.', import.meta.url), input: event }).toString());

test('answers with the event it received', () => {
  assert.deepEqual(handler('{"name":"Ada"}'), { received: { name: 'Ada' } });
});
`,
  },
};

const TEMPLATES: Readonly<Record<string, Template>> = { nodejs: NODE, python: PYTHON, provided: PROVIDED };

function readme(name: string, runtime: string, t: Template): string {
  return `# ${name}

A Fare function (runtime ${runtime}, handler ${t.handler}).

Test it: \`${t.test}\` in this folder.

Deploy it (the folder's name is the function's name; \`fare deploy --help\` for the class, timeout, environment):

    fare deploy .

Call it:

    fare invoke ${name} --payload '{"name":"Ada"}'
    fare logs ${name}
`;
}

export function runInit(args: readonly string[]): number {
  const { values, positionals } = parse(args, { runtime: { type: 'string', default: 'nodejs' }, help: { type: 'boolean', short: 'h', default: false } });
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  const [dir, ...extra] = positionals;
  if (dir === undefined) throw new UsageError('fare init needs the folder to create the function in: fare init [--runtime nodejs|python|provided] DIR');
  if (extra.length) throw new UsageError(`fare init takes one folder, got "${positionals.join(' ')}"`);
  const runtime = values.runtime as string;
  const t = Object.hasOwn(TEMPLATES, runtime) ? TEMPLATES[runtime] : undefined;
  if (t === undefined) throw new UsageError(`--runtime ${runtime} is not known: use nodejs, python or provided`);
  const name = basename(resolve(dir));
  if (!FUNCTION_NAME.test(name)) throw new UsageError(`the folder name "${name}" is not a function name (1–64 letters, digits, "-" or "_", not starting with "-"): pick a folder named like the function`);
  const s = statSync(dir, { throwIfNoEntry: false });
  if (s !== undefined && !s.isDirectory()) throw new UsageError(`${dir} is a file: give a new or empty folder`);
  if (s !== undefined && readdirSync(dir).length > 0) throw new UsageError(`${dir} is not empty: fare init writes only into a new or empty folder, so it never overwrites your files`);
  mkdirSync(dir, { recursive: true });
  const files = { ...t.files, 'README.md': readme(name, runtime, t) };
  for (const [f, text] of Object.entries(files)) writeFileSync(join(dir, f), text, { flag: 'wx' });
  for (const f of t.executable) chmodSync(join(dir, f), 0o755);
  process.stdout.write(`created ${name} in ${dir} (${runtime}): ${Object.keys(files).join(', ')}
  test it:   cd ${dir} && ${t.test}
  deploy it: fare deploy ${dir}
`);
  return 0;
}
