// A small static HTTP server for the player tests: the presentations under
// /media/, the player libraries under /lib/, and the test page at /.
// Content types as a CDN should send them, byte ranges, and CORS.
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));

const LIBS = {
  '/lib/dash.js': path.join(here, 'node_modules/dashjs/dist/modern/umd/dash.all.min.js'),
  '/lib/shaka.js': path.join(here, 'node_modules/shaka-player/dist/shaka-player.compiled.js'),
  '/lib/hls.js': path.join(here, 'node_modules/hls.js/dist/hls.min.js'),
  '/': path.join(here, 'page.html'),
};

export function contentType(file) {
  const ext = path.extname(file);
  if (ext === '.mpd') return 'application/dash+xml';
  if (ext === '.m3u8') return 'application/vnd.apple.mpegurl';
  if (ext === '.vtt') return 'text/vtt; charset=utf-8';
  if (ext === '.m4s' || ext === '.mp4') {
    // Representation folders are named by content type: audio-1/, video-2/.
    return path.basename(path.dirname(file)).startsWith('audio') ? 'audio/mp4' : 'video/mp4';
  }
  if (ext === '.js') return 'text/javascript';
  if (ext === '.html') return 'text/html; charset=utf-8';
  return 'application/octet-stream';
}

const b64url = (hex) => Buffer.from(hex, 'hex').toString('base64url');

/**
 * A W3C ClearKey license server (POST /license/NAME): answers the key IDs a player asks
 * for with the keys `keys[NAME]` (a map of hex KID to hex key) holds, as a JSON Web Key
 * set. Unknown key IDs are left out, as a real server would.
 */
function license(req, res, keys) {
  let body = '';
  req.on('data', (d) => { body += d; });
  req.on('end', () => {
    let kids = [];
    try {
      kids = JSON.parse(body).kids ?? [];
    } catch {
      res.writeHead(400);
      return res.end('bad license request');
    }
    const out = [];
    for (const kid of kids) {
      const hex = Buffer.from(kid, 'base64url').toString('hex');
      if (keys[hex]) out.push({ kty: 'oct', kid, k: b64url(keys[hex]) });
    }
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ keys: out, type: 'temporary' }));
  });
}

/** When each slowed link was first used, by its URL prefix. */
const linkStart = new Map();

/** Bytes `start..=end` of `file` at `kbps` kbit/s, in 4 KiB slices. */
function trickle(res, file, start, end, kbps) {
  const data = fs.readFileSync(file).subarray(start, end + 1);
  const slice = 4096;
  let at = 0;
  const next = () => {
    if (at >= data.length || res.destroyed) return res.end();
    const part = data.subarray(at, at + slice);
    at += part.length;
    res.write(part);
    setTimeout(next, (part.length * 8) / kbps);
  };
  next();
}

/**
 * Serve `mediaRoot` under /media/ on 127.0.0.1, and ClearKey licenses from
 * `licenses` (name -> { hexKid: hexKey }) under /license/; resolves to { server, base }.
 */
export function serve(mediaRoot, licenses = {}) {
  const server = http.createServer((req, res) => {
    res.setHeader('Access-Control-Allow-Origin', '*');
    res.setHeader('Access-Control-Allow-Headers', 'Range, Content-Type');
    res.setHeader('Access-Control-Expose-Headers', 'Content-Length, Content-Range');
    res.setHeader('Cache-Control', 'no-store');
    if (req.method === 'OPTIONS') {
      res.writeHead(204);
      return res.end();
    }
    const url = new URL(req.url, 'http://x');
    if (req.method === 'POST' && url.pathname.startsWith('/license/')) {
      return license(req, res, licenses[url.pathname.slice('/license/'.length)] ?? {});
    }
    // /slow/KBPS/for/MS/then/KBPS2/media/NAME/...: the same files at KBPS kbit/s for MS
    // ms from the first request for NAME this way, then at KBPS2: a link that changes,
    // for ABR to follow.
    const slow = /^\/slow\/(\d+)\/for\/(\d+)\/then\/(\d+)(\/media\/([^/]+)\/.*)$/.exec(url.pathname);
    const pathname = slow ? slow[4] : url.pathname;
    let kbps = 0;
    if (slow) {
      const link = `${slow[1]}/${slow[2]}/${slow[3]}/${slow[5]}`;
      if (!linkStart.has(link)) linkStart.set(link, Date.now());
      kbps = Number(Date.now() - linkStart.get(link) < Number(slow[2]) ? slow[1] : slow[3]);
    }
    let file = LIBS[pathname];
    if (!file && pathname.startsWith('/media/')) {
      const rel = decodeURIComponent(pathname.slice('/media/'.length));
      file = path.join(mediaRoot, rel);
      if (!file.startsWith(path.resolve(mediaRoot) + path.sep)) file = undefined;
    }
    let stat;
    try {
      stat = file && fs.statSync(file);
    } catch {
      stat = undefined;
    }
    if (!stat || !stat.isFile()) {
      res.writeHead(404, { 'Content-Type': 'text/plain' });
      return res.end('not found');
    }
    const type = contentType(file);
    const range = /^bytes=(\d*)-(\d*)$/.exec(req.headers.range || '');
    let start = 0;
    let end = stat.size - 1;
    let status = 200;
    const headers = { 'Content-Type': type, 'Accept-Ranges': 'bytes' };
    if (range) {
      if (range[1] === '') {
        start = Math.max(0, stat.size - Number(range[2]));
      } else {
        start = Number(range[1]);
        if (range[2] !== '') end = Math.min(end, Number(range[2]));
      }
      if (start > end || start >= stat.size) {
        res.writeHead(416, { 'Content-Range': `bytes */${stat.size}` });
        return res.end();
      }
      status = 206;
      headers['Content-Range'] = `bytes ${start}-${end}/${stat.size}`;
    }
    headers['Content-Length'] = end - start + 1;
    res.writeHead(status, headers);
    if (req.method === 'HEAD') return res.end();
    if (kbps > 0) return trickle(res, file, start, end, kbps);
    fs.createReadStream(file, { start, end }).pipe(res);
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      resolve({ server, base: `http://127.0.0.1:${server.address().port}` });
    });
  });
}
