// The xsignal dashboard: hash-routed pages over the /v1 API. Every value from the API reaches the
// page as text (textContent, attribute values), never as markup.
'use strict';

const SVG_NS = 'http://www.w3.org/2000/svg';
const TOKEN_KEY = 'xsignal-token';
const PAGE = 50;
const EXPORT_PAGE = 500;
const EXPORT_MAX = 20000;
const main = document.getElementById('main');
const numbers = new Intl.NumberFormat(undefined, { maximumFractionDigits: 2 });
let renderCount = 0;
let servedGeneration = null;
let topicLabels = null;

class NeedToken extends Error {}

// ------------------------------------------------------------------ API

async function api(path) {
  const token = sessionStorage.getItem(TOKEN_KEY);
  const headers = token ? { Authorization: 'Bearer ' + token } : {};
  const response = await fetch(path, { headers });
  if (response.status === 401) throw new NeedToken('a token is needed');
  let body = {};
  try {
    body = await response.json();
  } catch (_) {
    body = {};
  }
  if (!response.ok) throw new Error(body.error || response.status + ' ' + response.statusText);
  return body;
}

function query(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== '') search.set(key, value);
  }
  const text = search.toString();
  return text ? '?' + text : '';
}

// Every page of a paged list (at most `max` items).
async function allPages(path, params, max) {
  const items = [];
  let cursor = '';
  for (;;) {
    const page = await api(path + query({ ...params, limit: EXPORT_PAGE, cursor }));
    items.push(...page.items);
    if (!page.next_cursor || items.length >= max) return items.slice(0, max);
    cursor = page.next_cursor;
  }
}

async function labels() {
  if (!topicLabels) {
    const topics = await allPages('/v1/topics', {}, EXPORT_MAX);
    topicLabels = new Map(topics.map((topic) => [topic.id, topic.label]));
  }
  return topicLabels;
}

// ------------------------------------------------------------------ elements

function h(tag, attributes, ...children) {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') element.className = value;
    // Through the CSSOM: the content security policy refuses style attributes.
    else if (key === 'style') Object.assign(element.style, value);
    else if (key.startsWith('on')) element.addEventListener(key.slice(2), value);
    else element.setAttribute(key, value);
  }
  append(element, children);
  return element;
}

