// mongoose (schemas, validation, findOneAndUpdate, lean queries, aggregation).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import mongoose from 'mongoose';
import { startServer } from './harness.mjs';

let server;
before(async () => {
  server = await startServer();
  await mongoose.connect(server.uri, { dbName: 'goose' });
});
after(async () => {
  await mongoose.disconnect();
  await server?.stop();
});

const Cat = mongoose.model('Cat', new mongoose.Schema({
  name: { type: String, required: true },
  age: { type: Number, min: 0 },
  toys: [String],
}));

test('schemas and validation', async () => {
  const tom = await Cat.create({ name: 'Tom', age: 3, toys: ['ball'] });
  assert.ok(tom._id);
  await assert.rejects(Cat.create({ age: 2 }), /name.*required/i);
  await assert.rejects(Cat.create({ name: 'Neg', age: -1 }), /age/);
});

test('findOneAndUpdate and lean queries', async () => {
  await Cat.create({ name: 'Felix', age: 5 });
  const updated = await Cat.findOneAndUpdate({ name: 'Felix' }, { $inc: { age: 1 }, $push: { toys: 'mouse' } }, { returnDocument: 'after' });
  assert.equal(updated.age, 6);
  assert.deepEqual([...updated.toys], ['mouse']);
  const lean = await Cat.find({ age: { $gte: 3 } }).sort({ age: -1 }).lean();
  assert.ok(lean.length >= 2);
  assert.equal(lean[0].name, 'Felix');
  assert.equal(typeof lean[0].save, 'undefined');
});

test('aggregation through mongoose', async () => {
  const out = await Cat.aggregate([{ $match: { age: { $gte: 0 } } }, { $group: { _id: null, n: { $sum: 1 } } }]);
  assert.equal(out[0].n, await Cat.countDocuments());
});

test('a schema collation: case-insensitive queries and a unique index', async () => {
  const userSchema = new mongoose.Schema(
    { email: { type: String, required: true, unique: true } },
    { collation: { locale: 'en', strength: 2 }, autoCreate: true, autoIndex: true },
  );
  const User = mongoose.model('User', userSchema);
  await User.init(); // creates the collection (with its collation) and the index
  await User.create({ email: 'Ada@Example.com' });
  const found = await User.findOne({ email: 'ada@example.COM' }).lean();
  assert.equal(found?.email, 'Ada@Example.com');
  await assert.rejects(User.create({ email: 'ADA@example.com' }), (e) => e.code === 11000);
  const binary = await User.findOne({ email: 'ada@example.com' }).collation({ locale: 'simple' }).lean();
  assert.equal(binary, null);
});

test('a capped schema keeps the newest documents in insertion order', async () => {
  const logSchema = new mongoose.Schema({ n: Number }, { capped: { size: 4096, max: 3 }, autoCreate: true });
  const Log = mongoose.model('Log', logSchema);
  await Log.init(); // creates the capped collection
  for (const n of [5, 1, 4, 2, 3]) {
    await Log.create({ n });
  }
  const kept = await Log.find().lean();
  assert.deepEqual(kept.map((d) => d.n), [4, 2, 3]);
  const stats = await mongoose.connection.db.command({ collStats: 'logs' });
  assert.equal(stats.capped, true);
  assert.equal(stats.max, 3);
});
