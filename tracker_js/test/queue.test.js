import assert from "node:assert/strict";
import { test } from "node:test";
import { MAX_RETRY_EVENTS, RETRY_KEY, backoff, createQueue, splitBatches } from "../src/queue.js";

function memoryStorage() {
  const data = new Map();
  return {
    getItem: (k) => (data.has(k) ? data.get(k) : null),
    setItem: (k, v) => data.set(k, String(v)),
    removeItem: (k) => data.delete(k),
    data,
  };
}

const ids = (events) => events.map((e) => e.id);

test("flushes when the batch reaches flushAt events", () => {
  const q = createQueue(3, null);
  assert.equal(q.add({ id: "1" }), false);
  assert.equal(q.add({ id: "2" }), false);
  assert.equal(q.add({ id: "3" }), true);
  assert.deepEqual(ids(q.take()), ["1", "2", "3"]);
  assert.deepEqual(q.take(), [], "taken events are not handed out twice");
});

test("failed events wait for their backoff, then come back once", () => {
  let clock = 1000;
  const storage = memoryStorage();
  const q = createQueue(10, storage, () => clock, () => 0.5);
  assert.equal(q.failed([{ id: "a" }, { id: "b" }]), 750);
  assert.equal(q.waiting(), true);
  q.add({ id: "c" });
  assert.deepEqual(ids(q.take()), ["c"], "retries wait for their backoff");
  clock += 10_000;
  assert.deepEqual(ids(q.take()), ["a", "b"]);
  assert.deepEqual(q.take(), [], "taken retries are not handed out twice");
  assert.equal(q.waiting(), false);
});

test("the backoff grows with each failure and starts again after a send went through", () => {
  const q = createQueue(10, null, () => 0, () => 1);
  assert.deepEqual([q.failed([]), q.failed([]), q.failed([])], [1000, 2000, 4000]);
  q.sent();
  assert.equal(q.failed([]), 1000);
});

test("a forced take (back online) does not wait for the backoff", () => {
  const q = createQueue(10, memoryStorage(), () => 0);
  q.failed([{ id: "a" }]);
  q.add({ id: "b" });
  assert.deepEqual(ids(q.take(1)), ["a", "b"]);
});

test("a page that is gone takes only its own pending events: what is stored waits for the next page", () => {
  const storage = memoryStorage();
  const q = createQueue(10, storage, () => 0);
  q.failed([{ id: "a" }]);
  q.add({ id: "b" });
  assert.deepEqual(ids(q.take(-1)), ["b"]);
  assert.deepEqual(ids(createQueue(10, storage).take()), ["a"]);
});

test("the retry queue survives a new page (a new queue on the same storage)", () => {
  const storage = memoryStorage();
  createQueue(10, storage).failed([{ id: "x" }]);
  const nextPage = createQueue(10, storage);
  assert.equal(nextPage.waiting(), true);
  assert.deepEqual(ids(nextPage.take()), ["x"]);
  assert.equal(storage.getItem(RETRY_KEY), null);
});

test("without storage (cookieless mode) retries are kept in memory for this page", () => {
  let clock = 0;
  const q = createQueue(10, null, () => clock);
  q.failed([{ id: "m" }]);
  clock = 5_000;
  assert.deepEqual(ids(q.take()), ["m"]);
});

test("clear() without storage (cookieless mode) leaves nothing to take and the backoff starts again", () => {
  let clock = 0;
  const q = createQueue(10, null, () => clock, () => 1);
  assert.deepEqual([q.failed([{ id: "a" }]), q.failed([{ id: "b" }])], [1000, 2000]);
  q.add({ id: "c" });
  q.clear();
  clock = 1e6;
  assert.deepEqual(q.take(1), [], "no pending event and no retry left in memory");
  assert.equal(q.waiting(), false);
  assert.equal(q.failed([{ id: "d" }]), 1000, "the backoff starts from its first step");
  assert.deepEqual(ids(q.take(1)), ["d"], "the queue still works afterwards");
});

test("clear() empties the retries kept in memory after storage refused a write", () => {
  const storage = memoryStorage();
  const q = createQueue(10, storage);
  q.failed([{ id: "stored" }]);
  storage.setItem = () => {
    throw new Error("full");
  };
  q.failed([{ id: "in_memory" }]);
  q.clear();
  assert.deepEqual(q.take(1), []);
});

test("broken or full storage loses nothing on this page and throws nothing", () => {
  const full = { getItem: () => null, setItem: () => { throw new Error("full"); }, removeItem: () => {} };
  const q = createQueue(10, full);
  q.add({ id: "p" });
  assert.deepEqual(ids(q.take(true)), ["p"]);
  assert.doesNotThrow(() => q.failed([{ id: "q" }]));
  assert.deepEqual(ids(q.take(true)), ["q"], "kept in memory when storage refuses");
  const corrupt = memoryStorage();
  corrupt.setItem(RETRY_KEY, "{not json");
  assert.deepEqual(createQueue(10, corrupt).take(true), []);
});

test("the retry queue stays bounded and keeps the newest events", () => {
  const storage = memoryStorage();
  const q = createQueue(10, storage);
  q.failed(Array.from({ length: 500 }, (_, i) => ({ id: "n" + i })));
  const kept = JSON.parse(storage.getItem(RETRY_KEY));
  assert.equal(kept.length, MAX_RETRY_EVENTS);
  assert.equal(kept.at(-1).id, "n499", "the newest events are kept");
});

test("backoff grows exponentially with jitter and is capped", () => {
  assert.equal(backoff(0, () => 0), 500);
  assert.equal(backoff(0, () => 1), 1000);
  assert.equal(backoff(3, () => 1), 8000);
  assert.equal(backoff(30, () => 1), 300000);
});

test("batches are split so every body stays under 60 KB, even with 3-byte characters", () => {
  const json = (n, text) => Array.from({ length: n }, (_, i) => JSON.stringify({ id: String(i), text }));
  const events = json(50, "x".repeat(1000));
  const chunks = splitBatches(events, 10_000);
  assert.ok(chunks.length > 1);
  assert.deepEqual(chunks.flat(), events, "all events, in order");
  for (const c of chunks) assert.ok(("[" + c + "]").length <= 10_001);
  const wide = json(200, "€".repeat(1000));
  const wideChunks = splitBatches(wide);
  assert.deepEqual(wideChunks.flatMap((c) => JSON.parse("[" + c + "]")).length, 200);
  for (const c of wideChunks) assert.ok(Buffer.byteLength("[" + c + "]") < 60_000);
  assert.deepEqual(splitBatches([]), []);
  assert.equal(splitBatches(json(1, "x".repeat(30_000))).length, 1, "one oversized event still goes");
});
