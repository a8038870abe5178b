// `fare backup OUT [--data-dir ./.fare]`: a consistent copy of `fare up`'s data directory, taken while
// it runs (store/backup.ts). The copy is a data directory: `fare up --data-dir OUT` starts from it.

import { resolve } from 'node:path';
import { backupDataDir } from '../live/store/backup.ts';
import { parse, UsageError } from './args.ts';

const HELP = `fare backup OUT [--data-dir ./.fare] [--json]
            a copy of fare up's data directory, taken while it runs: the database as of one moment
            (tenants, credentials, functions and their versions, accepted async invocations, bills,
            logs), the master key, and the code and uploaded zips it names. OUT must be new (or an
            empty folder) and outside the data directory; it is private to this user, and holds the
            master key: keep it as safe as the data directory. To restore: stop fare up, and start it
            with --data-dir OUT (or put OUT in the data directory's place). A cluster's state is in
            JetStream: back up its streams and buckets with NATS's own tools instead.`;

const n = (x: number): string => x.toLocaleString('en-US');

export function runBackup(args: readonly string[]): number {
  const { values, positionals } = parse(args, { 'data-dir': { type: 'string', default: './.fare' }, json: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h', default: false } });
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  const [out, ...extra] = positionals;
  if (out === undefined) throw new UsageError('fare backup needs where to write the backup: fare backup OUT [--data-dir DIR]');
  if (extra.length > 0) throw new UsageError(`fare backup takes one place to write to, got "${positionals.join(' ')}"`);
  const s = backupDataDir(resolve(values['data-dir'] as string), resolve(out));
  if (values.json) {
    process.stdout.write(`${JSON.stringify(s)}\n`);
    return 0;
  }
  process.stdout.write([
    `backed up ${resolve(values['data-dir'] as string)} to ${s.out} (${(s.bytes / 1e6).toFixed(1)} MB, schema version ${s.schemaVersion}):`,
    `  ${n(s.tenants)} tenant(s), ${n(s.functions)} function(s) with ${n(s.versions)} published version(s), ${n(s.codeTrees)} code tree(s), ${n(s.zips)} upload(s)`,
    `  ${n(s.pendingInvocations)} async invocation(s) accepted and not finished, ${n(s.billingRecords)} billing record(s), ${n(s.logEntries)} log entr${s.logEntries === 1 ? 'y' : 'ies'}`,
    `  restore: stop fare up, then fare up --data-dir ${s.out}`,
    '',
  ].join('\n'));
  return 0;
}
