// One <video> element playing one LL-HLS stream: hls.js (window.Hls from /vendor/hls.min.js) in
// low-latency mode where MSE exists, the browser's own HLS otherwise. It reports what happens
// (playing, gone, fatal error) to its owner and measures latency from EXT-X-PROGRAM-DATE-TIME;
// it deliberately does not decide when to retry or what the page shows: that is app.js.
// With {vod: true} it plays a recording instead (no low-latency mode, no catching up). With a DVR
// window the viewer may seek back; the player then stays there until goLive().

// Why a player stopped: the playlist is not there (stream not live), the stream server refused
// the URL's viewer token (expired, key changed: get a new URL), or something else broke.
export const GONE = 'gone';
export const DENIED = 'denied';
export const FAILED = 'failed';

function hlsClass() {
  const Hls = window.Hls;
  return Hls && typeof Hls.isSupported === 'function' && Hls.isSupported() ? Hls : null;
}

// Which engine this browser would use: 'hls.js', 'native' or null (cannot play HLS).
export function engine(video) {
  if (hlsClass()) return 'hls.js';
  if (video.canPlayType('application/vnd.apple.mpegurl')) return 'native';
  return null;
}

export class LivePlayer {
  // handlers: onPlaying(), onStop(reason, detail), onWarning(detail)
  constructor(video, url, handlers, options = {}) {
    this.video = video;
    this.url = url;
    this.h = handlers;
    this.vod = !!options.vod;
    this.userBehind = false; // the viewer seeked back into the DVR window
    this.hls = null;
    this.engine = null;
    this.stopped = false;
    this.mediaRecoveries = 0;
    this.listeners = [];
  }

  start() {
    const Hls = hlsClass();
    this.listen('playing', () => { if (!this.stopped) this.h.onPlaying(); });
    if (Hls) {
      this.engine = 'hls.js';
      this.startHls(Hls);
    } else if (this.video.canPlayType('application/vnd.apple.mpegurl')) {
      this.engine = 'native';
      this.listen('error', () => {
        const e = this.video.error;
        this.stop(FAILED, e ? `media error ${e.code}${e.message ? `: ${e.message}` : ''}` : 'media error');
      });
      this.video.src = this.url;
      this.play();
    } else {
      throw new Error('no HLS playback in this browser');
    }
  }

  startHls(Hls) {
    // No liveSyncDuration/liveSyncDurationCount: with lowLatencyMode hls.js then targets the
    // playlist's PART-HOLD-BACK, which the server derives from its part length.
    if (this.vod) {
      const hls = new Hls({ lowLatencyMode: false, enableWorker: true, manifestLoadingMaxRetry: 2, fragLoadingMaxRetry: 4 });
      this.hls = hls;
      hls.on(Hls.Events.MANIFEST_PARSED, () => this.play());
      hls.on(Hls.Events.ERROR, (_e, data) => {
        if (this.stopped) return;
        const detail = `${data.type}/${data.details}${data.response && data.response.code ? ` (HTTP ${data.response.code})` : ''}`;
        if (!data.fatal) return this.h.onWarning(detail);
        const status = data.response && data.response.code;
        this.stop(status === 404 || status === 410 ? GONE : FAILED, detail);
      });
      hls.attachMedia(this.video);
      hls.loadSource(this.url);
      return;
    }
    // A seek well behind the live edge is the viewer's choice (DVR): do not pull them back.
    this.listen('seeking', () => {
      // Our own jumps to the live position are not the viewer's.
      if (this.jumpTarget !== undefined && Math.abs(this.video.currentTime - this.jumpTarget) < 0.5) return;
      const edge = this.liveEdge();
      this.userBehind = edge !== null && edge - this.video.currentTime > 3;
    });
    const hls = new Hls({
      lowLatencyMode: true,
      enableWorker: true,
      backBufferLength: 30,
      maxLiveSyncPlaybackRate: 1.25,
      // A stall moves the target latency back by this much (hls.js's default is a whole second,
      // which would undo the low latency of short parts after one hiccup).
      liveSyncOnStallIncrease: 0.2,
      manifestLoadingMaxRetry: 2,
      levelLoadingMaxRetry: 4,
      fragLoadingMaxRetry: 4,
    });
    this.hls = hls;
    hls.on(Hls.Events.MANIFEST_PARSED, () => this.play());
    hls.on(Hls.Events.ERROR, (_e, data) => {
      if (this.stopped) return;
      const detail = `${data.type}/${data.details}${data.response && data.response.code ? ` (HTTP ${data.response.code})` : ''}`;
      if (!data.fatal) {
        this.h.onWarning(detail);
        return;
      }
      // A playlist that is not there means the stream is not live (not yet, or any more).
      const status = data.response && data.response.code;
      if (data.type === Hls.ErrorTypes.NETWORK_ERROR && (status === 404 || status === 503 || status === 410)) {
        this.stop(GONE, detail);
      } else if (data.type === Hls.ErrorTypes.NETWORK_ERROR && (status === 401 || status === 403)) {
        this.stop(DENIED, detail);
      } else if (data.type === Hls.ErrorTypes.MEDIA_ERROR && this.mediaRecoveries < 2) {
        this.mediaRecoveries++;
        this.h.onWarning(`${detail}: recovering`);
        hls.recoverMediaError();
      } else {
        this.stop(FAILED, detail);
      }
    });
    hls.attachMedia(this.video);
    hls.loadSource(this.url);
    // hls.js plays faster towards its target only with more than a second buffered ahead, which
    // a target of three short parts never has: jump to its live sync position when more than
    // 250 ms behind (at most every 3 s, and only within what is buffered). bench/stream measures
    // the effect (glass-to-glass p95 0.76 s with 200 ms parts).
    let lastJump = 0;
    this.catchUp = setInterval(() => {
      const v = this.video;
      const t = hls.targetLatency, l = hls.latency, pos = hls.liveSyncPosition;
      if (this.userBehind) return;
      if (!t || !l || !pos || l - t <= 0.25 || performance.now() - lastJump < 3000 || !v.buffered.length) return;
      if (pos >= v.buffered.end(v.buffered.length - 1) || pos <= v.currentTime) return;
      this.seekTo(pos);
      lastJump = performance.now();
    }, 250);
  }