function append(element, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

function svg(tag, attributes, ...children) {
  const element = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(attributes || {})) element.setAttribute(key, value);
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

function link(href, ...children) {
  return h('a', { href }, ...children);
}

function fmt(value) {
  return typeof value === 'number' ? numbers.format(value) : '–';
}

function when(iso) {
  if (!iso) return '–';
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return date.toISOString().slice(0, 16).replace('T', ' ') + ' UTC';
}

function day(iso) {
  return iso ? new Date(iso).toISOString().slice(0, 10) : '–';
}

function signalHref(id) {
  return '#/signals/' + encodeURIComponent(id);
}

function topicHref(id) {
  return '#/topics/' + encodeURIComponent(id);
}

function searchHref(params) {
  return '#/search' + query(params);
}

function badge(text, kind) {
  return h('span', { class: 'badge ' + (kind || text) }, text);
}

function fact(value, label) {
  return h('div', { class: 'fact' }, h('b', {}, value), h('span', {}, label));
}

function panel(title, ...children) {
  return h('section', { class: 'panel' }, h('h3', {}, title), ...children);
}

// ------------------------------------------------------------------ charts

// Horizontal bars of a `{label: count}` map, largest first; `onpick(label)` makes rows links.
function bars(counts, options = {}) {
  const entries = Object.entries(counts || {}).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  const shown = entries.slice(0, options.max || 10);
  const top = Math.max(1, ...shown.map(([, count]) => count));
  if (!shown.length) return none();
  const box = h('div', { class: 'bars chart', 'data-points': shown.length });
  for (const [key, count] of shown) {
    const name = options.name ? options.name(key) : key;
    const label = options.href
      ? h('a', { class: 'label', href: options.href(key), title: name }, name)
      : h('span', { class: 'label', title: name }, name);
    box.append(
      h('div', { class: 'row' }, label,
        h('div', { class: 'track' }, h('div', { class: 'fill', style: { width: ((100 * count) / top).toFixed(1) + '%' } })),
        h('span', { class: 'num' }, fmt(count))));
  }
  return box;
}

// What an empty chart shows instead.
function none() {
  return h('p', { class: 'muted' }, 'no comments');
}

// A stacked negative / neutral / positive bar.
function sentimentBar(mix) {
  const total = (mix.negative || 0) + (mix.neutral || 0) + (mix.positive || 0);
  if (!total) return none();
  const bar = h('div', {
    class: 'sentiment chart',
    'data-points': 3,
    title: `negative ${mix.negative || 0}, neutral ${mix.neutral || 0}, positive ${mix.positive || 0}`,
  });
  for (const label of ['negative', 'neutral', 'positive']) {
    const share = total ? (100 * (mix[label] || 0)) / total : 0;
    bar.append(h('div', { class: label, style: { width: share.toFixed(1) + '%' } }));
  }
  return bar;
}

function sentimentLine(mix) {
  const total = (mix.negative || 0) + (mix.neutral || 0) + (mix.positive || 0);
  if (!total) return none();
  const pct = (count) => (total ? Math.round((100 * count) / total) : 0) + ' %';
  return h('div', {}, sentimentBar(mix),
    h('div', { class: 'muted' }, `${pct(mix.negative || 0)} negative · ${pct(mix.neutral || 0)} neutral · ${pct(mix.positive || 0)} positive (${fmt(total)})`));
}

function sparkline(values) {
  const width = 120;
  const height = 28;
  const top = Math.max(1e-9, ...values);
  const step = values.length > 1 ? width / (values.length - 1) : width;
  const points = values.map((value, index) => `${(index * step).toFixed(1)},${(height - 2 - (value / top) * (height - 4)).toFixed(1)}`);
  if (points.length === 1) points.push(`${width},${points[0].split(',')[1]}`);
  return svg('svg', { class: 'spark chart', width, height, viewBox: `0 0 ${width} ${height}`, 'data-points': values.length, role: 'img', 'aria-label': 'trend' },
    svg('polyline', { class: 'line-observed', points: points.join(' ') }));
}

// Comments per day as columns, every day of the span included.
function dayChart(days, height = 140, width = 640) {
  const keys = Object.keys(days || {}).sort();
  const series = [];
  if (keys.length) {
    const end = new Date(keys[keys.length - 1] + 'T00:00:00Z');
    for (let date = new Date(keys[0] + 'T00:00:00Z'); date <= end; date.setUTCDate(date.getUTCDate() + 1)) {
      const key = date.toISOString().slice(0, 10);
      series.push([key, days[key] || 0]);
    }
  }
  const plot = { left: 36, right: 8, top: 8, bottom: 20 };
  if (!series.length) return none();
  const chart = svg('svg', { class: 'chart', viewBox: `0 0 ${width} ${height}`, width: '100%', 'data-points': series.length, role: 'img', 'aria-label': 'comments per day' });
  const top = Math.max(1, ...series.map(([, count]) => count));
  const innerWidth = width - plot.left - plot.right;
  const innerHeight = height - plot.top - plot.bottom;
  const column = innerWidth / series.length;
  series.forEach(([key, count], index) => {
    const barHeight = (count / top) * innerHeight;
    chart.append(svg('rect', {
      class: 'observed', x: (plot.left + index * column + 0.5).toFixed(1), y: (plot.top + innerHeight - barHeight).toFixed(1),
      width: Math.max(0.5, column - 1).toFixed(1), height: barHeight.toFixed(1),
    }, svg('title', {}, `${key}: ${count}`)));
  });
  axes(chart, plot, width, height, fmt(top), series[0][0], series[series.length - 1][0]);
  return chart;
}

function axes(chart, plot, width, height, topLabel, firstLabel, lastLabel) {
  chart.append(
    svg('line', { class: 'axis', x1: plot.left, y1: height - plot.bottom, x2: width - plot.right, y2: height - plot.bottom }),
    svg('text', { x: plot.left - 4, y: plot.top + 9, 'text-anchor': 'end' }, topLabel),
    svg('text', { x: plot.left - 4, y: height - plot.bottom, 'text-anchor': 'end' }, '0'),
    svg('text', { x: plot.left, y: height - 5 }, firstLabel),
    svg('text', { x: width - plot.right, y: height - 5, 'text-anchor': 'end' }, lastLabel));
}

// A signal's chart as the detector saw it: the observed value of the window ending at each
// bucket (a trailing sum of the per-bucket counts; a sentiment shift's share as it is) against the
// baseline mean and the threshold, the flagged window shaded and the moment it was flagged marked.
function seriesChart(signal) {
  const share = signal.kind === 'sentiment_shift';
  const span = share ? 1 : Math.max(1, signal.series.window_buckets);
  const raw = signal.series.points;
  const points = raw.map((point, index) => {
    if (share) return point;
    let observed = 0;
    for (let back = Math.max(0, index - span + 1); back <= index; back++) observed += raw[back].observed;
    return { start: point.start, observed, baseline_mean: point.baseline_mean * span, threshold: point.threshold * span };
  });
  const width = 760;
  const height = 220;
  const plot = { left: 40, right: 8, top: 10, bottom: 22 };
  if (!points.length) return none();
  const chart = svg('svg', { class: 'chart', viewBox: `0 0 ${width} ${height}`, width: '100%', 'data-points': points.length, role: 'img', 'aria-label': 'observed against baseline and threshold' });
  const top = Math.max(share ? 1 : 1e-9, ...points.map((p) => Math.max(p.observed, p.threshold, p.baseline_mean))) * 1.08;
  const innerWidth = width - plot.left - plot.right;
  const innerHeight = height - plot.top - plot.bottom;
  const column = innerWidth / points.length;
  const x = (index) => plot.left + (index + 1) * column;
  const y = (value) => plot.top + innerHeight - (value / top) * innerHeight;
  const start = new Date(points[0].start).getTime();
  const bucket = signal.series.bucket_seconds * 1000;
  const at = (iso) => plot.left + ((new Date(iso).getTime() - start) / bucket) * column;
  const windowStart = Math.max(plot.left, at(signal.window_start));
  const windowEnd = Math.min(width - plot.right, at(signal.window_end));
  if (windowEnd > windowStart) {
    chart.append(svg('rect', { class: 'window', x: windowStart.toFixed(1), y: plot.top, width: (windowEnd - windowStart).toFixed(1), height: innerHeight }));
  }
  const line = (key) => points.map((point, index) => `${index ? 'L' : 'M'}${x(index).toFixed(1)},${y(point[key]).toFixed(1)}`).join('');
  const floor = y(0).toFixed(1);
  chart.append(svg('path', { class: 'area-observed', d: `M${x(0).toFixed(1)},${floor}` + line('observed').replace(/^M/, 'L') + `L${x(points.length - 1).toFixed(1)},${floor}Z` }));
  chart.append(svg('path', { class: 'line-observed', d: line('observed') }));
  chart.append(svg('path', { class: 'baseline', d: line('baseline_mean') }));
  chart.append(svg('path', { class: 'threshold', d: line('threshold') }));
  const flagged = at(signal.first_flagged);
  if (flagged >= plot.left && flagged <= width - plot.right) {
    chart.append(svg('line', { class: 'flagged', x1: flagged.toFixed(1), y1: plot.top, x2: flagged.toFixed(1), y2: plot.top + innerHeight }),
      svg('text', { x: (flagged - 3).toFixed(1), y: plot.top + 10, 'text-anchor': 'end' }, 'flagged'));
  }
  const peak = points.reduce((best, point) => (point.observed > best.observed ? point : best), points[0]);
  chart.append(svg('title', {}, `peak ${fmt(peak.observed)} in the window ending ${when(peak.start)}`));
  axes(chart, plot, width, height, share ? Math.round(top * 100) + ' %' : fmt(top), day(points[0].start), day(points[points.length - 1].start));
  return chart;
}

// ------------------------------------------------------------------ comments and CSV

function commentCard(comment) {
  const meta = [when(comment.timestamp), comment.source, comment.lang, comment.sentiment,
    comment.rating !== null && comment.rating !== undefined ? comment.rating + '★' : null,
    comment.author ? 'author ' + comment.author : null].filter(Boolean).join(' · ');
  return h('article', { class: 'comment ' + (comment.sentiment || ''), 'data-id': comment.id },
    h('div', { class: 'meta' }, meta, ' · ',
      comment.topic !== null && comment.topic !== undefined ? link(topicHref(comment.topic), 'topic ' + comment.topic) : 'no topic',
      comment.duplicate_of ? ' · repeats ' + comment.duplicate_of : ''),
    h('p', { lang: comment.lang === 'other' ? '' : comment.lang }, comment.text));
}

function commentList(comments) {
  return h('div', { class: 'comments' }, comments.map(commentCard));
}

// One CSV cell: quoted when needed; text that a spreadsheet would run as a formula is prefixed
// with an apostrophe.
function cell(value, isText) {
  if (value === undefined || value === null) return '';
  let text = typeof value === 'object' ? JSON.stringify(value) : String(value);
  if (isText && /^[=+\-@\t\r]/.test(text)) text = "'" + text;
  return /[",\r\n]/.test(text) ? '"' + text.replace(/"/g, '""') + '"' : text;
}

function toCsv(comments) {
  const metaKeys = [...new Set(comments.flatMap((comment) => Object.keys(comment.meta || {})))].sort();
  const fixed = ['id', 'timestamp', 'author', 'source', 'lang', 'rating', 'sentiment', 'sentiment_score', 'topic', 'duplicate_of', 'text'];
  const textual = new Set(['id', 'author', 'source', 'text', 'duplicate_of']);
  const lines = [fixed.concat(metaKeys.map((key) => 'meta.' + key)).map((name) => cell(name, true)).join(',')];
  for (const comment of comments) {
    const row = fixed.map((key) => cell(comment[key], textual.has(key)));
    for (const key of metaKeys) row.push(cell((comment.meta || {})[key], true));
    lines.push(row.join(','));
  }
  // The byte order mark makes spreadsheets read the file as UTF-8 (umlauts intact).
  return '\ufeff' + lines.join('\r\n') + '\r\n';
}

function download(name, text) {
  const url = URL.createObjectURL(new Blob([text], { type: 'text/csv;charset=utf-8' }));
  const anchor = h('a', { href: url, download: name });
  document.body.append(anchor);
  anchor.click();
  anchor.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

function exportButton(name, fetchAll) {
  const button = h('button', { class: 'secondary', type: 'button', 'data-export': name }, 'Export CSV');
  button.addEventListener('click', async () => {
    button.disabled = true;
    button.textContent = 'Exporting…';
    try {
      const comments = await fetchAll();
      download(name, toCsv(comments));
      button.textContent = `Exported ${fmt(comments.length)} rows`;
    } catch (error) {
      button.textContent = 'Export failed: ' + error.message;
    } finally {
      button.disabled = false;
    }
  });
  return button;
}

// A paged comment list with "more" and CSV export of the whole list.
function pagedComments(container, fetchPage, exportName, fetchAll) {
  const list = h('div', { class: 'comments' });
  const more = h('button', { class: 'secondary', type: 'button' }, 'More');
  const counter = h('span', { class: 'muted' });
  let cursor = '';
  let shown = 0;
  const load = async () => {
    more.disabled = true;
    const page = await fetchPage(cursor);
    page.items.forEach((item) => list.append(commentCard(item)));
    shown += page.items.length;
    counter.textContent = `${fmt(shown)} of ${fmt(page.total)} shown`;
    cursor = page.next_cursor || '';
    more.hidden = !cursor;
    more.disabled = false;
    return page;
  };
  more.addEventListener('click', () => load().catch(showError));
  container.append(h('div', { class: 'toolbar' }, counter, exportButton(exportName, fetchAll)), list, more);
  return load();
}

// ------------------------------------------------------------------ pages

async function signalsPage(params) {
  const filters = { kind: params.get('kind'), status: params.get('status'), source: params.get('source'), since: params.get('since') };
  const page = await api('/v1/signals' + query({ ...filters, limit: 500 }));
  const names = await labels();
  const form = filterForm('signals', [
    select('kind', 'Kind', ['', 'topic', 'phrase', 'sentiment_shift'], filters.kind),
    select('status', 'Status', ['', 'open', 'closed'], filters.status),
    input('source', 'Source', filters.source),
    input('since', 'Flagged since', filters.since, 'YYYY-MM-DD'),
  ]);
  const rows = page.items.map((signal) => h('tr', { 'data-signal': signal.id },
    h('td', {}, link(signalHref(signal.id), signal.label), h('div', { class: 'muted' }, signal.kind.replace('_', ' '))),
    h('td', {}, badge(signal.status)),
    h('td', {}, when(signal.first_flagged)),
    h('td', {}, sparkline(signal.sparkline)),
    h('td', { class: 'num' }, fmt(signal.distinct_authors)),
    h('td', { class: 'num' }, fmt(signal.comments)),
    h('td', {}, signal.topic !== null && signal.topic !== undefined ? link(topicHref(signal.topic), names.get(signal.topic) || 'topic ' + signal.topic) : '–')));
  return [
    h('h1', {}, 'Signals'),
    h('p', { class: 'muted' }, 'Trends that rose above their baseline, newest first. A signal stays open while it is above its baseline.'),
    form,
    page.items.length
      ? h('table', { id: 'signals' },
        h('thead', {}, h('tr', {}, h('th', {}, 'Signal'), h('th', {}, 'Status'), h('th', {}, 'First flagged'), h('th', {}, 'Trend'),
          h('th', { class: 'num' }, 'Authors'), h('th', { class: 'num' }, 'Comments'), h('th', {}, 'Topic'))),
        h('tbody', {}, rows))
      : h('p', { class: 'muted' }, 'No signals match.'),
  ];
}

function gatesTable(evidence) {
  const gates = Object.entries((evidence && evidence.gates) || {});
  if (!gates.length) return null;
  return h('table', { class: 'gates' },
    h('thead', {}, h('tr', {}, h('th', {}, 'Gate'), h('th', { class: 'num' }, 'Value'), h('th', { class: 'num' }, 'Threshold'), h('th', {}, 'Passed'))),
    h('tbody', {}, gates.map(([name, gate]) => h('tr', {},
      h('td', {}, name.replace(/_/g, ' ')), h('td', { class: 'num' }, fmt(gate.value)),
      h('td', { class: 'num' }, fmt(gate.threshold)), h('td', {}, gate.passed ? 'yes' : 'no')))));
}

async function signalPage(id) {
  const signal = await api('/v1/signals/' + encodeURIComponent(id));
  const breakdown = signal.breakdown;
  const hours = Math.round((new Date(signal.window_end) - new Date(signal.window_start)) / 3600000);
  const share = signal.kind === 'sentiment_shift';
  const observed = share ? Math.round(signal.observed * 100) + ' %' : fmt(signal.observed);
  const expected = share ? Math.round(signal.baseline_mean * 100) + ' %' : fmt(signal.baseline_mean);
  const topic = signal.topic_detail;
  const phrases = ((signal.evidence && signal.evidence.top_phrases) || []).map((phrase) => phrase.word);
  return [
    h('p', {}, link('#/signals', '← Signals')),
    h('h1', {}, signal.label, ' ', badge(signal.status)),
    h('p', { class: 'muted' }, `${signal.kind.replace('_', ' ')} signal · id ${signal.id}`),
    h('div', { class: 'facts' },
      fact(when(signal.first_flagged), 'first flagged'),
      fact(signal.status === 'open' ? 'still rising' : 'fell back', 'status'),
      fact(fmt(signal.distinct_authors), 'distinct authors'),
      fact(fmt(breakdown.comments), 'comments listed'),
      fact(`${observed} vs ${expected}`, `observed vs baseline in the ${hours} h window`),
      fact(fmt(signal.score), 'significance (z)')),
    h('p', { class: 'muted' }, share
      ? 'Observed: the negative share of the topic\'s comments in the flagged window; the baseline is the share before it.'
      : `Observed: distinct texts in the flagged ${hours} h window (duplicates ignored: ${fmt(signal.duplicates_ignored)}). The distinct authors count every comment of the signal; the comments listed, and the counts below, are those the signal lists.`),
    h('h2', {}, 'Over time'),
    seriesChart(signal),
    h('div', { class: 'legend' }, h('span', {}, h('i', { style: { background: '#2659c4' } }), share ? 'negative share' : `observed in the trailing ${hours} h`),
      h('span', {}, h('i', { style: { background: '#667085' } }), 'baseline mean'),
      h('span', {}, h('i', { style: { background: '#c4320a' } }), 'threshold'),
      h('span', {}, h('i', { style: { background: '#fdb022' } }), 'flagged window')),
    h('div', { class: 'grid' },
      panel('Comments per day', dayChart(breakdown.days, 150, 320)),
      panel('Sources', bars(breakdown.sources)),
      panel('Languages', bars(breakdown.languages)),
      panel('Sentiment', h('div', { class: 'muted' }, 'now (the signal\'s comments)'), sentimentLine(breakdown.sentiment),
        signal.sentiment_before ? [h('div', { class: 'muted' }, 'before (its topic, earlier windows)'), sentimentLine(signal.sentiment_before)] : null)),
    h('h2', {}, 'Topic'),
    topic
      ? h('p', {}, link(topicHref(topic.id), topic.label), ` · ${fmt(topic.size)} comments`,
        signal.theme !== null && signal.theme !== undefined ? [' · ', link('#/themes', 'theme ' + signal.theme)] : null)
      : h('p', { class: 'muted' }, 'Not tied to one topic.'),
    h('h2', {}, 'Examples'),
    commentList(signal.examples),
    h('p', {}, link(signalHref(signal.id) + '/comments', `All ${fmt(breakdown.comments)} comments →`),
      phrases.length ? [' · ', link(searchHref({ q: phrases.slice(0, 2).join(' '), sort: 'time' }), 'search its words')] : null),
    h('h2', {}, 'Evidence'),
    gatesTable(signal.evidence),
    h('details', {}, h('summary', {}, 'The detector\'s full record'), h('pre', { class: 'evidence' }, JSON.stringify(signal.evidence, null, 2))),
  ];
}

async function signalCommentsPage(id) {
  const signal = await api('/v1/signals/' + encodeURIComponent(id));
  const container = h('div', {});
  const path = '/v1/signals/' + encodeURIComponent(id) + '/comments';
  await pagedComments(container,
    (cursor) => api(path + query({ limit: PAGE, cursor })),
    'signal-comments.csv',
    () => allPages(path, {}, EXPORT_MAX));
  return [
    h('p', {}, link(signalHref(id), '← ' + signal.label)),
    h('h1', {}, 'Comments of “', signal.label, '”'),
    container,
  ];
}

async function topicsPage(params) {
  const topics = await allPages('/v1/topics', {}, EXPORT_MAX);
  const filter = (params.get('filter') || '').toLowerCase();
  const shown = topics
    .filter((topic) => !filter || topic.label.toLowerCase().includes(filter) || topic.keywords.some((word) => word.toLowerCase().includes(filter)))
    .sort((a, b) => b.size - a.size || a.id - b.id);
  return [
    h('h1', {}, 'Topics'),
    filterForm('topics', [input('filter', 'Label or keyword', params.get('filter'))]),
    h('p', { class: 'muted' }, `${fmt(shown.length)} of ${fmt(topics.length)} topics, largest first.`),
    h('table', { id: 'topics' },
      h('thead', {}, h('tr', {}, h('th', {}, 'Topic'), h('th', { class: 'num' }, 'Comments'), h('th', {}, 'Sentiment'), h('th', {}, 'Theme'))),
      h('tbody', {}, shown.map((topic) => h('tr', { 'data-topic': topic.id },
        h('td', {}, link(topicHref(topic.id), topic.label), topic.kind !== 'subject' ? [' ', badge(topic.kind)] : null,
          h('div', { class: 'muted' }, topic.keywords.slice(0, 6).join(', '))),
        h('td', { class: 'num' }, fmt(topic.size)),
        h('td', {}, sentimentBar(topic.sentiment)),
        h('td', {}, topic.theme !== null && topic.theme !== undefined ? link('#/themes', 'theme ' + topic.theme) : '–'))))),
  ];
}

async function topicPage(id) {
  const topic = await api('/v1/topics/' + encodeURIComponent(id));
  const breakdown = topic.breakdown;
  return [
    h('p', {}, link('#/topics', '← Topics')),
    h('h1', {}, topic.label, topic.kind !== 'subject' ? [' ', badge(topic.kind)] : null),
    h('p', { class: 'muted' }, 'Key phrases: ', topic.keywords.join(', ')),
    topic.kind !== 'subject' ? h('p', { class: 'error' }, topic.kind === 'spam'
      ? 'Most of this topic comes from one author: it is marked spam, not a subject.'
      : 'Most of this topic is one repeated text: it is marked a flood, not a subject.') : null,
    h('div', { class: 'facts' },
      fact(fmt(breakdown.comments), 'comments'),
      fact(fmt(breakdown.distinct_authors), 'distinct authors'),
      fact(day(topic.known_from), 'known from'),
      fact(topic.theme !== null && topic.theme !== undefined ? 'theme ' + topic.theme : '–', 'theme')),
    h('h2', {}, 'Size over time'),
    dayChart(breakdown.days),
    h('div', { class: 'grid' },
      panel('Sentiment', sentimentLine(breakdown.sentiment)),
      panel('Sources', bars(breakdown.sources)),
      panel('Languages', bars(breakdown.languages))),
    h('h2', {}, 'Typical comments'),
    commentList(topic.representatives),
    h('p', {}, link(searchHref({ topic: topic.id, sort: 'time' }), `All ${fmt(breakdown.comments)} comments, newest first →`)),
    topic.lineage.length
      ? [h('h2', {}, 'Lineage'), h('table', {},
        h('thead', {}, h('tr', {}, h('th', {}, 'Day'), h('th', {}, 'Event'), h('th', {}, 'Other topic'), h('th', { class: 'num' }, 'Size'))),
        h('tbody', {}, topic.lineage.map((event) => h('tr', {},
          h('td', {}, day(event.epoch)), h('td', {}, event.event.replace(/_/g, ' ')),
          h('td', {}, event.other !== null && event.other !== undefined ? link(topicHref(event.other), 'topic ' + event.other) : '–'),
          h('td', { class: 'num' }, `${fmt(event.previous_size)} → ${fmt(event.size)}`)))))]
      : null,
  ];
}

async function themesPage() {
  const themes = await allPages('/v1/themes', {}, EXPORT_MAX);
  const names = await labels();
  return [
    h('h1', {}, 'Themes'),
    h('p', { class: 'muted' }, 'Groups of related topics, largest first.'),
    h('div', { id: 'themes' }, themes.map((theme) => h('section', { class: 'panel', 'data-theme': theme.id },
      h('h3', {}, theme.label, h('span', { class: 'muted' }, ` · ${fmt(theme.size)} comments`)),
      h('div', { class: 'grid' },
        h('div', {}, h('div', { class: 'muted' }, 'Size over time'), dayChart(theme.size_per_day, 120, 400)),
        h('div', {}, h('div', { class: 'muted' }, 'Sentiment'), sentimentLine(theme.sentiment))),
      h('p', {}, theme.topics.map((id, index) => [index ? ', ' : '', link(topicHref(id), names.get(id) || 'topic ' + id)])),
      h('br', {})))),
  ];
}

const SEARCH_FIELDS = ['q', 'source', 'language', 'sentiment', 'topic', 'since', 'until', 'meta', 'sort'];

async function searchPage(params) {
  const filters = {};
  for (const key of SEARCH_FIELDS) filters[key] = params.get(key) || '';
  const names = await labels();
  const form = filterForm('search', [
    input('q', 'Words', filters.q, 'firmware update'),
    input('source', 'Source', filters.source),
    select('language', 'Language', ['', 'en', 'de', 'other'], filters.language),
    select('sentiment', 'Sentiment', ['', 'negative', 'neutral', 'positive'], filters.sentiment),
    input('topic', 'Topic', filters.topic),
    input('since', 'Since', filters.since, 'YYYY-MM-DD'),
    input('until', 'Until', filters.until, 'YYYY-MM-DD'),
    input('meta', 'Metadata', filters.meta, 'team:sales'),
    select('sort', 'Sort', ['', 'relevance', 'time'], filters.sort),
  ]);
  const first = await api('/v1/search' + query({ ...filters, limit: PAGE, facets: true }));
  const facets = first.facets || {};
  const narrow = (key) => (value) => searchHref({ ...filters, [key]: value });
  const container = h('div', {});
  let served = false;
  await pagedComments(container,
    (cursor) => {
      if (!served) {
        served = true;
        return Promise.resolve(first);
      }
      return api('/v1/search' + query({ ...filters, limit: PAGE, facets: false, cursor }));
    },
    'search.csv',
    () => allPages('/v1/search', { ...filters, facets: false }, EXPORT_MAX));
  return [
    h('h1', {}, 'Search'),
    form,
    h('div', { class: 'facts' },
      fact(fmt(facets.total !== undefined ? facets.total : first.total), 'matching comments'),
      fact(fmt(facets.distinct_authors), 'distinct authors')),
    h('div', { class: 'grid', id: 'facets' },
      panel('Per day', dayChart(facets.days, 150, 320)),
      panel('Sources', bars(facets.sources, { href: narrow('source') })),
      panel('Languages', bars(facets.languages, { href: narrow('language') })),
      panel('Sentiment', bars(facets.sentiments, { href: narrow('sentiment') })),
      panel('Topics', bars(facets.topics, { href: narrow('topic'), name: (id) => names.get(Number(id)) || 'topic ' + id }))),
    h('h2', {}, 'Comments'),
    container,
  ];
}

// ------------------------------------------------------------------ forms

function input(name, label, value, placeholder) {
  return h('label', {}, label, h('input', { name, value: value || '', placeholder: placeholder || '' }));
}

function select(name, label, options, value) {
  return h('label', {}, label, h('select', { name },
    options.map((option) => h('option', { value: option, selected: option === (value || '') ? 'selected' : null }, option || 'any'))));
}

// A form that navigates to `#/page?fields`.
function filterForm(page, fields) {
  const form = h('form', { class: 'filters', 'data-form': page }, fields, h('button', { type: 'submit' }, 'Apply'));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const values = {};
    for (const [key, value] of new FormData(form).entries()) values[key] = String(value).trim();
    location.hash = '#/' + page + query(values);
  });
  return form;
}

function tokenForm() {
  const form = h('form', { class: 'filters' },
    h('label', {}, 'Bearer token', h('input', { name: 'token', type: 'password', autocomplete: 'off' })),
    h('button', { type: 'submit' }, 'Use token'));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, new FormData(form).get('token'));
    topicLabels = null;
    route();
  });
  const refused = sessionStorage.getItem(TOKEN_KEY)
    ? h('p', { class: 'error', 'data-refused': 'true' }, 'The server refused that token.')
    : null;
  return [h('h1', {}, 'Sign in'), h('p', {}, 'This server needs a bearer token. It is kept in this browser tab only.'), refused, form];
}

