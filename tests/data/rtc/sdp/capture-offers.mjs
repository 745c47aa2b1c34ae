// Captures real Chromium SDP offers into this directory (the parser/answer tests read them).
//
// Run from the repository root (needs /usr/bin/chromium and `npm ci` for playwright-core):
//
//   node tests/data/rtc/sdp/capture-offers.mjs [OUTDIR]
//
// For the offer with ICE candidates, run it inside a throw-away network namespace that has
// only loopback, so gathering binds nothing on the machine's real interfaces and mDNS sends
// nothing to the LAN:
//
//   ip netns add sdpcap && ip -n sdpcap link set lo up
//   ip netns exec sdpcap node tests/data/rtc/sdp/capture-offers.mjs --with-candidates
//   ip netns del sdpcap
//
// Outside a namespace --with-candidates is refused. The offers contain random ICE
// credentials, fingerprints, SSRCs and msids, so a re-run changes those lines only.
// tests/e2e/sdp_answer_accept.mjs imports SCENARIOS / createOffer from this file so both
// build the peer connections the same way.
import { writeFileSync, readdirSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createServer } from 'node:http';
import { launch } from '../../../e2e/browser.mjs';

export const MEDIA_ARGS = ['--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream'];

// name -> what the offer exercises. The page-side builder below switches on the name.
export const SCENARIOS = {
  plain: 'audio+video sendrecv (addTrack)',
  simulcast: 'audio + video sendonly with rids q/h/f (scaleResolutionDownBy 4/2/1)',
  h264: 'audio+video, H.264 codecs preferred first',
  vp9: 'audio+video, VP9 codecs preferred first',
  recvonly: 'audio and video recvonly transceivers, no local media',
  datachannel: 'data channel only (m=application)',
  mixed: 'data channel created first, then audio+video (Chromium still puts m=application last)',
};

// Runs inside the page: builds window.pc for the scenario and returns the local offer after
// setLocalDescription. If waitGathering, returns the description once ICE gathering completes.
async function pageCreateOffer({ name, waitGathering }) {
  const pc = new RTCPeerConnection({ iceServers: [] });
  window.pc = pc;
  const needMedia = ['plain', 'simulcast', 'h264', 'vp9', 'mixed'].includes(name);
  const stream = needMedia ? await navigator.mediaDevices.getUserMedia({ audio: true, video: { width: 1280, height: 720 } }) : null;
  const prefer = (kind, mime) => {
    const caps = RTCRtpReceiver.getCapabilities(kind).codecs;
    const first = caps.filter((c) => c.mimeType.toLowerCase() === mime.toLowerCase());
    const rest = caps.filter((c) => c.mimeType.toLowerCase() !== mime.toLowerCase());
    return [...first, ...rest];
  };
  switch (name) {
    case 'plain':
      for (const t of stream.getTracks()) pc.addTrack(t, stream);
      break;
    case 'simulcast':
      pc.addTransceiver(stream.getAudioTracks()[0], { direction: 'sendonly', streams: [stream] });
      pc.addTransceiver(stream.getVideoTracks()[0], {
        direction: 'sendonly', streams: [stream],
        sendEncodings: [
          { rid: 'q', scaleResolutionDownBy: 4 },
          { rid: 'h', scaleResolutionDownBy: 2 },
          { rid: 'f', scaleResolutionDownBy: 1 },
        ],
      });
      break;
    case 'h264':
    case 'vp9': {
      pc.addTrack(stream.getAudioTracks()[0], stream);
      const tr = pc.addTransceiver(stream.getVideoTracks()[0], { direction: 'sendrecv', streams: [stream] });
      tr.setCodecPreferences(prefer('video', name === 'h264' ? 'video/H264' : 'video/VP9'));
      break;
    }
    case 'recvonly':
      pc.addTransceiver('audio', { direction: 'recvonly' });
      pc.addTransceiver('video', { direction: 'recvonly' });
      break;
    case 'datachannel':
      window.dc = pc.createDataChannel('chat');
      break;
    case 'mixed':
      window.dc = pc.createDataChannel('chat');
      for (const t of stream.getTracks()) pc.addTrack(t, stream);
      break;
    default:
      throw new Error('unknown scenario ' + name);
  }
  const offer = await pc.createOffer();
  await pc.setLocalDescription(offer);
  if (waitGathering && pc.iceGatheringState !== 'complete') {
    await new Promise((resolve) => {
      const timer = setTimeout(resolve, 10000); // bounded: a namespace with no usable interface never completes
      pc.addEventListener('icegatheringstatechange', () => {
        if (pc.iceGatheringState === 'complete') { clearTimeout(timer); resolve(); }
      });
    });
  }
  return pc.localDescription.sdp;
}

// getUserMedia needs a secure context, which about:blank is not; http://127.0.0.1 is. This
// serves one empty page on a free loopback port. Returns { url, stop }.
export async function startBlankServer() {
  const server = createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end('<!doctype html><title>sdp</title>');
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${server.address().port}/`;
  return { url, stop: () => new Promise((resolve) => server.close(resolve)) };
}

// Opens the blank page at `url` and returns { page, sdp } for scenario `name`.
export async function createOffer(context, url, name, { waitGathering = false } = {}) {
  const page = await context.newPage();
  await page.goto(url);
  const sdp = await page.evaluate(pageCreateOffer, { name, waitGathering });
  return { page, sdp };
}

function inPrivateNamespace() {
  // Only loopback visible: /sys/class/net lists the namespace's interfaces.
  return readdirSync('/sys/class/net').every((n) => n === 'lo');
}

async function main() {
  const here = dirname(fileURLToPath(import.meta.url));
  const args = process.argv.slice(2);
  const withCandidates = args.includes('--with-candidates');
  const outDir = args.find((a) => !a.startsWith('--')) ?? here;
  if (withCandidates && !inPrivateNamespace()) {
    console.error('--with-candidates must run in a network namespace with only lo (see the header)');
    process.exit(64);
  }
  const extra = withCandidates ? [...MEDIA_ARGS, '--allow-loopback-in-peer-connection'] : MEDIA_ARGS;
  const { context, close } = await launch(extra);
  const blank = await startBlankServer();
  try {
    const version = context.browser()?.version() ?? execFileSync('/usr/bin/chromium', ['--version']).toString().trim();
    if (withCandidates) {
      for (const name of ['plain', 'datachannel']) {
        const { page, sdp } = await createOffer(context, blank.url, name, { waitGathering: true });
        writeFileSync(join(outDir, `${name}-candidates.sdp`), sdp);
        await page.close();
        console.log(`wrote ${name}-candidates.sdp`);
      }
    } else {
      for (const name of Object.keys(SCENARIOS)) {
        const { page, sdp } = await createOffer(context, blank.url, name);
        writeFileSync(join(outDir, `${name}.sdp`), sdp);
        await page.close();
        console.log(`wrote ${name}.sdp`);
      }
      writeFileSync(join(outDir, 'CHROMIUM_VERSION.txt'),
                    `# Offers in this directory were captured by capture-offers.mjs with\n` +
                    `${execFileSync('/usr/bin/chromium', ['--version'], { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim()}\n` +
                    `# (browser version ${version}), playwright-core 1.61.1, flags from tests/e2e/browser.mjs plus\n` +
                    `# ${MEDIA_ARGS.join(' ')}\n` +
                    `# *-candidates.sdp: --with-candidates, in a network namespace with only lo, adding\n` +
                    `# --allow-loopback-in-peer-connection and waiting for ICE gathering to complete\n`);
    }
  } finally {
    await close();
    await blank.stop();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main();
}
