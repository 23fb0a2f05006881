// Batching and the retry queue. Pure logic: storage, clock and random are injected so node tests
// can drive it. Events are queued as JSON strings. Events that could not go wait in storage (in memory when there is none, as in
// cookieless mode), bounded, and are replayed on the next page; on this page they are retried with
// exponential backoff and jitter. Event ids make a replay safe to deliver twice.
export const RETRY_KEY = "cp_retry";
export const MAX_RETRY_EVENTS = 200;

export const backoff = (attempt, random = Math.random) => {
  const ceiling = Math.min(3e5, 1e3 * 2 ** attempt);
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
};

export function createQueue(flushAt, storage, now = Date.now, random = Math.random) {
  let pending = [];
  let memory = "[]";
  let attempt = 0;
  let dueAt = 0;
  const read = () => {
    try {
      return JSON.parse((storage ? storage.getItem(RETRY_KEY) : memory) || "[]");
    } catch (e) {
      return [];
    }
  };
  const write = (events) => {
    memory = JSON.stringify(events);
    try {
      if (storage) events.length ? storage.setItem(RETRY_KEY, memory) : storage.removeItem(RETRY_KEY);
    } catch (e) {
      /* storage full or blocked: kept in memory, lost only if the page closes before the next try */
      storage = 0;
    }
  };
  return {
    // Queue an event; true when a batch is full and should go now.
    add: (event) => pending.push(event) >= flushAt,
    // Events to send now: stored retries once their backoff has passed (retries 0), at once (1) or not at
    // all (-1), then what is pending.
    take(retries) {
      let events = pending;
      pending = [];
      if (retries > 0 || (!retries && now() >= dueAt)) {
        const stored = read();
        if (stored.length) {
          write([]);
          events = stored.concat(events);
        }
      }
      return events;
    },
    // A send failed or could not start: keep the newest events, bounded; returns ms until the next try.
    // (take() empties the store, so an event is never stored twice.)
    failed(events) {
      write(read().concat(events).slice(-MAX_RETRY_EVENTS));
      const delay = backoff(attempt++, random);
      dueAt = now() + delay;
      return delay;
    },
    // A send went through: the next failure starts the backoff again.
    sent() {
      attempt = 0;
    },
    // Whether events wait from an earlier try (or an earlier page).
    waiting: () => read().length > 0,
    // Forget what this page holds (reset, consent denied): pending events, the retries kept in memory (the
    // only copy without storage, as in cookieless mode) and the backoff. forgetVisitor() empties the storage.
    clear() {
      pending = [];
      memory = "[]";
      attempt = dueAt = 0;
    },
  };
}

// Split events (each already JSON) into chunks whose bodies stay under 60 KB, so sendBeacon and
// keepalive fetch accept them (a character is at most 3 bytes in UTF-8): "[" + chunk + "]" is the
// chunk's JSON array.
export function splitBatches(events, limit = 2e4) {
  const chunks = [];
  let chunk = [];
  let size = 0;
  for (const json of events) {
    if (chunk.length && size + json.length > limit) {
      chunks.push(chunk);
      chunk = [];
      size = 0;
    }
    chunk.push(json);
    size += json.length + 1;
  }
  if (chunk.length) chunks.push(chunk);
  return chunks;
}
