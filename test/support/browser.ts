import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Browser, BrowserContext, chromium, Page } from 'playwright-core';

const ROOT = join(__dirname, '../..');
// The Debian package's binary; .ci/run installs it when missing.
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** The console's build directory, built now if `npm test`'s pretest did not (a targeted jest run). */
export function builtConsole(): string {
  const dist = join(ROOT, 'web/dist');
  if (!existsSync(join(dist, 'index.html'))) execFileSync('npm', ['run', 'build:console'], { cwd: ROOT, stdio: 'ignore' });
  return dist;
}

/** Everything a page did that fails a test: CSP violations and uncaught errors. */
export interface PageFaults {
  csp: string[];
  errors: string[];
}

export interface WatchedPage {
  page: Page;
  context: BrowserContext;
  faults: PageFaults;
  /** Throws when the page violated its CSP or threw an uncaught error. */
  assertClean(): void;
  close(): Promise<void>;
}

export async function launchBrowser(): Promise<Browser> {
  // The sandbox needs user namespaces CI containers (running as root) do not grant.
  return chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
}

/** A fresh context (own cookies and storage) whose CSP violations and page errors are recorded. */
export async function watchedPage(browser: Browser, baseURL: string, viewport?: { width: number; height: number }): Promise<WatchedPage> {
  const context = await browser.newContext({ baseURL, ...(viewport && { viewport }) });
  const page = await context.newPage();
  const faults: PageFaults = { csp: [], errors: [] };
  // Init scripts run outside the page's CSP, so the listener is there before any of the console's code.
  await context.exposeBinding('__reportCspViolation', (_source, text: string) => void faults.csp.push(text));
  await context.addInitScript({
    content:
      "document.addEventListener('securitypolicyviolation', (e) => window.__reportCspViolation(e.violatedDirective + ' blocked ' + (e.blockedURI || 'inline')));",
  });
  page.on('pageerror', (err) => faults.errors.push(err.message));
  page.on('console', (msg) => {
    if (msg.type() === 'error' && /Content Security Policy/.test(msg.text())) faults.csp.push(msg.text());
  });
  return {
    page,
    context,
    faults,
    assertClean() {
      if (faults.csp.length || faults.errors.length) throw new Error(`page faults: ${JSON.stringify(faults)}`);
    },
    close: () => context.close(),
  };
}

/** `npm run console:screenshots` sets CONSOLE_SCREENSHOTS to docs/console: the journeys then photograph each screen. */
export async function screenshot(page: Page, name: string): Promise<void> {
  const dir = process.env.CONSOLE_SCREENSHOTS;
  if (dir) await page.screenshot({ path: join(ROOT, dir, `${name}.png`), fullPage: true });
}

/** axe-core's serious and critical findings on the page as it is now (evaluated over CDP, so the page's CSP stays strict). */
export async function accessibilityProblems(page: Page): Promise<string[]> {
  await page.evaluate(readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8'));
  const violations = (await page.evaluate(
    `axe.run(document, { resultTypes: ['violations'] }).then((r) => r.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.length })))`,
  )) as Array<{ id: string; impact: string; nodes: number }>;
  return violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${v.id} (${v.impact}, ${v.nodes} nodes)`);
}
