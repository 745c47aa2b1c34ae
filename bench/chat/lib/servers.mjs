// The three chat servers the benchmark compares, each started by the benchmark in its own temp
// dir on loopback ports and stopped by PID: collab-chatd, prosody 0.12 and ejabberd 23.01.
// Every server exposes the same small surface (users, rooms, clients, the PID whose process tree
// is measured) so the scenarios in bench.mjs run one workload against all of them.
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

import { CollabClient, startCollabDaemon } from './collab.mjs';
import { XmppClient } from './xmpp.mjs';
import { Proc, freePort, run, sleep, tempDir, waitFor, waitPort } from './util.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const confDir = path.join(here, '..', 'conf');
const PASSWORD = 'benchpw';

export const userName = (i) => `u${i}`;

// runuser's PAM session puts the soft descriptor limit back to 1024: raise it again (to the hard
// limit the runner set) in the shell that execs the server, or 10,000 sessions cannot connect.
const RAISE_NOFILE = 'ulimit -n "$(ulimit -Hn)" 2>/dev/null; ';

function fill(template, vars) {
  let s = fs.readFileSync(path.join(confDir, template), 'utf8');
  for (const [k, v] of Object.entries(vars)) s = s.split(`@${k}@`).join(String(v));
  return s;
}

class XmppServer {
  constructor(name) {
    this.name = name;
    this.domain = 'localhost';
    this.mucDomain = 'conference.localhost';
    this.users = 0;
  }

  get pid() {
    return this.proc.pid;
  }

  client(i) {
    return new XmppClient({
      url: this.wsUrl,
      domain: this.domain,
      mucDomain: this.mucDomain,
      user: userName(i),
      password: PASSWORD,
    });
  }

  // Rooms are created by their first occupant (an instant room); the name is the room.
  async createRoom(name) {
    return name;
  }

  alive() {
    return this.proc && this.proc.alive();
  }

