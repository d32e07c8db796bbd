// The Jumpgate dashboard: one server-sent event stream per page (snapshots at most once a
// second, only when something changed), rendered with plain DOM calls; text goes in as text.
'use strict';

(() => {
  const csrf = document.querySelector('meta[name="jumpgate-csrf"]').content;
  const isAdmin = document.body.dataset.role === 'admin';
  const $ = (selector) => document.querySelector(selector);

  let snapshot = null;
  let snapshotAt = 0;
  let adminVersion = null;
  const previous = new Map(); // stream id -> { bytes, at }: the last snapshot's counts, for rates

  // ---- small helpers -------------------------------------------------------------------------

  function el(tag, attributes, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (name === 'className') node.className = value;
      else node.setAttribute(name, value === true ? '' : String(value));
    }
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : String(child));
    }
    return node;
  }

  function cell(label, content, className) {
    return el('td', { 'data-label': label, className }, content);
  }

  function bytes(n) {
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let value = n;
    let unit = 0;
    while (value >= 1024 && unit < units.length - 1) { value /= 1024; unit++; }
    return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
  }

  function age(since) {
    const seconds = Math.max(0, Math.floor((Date.now() - Date.parse(since)) / 1000));
    if (seconds < 60) return `${seconds} s`;
    if (seconds < 3600) return `${Math.floor(seconds / 60)} min ${seconds % 60} s`;
    if (seconds < 86400) return `${Math.floor(seconds / 3600)} h ${Math.floor((seconds % 3600) / 60)} min`;
    return `${Math.floor(seconds / 86400)} d ${Math.floor((seconds % 86400) / 3600)} h`;
  }

  function agoCell(label, since) {
    return cell(label, el('span', { className: 'age', 'data-since': since }, age(since) + ' ago'), 'num');
  }

  function clock(time) {
    return new Date(time).toLocaleString();
  }

  function actionButton(action, target, label) {
    return el('button', { type: 'button', className: 'danger', 'data-action': action, 'data-target': target }, label);
  }

  function fill(table, rows, empty) {
    table.querySelector('tbody').replaceChildren(...rows);
    if (empty) empty.hidden = rows.length > 0;
  }

  // ---- rendering -----------------------------------------------------------------------------

  function renderStreams(streams) {
    const now = performance.now();
    const seen = new Set();
    const rows = streams.map((s) => {
      const total = s.bytes_up + s.bytes_down;
      const before = previous.get(s.id);
      const rate = before && now > before.at ? (total - before.bytes) / ((now - before.at) / 1000) : null;
      previous.set(s.id, { bytes: total, at: now, rate: rate ?? before?.rate ?? null });
      seen.add(s.id);
      const shown = previous.get(s.id).rate;
      return el('tr', { 'data-stream-id': s.id, 'data-user': s.user },
        cell('User', s.user),
        cell('Host', s.host),
        cell('Service', s.service),
        cell('Agent', s.agent || '–'),
        cell('Up', bytes(s.bytes_up), 'num'),
        cell('Down', bytes(s.bytes_down), 'num'),
        cell('Rate', shown === null ? '–' : `${bytes(Math.max(0, Math.round(shown)))}/s`, 'num rate'),
        cell('Age', el('span', { className: 'age', 'data-since': s.started, 'data-plain': true }, age(s.started)), 'num'),
        isAdmin ? cell('', actionButton('disable-user', s.user, `Disable ${s.user}`), 'for-admin') : null);
    });
    for (const id of [...previous.keys()]) if (!seen.has(id)) previous.delete(id);
    fill($('#streams'), rows, $('#streams-empty'));
    $('#streams-count').textContent = `(${streams.length})`;
    $('#streams-now').textContent = streams.length;
  }

  function renderHosts(hosts) {
    const rows = [];
    for (const host of hosts) {
      host.services.forEach((service, index) => {
        const name = service.url ? el('a', { href: service.url }, service.name) : service.name;
        const replicas = service.replicas.length === 0
          ? el('span', { className: 'muted' }, 'none online')
          : el('span', {}, ...service.replicas.flatMap((r, i) => [
            i > 0 ? ', ' : null,
            el('span', { className: r.healthy ? 'ok' : 'bad', title: r.last_failure || '' },
              `${r.agent} ${r.healthy ? 'healthy' : 'unhealthy'} (${r.open_streams} open)`),
          ]));
        rows.push(el('tr', { 'data-host': host.name },
          cell('Host', index === 0 ? host.name : ''),
          cell('State', index === 0
            ? (host.online ? el('span', { className: 'ok' }, 'online')
              : el('span', { className: 'bad' }, host.last_seen ? `offline, seen ${age(host.last_seen)} ago` : 'offline'))
            : ''),
          cell('Service', el('span', {}, name, service.http ? el('span', { className: 'muted' }, ' (http)') : null)),
          cell('Replicas', replicas)));
      });
    }
    fill($('#hosts'), rows, $('#hosts-empty'));
  }

  function renderAgents(agents) {
    const rows = agents.map((a) => el('tr', { 'data-agent': a.name },
      cell('Agent', a.name),
      cell('Version', a.version || '–'),
      cell('Address', a.address || '–', 'for-admin'),
      cell('Connected', el('span', { title: clock(a.connected) }, el('span', { className: 'age', 'data-since': a.connected }, age(a.connected) + ' ago'))),
      agoCell('Heartbeat', a.last_heartbeat),
      cell('Trunks', a.trunks, 'num'),
      cell('Hosts', a.hosts.join(', ') || '–'),
      isAdmin ? cell('', actionButton('disable-agent', a.name, `Disable ${a.name}`), 'for-admin') : null));
    fill($('#agents'), rows, $('#agents-empty'));
  }

  function render() {
    renderStreams(snapshot.streams);
    renderHosts(snapshot.hosts);
    renderAgents(snapshot.agents);
  }

  // Ages move every second without asking the gateway anything. No snapshot for two seconds means
  // no stream's bytes moved (the gateway sends one whenever they do), so every rate is zero.
  setInterval(() => {
    if (snapshot && performance.now() - snapshotAt > 2000) {
      for (const node of document.querySelectorAll('#streams td.rate')) node.textContent = '0 B/s';
      for (const entry of previous.values()) entry.rate = 0;
    }
    for (const node of document.querySelectorAll('.age[data-since]')) {
      node.textContent = age(node.dataset.since) + (node.hasAttribute('data-plain') ? '' : ' ago');
    }
  }, 1000);

  // ---- sparklines ----------------------------------------------------------------------------

  function sparkline(svg, samples, points) {
    // A single sample still draws: a flat stroke one step wide.
    const values = samples.length === 1 ? [samples[0], samples[0]] : samples;
    const max = Math.max(1, ...values);
    const step = 360 / Math.max(1, points - 1);
    const offset = points - values.length; // the newest sample sits at the right edge
    const coordinates = values.map((v, i) => `${((offset + i) * step).toFixed(1)},${(38 - (v / max) * 36).toFixed(1)}`).join(' ');
    const line = document.createElementNS('http://www.w3.org/2000/svg', 'polyline');
    line.setAttribute('points', coordinates);
    const title = document.createElementNS('http://www.w3.org/2000/svg', 'title');
    title.textContent = `peak ${max}`;
    svg.replaceChildren(title, line);
  }

  function renderHistory(history) {
    const points = 3600 / history.interval_seconds;
    sparkline($('#spark-streams'), history.streams, points);
    sparkline($('#spark-bytes'), history.bytes, points);
    $('#bytes-hour').textContent = bytes(history.bytes.reduce((sum, b) => sum + b, 0));
  }

  // ---- admin ---------------------------------------------------------------------------------

  let adminLoading = null;
  let adminAgain = false;

  function message(text, bad) {
    const node = $('#admin-message');
    node.textContent = text;
    node.className = `message ${bad ? 'bad' : 'ok'}`;
  }

  async function loadAdmin() {
    if (adminLoading) { adminAgain = true; return; }
    const filters = new URLSearchParams();
    for (const [name, value] of new FormData($('#audit-filter'))) if (value) filters.set(name, value);
    adminLoading = fetch(`/dashboard/admin?${filters}`, { credentials: 'same-origin' });
    try {
      const response = await adminLoading;
      const body = await response.json();
      if (!response.ok) { message(body.message, true); return; }
      renderAdmin(body);
    } catch (error) {
      message(`could not load the admin lists: ${error}`, true);
    } finally {
      adminLoading = null;
      if (adminAgain) { adminAgain = false; loadAdmin(); }
    }
  }

  function renderAdmin(panel) {
    fill($('#users'), panel.users.map((u) => el('tr', { 'data-user': u.name },
      cell('User', u.name),
      cell('Groups', u.groups.map((g) => '@' + g).join(', ') || '–'),
      cell('State', u.disabled ? el('span', { className: 'bad' }, 'disabled') : 'enabled'),
      cell('', u.disabled ? '' : actionButton('disable-user', u.name, `Disable ${u.name}`)))));
    fill($('#agent-accounts'), panel.agents.map((a) => el('tr', { 'data-agent': a.name },
      cell('Agent', a.name),
      cell('Hosts', a.hosts || '–'),
      cell('State', a.disabled ? el('span', { className: 'bad' }, 'disabled') : 'enabled'),
      cell('', a.disabled ? '' : actionButton('disable-agent', a.name, `Disable ${a.name}`)))));
    fill($('#tokens'), panel.tokens.map((t) => el('tr', { 'data-token': t.id },
      cell('Token', t.id),
      cell('Kind', t.kind),
      cell('Of', t.principal),
      cell('Expires', t.expires ? clock(t.expires) : 'never'),
      cell('', actionButton('revoke-token', t.id, 'Revoke')))));
    fill($('#audit'), panel.audit.map((e) => el('tr', { 'data-event': e.event },
      cell('Time', clock(e.time), 'num'),
      cell('Event', e.event),
      cell('Outcome', e.outcome),
      cell('Who', [e.admin && `admin ${e.admin}`, e.user && `user ${e.user}`, e.agent && `agent ${e.agent}`].filter(Boolean).join(', ') || '–'),
      cell('Where', [e.host, e.service].filter(Boolean).join(':') || e.source || '–'),
      cell('Reason', e.reason || ''))));
  }

  async function act(button) {
    const { action, target } = button.dataset;
    const what = action === 'revoke-token' ? `Revoke token ${target}?` : `${button.textContent}? Their open connections close within seconds.`;
    if (!window.confirm(what)) return;
    button.disabled = true;
    try {
      const response = await fetch(`/dashboard/actions/${action}/${encodeURIComponent(target)}`, {
        method: 'POST', credentials: 'same-origin', headers: { 'X-Jumpgate-Csrf': csrf },
      });
      const body = await response.json();
      message(body.message, !response.ok);
    } catch (error) {
      message(`the gateway did not answer: ${error}`, true);
    } finally {
      button.disabled = false;
      loadAdmin();
    }
  }

  if (isAdmin) {
    document.addEventListener('click', (event) => {
      const button = event.target.closest('button[data-action]');
      if (button) act(button);
    });
    $('#audit-filter').addEventListener('submit', (event) => { event.preventDefault(); loadAdmin(); });
  }

  // ---- the event stream ----------------------------------------------------------------------

  const live = $('#live');
  const events = new EventSource('/dashboard/events');
  events.addEventListener('open', () => { live.textContent = 'live'; live.className = 'live on'; });
  events.addEventListener('error', () => { live.textContent = 'reconnecting…'; live.className = 'live off'; });
  events.addEventListener('snapshot', (event) => {
    snapshot = JSON.parse(event.data);
    snapshotAt = performance.now();
    render();
    if (isAdmin && snapshot.admin_version !== adminVersion) {
      adminVersion = snapshot.admin_version;
      loadAdmin();
    }
  });
  events.addEventListener('history', (event) => renderHistory(JSON.parse(event.data)));
  events.addEventListener('signedout', () => { events.close(); location.href = '/signin'; });
})();
