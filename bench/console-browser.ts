/**
 * What the console bench measures in Chromium: a page's first render (navigation start → the
 * first row of a table laid out and in a frame), the API calls it made, and a static empty
 * page's load as the browser's own reference. The page's clock is the measure: the time comes
 * from `requestAnimationFrame` after the row appears (relative to the navigation's start), not
 * from polling by the driver.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { BrowserContext } from 'playwright-core';

/** Set by the init script in the page: ms from navigation start to the frame that first shows a row. */
const MARK = '__aegisFirstRow';

/** Watches the document for `selector` laid out with a height; records the next frame's time. */
const watcher = (selector: string): string => `(() => {
  let done = false;
  const obs = new MutationObserver(() => {
    if (done) return;
    const row = document.querySelector(${JSON.stringify(selector)});
    if (!row || row.getBoundingClientRect().height === 0) return;
    done = true;
    obs.disconnect();
    requestAnimationFrame((t) => { window.${MARK} = t; });
  });
  obs.observe(document, { childList: true, subtree: true });
})();`;

export interface Render {
  /** navigation start → the frame that shows the first row */
  ms: number;
  /** the API calls (`/v1/…`, `/session`) the page made, as `METHOD path` */
  calls: string[];
  /** console errors, page errors and failed responses seen on the page */
  problems: string[];
}

/**
 * Opens `path` in a new tab (the HTTP cache cleared first when `cold`) and waits for the first
 * row matching `selector`.
 */
export async function firstRender(
  context: BrowserContext,
  baseUrl: string,
  path: string,
  selector: string,
  cold: boolean,
): Promise<Render> {
  const page = await context.newPage();
  try {
    if (cold) {
      const cdp = await context.newCDPSession(page);
      await cdp.send('Network.clearBrowserCache');
      await cdp.detach();
    }
    await page.addInitScript(watcher(selector));
    const calls: string[] = [];
    const problems: string[] = [];
    page.on('request', (r) => {
      const u = new URL(r.url());
      if (/^\/(v1\/|session$)/.test(u.pathname)) calls.push(`${r.method()} ${u.pathname}${u.search}`);
    });
    page.on('response', (r) => {
      if (r.status() >= 400) problems.push(`${r.status()} from ${r.url()}`);
    });
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(`console error: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    await page.goto(`${baseUrl}${path}`);
    // a function, not a string: the page's CSP forbids eval
    await page.waitForFunction((mark) => typeof (globalThis as Record<string, unknown>)[mark] === 'number', MARK, { timeout: 60_000 });
    const ms = (await page.evaluate(`window.${MARK}`)) as number;
    return { ms, calls, problems };
  } finally {
    await page.close();
  }
}

/** Navigation start → the load event's end of `url`, in a new tab. */
export async function pageLoad(context: BrowserContext, url: string): Promise<number> {
  const page = await context.newPage();
  try {
    await page.goto(url, { waitUntil: 'load' });
    return (await page.evaluate(`performance.getEntriesByType('navigation')[0].loadEventEnd`)) as number;
  } finally {
    await page.close();
  }
}

/** A static empty HTML page on a free local port: the browser's reference. */
export async function emptyPageServer(): Promise<{ url: string; close: () => Promise<void> }> {
  const server: Server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
    res.end('<!doctype html><html lang="en"><title>empty</title></html>');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((e) => (e ? reject(e) : resolve()));
      }),
  };
}
