// The live page: one EventSource on /events. `history` brings what happened before the page was
// opened, then `item` (one image) and `stats` (once a second) keep it current. No build step:
// plain browser JavaScript, uPlot from the server's node_modules.
/* global uPlot, document, EventSource */
'use strict';

const MAX_ITEMS = 60;
const $ = (id) => document.getElementById(id);
const fmt = (n) => (n === null || n === undefined ? '–' : Number.isInteger(n) ? String(n) : n.toFixed(1));

const series = { t: [], rate: [], p50: [], p95: [], lag: [] };

function chart(el, labels, colors) {
  const width = Math.max(280, el.clientWidth || 320);
  return new uPlot(
    {
      width,
      height: 160,
      legend: { show: labels.length > 1 },
      scales: { x: { time: true }, y: { range: (_u, min, max) => [0, Math.max(1, max * 1.15)] } },
      series: [{}, ...labels.map((label, i) => ({ label, stroke: colors[i], width: 2, spanGaps: true }))],
      axes: [{}, { size: 48 }],
    },
    [[]].concat(labels.map(() => [])),
    el,
  );
}

const charts = {
  rate: chart($('chart-rate'), ['records/s'], ['#4f7cff']),
  latency: chart($('chart-latency'), ['p50', 'p95'], ['#1a7f37', '#c2410c']),
  lag: chart($('chart-lag'), ['lag'], ['#7c3aed']),
};

function redraw() {
  charts.rate.setData([series.t, series.rate]);
  charts.latency.setData([series.t, series.p50, series.p95]);
  charts.lag.setData([series.t, series.lag]);
}

function addPoint(p) {
  series.t.push(p.t);
  series.rate.push(p.rate);
  series.p50.push(p.p50);
  series.p95.push(p.p95);
  series.lag.push(p.lag);
  if (series.t.length > 600) for (const k of Object.keys(series)) series[k].shift();
  $('c-in').textContent = p.recordsIn;
  $('c-out').textContent = p.recordsOut;
  $('c-dead').textContent = p.deadLetters;
  $('c-rate').textContent = fmt(p.rate);
  $('c-lag').textContent = fmt(p.lag);
  const health = $('c-health');
  health.textContent = p.health;
  health.className = p.health === 'ok' ? 'ok' : 'bad';
}

function el(tag, props, ...children) {
  const node = document.createElement(tag);
  Object.assign(node, props);
  for (const child of children) node.append(child);
  return node;
}

function card(item) {
  const image = item.image ? el('img', { src: `/image/${item.id}`, alt: item.key }) : el('div', { className: 'noimg', textContent: 'no image' });
  const body = el('div', { className: 'body' }, el('div', { className: 'key', textContent: item.key, title: item.key }));
  if (item.ok) {
    body.append(el('div', { className: 'label', textContent: `${item.label} ${(item.probability * 100).toFixed(1)} %` }));
    const top = el('ul', { className: 'top' });
    for (const t of item.top) {
      const bar = el('div', { className: 'bar' });
      bar.style.width = `${Math.max(2, t.probability * 100)}%`;
      top.append(el('li', {}, el('span', { textContent: t.label }), el('span', { textContent: `${(t.probability * 100).toFixed(1)} %` })));
      top.append(el('li', {}, bar));
    }
    body.append(top);
  } else {
    body.append(el('div', { className: 'err', textContent: `${item.code}: ${item.reason}` }));
  }
  return el('li', { className: item.ok ? 'ok' : 'bad' }, image, body);
}

function addItem(item) {
  const feed = $('feed');
  const node = card(item);
  node.dataset.key = item.key;
  feed.prepend(node);
  while (feed.children.length > MAX_ITEMS) feed.lastChild.remove();
}

function addDeadLetter(item) {
  $('no-dead').hidden = true;
  const row = el('tr', {}, el('td', { textContent: item.key }), el('td', { className: 'code', textContent: item.code }), el('td', { textContent: item.reason }));
  $('dead').tBodies[0].prepend(row);
}

const events = new EventSource('/events');
events.addEventListener('open', () => {
  $('connection').textContent = 'live';
});
events.addEventListener('error', () => {
  $('connection').textContent = 'disconnected (the pipeline process stopped?) — retrying…';
});
events.addEventListener('history', (e) => {
  const { items, deadLetters, series: points } = JSON.parse(e.data);
  $('feed').replaceChildren();
  $('dead').tBodies[0].replaceChildren();
  for (const k of Object.keys(series)) series[k] = [];
  for (const item of items) addItem(item);
  for (const item of deadLetters) addDeadLetter(item);
  for (const p of points) addPoint(p);
  redraw();
});
events.addEventListener('item', (e) => {
  const item = JSON.parse(e.data);
  addItem(item);
  if (!item.ok) addDeadLetter(item);
});
events.addEventListener('stats', (e) => {
  addPoint(JSON.parse(e.data));
  redraw();
});
