// The /echo page: sends the camera and microphone to collab-sfu, which returns every packet, and
// shows what came back. window.echo exposes the state and stats for the browser tests.
const params = new URLSearchParams(location.search);
const codec = params.get('codec');
const statusEl = document.getElementById('status');
const echo = (window.echo = { state: 'starting', error: null, firstFrameMs: null, codec, stats: null });

function setState(state, error) {
  echo.state = state;
  if (error) echo.error = String(error);
  statusEl.textContent = error ? `${state}: ${error}` : state;
}

// The numbers the tests look at: decoded video frames, received audio, the pair in use.
async function collectStats(pc) {
  const out = { video: null, audio: null, pair: null, codecs: {} };
  const report = await pc.getStats();
  const byId = new Map();
  report.forEach((s) => byId.set(s.id, s));
  report.forEach((s) => {
    if (s.type === 'inbound-rtp' && s.kind === 'video') {
      out.video = { framesDecoded: s.framesDecoded || 0, packetsReceived: s.packetsReceived || 0,
                    codec: byId.get(s.codecId)?.mimeType || null, frameWidth: s.frameWidth || 0 };
    } else if (s.type === 'inbound-rtp' && s.kind === 'audio') {
      out.audio = { packetsReceived: s.packetsReceived || 0, totalSamplesReceived: s.totalSamplesReceived || 0,
                    codec: byId.get(s.codecId)?.mimeType || null };
    } else if (s.type === 'outbound-rtp' && s.kind === 'video') {
      out.codecs.sent = byId.get(s.codecId)?.mimeType || null;
      out.keyFramesEncoded = s.keyFramesEncoded || 0;
      out.pliCount = s.pliCount || 0;
      out.nackCount = s.nackCount || 0;
      out.firCount = s.firCount || 0;
      out.retransmittedPacketsSent = s.retransmittedPacketsSent || 0;
    } else if (s.type === 'transport' && s.selectedCandidatePairId) {
      const pair = byId.get(s.selectedCandidatePairId);
      const remote = pair && byId.get(pair.remoteCandidateId);
      const local = pair && byId.get(pair.localCandidateId);
      if (pair) out.pair = { state: pair.state, protocol: remote?.protocol, remotePort: remote?.port,
                             localProtocol: local?.protocol };
    }
  });
  return out;
}
echo.collectStats = () => collectStats(echo.pc);

async function main() {
  const stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: { width: 640, height: 480 } });
  document.getElementById('local').srcObject = stream;
  const pc = new RTCPeerConnection({ iceServers: [] });
  echo.pc = pc;
  for (const track of stream.getTracks()) {
    const tr = pc.addTransceiver(track, { direction: 'sendrecv', streams: [stream] });
    if (track.kind === 'video' && codec) {
      const want = RTCRtpReceiver.getCapabilities('video').codecs
        .filter((c) => c.mimeType.toLowerCase() === `video/${codec.toLowerCase()}`);
      if (want.length === 0) throw new Error(`this browser has no ${codec}`);
      tr.setCodecPreferences(want);
    }
  }
  const remote = document.getElementById('remote');
  pc.ontrack = (e) => {
    if (e.track.kind !== 'video') return;
    remote.srcObject = e.streams[0] || new MediaStream([e.track]);
  };
  pc.onconnectionstatechange = () => setState(pc.connectionState);

  const ws = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/echo/ws`);
  echo.ws = ws;
  await new Promise((resolve, reject) => {
    ws.onopen = resolve;
    ws.onerror = () => reject(new Error('WebSocket failed'));
  });
  ws.onclose = () => { if (echo.state !== 'failed') setState('signalling closed'); };
  const offer = await pc.createOffer();
  await pc.setLocalDescription(offer);
  // Our side is ICE-lite without trickle: the browser's candidates are not needed, so the offer
  // goes out at once instead of after gathering.
  const t0 = performance.now();
  ws.send(JSON.stringify({ type: 'offer', sdp: pc.localDescription.sdp }));
  const answer = await new Promise((resolve, reject) => {
    ws.onmessage = (m) => {
      const msg = JSON.parse(m.data);
      if (msg.type === 'answer') resolve(msg.sdp);
      else if (msg.type === 'error') reject(new Error(msg.message));
      else if (msg.type === 'closed') setState('failed', msg.reason);
    };
  });
  await pc.setRemoteDescription({ type: 'answer', sdp: answer });
  setState('negotiated');
  const onFrame = () => { if (echo.firstFrameMs === null) echo.firstFrameMs = performance.now() - t0; };
  if (remote.requestVideoFrameCallback) remote.requestVideoFrameCallback(onFrame);
  else remote.addEventListener('loadeddata', onFrame, { once: true });
  const statsEl = document.getElementById('stats');
  setInterval(async () => {
    echo.stats = await collectStats(pc);
    statsEl.textContent = JSON.stringify(echo.stats, null, 1);
  }, 1000);
}

main().catch((e) => setState('failed', e.message || e));
