/*
 * dashboard.test.mjs — web/ in headless Chromium against the real test
 * stack (nginx → bff-fcgi → PostgreSQL/Redis), driven by playwright-core
 * with Debian's /usr/bin/chromium. Run by t/check_browser.sh, which
 * provides the environment:
 *
 *   BFF_TEST_HTTP_URL   the stack's nginx
 *   BROWSER_ADMIN_TOKEN a superuser token (seeds data through the API)
 *   BROWSER_TOKEN       a metrics.read-only token (what the page is given)
 *   BROWSER_PSQL        psql command line for the test database (jobs)
 *   BROWSER_ARTIFACTS   where screenshots go (t/artifacts)
 *
 * What it proves: the page asks for a token once (form, then
 * sessionStorage survives a reload), the figures it shows are the API's,
 * a metric turns red when its threshold is crossed (queue_length > 1000
 * after inserting 1001 queued jobs), and it fits a phone's width. Each
 * check prints "ok N - ..." or "not ok N - ..."; the process exits 1 on
 * the first failure.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { chromium } from 'playwright-core';

const BASE = need('BFF_TEST_HTTP_URL');
const ADMIN = need('BROWSER_ADMIN_TOKEN');
const TOKEN = need('BROWSER_TOKEN');
const PSQL = need('BROWSER_PSQL');
const OUT = need('BROWSER_ARTIFACTS');
const JOB_KIND = 'browser_test_noop';

let n = 0;
function need(name) {
  const v = process.env[name];
  if (!v) {
    console.log(`not ok - environment variable ${name} is not set`);
    process.exit(1);
  }
  return v;
}
function ok(cond, what, detail) {
  n += 1;
  if (!cond) {
    console.log(`not ok ${n} - ${what}${detail ? ': ' + detail : ''}`);
    throw new Error(what);
  }
  console.log(`ok ${n} - ${what}`);
}
function eq(got, want, what) {
  ok(got === want, what, `got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
}

function sql(q) {
  return execFileSync('bash', ['-c', `${PSQL} -X -q -v ON_ERROR_STOP=1 -tA -c "$1"`, 'psql', q],
    { encoding: 'utf8' }).trim();
}

async function api(method, path, token, body) {
  const r = await fetch(BASE + path, {
    method,
    headers: { Authorization: 'Bearer ' + token, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  let json = null;
  try { json = JSON.parse(text); } catch (e) { json = null; }
  if (r.status >= 400) throw new Error(`${method} ${path}: ${r.status} ${text}`);
  return json;
}

/* A little inventory, so the page has figures that are not all zero. */
async function seed() {
  const tag = Date.now().toString(36) + process.pid;
  const day = (d) => new Date(Date.now() + d * 86400000).toISOString().slice(0, 10);
  const w = await api('POST', '/api/warehouses/', ADMIN, { code: 'BR-' + tag, name: 'Almacén navegador' });
  const p = await api('POST', '/api/products/', ADMIN, { sku: 'BR-' + tag, name: 'Producto navegador' });
  await api('POST', '/api/lots/', ADMIN, { product_id: p.id, warehouse_id: w.id, lot_code: 'A-' + tag,
    expires_on: day(5), quantity: 40 });
  await api('POST', '/api/lots/', ADMIN, { product_id: p.id, warehouse_id: w.id, lot_code: 'B-' + tag,
    expires_on: day(90), quantity: 100 });
  /* ten-digit figures: the phone layout must still fit */
  await api('POST', '/api/lots/', ADMIN, { product_id: p.id, warehouse_id: w.id, lot_code: 'C-' + tag,
    expires_on: day(400), quantity: 1000000000 });
  const shipped = await api('POST', '/api/orders/', ADMIN, { lines: [{ product_id: p.id, quantity: 30 }] });
  await api('POST', `/api/orders/${shipped.id}/ship/`, ADMIN);
  await api('POST', '/api/orders/', ADMIN, { lines: [{ product_id: p.id, quantity: 25 }] });
  const cancelled = await api('POST', '/api/orders/', ADMIN, { lines: [{ product_id: p.id, quantity: 5 }] });
  await api('POST', `/api/orders/${cancelled.id}/cancel/`, ADMIN);
  /* stock figures are cached for BFF_METRICS_CACHE_TTL: start fresh */
  await api('POST', '/api/admin/cache/invalidate/', ADMIN, { key: 'metrics:stock' });
}

