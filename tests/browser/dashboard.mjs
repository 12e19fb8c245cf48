// Drives the dashboard of a live `xsignal serve` in headless Chromium through the pages an analyst
// uses: signals list -> a signal -> its comments (with CSV export) -> its topic, the topics and
// themes, and a search with a filter. On every page it checks that each chart was drawn with data,
// that nothing failed in the page and that no request left the server's origin, and it saves a
// screenshot of each page.
//
//   XSIGNAL_URL=http://127.0.0.1:PORT node dashboard.mjs [--expect-signal WORD] [--search WORD]
//   XSIGNAL_URL=... XSIGNAL_TOKEN=T node dashboard.mjs --token-only   (a server that needs token T)
//
// Environment: CHROMIUM (default /usr/bin/chromium), SCREENSHOTS (default ./screenshots).
import { chromium } from 'playwright-core';
import { mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

const base = process.env.XSIGNAL_URL;
if (!base) {
  console.error('browser test: XSIGNAL_URL is not set');
  process.exit(2);
}
const args = process.argv.slice(2);
const option = (name, fallback) => {
  const index = args.indexOf(name);
  return index >= 0 ? args[index + 1] : fallback;
};
const expectSignal = option('--expect-signal', '');
const searchWord = option('--search', '');
const shots = resolve(process.env.SCREENSHOTS || 'screenshots');
mkdirSync(shots, { recursive: true });

const failures = [];
const check = (condition, message) => {
  if (!condition) failures.push(message);
  return condition;
};

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-dev-shm-usage'],
});
const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true, locale: 'de-DE' });
const page = await context.newPage();
const pageErrors = [];
const foreign = [];
page.on('pageerror', (error) => pageErrors.push(error.message));
page.on('console', (message) => {
  if (message.type() === 'error') pageErrors.push(message.text());
});
page.on('request', (request) => {
  const url = request.url();
  if (!url.startsWith(base) && !url.startsWith('blob:') && !url.startsWith('data:')) foreign.push(url);
});

async function api(path) {
  const response = await page.request.get(base + path);
  if (!response.ok()) throw new Error(`${path}: ${response.status()}`);
  return response.json();
}

async function ready(name) {
  await page.waitForSelector(`[data-ready="true"][data-page="${name}"]`, { timeout: 30000 });
}

// Every chart on the page was drawn with data: SVG charts have drawn columns or a line, bar
// lists have filled bars, sentiment bars have a filled part.
async function chartsDrawn(where) {
  const report = await page.$$eval('.chart', (charts) => charts.map((chart) => {
    const points = Number(chart.getAttribute('data-points') || 0);
    let drawn = 0;
    if (chart.tagName.toLowerCase() === 'svg') {
      drawn += [...chart.querySelectorAll('rect.observed')].filter((rect) => Number(rect.getAttribute('height')) > 0).length;
      drawn += [...chart.querySelectorAll('polyline')].filter((line) => (line.getAttribute('points') || '').trim().length > 0).length;
      drawn += [...chart.querySelectorAll('path.line-observed')].filter((path) => path.getTotalLength() > 0 && path.getBBox().height > 0).length;
    } else {
      drawn += [...chart.querySelectorAll('.fill, .negative, .neutral, .positive')].filter((part) => part.getBoundingClientRect().width > 0).length;
    }
    return { kind: chart.getAttribute('class'), label: chart.getAttribute('aria-label') || '', points, drawn };
  }));
  check(report.length > 0, `${where}: no charts`);
  // Nothing rendered as a stringified object or link.
  const text = await page.evaluate(() => document.querySelector('main').innerText);
  check(!text.includes('[object') && !text.includes(base) && !text.includes('undefined') && !text.includes('NaN'),
    `${where}: the page shows a stringified value`);
  for (const chart of report) {
    check(chart.points > 0 && chart.drawn > 0, `${where}: chart "${chart.kind} ${chart.label}" has no data (points ${chart.points}, drawn ${chart.drawn})`);
  }
  return report.length;
}

