// `dashpack preview` in Debian's Chromium: the embedded Shaka Player plays a two-rung
// ladder to its end, forcing each Representation switches the picture to it, the chart
// has one bar per segment whose numbers are the segment files' sizes over the MPD's
// durations, and a truncated segment shows a warning. Then `dashpack report` of every
// fixture opens with no console error. A screenshot is kept in artifacts/.
//
// Usage: DASHPACK_BIN=path/to/dashpack node preview.mjs
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
const fixtures = path.resolve(here, '../../fixtures');
const artifacts = path.join(here, 'artifacts');
const bin = process.env.DASHPACK_BIN;
if (!bin || !fs.existsSync(bin)) {
  console.error('DASHPACK_BIN must name the dashpack binary');
  process.exit(2);
}
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'dashpack-preview-'));
// A browser that stops answering must fail the run, not hang it.
setTimeout(() => {
  console.error('preview test: still running after 10 minutes, giving up');
  process.exit(1);
}, 600000).unref();
fs.mkdirSync(artifacts, { recursive: true });

let passed = 0;
let failed = 0;
function check(ok, what, detail = '') {
  if (ok) passed++; else failed++;
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}${detail ? `: ${detail}` : ''}`);
}

function packageInto(name, inputs, extra = []) {
  const out = path.join(root, name);
  execFileSync(bin, ['package', ...inputs.map((i) => path.join(fixtures, i)), '-o', out, ...extra],
    { stdio: ['ignore', 'ignore', 'pipe'] });
  return out;
}

// The MPD's segments, read here independently of the report: file and seconds.
function mpdSegments(dir) {
  const mpd = fs.readFileSync(path.join(dir, 'stream.mpd'), 'utf8');
  const out = {};
  for (const rep of mpd.matchAll(/<Representation [^>]*id="([^"]+)"[^]*?<\/Representation>/g)) {
    const t = rep[0].match(/<SegmentTemplate[^>]*timescale="(\d+)"[^>]*media="([^"]+)"[^>]*>/)
      ?? rep[0].match(/<SegmentTemplate[^>]*media="([^"]+)"[^>]*timescale="(\d+)"[^>]*>/);
    if (!t) continue;
    const [timescale, media] = /^\d+$/.test(t[1]) ? [Number(t[1]), t[2]] : [Number(t[2]), t[1]];
    const start = Number(rep[0].match(/startNumber="(\d+)"/)?.[1] ?? 1);
    const segs = [];
    let time = 0;
    for (const s of rep[0].matchAll(/<S ([^>]*)\/>/g)) {
      const attr = (n) => s[1].match(new RegExp(`\\b${n}="(\\d+)"`))?.[1];
      if (attr('t') !== undefined) time = Number(attr('t'));
      const d = Number(attr('d'));
      for (let i = 0; i <= Number(attr('r') ?? 0); i++) {
        const file = media.replace('$RepresentationID$', rep[1])
          .replace('$Number$', String(start + segs.length)).replace('$Time$', String(time));
        segs.push({ file, seconds: d / timescale });
        time += d;
      }
    }
    out[rep[1]] = segs;
  }
  return out;
}

async function startPreview(dir) {
  const child = spawn(bin, ['preview', '--port', '0', dir], { stdio: ['ignore', 'pipe', 'inherit'] });
  const line = await new Promise((resolve, reject) => {
    const rl = readline.createInterface({ input: child.stdout });
    rl.once('line', resolve);
    child.once('exit', (code) => reject(new Error(`preview exited with ${code}`)));
  });
  return { child, url: line.trim() };
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
    '--disable-component-update', '--no-first-run', '--disable-sync',
    '--autoplay-policy=no-user-gesture-required'],
});

try {
  const dir = packageInto('ladder', ['h264_aac.mp4', 'video_low.mp4'], ['--hls']);
  const { child, url } = await startPreview(dir);
  try {
    check(url.startsWith('http://127.0.0.1:'), 'preview listens on loopback', url);
    const page = await browser.newPage({ viewport: { width: 1200, height: 1400 } });
    const consoleErrors = [];
    page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
    page.on('pageerror', (e) => consoleErrors.push(e.message));
    await page.goto(url);
    await page.waitForFunction(() => window.dashpackReady === true, null, { timeout: 30000 });

    // The chart against the files and the MPD.
    const expected = mpdSegments(dir);
    const bars = await page.$$eval('svg.chart rect.bar', (rs) => rs.map((r) => ({
      rep: r.closest('svg').dataset.rep, file: r.dataset.file, bytes: Number(r.dataset.bytes),
      duration: Number(r.dataset.duration), bitrate: Number(r.dataset.bitrate),
    })));
    for (const [rep, segs] of Object.entries(expected)) {
      const mine = bars.filter((b) => b.rep === rep);
      const problems = [];
      if (mine.length !== segs.length) problems.push(`${mine.length} bars for ${segs.length} segments`);
      segs.forEach((s, i) => {
        const b = mine[i];
        if (!b) return;
        const size = fs.statSync(path.join(dir, s.file)).size;
        if (b.file !== s.file) problems.push(`bar ${i} is ${b.file}, the MPD says ${s.file}`);
        if (b.bytes !== size) problems.push(`${s.file}: ${b.bytes} bytes charted, ${size} on disk`);
        if (Math.abs(b.duration - s.seconds) > 0.001) problems.push(`${s.file}: ${b.duration} s charted, ${s.seconds} in the MPD`);
        const rate = size * 8 / s.seconds;
        if (Math.abs(b.bitrate - rate) > rate * 1e-3) problems.push(`${s.file}: ${b.bitrate} bit/s charted, ${rate} from the file`);
      });
      check(problems.length === 0, `chart of ${rep}: one bar per segment, size over duration`, problems.join('; ') || `${mine.length} bars`);
    }
    const bandwidthLines = await page.$$eval('svg.chart line.declared', (ls) => ls.length);
    check(bandwidthLines === Object.keys(expected).length, 'each chart draws its @bandwidth', `${bandwidthLines} lines`);

    // Play to the end (auto ABR), fast.
    const ended = await page.evaluate(async () => {
      const v = document.getElementById('video');
      v.playbackRate = 4;
      // Not awaited: a play() promise can stay pending; the wait below is bounded.
      v.play().catch(() => {});
      return new Promise((resolve) => {
        const t = setTimeout(() => resolve(`stuck at ${v.currentTime.toFixed(2)}/${v.duration.toFixed(2)}`), 60000);
        v.addEventListener('ended', () => { clearTimeout(t); resolve(null); }, { once: true });
      });
    });
    check(ended === null, 'the embedded player plays to the end', ended ?? '');

    // Force each video Representation; the picture changes to its size.
    const options = await page.$$eval('#rep option', (os) => os.map((o) => ({ value: o.value, video: o.dataset.video })));
    const videoReps = [...new Map(options.filter((o) => o.video).map((o) => [o.video, o])).values()];
    const widths = new Set();
    for (const o of videoReps) {
      // Paused: the picture after the seek is decoded from the forced Representation
      // whether or not playback resumes.
      await page.evaluate(() => document.getElementById('video').pause());
      await page.selectOption('#rep', o.value);
      await page.fill('#seek-to', '1');
      await page.click('#seek');
      const got = await page.evaluate(async (want) => {
        const v = document.getElementById('video');
        v.play().catch(() => {});
        const player = window.dashpackPlayer;
        const t0 = Date.now();
        while (Date.now() - t0 < 20000) {
          const active = player.getVariantTracks().find((t) => t.active);
          if (active?.originalVideoId === want && v.videoWidth === active.width && v.readyState >= 2) {
            return { width: v.videoWidth, shown: document.getElementById('current').dataset.video };
          }
          await new Promise((r) => setTimeout(r, 100));
        }
        return { width: v.videoWidth, shown: document.getElementById('current').dataset.video, timeout: true };
      }, o.video);
      widths.add(got.width);
      check(!got.timeout && got.shown === o.video, `forcing ${o.video} switches to it`, JSON.stringify(got));
    }
    check(videoReps.length >= 2 && widths.size === videoReps.length, 'videoWidth changes with the forced Representation', [...widths].join(', '));
    await page.screenshot({ path: path.join(artifacts, 'preview.png'), fullPage: true });
    check(consoleErrors.length === 0, 'the preview page logs no console error', consoleErrors.join(' | '));

    // A truncated segment: the page (made anew per request) warns about it.
    const victim = expected[Object.keys(expected)[0]][1].file;
    const p = path.join(dir, victim);
    fs.truncateSync(p, Math.floor(fs.statSync(p).size / 2));
    await page.goto(url);
    const warning = page.locator('#findings li.warning', { hasText: victim });
    const visible = await warning.first().isVisible().catch(() => false);
    check(visible, `a truncated ${victim} is a visible warning`, visible ? await warning.first().innerText() : 'no warning shown');
    await page.screenshot({ path: path.join(artifacts, 'preview-truncated.png'), fullPage: true });
    await page.close();
  } finally {
    child.kill();
  }

  // Encrypted presentations: keys given to the preview, or inline in the MPD.
  const KEY = ['9eb4050de44b4802932e27d75083e266', '166634c675823c235a4a9446fad52e4d'];
  for (const [name, pack, preview, plays] of [
    ['keys given with --key', ['--encryption-key', KEY.join(':')], ['--key', KEY.join(':')], true],
    ['keys inline in the MPD', ['--encryption-key', KEY.join(':'), '--clearkey-inline'], [], true],
    ['no key anywhere', ['--encryption-key', KEY.join(':')], [], false],
  ]) {
    const enc = packageInto(`encrypted-${name.replace(/\W/g, '')}`, ['h264_aac.mp4'], pack);
    const child = spawn(bin, ['preview', '--port', '0', ...preview, enc], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      const url = await new Promise((resolve, reject) => {
        readline.createInterface({ input: child.stdout }).once('line', resolve);
        child.once('exit', (code) => reject(new Error(`preview exited with ${code}`)));
      });
      const page = await browser.newPage();
      await page.goto(url.trim());
      await page.waitForFunction(() => window.dashpackReady === true, null, { timeout: 30000 });
      const result = await page.evaluate(async () => {
        const v = document.getElementById('video');
        v.playbackRate = 4;
        // Not awaited: without a key, play() waits for one forever.
        v.play().catch(() => {});
        const t0 = Date.now();
        const errors = document.getElementById('player-error');
        while (Date.now() - t0 < 15000 && !v.ended && v.currentTime < 4 && !errors.textContent) await new Promise((r) => setTimeout(r, 100));
        return { time: v.currentTime, frames: v.getVideoPlaybackQuality().totalVideoFrames, errors: document.getElementById('player-error').textContent };
      });
      const played = result.time >= 4 && result.frames > 0 && !result.errors;
      check(played === plays, `ClearKey preview ${plays ? 'plays' : 'shows an error'}, ${name}`, JSON.stringify(result));
      await page.close();
    } finally {
      child.kill();
    }
  }

  // The static report of every fixture that packages: no console error, no request.
  const names = fs.readdirSync(fixtures).filter((n) => /\.(mp4|m4a|mov)$/.test(n)).sort();
  const page = await browser.newPage();
  let current = [];
  page.on('console', (m) => { if (m.type() === 'error') current.push(m.text()); });
  page.on('pageerror', (e) => current.push(e.message));
  page.on('request', (r) => { if (!r.url().startsWith('file:')) current.push(`request to ${r.url()}`); });
  let reports = 0;
  for (const name of names) {
    let out;
    try {
      out = packageInto(`report-${name}`, [name]);
    } catch {
      continue; // refused by the packager (tested elsewhere)
    }
    const html = path.join(out, 'report.html');
    execFileSync(bin, ['report', out, '-o', html], { stdio: ['ignore', 'ignore', 'pipe'] });
    current = [];
    await page.goto(`file://${html}`);
    const charts = await page.$$eval('svg.chart', (s) => s.length);
    check(current.length === 0 && charts > 0, `report of ${name} opens cleanly`, current.join(' | ') || `${charts} charts`);
    reports++;
  }
  check(reports > 20, 'reports of the fixtures', `${reports} opened`);
} finally {
  await browser.close();
  fs.rmSync(root, { recursive: true, force: true });
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
