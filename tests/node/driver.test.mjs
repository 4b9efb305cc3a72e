// The official Node driver against a real argon serve.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { MongoClient } from 'mongodb';
import { startServer } from './harness.mjs';

let server;
let client;
before(async () => {
  server = await startServer();
  client = new MongoClient(server.uri);
  await client.connect();
});
after(async () => {
  await client?.close();
  await server?.stop();
});

test('CRUD, sort, skip, limit', async () => {
  const c = client.db('nodeapp').collection('users');
  await c.insertMany(Array.from({ length: 30 }, (_, i) => ({ _id: i, n: i, even: i % 2 === 0 })));
  assert.equal(await c.countDocuments({ even: true }), 15);
  const page = await c.find({ n: { $gte: 10 } }).sort({ n: -1 }).skip(2).limit(3).toArray();
  assert.deepEqual(page.map((d) => d._id), [27, 26, 25]);
  const r = await c.updateMany({ even: false }, { $inc: { n: 100 } });
  assert.equal(r.modifiedCount, 15);
  assert.equal((await c.findOne({ _id: 3 })).n, 103);
  const del = await c.deleteMany({ n: { $gt: 100 } });
  assert.equal(del.deletedCount, 15);
  await assert.rejects(c.insertOne({ _id: 0 }), (e) => e.code === 11000);
});

test('branches over the wire are isolated', async () => {
  const main = client.db('nodebr').collection('c');
  await main.insertOne({ _id: 1, where: 'main' });
  await client.db('admin').command({ createBranch: 'feat', project: 'nodebr' });
  const feat = client.db('nodebr~feat').collection('c');
  await feat.insertOne({ _id: 2, where: 'feat' });
  assert.deepEqual((await feat.find().toArray()).map((d) => d._id), [1, 2]);
  assert.deepEqual((await main.find().toArray()).map((d) => d._id), [1]);
});

test('transactions with withTransaction', async () => {
  const c = client.db('nodetx').collection('acc');
  await c.insertMany([{ _id: 'a', bal: 10 }, { _id: 'b', bal: 0 }]);
  const session = client.startSession();
  await session.withTransaction(async () => {
    await c.updateOne({ _id: 'a' }, { $inc: { bal: -5 } }, { session });
    await c.updateOne({ _id: 'b' }, { $inc: { bal: 5 } }, { session });
  });
  await session.endSession();
  assert.deepEqual((await c.find().sort({ _id: 1 }).toArray()).map((d) => d.bal), [5, 5]);
});

test('aggregation', async () => {
  const c = client.db('nodeagg').collection('sales');
  await c.insertMany([
    { item: 'a', qty: 2 }, { item: 'b', qty: 1 }, { item: 'a', qty: 3 },
  ]);
  const out = await c.aggregate([{ $group: { _id: '$item', total: { $sum: '$qty' } } }, { $sort: { _id: 1 } }]).toArray();
  assert.deepEqual(out, [{ _id: 'a', total: 5 }, { _id: 'b', total: 1 }]);
});

test('time series collections and collations', async () => {
  const db = client.db('nodeapp');
  await db.createCollection('weather', { timeseries: { timeField: 'ts', metaField: 'station' } });
  const [info] = await db.listCollections({ name: 'weather' }).toArray();
  assert.equal(info.type, 'timeseries');
  const now = Date.now();
  await db.collection('weather').insertMany(
    Array.from({ length: 12 }, (_, i) => ({ ts: new Date(now - i * 60_000), station: { id: i % 2 }, t: 10 + i })),
  );
  assert.equal(await db.collection('weather').countDocuments({ 'station.id': 1 }), 6);
  await assert.rejects(db.collection('weather').insertOne({ station: { id: 3 } }), (e) => e.code === 2);

  const names = db.collection('names');
  await names.insertMany([{ n: 'émile' }, { n: 'Emile' }, { n: 'zoe' }, { n: 'Zoë' }]);
  const primary = { locale: 'fr', strength: 1 };
  assert.equal(await names.countDocuments({ n: 'emile' }, { collation: primary }), 2);
  const sorted = await names.find({}, { projection: { _id: 0 } }).sort({ n: 1 }).collation({ locale: 'fr' }).toArray();
  assert.deepEqual(sorted.map((d) => d.n), ['Emile', 'émile', 'zoe', 'Zoë'].sort(new Intl.Collator('fr').compare));
});

test('collated sorts agree with ICU (Intl.Collator) for many strings and options', async () => {
  const c = client.db('nodeapp').collection('icu');
  // Deterministic pseudo-random strings over letters, accents, cases, digits, punctuation.
  const alphabet = ['a', 'A', 'b', 'B', 'e', 'é', 'É', 'è', 'o', 'ö', 'Ö', 'z', 'Z', 'ß', 'æ', '1', '2', '10', '-', ' '];
  let seed = 7;
  const rand = (n) => ((seed = (seed * 1103515245 + 12345) % 2147483648) % n);
  const docs = Array.from({ length: 300 }, (_, i) => ({
    _id: i,
    s: Array.from({ length: 1 + rand(4) }, () => alphabet[rand(alphabet.length)]).join(''),
  }));
  await c.insertMany(docs);
  const cases = [
    [{ locale: 'en' }, { sensitivity: 'variant' }],
    [{ locale: 'en', strength: 1 }, { sensitivity: 'base' }],
    [{ locale: 'de', strength: 2 }, { sensitivity: 'accent' }],
    [{ locale: 'sv' }, { sensitivity: 'variant' }],
    [{ locale: 'en', numericOrdering: true }, { sensitivity: 'variant', numeric: true }],
    [{ locale: 'en', caseFirst: 'upper' }, { sensitivity: 'variant', caseFirst: 'upper' }],
  ];
  for (const [collation, options] of cases) {
    const icu = new Intl.Collator(collation.locale, options);
    const want = [...docs].sort((x, y) => icu.compare(x.s, y.s) || x._id - y._id).map((d) => d._id);
    const got = (await c.find().sort({ s: 1, _id: 1 }).collation(collation).toArray()).map((d) => d._id);
    assert.deepEqual(got, want, JSON.stringify(collation));
  }
});

