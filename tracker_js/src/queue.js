// Batching and the retry queue. Pure logic: storage, clock and random are injected so node tests
// can drive it. Failed batches wait in storage (memory when there is none, as in cookieless mode)
// with exponential backoff and jitter, bounded in size, and are replayed on the next page; event
// ids make a replay safe to deliver twice.
export const RETRY_KEY = "cp_retry";
export const MAX_RETRY_EVENTS = 200;

export const backoff = (attempt, random = Math.random) => {
  const ceiling = Math.min(3e5, 1e3 * 2 ** attempt);
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
};

export function createQueue(flushAt, storage, now = Date.now, random = Math.random) {
  let pending = [];
  let memory = null;
  const read = () => {
    try {
      return JSON.parse(storage ? storage.getItem(RETRY_KEY) : memory) || { events: [], attempt: 0, at: 0 };
    } catch (e) {
      return { events: [], attempt: 0, at: 0 };
    }
  };
  const write = (state) => {
    memory = state.events.length ? JSON.stringify(state) : null;
    try {
      if (storage) memory ? storage.setItem(RETRY_KEY, memory) : storage.removeItem(RETRY_KEY);
    } catch (e) {
      /* storage full or blocked: the events are lost only if the page closes before the next try */
    }
  };
  return {
    // Queue an event; true when a batch is full and should go now.
    add: (event) => pending.push(event) >= flushAt,
    // Events to send now: retries whose backoff has passed (all of them when forced), then what is pending.
    take(force) {
      const retry = read();
      const due = retry.events.length && (force || now() >= retry.at);
      const events = (due ? retry.events : []).concat(pending);
      if (due) write({ events: [] });
      pending = [];
      return { events, attempt: due ? retry.attempt : 0 };
    },
    // A send failed (or could not start): keep the newest events, bounded; returns ms until the next try.
    failed(events, attempt) {
      const retry = read();
      const seen = new Set(retry.events.map((e) => e.id));
      const delay = backoff(attempt, random);
      write({
        events: retry.events.concat(events.filter((e) => !seen.has(e.id))).slice(-MAX_RETRY_EVENTS),
        attempt: attempt + 1,
        at: now() + delay,
      });
      return delay;
    },
    // ms until stored retries are due (0 when due now), or -1 when there are none.
    retryIn() {
      const retry = read();
      return retry.events.length ? Math.max(0, retry.at - now()) : -1;
    },
  };
}

// Split events into JSON chunks whose bodies stay under the byte limit, so sendBeacon and keepalive
// fetch accept them: "[" + chunk + "]" is the events' JSON array. Each event is serialized once.
export function splitBatches(events, limit = 6e4) {
  const chunks = [];
  const encoder = new TextEncoder();
  let chunk = [];
  let size = 0;
  for (const event of events) {
    const json = JSON.stringify(event);
    const bytes = encoder.encode(json).length + 1;
    if (chunk.length && size + bytes > limit) {
      chunks.push(chunk);
      chunk = [];
      size = 0;
    }
    chunk.push(json);
    size += bytes;
  }
  if (chunk.length) chunks.push(chunk);
  return chunks;
}
