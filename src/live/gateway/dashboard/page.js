// Fare's live dashboard, in the browser (page.js): asks for an access key (kept in sessionStorage), reads
// GET /v1/dashboard with it, then GET /v1/dashboard/stream (server-sent events, read with fetch and a
// stream reader: EventSource cannot send the Authorization header) and redraws every table and chart
// at each snapshot. Plain browser JavaScript, no build step; charts by echarts (window.echarts).
'use strict';

(() => {
  const KEY = 'fare-dashboard-key';
  /** Okabe–Ito, one colour per price class in price-table order; charts also vary the symbol. */
  const PALETTE = ['#0072B2', '#E69F00', '#009E73', '#CC79A7', '#56B4E9', '#D55E00', '#F0E442', '#000000'];
  const SYMBOLS = ['circle', 'rect', 'triangle', 'diamond', 'pin', 'arrow', 'roundRect', 'emptyCircle'];
  /** The same symbols as text, for the legends (echarts' simple build draws none). */
  const MARKS = ['●', '■', '▲', '◆', '⬟', '➤', '▢', '○'];
  const $ = (id) => document.getElementById(id);

  let live = true;
  let stream = null; // AbortController of the stream being read
  let retry = null;
  let last = null;
  const charts = {};

  // ---- small helpers ----
  const el = (tag, attrs, ...children) => {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs ?? {})) {
      if (v === undefined || v === null) continue;
      if (k === 'class') e.className = v;
      else if (k.startsWith('data-') || k.startsWith('aria-') || k === 'scope' || k === 'type' || k === 'title') e.setAttribute(k, String(v));
      else e[k] = v;
    }
    for (const c of children) if (c !== undefined && c !== null) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    return e;
  };
  const fmt = (v, digits = 1) => (v === null || v === undefined || Number.isNaN(v) ? '—' : Number(v).toFixed(digits));
  const money = (v) => (v === null || v === undefined ? 'none' : String(Number(Number(v).toPrecision(6))));
  const percent = (f) => (f > 0 && f < 0.0001 ? '< 0.01 %' : `${Number((f * 100).toPrecision(3))} %`);
  const mb = (bytes) => fmt(bytes / (1024 * 1024), 1);
  const colour = (i) => PALETTE[i % PALETTE.length];
  const swatch = (i) => el('span', { class: 'swatch', 'aria-hidden': 'true', style: `background:${colour(i)}` });
  const classIndex = (name) => (last?.latency.classes ?? []).findIndex((c) => c.name === name);
  const classCell = (name, i) => el('td', { class: 'text', 'data-col': 'class' }, i >= 0 ? swatch(i) : null, name);
  const note = (id, part) => {
    const n = $(id);
    n.hidden = part.reported !== false && part.note === undefined;
    n.textContent = part.note ?? '';
  };

  /** Replaces a table body's rows, keeping keyboard focus on the element with the same data-key. */
  function fillBody(table, rows) {
    const body = $(table).tBodies[0];
    const focused = document.activeElement;
    const key = focused && body.contains(focused) ? focused.getAttribute('data-key') : null;
    body.replaceChildren(...rows);
    if (key !== null) body.querySelector(`[data-key="${CSS.escape(key)}"]`)?.focus();
  }

  // ---- status and key ----
  const status = (text, error = false) => {
    $('status').textContent = text;
    $('status').className = error ? 'note error' : 'note';
  };
  const key = () => sessionStorage.getItem(KEY);
  const auth = () => ({ Authorization: `Bearer ${key()}` });

  $('key-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const value = $('key').value.trim();
    if (!/^[^:\s]+:\S+$/.test(value)) {
      status('An access key is <id>:<secret>, as fare tenant create prints it.', true);
      return;
    }
    sessionStorage.setItem(KEY, value);
    $('key').value = '';
    void connect();
  });
  $('forget').addEventListener('click', () => {
    sessionStorage.removeItem(KEY);
    stopStream();
    // A fresh page: nothing read with the key stays on screen.
    window.location.reload();
  });
  $('stream-toggle').addEventListener('click', () => {
    live = !live;
    $('stream-toggle').setAttribute('aria-pressed', String(live));
    $('stream-toggle').textContent = `Live updates: ${live ? 'on' : 'off'}`;
    if (live && key() !== null) startStream();
    else {
      stopStream();
      if (key() !== null) status('Live updates paused.');
    }
  });
  $('receipt-close').addEventListener('click', () => {
    $('receipt-panel').hidden = true;
    $('recent-table').querySelector('button')?.focus();
  });

  async function connect() {
    stopStream();
    status('Connecting…');
    try {
      const res = await fetch('/v1/dashboard', { headers: auth() });
      const body = await res.json().catch(() => ({}));
      if (!res.ok) {
        if (res.status === 401 || res.status === 403) sessionStorage.removeItem(KEY);
        status(`The gateway refused the key (${res.status}): ${body.error?.message ?? res.statusText}`, true);
        return;
      }
      render(body);
      status(live ? 'Connected; live updates starting.' : 'Connected; live updates paused.');
      if (live) startStream();
    } catch (e) {
      status(`Could not reach the gateway: ${e.message}`, true);
    }
  }

  // ---- the stream: server-sent events read with fetch ----
  function stopStream() {
    clearTimeout(retry);
    retry = null;
    stream?.abort();
    stream = null;
  }

  function startStream() {
    stopStream();
    const ctl = new AbortController();
    stream = ctl;
    void (async () => {
      try {
        const res = await fetch('/v1/dashboard/stream', { headers: auth(), signal: ctl.signal });
        if (!res.ok || res.body === null) {
          const body = await res.json().catch(() => ({}));
          status(`Live updates refused (${res.status}): ${body.error?.message ?? res.statusText}`, true);
          return;
        }
        status('Live: updating about every second.');
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        let buf = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buf += value.replace(/\r\n?/g, '\n');
          let cut;
          while ((cut = buf.indexOf('\n\n')) >= 0) {
            onEvent(buf.slice(0, cut));
            buf = buf.slice(cut + 2);
          }
        }
        if (stream === ctl) {
          status('The live stream ended; reconnecting…');
          retry = setTimeout(startStream, 2000);
        }
      } catch (e) {
        if (ctl.signal.aborted) return;
        status(`The live stream broke (${e.message}); reconnecting…`, true);
        retry = setTimeout(startStream, 2000);
      }
    })();
  }

  function onEvent(block) {
    let event = 'message';
    const data = [];
    for (const line of block.split('\n')) {
      if (line === '' || line.startsWith(':')) continue; // a comment: the heartbeat
      const i = line.indexOf(':');
      const field = i < 0 ? line : line.slice(0, i);
      const value = i < 0 ? '' : line.slice(i + 1).replace(/^ /, '');
      if (field === 'event') event = value;
      else if (field === 'data') data.push(value);
    }
    if (event === 'snapshot' && data.length > 0) render(JSON.parse(data.join('\n')));
    else if (event === 'end') {
      stopStream();
      status(`The gateway ended the live stream: ${JSON.parse(data.join('\n') || '{}').reason ?? 'no reason given'}`, true);
    }
  }

  // ---- drawing ----
  function render(s) {
    last = s;
    const classes = s.latency.classes;
    const total = classes.reduce((n, c) => n + c.answered, 0);
    const parts = classes.map((c) => `${c.name} ${c.answered} answered${c.recent.p99Ms === null ? '' : `, p99 ${fmt(c.recent.p99Ms)} ms`}`);
    // Rewritten only when its numbers change: it is a live region, read out at each change.
    const summary = s.latency.reported
      ? `${total} jobs answered since the gateway started — ${parts.join('; ')}.`
      : `${s.latency.note ?? 'No latency figures'}.`;
    if ($('summary').textContent !== summary) $('summary').textContent = summary;
    $('updated').textContent = `Updated at ${new Date(s.at).toLocaleTimeString()}.`;
    $('summary').setAttribute('data-total', String(total));
    $('viewer').textContent = s.viewer.admin
      ? `Signed in as an administrator of tenant ${s.viewer.tenant}: every tenant's spend and invocations are shown.`
      : `Signed in as tenant ${s.viewer.tenant}: your own spend and invocations, and the platform's figures by class.`;
    renderClasses(s);
    renderQueues(s);
    renderMachines(s);
    renderIdle(s);
    renderSpend(s);
    renderRecent(s);
    renderCharts(s);
  }

  function renderClasses(s) {
    note('latency-note', s.latency);
    $('recent-seconds').textContent = String(s.latency.recentSeconds);
    fillBody('classes-table', s.latency.classes.map((c, i) => el('tr', { 'data-class': c.name },
      el('th', { scope: 'row', class: 'text' }, swatch(i), c.name),
      el('td', { 'data-col': 'price' }, String(c.price)),
      el('td', { 'data-col': 'answered' }, String(c.answered)),
      el('td', { 'data-col': 'recent' }, String(c.recent.count)),
      el('td', { 'data-col': 'per-second' }, fmt(c.recent.perSecond, 2)),
      el('td', { 'data-col': 'p50' }, fmt(c.recent.p50Ms)),
      el('td', { 'data-col': 'p99' }, fmt(c.recent.p99Ms)))));
  }

  function renderQueues(s) {
    note('queues-note', s.queues);
    const head = $('queues-table').tHead;
    head.replaceChildren(el('tr', {}, el('th', { scope: 'col' }, 'Shard'), ...s.queues.classes.map((name, i) => el('th', { scope: 'col' }, swatch(i), name))));
    fillBody('queues-table', s.queues.shards.map((sh) => el('tr', { 'data-shard': sh.id },
      el('th', { scope: 'row' }, String(sh.id)), ...sh.queued.map((n, i) => el('td', { 'data-class': s.queues.classes[i] }, String(n))))));
  }

  function renderMachines(s) {
    note('machines-note', s.machines);
    const rows = [];
    for (const w of s.machines.workers) {
      for (const r of w.instances) {
        rows.push(el('tr', { 'data-machine': w.machine, 'data-class': r.cls },
          el('th', { scope: 'row' }, String(w.machine)), classCell(r.cls, classIndex(r.cls)),
          el('td', { 'data-col': 'running' }, String(r.running)), el('td', { 'data-col': 'frozen' }, String(r.frozen)),
          el('td', { 'data-col': 'idle' }, String(r.idle)), el('td', { 'data-col': 'swapped' }, String(r.swapped)),
          el('td', {}, mb(r.residentBytes)), el('td', {}, mb(r.swappedBytes))));
      }
    }
    fillBody('machines-table', rows);
  }

  function renderIdle(s) {
    note('idle-note', s.idle);
    const rows = [];
    for (const sh of s.idle.shards) {
      if (!sh.keepsIdleList) rows.push(el('tr', {}, el('th', { scope: 'row' }, String(sh.id)), el('td', { class: 'text', colSpan: 3 }, 'keeps no idle list (it places on its machines directly)')));
      else if (sh.entries.length === 0) rows.push(el('tr', {}, el('th', { scope: 'row' }, String(sh.id)), el('td', { class: 'text', colSpan: 3 }, 'no machine is idle')));
      for (const e of sh.entries) rows.push(el('tr', {}, el('th', { scope: 'row' }, String(sh.id)), el('td', {}, String(e.machine)), el('td', {}, mb(e.freeBytes)), el('td', {}, String(e.jobs))));
    }
    fillBody('idle-table', rows);
  }

  function renderSpend(s) {
    $('spend-month').textContent = s.spend.month;
    fillBody('spend-table', s.spend.tenants.map((t) => el('tr', { 'data-tenant': t.tenant },
      el('th', { scope: 'row', class: 'text' }, t.tenant),
      el('td', { 'data-col': 'spent' }, money(t.spentMicroCents)),
      el('td', { 'data-col': 'budget' }, money(t.budgetMicroCents)),
      el('td', { 'data-col': 'share' }, t.fraction === null ? '—' : percent(t.fraction)))));
  }

  function renderRecent(s) {
    note('recent-note', { note: s.recent.note });
    fillBody('recent-table', s.recent.entries.map((e) => {
      const r = e.receipt;
      const button = el('button', { type: 'button', 'data-key': e.requestId, 'aria-label': `Receipt of ${e.function} at ${e.time}` }, 'Show');
      button.addEventListener('click', () => void showReceipt(e));
      return el('tr', { 'data-request': e.requestId },
        el('td', { class: 'text' }, new Date(e.time).toLocaleTimeString()),
        el('td', { class: 'text' }, s.viewer.admin ? `${e.tenant}/${e.function}` : e.function),
        classCell(e.cls, classIndex(e.cls)),
        el('td', { class: `text${e.status === 'error' ? ' bad' : ''}` }, e.status === 'ok' ? 'ok' : `error${e.errorType ? ` (${e.errorType})` : ''}`),
        el('td', {}, fmt(e.durationMs)),
        el('td', {}, r ? fmt(r.latencyMs) : '—'),
        el('td', {}, r ? fmt(r.waitedMs) : '—'),
        el('td', {}, r ? String(r.preemptions) : '—'),
        el('td', {}, r ? fmt(r.ioWaitMs) : '—'),
        el('td', { class: `text${r && !r.ok ? ' bad' : ''}` }, r ? (r.ok ? 'passed' : `failed: ${r.findings.join(', ')}`) : 'no receipt'),
        el('td', {}, button));
    }));
  }

  async function showReceipt(e) {
    const panel = $('receipt-panel');
    $('receipt-h').textContent = `Receipt of ${e.function}, ${e.requestId}`;
    try {
      const res = await fetch(e.receiptUrl, { headers: auth() });
      const text = await res.text();
      let shown = text;
      try {
        shown = JSON.stringify(JSON.parse(text), null, 2);
      } catch {
        // not JSON: as it came
      }
      $('receipt-text').textContent = res.ok ? shown : `The gateway answered ${res.status}: ${shown}`;
    } catch (err) {
      $('receipt-text').textContent = `Could not read the receipt: ${err.message}`;
    }
    panel.hidden = false;
    panel.focus();
  }

  function chart(id) {
    if (typeof window.echarts === 'undefined') return null;
    if (charts[id] === undefined) {
      const c = window.echarts.init($(id), null, { renderer: 'canvas' });
      // Follows its box (the layout may change after the first drawing: fonts, wrapping, the window).
      if (typeof ResizeObserver === 'function') new ResizeObserver(() => c.resize()).observe($(id));
      charts[id] = c;
    }
    return charts[id];
  }

  function renderCharts(s) {
    const L = s.latency;
    const at = (i) => L.fromMs + i * 1000;
    // From half a minute before the first second with jobs (the whole window once it is full).
    const firsts = L.classes.map((c) => c.series.count.findIndex((n) => n > 0)).filter((i) => i >= 0);
    const start = firsts.length === 0 ? Math.max(0, L.seconds - 60) : Math.max(0, Math.min(...firsts) - 30);
    const line = (c, i, values, extra) => ({
      type: 'line', showSymbol: true, symbolSize: 6, symbol: SYMBOLS[i % SYMBOLS.length], connectNulls: false, color: colour(i),
      data: values.slice(start).map((v, k) => [at(start + k), v]), ...extra,
    });
    const base = (unit) => ({
      animation: false, aria: { enabled: true }, grid: { left: 50, right: 16, top: 30, bottom: 30 }, tooltip: { trigger: 'axis' },
      xAxis: { type: 'time' }, yAxis: { type: 'value', name: unit, nameGap: 8 },
    });
    const lat = chart('latency-chart');
    if (lat) {
      lat.setOption({
        ...base('ms'),
        series: L.classes.flatMap((c, i) => [
          line(c, i, c.series.p99Ms, { name: `${c.name} p99`, id: `${c.name}-p99` }),
          line(c, i, c.series.p50Ms, { name: `${c.name} p50`, id: `${c.name}-p50`, lineStyle: { type: 'dashed' } }),
        ]),
      }, { replaceMerge: ['series'] });
    }
    $('latency-chart').setAttribute('aria-label', `Latency per class, last ${L.seconds} s: ${L.classes.map((c) => `${c.name} p99 ${fmt(c.recent.p99Ms)} ms, p50 ${fmt(c.recent.p50Ms)} ms over the last ${L.recentSeconds} s`).join('; ') || 'no data'}`);
    const legend = (id, suffix) => {
      const key = L.classes.map((c) => c.name).join(',');
      if ($(id).getAttribute('data-classes') === key) return;
      $(id).setAttribute('data-classes', key);
      $(id).replaceChildren(...L.classes.map((c, i) => el('li', {}, el('span', { class: 'mark', 'aria-hidden': 'true', style: `color:${colour(i)}` }, MARKS[i % MARKS.length]), `${c.name}${suffix}`)));
    };
    legend('latency-legend', ' (p99 solid, p50 dashed)');
    legend('throughput-legend', '');
    const thr = chart('throughput-chart');
    if (thr) thr.setOption({ ...base('jobs/s'), series: L.classes.map((c, i) => line(c, i, c.series.count, { name: c.name, id: c.name, step: 'end', showSymbol: false })) }, { replaceMerge: ['series'] });
    $('throughput-chart').setAttribute('aria-label', `Jobs answered per second by class: ${L.classes.map((c) => `${c.name} ${fmt(c.recent.perSecond, 2)} per second`).join('; ') || 'no data'}`);
    const budgeted = s.spend.tenants.filter((t) => t.fraction !== null);
    const sp = chart('spend-chart');
    if (sp) {
      sp.setOption({
        animation: false, aria: { enabled: true }, grid: { left: 90, right: 16, top: 10, bottom: 30 }, tooltip: {},
        xAxis: { type: 'value', name: '% of budget', min: 0, max: (v) => Math.max(100, Math.ceil(v.max)), axisLabel: { formatter: '{value} %' } },
        yAxis: { type: 'category', data: budgeted.map((t) => t.tenant) },
        series: [{ type: 'bar', id: 'share', color: PALETTE[4], data: budgeted.map((t) => Number((t.fraction * 100).toPrecision(3))), label: { show: true, position: 'right', formatter: (p) => percent(p.value / 100) } }],
      });
    }
    $('spend-chart').setAttribute('aria-label', `Spend as a share of budget: ${budgeted.map((t) => `${t.tenant} ${percent(t.fraction)}`).join('; ') || 'no tenant with a budget'}`);
  }

  window.addEventListener('resize', () => Object.values(charts).forEach((c) => c.resize()));
  if (typeof window.echarts === 'undefined') {
    for (const id of ['latency-chart', 'throughput-chart', 'spend-chart']) $(id).textContent = 'The charts could not be loaded; the tables hold every number.';
  }
  if (key() !== null) void connect();
})();