test('vector search: createSearchIndex, $vectorSearch, listSearchIndexes', async () => {
  const c = client.db('nodeapp').collection('docs');
  const docs = [
    { _id: 'cat', kind: 'animal', embedding: [0.9, 0.1, 0] },
    { _id: 'dog', kind: 'animal', embedding: [0.8, 0.3, 0.1] },
    { _id: 'car', kind: 'machine', embedding: [0, 0.2, 0.95] },
  ];
  await c.insertMany(docs);
  const name = await c.createSearchIndex({
    name: 'vec',
    type: 'vectorSearch',
    definition: {
      fields: [
        { type: 'vector', path: 'embedding', numDimensions: 3, similarity: 'euclidean' },
        { type: 'filter', path: 'kind' },
      ],
    },
  });
  assert.equal(name, 'vec');
  const listed = await c.listSearchIndexes().toArray();
  assert.deepEqual(listed.map((i) => [i.name, i.status]), [['vec', 'READY']]);
  const query = [1, 0, 0];
  const run = (filter) =>
    c
      .aggregate([
        { $vectorSearch: { index: 'vec', path: 'embedding', queryVector: query, numCandidates: 10, limit: 2, ...(filter && { filter }) } },
        { $project: { score: { $meta: 'vectorSearchScore' } } },
      ])
      .toArray();
  const score = (v) => 1 / (1 + v.reduce((s, x, i) => s + (x - query[i]) ** 2, 0));
  const got = await run();
  assert.deepEqual(got.map((d) => d._id), ['cat', 'dog']);
  assert.ok(Math.abs(got[0].score - score(docs[0].embedding)) < 1e-12);
  assert.deepEqual((await run({ kind: 'machine' })).map((d) => d._id), ['car']);
  await c.dropSearchIndex('vec');
  assert.deepEqual(await c.listSearchIndexes().toArray(), []);
});

test('client.bulkWrite across namespaces (MongoDB 8.0)', async () => {
  const ns = (c) => `nodebulk.${c}`;
  const result = await client.bulkWrite(
    [
      { name: 'insertOne', namespace: ns('a'), document: { _id: 1, n: 1 } },
      { name: 'insertOne', namespace: ns('b'), document: { _id: 1, n: 2 } },
      { name: 'updateOne', namespace: ns('a'), filter: { _id: 1 }, update: { $inc: { n: 10 } } },
      { name: 'updateOne', namespace: ns('a'), filter: { _id: 2 }, update: { $set: { n: 0 } }, upsert: true },
      { name: 'deleteMany', namespace: ns('b'), filter: {} },
    ],
    { verboseResults: true },
  );
  assert.equal(result.insertedCount, 2);
  assert.equal(result.modifiedCount, 1);
  assert.equal(result.upsertedCount, 1);
  assert.equal(result.deletedCount, 1);
  assert.equal(result.updateResults.get(3).upsertedId, 2);
  const a = await client.db('nodebulk').collection('a').find().sort({ _id: 1 }).toArray();
  assert.deepEqual(a, [{ _id: 1, n: 11 }, { _id: 2, n: 0 }]);
  await assert.rejects(
    client.bulkWrite([
      { name: 'insertOne', namespace: ns('a'), document: { _id: 1 } },
      { name: 'insertOne', namespace: ns('a'), document: { _id: 3 } },
    ]),
    (e) => e.writeErrors.get(0).code === 11000 && e.partialResult.insertedCount === 0,
  );
});

test('a tailable awaitData cursor on a capped collection sees new documents', async () => {
  const d = client.db('nodetail');
  const log = await d.createCollection('log', { capped: true, size: 100000 });
  await log.insertMany([{ _id: 1 }, { _id: 2 }]);
  const cursor = log.find({}, { tailable: true, awaitData: true, maxAwaitTimeMS: 2000 });
  assert.equal((await cursor.next())._id, 1);
  assert.equal((await cursor.next())._id, 2);
  setTimeout(() => log.insertOne({ _id: 3 }), 200);
  const started = Date.now();
  assert.equal((await cursor.next())._id, 3); // waits in getMore (awaitData)
  assert.ok(Date.now() - started >= 150);
  await cursor.close();
});

test('server-side JavaScript: $where and $function', async () => {
  const c = client.db('nodejs').collection('js');
  await c.insertMany([{ _id: 1, a: 2, b: 3 }, { _id: 2, a: 5, b: 1 }]);
  const where = await c.find({ $where: 'this.a > this.b' }).toArray();
  assert.deepEqual(where.map((d) => d._id), [2]);
  const fn = await c
    .aggregate([
      { $sort: { _id: 1 } },
      { $project: { sum: { $function: { body: 'function (a, b) { return a + b; }', args: ['$a', '$b'], lang: 'js' } } } },
    ])
    .toArray();
  assert.deepEqual(fn.map((d) => d.sum), [5, 6]);
});

