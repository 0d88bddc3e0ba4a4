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
  '/': path.join(here, 'page.html'),
};

export function contentType(file) {
  const ext = path.extname(file);
  if (ext === '.mpd') return 'application/dash+xml';
  if (ext === '.m4s' || ext === '.mp4') {
    // Representation folders are named by content type: audio-1/, video-2/.
    return path.basename(path.dirname(file)).startsWith('audio') ? 'audio/mp4' : 'video/mp4';
  }
  if (ext === '.js') return 'text/javascript';
  if (ext === '.html') return 'text/html; charset=utf-8';
  return 'application/octet-stream';
}

/** Serve `mediaRoot` under /media/ on 127.0.0.1; resolves to { server, base }. */
export function serve(mediaRoot) {
  const server = http.createServer((req, res) => {
    res.setHeader('Access-Control-Allow-Origin', '*');
    res.setHeader('Access-Control-Allow-Headers', 'Range');
    res.setHeader('Access-Control-Expose-Headers', 'Content-Length, Content-Range');
    res.setHeader('Cache-Control', 'no-store');
    if (req.method === 'OPTIONS') {
      res.writeHead(204);
      return res.end();
    }
    const url = new URL(req.url, 'http://x');
    let file = LIBS[url.pathname];
    if (!file && url.pathname.startsWith('/media/')) {
      const rel = decodeURIComponent(url.pathname.slice('/media/'.length));
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
    fs.createReadStream(file, { start, end }).pipe(res);
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      resolve({ server, base: `http://127.0.0.1:${server.address().port}` });
    });
  });
}
