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

const ids = (taken) => taken.events.map((e) => e.id);

test("flushes when the batch reaches flushAt events", () => {
  const q = createQueue(3, null);
  assert.equal(q.add({ id: "1" }), false);
  assert.equal(q.add({ id: "2" }), false);
  assert.equal(q.add({ id: "3" }), true);
  assert.deepEqual(ids(q.take(false)), ["1", "2", "3"]);
  assert.deepEqual(q.take(false).events, [], "taken events are not handed out twice");
});

test("failed batches wait for their backoff, then come back once", () => {
  let clock = 1000;
  const storage = memoryStorage();
  const q = createQueue(10, storage, () => clock, () => 0.5);
  assert.equal(q.failed([{ id: "a" }, { id: "b" }], 0), 750);
  assert.equal(q.retryIn(), 750);
  q.add({ id: "c" });
  assert.deepEqual(ids(q.take(false)), ["c"], "retries wait for their backoff");
  clock += 10_000;
  assert.equal(q.retryIn(), 0);
  const taken = q.take(false);
  assert.deepEqual(ids(taken), ["a", "b"]);
  assert.equal(taken.attempt, 1, "the attempt count travels with the batch");
  assert.deepEqual(q.take(false).events, [], "taken retries are not handed out twice");
  assert.equal(q.retryIn(), -1);
});

test("a forced take (back online, page going away) does not wait for the backoff", () => {
  const q = createQueue(10, memoryStorage(), () => 0);
  q.failed([{ id: "a" }], 5);
  q.add({ id: "b" });
  assert.deepEqual(ids(q.take(true)), ["a", "b"]);
});

test("the retry queue survives a new page (a new queue on the same storage)", () => {
  const storage = memoryStorage();
  createQueue(10, storage).failed([{ id: "x" }], 0);
  const nextPage = createQueue(10, storage, () => Date.now() + 60_000);
  assert.deepEqual(ids(nextPage.take(false)), ["x"]);
  assert.equal(storage.getItem(RETRY_KEY), null);
});

test("without storage (cookieless mode) retries are kept in memory for this page", () => {
  let clock = 0;
  const q = createQueue(10, null, () => clock);
  q.failed([{ id: "m" }], 0);
  clock = 5_000;
  assert.deepEqual(ids(q.take(false)), ["m"]);
});

test("broken or blocked storage loses nothing on this page and throws nothing", () => {
  const throwing = {
    getItem: () => {
      throw new Error("blocked");
    },
    setItem: () => {
      throw new Error("full");
    },
    removeItem: () => {},
  };
  const q = createQueue(10, throwing);
  q.add({ id: "p" });
  assert.deepEqual(ids(q.take(true)), ["p"]);
  assert.doesNotThrow(() => q.failed([{ id: "q" }], 0));
  const corrupt = memoryStorage();
  corrupt.setItem(RETRY_KEY, "{not json");
  assert.deepEqual(createQueue(10, corrupt).take(true).events, []);
});

test("retrying the same events does not duplicate them and the queue stays bounded", () => {
  const storage = memoryStorage();
  const q = createQueue(10, storage);
  q.failed([{ id: "a" }], 0);
  q.failed([{ id: "a" }, { id: "b" }], 1);
  assert.equal(JSON.parse(storage.getItem(RETRY_KEY)).events.length, 2);
  q.failed(Array.from({ length: 500 }, (_, i) => ({ id: "n" + i })), 2);
  const kept = JSON.parse(storage.getItem(RETRY_KEY)).events;
  assert.equal(kept.length, MAX_RETRY_EVENTS);
  assert.equal(kept.at(-1).id, "n499", "the newest events are kept");
});

test("backoff grows exponentially with jitter and is capped", () => {
  assert.equal(backoff(0, () => 0), 500);
  assert.equal(backoff(0, () => 1), 1000);
  assert.equal(backoff(3, () => 1), 8000);
  assert.equal(backoff(30, () => 1), 300000);
});

test("batches are split to stay under the body limit, counted in UTF-8 bytes", () => {
  const events = Array.from({ length: 50 }, (_, i) => ({ id: String(i), pad: "x".repeat(1000) }));
  const chunks = splitBatches(events, 10_000);
  assert.ok(chunks.length > 1);
  assert.deepEqual(chunks.flatMap((c) => JSON.parse("[" + c + "]")), events);
  for (const c of chunks) assert.ok(Buffer.byteLength("[" + c + "]") < 10_000);
  const wide = Array.from({ length: 20 }, (_, i) => ({ id: String(i), text: "€".repeat(1000) }));
  for (const c of splitBatches(wide, 10_000)) assert.ok(Buffer.byteLength("[" + c + "]") < 10_000);
  assert.deepEqual(splitBatches([]), []);
});
