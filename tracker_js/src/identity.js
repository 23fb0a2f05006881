// The visitor id: first-party localStorage, else a first-party cookie, else memory (both blocked).
// In cookieless mode nothing is stored and the server derives a daily-rotating hash instead.
import { RETRY_KEY } from "./queue.js";

const KEY = "cp_vid";
let memoryId;

// A random 128-bit id (crypto.randomUUID exists only on https pages; getRandomValues everywhere).
export const uuid = () => crypto.getRandomValues(new Uint32Array(4)).join("-");

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

// Forget the visitor: a new id next time, and nothing of theirs left in the browser (in any mode: a site
// may have switched to cookieless since their events were stored).
export function forgetVisitor() {
  memoryId = 0;
  try {
    localStorage.removeItem(KEY);
    localStorage.removeItem(RETRY_KEY);
  } catch (e) {
    /* nothing stored */
  }
  document.cookie = KEY + "=; path=/; max-age=0";
}
