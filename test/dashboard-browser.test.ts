// End-to-end: the live dashboard in headless Chromium (the Debian package's `chromium`, driven by
// playwright-core). `fare up` runs as a real process; the test deploys a function in two classes, sends
// a scripted load, and checks that the page shows those counts, that a tenant's key shows only its own
// spend and invocations, that the page updates from the stream without a reload, and that the key field
// and the stream toggle are reached by Tab. A screenshot goes to test-artifacts/dashboard.png. Skipped,
// saying why, where there is no /usr/bin/chromium.

import { afterAll, describe, expect, it } from 'vitest';
import { accessSync, constants, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { zipDirectory } from '../src/live/gateway/zip-writer.ts';
import { ADMIN_KEY, api, startFare, stopFare, type FareProcess } from '../support/fare-process.ts';

const CHROMIUM = '/usr/bin/chromium';
function findChromium(): { ok: true } | { ok: false; why: string } {
  try {
    accessSync(CHROMIUM, constants.X_OK);
    return { ok: true };
  } catch {
    return { ok: false, why: `no ${CHROMIUM} (Debian: apt-get install chromium)` };
  }
}
const browserCheck = findChromium();
if (!browserCheck.ok) process.stderr.write(`SKIPPED dashboard test in headless Chromium: ${browserCheck.why}\n`);

const ARTIFACTS = join(import.meta.dirname, '..', 'test-artifacts');
const dirs: string[] = [];
const fares: FareProcess[] = [];
let browser: Browser | undefined;
afterAll(async () => {
  await browser?.close();
  for (const f of fares) await stopFare(f);
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const ECHO = 'exports.handler = async (event) => ({ echo: event });\n';

async function deploy(url: string, key: string, dir: string, name: string, cls: string): Promise<void> {
  const src = join(dir, name);
  mkdirSync(src);
  writeFileSync(join(src, 'index.js'), ECHO);
  const res = await fetch(`${url}/v1/functions/${name}?runtime=nodejs&handler=index.handler&class=${cls}`, {
    method: 'PUT', headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/zip' }, body: zipDirectory(src),
  });
  expect(res.status, await res.text()).toBe(201);
}

async function invoke(url: string, key: string, name: string, i: number): Promise<void> {
  const r = await api(url, 'POST', `/2015-03-31/functions/${name}/invocations`, { i }, key);
  expect(r.status, JSON.stringify(r.json)).toBe(200);
}

/** The text of a cell of the per-class table. */
const cell = (page: Page, cls: string, col: string): Promise<string> => page.locator(`#classes-table tr[data-class="${cls}"] td[data-col="${col}"]`).innerText();

/** The page's own function, run in the page by `evaluate` (these tests are typed without the DOM library). */
declare const getComputedStyle: (e: unknown) => { outlineStyle: string };

/** The tenants of the spend table's rows. */
async function tenantRows(page: Page): Promise<(string | null)[]> {
  return Promise.all((await page.locator('#spend-table tbody tr').all()).map((r) => r.getAttribute('data-tenant')));
}

async function signIn(page: Page, url: string, key: string): Promise<void> {
  await page.goto(`${url}/dashboard`);
  await page.fill('#key', key);
  await page.click('#connect');
}

describe.skipIf(!browserCheck.ok)('the live dashboard in headless Chromium', () => {
  it('shows the scripted load per class, each tenant only its own spend, updates live, and is usable by keyboard', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fare-dashboard-'));
    dirs.push(dir);
    const fare = await startFare(join(dir, 'fare'));
    fares.push(fare);
    const url = fare.url;
    try {
      // A tenant with a budget and a function of its own; the admin's function in two classes.
      const made = await api(url, 'POST', '/v1/tenants', { id: 'acme', budgetMicroCents: 5_000_000 });
      expect(made.status, JSON.stringify(made.json)).toBe(201);
      const cred = (made.json as { credential: { accessKeyId: string; secret: string } }).credential;
      const acme = `${cred.accessKeyId}:${cred.secret}`;
      await deploy(url, ADMIN_KEY, dir, 'dash-high', 'high');
      await deploy(url, ADMIN_KEY, dir, 'dash-low', 'low');
      await deploy(url, acme, dir, 'acme-fn', 'standard');
      // The scripted load: 40 invocations, 25 high and 15 low, some at once; and 2 of acme's.
      for (let round = 0; round < 5; round++) {
        await Promise.all([
          ...Array.from({ length: 5 }, (_, i) => invoke(url, ADMIN_KEY, 'dash-high', round * 5 + i)),
          ...Array.from({ length: 3 }, (_, i) => invoke(url, ADMIN_KEY, 'dash-low', round * 3 + i)),
        ]);
      }
      for (let i = 0; i < 2; i++) await invoke(url, acme, 'acme-fn', i);

      browser = await chromium.launch({ executablePath: CHROMIUM, headless: true });
      const admin = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
      const problems: string[] = [];
      admin.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
      admin.on('console', (m) => {
        if (m.type() === 'error') problems.push(`console: ${m.text()}`);
      });
      let navigations = 0;
      admin.on('framenavigated', (f) => {
        if (f === admin.mainFrame()) navigations++;
      });
      await signIn(admin, url, ADMIN_KEY);
      await expect.poll(() => cell(admin, 'high', 'answered'), { timeout: 15_000 }).toBe('25');
      expect(await cell(admin, 'high', 'answered')).toBe('25');
      expect(await cell(admin, 'low', 'answered')).toBe('15');
      expect(await cell(admin, 'standard', 'answered')).toBe('2');
      expect(await cell(admin, 'middle', 'answered')).toBe('0');
      expect(Number(await cell(admin, 'high', 'p99'))).toBeGreaterThan(0);
      // The administrator sees every tenant's spend, and both tenants' invocations.
      await expect.poll(() => admin.locator('#recent-table tbody tr').count(), { timeout: 10_000 }).toBeGreaterThanOrEqual(10);
      const tenants = await tenantRows(admin);
      expect(tenants.sort()).toEqual(['acme', 'admin']);
      // This process runs the shard and the worker: their panels have numbers, not the cluster note.
      expect(await admin.locator('#queues-table tbody tr[data-shard="0"]').count()).toBe(1);
      expect(await admin.locator('#machines-table tbody tr[data-machine="0"]').count()).toBeGreaterThan(0);
      expect(await admin.locator('#queues-note').isHidden()).toBe(true);
      await expect.poll(() => admin.locator('#summary').getAttribute('aria-live')).toBe('polite');
      expect(await admin.locator('#summary').innerText()).toMatch(/42 jobs answered/);
      // The charts were drawn (echarts' canvas), each with a text alternative.
      expect(await admin.locator('#latency-chart canvas').count()).toBeGreaterThan(0);
      expect(await admin.locator('#latency-chart').getAttribute('aria-label')).toMatch(/high p99 [\d.]+ ms/);

      // Live: more invocations show up without a reload.
      for (let i = 0; i < 5; i++) await invoke(url, ADMIN_KEY, 'dash-high', 100 + i);
      await expect.poll(() => cell(admin, 'high', 'answered'), { timeout: 10_000 }).toBe('30');
      expect(navigations).toBe(1);
      expect(problems, problems.join('\n')).toEqual([]);
      expect(await admin.locator('#status').innerText()).toMatch(/Live/);
      // A receipt, fetched with the key: the whole receipt of the newest invocation.
      const newest = await admin.locator('#recent-table tbody tr').first().getAttribute('data-request');
      await admin.locator('#recent-table tbody tr').first().getByRole('button').click();
      await expect.poll(() => admin.locator('#receipt-text').innerText(), { timeout: 10_000 }).toContain(newest ?? '?');
      expect(await admin.locator('#receipt-panel').isVisible()).toBe(true);
      mkdirSync(ARTIFACTS, { recursive: true });
      await admin.screenshot({ path: join(ARTIFACTS, 'dashboard.png'), fullPage: true });

      // A tenant's key: its own spend row only, its own invocations only; the aggregates as everyone's.
      const tenantCtx = await browser.newContext();
      const t = await tenantCtx.newPage();
      await signIn(t, url, acme);
      await expect.poll(() => t.locator('#recent-table tbody tr').count(), { timeout: 10_000 }).toBeGreaterThan(0);
      const own = await tenantRows(t);
      expect(own).toEqual(['acme']);
      const fns = await t.locator('#recent-table tbody tr td:nth-child(2)').allInnerTexts();
      expect(fns).toEqual(['acme-fn', 'acme-fn']);
      expect(await t.locator('#viewer').innerText()).toMatch(/tenant acme/);
      await tenantCtx.close();

      // Keyboard: Tab from the top reaches the key field and the stream toggle; Enter toggles it.
      const kb = await browser.newPage();
      await kb.goto(`${url}/dashboard`);
      const reached: string[] = [];
      for (let i = 0; i < 6; i++) {
        await kb.keyboard.press('Tab');
        const focused = kb.locator(':focus');
        reached.push((await focused.count()) === 0 ? '(none)' : ((await focused.getAttribute('id')) ?? (await focused.innerText())));
      }
      expect(reached).toEqual(['Skip to the numbers', 'key', 'connect', 'forget', 'stream-toggle', expect.any(String)]);
      await kb.focus('#stream-toggle');
      expect(await kb.locator('#stream-toggle').evaluate((e) => getComputedStyle(e).outlineStyle)).not.toBe('none');
      await kb.keyboard.press('Enter');
      expect(await kb.locator('#stream-toggle').getAttribute('aria-pressed')).toBe('false');
      // A key the gateway does not accept: said on the page, in words.
      await kb.fill('#key', 'FARENOSUCHKEY0000000:wrong');
      await kb.press('#key', 'Enter');
      await expect.poll(() => kb.locator('#status').innerText(), { timeout: 10_000 }).toMatch(/refused the key \(401\)/);
      await kb.close();
    } catch (e) {
      throw new Error(`${(e as Error).message}\n--- fare up:\n${fare.output().slice(-4000)}`);
    }
  }, 120_000);
});
