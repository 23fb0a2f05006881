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

test("flushes when the batch reaches flushAt events", () => {
  const q = createQueue({ flushAt: 3 });
  assert.equal(q.add({ id: "1" }), false);
  assert.equal(q.add({ id: "2" }), false);
  assert.equal(q.add({ id: "3" }), true);
  assert.deepEqual(q.take(false).events.map((e) => e.id), ["1", "2", "3"]);
  assert.equal(q.size(), 0);
});

test("failed batches wait for their backoff, then come back once", () => {
  let clock = 1000;
  const storage = memoryStorage();
  const q = createQueue({ storage, now: () => clock, random: () => 0.5 });
  q.failed([{ id: "a" }, { id: "b" }], 0);
  assert.equal(q.pendingRetry(), 2);
  q.add({ id: "c" });
  assert.deepEqual(q.take(false).events.map((e) => e.id), ["c"], "retries wait for their backoff");
  clock += 10_000;
  assert.deepEqual(q.take(false).events.map((e) => e.id), ["a", "b"]);
  assert.deepEqual(q.take(false).events, [], "taken retries are not handed out twice");
});

test("the retry queue survives a new page (a new queue on the same storage)", () => {
  const storage = memoryStorage();
  createQueue({ storage }).failed([{ id: "x" }], 0);
  const nextPage = createQueue({ storage, now: () => Date.now() + 60_000 });
  assert.deepEqual(nextPage.take(false).events.map((e) => e.id), ["x"]);
  assert.equal(storage.getItem(RETRY_KEY), null);
});

test("retrying the same events does not duplicate them and the queue stays bounded", () => {
  const storage = memoryStorage();
  const q = createQueue({ storage });
  q.failed([{ id: "a" }], 0);
  q.failed([{ id: "a" }, { id: "b" }], 1);
  assert.equal(q.pendingRetry(), 2);
  q.failed(Array.from({ length: 500 }, (_, i) => ({ id: "n" + i })), 2);
  assert.equal(q.pendingRetry(), MAX_RETRY_EVENTS);
});

test("backoff grows exponentially with jitter and is capped", () => {
  assert.equal(backoff(0, () => 0), 500);
  assert.equal(backoff(0, () => 1), 1000);
  assert.equal(backoff(3, () => 1), 8000);
  assert.equal(backoff(30, () => 1), 300000);
});

test("batches are split to stay under the body limit", () => {
  const events = Array.from({ length: 50 }, (_, i) => ({ id: String(i), pad: "x".repeat(1000) }));
  const batches = splitBatches(events, { write_key: "k" }, 10_000);
  assert.ok(batches.length > 1);
  assert.deepEqual(batches.flat().map((e) => e.id), events.map((e) => e.id));
  for (const b of batches) assert.ok(JSON.stringify({ write_key: "k", events: b }).length < 10_000);
});
