// The visitor id: first-party localStorage, else a first-party cookie, else memory (both blocked).
// In cookieless mode nothing is stored and the server derives a daily-rotating hash instead.
const KEY = "cp_vid";
let memoryId;

// A random v4 UUID; crypto.randomUUID exists only on https pages, getRandomValues everywhere.
export const uuid = () =>
  crypto.randomUUID
    ? crypto.randomUUID()
    : ([1e7] + -1e3 + -4e3 + -8e3 + -1e11).replace(/[018]/g, (c) => (c ^ (crypto.getRandomValues(new Uint8Array(1))[0] & (15 >> (c / 4)))).toString(16));

export function visitorId(cookieless) {
  if (cookieless) return null;
  try {
    return localStorage[KEY] || (localStorage[KEY] = "v_" + uuid());
  } catch (e) {
    /* localStorage blocked: a cookie, else memory */
  }
  const cookie = document.cookie.match(/(^|; )cp_vid=([^;]+)/);
  if (cookie) return cookie[2];
  memoryId = memoryId || "v_" + uuid();
  document.cookie = KEY + "=" + memoryId + "; path=/; max-age=31536000; SameSite=Lax";
  return memoryId;
}

// Forget the visitor: a new id next time, and nothing of theirs left in the browser.
export function forgetVisitor() {
  memoryId = 0;
  try {
    localStorage.removeItem(KEY);
    localStorage.removeItem("cp_retry");
  } catch (e) {
    /* nothing stored */
  }
  document.cookie = KEY + "=; path=/; max-age=0";
}
