// Starts a real `argon serve` on a free port with a fresh data dir.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir, homedir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

export const ARGON_BIN = process.env.ARGON_BIN || join(homedir(), '.cache/argon-target/debug/argon');

export async function startServer(extraArgs = []) {
  const dir = mkdtempSync(join(tmpdir(), 'argon-node-'));
  const proc = spawn(ARGON_BIN, ['--data-dir', join(dir, 'data'), 'serve', '--port', '0', ...extraArgs], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  // The exit code, once the process is gone (by SIGTERM or by itself).
  const exited = new Promise((resolve) => proc.once('exit', (code) => resolve(code)));
  const rl = createInterface({ input: proc.stdout });
  const line = await new Promise((resolve, reject) => {
    rl.once('line', resolve);
    proc.once('exit', (code) => reject(new Error(`argon serve exited with ${code}`)));
  });
  const m = /listening on ([\d.]+):(\d+)/.exec(line);
  if (!m) throw new Error(`argon serve did not start: ${line}`);
  const host = m[1];
  const port = Number(m[2]);
  return {
    host,
    port,
    dir,
    uri: `mongodb://${host}:${port}/?directConnection=true`,
    exited,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
