// The two live-streaming servers bench/stream compares, each started by the benchmark in its own
// temp dir on loopback ports and stopped by PID: collab-stream (RTMP in, LL-HLS fMP4 out, served
// from memory) and Debian's nginx with libnginx-mod-rtmp (RTMP in, HLS MPEG-TS files written to
// its hls_path and served by the same nginx). Both expose the same surface: rtmpUrl(name),
// playlistUrl(name), mediaUrls(name) and the PID whose process tree is measured.
// Deliberately no workload here; the scenarios live in bench.mjs.
import fs from 'node:fs';
import path from 'node:path';

import { startCollabDaemon } from '../../chat/lib/collab.mjs';
import { Proc, freePort, run, tempDir, waitPort } from '../../chat/lib/util.mjs';

export const NGINX_RTMP_MODULE = '/usr/lib/nginx/modules/ngx_rtmp_module.so';

export async function httpGet(url, timeoutMs = 10000) {
  const r = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  const body = Buffer.from(await r.arrayBuffer());
  return { status: r.status, headers: r.headers, body };
}

// Media URIs of a playlist (segments, and parts when `parts`), resolved against its URL.
export function playlistMedia(text, url, { parts = false } = {}) {
  const out = [];
  for (const line of text.split('\n')) {
    const l = line.trim();
    if (!l) continue;
    if (!l.startsWith('#')) out.push({ kind: 'segment', url: new URL(l, url).href });
    else if (parts && l.startsWith('#EXT-X-PART:')) {
      const m = /URI="([^"]+)"/.exec(l);
      if (m) out.push({ kind: 'part', url: new URL(m[1], url).href });
    }
  }
  return out;
}

export class CollabStream {
  constructor(binDir, overrides = [], label = 'collab') {
    this.name = label;
    this.binDir = binDir;
    this.overrides = overrides;
  }

  static available(binDir) {
    for (const b of ['collab-stream', 'collab-admin']) {
      if (!fs.existsSync(path.join(binDir, b))) return `${path.join(binDir, b)} is missing (build it: make release)`;
    }
    return null;
  }

  get pid() {
    return this.proc.pid;
  }

  alive() {
    return this.proc && this.proc.alive();
  }

  async start() {
    // Like nginx-rtmp's HLS, no viewer tokens: the same URLs for both servers (tokens only add a
    // query string and a cached HMAC check per request).
    const d = await startCollabDaemon({
      binDir: this.binDir, daemon: 'stream', prefix: 'bench-stream-collab-', overrides: ['stream.viewers=open', ...this.overrides],
    });
    Object.assign(this, { dir: d.dir, config: d.config, proc: d.proc });
    d.ctl.close();
    const http = (d.status.listeners || []).find((l) => l.kind === 'http');
    if (!http || !d.status.rtmp || !d.status.rtmp.address) throw new Error(`collab-stream status: ${JSON.stringify(d.status)}`);
    this.httpBase = `http://${http.address}`;
    this.rtmpBase = `rtmp://${d.status.rtmp.address}/live`;
  }

  rtmpUrl(name) {
    return `${this.rtmpBase}/${name}`;
  }

  playlistUrl(name) {
    return `${this.httpBase}/live/${name}/index.m3u8`;
  }

  // The playlist's text, or null while there is none.
  async playlist(name) {
    const r = await httpGet(this.playlistUrl(name)).catch(() => null);
    return r && r.status === 200 ? r.body.toString() : null;
  }

