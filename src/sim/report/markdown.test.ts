import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { bulletList, heading, image, markdownDocument, markdownTable, writeMarkdown } from './markdown.ts';
import { tempDir } from '../../../test/support/temp-dir.ts';

describe('markdownTable', () => {
  it('right-aligns numeric columns, left-aligns text, and pads cells', () => {
    const table = markdownTable(['policy', 'p99 (ms)'], [
      { policy: 'Fare', 'p99 (ms)': 120.456 },
      { policy: 'Hermod', 'p99 (ms)': 98765 },
    ]);
    expect(table).toBe(
      ['| policy | p99 (ms) |', '| ------ | -------: |', '| Fare   |    120.5 |', '| Hermod |    98765 |'].join('\n'),
    );
  });

  it('escapes pipes, turns newlines into <br>, and leaves missing cells empty', () => {
    const table = markdownTable(['a', 'b'], [{ a: 'x|y\nz' }]);
    expect(table).toContain('x\\|y<br>z');
    expect(table.split('\n')[2]).toMatch(/\|\s+\|$/);
  });

  it('uses header names and alignment overrides', () => {
    const table = markdownTable(['k'], [{ k: 'v' }], { headers: { k: 'Key' }, align: { k: 'center' } });
    expect(table.split('\n').slice(0, 2)).toEqual(['| Key |', '| :-: |']);
  });
});

describe('document helpers', () => {
  it('joins blocks with blank lines and one final newline', () => {
    const doc = markdownDocument([heading(2, 'Figure 4'), image('latency', 'fig 4.png'), '', bulletList(['a', 'b'])]);
    expect(doc).toBe('## Figure 4\n\n![latency](fig%204.png)\n\n- a\n- b\n');
  });

  it('writes the document to a file', () => {
    const path = join(tempDir('fare-md-'), 'summary.md');
    writeMarkdown(path, [heading(1, 'Run')]);
    expect(readFileSync(path, 'utf8')).toBe('# Run\n');
  });
});
