/*
 * app.js — the operations dashboard (plain JS, no build step).
 *
 * One call, GET /api/bff/dashboard/, every REFRESH_MS; the token is asked
 * for once and kept in sessionStorage (this tab only). Every figure on the
 * page is the API's value, formatted for Spanish; the elements carry
 * data-* hooks (data-metric, data-stock, ...) and data-value with the raw
 * number, which t/browser/dashboard.test.mjs checks against the API.
 * Strings from the server are set with textContent, never parsed as HTML.
 */
'use strict';

(function () {
  const REFRESH_MS = 10000;
  const TOKEN_KEY = 'bff.token';
  const API = '/api/bff/dashboard/';
  const SVG = 'http://www.w3.org/2000/svg';

  const nf = new Intl.NumberFormat('es-ES');
  const nf1 = new Intl.NumberFormat('es-ES', { minimumFractionDigits: 1, maximumFractionDigits: 1 });
  const nf2 = new Intl.NumberFormat('es-ES', { maximumFractionDigits: 2 });

  /* The runbook's table, in its order, with the unit each value is shown in. */
  const METRICS = [
    { key: 'response_time_ms', label: 'Tiempo de respuesta', hint: 'p95', unit: 'ms', fmt: nf1 },
    { key: 'error_rate_pct', label: 'Tasa de errores', hint: 'HTTP 5xx', unit: '%', fmt: nf2 },
    { key: 'db_connections_pct', label: 'Conexiones BD', hint: 'de max_connections', unit: '%', fmt: nf1 },
    { key: 'cache_hit_rate_pct', label: 'Acierto de cache', hint: 'lecturas servidas por Redis', unit: '%', fmt: nf1 },
    { key: 'queue_length', label: 'Cola de tareas', hint: 'tareas pendientes', unit: '', fmt: nf },
  ];
  const STATUS_TEXT = { normal: 'normal', warning: 'aviso', critical: 'crítico' };
  const HEALTH = [
    { key: 'database', label: 'PostgreSQL' },
    { key: 'cache', label: 'Redis (cache)' },
    { key: 'smtp', label: 'SMTP' },
  ];
  const HEALTH_TEXT = { ok: 'operativo', down: 'caído', not_configured: 'no configurado',
                        degraded: 'degradado' };
  const STOCK = [
    { key: 'total_products', label: 'Productos' },
    { key: 'total_lots', label: 'Lotes con stock' },
    { key: 'available_stock', label: 'Stock disponible', strong: true },
    { key: 'reserved_stock', label: 'Stock reservado', strong: true },
    { key: 'expiring_within_7_days', label: 'Caduca en 7 días' },
    { key: 'expired_stock', label: 'Caducado' },
    { key: 'quarantined_stock', label: 'En cuarentena' },
  ];

  let timer = null;
  let inflight = null;

  const $ = (id) => document.getElementById(id);

  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined) continue;
      if (k === 'class') e.className = v;
      else e.setAttribute(k, v);
    }
    for (const c of children) {
      if (c === null || c === undefined) continue;
      e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return e;
  }

  function svg(tag, attrs, ...children) {
    const e = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
    for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    return e;
  }

  function fmtNumber(v, f) {
    return v === null || v === undefined ? '—' : (f || nf).format(v);
  }

  /* ------------------------------------------------------------ token */

  function token() {
    return sessionStorage.getItem(TOKEN_KEY);
  }

  function showLogin(message) {
    stop();
    $('panel').hidden = true;
    $('logout').hidden = true;
    $('login').hidden = false;
    const err = $('login-error');
    err.hidden = !message;
    err.textContent = message || '';
    setOverall(null);
    $('updated').textContent = '';
    $('token').focus();
  }

  function showPanel() {
    $('login').hidden = true;
    $('panel').hidden = false;
    $('logout').hidden = false;
  }

  /* ---------------------------------------------------------- refresh */

  function stop() {
    if (timer) clearTimeout(timer);
    timer = null;
    if (inflight) inflight.abort();
    inflight = null;
  }

  function schedule() {
    if (timer) clearTimeout(timer);
    timer = setTimeout(refresh, REFRESH_MS);
  }

  async function refresh() {
    const t = token();
    if (!t) {
      showLogin();
      return;
    }
    if (inflight) inflight.abort();
    const ctl = new AbortController();
    inflight = ctl;
    const deadline = setTimeout(() => ctl.abort(), 8000);
    try {
      const r = await fetch(API, {
        headers: { Authorization: 'Bearer ' + t, Accept: 'application/json' },
        cache: 'no-store',
        signal: ctl.signal,
      });
      let body = null;
      try { body = await r.json(); } catch (e) { body = null; }
      if (r.status === 401 || r.status === 403) {
        sessionStorage.removeItem(TOKEN_KEY);
        showLogin(r.status === 401
          ? 'Token no válido o caducado.'
          : 'Este token no tiene el permiso metrics.read.');
        return;
      }
      if (!r.ok || !body) {
        const msg = body && body.error ? body.error.message : 'HTTP ' + r.status;
        throw new Error(msg);
      }
      showPanel();
      render(body);
      $('fetch-error').hidden = true;
    } catch (e) {
      if (ctl.signal.aborted && inflight !== ctl) return; /* superseded */
      const b = $('fetch-error');
      b.textContent = 'No se pudo actualizar: ' + (e.message || e) +
        '. Se muestran los últimos datos; nuevo intento en 10 s.';
      b.hidden = false;
      if ($('panel').hidden) showPanel();
    } finally {
      clearTimeout(deadline);
      if (inflight === ctl) inflight = null;
    }
    schedule();
  }

  /* ----------------------------------------------------------- render */

  function setOverall(status) {
    const b = $('overall');
    b.dataset.status = status || 'unknown';
    b.textContent = status ? 'Estado: ' + (STATUS_TEXT[status] || status) : '—';
  }

  function render(d) {
    setOverall(d.system.status);
    const when = new Date(d.generated_at);
    $('updated').textContent = 'Actualizado ' +
      when.toLocaleTimeString('es-ES', { hour: '2-digit', minute: '2-digit', second: '2-digit' });
    $('updated').dataset.generatedAt = d.generated_at;
    renderHealth(d.health);
    renderSystem(d.system);
    renderStock(d.stock);
    renderFefo(d.fefo);
    renderOrders(d.orders);
  }

  function renderHealth(h) {
    const box = $('health');
    box.replaceChildren();
    box.append(el('div', { class: 'card check', 'data-check': 'overall', 'data-status': h.status },
      el('span', { class: 'dot' }),
      el('div', {},
        el('div', { class: 'label' }, 'Aplicación'),
        el('div', { class: 'state' }, HEALTH_TEXT[h.status] || h.status),
        el('div', { class: 'detail' }, 'versión ' + h.version))));
    for (const c of HEALTH) {
      const v = h.checks[c.key] || { status: 'unknown' };
      box.append(el('div', { class: 'card check', 'data-check': c.key, 'data-status': v.status },
        el('span', { class: 'dot' }),
        el('div', {},
          el('div', { class: 'label' }, c.label),
          el('div', { class: 'state' }, HEALTH_TEXT[v.status] || v.status),
          el('div', { class: 'detail', title: v.error || '' },
            v.status === 'down' ? (v.error || '') :
              v.status === 'ok' ? v.latency_ms + ' ms' : ''))));
    }
  }

  function thresholdText(c, unit) {
    const u = unit ? ' ' + unit : '';
    if ('normal_above' in c) {
      return 'normal > ' + nf.format(c.normal_above) + u + ' · crítico < ' + nf.format(c.critical_below) + u;
    }
    return 'normal < ' + nf.format(c.normal_below) + u + ' · crítico > ' + nf.format(c.critical_above) + u;
  }

  function renderSystem(s) {
    const box = $('system');
    box.replaceChildren();
    for (const m of METRICS) {
      const c = s.checks[m.key];
      if (!c) continue;
      const value = el('span', { class: 'value', 'data-value': c.value === null ? '' : String(c.value) },
        fmtNumber(c.value, m.fmt));
      box.append(el('div', { class: 'card metric', 'data-metric': m.key, 'data-status': c.status },
        el('div', { class: 'label' }, m.label, el('span', { class: 'hint' }, m.hint)),
        el('div', { class: 'reading' }, value,
          c.value === null || !m.unit ? null : el('span', { class: 'unit' }, m.unit)),
        el('div', { class: 'status' }, el('span', { class: 'pill' }, STATUS_TEXT[c.status] || c.status)),
        el('div', { class: 'thresholds' }, c.value === null ? 'sin datos · ' + thresholdText(c, m.unit)
          : thresholdText(c, m.unit))));
    }
  }

  function figure(kind, key, label, value, opts) {
    const o = opts || {};
    const long = fmtNumber(value, o.fmt).length > 9; /* billions: a smaller font, not a wrap */
    return el('div', { class: 'card figure' + (o.strong ? ' strong' : '') + (long ? ' long' : ''),
                       ['data-' + kind]: key },
      el('div', { class: 'label' }, label),
      el('div', { class: 'value', 'data-value': value === null ? '' : String(value) },
        fmtNumber(value, o.fmt), o.unit ? el('span', { class: 'unit' }, o.unit) : null));
  }

  function renderStock(st) {
    const box = $('stock');
    box.replaceChildren();
    for (const f of STOCK) box.append(figure('stock', f.key, f.label, st[f.key], f));
    const tb = $('warehouses').tBodies[0];
    tb.replaceChildren();
    for (const w of st.by_warehouse) {
      tb.append(el('tr', { 'data-warehouse': w.code },
        el('th', { scope: 'row' }, w.code, el('span', { class: 'hint' }, w.name)),
        el('td', {}, nf.format(w.available)),
        el('td', {}, nf.format(w.reserved)),
        el('td', {}, nf.format(w.on_hand))));
    }
    $('warehouses').hidden = st.by_warehouse.length === 0;
  }

  function renderFefo(f) {
    const box = $('fefo');
    box.replaceChildren();
    const pct = f.fefo_efficiency_pct;
    const ring = svg('svg', { viewBox: '0 0 120 120', class: 'gauge', role: 'img',
      'aria-label': pct === null ? 'sin pedidos enviados' : 'eficiencia ' + nf2.format(pct) + ' %' });
    const r = 50, len = 2 * Math.PI * r;
    ring.append(svg('circle', { cx: 60, cy: 60, r, class: 'track' }));
    if (pct !== null) {
      ring.append(svg('circle', { cx: 60, cy: 60, r, class: 'arc', transform: 'rotate(-90 60 60)',
        'stroke-dasharray': (len * pct / 100).toFixed(2) + ' ' + len.toFixed(2) }));
    }
    box.append(el('div', { class: 'fefo-main' }, ring,
      el('div', { class: 'fefo-text' },
        el('div', { class: 'value', 'data-fefo': 'fefo_efficiency_pct',
                    'data-value': pct === null ? '' : String(pct) },
           pct === null ? '—' : nf2.format(pct), pct === null ? null : el('span', { class: 'unit' }, '%')),
        el('div', { class: 'label' }, pct === null ? 'sin pedidos enviados en la ventana'
          : 'de los pedidos enviados siguieron FEFO'))));
    box.append(el('dl', { class: 'pairs' },
      el('dt', {}, 'Pedidos enviados'),
      el('dd', { 'data-fefo': 'shipped_orders', 'data-value': String(f.shipped_orders) }, nf.format(f.shipped_orders)),
      el('dt', {}, 'Conformes a FEFO'),
      el('dd', { 'data-fefo': 'fefo_compliant_orders', 'data-value': String(f.fefo_compliant_orders) },
        nf.format(f.fefo_compliant_orders))));
  }

  function renderOrders(o) {
    const box = $('orders');
    box.replaceChildren();
    box.append(figure('orders', 'orders_last_hour', 'Pedidos (última hora)', o.orders_last_hour, { strong: true }));
    box.append(figure('orders', 'shipped_last_hour', 'Enviados (última hora)', o.shipped_last_hour, { strong: true }));
    const total = o.per_hour.reduce((a, h) => a + h.created, 0);
    box.append(figure('orders', 'created_24h', 'Pedidos (24 h)', total));
    renderChart(o.per_hour);
  }

  /* Top of the y axis: 4 gridlines at whole, round steps (1, 2, 2.5, 5 × 10^k). */
  function niceMax(v) {
    const raw = Math.max(1, v / 4);
    const p = Math.pow(10, Math.floor(Math.log10(raw)));
    for (const m of [1, 2, 2.5, 5, 10]) {
      if (m === 2.5 && p < 10) continue; /* keep the steps whole */
      if (m * p >= raw) return 4 * m * p;
    }
    return 40 * p;
  }

  /* Drawn at the container's own width (1 SVG unit = 1 CSS pixel), so the
   * labels stay readable on a phone; redrawn when the window is resized. */
  let lastHours = null;

  function renderChart(hours) {
    lastHours = hours;
    const box = $('chart');
    const W = Math.max(300, Math.floor(box.clientWidth - 28) || 760);
    const H = W < 560 ? 190 : 230, L = 38, R = 6, T = 12, B = 26;
    const series = [
      { key: 'created', label: 'Creados', cls: 's-created' },
      { key: 'shipped', label: 'Enviados', cls: 's-shipped' },
      { key: 'cancelled', label: 'Cancelados', cls: 's-cancelled' },
    ];
    const max = niceMax(Math.max(1, ...hours.map((h) => Math.max(h.created, h.shipped, h.cancelled))));
    const plotW = W - L - R, plotH = H - T - B;
    const slot = plotW / hours.length, bw = Math.max(2, (slot - 4) / series.length);
    const y = (v) => T + plotH - (v / max) * plotH;

    const s = svg('svg', { viewBox: `0 0 ${W} ${H}`, width: W, height: H, class: 'bars', role: 'img',
      'aria-label': 'Pedidos por hora en las últimas 24 horas' });
    for (let i = 0; i <= 4; i++) {
      const v = (max / 4) * i, yy = y(v);
      s.append(svg('line', { x1: L, x2: W - R, y1: yy, y2: yy, class: i ? 'grid' : 'axis' }));
      s.append(svg('text', { x: L - 6, y: yy + 4, class: 'tick', 'text-anchor': 'end' }, nf.format(v)));
    }
    hours.forEach((h, i) => {
      const x0 = L + i * slot + 2;
      const g = svg('g', { 'data-hour': h.hour, 'data-created': h.created,
        'data-shipped': h.shipped, 'data-cancelled': h.cancelled });
      const d = new Date(h.hour);
      const hh = String(d.getUTCHours()).padStart(2, '0');
      g.append(svg('title', {}, `${hh}:00 UTC — creados ${h.created}, enviados ${h.shipped}, cancelados ${h.cancelled}`));
      g.append(svg('rect', { x: x0 - 2, y: T, width: slot, height: plotH, class: 'hover' }));
      series.forEach((se, k) => {
        const v = h[se.key];
        if (v > 0) {
          const top = y(v);
          g.append(svg('rect', { x: (x0 + k * bw).toFixed(1), y: top.toFixed(1), width: (bw - 1).toFixed(1),
            height: (T + plotH - top).toFixed(1), rx: 1.5, class: 'bar ' + se.cls }));
        }
      });
      const every = W < 560 ? 6 : 3;
      if (i % every === 0 || i === hours.length - 1) {
        const last = i === hours.length - 1;
        s.append(svg('text', { x: (last ? W - R : x0 + slot / 2 - 2).toFixed(1), y: H - 8, class: 'tick',
          'text-anchor': last ? 'end' : 'middle' }, last ? 'ahora' : hh + 'h'));
      }
      s.append(g);
    });
    const legend = el('div', { class: 'legend' },
      ...series.map((se) => el('span', { class: 'key ' + se.cls }, se.label)));
    $('chart').replaceChildren(s, legend);
  }

  /* ------------------------------------------------------------ start */

  document.addEventListener('DOMContentLoaded', () => {
    $('login-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      const t = $('token').value.trim();
      if (!t) return;
      sessionStorage.setItem(TOKEN_KEY, t);
      $('token').value = '';
      refresh();
    });
    $('logout').addEventListener('click', () => {
      sessionStorage.removeItem(TOKEN_KEY);
      showLogin();
    });
    let resizing = null;
    window.addEventListener('resize', () => {
      clearTimeout(resizing);
      resizing = setTimeout(() => { if (lastHours && !$('panel').hidden) renderChart(lastHours); }, 150);
    });
    document.addEventListener('visibilitychange', () => {
      if (!document.hidden && token()) refresh();
    });
    if (token()) refresh();
    else showLogin();
  });
})();
