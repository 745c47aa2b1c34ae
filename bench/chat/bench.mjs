// bench/chat: collab-chatd beside prosody 0.12 and ejabberd 23.01 on one workload, in one run,
// every server started and stopped here (by PID) on loopback (issues 3 and 10).
//   fan-out     one sender at a fixed rate into a room of N connected members: delivery latency
//   saturate    the sender keeps K messages in flight in a room of 1,000: deliveries/s and per core
//   ingest      C clients, one message outstanding each, until acked (durable): msgs/s, ack latency
//   idle        N authenticated idle WebSocket sessions: RSS growth of the server per session
// Prints a table per scenario with collab/peer ratios and the targets; --json FILE writes the figures.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { Collab, Prosody, Ejabberd } from './lib/servers.mjs';
import {
  nowUs, sleep, summarize, pool, setAffinity, treeCpuSeconds, treeRssKiB, selfCpuSeconds, waitFor, withTimeout,
} from './lib/util.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));

const FULL = {
  fanoutSizes: [400, 1000],
  fanoutMessages: 200,
  fanoutRate: 10,
  saturateMembers: 1000,
  saturateWindow: 32,
  saturateSeconds: 10,
  ingestClients: 50,
  ingestSeconds: 10,
  idleSessions: 10000,
  drainSeconds: 20,
  behindSeconds: 5,
  connectConcurrency: 64,
};
const QUICK = {
  fanoutSizes: [20, 50],
  fanoutMessages: 20,
  fanoutRate: 10,
  saturateMembers: 50,
  saturateWindow: 8,
  saturateSeconds: 2,
  ingestClients: 10,
  ingestSeconds: 2,
  idleSessions: 200,
  drainSeconds: 10,
  behindSeconds: 5,
  connectConcurrency: 32,
};

const TARGETS = {
  fanoutP99Ms: 20, // issue 10 (issue 3 said 50 ms)
  ingestMsgsPerS: 20000,
  idleKiBPerSession: 20,
  peerRatio: 5, // >= 5x prosody
};

function usage(code) {
  const out = code ? process.stderr : process.stdout;
  out.write(`usage: bench.mjs [--quick] [--servers collab,prosody,ejabberd] [--scenarios fanout,saturate,ingest,idle]
                 [--bin-dir DIR] [--json FILE] [--idle N] [--messages N] [--sizes 400,1000] [--window K] [--max-minutes M]
  --quick      a short sanity run (small rooms, few messages); exits non-zero when anything is lost or fails
`);
  process.exit(code);
}

function parseArgs(argv) {
  const o = {
    quick: false,
    servers: ['collab', 'prosody', 'ejabberd'],
    scenarios: ['fanout', 'saturate', 'ingest', 'idle'],
    binDir: process.env.COLLAB_BIN_DIR || path.resolve(here, '..', '..', 'build', 'release', 'bin'),
    json: null,
    idle: null,
    messages: null,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => {
      if (i + 1 >= argv.length) usage(64);
      return argv[++i];
    };
    if (a === '--quick') o.quick = true;
    else if (a === '--servers') o.servers = val().split(',').filter(Boolean);
    else if (a === '--scenarios') o.scenarios = val().split(',').filter(Boolean);
    else if (a === '--bin-dir') o.binDir = path.resolve(val());
    else if (a === '--json') o.json = val();
    else if (a === '--idle') o.idle = Number(val());
    else if (a === '--messages') o.messages = Number(val());
    else if (a === '--sizes') o.sizes = val().split(',').map(Number);
    else if (a === '--max-minutes') o.maxMinutes = Number(val());
    else if (a === '--window') o.window = Number(val());
    else if (a === '-h' || a === '--help') usage(0);
    else usage(64);
  }
  for (const s of o.servers) if (!['collab', 'prosody', 'ejabberd'].includes(s)) usage(64);
  for (const s of o.scenarios) if (!['fanout', 'saturate', 'ingest', 'idle'].includes(s)) usage(64);
  return o;
}