async function shot(name) {
  await page.screenshot({ path: join(shots, name), fullPage: true });
}

async function tokenFlow() {
  const token = process.env.XSIGNAL_TOKEN;
  check(Boolean(token), 'token: XSIGNAL_TOKEN is not set');
  await page.goto(base + '/');
  await page.waitForSelector('input[name="token"]', { timeout: 30000 });
  await shot('08-token.png');
  await page.fill('input[name="token"]', 'wrong');
  await page.click('button[type="submit"]');
  await page.waitForSelector('[data-refused]', { timeout: 30000 });
  await page.fill('input[name="token"]', token);
  await page.click('button[type="submit"]');
  await ready('signals');
  const rows = await page.$$('#signals tbody tr, #main p.muted');
  check(rows.length > 0, 'token: no signals after signing in');
  check(!JSON.stringify(await page.evaluate(() => ({ ...localStorage }))).includes(token), 'token: kept in local storage');
  console.log('browser test: the dashboard asked for the token and showed the signals once given');
}

try {
  if (args.includes('--token-only')) {
    await tokenFlow();
  } else {
    await views();
  }
} catch (error) {
  failures.push('error: ' + (error.stack || error.message));
  await shot('failure.png').catch(() => {});
} finally {
  await browser.close();
}

for (const error of pageErrors) {
  // The wrong token's 401 is expected in the token flow.
  if (!(args.includes('--token-only') && error.includes('401'))) failures.push('page error: ' + error);
}
for (const url of foreign) failures.push('request left the server: ' + url);
if (failures.length) {
  console.error('browser test failed:\n  ' + failures.join('\n  '));
  process.exit(1);
}

