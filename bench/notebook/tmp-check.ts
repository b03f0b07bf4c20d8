// TEMPORARY behaviour check (deleted after use)
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { chromium, type Page } from 'playwright';
import { freePort, sleep, startProcess, stopAll } from '../lib/processes';
import { thousandCells } from './generate';

const runDir = fs.mkdtempSync(path.join(os.tmpdir(), 'atrium-nbcheck-'));
const dataDir = path.join(runDir, 'data');
const admin = { email: 'admin@c.test', password: 'check-admin-password-1' };
const analyst = { email: 'analyst@c.test', password: 'check-analyst-password-1' };
const env = { ...process.env, ATRIUM_DATA_DIR: dataDir, NEXT_TELEMETRY_DISABLED: '1', ATRIUM_ADMIN_EMAIL: admin.email, ATRIUM_ADMIN_PASSWORD: admin.password, ATRIUM_PYTHON: '/root/.cache/atrium/venvs/kernel-d5164787dcf7/bin/python' };
const port = await freePort();
startProcess('atrium', process.execPath, ['server/cli/atrium.mjs', 'start'], { env: { ...env, PORT: String(port) }, logFile: path.join(runDir, 'log') });
const base = `http://localhost:${port}`;
for (;;) { try { if ((await fetch(`${base}/signin`)).ok) break; } catch {} await sleep(500); }
execFileSync(process.execPath, ['server/cli/atrium.mjs', 'users', 'add', analyst.email, '--name', 'A', '--password-stdin'], { env, input: analyst.password + '\n' });
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu'] });
const ctx = await browser.newContext({ baseURL: base, viewport: { width: 1280, height: 900 } });
const page = await ctx.newPage();
page.setDefaultTimeout(30_000);
const ok = (cond: boolean, what: string) => console.log(cond ? 'OK  ' : 'FAIL', what);
try {
  await page.goto('/signin');
  await page.getByLabel('Email').fill(analyst.email);
  await page.getByRole('textbox', { name: 'Password' }).fill(analyst.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(/\/files$/);
  const me = await (await page.request.get('/api/trpc/me.get')).json();
  const home = path.join(dataDir, 'homes', me.result.data.json.username);
  fs.writeFileSync(path.join(home, 'big.ipynb'), JSON.stringify(thousandCells(1000)));
  const cell = (p: Page, n: number) => p.getByRole('region', { name: `Cell ${n}`, exact: true });
  const visible = (p: Page, n: number) => cell(p, n).evaluate((e) => { const r = e.getBoundingClientRect(); return r.top >= 0 && r.bottom <= innerHeight; });

  // 1. keyboard moves right after opening (before idle rendering is done) reach deferred cells and show them
  await page.goto('/notebook/big.ipynb');
  await cell(page, 1).waitFor();
  const placeholdersAtStart = await page.locator('[data-cell-placeholder]').count();
  ok(placeholdersAtStart > 900, `placeholders right after opening: ${placeholdersAtStart}`);
  await cell(page, 1).locator('[aria-hidden]').first().click(); // the prompt: command mode
  for (let i = 0; i < 60; i++) await page.keyboard.press('j');
  await sleep(300);
  console.log(await cell(page, 61).evaluate((e) => JSON.stringify({ r: e.getBoundingClientRect(), y: scrollY, ih: innerHeight })));
  ok(await visible(page, 61), 'j ×60: Cell 61 is on screen');
  ok((await cell(page, 61).getAttribute('data-active')) === 'true', 'Cell 61 is active');
  // 2. all cells rendered soon, find-by-role sees the last
  await cell(page, 1000).waitFor({ state: 'attached', timeout: 15_000 });
  ok((await page.locator('[data-cell-placeholder]').count()) === 0, 'no placeholders left');
  // 3. A, B, D D, Z in the middle
  await page.keyboard.press('a');
  ok((await cell(page, 1001).count()) === 1, 'A inserted a cell (1001 cells)');
  await page.keyboard.press('d'); await page.keyboard.press('d');
  ok((await cell(page, 1001).count()) === 0, 'D D deleted it');
  await page.keyboard.press('z');
  ok((await cell(page, 1001).count()) === 1, 'Z brought it back');
  // 4. scroll far right after opening: the cells there render, the view stays put while cells above render
  await page.goto('/notebook/big.ipynb');
  await cell(page, 1).waitFor();
  await page.evaluate(() => window.scrollTo(0, 40_000));
  for (let i = 0; i < 8; i++) {
    await sleep(100);
    console.log(await page.evaluate(() => JSON.stringify({ y: scrollY, h: document.documentElement.scrollHeight, ph: document.querySelectorAll('[data-cell-placeholder]').length, rendered: [...document.querySelectorAll('[role="region"][data-cell-id]')].filter((e) => { const r = e.getBoundingClientRect(); return r.bottom > 0 && r.top < innerHeight; }).map((e) => e.getAttribute('aria-label')) })));
  }
  const firstVisible = () => page.evaluate(() => [...document.querySelectorAll('[role="region"][data-cell-id]')].find((e) => e.getBoundingClientRect().bottom > 120)?.getAttribute('aria-label'));
  const a = await firstVisible();
  await cell(page, 1000).waitFor({ state: 'attached', timeout: 15_000 });
  await sleep(300);
  const b = await firstVisible();
  ok(!!a && a === b, `scrolled to 40,000 px: first visible cell ${a} then ${b} after every cell above rendered`);
  // 5. last cell: End of the page
  await page.evaluate(() => window.scrollTo(0, document.documentElement.scrollHeight));
  await sleep(500);
  ok(await visible(page, 1000).catch(() => false) || (await cell(page, 1000).evaluate((e) => e.getBoundingClientRect().top < innerHeight)), 'scrolled to the end: Cell 1000 on screen');
  await page.screenshot({ path: '/tmp/nbwork/check-end.png' });
  // 6. long outputs: a scroll box at the end; ANSI colour carried across blocks
  const lines = Array.from({ length: 3000 }, (_, i) => (i === 2940 ? `\x1b[31mred from ${i}\n` : i === 2960 ? `still red ${i}\x1b[0m\n` : `${i}\n`)).join('');
  fs.writeFileSync(path.join(home, 'long.ipynb'), JSON.stringify({ nbformat: 4, nbformat_minor: 5, metadata: {}, cells: [
    { cell_type: 'code', id: 'a1', metadata: {}, execution_count: 1, source: 'print(lines)', outputs: [{ output_type: 'stream', name: 'stdout', text: lines }] },
    { cell_type: 'code', id: 'a2', metadata: {}, execution_count: 2, source: 'x = 1', outputs: [{ output_type: 'stream', name: 'stdout', text: 'short\n' }] },
  ] }));
  await page.goto('/notebook/long.ipynb');
  await cell(page, 2).waitFor();
  await sleep(500);
  const box = await page.getByRole('region', { name: 'Output 1', exact: true }).locator('pre').evaluate((e) => ({ h: e.clientHeight, sh: e.scrollHeight, top: e.scrollTop, text: e.textContent!.slice(0, 10) }));
  console.log(JSON.stringify(box));
  ok(box.h < 500 && box.top > 0 && Math.abs(box.top + box.h - box.sh) < 5, 'long output scrolls in a box, at its end');
  const red = await page.getByText('still red 2960').evaluate((e) => getComputedStyle(e).color);
  const plain = await page.getByText('2970', { exact: true }).evaluate((e) => getComputedStyle(e).color).catch(() => 'n/a');
  ok(red !== plain, `colour carried across blocks: ${red} vs ${plain}`);
  await page.screenshot({ path: '/tmp/nbwork/check-long.png' });
} finally {
  await browser.close();
  await stopAll();
  fs.rmSync(runDir, { recursive: true, force: true });
}
