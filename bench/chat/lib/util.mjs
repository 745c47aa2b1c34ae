// Small helpers shared by the chat benchmark: clocks, percentiles, bounded waits, free ports,
// process-tree accounting from /proc and starting/stopping server processes by PID.
// Deliberately nothing protocol-specific here.
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { execFile, execFileSync, spawn } from 'node:child_process';

// Microseconds on the process's monotonic clock; every send and receive time in one run comes
// from here, so a latency is a difference on one clock.
export const nowUs = () => Math.round(performance.now() * 1000);

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Polls cond() until it returns a truthy value or the deadline passes (then throws with `what`).
export async function waitFor(cond, { timeoutMs = 30000, intervalMs = 20, what = 'condition' } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await cond();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}

// A promise with a deadline: rejects with `what` when it does not settle in time.
export function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise((_, rej) => {
      timer = setTimeout(() => rej(new Error(`timed out after ${ms} ms: ${what}`)), ms);
    }),
  ]);
}

export function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

// Summary of latency samples in microseconds -> milliseconds.
export function summarize(samplesUs) {
  const s = Float64Array.from(samplesUs).sort();
  return {
    n: s.length,
    p50: percentile(s, 50) / 1000,
    p99: percentile(s, 99) / 1000,
    max: s.length ? s[s.length - 1] / 1000 : NaN,
  };
}

// Runs fn over items with at most `limit` in flight. After the first failure nothing new is
// started, and the failure is thrown once the calls in flight have settled (so none of them
// finishes later, behind the caller's back).
export async function pool(items, limit, fn) {
  const results = new Array(items.length);
  let next = 0;
  let failure = null;
  const worker = async () => {
    while (next < items.length && !failure) {
      const i = next++;
      try {
        results[i] = await fn(items[i], i);
      } catch (e) {
        failure = failure || e;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failure) throw failure;
  return results;
}

// A TCP port on 127.0.0.1 that was free a moment ago (servers that cannot take port 0).
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

export function waitPort(port, { timeoutMs = 60000, what = `port ${port}` } = {}) {
  return waitFor(
    () =>
      new Promise((resolve) => {
        const s = net.connect(port, '127.0.0.1');
        s.once('connect', () => {
          s.destroy();
          resolve(true);
        });
        s.once('error', () => resolve(false));
      }),
    { timeoutMs, intervalMs: 100, what },
  );
}

const CLK_TCK = 100; // sysconf(_SC_CLK_TCK) on Linux; constant on every architecture Debian ships

function readStat(pid) {
  try {
    const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // comm may contain spaces and parentheses: fields start after the last ')'.
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return { state: f[0], ppid: Number(f[1]), utime: Number(f[11]), stime: Number(f[12]) };
  } catch {
    return null;
  }
}

// The PID and all its descendants (found through /proc/*/stat ppid links).
export function processTree(rootPid) {
  const children = new Map();
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    const st = readStat(d);
    if (!st) continue;
    const list = children.get(st.ppid) || [];
    list.push(Number(d));
    children.set(st.ppid, list);
  }
  const out = [];
  const stack = [rootPid];
  while (stack.length) {
    const p = stack.pop();
    out.push(p);
    for (const c of children.get(p) || []) stack.push(c);
  }
  return out;
}

// CPU seconds (user+system) of a process tree.
export function treeCpuSeconds(rootPid) {
  let ticks = 0;
  for (const p of processTree(rootPid)) {
    const st = readStat(p);
    if (st) ticks += st.utime + st.stime;
  }
  return ticks / CLK_TCK;
}

// Resident set size of a process tree in KiB (VmRSS of each process).
export function treeRssKiB(rootPid) {
  let kib = 0;
  for (const p of processTree(rootPid)) {
    try {
      const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${p}/status`, 'utf8'));
      if (m) kib += Number(m[1]);
    } catch {
      // the process went away between listing and reading
    }
  }
  return kib;
}

// A fresh directory under the system's temp dir, readable by all (servers run as their own users),
// owned by `owner` ("user:group") when given.
export function tempDir(prefix, owner) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  fs.chmodSync(dir, 0o755);
  if (owner) execFileSync('chown', [owner, dir]);
  return dir;
}

// Runs a command to completion (2 minutes at most); resolves with its stdout.
export function run(cmd, args, opts = {}) {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: 120000, maxBuffer: 16 << 20, ...opts }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(' ')}: ${err.message}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

// Sets the CPUs (a taskset list such as "1" or "0-1") every thread of the given processes may
// run on, with util-linux's taskset; threads started later inherit it. Returns false when
// taskset failed for a process that still exists.
export function setAffinity(pids, cpuList) {
  let ok = true;
  for (const p of pids) {
    try {
      execFileSync('taskset', ['-a', '-p', '-c', cpuList, String(p)], { stdio: 'ignore' });
    } catch {
      if (fs.existsSync(`/proc/${p}`)) ok = false;
    }
  }
  return ok;
}

export function selfCpuSeconds() {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

// A server process started by the benchmark: output to a log file, stopped by its PID only.
export class Proc {
  constructor(name, cmd, args, { logPath, env, cwd } = {}) {
    this.name = name;
    this.logPath = logPath;
    const out = fs.openSync(logPath, 'a');
    this.child = spawn(cmd, args, { stdio: ['ignore', out, out], env: env || process.env, cwd });
    fs.closeSync(out);
    this.pid = this.child.pid;
    this.exited = null;
    this.exitPromise = new Promise((resolve) => {
      this.child.on('error', (e) => {
        fs.appendFileSync(logPath, `bench: cannot start ${cmd}: ${e.message}\n`);
        this.exited = { code: null, signal: null, error: e.message };
        resolve(this.exited);
      });
      this.child.on('exit', (code, signal) => {
        this.exited = { code, signal };
        resolve(this.exited);
      });
    });
  }

  alive() {
    return this.exited === null;
  }

  tail(lines = 30) {
    try {
      return fs.readFileSync(this.logPath, 'utf8').split('\n').slice(-lines).join('\n');
    } catch {
      return '';
    }
  }

  // SIGTERM, then SIGKILL after the grace period; descendants left behind (runuser children,
  // an Erlang VM started by a shell script) are signalled by their own PIDs.
  async stop(graceMs = 10000) {
    const tree = this.alive() ? processTree(this.pid) : [];
    const kill = (pids, sig) => {
      for (const p of pids) {
        try {
          process.kill(p, sig);
        } catch {
          // already gone
        }
      }
    };
    kill(tree, 'SIGTERM');
    const deadline = Date.now() + graceMs;
    const living = (p) => {
      const st = readStat(p);
      return st !== null && st.state !== 'Z';
    };
    while (Date.now() < deadline && tree.some(living)) {
      await sleep(100);
    }
    kill(tree.filter(living), 'SIGKILL');
    if (this.alive()) await withTimeout(this.exitPromise, 5000, `${this.name} exit`).catch(() => {});
  }
}
