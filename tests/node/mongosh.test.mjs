// A mongosh script session from the npm package.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer } from './harness.mjs';

const run = promisify(execFile);
const here = dirname(fileURLToPath(import.meta.url));
const mongosh = join(here, 'node_modules', '.bin', 'mongosh');

let server;
before(async () => { server = await startServer(); });
after(async () => { await server?.stop(); });

test('mongosh runs a script against argon', async () => {
  const script = `
    const d = db.getSiblingDB('shellapp');
    d.items.insertMany([{_id: 1, n: 1}, {_id: 2, n: 2}, {_id: 3, n: 3}]);
    d.items.updateOne({_id: 2}, {$set: {n: 20}});
    const b = db.adminCommand({createBranch: 'exp', project: 'shellapp'});
    db.getSiblingDB('shellapp~exp').items.deleteOne({_id: 1});
    print(JSON.stringify({
      main: d.items.find().sort({_id: 1}).toArray().map(x => x.n),
      exp: db.getSiblingDB('shellapp~exp').items.countDocuments(),
      ok: b.ok,
    }));
  `;
  const { stdout } = await run(mongosh, [server.uri, '--quiet', '--norc', '--eval', script], { timeout: 60000 });
  const line = stdout.trim().split('\n').pop();
  assert.deepEqual(JSON.parse(line), { main: [1, 20, 3], exp: 2, ok: 1 });
});

test('mongosh helpers: stats, validators, views, rs.status, currentOp, profiling', async () => {
  const script = `
    const d = db.getSiblingDB('shellstats');
    d.items.insertMany([{_id: 1, tags: ['a', 'b']}, {_id: 2, tags: []}]);
    d.items.createIndex({tags: 1});
    const s = d.items.stats();
    d.createCollection('checked', {validator: {$jsonSchema: {required: ['name']}}});
    let refused = 0;
    try { d.checked.insertOne({x: 1}); } catch (e) { refused = e.code; }
    d.createView('tagged', 'items', [{$match: {'tags.0': {$exists: true}}}]);
    print(JSON.stringify({
      count: s.count,
      nindexes: s.nindexes,
      indexes: Object.keys(s.indexSizes).sort(),
      positiveSizes: s.size > 0 && s.totalIndexSize > 0,
      refused,
      view: d.tagged.find().toArray().map(x => x._id),
      valid: d.items.validate().valid,
      primary: rs.status().members[0].stateStr,
      members: rs.conf().members.length,
      ops: db.currentOp().inprog.length > 0,
      profiling: db.getProfilingStatus().was,
      locked: Number(db.fsyncLock().lockCount),
      lockShown: db.adminCommand({currentOp: 1}).fsyncLock,
      unlocked: Number(db.fsyncUnlock().lockCount),
      aliasCount: Number(d.runCommand({collstats: 'items'}).count),
    }));
  `;
  const { stdout } = await run(mongosh, [server.uri, '--quiet', '--norc', '--eval', script], { timeout: 60000 });
  const line = stdout.trim().split('\n').pop();
  assert.deepEqual(JSON.parse(line), {
    count: 2, nindexes: 2, indexes: ['_id_', 'tags_1'], positiveSizes: true, refused: 121, view: [1], valid: true,
    primary: 'PRIMARY', members: 1, ops: true, profiling: 0, locked: 1, lockShown: true, unlocked: 0, aliasCount: 2,
  });
});

test('mongosh: capped collections, bulkWrite and vector search helpers', async () => {
  const script = `
    const d = db.getSiblingDB('shellcapped');
    d.createCollection('log', {capped: true, size: 4096, max: 3});
    for (const n of [5, 1, 4, 2]) d.log.insertOne({_id: n});
    d.docs.insertMany([{_id: 'a', v: [1, 0]}, {_id: 'b', v: [0, 1]}]);
    d.docs.createSearchIndex('vec', 'vectorSearch', {fields: [{type: 'vector', path: 'v', numDimensions: 2, similarity: 'cosine'}]});
    const near = d.docs.aggregate([{$vectorSearch: {index: 'vec', path: 'v', queryVector: [0.1, 1], numCandidates: 5, limit: 1}}]).toArray();
    print(JSON.stringify({
      capped: d.log.isCapped(),
      natural: d.log.find().toArray().map(x => x._id),
      reversed: d.log.find().sort({$natural: -1}).toArray().map(x => x._id),
      near: near.map(x => x._id),
      indexes: d.docs.getSearchIndexes().map(x => x.name),
    }));
  `;
  const { stdout } = await run(mongosh, [server.uri, '--quiet', '--norc', '--eval', script], { timeout: 60000 });
  const line = stdout.trim().split('\n').pop();
  assert.deepEqual(JSON.parse(line), {
    capped: true,
    natural: [1, 4, 2],
    reversed: [2, 4, 1],
    near: ['b'],
    indexes: ['vec'],
  });
});