const log = (...a) => process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${a.join(' ')}\n`);

let seqCounter = 0; // message numbers are unique for the whole run

// Where the load generator runs during the fan-out (latency) scenarios.
// On loopback each delivery wakes the generator with a synchronous wakeup, and the scheduler then
// tends to run it on the server's own core, so the two take turns socket by socket while the
// other core idles (perf sched on this 2-core VM: a context switch every 15-30 us through a whole
// fan-out); the latency then measures that turn-taking as much as the server. Clients on other
// machines never share the server's cores, so during the fan-out the generator (this process)
// is kept on the first allowed CPU; every server stays free to run on all CPUs, as it does
// elsewhere (confining a server instead would cost multi-threaded ejabberd its second core). A
// second pass at the largest size with the generator free too is reported beside it. Throughput
// scenarios (saturate, ingest, idle) leave every process free on all CPUs.
function allowedCpus() {
  const m = /Cpus_allowed_list:\s*(\S+)/.exec(fs.readFileSync('/proc/self/status', 'utf8'));
  const cpus = [];
  for (const part of (m ? m[1] : '').split(',')) {
    const [a, b] = part.split('-').map(Number);
    if (Number.isInteger(a)) for (let c = a; c <= (Number.isInteger(b) ? b : a); c++) cpus.push(c);
  }
  return cpus;
}

function placement() {
  const cpus = allowedCpus();
  if (cpus.length < 2) return null;
  return { generator: String(cpus[0]), all: cpus.join(',') };
}

async function withPlacement(place, fn) {
  if (!place) return fn();
  if (!setAffinity([process.pid], place.generator)) {
    setAffinity([process.pid], place.all);
    throw new Error('taskset could not keep the load generator on one CPU');
  }
  try {
    return await fn();
  } finally {
    setAffinity([process.pid], place.all);
  }
}

// Opens sessions for user indexes `ids` (those not open yet) with bounded concurrency.
async function connect(server, clients, ids, conc) {
  const todo = ids.filter((i) => !clients[i]);
  await pool(todo, conc, async (i) => {
    // A second attempt for a session whose opening handshake timed out: a server busy with
    // hundreds of logins may let a few connections wait past the client's timeout.
    for (let attempt = 1; ; attempt++) {
      const c = server.client(i);
      try {
        await withTimeout(c.open(), 60000, `${server.name}: session of user ${i}`);
        clients[i] = c;
        return;
      } catch (e) {
        c.close();
        if (attempt >= 2 || !server.alive()) throw e;
        clients.retries = (clients.retries || 0) + 1;
      }
    }
  });
}

function closeAll(clients) {
  for (const c of clients) if (c) c.close();
  clients.length = 0;
  clients.rooms = {};
}

// Sessions whose server side went away make the run meaningless: fail loudly.
function checkAlive(server, clients, ids) {
  if (!server.alive()) throw new Error(`${server.name} exited during the run`);
  const dead = ids.filter((i) => clients[i] && clients[i].closed).length;
  if (dead) throw new Error(`${server.name}: ${dead} sessions were closed by the server`);
}

// Waits until the server is nearly idle (a backlog of an earlier scenario would otherwise be
// measured as part of the next one); bounded, and it says when the bound was hit.
async function settle(server, maxS = 30) {
  const t0 = performance.now();
  while (performance.now() - t0 < maxS * 1000) {
    const c0 = treeCpuSeconds(server.pid);
    await sleep(500);
    if (treeCpuSeconds(server.pid) - c0 < 0.05) return true;
  }
  log(`${server.name}: still busy after ${maxS} s of settling`);
  return false;
}

// Connects users 0..size-1 and puts them in a new room (user 0 first: it creates XMPP rooms).
async function roomOfMembers(server, P, clients, name, size) {
  const ids = [...Array(size).keys()];
  if (clients.rooms && clients.rooms[size]) {
    // The fan-out room of this size, its sessions still open: reuse it (joining 1,000 members
    // is the slowest part of a run for the XMPP servers).
    await settle(server);
    checkAlive(server, clients, ids);
    return { ids, room: clients.rooms[size] };
  }
  await connect(server, clients, ids, P.connectConcurrency);
  const room = await server.createRoom(name, ids);
  await clients[0].join(room);
  await pool(ids.slice(1), P.connectConcurrency, (i) => withTimeout(clients[i].join(room), 120000, `join ${i}`));
  await settle(server);
  checkAlive(server, clients, ids);
  clients.rooms = { ...(clients.rooms || {}), [size]: room };
  return { ids, room };
}

async function fanout(server, P, clients, size) {
  const { ids, room } = await roomOfMembers(server, P, clients, `fan${size}`, size);
  const n = P.fanoutMessages;
  const first = seqCounter + 1;
  seqCounter += n;
  const receivers = size - 1;
  const lat = new Float64Array(n * receivers);
  const remaining = new Int32Array(n);
  const sentAt = new Float64Array(n);
  // One flag per (message, receiver): a second copy of a message is counted as a duplicate, not
  // as a delivery, so it cannot hide a message another receiver never got.
  const seen = new Uint8Array(n * receivers);
  let got = 0;
  let duplicates = 0;
  let complete = 0; // messages every receiver has
  let oldest = 0; // index of the oldest message not yet complete
  ids.slice(1).forEach((i, r) => {
    clients[i].onBench = (room, seq, t) => {
      const k = seq - first;
      if (k < 0 || k >= n) return;
      const at = nowUs();
      const slot = k * receivers + r;
      if (seen[slot]) {
        duplicates++;
        return;
      }
      seen[slot] = 1;
      lat[got++] = at - t;
      if (--remaining[k] === 0) complete++;
    };
  });
  const cpu0 = treeCpuSeconds(server.pid);
  const self0 = selfCpuSeconds();
  const t0 = performance.now();
  const periodMs = 1000 / P.fanoutRate;
  let sent = 0;
  let behind = false;
  for (let k = 0; k < n; k++) {
    const due = t0 + k * periodMs;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    // A server that falls more than behindSeconds behind the schedule cannot carry this rate;
    // sending on would only pile up a backlog that spills into the next scenario.
    while (oldest < sent && remaining[oldest] === 0) oldest++;
    if (oldest < sent && performance.now() - sentAt[oldest] > P.behindSeconds * 1000) {
      behind = true;
      break;
    }
    remaining[k] = receivers;
    sentAt[k] = performance.now();
    clients[0].post(room, first + k, nowUs());
    sent++;
  }
  const sendEnd = performance.now();
  await waitFor(() => complete >= sent, { timeoutMs: P.drainSeconds * 1000, what: 'deliveries' }).catch(() => {});
  const wall = (performance.now() - t0) / 1000;
  const cpu = treeCpuSeconds(server.pid) - cpu0;
  const selfCpu = selfCpuSeconds() - self0;
  for (const i of ids.slice(1)) clients[i].onBench = null;
  checkAlive(server, clients, ids);
  const expected = sent * receivers;
  // A server that did not keep up still holds a backlog for these sessions: closing them drops
  // it, so it does not spill into the next scenario (which then opens fresh sessions).
  if (behind || got < expected) closeAll(clients);
  const s = summarize(lat.subarray(0, got));
  return {
    members: size,
    messages: n,
    sent,
    fell_behind: behind,
    rate: P.fanoutRate,
    delivered: got,
    expected,
    lost: expected - got,
    duplicates,
    p50_ms: s.p50,
    p99_ms: s.p99,
    max_ms: s.max,
    send_s: (sendEnd - t0) / 1000,
    server_cpu_s: cpu,
    server_cores: cpu / wall,
    loadgen_cores: selfCpu / wall,
    loadgen_us_per_delivery: got ? (selfCpu * 1e6) / got : NaN,
  };
}

async function saturate(server, P, clients, size) {
  const { ids, room } = await roomOfMembers(server, P, clients, `sat${size}`, size);
  const first = seqCounter + 1;
  const maxMsgs = 10000000;
  const remaining = new Map();
  let deliveries = 0;
  let completed = 0;
  let sent = 0;
  let sending = true;
  let lastProgress = performance.now();
  const sender = clients[0];
  const pump = () => {
    while (sending && sent - completed < P.saturateWindow && sent < maxMsgs) {
      const seq = first + sent++;
      remaining.set(seq, size - 1);
      sender.post(room, seq, nowUs());
    }
  };
  for (const i of ids.slice(1)) {
    clients[i].onBench = (r, seq) => {
      const left = remaining.get(seq);
      if (left === undefined) return;
      deliveries++;
      lastProgress = performance.now();
      if (left === 1) {
        remaining.delete(seq);
        completed++;
        pump();
      } else {
        remaining.set(seq, left - 1);
      }
    };
  }
  pump();
  // Ramp-up, not measured: until the first message has reached everyone, so the pipeline is
  // full (a single-threaded server may route a whole window before it writes anything).
  await waitFor(() => completed > 0, { timeoutMs: 60000, what: 'the first complete message' }).catch(() => {});
  await sleep(500);
  lastProgress = performance.now();
  const d0 = deliveries;
  const c0 = treeCpuSeconds(server.pid);
  const self0 = selfCpuSeconds();
  const t0 = performance.now();
  let stalled = false;
  while (performance.now() - t0 < P.saturateSeconds * 1000) {
    await sleep(100);
    if (performance.now() - lastProgress > 30000) {
      stalled = true;
      break;
    }
  }
  const wall = (performance.now() - t0) / 1000;
  const d1 = deliveries;
  const cpu = treeCpuSeconds(server.pid) - c0;
  const selfCpu = selfCpuSeconds() - self0;
  sending = false;
  seqCounter = first + sent;
  await waitFor(() => remaining.size === 0, { timeoutMs: P.drainSeconds * 1000, what: 'drain' }).catch(() => {});
  const lost = [...remaining.values()].reduce((a, b) => a + b, 0);
  for (const i of ids.slice(1)) clients[i].onBench = null;
  checkAlive(server, clients, ids);
  closeAll(clients);
  const rate = (d1 - d0) / wall;
  return {
    members: size,
    window: P.saturateWindow,
    seconds: wall,
    messages_sent: sent,
    deliveries_per_s: rate,
    msgs_per_s: rate / (size - 1),
    server_cores: cpu / wall,
    deliveries_per_core_s: cpu > 0 ? (d1 - d0) / cpu : NaN,
    loadgen_cores: selfCpu / wall,
    loadgen_us_per_delivery: d1 > d0 ? (selfCpu * 1e6) / (d1 - d0) : NaN,
    lost_after_drain: lost,
    stalled,
  };
}

async function ingest(server, P, clients) {
  const n = P.ingestClients;
  // Users after the fan-out range, so no session of another scenario is still around.
  const base = Math.max(...P.fanoutSizes, P.saturateMembers) + 10;
  const ids = [...Array(n).keys()].map((k) => base + k);
  await connect(server, clients, ids, P.connectConcurrency);
  const rooms = {};
  await pool(ids, 16, async (i) => {
    rooms[i] = await server.createRoom(`ingest${i}`, [i]);
    await clients[i].join(rooms[i]);
  });
  let measuring = false;
  let running = true;
  let acked = 0;
  let ackedTotal = 0;
  let errors = 0;
  const lat = [];
  const post = (i) => {
    seqCounter++;
    clients[i].post(rooms[i], seqCounter, nowUs());
  };
  for (const i of ids) {
    clients[i].onAck = (r, seq, t) => {
      ackedTotal++;
      if (measuring) {
        acked++;
        lat.push(nowUs() - t);
      }
      if (running) post(i);
    };
    clients[i].onError = () => {
      errors++;
      ackedTotal++; // the post is answered, though not stored
      if (running) post(i);
    };
  }
  await settle(server);
  for (const i of ids) post(i);
  await sleep(1000); // warm-up
  const c0 = treeCpuSeconds(server.pid);
  const self0 = selfCpuSeconds();
  const t0 = performance.now();
  measuring = true;
  await sleep(P.ingestSeconds * 1000);
  measuring = false;
  const wall = (performance.now() - t0) / 1000;
  const cpu = treeCpuSeconds(server.pid) - c0;
  const selfCpu = selfCpuSeconds() - self0;
  running = false;
  const target = ackedTotal + n;
  await waitFor(() => ackedTotal >= target || !server.alive(), { timeoutMs: P.drainSeconds * 1000, what: 'last acks' }).catch(() => {});
  const outstanding = target - ackedTotal;
  checkAlive(server, clients, ids);
  let archived = null;
  if (server.archivedCount) archived = await server.archivedCount(Object.values(rooms)).catch(() => null);
  closeAll(clients);
  const s = summarize(lat);
  return {
    clients: n,
    seconds: wall,
    acked_per_s: acked / wall,
    p50_ms: s.p50,
    p99_ms: s.p99,
    max_ms: s.max,
    acked_total: ackedTotal,
    unacked_after_drain: outstanding,
    errors,
    archived,
    server_cores: cpu / wall,
    loadgen_cores: selfCpu / wall,
  };
}

async function idle(server, P, clients) {
  const n = P.idleSessions;
  await settle(server);
  await sleep(1000);
  const rss0 = treeRssKiB(server.pid);
  const t0 = performance.now();
  let reached = 0;
  let error = null;
  try {
    await connect(server, clients, [...Array(n).keys()], P.connectConcurrency * 2);
  } catch (e) {
    error = e.message;
  }
  reached = clients.filter((c) => c && !c.closed).length;
  const connectS = (performance.now() - t0) / 1000;
  await sleep(3000);
  const rss1 = treeRssKiB(server.pid);
  const alive = clients.filter((c) => c && !c.closed).length;
  closeAll(clients);
  return {
    sessions: n,
    reached: alive,
    connect_s: connectS,
    rss_before_kib: rss0,
    rss_after_kib: rss1,
    kib_per_session: alive ? (rss1 - rss0) / alive : NaN,
    error: error || (reached < n ? `only ${reached} of ${n} sessions opened` : null),
  };
}

async function benchServer(server, P, o) {
  const res = { name: server.name, durability: server.durability, errors: {} };
  const clients = [];
  // One scenario failing (a peer refusing sessions, say) leaves the others to run.
  const scenario = async (key, what, fn, summary) => {
    if (!o.scenarios.includes(key.split(':')[0])) return;
    const t = performance.now();
    log(`${server.name}: ${what}`);
    try {
      if (!server.alive()) throw new Error(`${server.name} is not running`);
      const r = await fn();
      log(`${server.name}: ${summary(r)} (${((performance.now() - t) / 1000).toFixed(0)} s)`);
      return r;
    } catch (e) {
      res.errors[key] = e.message.split('\n')[0].slice(0, 300);
      log(`${server.name}: ${what} FAILED: ${e.stack || e.message}`);
      closeAll(clients);
      return undefined;
    }
  };
  try {
    log(`${server.name}: starting`);
    await server.start();
    const users = Math.max(
      o.scenarios.includes('idle') ? P.idleSessions : 0,
      Math.max(...P.fanoutSizes, P.saturateMembers) + 10 + P.ingestClients,
    );
    const t = performance.now();
    await server.addUsers(users);
    log(`${server.name}: ${users} users in ${((performance.now() - t) / 1000).toFixed(1)} s${server.setupNote ? ` (${server.setupNote})` : ''}`);
    res.fanout = [];
    const place = placement();
    const fanoutSummary = (r) =>
      `fan-out ${r.members}: sent ${r.sent}, p50 ${r.p50_ms.toFixed(1)} p99 ${r.p99_ms.toFixed(1)} ms, not delivered ${r.lost}`;
    for (const size of P.fanoutSizes) {
      res.fanout.push(
        await scenario(`fanout:${size}`, `fan-out, ${size} members${place ? `, load generator on CPU ${place.generator}` : ''}`,
          () => withPlacement(place, () => fanout(server, P, clients, size)), fanoutSummary),
      );
    }
    if (place) {
      const size = Math.max(...P.fanoutSizes);
      res.fanoutShared = await scenario(`fanout:shared`, `fan-out, ${size} members, the load generator free on every CPU too`,
        () => fanout(server, P, clients, size), fanoutSummary);
    }
    res.saturate = await scenario('saturate', `saturating fan-out, ${P.saturateMembers} members`,
      () => saturate(server, P, clients, P.saturateMembers),
      (r) => `${r.deliveries_per_s.toFixed(0)} deliveries/s, ${r.deliveries_per_core_s.toFixed(0)} per core`);
    closeAll(clients);
    res.ingest = await scenario('ingest', `durable ingest, ${P.ingestClients} clients`, () => ingest(server, P, clients),
      (r) => `${r.acked_per_s.toFixed(0)} acked msgs/s, p99 ${r.p99_ms.toFixed(1)} ms`);
    closeAll(clients);
    res.idle = await scenario('idle', `${P.idleSessions} idle sessions`, () => idle(server, P, clients),
      (r) => `${r.reached} sessions, ${r.kib_per_session.toFixed(1)} KiB each`);
  } catch (e) {
    res.errors.setup = e.message.split('\n')[0].slice(0, 300);
    log(`${server.name}: FAILED: ${e.stack || e.message}`);
  } finally {
    closeAll(clients);
    log(`${server.name}: stopping`);
    await server.stop().catch((e) => log(`${server.name}: stop: ${e.message}`));
  }
  return res;
}

// ---- report ---------------------------------------------------------------------------------

const fmt = (v, d = 1) => (v === undefined || v === null || Number.isNaN(v) ? '-' : Number(v).toFixed(d));
const fmtInt = (v) => (v === undefined || v === null || Number.isNaN(v) ? '-' : Math.round(v).toLocaleString('en-US'));

function ratio(a, b) {
  if (a === undefined || b === undefined || a === null || b === null || !b || Number.isNaN(a) || Number.isNaN(b)) return '-';
  return (a / b).toFixed(2);
}

function report(results, o, P) {
  const names = results.map((r) => r.name);
  const by = Object.fromEntries(results.map((r) => [r.name, r]));
  const peers = names.filter((n) => n !== 'collab');
  const hasCollab = names.includes('collab');
  const lines = [];
  const cols = [...names, ...(hasCollab ? peers.map((p) => `collab/${p}`) : []), 'target (collab)'];
  const w0 = 44;
  const w = 16;
  const head = () => lines.push('  ' + ''.padEnd(w0) + cols.map((c) => c.padStart(w)).join(''));
  // A row compares when `compare` is set; context rows (CPU busy, losses) show no ratio.
  const row = (label, get, fmtf, target, compare = true) => {
    const vals = names.map((n) => (by[n] ? get(by[n]) : undefined));
    const cells = vals.map((v) => fmtf(v).padStart(w));
    if (hasCollab) {
      const cv = get(by.collab);
      for (const p of peers) cells.push((compare ? ratio(cv, get(by[p])) : '').padStart(w));
    }
    cells.push((target || '').padStart(w));
    lines.push('  ' + label.padEnd(w0) + cells.join(''));
  };
  lines.push(`bench/chat: ${o.quick ? 'QUICK sanity run' : 'full run'}; loopback; servers started by the benchmark; one Node ${process.version} load generator (WebSocket on raw sockets, lib/wsraw.mjs; no compression)`);
  lines.push(`servers: ${results.map((r) => (r.name === 'collab' ? 'collab-chatd' : r.name === 'prosody' ? 'prosody 0.12' : 'ejabberd 23.01')).join(', ')}; ratios are collab/peer`);
  for (const r of results) lines.push(`  durability ${r.name}: ${r.durability}`);
  for (const r of results) for (const [k, e] of Object.entries(r.errors || {})) lines.push(`  FAILED ${r.name} ${k}: ${e}`);

  if (o.scenarios.includes('fanout')) {
    const place = placement();
    const passes = P.fanoutSizes.map((size, k) => ({ size, f: (r) => (r.fanout ? r.fanout[k] : undefined), shared: !place }));
    if (place) passes.push({ size: Math.max(...P.fanoutSizes), f: (r) => r.fanoutShared, shared: true });
    passes.forEach(({ size, f, shared }) => {
      lines.push('');
      lines.push(`fan-out: 1 sender at ${P.fanoutRate} msg/s, ${P.fanoutMessages} messages, room of ${size} connected members (${size - 1} receivers); latency = receive - send (ms, lower is better)`);
      lines.push(shared
        ? (place ? '  the load generator free to run on every CPU too, so the scheduler may put it on the server\'s core (a comparison pass; see the note in bench.mjs)' : '  one CPU: the load generator and the server share it')
        : `  the load generator kept on CPU ${place.generator}, the server free on CPUs ${place.all} (clients are on other machines in use; see the note in bench.mjs)`);
      head();
      const tgt = size === 1000 && !(shared && place) ? `<= ${TARGETS.fanoutP99Ms}` : '';
      row(`messages sent (stops ${P.behindSeconds} s behind)`, (r) => f(r)?.sent, fmtInt, fmtInt(P.fanoutMessages), false);
      row('delivery p50 ms', (r) => f(r)?.p50_ms, (v) => fmt(v, 1));
      row('delivery p99 ms', (r) => f(r)?.p99_ms, (v) => fmt(v, 1), tgt);
      row('delivery max ms', (r) => f(r)?.max_ms, (v) => fmt(v, 1));
      row(`not delivered ${P.drainSeconds} s after the last send`, (r) => f(r)?.lost, fmtInt, '0', false);
      row('server CPU cores busy', (r) => f(r)?.server_cores, (v) => fmt(v, 2), '', false);
      row('load generator cores busy', (r) => f(r)?.loadgen_cores, (v) => fmt(v, 2), '', false);
      row('load generator CPU us per delivery', (r) => f(r)?.loadgen_us_per_delivery, (v) => fmt(v, 1), '', false);
      row('deliveries received twice', (r) => f(r)?.duplicates, fmtInt, '0', false);
    });
  }
  if (o.scenarios.includes('saturate')) {
    lines.push('');
    lines.push(`saturating fan-out: room of ${P.saturateMembers}, the sender keeps ${P.saturateWindow} messages in flight for ${P.saturateSeconds} s (higher is better)`);
    head();
    const f = (r) => r.saturate;
    row('deliveries/s', (r) => f(r)?.deliveries_per_s, fmtInt);
    row('deliveries per server CPU second', (r) => f(r)?.deliveries_per_core_s, fmtInt);
    row('server CPU cores busy', (r) => f(r)?.server_cores, (v) => fmt(v, 2), '', false);
    row('load generator cores busy', (r) => f(r)?.loadgen_cores, (v) => fmt(v, 2), '', false);
    row('load generator CPU us per delivery', (r) => f(r)?.loadgen_us_per_delivery, (v) => fmt(v, 1), '', false);
    row(`not delivered ${P.drainSeconds} s after the end`, (r) => f(r)?.lost_after_drain, fmtInt, '0', false);
  }
  if (o.scenarios.includes('ingest')) {
    lines.push('');
    lines.push(`durable ingest: ${P.ingestClients} clients, each in its own room, one message outstanding until acked, ${P.ingestSeconds} s`);
    lines.push('  (ack: collab "ack" frame after the WAL fsync; XMPP: the room\'s echo of the message to its sender)');
    head();
    const f = (r) => r.ingest;
    row('acked msgs/s (higher is better)', (r) => f(r)?.acked_per_s, fmtInt, `>= ${fmtInt(TARGETS.ingestMsgsPerS)}`);
    row('ack p50 ms', (r) => f(r)?.p50_ms, (v) => fmt(v, 2));
    row('ack p99 ms', (r) => f(r)?.p99_ms, (v) => fmt(v, 2));
    row('server CPU cores busy', (r) => f(r)?.server_cores, (v) => fmt(v, 2), '', false);
    row('load generator cores busy', (r) => f(r)?.loadgen_cores, (v) => fmt(v, 2), '', false);
    row('server CPU us per acked message', (r) => (f(r)?.acked_per_s ? (f(r).server_cores * 1e6) / f(r).acked_per_s : undefined), (v) => fmt(v, 1), '', false);
    row('posts refused (error replies)', (r) => f(r)?.errors, fmtInt, '0', false);
    row('messages in the archive / acked', (r) => (f(r)?.archived == null ? undefined : f(r).archived / f(r).acked_total), (v) => fmt(v, 3), '', false);
  }
  if (o.scenarios.includes('idle')) {
    lines.push('');
    lines.push(`idle sessions: ${fmtInt(P.idleSessions)} authenticated WebSocket sessions, no TLS; RSS of the server's process tree (lower is better)`);
    head();
    const f = (r) => r.idle;
    row('sessions reached', (r) => f(r)?.reached, fmtInt, fmtInt(P.idleSessions), false);
    row('RSS growth KiB per session', (r) => f(r)?.kib_per_session, (v) => fmt(v, 1), `<= ${TARGETS.idleKiBPerSession}`);
    row('RSS MiB with the sessions open', (r) => (f(r) ? f(r).rss_after_kib / 1024 : undefined), (v) => fmt(v, 0));
    row('seconds to open them all', (r) => f(r)?.connect_s, (v) => fmt(v, 1), '', false);
    for (const r of results) if (r.idle?.error) lines.push(`  ${r.name}: ${r.idle.error}`);
  }
  if (hasCollab && by.collab) {
    lines.push('');
    lines.push('targets (issues 3 and 10):');
    const c = by.collab;
    const verdict = (ok) => (ok === undefined ? 'not measured' : ok ? 'met' : 'NOT met');
    const f1000 = c.fanout?.[P.fanoutSizes.indexOf(1000)];
    const sh = c.fanoutShared;
    const sharedNote = sh && P.fanoutSizes.includes(1000) ? ` (load generator kept on one CPU; with it free too: p99 ${fmt(sh.p99_ms, 1)} ms)` : '';
    lines.push(`  fan-out p99 <= ${TARGETS.fanoutP99Ms} ms at 1,000 members: ${verdict(f1000 ? f1000.p99_ms <= TARGETS.fanoutP99Ms && f1000.lost === 0 : undefined)}${sharedNote}`);
    lines.push(`  >= ${fmtInt(TARGETS.ingestMsgsPerS)} acked durable msgs/s: ${verdict(c.ingest ? c.ingest.acked_per_s >= TARGETS.ingestMsgsPerS : undefined)}`);
    lines.push(`  idle <= ${TARGETS.idleKiBPerSession} KiB/session at ${fmtInt(P.idleSessions)}: ${verdict(c.idle ? c.idle.kib_per_session <= TARGETS.idleKiBPerSession && c.idle.reached === P.idleSessions : undefined)}`);
    if (by.prosody) {
      const p = by.prosody;
      const checks = [];
      if (c.ingest && p.ingest) checks.push(c.ingest.acked_per_s / p.ingest.acked_per_s >= TARGETS.peerRatio);
      if (c.saturate && p.saturate) checks.push(c.saturate.deliveries_per_s / p.saturate.deliveries_per_s >= TARGETS.peerRatio);
      lines.push(`  >= ${TARGETS.peerRatio}x prosody (ingest msgs/s and saturating deliveries/s): ${verdict(checks.length ? checks.every(Boolean) : undefined)}`);
    }
  }
  return lines.join('\n');
}

