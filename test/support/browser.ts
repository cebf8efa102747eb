/**
 * Real Chromium for the console's browser suites: Debian's `chromium` (`apt-get install chromium`;
 * `.ci/run` installs it) driven by playwright-core, headless, with the flags that keep it off the
 * network (TOOLCHAIN.md) and a fresh profile per launch. No browser means a failed suite naming
 * the fix, never a skipped one. Each page opened here records what a user would not see: console
 * errors, uncaught exceptions, requests to another origin, CSP violations.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM = process.env.AEGIS_CHROMIUM ?? '/usr/bin/chromium';
/** where the suites leave a screenshot of each page for a reviewer (not committed) */
export const SCREENSHOTS = process.env.AEGIS_SCREENSHOTS_DIR ?? join(process.cwd(), 'test-output', 'screenshots');

export interface Browsing {
  context: BrowserContext;
  /** a new tab at `path`, its problems recorded in {@link problems} */
  open(path: string): Promise<Page>;
  /** console errors, page errors and requests to other origins seen so far */
  problems: string[];
  close(): Promise<void>;
}

export interface LaunchOptions {
  /** more Chromium flags (e.g. --host-resolver-rules sending AWS hosts to local servers) */
  args?: string[];
  /** origins besides the base URL's that pages may call (e.g. those the page's CSP allows) */
  allowedOrigins?: string[];
  /** accept the local TLS servers' self-signed certificates */
  ignoreHTTPSErrors?: boolean;
}

export async function launchBrowser(baseUrl: string, opts: LaunchOptions = {}): Promise<Browsing> {
  if (!existsSync(CHROMIUM))
    throw new Error(
      `no Chromium at ${CHROMIUM}: install it (apt-get install chromium) or set AEGIS_CHROMIUM; the console suites need a real browser`,
    );
  const profile = await mkdtemp(join(tmpdir(), 'aegis-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1280, height: 800 },
    ignoreHTTPSErrors: opts.ignoreHTTPSErrors ?? false,
    args: [
      ...(process.getuid?.() === 0 ? ['--no-sandbox'] : []),
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-dev-shm-usage',
      ...(opts.args ?? []),
    ],
  });
  const origins = new Set([new URL(baseUrl).origin, ...(opts.allowedOrigins ?? [])]);
  const problems: string[] = [];
  return {
    context,
    problems,
    async open(path) {
      const page = await context.newPage();
      page.on('console', (m) => {
        if (m.type() === 'error') problems.push(`console error on ${page.url()}: ${m.text()}`);
      });
      page.on('pageerror', (e) => problems.push(`page error on ${page.url()}: ${e.message}`));
      page.on('request', (r) => {
        const u = new URL(r.url());
        if (u.protocol !== 'data:' && !origins.has(u.origin)) problems.push(`request to another origin: ${r.url()}`);
      });
      await page.goto(`${baseUrl}${path}`);
      return page;
    },
    async close() {
      await context.close();
      await rm(profile, { recursive: true, force: true });
    },
  };
}

/** Saves a full-page screenshot under {@link SCREENSHOTS}. */
export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
}

const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

/**
 * axe-core's WCAG A/AA rules on the page as it stands: the violations, as `rule: target` lines.
 * (Evaluated through the DevTools protocol, which the page's CSP does not govern.)
 */
export async function accessibilityViolations(page: Page): Promise<string[]> {
  await page.evaluate(axeSource);
  // runs in the page: its globals reached through globalThis (this file is compiled without the DOM library)
  const result = await page.evaluate(async () => {
    const g = globalThis as unknown as {
      axe: { run: (ctx: unknown, opts: unknown) => Promise<{ violations: { id: string; nodes: { target: string[] }[] }[] }> };
      document: unknown;
    };
    return g.axe.run(g.document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa'] } });
  });
  return result.violations.flatMap((v) => v.nodes.map((n) => `${v.id}: ${n.target.join(' ')}`));
}

/**
 * Reads `read()` until it deep-equals `expected` or `timeoutMs` passes, and returns the last value
 * read, for the caller to assert: a page renders after its data arrives, so a one-shot read of a
 * list can see the state before the fetch (or the previous page's rows) on a busy machine.
 */
export async function eventually<T>(read: () => Promise<T>, expected: T, timeoutMs = 10_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (isDeepStrictEqual(value, expected) || Date.now() > until) return value;
    await new Promise((r) => setTimeout(r, 50));
  }
}