test('mongosh: db.shutdownServer() stops the server', async () => {
  const own = await startServer();
  try {
    const script = `
      db.getSiblingDB('down').c.insertOne({_id: 1});
      let refused;
      try { db.getSiblingDB('down').runCommand({shutdown: 1}); } catch (e) { refused = e.code; }
      if (refused === undefined) refused = db.getSiblingDB('down').runCommand({shutdown: 1}).code;
      print(JSON.stringify({refused}));
      db.getSiblingDB('admin').shutdownServer();
    `;
    const { stdout } = await run(mongosh, [own.uri, '--quiet', '--norc', '--eval', script], { timeout: 60000 })
      .catch((e) => e); // the shell may report the closed connection
    assert.match(stdout, /"refused":13/);
    const code = await Promise.race([own.exited, new Promise((r) => setTimeout(() => r('still running'), 15000))]);
    assert.equal(code, 0);
  } finally {
    await own.stop();
  }
});

test('mongosh: profiler, roles, latencyStats, top and log helpers', async () => {
  const script = `
    const d = db.getSiblingDB('shellprof');
    d.items.insertMany([{_id: 1, n: 1}, {_id: 2, n: 2}]);
    d.setProfilingLevel(2);
    d.items.find({n: 2}).toArray();
    let profiled = 0;
    for (let i = 0; i < 100 && profiled === 0; i++) {
      profiled = d.system.profile.countDocuments({op: 'query', 'command.filter.n': 2});
      if (profiled === 0) sleep(20);
    }
    const level = d.getProfilingStatus().was;
    d.setProfilingLevel(0);
    const roles = d.getRoles({showBuiltinRoles: true}).roles.map((r) => r.role);
    const latency = d.items.latencyStats()[0].latencyStats;
    const top = db.adminCommand({top: 1}).totals['shellprof.items'];
    db.setLogLevel(1);
    const logLevel = db.getLogComponents().verbosity;
    db.setLogLevel(0);
    const log = db.adminCommand({getLog: 'global'});
    print(JSON.stringify({
      profiled, level, roles,
      reads: Number(latency.reads.ops) >= 1, topQueries: Number(top.queries.count) >= 1,
      logLevel, logged: log.totalLinesWritten > 0 && JSON.parse(log.log[0]).msg.length > 0,
    }));
  `;
  const { stdout } = await run(mongosh, [server.uri, '--quiet', '--norc', '--eval', script], { timeout: 60000 });
  const line = stdout.trim().split('\n').pop();
  assert.deepEqual(JSON.parse(line), {
    profiled: 1, level: 2, roles: ['read', 'readWrite', 'dbOwner', 'admin'],
    reads: true, topQueries: true, logLevel: 1, logged: true,
  });
});

test('mongosh: the oplog helpers read the WAL as local.oplog.rs', async () => {
  const script = `
    const d = db.getSiblingDB('shelloplog');
    d.createCollection('items'); // (else the first insert commits with the create: one applyOps entry)
    d.items.insertOne({_id: 1});
    d.items.deleteOne({_id: 1});
    const info = db.getReplicationInfo();
    const last = db.getSiblingDB('local').oplog.rs.find().sort({$natural: -1}).limit(1).next();
    const mine = db.getSiblingDB('local').oplog.rs.find({ns: 'shelloplog.items'}).toArray().map((e) => e.op);
    const printed = Object.keys(rs.printReplicationInfo().value);
    print(JSON.stringify({
      used: info.usedMB > 0, span: info.timeDiff >= 0, first: typeof info.tFirst, lastOp: last.op, mine, printed,
    }));
  `;
  const { stdout } = await run(mongosh, [server.uri, '--quiet', '--norc', '--eval', script], { timeout: 60000 });
  const line = stdout.trim().split('\n').pop();
  assert.deepEqual(JSON.parse(line), {
    used: true, span: true, first: 'string', lastOp: 'd', mine: ['i', 'd'],
    printed: ['actual oplog size', 'configured oplog size', 'log length start to end',
      'oplog first event time', 'oplog last event time', 'now'],
  });
});
