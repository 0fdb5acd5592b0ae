// LiteVL dashboard: a small single-page app over /admin/api (admin key required for every call).
// No framework and no chart library on purpose: the UI is three static files embedded in the service assembly, so
// it needs no npm build and no CDN (it works on an air-gapped machine); the one chart is a few lines of SVG.
'use strict';

const KEY_STORAGE = 'litevl-admin-key';
const STATES = ['Uploaded', 'Extracting', 'Extracted', 'Encoding', 'Encoded', 'Indexing', 'Indexed', 'Failed'];
const app = { session: null, timer: null, view: null, thumbs: new Map(), videoFilter: { q: '', state: '', tenant: '', page: 1 } };
const $ = (selector, root = document) => root.querySelector(selector);

class ApiError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

function esc(value) {
  return String(value ?? '').replace(/[&<>"']/g, c => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
}

function fmtSeconds(s) {
  if (s === null || s === undefined) return '–';
  if (s < 1) return `${Math.round(s * 1000)} ms`;
  if (s < 120) return `${s.toFixed(s < 10 ? 2 : 1)} s`;
  return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
}

function fmtTime(s) {
  const m = Math.floor(s / 60);
  const rest = s - m * 60;
  return `${m}:${rest.toFixed(1).padStart(4, '0')}`;
}

function fmtDate(iso) {
  return iso ? new Date(iso).toLocaleString() : '–';
}

function fmtBytes(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1048576) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1073741824) return `${(n / 1048576).toFixed(1)} MiB`;
  return `${(n / 1073741824).toFixed(2)} GiB`;
}

async function api(path, options = {}) {
  const key = sessionStorage.getItem(KEY_STORAGE);
  const headers = Object.assign({}, options.headers || {});
  if (key) headers.Authorization = `Bearer ${key}`;
  if (options.json !== undefined) {
    headers['Content-Type'] = 'application/json';
    options = Object.assign({}, options, { body: JSON.stringify(options.json) });
  }
  const response = await fetch(path, Object.assign({}, options, { headers }));
  if (!response.ok) {
    let problem = {};
    try { problem = await response.json(); } catch { problem = { title: response.statusText }; }
    const error = new ApiError(response.status, problem);
    if ((response.status === 401 || response.status === 403) && !options.signingIn) {
      showLogin(error.message);
    }
    throw error;
  }
  return response;
}

async function apiJson(path, options) {
  const response = await api(path, options);
  return response.status === 204 ? null : response.json();
}

// ---------- sign-in ----------

function showLogin(message) {
  sessionStorage.removeItem(KEY_STORAGE);
  app.session = null;
  stopPolling();
  $('#nav').hidden = true;
  $('#session').hidden = true;
  $('#view').hidden = true;
  $('#view').innerHTML = '';
  $('#login').hidden = false;
  $('#login-error').textContent = message || '';
  $('#login-key').focus();
}

async function signIn(key) {
  sessionStorage.setItem(KEY_STORAGE, key);
  try {
    app.session = await apiJson('/admin/api/session', { signingIn: true });
  } catch (e) {
    const why = e.status === 403 ? 'This key is not an admin key: ' : e.status === 401 ? 'Unknown or revoked key: ' : '';
    showLogin(why + e.message);
    return false;
  }
  $('#login').hidden = true;
  $('#nav').hidden = false;
  $('#session').hidden = false;
  $('#view').hidden = false;
  $('#mode').textContent = `${app.session.mode} mode · tenant ${app.session.tenant}`;
  return true;
}

// ---------- routing and polling ----------

