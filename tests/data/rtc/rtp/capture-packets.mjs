// Captures real Chromium RTP and RTCP packets into tests/data/rtc/rtp and tests/data/rtc/rtcp
// (the rtp/rtcp unit tests and fuzz seeds use them).
//
// Two peer connections in one page send audio+video to each other over loopback with
// --disable-webrtc-encryption, so the packets on the wire are plain RTP/RTCP; sniff.py records
// them from `lo`. 3% random UDP loss (iptables) makes the receiver send NACKs and the sender
// answer with RTX. Scenario "twcc" is Chromium's default negotiation (transport-cc feedback);
// "remb" strips transport-cc from the SDP so the receiver falls back to REMB.
//
// Needs root, /usr/bin/chromium, playwright-core (npm ci) and a throw-away network namespace
// (sniffing and iptables must not touch the machine's own loopback):
//
//   ip netns add rtpcap && ip -n rtpcap link set lo up
//   ip netns exec rtpcap node tests/data/rtc/rtp/capture-packets.mjs
//   ip netns del rtpcap
//
// SSRCs, timestamps and payloads differ on every run; the file names say what a packet is.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, unlinkSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { launch } from '../../../e2e/browser.mjs';

const SECONDS = 6;
const LOSS = '0.03';
const FLAGS = ['--disable-webrtc-encryption', '--allow-loopback-in-peer-connection',
               '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream',
               '--autoplay-policy=no-user-gesture-required'];

// Runs inside the page: pc1 sends camera+mic to pc2, pc2 sends mic back, for `seconds`.
async function pageRun({ scenario, seconds }) {
  const stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: { width: 640, height: 360 } });
  const back = await navigator.mediaDevices.getUserMedia({ audio: true });
  const pc1 = new RTCPeerConnection({ iceServers: [] });
  const pc2 = new RTCPeerConnection({ iceServers: [] });
  for (const t of stream.getTracks()) pc1.addTrack(t, stream);
  for (const t of back.getTracks()) pc2.addTrack(t, back);
  pc2.ontrack = (e) => {
    if (e.track.kind !== 'video') return;
    const v = document.createElement('video');
    v.muted = true;
    v.autoplay = true;
    v.srcObject = new MediaStream([e.track]);
    document.body.appendChild(v);
  };
  const munge = (sdp) => (scenario === 'remb'
    ? sdp.split('\r\n').filter((l) => !/transport-cc|transport-wide-cc/.test(l)).join('\r\n')
    : sdp);
  // Candidates travel inside the descriptions: wait for gathering (bounded) before sending one.
  const gathered = (pc) => new Promise((resolve) => {
    if (pc.iceGatheringState === 'complete') return resolve();
    const timer = setTimeout(resolve, 5000);
    pc.addEventListener('icegatheringstatechange', () => {
      if (pc.iceGatheringState === 'complete') { clearTimeout(timer); resolve(); }
    });
  });
  await pc1.setLocalDescription(await pc1.createOffer());
  await gathered(pc1);
  await pc2.setRemoteDescription({ type: 'offer', sdp: munge(pc1.localDescription.sdp) });
  await pc2.setLocalDescription(await pc2.createAnswer());
  await gathered(pc2);
  await pc1.setRemoteDescription({ type: 'answer', sdp: munge(pc2.localDescription.sdp) });
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`not connected after 10 s: ${pc1.iceConnectionState} ${pc2.iceConnectionState} ${pc1.connectionState}`)), 10000);
    const check = () => {
      const up = (pc) => ['connected', 'completed'].includes(pc.iceConnectionState);
      if (up(pc1) && up(pc2)) {
        clearTimeout(timer);
        resolve();
      }
    };
    pc1.oniceconnectionstatechange = check;
    pc2.oniceconnectionstatechange = check;
    check();
  });
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  let frames = 0;
  (await pc2.getStats()).forEach((s) => { if (s.type === 'inbound-rtp' && s.kind === 'video') frames = s.framesDecoded; });
  pc1.close();
  pc2.close();
  return { answer: pc2.localDescription.sdp, frames };
}

function inPrivateNamespace() {
  return readdirSync('/sys/class/net').every((n) => n === 'lo');
}

function readCapture(path) {
  const buf = readFileSync(path);
  const out = [];
  for (let off = 0; off + 16 <= buf.length;) {
    const len = buf.readUInt32BE(off + 12);
    out.push(buf.subarray(off + 16, off + 16 + len));
    off += 16 + len;
  }
  return out;
}

const isRtpClass = (p) => p.length >= 2 && p[0] >= 128 && p[0] <= 191;
const isRtcp = (p) => isRtpClass(p) && p[1] >= 192 && p[1] <= 223;

