// Whether dist/ (the compiled `fare`) was built from the sources now in src/. `bin/build.js` records,
// in dist/.build.json, the modification time and size of every file it compiled or copied (src/**/*.ts
// but the tests, the dashboard's page files, the launcher's script, and the tsconfig files); `bin/fare.js` compares them with the files now, so a checkout whose
// sources changed since the build never runs old code. It stats only the recorded files: a new file
// changes nothing until a recorded one imports it, and that edit is seen.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

/** The stamp inside the build folder. */
export const STAMP = '.build.json';

/** What `tsconfig.build.json` compiles (src/, tests excluded), the files bin/build.js copies, and the configs that say how. */
export function buildInputs(root) {
  const files = ['tsconfig.json', 'tsconfig.build.json'];
  const walk = (dir) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if ((e.name.endsWith('.ts') && !e.name.endsWith('.test.ts')) || /^page\.(html|css|js)$/.test(e.name) || e.name === 'launcher-process.mjs') files.push(relative(root, p));
    }
  };
  walk(join(root, 'src'));
  return files.sort();
}

/** Each input's [mtime in ms, size in bytes], read now. */
export function fingerprint(root, files) {
  const out = {};
  for (const f of files) {
    const s = statSync(join(root, f), { throwIfNoEntry: false });
    out[f] = s === undefined ? null : [s.mtimeMs, s.size];
  }
  return out;
}

/** null when dist/ holds a build of the sources as they are; else why not, in a few words. */
export function staleness(root) {
  let stamp;
  try {
    stamp = JSON.parse(readFileSync(`${root}/dist/${STAMP}`, 'utf8'));
  } catch {
    return 'dist/ has not been built';
  }
  // `${root}/${f}`, not path.join: 180 joins cost 4 ms here, cold, more than the stats.
  for (const [f, was] of Object.entries(stamp.files ?? {})) {
    const s = statSync(`${root}/${f}`, { throwIfNoEntry: false });
    if (s === undefined) return `${f} is gone since the build`;
    if (was === null || s.mtimeMs !== was[0] || s.size !== was[1]) return `${f} changed since the build`;
  }
  return null;
}