function route() {
  const hash = location.hash.replace(/^#\/?/, '');
  const [name, arg] = hash.split('/');
  return { name: ['overview', 'videos', 'video', 'search'].includes(name) ? name : 'overview', arg };
}

async function render() {
  if (!app.session) return;
  stopPolling();
  const r = route();
  for (const a of document.querySelectorAll('#nav a')) {
    a.classList.toggle('active', a.dataset.route === r.name || (r.name === 'video' && a.dataset.route === 'videos'));
  }
  const view = { overview: OverviewView, videos: VideosView, video: VideoView, search: SearchView }[r.name];
  app.view = view;
  $('#view').innerHTML = view.html(r.arg);
  view.bind?.(r.arg);
  await refresh(r.arg);
  if (view.refresh) {
    app.timer = setInterval(() => refresh(r.arg), app.session.refreshSeconds * 1000);
  }
}

async function refresh(arg) {
  const view = app.view;
  if (!view?.refresh || !app.session) return;
  try {
    await view.refresh(arg);
    $('#updated').textContent = `updated ${new Date().toLocaleTimeString()}`;
  } catch (e) {
    if (!(e instanceof ApiError) || (e.status !== 401 && e.status !== 403)) {
      $('#updated').textContent = `refresh failed: ${e.message}`;
    }
  }
}

function stopPolling() {
  if (app.timer) clearInterval(app.timer);
  app.timer = null;
}

// Thumbnails need the Authorization header, so they are fetched and shown from object URLs (fetched once each).
async function thumbnail(url) {
  if (!app.thumbs.has(url)) {
    app.thumbs.set(url, api(url).then(r => r.blob()).then(b => URL.createObjectURL(b)).catch(() => ''));
  }
  return app.thumbs.get(url);
}

async function loadThumbnails(root) {
  await Promise.all([...root.querySelectorAll('img[data-src]')].map(async img => {
    const src = await thumbnail(img.dataset.src);
    if (src) img.src = src;
    img.removeAttribute('data-src');
  }));
}

// ---------- overview ----------

const OverviewView = {
  html: () => `
    <h2>Videos by state</h2>
    <div class="cards" id="counts"></div>
    <div class="grid2">
      <section class="panel">
        <h2>Ingest throughput <span class="muted" id="throughput-span"></span></h2>
        <div class="legend"><span><i style="background:#9db8f2"></i>uploaded (incl. retries)</span><span><i style="background:#1f9d55"></i>indexed</span></div>
        <div id="chart"></div>
      </section>
      <section class="panel">
        <h2>Stage latency <span class="muted">(recently indexed videos)</span></h2>
        <table id="latency"><thead><tr><th>stage</th><th>from → to</th><th class="num">videos</th><th class="num">p50</th><th class="num">p90</th><th class="num">p99</th><th class="num">max</th></tr></thead><tbody></tbody></table>
      </section>
    </div>
    <section class="panel">
      <h2>Queues</h2>
      <table id="queues"><thead><tr><th>queue</th><th class="num">waiting</th><th class="num">in progress</th><th class="num">consumers</th><th class="num">handled</th></tr></thead><tbody></tbody></table>
      <p class="note" id="queue-source"></p>
    </section>
    <section class="panel">
      <h2>Encoder workers</h2>
      <table id="encoders"><thead><tr><th>worker</th><th>provider</th><th>model</th><th>heartbeat</th><th class="num">batches</th><th class="num">segments</th><th class="num">last batch</th><th class="num">segments/s (1 min)</th><th>started</th></tr></thead><tbody></tbody></table>
    </section>
    <section class="panel" id="scaling-panel">
      <h2>Dynamic temporal scaling per layer</h2>
      <div id="scaling" class="scaling"><p class="muted">loading…</p></div>
      <p class="note">The model's learned 1 + tanh(α) of each vision layer's temporal branch, mean over the T frame slots:
        1 = as imported from BLIP, 0 = temporal branch off, 2 = the maximum. <code>litevl model inspect --model DIR --svg FILE</code> draws the same chart.</p>
    </section>`,

  // The model changes only with a deployment: its chart is fetched once per visit, not on every refresh.
  bind: () => loadScaling(),

  async refresh() {
    const o = await apiJson('/admin/api/overview');
    const cards = STATES.map(s => {
      const n = o.counts.find(c => c.state === s)?.count ?? 0;
      return `<a class="card state-${s}" data-testid="count-${s}" href="#/videos" data-state="${s}"><span class="n">${n}</span><span class="label">${s}</span></a>`;
    });
    cards.unshift(`<a class="card" data-testid="count-total" href="#/videos" data-state=""><span class="n">${o.total}</span><span class="label">all videos</span></a>`);
    $('#counts').innerHTML = cards.join('');
    for (const card of document.querySelectorAll('#counts a')) {
      card.addEventListener('click', () => { app.videoFilter = { q: '', state: card.dataset.state, tenant: '', page: 1 }; });
    }

    $('#throughput-span').textContent = `(last ${o.throughput.uploaded.length} min, per minute)`;
    $('#chart').innerHTML = barChart(o.throughput);

    $('#latency tbody').innerHTML = o.latencies.map(l => `
      <tr data-stage="${esc(l.stage)}"><td>${esc(l.stage)}</td><td class="muted">${esc(l.from)} → ${esc(l.to)}</td><td class="num" data-testid="latency-count">${l.count}</td>
      <td class="num">${fmtSeconds(l.p50)}</td><td class="num">${fmtSeconds(l.p90)}</td><td class="num">${fmtSeconds(l.p99)}</td><td class="num">${fmtSeconds(l.max)}</td></tr>`).join('');

    const q = o.queues;
    $('#queues tbody').innerHTML = q.queues.length === 0
      ? `<tr><td colspan="5" class="muted">${q.error ? esc(q.error) : 'no queue has received a message yet'}</td></tr>`
      : q.queues.map(x => `<tr data-queue="${esc(x.name)}"><td>${esc(x.name)}</td><td class="num">${x.waiting}</td><td class="num">${x.inProgress}</td><td class="num">${x.consumers}</td><td class="num">${x.handled ?? '–'}</td></tr>`).join('');
    $('#queue-source').textContent = `Source: ${q.description}.` + (q.error ? ` ${q.error}.` : '');
    $('#queue-source').dataset.source = q.source;

    $('#encoders tbody').innerHTML = o.encoders.length === 0
      ? '<tr><td colspan="9" class="muted">no encoder has reported yet</td></tr>'
      : o.encoders.map(w => `
        <tr data-worker="${esc(w.id)}"><td>${esc(w.id)}</td><td data-testid="provider">${esc(w.provider)}</td><td class="muted">${esc(w.modelVersion)}</td>
        <td><span class="badge ${w.stale ? 'stale' : 'alive'}">${w.stale ? 'stale' : 'alive'}</span> ${w.secondsSinceHeartbeat.toFixed(0)} s ago</td>
        <td class="num">${w.batches}</td><td class="num" data-testid="segments">${w.segments}</td><td class="num">${w.lastBatchSize}</td>
        <td class="num">${w.segmentsPerSecond.toFixed(2)}</td><td class="muted">${fmtDate(w.startedAt)}</td></tr>`).join('');
  },
};

/** The server draws the chart (the same ScalingChart code as `litevl model inspect --svg`); it is our own escaped SVG. */
async function loadScaling() {
  const box = $('#scaling');
  try {
    const svg = await (await api('/admin/api/model/temporal-scaling.svg')).text();
    if (box.isConnected) box.innerHTML = svg;
  } catch (e) {
    if (box.isConnected) box.innerHTML = `<p class="muted" data-testid="scaling-error">${esc(e.message)}</p>`;
  }
}

/** Two bar series per one-minute bucket, scaled to the larger maximum; totals as data attributes for tests. */
function barChart(t) {
  const n = t.uploaded.length;
  const width = 600, height = 160, left = 28, bottom = 18, top = 8;
  const max = Math.max(1, ...t.uploaded, ...t.indexed);
  const slot = (width - left) / n;
  const bar = Math.max(1, slot / 2 - 0.5);
  const y = v => top + (height - top - bottom) * (1 - v / max);
  let bars = '';
  for (let i = 0; i < n; i++) {
    const x = left + i * slot;
    const at = new Date(Date.parse(t.start) + i * t.bucketSeconds * 1000).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
    if (t.uploaded[i] > 0) bars += `<rect class="uploaded" x="${x.toFixed(1)}" y="${y(t.uploaded[i]).toFixed(1)}" width="${bar.toFixed(1)}" height="${(height - bottom - y(t.uploaded[i])).toFixed(1)}"><title>${at}: ${t.uploaded[i]} uploaded</title></rect>`;
    if (t.indexed[i] > 0) bars += `<rect class="indexed" x="${(x + bar).toFixed(1)}" y="${y(t.indexed[i]).toFixed(1)}" width="${bar.toFixed(1)}" height="${(height - bottom - y(t.indexed[i])).toFixed(1)}"><title>${at}: ${t.indexed[i]} indexed</title></rect>`;
  }
  const sum = a => a.reduce((s, v) => s + v, 0);
  const startLabel = new Date(t.start).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  return `<svg class="chart" viewBox="0 0 ${width} ${height}" preserveAspectRatio="none" data-uploaded-total="${sum(t.uploaded)}" data-indexed-total="${sum(t.indexed)}" role="img" aria-label="videos uploaded and indexed per minute">
    <line x1="${left}" y1="${height - bottom}" x2="${width}" y2="${height - bottom}" stroke="#c9ced8"/>
    <text x="0" y="${top + 8}">${max}</text><text x="0" y="${height - bottom}">0</text>
    <text x="${left}" y="${height - 4}">${startLabel}</text><text x="${width - 30}" y="${height - 4}">now</text>
    ${bars}</svg>`;
}

// ---------- videos ----------

const VideosView = {
  html: () => `
    <h2>Videos</h2>
    <form class="toolbar" id="video-filters" onsubmit="return false">
      <input id="video-q" type="search" placeholder="Search title, file name, tenant, failure reason or an id" value="${esc(app.videoFilter.q)}">
      <select id="video-state"><option value="">all states</option>${STATES.map(s => `<option ${s === app.videoFilter.state ? 'selected' : ''}>${s}</option>`).join('')}</select>
      <select id="video-tenant"><option value="">all tenants</option></select>
    </form>
    <p class="muted" id="videos-summary"></p>
    <table id="videos-table"><thead><tr><th>title</th><th>tenant</th><th>state</th><th class="num">segments</th><th class="num">size</th><th>uploaded</th><th>failure</th></tr></thead><tbody></tbody></table>
    <div class="pager"><button type="button" class="secondary" id="prev">← newer</button><span id="page"></span><button type="button" class="secondary" id="next">older →</button></div>`,

  bind() {
    let debounce;
    const changed = () => {
      clearTimeout(debounce);
      debounce = setTimeout(() => {
        app.videoFilter = { q: $('#video-q').value.trim(), state: $('#video-state').value, tenant: $('#video-tenant').value, page: 1 };
        refresh();
      }, 250);
    };
    $('#video-q').addEventListener('input', changed);
    $('#video-state').addEventListener('change', changed);
    $('#video-tenant').addEventListener('change', changed);
    $('#prev').addEventListener('click', () => { app.videoFilter.page = Math.max(1, app.videoFilter.page - 1); refresh(); });
    $('#next').addEventListener('click', () => { app.videoFilter.page += 1; refresh(); });
    apiJson('/admin/api/tenants').then(tenants => {
      $('#video-tenant').insertAdjacentHTML('beforeend', tenants.map(t => `<option value="${esc(t.id)}" ${t.id === app.videoFilter.tenant ? 'selected' : ''}>${esc(t.id)} (${t.videos})</option>`).join(''));
    }).catch(() => {});
  },

  async refresh() {
    const f = app.videoFilter;
    const params = new URLSearchParams({ page: f.page, pageSize: 50 });
    if (f.q) params.set('q', f.q);
    if (f.state) params.set('state', f.state);
    if (f.tenant) params.set('tenant', f.tenant);
    const page = await apiJson(`/admin/api/videos?${params}`);
    $('#videos-summary').textContent = `${page.total} video${page.total === 1 ? '' : 's'}` + (f.q || f.state || f.tenant ? ' match' : '');
    $('#videos-summary').dataset.total = page.total;
    $('#videos-table tbody').innerHTML = page.items.length === 0
      ? '<tr><td colspan="7" class="muted">no videos</td></tr>'
      : page.items.map(v => `
        <tr data-video-id="${v.id}">
          <td><a href="#/video/${v.id}">${esc(v.title || v.id)}</a></td><td>${esc(v.tenantId)}</td>
          <td><span class="badge state-${v.state}" data-testid="state">${v.state}</span></td>
          <td class="num">${v.segmentCount}</td><td class="num">${fmtBytes(v.sizeBytes)}</td><td class="muted">${fmtDate(v.createdAt)}</td>
          <td class="reason" data-testid="failure">${v.state === 'Failed' ? esc(`${v.failedStage}: ${v.failureReason}`) : ''}</td>
        </tr>`).join('');
    const pages = Math.max(1, Math.ceil(page.total / page.pageSize));
    $('#page').textContent = `page ${page.page} of ${pages}`;
    $('#prev').disabled = page.page <= 1;
    $('#next').disabled = page.page >= pages;
  },
};

// ---------- one video ----------

const VideoView = {
  html: id => `
    <p><a href="#/videos">← all videos</a></p>
    <h2 id="video-title">${esc(id)}</h2>
    <div id="video-meta" class="muted"></div>
    <div id="video-failure" class="failure" hidden></div>
    <div class="actions">
      <button type="button" id="action-retry" disabled title="Failed → Uploaded: run the pipeline again">Retry</button>
      <button type="button" id="action-reindex" class="secondary" disabled title="Extract, encode and index again">Re-index</button>
      <button type="button" id="action-delete" class="danger" disabled title="Rows, files and vector points">Delete</button>
      <span id="action-message" role="status"></span>
    </div>
    <div class="grid2">
      <section class="panel"><h2>Stage timeline</h2><ol class="timeline" id="timeline"></ol></section>
      <section class="panel"><h2>Segments</h2><div class="segments" id="segments"></div></section>
    </div>
    <section class="panel" id="ask-panel"><h2>Ask about this video</h2>
      <form class="toolbar" id="ask-form">
        <input id="ask-question" type="text" placeholder="A question, e.g. which way does the box move" required>
        <input id="ask-answers" type="text" placeholder="candidate answers, comma-separated (optional)">
        <button type="submit">Ask</button>
      </form>
      <p class="muted" id="ask-status" role="status">Answered by the model's video QA heads, over the segments that match the question best.</p>
      <div id="ask-result"></div>
    </section>`,

  bind(id) {
    const act = async (action, method, confirmText) => {
      if (confirmText && !confirm(confirmText)) return;
      $('#action-message').textContent = '…';
      try {
        await api(`/admin/api/videos/${id}${action ? '/' + action : ''}`, { method });
        if (method === 'DELETE') {
          app.videoFilter.page = 1;
          location.hash = '#/videos';
          return;
        }
        $('#action-message').textContent = `${action} requested`;
        await refresh(id);
      } catch (e) {
        $('#action-message').textContent = e.message;
      }
    };
    $('#action-retry').addEventListener('click', () => act('retry', 'POST'));
    $('#action-reindex').addEventListener('click', () => act('reindex', 'POST'));
    $('#action-delete').addEventListener('click', () => act('', 'DELETE', 'Delete this video: its rows, files and vector points? This cannot be undone.'));
    $('#ask-form').addEventListener('submit', async event => {
      event.preventDefault();
      const answers = $('#ask-answers').value.split(',').map(a => a.trim()).filter(a => a);
      const body = { question: $('#ask-question').value };
      if (answers.length) body.answers = answers;
      $('#ask-status').textContent = 'Asking…';
      $('#ask-status').removeAttribute('data-outcome');
      $('#ask-result').innerHTML = '';
      try {
        showAnswer(await apiJson(`/admin/api/videos/${id}/ask`, { method: 'POST', json: body }));
      } catch (e) {
        // The server's ProblemDetails says why (e.g. a model without QA heads, and how to add them).
        $('#ask-status').textContent = e.message;
        $('#ask-status').dataset.outcome = 'refused';
      }
    });
  },

  async refresh(id) {
    let v;
    try {
      v = await apiJson(`/admin/api/videos/${id}`);
    } catch (e) {
      if (e.status === 404) {
        $('#video-meta').textContent = 'This video does not exist (any more).';
        for (const b of document.querySelectorAll('.actions button')) b.disabled = true;
        return;
      }
      throw e;
    }
    $('#video-title').innerHTML = `${esc(v.title || v.originalFileName || v.id)} <span class="badge state-${v.state}" id="video-state">${v.state}</span>`;
    const facts = [`tenant ${v.tenantId}`, fmtBytes(v.sizeBytes), v.durationSeconds ? `${v.durationSeconds.toFixed(1)} s` : null,
      v.width ? `${v.width}×${v.height}` : null, `${v.segmentCount} segments`, v.modelVersion ? `model ${v.modelVersion}` : null,
      v.attempts ? `${v.attempts} re-drives` : null, `id ${v.id}`];
    $('#video-meta').textContent = facts.filter(Boolean).join(' · ');
    const failure = $('#video-failure');
    failure.hidden = v.state !== 'Failed';
    failure.innerHTML = v.state === 'Failed' ? `<strong>Failed at ${esc(v.failedStage)}:</strong> <span id="failure-reason">${esc(v.failureReason)}</span>` : '';
    $('#action-retry').disabled = !v.actions.retry;
    $('#action-reindex').disabled = !v.actions.reindex;
    $('#action-delete').disabled = !v.actions.delete;
    $('#timeline').innerHTML = v.timeline.map((t, i) => `
      <li class="state-${t.state}" data-state="${t.state}"><strong>${t.state}</strong> <span class="muted">${fmtDate(t.at)}${i > 0 ? ` · +${fmtSeconds(t.secondsSincePrevious)}` : ''}</span>
      ${t.detail ? `<div class="muted">${esc(t.detail)}</div>` : ''}</li>`).join('');
    const signature = v.segments.map(s => `${s.index}:${s.encoded}`).join(',');
    const container = $('#segments');
    if (container.dataset.signature !== signature) {
      container.dataset.signature = signature;
      container.innerHTML = v.segments.length === 0 ? '<p class="muted">no segments (yet)</p>' : v.segments.map(s => `
        <div class="segment" data-index="${s.index}"><img alt="segment ${s.index}" data-src="${s.thumbnailUrl}">
        <div>#${s.index} · ${fmtTime(s.start)}–${fmtTime(s.end)}</div><div class="muted">${s.frameTimes.length} frames · ${s.encoded ? 'encoded' : 'not encoded'}</div></div>`).join('');
      await loadThumbnails(container);
    }
  },
};

// A probability as a percentage; a random test model's are tiny, so those keep their exponent rather than show 0.0 %.
function fmtPercent(p) {
  const percent = p * 100;
  return (percent >= 0.05 || percent === 0 ? percent.toFixed(1) : percent.toExponential(1)) + ' %';
}

function showAnswer(r) {
  const a = r.answer;
  $('#ask-status').textContent = `${a.mode} · model ${a.modelVersion} (${r.source})`;
  $('#ask-status').dataset.outcome = 'answered';
  $('#ask-result').innerHTML = `
    <p class="answer"><strong id="ask-answer">${esc(a.answer)}</strong> <span id="ask-score">${fmtPercent(a.score)}</span></p>
    <p class="muted" id="ask-evidence" data-segment-index="${a.segment.index}">${a.evidenceTime != null ? `evidence at ${fmtTime(a.evidenceTime)}, ` : ''}segment #${a.segment.index} (${fmtTime(a.segment.start)}–${fmtTime(a.segment.end)})</p>
    ${a.alternatives.length ? `<ol class="muted" id="ask-alternatives">${a.alternatives.map(x => `<li>${esc(x.answer)} · ${fmtPercent(x.score)}</li>`).join('')}</ol>` : ''}`;
}

// ---------- search ----------

const SearchView = {
  html: () => {
    const local = app.session.searchMode === 'in-process';
    const scope = local
      ? '<select id="search-tenant" aria-label="tenant"></select>'
      : '<input id="search-tenant-key" type="password" placeholder="tenant API key (default: your admin key)" aria-label="tenant key">';
    return `
      <h2>Search</h2>
      <form class="toolbar" id="search-form">
        ${scope}
        <input id="search-query" type="text" placeholder="Describe a moment, e.g. a box moving across the frame" required>
        <label class="muted">videos <input id="search-limit" type="number" min="1" max="50" value="5" style="width:64px"></label>
        <button type="submit">Search</button>
      </form>
      <p class="muted" id="search-status">${app.session.searchMode === 'unavailable' ? 'Search is not configured for this dashboard (LiteVL:Dashboard:QueryApiUrl).' : local ? 'Searches run in this process, over the chosen tenant\'s videos.' : 'Searches are forwarded to the Query API, which searches the tenant of the key.'}</p>
      <div id="search-results"></div>`;
  },

  bind() {
    if ($('#search-tenant')) {
      apiJson('/admin/api/tenants').then(tenants => {
        const withVideos = tenants.filter(t => t.videos > 0);
        $('#search-tenant').innerHTML = (withVideos.length ? withVideos : tenants).map(t => `<option value="${esc(t.id)}">${esc(t.id)} (${t.videos} videos)</option>`).join('');
      }).catch(() => {});
    }
    $('#search-form').addEventListener('submit', async event => {
      event.preventDefault();
      const body = { query: $('#search-query').value, limit: Number($('#search-limit').value) || 5 };
      if ($('#search-tenant')) body.tenant = $('#search-tenant').value;
      if ($('#search-tenant-key')?.value) body.tenantKey = $('#search-tenant-key').value;
      $('#search-status').textContent = 'Searching…';
      $('#search-results').innerHTML = '';
      try {
        const result = await apiJson('/admin/api/search', { method: 'POST', json: body });
        showResults(result);
      } catch (e) {
        $('#search-status').textContent = e.message;
      }
    });
  },
};

function showResults(r) {
  const hits = r.hits;
  const segments = hits.reduce((n, h) => n + h.segments.length, 0);
  $('#search-status').textContent = `${hits.length} video${hits.length === 1 ? '' : 's'}, ${segments} segments · ${r.reranked ? 're-ranked' : 'coarse ranking'} · model ${r.modelVersion} · ${r.timings.totalMs.toFixed(0)} ms (${r.source})`
    + (r.warnings.length ? ` · ${r.warnings.join('; ')}` : '');
  $('#search-status').dataset.hits = hits.length;
  $('#search-results').innerHTML = hits.map((h, rank) => `
    <article class="hit" data-video-id="${h.videoId}" data-rank="${rank}">
      <h3>${rank + 1}. <a href="#/video/${h.videoId}">${esc(h.title || h.videoId)}</a> <span class="muted">score ${h.score.toFixed(3)}</span></h3>
      ${h.segments.map(s => segmentHit(h, s)).join('')}
    </article>`).join('');
  loadThumbnails($('#search-results'));
  for (const strip of document.querySelectorAll('#search-results .frames')) drawFrames(strip);
}

function segmentHit(h, s) {
  const span = Math.max(1e-6, s.end - s.start);
  const evidence = s.evidenceTime;
  const marker = evidence === null ? '' : `<div class="marker" style="left: calc(${(100 * (evidence - s.start) / span).toFixed(2)}% - 2px)" title="evidence ${fmtTime(evidence)}"></div>`;
  return `
    <div class="segment-hit" data-segment-index="${s.index}" data-start="${s.start}" data-end="${s.end}" data-evidence-time="${evidence ?? ''}" data-evidence-frame="${s.evidenceFrame ?? ''}">
      <img class="thumb" alt="segment ${s.index}" data-src="${s.thumbnailUrl}">
      <div>
        <div><strong class="times">${fmtTime(s.start)}–${fmtTime(s.end)}</strong> · segment ${s.index} · score ${s.score.toFixed(3)}
          <span class="muted">(match logit ${s.matchLogit?.toFixed(3) ?? '–'}, coarse ${s.coarseScore.toFixed(3)})</span></div>
        <div class="evidence-label">${evidence === null ? 'no evidence frame' : `evidence at <strong>${fmtTime(evidence)}</strong> — frame ${s.evidenceFrame + 1} of ${s.frameTimes.length}, highlighted`}</div>
        <div class="timebar">${marker}</div>
        <div class="frames" data-url="${s.framesUrl}">${s.frameTimes.map((t, i) => `<canvas width="1" height="1" data-frame="${i}" data-time="${t}" title="${fmtTime(t)}" class="${i === s.evidenceFrame ? 'evidence' : ''}"></canvas>`).join('')}</div>
      </div>
    </div>`;
}

/** The segment's sampled frames come as raw RGB (T × size × size × 3); each is drawn on its canvas. */
async function drawFrames(strip) {
  try {
    const response = await api(`${strip.dataset.url}?size=64`);
    const size = Number(response.headers.get('X-Frame-Size'));
    const bytes = new Uint8Array(await response.arrayBuffer());
    strip.querySelectorAll('canvas').forEach((canvas, t) => {
      canvas.width = size;
      canvas.height = size;
      const ctx = canvas.getContext('2d');
      const image = ctx.createImageData(size, size);
      const base = t * size * size * 3;
      for (let p = 0; p < size * size; p++) {
        image.data[p * 4] = bytes[base + p * 3];
        image.data[p * 4 + 1] = bytes[base + p * 3 + 1];
        image.data[p * 4 + 2] = bytes[base + p * 3 + 2];
        image.data[p * 4 + 3] = 255;
      }
      ctx.putImageData(image, 0, 0);
    });
    strip.dataset.loaded = 'true';
  } catch {
    strip.dataset.loaded = 'failed';
  }
}

// ---------- start ----------

$('#login-form').addEventListener('submit', async event => {
  event.preventDefault();
  if (await signIn($('#login-key').value.trim())) {
    $('#login-key').value = '';
    await render();
  }
});
$('#sign-out').addEventListener('click', () => showLogin(''));
window.addEventListener('hashchange', render);

(async () => {
  const key = sessionStorage.getItem(KEY_STORAGE);
  if (key && await signIn(key)) {
    await render();
  } else if (!key) {
    showLogin('');
  }
})();
