// `argon serve --unix-socket`: the official Node driver and mongosh over
// the Unix domain socket, on the same data as TCP.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execFileSync } from 'node:child_process';
import { MongoClient } from 'mongodb';
import { startServer } from './harness.mjs';

let server;
let socketDir;
let socketPath;
before(async () => {
  socketDir = mkdtempSync(join(tmpdir(), 'argon-sock-'));
  socketPath = join(socketDir, 'argon.sock');
  server = await startServer(['--unix-socket', socketPath]);
  for (let i = 0; i < 100 && !existsSync(socketPath); i++) await new Promise((r) => setTimeout(r, 50));
});
after(async () => {
  await server?.stop();
  assert.equal(existsSync(socketPath), false, 'the socket file is removed at shutdown');
  rmSync(socketDir, { recursive: true, force: true });
});

const socketUri = () => `mongodb://${encodeURIComponent(socketPath)}/?directConnection=true`;

test('the Node driver over the socket sees what TCP wrote', async () => {
  const local = new MongoClient(socketUri());
  const tcp = new MongoClient(server.uri);
  try {
    await tcp.db('app').collection('c').insertMany([{ _id: 1, v: 'a' }, { _id: 2, v: 'b' }]);
    await local.db('app').collection('c').updateOne({ _id: 2 }, { $set: { v: 'B' } });
    assert.deepEqual(await local.db('app').collection('c').find().sort({ _id: 1 }).toArray(), [
      { _id: 1, v: 'a' },
      { _id: 2, v: 'B' },
    ]);
    assert.equal((await tcp.db('app').collection('c').findOne({ _id: 2 })).v, 'B');
    const me = await local.db('admin').command({ whatsmyuri: 1 });
    assert.equal(me.you, 'anonymous unix socket');
  } finally {
    await local.close();
    await tcp.close();
  }
});

test('mongosh over the socket (reads what the test above wrote)', () => {
  const out = execFileSync(
    join(dirname(fileURLToPath(import.meta.url)), 'node_modules', '.bin', 'mongosh'),
    [socketUri(), '--quiet', '--norc', '--eval', 'db.getSiblingDB("app").c.countDocuments({})'],
    { encoding: 'utf8', timeout: 60000 },
  );
  assert.equal(out.trim(), '2');
});