  async stop() {
    if (this.proc) await this.proc.stop();
    if (this.dir && !process.env.BENCH_KEEP) fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

export class Prosody extends XmppServer {
  constructor() {
    super('prosody');
    this.durability = 'archive in files (internal storage): written and flushed, not fsynced';
  }

  static available() {
    if (!fs.existsSync('/usr/bin/prosody')) return 'prosody is not installed (apt-get install prosody)';
    // It refuses to run as root; the benchmark starts it as its system user with runuser.
    if (process.getuid() !== 0) return 'starting prosody as its system user needs root';
    return null;
  }

  async start() {
    this.dir = tempDir('bench-prosody-', 'prosody:prosody');
    fs.mkdirSync(path.join(this.dir, 'data', 'localhost', 'accounts'), { recursive: true });
    const c2s = await freePort();
    const http = await freePort();
    const cfg = path.join(this.dir, 'prosody.cfg.lua');
    fs.writeFileSync(cfg, fill('prosody.cfg.lua.in', { DIR: this.dir, C2S_PORT: c2s, HTTP_PORT: http }));
    execFileSync('chown', ['-R', 'prosody:prosody', this.dir]);
    this.wsUrl = `ws://127.0.0.1:${http}/xmpp-websocket`;
    this.proc = new Proc('prosody', 'runuser', ['-u', 'prosody', '--', 'sh', '-c', RAISE_NOFILE + 'exec prosody --config "$0" -F', cfg], {
      logPath: path.join(this.dir, 'stdout.log'),
      cwd: this.dir,
    });
    try {
      await waitPort(http, { what: 'prosody HTTP port' });
    } catch (e) {
      throw new Error(`${e.message}\n${this.proc.tail()}\n${fs.existsSync(path.join(this.dir, 'prosody.log')) ? fs.readFileSync(path.join(this.dir, 'prosody.log'), 'utf8').slice(-2000) : ''}`);
    }
  }

  // Accounts of internal_plain storage are one file each; prosody reads them on login.
  async addUsers(n) {
    const acc = path.join(this.dir, 'data', 'localhost', 'accounts');
    const uid = Number(execFileSync('id', ['-u', 'prosody']).toString());
    const gid = Number(execFileSync('id', ['-g', 'prosody']).toString());
    for (let i = this.users; i < n; i++) {
      const f = path.join(acc, `${userName(i)}.dat`);
      fs.writeFileSync(f, `return {\n\t["password"] = "${PASSWORD}";\n};\n`);
      fs.chownSync(f, uid, gid);
    }
    this.users = Math.max(this.users, n);
  }
}

export class Ejabberd extends XmppServer {
  constructor() {
    super('ejabberd');
    this.durability = 'MAM archive in SQLite: one transaction and fsync per message';
  }

  static available() {
    if (!fs.existsSync('/usr/sbin/ejabberdctl')) return 'ejabberd is not installed (apt-get install ejabberd)';
    if (process.getuid() !== 0) return 'starting ejabberd as its system user needs root';
    if (!fs.readdirSync('/usr/lib/erlang/lib').some((d) => d.startsWith('p1_sqlite3'))) {
      return 'the SQLite driver for ejabberd is not installed (apt-get install erlang-p1-sqlite3)';
    }
    return null;
  }

  async start() {
    this.dir = tempDir('bench-ejabberd-', 'ejabberd:ejabberd');
    for (const d of ['conf', 'spool', 'logs']) fs.mkdirSync(path.join(this.dir, d));
    const http = await freePort();
    this.distPort = await freePort();
    this.cookie = `bench${process.pid}${Date.now()}`;
    this.node = `bench${process.pid}@localhost`;
    const conf = path.join(this.dir, 'conf');
    fs.writeFileSync(path.join(conf, 'ejabberd.yml'), fill('ejabberd.yml.in', { DIR: this.dir, HTTP_PORT: http }));
    fs.writeFileSync(
      path.join(conf, 'ejabberdctl.cfg'),
      [
        `ERLANG_NODE=${this.node}`,
        // A fixed distribution port on loopback and no epmd: nothing listens beyond 127.0.0.1.
        `ERL_DIST_PORT=${this.distPort}`,
        'INET_DIST_INTERFACE=127.0.0.1',
        // No scheduler busy-waiting: on a shared 2-core machine it only burns CPU that the load
        // generator needs, and it would count as ejabberd CPU time in the per-core figures.
        `ERL_OPTIONS="-setcookie ${this.cookie} +sbwt none +sbwtdcpu none +sbwtdio none"`,
        'ERL_MAX_PORTS=65536',
        `EJABBERD_PID_PATH=${this.dir}/ejabberd.pid`,
        '',
      ].join('\n'),
    );
    fs.writeFileSync(path.join(conf, 'inetrc'), '');
    execFileSync('chown', ['-R', 'ejabberd:ejabberd', this.dir]);
    this.wsUrl = `ws://127.0.0.1:${http}/ws`;
    this.ctlArgs = [
      '--config-dir', conf, '--ctl-config', path.join(conf, 'ejabberdctl.cfg'),
      '--spool', path.join(this.dir, 'spool'), '--logs', path.join(this.dir, 'logs'),
    ];
    this.proc = new Proc('ejabberd', 'runuser', ['-u', 'ejabberd', '--', 'sh', '-c', RAISE_NOFILE + 'exec ejabberdctl "$@"', 'ejabberdctl', ...this.ctlArgs, 'foreground'], {
      logPath: path.join(this.dir, 'stdout.log'),
      cwd: this.dir,
      env: { ...process.env, HOME: this.dir },
    });
    const log = path.join(this.dir, 'logs', 'ejabberd.log');
    try {
      await Promise.race([
        waitPort(http, { what: 'ejabberd HTTP port', timeoutMs: 90000 }),
        waitFor(() => !this.proc.alive() || (fs.existsSync(log) && fs.readFileSync(log, 'utf8').includes('[critical]')), {
          timeoutMs: 100000,
          intervalMs: 200,
        }).then(() => {
          throw new Error('ejabberd failed to start');
        }),
      ]);
    } catch (e) {
      throw new Error(`${e.message}\n${this.proc.tail()}\n${fs.existsSync(log) ? fs.readFileSync(log, 'utf8').slice(-3000) : ''}`);
    }
  }

  // Rows of the given rooms in the MAM archive (sqlite3 CLI, when installed): proves the echoes
  // were archived. A room's archive rows carry the room's bare JID as username; a room that is
  // not persistent loses its archive when the last occupant leaves, so count while they are in.
  async archivedCount(rooms) {
    if (!fs.existsSync('/usr/bin/sqlite3') || !rooms.every((r) => /^[a-z0-9]+$/.test(r))) return null;
    const list = rooms.map((r) => `'${r}@${this.mucDomain}'`).join(',');
    const out = await run('sqlite3', [
      '-readonly', path.join(this.dir, 'ejabberd.db'), `select count(*) from archive where username in (${list});`,
    ]);
    return Number(out.trim());
  }

  // One Erlang RPC client registers every account (ejabberdctl register would start a VM each).
  // Retried: the HTTP port may open a moment before the node answers RPCs.
  async addUsers(n) {
    if (n <= this.users) return;
    const expr = [
      `N = '${this.node}',`,
      `R = [rpc:call(N, ejabberd_auth, try_register, [list_to_binary("u" ++ integer_to_list(I)), <<"localhost">>, <<"${PASSWORD}">>]) || I <- lists:seq(${this.users}, ${n - 1})],`,
      `Bad = [X || X <- R, X =/= ok, X =/= {error, exists}],`,
      `io:format("~p ~p~n", [length(R) - length(Bad), lists:sublist(Bad, 1)]).`,
    ].join(' ');
    let out = '';
    for (let attempt = 1; attempt <= 5; attempt++) {
      out = await run(
        'runuser',
        [
          '-u', 'ejabberd', '--', 'erl', '-sname', `benchctl${process.pid}x${attempt}`, '-setcookie', this.cookie,
          '-erl_epmd_port', String(this.distPort), '-start_epmd', 'false', '-dist_listen', 'false', '-hidden',
          '-noinput', '-eval', expr, '-s', 'erlang', 'halt',
        ],
        { cwd: this.dir, env: { ...process.env, HOME: this.dir } },
      );
      const ok = Number(out.trim().split('\n').pop().split(' ')[0]);
      if (ok === n - this.users) {
        this.users = n;
        return;
      }
      await sleep(2000);
    }
    throw new Error(`ejabberd: could not register ${n - this.users} users: ${out.trim().slice(0, 300)}`);
  }
}

export class Collab {
  constructor(binDir) {
    this.name = 'collab';
    this.binDir = binDir;
    this.durability = 'RocksDB WAL fsynced before the ack (group commit)';
    this.users = 0;
  }

  static available(binDir) {
    for (const b of ['collab-chatd', 'collab-admin']) {
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
    const d = await startCollabDaemon({ binDir: this.binDir, daemon: 'chatd', prefix: 'bench-collab-' });
    Object.assign(this, { dir: d.dir, config: d.config, proc: d.proc, ctl: d.ctl });
    const http = (d.status.listeners || []).find((l) => l.kind === 'http');
    if (!http) throw new Error(`collab-chatd status has no HTTP listener: ${JSON.stringify(d.status)}`);
    this.wsUrl = `ws://${http.address}/api/v1/ws`;
    this.tokens = [];
  }

  async addUsers(n) {
    if (n <= this.users) return;
    const t0 = performance.now();
    const chunk = 1000;
    for (let i = this.users; i < n; i += chunk) {
      const users = [];
      for (let j = i; j < Math.min(n, i + chunk); j++) users.push({ id: userName(j), name: `Bench ${j}` });
      await this.ctl.call('user.add_many', { users });
    }
    const tAdd = performance.now();
    const toks = [];
    for (let i = this.users; i < n; i++) toks.push(this.ctl.call('user.session', { id: userName(i), ttl_s: 7200 }));
    const res = await Promise.all(toks);
    res.forEach((r, k) => {
      this.tokens[this.users + k] = r.token;
    });
    this.setupNote = `user.add_many ${((tAdd - t0) / 1000).toFixed(1)} s, user.session x${n - this.users} ${((performance.now() - tAdd) / 1000).toFixed(1)} s`;
    this.users = n;
  }

  // members: user indexes; the first is the owner.
  async createRoom(name, members) {
    const room = await this.ctl.call('room.create', {
      name,
      kind: 'private',
      owner: userName(members[0]),
      members: members.slice(1).map(userName),
    });
    return room.id;
  }

  // Messages stored in the given rooms (their last sequence numbers).
  async archivedCount(roomIds) {
    const want = new Set(roomIds);
    const r = await this.ctl.call('room.list', {});
    let n = 0;
    for (const room of r.rooms || []) if (want.has(room.id)) n += room.last_seq || 0;
    return n;
  }

  client(i) {
    return new CollabClient({ url: this.wsUrl, user: userName(i), token: this.tokens[i] });
  }

  async stop() {
    if (this.ctl) this.ctl.close();
    if (this.proc) await this.proc.stop();
    if (this.dir && !process.env.BENCH_KEEP) fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

export { sleep };