  // Plays another URL of the same stream (a renewed viewer token) without a new player: hls.js
  // loads the new playlist and continues at the live edge; the native player gets a new src.
  switchSource(url) {
    if (this.stopped) return;
    this.url = url;
    if (this.hls) {
      this.hls.loadSource(url);
    } else {
      this.video.src = url;
      this.play();
    }
  }

  seekTo(pos) {
    this.jumpTarget = pos;
    this.video.currentTime = pos;
  }

  // Where live playback should be (media time), or null before the playlist is known.
  liveEdge() {
    if (this.hls) {
      const pos = this.hls.liveSyncPosition;
      return Number.isFinite(pos) && pos > 0 ? pos : null;
    }
    const s = this.video.seekable;
    return s && s.length ? s.end(s.length - 1) : null;
  }

  // Seconds behind the live edge (DVR), or 0 when at the edge or playing a recording.
  behindS() {
    if (this.vod || this.stopped || this.video.readyState < 2) return 0;
    const edge = this.liveEdge();
    return edge === null ? 0 : Math.max(0, edge - this.video.currentTime);
  }

  goLive() {
    const edge = this.liveEdge();
    this.userBehind = false;
    if (edge !== null) this.seekTo(edge);
    this.play();
  }

  play() {
    const p = this.video.play();
    // Refused autoplay (unmuted by the user, strict policy) leaves the native controls to start it.
    if (p && p.catch) p.catch((e) => this.h.onWarning(`play(): ${e && e.name}`));
  }

  listen(type, fn) {
    this.video.addEventListener(type, fn);
    this.listeners.push([type, fn]);
  }

  // Wall-clock time of the frame on screen minus now, in ms, from EXT-X-PROGRAM-DATE-TIME; null
  // before the first frame or when the stream carries no program date-time.
  latencyMs() {
    if (this.vod || this.stopped || this.video.readyState < 2) return null;
    let shown = null;
    if (this.hls) {
      const d = this.hls.playingDate;
      shown = d ? d.getTime() : null;
    } else if (typeof this.video.getStartDate === 'function') {
      const start = this.video.getStartDate().getTime();
      shown = Number.isFinite(start) ? start + this.video.currentTime * 1000 : null;
    }
    return shown === null || !Number.isFinite(shown) ? null : Math.max(0, Date.now() - shown);
  }

  stop(reason, detail) {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.catchUp);
    for (const [type, fn] of this.listeners) this.video.removeEventListener(type, fn);
    this.listeners = [];
    if (this.hls) {
      this.hls.destroy();
      this.hls = null;
    } else {
      this.video.removeAttribute('src');
      this.video.load();
    }
    if (reason) this.h.onStop(reason, detail);
  }
}
