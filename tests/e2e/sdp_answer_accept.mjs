// Checks that headless Chromium accepts the SDP answers (and offers) lib/rtc writes.
//
// Usage: node tests/e2e/sdp_answer_accept.mjs BUILD/bin/sdp_answer_tool
//
// For each offer scenario of tests/data/rtc/sdp/capture-offers.mjs it builds a fresh
// RTCPeerConnection in the page, sets the offer as local description, pipes the offer
// through `sdp_answer_tool answer` and calls setRemoteDescription(answer). For the send-only
// path it pipes `sdp_answer_tool offer` into setRemoteDescription(offer) + createAnswer and
// checks that our parser reads Chromium's answer. Prints one JSON line per case and a summary;
// exit 0 when every case passes.
//
// Our answers carry host candidates on 127.0.0.1 port 9 (discard), so the only traffic this
// causes is Chromium's STUN checks on loopback. Run it in a network namespace with only lo
// (see tests/data/rtc/sdp/capture-offers.mjs) to keep even host-candidate gathering private.
import { spawnSync } from 'node:child_process';
import { launch } from './browser.mjs';
import { MEDIA_ARGS, createOffer, startBlankServer } from '../data/rtc/sdp/capture-offers.mjs';

const tool = process.argv[2];
if (!tool) {
  console.error('usage: node sdp_answer_accept.mjs PATH/TO/sdp_answer_tool');
  process.exit(64);
}

function runTool(args, input) {
  const r = spawnSync(tool, args, { input, encoding: 'utf8', timeout: 10000 });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`sdp_answer_tool ${args.join(' ')} exited ${r.status}: ${r.stderr.trim()}`);
  return r.stdout;
}

// Runs in the page after setLocalDescription(offer): applies the answer, reports the state.
async function pageApplyAnswer(answer) {
  const pc = window.pc;
  await pc.setRemoteDescription({ type: 'answer', sdp: answer });
  const transceivers = pc.getTransceivers().map((t) => ({
    mid: t.mid,
    kind: t.receiver.track.kind,
    currentDirection: t.currentDirection,
    stopped: t.currentDirection === 'stopped',
    encodings: t.sender.track ? t.sender.getParameters().encodings.map((e) => ({ rid: e.rid ?? null, active: e.active })) : [],
    sendCodec: t.sender.track ? (t.sender.getParameters().codecs[0]?.mimeType ?? null) : null,
  }));
  const sctp = pc.sctp ? pc.sctp.state : null;
  const signalingState = pc.signalingState;
  pc.close();
  return { signalingState, transceivers, sctp };
}

// The send-only path: the browser receives our offer and answers it.
async function pageAnswerOurOffer(offer) {
  const pc = new RTCPeerConnection({ iceServers: [] });
  await pc.setRemoteDescription({ type: 'offer', sdp: offer });
  const answer = await pc.createAnswer();
  await pc.setLocalDescription(answer);
  const transceivers = pc.getTransceivers().map((t) => ({
    mid: t.mid, kind: t.receiver.track.kind, currentDirection: t.currentDirection,
  }));
  const streams = pc.getReceivers().map((r) => r.track.id);
  pc.close();
  return { answer: pc.localDescription.sdp, transceivers, streams };
}

// Expectations per case, on the state after the answer was applied.
const CASES = [
  { name: 'plain', args: [], expect: (s) => s.transceivers.every((t) => t.currentDirection === 'sendrecv') },
  { name: 'plain', label: 'plain+send', args: ['--send'],
    expect: (s) => s.transceivers.every((t) => t.currentDirection === 'sendrecv') },
  {
    name: 'simulcast', args: [],
    expect: (s) => {
      const v = s.transceivers.find((t) => t.kind === 'video');
      return v.currentDirection === 'sendonly' && v.encodings.length === 3 &&
        v.encodings.every((e) => e.active) && v.encodings.map((e) => e.rid).join(',') === 'q,h,f';
    },
  },
  { name: 'h264', args: ['--max-codecs', '1'],
    expect: (s) => s.transceivers.find((t) => t.kind === 'video').sendCodec === 'video/H264' },
  {
    name: 'plain', label: 'plain-video-rejected', args: ['--video-codecs', 'none'],
    // A rejected section stops its transceiver, which then leaves getTransceivers().
    expect: (s) => s.transceivers.find((t) => t.kind === 'audio').currentDirection === 'sendrecv' &&
      ['stopped', 'inactive', undefined].includes(s.transceivers.find((t) => t.kind === 'video')?.currentDirection),
  },
  { name: 'vp9', args: [], expect: (s) => s.transceivers.find((t) => t.kind === 'video').sendCodec === 'video/VP9' },
  { name: 'recvonly', args: ['--send'], expect: (s) => s.transceivers.every((t) => t.currentDirection === 'recvonly') },
  { name: 'datachannel', args: [], expect: (s) => s.transceivers.length === 0 && s.sctp === null },
  { name: 'datachannel', label: 'datachannel+accept', args: ['--accept-data'], expect: (s) => s.sctp !== null },
  { name: 'mixed', args: ['--send'],
    expect: (s) => s.sctp === null && s.transceivers.every((t) => t.currentDirection === 'sendrecv') },
  { name: 'mixed', label: 'mixed+accept', args: ['--accept-data'],
    expect: (s) => s.sctp !== null && s.transceivers.every((t) => t.currentDirection === 'sendrecv') },
];

const { context, close } = await launch(MEDIA_ARGS);
const blank = await startBlankServer();
let failures = 0;
const report = (line) => {
  if (!line.ok) failures++;
  console.log(JSON.stringify(line));
};
try {
  for (const c of CASES) {
    const label = c.label ?? c.name;
    const { page, sdp } = await createOffer(context, blank.url, c.name);
    try {
      const answer = runTool(['answer', ...c.args], sdp);
      const state = await page.evaluate(pageApplyAnswer, answer);
      report({ case: label, ok: Boolean(c.expect(state)), state });
    } catch (e) {
      report({ case: label, ok: false, error: String(e.message ?? e) });
    } finally {
      await page.close();
    }
  }
  for (const variant of [[], ['--h264']]) {
    const label = `our-offer${variant.join('')}`;
    const page = await context.newPage();
    try {
      await page.goto(blank.url);
      const offer = runTool(['offer', ...variant], '');
      const r = await page.evaluate(pageAnswerOurOffer, offer);
      runTool(['check'], r.answer); // we must parse Chromium's answer
      const ok = r.transceivers.length === 2 && r.transceivers.every((t) => t.currentDirection === 'recvonly') &&
        r.answer.includes(variant.length ? 'H264/90000' : 'VP8/90000') && r.answer.includes('a=setup:active');
      report({ case: label, ok, transceivers: r.transceivers });
    } catch (e) {
      report({ case: label, ok: false, error: String(e.message ?? e) });
    } finally {
      await page.close();
    }
  }
} finally {
  await close();
  await blank.stop();
}
console.log(JSON.stringify({ summary: true, cases: CASES.length + 2, failures }));
process.exit(failures === 0 ? 0 : 1);