// "rr+remb", "sr+sdes", "twcc", ... from the packet headers of a compound packet.
function describeRtcp(p) {
  const names = [];
  for (let off = 0; off + 4 <= p.length;) {
    const type = p[off + 1];
    const fmt = p[off] & 31;
    let name = { 200: 'sr', 201: 'rr', 202: 'sdes', 203: 'bye', 204: 'app', 207: 'xr' }[type];
    if (type === 205) name = { 1: 'nack', 15: 'twcc' }[fmt] ?? `rtpfb${fmt}`;
    if (type === 206) {
      name = { 1: 'pli', 4: 'fir' }[fmt] ?? `psfb${fmt}`;
      if (fmt === 15 && p.subarray(off + 12, off + 16).toString() === 'REMB') name = 'remb';
    }
    names.push(name ?? `t${type}`);
    off += (p.readUInt16BE(off + 2) + 1) * 4;
  }
  return names.join('+');
}

function describeRtp(p) {
  const padded = (p[0] & 0x20) !== 0;
  return `pt${p[1] & 0x7f}${padded ? '-padded' : ''}`;
}

// Keeps, per kind, the first packet, the largest, and one from the middle of the run.
function pick(packets, describe) {
  const groups = new Map();
  for (const p of packets) {
    const k = describe(p);
    if (!groups.has(k)) groups.set(k, []);
    groups.get(k).push(p);
  }
  const chosen = [];
  for (const [k, list] of groups) {
    const largest = list.reduce((a, b) => (b.length > a.length ? b : a));
    const picks = [...new Set([list[0], list[Math.floor(list.length / 2)], largest])];
    picks.forEach((p, i) => chosen.push({ name: `${k}-${i + 1}.bin`, bytes: p }));
  }
  return chosen;
}

async function main() {
  if (!inPrivateNamespace()) {
    console.error('run this in a network namespace with only lo (see the header)');
    process.exit(64);
  }
  const here = dirname(fileURLToPath(import.meta.url));
  const rtpDir = here;
  const rtcpDir = join(here, '..', 'rtcp');
  for (const dir of [rtpDir, rtcpDir])
    for (const f of readdirSync(dir)) if (f.endsWith('.bin') || f.endsWith('-answer.sdp')) unlinkSync(join(dir, f));

  const server = createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end('<!doctype html><title>rtp</title>');
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${server.address().port}/`;
  const work = mkdtempSync(join(tmpdir(), 'collab-rtpcap-'));
  const lossRule = ['INPUT', '-p', 'udp', '-m', 'statistic', '--mode', 'random', '--probability', LOSS, '-j', 'DROP'];
  execFileSync('iptables', ['-A', ...lossRule]);
  const { context, close } = await launch(FLAGS);
  try {
    for (const scenario of ['twcc', 'remb']) {
      const capture = join(work, `${scenario}.cap`);
      const sniffer = spawn('python3', [join(here, 'sniff.py'), capture, String(SECONDS + 8)],
                            { stdio: ['ignore', 'pipe', 'inherit'] });
      await new Promise((resolve) => sniffer.stdout.once('data', resolve));
      const page = await context.newPage();
      await page.goto(url);
      const { answer, frames } = await page.evaluate(pageRun, { scenario, seconds: SECONDS });
      await page.close();
      sniffer.kill('SIGTERM');
      await new Promise((resolve) => sniffer.once('exit', resolve));
      const packets = readCapture(capture).filter(isRtpClass);
      const rtcp = pick(packets.filter(isRtcp), describeRtcp);
      const rtp = pick(packets.filter((p) => !isRtcp(p)), describeRtp);
      for (const { name, bytes } of rtcp) writeFileSync(join(rtcpDir, `${scenario}-${name}`), bytes);
      for (const { name, bytes } of rtp) writeFileSync(join(rtpDir, `${scenario}-${name}`), bytes);
      writeFileSync(join(rtpDir, `${scenario}-answer.sdp`), answer);
      console.log(`${scenario}: ${packets.length} RTP/RTCP packets, ${frames} video frames decoded, ` +
                  `kept ${rtp.length} RTP and ${rtcp.length} RTCP`);
    }
    const version = execFileSync('/usr/bin/chromium', ['--version']).toString().trim();
    writeFileSync(join(rtpDir, 'CAPTURE.txt'),
                  `# Packets in rtp/ and rtcp/ were captured with rtp/capture-packets.mjs from:\n# ${version}\n` +
                  `# playwright-core 1.61.1, flags: ${FLAGS.join(' ')}\n` +
                  `# <scenario>-answer.sdp is what the receiving peer answered (extension ids, payload types).\n`);
  } finally {
    execFileSync('iptables', ['-D', ...lossRule]);
    await close();
    server.close();
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