const nf = new Intl.NumberFormat('es-ES');
const nf2 = new Intl.NumberFormat('es-ES', { maximumFractionDigits: 2 });

async function text(page, sel) {
  return (await page.locator(sel).first().textContent()).trim();
}

async function main() {
  mkdirSync(OUT, { recursive: true });
  sql(`DELETE FROM jobs WHERE kind = '${JOB_KIND}'`);
  await seed();

  const browser = await chromium.launch({
    executablePath: process.env.BROWSER_CHROMIUM || '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: 'es-ES' });
    const page = await ctx.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    /* the refused token's 401 is logged by Chromium as a failed load: expected */
    page.on('console', (m) => {
      if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) errors.push(m.text());
    });

    /* 1. The page loads and asks for a token. */
    const resp = await page.goto(BASE + '/', { waitUntil: 'domcontentloaded' });
    eq(resp.status(), 200, 'GET / answers 200');
    await page.locator('#login').waitFor({ state: 'visible', timeout: 10000 });
    ok(await page.locator('#panel').isHidden(), 'without a token only the login form shows');

    /* A wrong token is refused with a message, and the form stays. */
    await page.fill('#token', 'not-a-real-token');
    await page.click('#login-form button[type=submit]');
    await page.locator('#login-error').waitFor({ state: 'visible', timeout: 10000 });
    ok((await text(page, '#login-error')).length > 0, 'a bad token is refused with a message');

    /* 2. The real token: the panel shows. */
    await page.fill('#token', TOKEN);
    await page.click('#login-form button[type=submit]');
    await page.locator('[data-metric="queue_length"]').waitFor({ timeout: 15000 });
    ok(await page.locator('#login').isHidden(), 'after the token the form is gone');
    eq(await page.evaluate(() => sessionStorage.getItem('bff.token')), TOKEN,
      'the token is kept in sessionStorage');

    /* 3. The figures are the API's. Stock is cached server-side, orders and
     * FEFO are read from PostgreSQL: none of them moves while we look. */
    const d = await api('GET', '/api/bff/dashboard/', TOKEN);
    for (const k of ['total_products', 'total_lots', 'available_stock', 'reserved_stock',
      'expiring_within_7_days', 'expired_stock', 'quarantined_stock']) {
      const sel = `[data-stock="${k}"] .value`;
      eq(await page.locator(sel).getAttribute('data-value'), String(d.stock[k]), `stock ${k} is the API's`);
      eq(await text(page, sel), nf.format(d.stock[k]), `stock ${k} is shown as ${nf.format(d.stock[k])}`);
    }
    ok(d.stock.available_stock > 0 && d.stock.reserved_stock > 0, 'the seeded stock is visible',
      JSON.stringify(d.stock));
    for (const k of ['orders_last_hour', 'shipped_last_hour']) {
      eq(await text(page, `[data-orders="${k}"] .value`), nf.format(d.orders[k]), `orders ${k} is the API's`);
    }
    const bars = await page.locator('#chart g[data-hour]').evaluateAll((gs) =>
      gs.map((g) => [g.dataset.hour, +g.dataset.created, +g.dataset.shipped, +g.dataset.cancelled]));
    eq(bars.length, 24, 'the chart has 24 hourly groups');
    eq(JSON.stringify(bars), JSON.stringify(d.orders.per_hour.map((h) =>
      [h.hour, h.created, h.shipped, h.cancelled])), 'every bar is the API\'s hourly count');
    ok(await page.locator('#chart rect.bar.s-created').count() > 0, 'the current hour has a bar');
    eq(await text(page, '[data-fefo="shipped_orders"]'), nf.format(d.fefo.shipped_orders), 'FEFO shipped orders');
    eq(await text(page, '[data-fefo="fefo_compliant_orders"]'), nf.format(d.fefo.fefo_compliant_orders),
      'FEFO compliant orders');
    eq(await page.locator('[data-fefo="fefo_efficiency_pct"]').getAttribute('data-value'),
      String(d.fefo.fefo_efficiency_pct), 'FEFO efficiency is the API\'s');
    eq(await text(page, '[data-metric="queue_length"] .value'), nf.format(d.system.checks.queue_length.value),
      'queue length is the API\'s');
    for (const k of Object.keys(d.system.checks)) {
      ok(await page.locator(`[data-metric="${k}"]`).count() === 1, `metric ${k} is shown`);
    }
    eq(await page.locator('[data-check="database"]').getAttribute('data-status'), d.health.checks.database.status,
      'database health is the API\'s');
    eq(await page.locator('[data-check="cache"]').getAttribute('data-status'), d.health.checks.cache.status,
      'cache health is the API\'s');
    const green = await page.locator('[data-metric="queue_length"] .reading')
      .evaluate((e) => getComputedStyle(e).color);
    eq(await page.locator('[data-metric="queue_length"]').getAttribute('data-status'), 'normal',
      'queue length starts normal');
    eq(green, 'rgb(31, 138, 76)', 'a normal metric is green');

    /* 4. Cross the critical threshold: more than 1000 queued jobs (run_at
     * far ahead, so no worker claims them). A reload keeps the token. */
    sql(`INSERT INTO jobs (kind, run_at) SELECT '${JOB_KIND}', now() + interval '1 day'
         FROM generate_series(1, 1001)`);
    const d2 = await api('GET', '/api/metrics/system/', TOKEN);
    ok(d2.checks.queue_length.value >= 1001 && d2.checks.queue_length.status === 'critical',
      'the API says queue_length is critical', JSON.stringify(d2.checks.queue_length));
    await page.reload({ waitUntil: 'domcontentloaded' });
    await page.locator('[data-metric="queue_length"][data-status="critical"]').waitFor({ timeout: 15000 });
    ok(await page.locator('#login').isHidden(), 'a reload does not ask for the token again');
    const red = await page.locator('[data-metric="queue_length"] .reading')
      .evaluate((e) => getComputedStyle(e).color);
    eq(red, 'rgb(198, 40, 40)', 'queue length over 1000 is shown red');
    eq(await text(page, '[data-metric="queue_length"] .value'), nf.format(d2.checks.queue_length.value),
      'the queue length shown is the new one');
    eq(await page.locator('#overall').getAttribute('data-status'), 'critical', 'the overall badge turns critical');
    await page.screenshot({ path: `${OUT}/dashboard.png`, fullPage: true });
    console.log(`# screenshot: ${OUT}/dashboard.png`);

    /* 5. The page refreshes itself (every 10 s): back under the threshold
     * without a reload. */
    sql(`DELETE FROM jobs WHERE kind = '${JOB_KIND}'`);
    await page.locator('[data-metric="queue_length"][data-status="normal"]').waitFor({ timeout: 25000 });
    ok(true, 'the page refreshed by itself and queue length is normal again');

    /* 6. A phone: nothing wider than the screen. */
    const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2,
      isMobile: true, hasTouch: true, locale: 'es-ES' });
    const pp = await phone.newPage();
    await pp.goto(BASE + '/', { waitUntil: 'domcontentloaded' });
    await pp.evaluate((t) => sessionStorage.setItem('bff.token', t), TOKEN);
    await pp.reload({ waitUntil: 'domcontentloaded' });
    await pp.locator('[data-metric="queue_length"]').waitFor({ timeout: 15000 });
    const widths = await pp.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
    ok(widths[0] <= 390 && widths[1] === 390, 'on a 390 px screen nothing overflows sideways',
      'scrollWidth, innerWidth = ' + JSON.stringify(widths));
    await pp.screenshot({ path: `${OUT}/dashboard-phone.png`, fullPage: true });

    eq(errors.length, 0, 'no JavaScript errors' + (errors.length ? ': ' + errors.join(' | ') : ''));
    console.log(`1..${n}`);
  } finally {
    await browser.close();
    sql(`DELETE FROM jobs WHERE kind = '${JOB_KIND}'`);
  }
}

main().then(() => process.exit(0), (e) => {
  console.log(`# ${e && e.stack ? e.stack : e}`);
  process.exit(1);
});
