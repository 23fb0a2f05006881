import assert from "node:assert/strict";
import { afterEach, beforeEach, mock, test } from "node:test";
import { openPage, settle } from "./fake_page.js";

beforeEach(() => mock.timers.enable({ apis: ["setTimeout", "Date"], now: 1e6 }));
afterEach(() => mock.timers.reset());

const names = (events) => events.map((e) => e.name);

test("a request that fails on the network keeps its events for retry, and the next try sends them", async () => {
  const page = await openPage({ data: { pageviews: "false" } });
  page.api("track", "signup");
  page.api("flush");
  page.fetches[0].fail();
  await settle();
  assert.deepEqual(names(page.stored()), ["signup"], "kept in the retry queue");
  mock.timers.tick(1_010); // the first backoff is at most 1 s
  assert.equal(page.fetches.length, 2);
  assert.deepEqual(names(JSON.parse(page.fetches[1].body).events), ["signup"]);
  page.fetches[1].answer(202);
  await settle();
  assert.deepEqual(page.stored(), []);
});

test("hiding the page beacons its own pending events but leaves events in backoff stored until due", async () => {
  const page = await openPage({ data: { pageviews: "false" } });
  page.api("track", "refused");
  page.api("flush");
  page.fetches[0].answer(429);
  await settle();
  page.api("track", "pending");
  document.visibilityState = "hidden";
  page.fireOnDocument("visibilitychange");
  assert.equal(page.beacons.length, 1);
  assert.deepEqual(names(JSON.parse(page.beacons[0].body).events), ["pending"]);
  assert.deepEqual(names(page.stored()), ["refused"], "still waiting for its backoff");
  mock.timers.tick(1_010);
  assert.deepEqual(names(JSON.parse(page.fetches[1].body).events), ["refused"], "retried once due");
});

test("keepalive requests in flight are counted in UTF-8 bytes, not characters", async () => {
  const page = await openPage({ data: { pageviews: "false", flushAt: "1000" } });
  // Three batches of about 19,000 characters, 38,000 bytes each: together under 60,000 characters, but the
  // second already goes beyond the browser's 64 KB keepalive allowance in bytes.
  for (let i = 0; i < 27; i++) page.api("track", "ru", { text: "ж".repeat(2_000) });
  page.api("flush");
  assert.equal(page.fetches.length, 3);
  assert.deepEqual(
    page.fetches.map((f) => f.keepalive),
    [true, false, false],
  );
  page.fetches[0].answer(202);
  await settle();
  page.api("track", "after");
  page.api("flush");
  assert.equal(page.fetches[3].keepalive, true, "the allowance is given back when a request is done");
});

test("a send that fails after reset() is dropped: the old visitor's events never go out under the new id", async () => {
  const page = await openPage({ data: { pageviews: "false" } });
  page.api("identify", "crm-42");
  page.api("reset"); // sends what is queued, then forgets the visitor
  assert.equal(page.fetches.length, 1);
  page.fetches[0].fail();
  await settle();
  assert.deepEqual(page.stored(), []);
  mock.timers.tick(400_000);
  assert.equal(page.fetches.length, 1, "nothing retried");
});

test("after consent is denied, a failed send and events not yet sent are dropped; nothing is stored", async () => {
  const page = await openPage({ data: { pageviews: "false" } });
  page.api("track", "before");
  page.api("flush");
  page.api("track", "not_yet_sent");
  page.api("consent", "denied");
  page.fetches[0].answer(503);
  await settle();
  assert.equal(page.storage.getItem("cp_retry"), null);
  page.api("consent", "granted");
  page.api("flush");
  mock.timers.tick(400_000);
  assert.equal(page.fetches.length, 1, "nothing of the old visitor was kept to send");
});

test("a failure from the current visitor is still kept after an earlier reset", async () => {
  const page = await openPage({ data: { pageviews: "false" } });
  page.api("reset");
  page.api("track", "new_visitor");
  page.api("flush");
  page.fetches.at(-1).answer(500);
  await settle();
  assert.deepEqual(names(page.stored()), ["new_visitor"]);
});

test("in cookieless mode a denial drops the failed events kept in memory: granting again never sends them", async () => {
  const page = await openPage({ data: { pageviews: "false", cookieless: "true" } });
  page.api("track", "before_denial");
  page.api("flush");
  page.fetches[0].fail();
  await settle();
  page.api("consent", "denied");
  page.api("consent", "granted");
  page.api("track", "after_grant");
  page.fire("online"); // retries forced at once
  mock.timers.tick(400_000);
  assert.deepEqual(names(page.sent()), ["before_denial", "after_grant"], "the failed one was sent only before");
  assert.equal(page.storage.getItem("cp_retry"), null, "cookieless mode stores nothing");
});

test("a denial in cookieless mode also removes retries an earlier page stored before the site went cookieless", async () => {
  const page = await openPage({ data: { pageviews: "false", cookieless: "true" } });
  page.storage.setItem("cp_retry", JSON.stringify([JSON.stringify({ id: "old", type: "custom", name: "stored" })]));
  page.api("consent", "denied");
  assert.equal(page.storage.getItem("cp_retry"), null);
});