async function views() {
  // 1. Signals list.
  await page.goto(base + '/');
  await ready('signals');
  const signals = await api('/v1/signals?limit=500');
  const rows = await page.$$('#signals tbody tr');
  check(rows.length === signals.items.length && rows.length > 0, `signals: ${rows.length} rows for ${signals.items.length} signals`);
  const listed = await page.$$eval('#signals tbody tr td:first-child a', (links) => links.map((a) => a.textContent));
  if (expectSignal) check(listed.some((label) => label.includes(expectSignal)), `signals: none labelled with "${expectSignal}" in ${JSON.stringify(listed)}`);
  const status = await page.textContent('#status');
  check(/run \d+/.test(status || ''), `header: no run status (${status})`);
  const listCharts = await chartsDrawn('signals');
  await shot('01-signals.png');

  // 2. One signal (the expected one, else the first): one click from the list.
  const target = signals.items.find((signal) => !expectSignal || signal.label.includes(expectSignal)) || signals.items[0];
  await page.click(`#signals tr[data-signal="${target.id}"] td:first-child a`);
  await ready('signal');
  await page.waitForSelector('h1');
  const detail = await api('/v1/signals/' + encodeURIComponent(target.id));
  const heading = await page.textContent('h1');
  check(heading.includes(detail.label), `signal: heading "${heading}" lacks "${detail.label}"`);
  const facts = await page.$$eval('.fact', (items) => items.map((item) => item.textContent));
  for (const [what, needle] of [['first flagged', 'first flagged'], ['distinct authors', 'distinct authors'], ['status', 'status']]) {
    check(facts.some((text) => text.includes(needle)), `signal: no "${what}" fact in ${JSON.stringify(facts)}`);
  }
  // The signal's own count (every supporting comment), not the breakdown's (the comments it lists).
  check(facts.some((text) => text.includes(new Intl.NumberFormat('de-DE').format(detail.distinct_authors))),
    `signal: distinct authors ${detail.distinct_authors} not shown`);
  check(await page.$('svg.chart path.baseline') !== null && await page.$('svg.chart path.threshold') !== null, 'signal: chart lacks baseline or threshold');
  const examples = await page.$$('.comments article');
  check(examples.length === detail.examples.length && examples.length > 0, `signal: ${examples.length} examples shown, ${detail.examples.length} in the API`);
  const sourceRows = await page.$$eval('.panel', (panels) => panels.filter((panel) => panel.querySelector('h3').textContent === 'Sources').map((panel) => panel.querySelectorAll('.row').length));
  check(sourceRows[0] === Object.keys(detail.breakdown.sources).slice(0, 10).length, `signal: sources panel shows ${sourceRows[0]} rows`);
  const signalCharts = await chartsDrawn('signal');
  await shot('02-signal.png');

  // 3. Its comments, and their CSV export.
  await page.click('a[href$="/comments"]');
  await ready('signal-comments');
  await page.waitForSelector('.comments article');
  const shown = await page.$$('.comments article');
  check(shown.length === Math.min(50, detail.breakdown.comments), `signal comments: ${shown.length} shown of ${detail.breakdown.comments}`);
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('[data-export]')]);
  const csv = readFileSync(await download.path(), 'utf8');
  check(csv.startsWith('\ufeffid,timestamp,author,source,lang'), 'csv: unexpected header');
  const csvRows = csv.trimEnd().split('\r\n').length - 1;
  check(csvRows >= detail.breakdown.comments, `csv: ${csvRows} rows for ${detail.breakdown.comments} comments`);
  const german = detail.examples.find((comment) => comment.lang === 'de' && /[äöüßÄÖÜ]/.test(comment.text));
  if (german) check(csv.includes(german.text.split('\n')[0]), 'csv: a German text with umlauts did not survive');
  await shot('03-signal-comments.png');

  // 4. Its topic.
  if (detail.topic_detail) {
    await page.goBack();
    await ready('signal');
    await page.click(`a[href="#/topics/${detail.topic_detail.id}"]`);
    await ready('topic');
    const topicHeading = await page.textContent('h1');
    check(topicHeading.includes(detail.topic_detail.label), `topic: heading "${topicHeading}"`);
    await chartsDrawn('topic');
    await shot('04-topic.png');
  }

  // 5. Topics and themes.
  await page.click('nav a[data-nav="topics"]');
  await ready('topics');
  const topicRows = await page.$$('#topics tbody tr');
  check(topicRows.length > 0, 'topics: no rows');
  await chartsDrawn('topics');
  await shot('05-topics.png');
  await page.click('nav a[data-nav="themes"]');
  await ready('themes');
  check((await page.$$('#themes [data-theme]')).length > 0, 'themes: none shown');
  await chartsDrawn('themes');
  await shot('06-themes.png');

  // 6. Search with a filter: German comments only, umlauts rendered as the API returns them.
  await page.click('nav a[data-nav="search"]');
  await ready('search');
  if (searchWord) await page.fill('input[name="q"]', searchWord);
  await page.selectOption('select[name="language"]', 'de');
  await page.click('form[data-form="search"] button[type="submit"]');
  await page.waitForFunction(() => location.hash.includes('language=de'));
  await ready('search');
  const hits = await api('/v1/search?limit=50&language=de' + (searchWord ? '&q=' + encodeURIComponent(searchWord) : ''));
  check(hits.items.length > 0, 'search: the API found no German comments');
  const cards = await page.$$eval('.comments article p', (paragraphs) => paragraphs.map((p) => ({ lang: p.getAttribute('lang'), text: p.textContent })));
  check(cards.length === hits.items.length, `search: ${cards.length} results shown, ${hits.items.length} from the API`);
  check(cards.every((card) => card.lang === 'de'), 'search: a non-German comment under language=de');
  hits.items.forEach((hit, index) => {
    if (cards[index]) check(cards[index].text === hit.text, `search: comment ${hit.id} rendered differently from the API text`);
  });
  const facetRows = await page.$$('#facets .row');
  check(facetRows.length > 0, 'search: no facets');
  await chartsDrawn('search');
  await shot('07-search.png');

  console.log(`browser test: ${signals.items.length} signals (${listCharts} charts on the list, ${signalCharts} on the signal), ` +
    `${csvRows} CSV rows, ${topicRows.length} topics, ${hits.total} German search hits; screenshots in ${shots}`);
}