// ------------------------------------------------------------------ routing

function showError(error) {
  main.replaceChildren(error instanceof NeedToken ? h('div', {}, tokenForm()) : h('p', { class: 'error' }, error.message));
}

async function route() {
  const own = ++renderCount;
  const hash = location.hash.replace(/^#\/?/, '');
  const [path, search] = hash.split('?');
  const params = new URLSearchParams(search || '');
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  const section = parts[0] || 'signals';
  for (const anchor of document.querySelectorAll('nav a')) {
    anchor.classList.toggle('active', anchor.dataset.nav === section);
  }
  main.replaceChildren(h('p', { class: 'muted' }, 'Loading…'));
  try {
    let content;
    let name = section;
    if (section === 'signals' && parts.length <= 1) content = await signalsPage(params);
    else if (section === 'signals' && parts.length === 2) [name, content] = ['signal', await signalPage(parts[1])];
    else if (section === 'signals' && parts[2] === 'comments') [name, content] = ['signal-comments', await signalCommentsPage(parts[1])];
    else if (section === 'topics' && parts.length <= 1) content = await topicsPage(params);
    else if (section === 'topics') [name, content] = ['topic', await topicPage(parts[1])];
    else if (section === 'themes') content = await themesPage();
    else if (section === 'search') content = await searchPage(params);
    else [name, content] = ['missing', [h('h1', {}, 'Not found'), h('p', {}, link('#/signals', 'Signals'))]];
    if (own !== renderCount) return;
    main.replaceChildren(h('div', { 'data-page': name, 'data-ready': 'true' }, content));
    document.title = 'xsignal · ' + name;
  } catch (error) {
    if (own === renderCount) showError(error);
  }
}

// Shows what is served, and offers a reload when a newer run has been committed.
async function watch() {
  try {
    const health = await api('/health');
    const status = document.getElementById('status');
    if (servedGeneration === null) servedGeneration = health.generation;
    status.replaceChildren(`run ${health.generation} · ${fmt(health.comments)} comments · ${fmt(health.signals)} signals`);
    if (health.generation !== servedGeneration) {
      status.append(' · ', h('a', {
        href: '#', onclick: (event) => {
          event.preventDefault();
          servedGeneration = health.generation;
          topicLabels = null;
          route();
          watch();
        },
      }, 'a newer run is available: reload'));
    }
  } catch (_) {
    // The next tick tries again.
  }
}

window.addEventListener('hashchange', route);
route();
watch();
setInterval(watch, 30000);