  async stop() {
    if (this.proc) await this.proc.stop();
    if (this.dir && !process.env.BENCH_KEEP) fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

export class NginxRtmp {
  constructor({ workers = 1, fragment = '1s', playlistLength = '30s' } = {}) {
    this.name = 'nginx';
    this.workers = workers;
    this.fragment = fragment;
    this.playlistLength = playlistLength;
  }

  static available() {
    if (!fs.existsSync('/usr/sbin/nginx')) return 'nginx is not installed (apt-get install nginx-light or nginx)';
    if (!fs.existsSync(NGINX_RTMP_MODULE)) return 'libnginx-mod-rtmp is not installed (apt-get install libnginx-mod-rtmp)';
    // Its workers run as nobody and must write the HLS files; the master must be able to switch.
    if (process.getuid() !== 0) return 'running nginx with workers as nobody needs root';
    return null;
  }

  get pid() {
    return this.proc.pid;
  }

  alive() {
    return this.proc && this.proc.alive();
  }

  async start() {
    this.dir = tempDir('bench-stream-nginx-');
    const hls = path.join(this.dir, 'hls');
    fs.mkdirSync(hls);
    fs.chmodSync(hls, 0o777); // written by the workers (user nobody)
    this.rtmpPort = await freePort();
    this.httpPort = await freePort();
    const conf = `# bench/stream: nginx-rtmp HLS beside collab-stream (generated)
daemon off;
master_process on;
worker_processes ${this.workers};
pid ${this.dir}/nginx.pid;
error_log ${this.dir}/error.log warn;
load_module ${NGINX_RTMP_MODULE};
events { worker_connections 4096; }
rtmp {
  server {
    listen 127.0.0.1:${this.rtmpPort};
    chunk_size 4096;
    application live {
      live on;
      record off;
      hls on;
      hls_path ${hls};
      hls_fragment ${this.fragment};
      hls_playlist_length ${this.playlistLength};
    }
  }
}
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 1000000;
  types_hash_max_size 2048;
  client_body_temp_path ${this.dir}/tmp;
  proxy_temp_path ${this.dir}/tmp;
  fastcgi_temp_path ${this.dir}/tmp;
  uwsgi_temp_path ${this.dir}/tmp;
  scgi_temp_path ${this.dir}/tmp;
  types {
    application/vnd.apple.mpegurl m3u8;
    video/mp2t ts;
    text/html html;
    application/javascript js;
  }
  server {
    listen 127.0.0.1:${this.httpPort};
    location /hls/ {
      root ${this.dir};
      add_header Cache-Control no-cache;
      add_header Access-Control-Allow-Origin *;
    }
    # The glass-to-glass page and hls.js (copied here by serve()): a page from a real loopback
    # origin, so Chromium's local-network-access checks let it fetch from collab's loopback port.
    location /bench/ {
      root ${this.dir};
      add_header Cache-Control no-store;
    }
  }
}
`;
    this.config = path.join(this.dir, 'nginx.conf');
    fs.writeFileSync(this.config, conf);
    fs.mkdirSync(path.join(this.dir, 'tmp'));
    this.proc = new Proc('nginx', '/usr/sbin/nginx', ['-p', this.dir, '-c', this.config], {
      logPath: path.join(this.dir, 'stdout.log'),
      cwd: this.dir,
    });
    try {
      await waitPort(this.httpPort, { what: 'nginx HTTP port', timeoutMs: 20000 });
      await waitPort(this.rtmpPort, { what: 'nginx RTMP port', timeoutMs: 20000 });
    } catch (e) {
      const err = path.join(this.dir, 'error.log');
      throw new Error(`${e.message}\n${this.proc.tail()}\n${fs.existsSync(err) ? fs.readFileSync(err, 'utf8').slice(-2000) : ''}`);
    }
    this.httpBase = `http://127.0.0.1:${this.httpPort}`;
  }

  // Copies files into /bench/ of this nginx: {name: sourcePath}.
  serve(files) {
    const dir = path.join(this.dir, 'bench');
    fs.mkdirSync(dir, { recursive: true, mode: 0o755 });
    for (const [name, src] of Object.entries(files)) {
      fs.copyFileSync(src, path.join(dir, name));
      fs.chmodSync(path.join(dir, name), 0o644);
    }
    return `${this.httpBase}/bench/`;
  }

  rtmpUrl(name) {
    return `rtmp://127.0.0.1:${this.rtmpPort}/live/${name}`;
  }

  playlistUrl(name) {
    return `${this.httpBase}/hls/${name}.m3u8`;
  }

  async playlist(name) {
    const r = await httpGet(this.playlistUrl(name)).catch(() => null);
    return r && r.status === 200 ? r.body.toString() : null;
  }

  async stop() {
    if (this.proc) await this.proc.stop();
    if (this.dir && !process.env.BENCH_KEEP) fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