// Errors fail any run. Lost or stalled messages fail a --quick run for every server (its rooms
// are small enough for all of them) and a full run only for collab: a peer that cannot keep up
// at 1,000 members is a result, not a broken benchmark.
function sanityFailures(results, quick) {
  const bad = [];
  for (const r of results) {
    for (const [k, e] of Object.entries(r.errors || {})) bad.push(`${r.name} ${k}: ${e}`);
    if (!quick && r.name !== 'collab') continue;
    for (const f of [...(r.fanout || []), r.fanoutShared].filter(Boolean)) {
      if (f.lost) bad.push(`${r.name}: fan-out ${f.members} lost ${f.lost} deliveries`);
      if (f.duplicates) bad.push(`${r.name}: fan-out ${f.members} delivered ${f.duplicates} messages twice`);
      if (f.fell_behind) bad.push(`${r.name}: fan-out ${f.members} fell behind the sending rate`);
    }
    if (r.saturate && (r.saturate.lost_after_drain || r.saturate.stalled)) bad.push(`${r.name}: saturating fan-out lost or stalled`);
    if (r.saturate && !(r.saturate.deliveries_per_s > 0)) bad.push(`${r.name}: saturating fan-out delivered nothing`);
    if (r.ingest && (r.ingest.unacked_after_drain || !(r.ingest.acked_per_s > 0))) bad.push(`${r.name}: ingest left posts unacked`);
    if (r.ingest && r.ingest.errors) bad.push(`${r.name}: ingest: ${r.ingest.errors} posts refused`);
    if (r.ingest && r.ingest.archived !== null && r.ingest.archived < r.ingest.acked_total) bad.push(`${r.name}: fewer archived than acked`);
    if (r.idle && r.idle.error) bad.push(`${r.name}: idle: ${r.idle.error}`);
  }
  return bad;
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const P = { ...(o.quick ? QUICK : FULL) };
  if (o.idle) P.idleSessions = o.idle;
  if (o.messages) P.fanoutMessages = o.messages;
  if (o.window) P.saturateWindow = o.window;
  if (o.sizes) {
    P.fanoutSizes = o.sizes;
    P.saturateMembers = Math.max(...o.sizes);
  }
  const servers = [];
  const skipped = [];
  for (const name of o.servers) {
    const why = name === 'collab' ? Collab.available(o.binDir) : name === 'prosody' ? Prosody.available() : Ejabberd.available();
    if (why) {
      skipped.push(`${name}: ${why}`);
      continue;
    }
    servers.push(name === 'collab' ? new Collab(o.binDir) : name === 'prosody' ? new Prosody() : new Ejabberd());
  }
  for (const s of skipped) log(`skipped ${s}`);
  const stopAll = async () => {
    for (const s of servers) await s.stop().catch(() => {});
  };
  // The whole run is bounded: a server that stops answering cannot keep it going forever.
  const maxMinutes = o.maxMinutes || (o.quick ? 10 : 45);
  setTimeout(() => {
    log(`bench/chat: run exceeded ${maxMinutes} minutes; stopping the servers`);
    stopAll().then(() => process.exit(70));
  }, maxMinutes * 60000).unref();
  process.on('SIGINT', () => stopAll().then(() => process.exit(130)));
  process.on('SIGTERM', () => stopAll().then(() => process.exit(143)));

  const results = [];
  for (const s of servers) results.push(await benchServer(s, P, o));
  const text = report(results, o, P);
  const header = `machine: ${os.cpus()[0]?.model || 'unknown CPU'}, ${os.cpus().length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB; load average ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`;
  process.stdout.write(`${header}\n${text}\n`);
  for (const s of skipped) process.stdout.write(`SKIPPED ${s}\n`);
  if (o.json) fs.writeFileSync(o.json, JSON.stringify({ params: P, results, skipped }, null, 2));
  const bad = sanityFailures(results, o.quick);
  for (const b of bad) process.stdout.write(`FAILURE ${b}\n`);
  if (bad.length) process.exit(1);
  if (skipped.length) process.exit(69);
}

main().catch((e) => {
  process.stderr.write(`bench/chat: ${e.stack || e.message}\n`);
  process.exit(70);
});
