// The publisher page: camera or screen -> RTCPeerConnection (H.264 + Opus, send only) -> WHIP
// POST to collab-stream, DELETE on stop. ICE is not trickled: collab-stream is ICE-lite and puts
// every candidate in its answer, so the offer is sent as soon as it is made.
import { streamBase, NAME_RE } from '/js/live/streams.js';

const $ = (id) => document.getElementById(id);
let pc = null;
let media = null;
let session = null;

function status(text, error = false) {
  $('status').textContent = text;
  $('status').className = error ? 'error' : 'muted';
}

async function stop() {
  if (session) {
    fetch(session, { method: 'DELETE' }).catch(() => {});
    session = null;
  }
  if (pc) pc.close();
  pc = null;
  if (media) media.getTracks().forEach((t) => t.stop());
  media = null;
  $('start').disabled = false;
  $('stop').disabled = true;
}

async function start(ev) {
  ev.preventDefault();
  const name = $('name').value.trim();
  if (!NAME_RE.test(name)) return status('Use letters, digits, _ and - (up to 64).', true);
  $('start').disabled = true;
  try {
    media = $('source').value === 'screen'
      ? await navigator.mediaDevices.getDisplayMedia({ video: { frameRate: 30 }, audio: true })
      : await navigator.mediaDevices.getUserMedia({ video: { width: 1280, height: 720, frameRate: 30 }, audio: true });
    $('preview').srcObject = media;
    pc = new RTCPeerConnection({ iceServers: [] });
    for (const track of media.getTracks()) {
      const tr = pc.addTransceiver(track, { direction: 'sendonly', streams: [media] });
      if (track.kind === 'video' && RTCRtpSender.getCapabilities) {
        // HLS needs H.264: offer it first (collab-stream accepts nothing else for video).
        const codecs = RTCRtpSender.getCapabilities('video').codecs;
        const h264 = codecs.filter((c) => c.mimeType === 'video/H264' && /packetization-mode=1/.test(c.sdpFmtpLine || ''));
        if (h264.length && tr.setCodecPreferences) {
          try { tr.setCodecPreferences(h264); } catch (_) { /* keep the browser's order */ }
        }
      }
    }
    pc.onconnectionstatechange = () => {
      if (!pc) return;
      status(pc.connectionState === 'connected' ? `Live: ${name}` : `Connection: ${pc.connectionState}`,
        pc.connectionState === 'failed');
    };
    await pc.setLocalDescription(await pc.createOffer());
    const base = await streamBase();
    const url = `${base}/whip/${encodeURIComponent(name)}`;
    const headers = { 'Content-Type': 'application/sdp' };
    if ($('key').value) headers.Authorization = `Bearer ${$('key').value}`;
    const res = await fetch(url, { method: 'POST', headers, body: pc.localDescription.sdp, credentials: 'omit' });
    if (res.status !== 201) {
      let why = `HTTP ${res.status}`;
      try { why = (await res.json()).error.message || why; } catch (_) { /* not JSON */ }
      throw new Error(why);
    }
    session = new URL(res.headers.get('Location'), url).href;
    await pc.setRemoteDescription({ type: 'answer', sdp: await res.text() });
    $('stop').disabled = false;
    status('Connecting…');
  } catch (e) {
    status(String(e.message || e), true);
    await stop();
  }
}

$('form').addEventListener('submit', start);
$('stop').addEventListener('click', () => { stop(); status('Stopped.'); });
// Leaving the page ends the session at once instead of waiting for ICE consent to expire.
window.addEventListener('pagehide', () => { if (session) fetch(session, { method: 'DELETE', keepalive: true }).catch(() => {}); });
