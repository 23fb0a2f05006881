// Batching and the retry queue. Pure logic: storage, clock and random are injected so node tests
// can drive it. Failed batches wait in storage with exponential backoff and jitter, bounded in
// size, and are replayed on the next page; event ids make replays safe to deliver twice.
export const RETRY_KEY = "cp_retry";
export const MAX_RETRY_EVENTS = 200;
const BASE_DELAY = 1000;
const MAX_DELAY = 5 * 60 * 1000;

export function backoff(attempt, random = Math.random) {
  const ceiling = Math.min(MAX_DELAY, BASE_DELAY * 2 ** attempt);
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

export function createQueue({ flushAt = 10, storage = null, now = Date.now, random = Math.random }) {
  let pending = [];

  function readRetry() {
    try {
      return JSON.parse((storage && storage.getItem(RETRY_KEY)) || "null") || { events: [], attempt: 0, at: 0 };
    } catch (e) {
      return { events: [], attempt: 0, at: 0 };
    }
  }

  function writeRetry(state) {
    try {
      if (!storage) return;
      if (state.events.length) storage.setItem(RETRY_KEY, JSON.stringify(state));
      else storage.removeItem(RETRY_KEY);
    } catch (e) {
      /* storage full or blocked: the events are lost only if the page closes before the next try */
    }
  }

  return {
    add(event) {
      pending.push(event);
      return pending.length >= flushAt;
    },
    size() {
      return pending.length;
    },
    // Events to send now: what is pending, plus retries whose backoff has passed.
    take(force) {
      const retry = readRetry();
      const due = retry.events.length && (force || now() >= retry.at);
      const out = (due ? retry.events : []).concat(pending);
      if (due) writeRetry({ events: [], attempt: retry.attempt, at: 0 });
      pending = [];
      return { events: out, attempt: due ? retry.attempt : 0 };
    },
    // A send failed: keep the newest events (bounded), try again later.
    failed(events, attempt) {
      const retry = readRetry();
      const seen = new Set(retry.events.map((e) => e.id));
      const merged = retry.events.concat(events.filter((e) => !seen.has(e.id))).slice(-MAX_RETRY_EVENTS);
      writeRetry({ events: merged, attempt: attempt + 1, at: now() + backoff(attempt, random) });
    },
    succeeded() {
      const retry = readRetry();
      if (retry.attempt && !retry.events.length) writeRetry({ events: [], attempt: 0, at: 0 });
    },
    pendingRetry() {
      return readRetry().events.length;
    },
  };
}

// Split events into bodies under the byte limit, so sendBeacon and keepalive fetch accept them.
export function splitBatches(events, envelope, limit = 60000) {
  const batches = [];
  let current = [];
  let size = JSON.stringify(envelope).length + 12;
  for (const event of events) {
    const length = JSON.stringify(event).length + 1;
    if (current.length && size + length > limit) {
      batches.push(current);
      current = [];
      size = JSON.stringify(envelope).length + 12;
    }
    current.push(event);
    size += length;
  }
  if (current.length) batches.push(current);
  return batches;
}
