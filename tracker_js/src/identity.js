// The visitor id: first-party localStorage, else a first-party cookie, else memory (both blocked).
// In cookieless mode nothing is stored and the server derives a daily-rotating hash instead.
const KEY = "cp_vid";
let memoryId = null;

export function uuid() {
  const c = globalThis.crypto;
  if (c && c.randomUUID) return c.randomUUID();
  const bytes = new Uint8Array(16);
  if (c && c.getRandomValues) c.getRandomValues(bytes);
  else for (let i = 0; i < 16; i++) bytes[i] = (Math.random() * 256) | 0;
  bytes[6] = (bytes[6] & 15) | 64;
  bytes[8] = (bytes[8] & 63) | 128;
  const hex = Array.from(bytes, (b) => (b + 256).toString(16).slice(1)).join("");
  return hex.slice(0, 8) + "-" + hex.slice(8, 12) + "-" + hex.slice(12, 16) + "-" + hex.slice(16, 20) + "-" + hex.slice(20);
}

function readCookie() {
  const m = document.cookie.match(/(?:^|; )cp_vid=([^;]+)/);
  return m && m[1];
}

export function visitorId(cookieless) {
  if (cookieless) return null;
  try {
    let id = localStorage.getItem(KEY);
    if (!id) localStorage.setItem(KEY, (id = "v_" + uuid()));
    return id;
  } catch (e) {
    /* localStorage blocked: try a cookie */
  }
  try {
    let id = readCookie();
    if (!id) {
      id = "v_" + uuid();
      document.cookie = KEY + "=" + id + "; path=/; max-age=31536000; SameSite=Lax";
    }
    if (readCookie()) return id;
  } catch (e) {
    /* cookies blocked too */
  }
  return memoryId || (memoryId = "v_" + uuid());
}

export function forgetVisitor() {
  memoryId = null;
  try {
    localStorage.removeItem(KEY);
    localStorage.removeItem("cp_retry");
  } catch (e) {
    /* nothing stored */
  }
  try {
    document.cookie = KEY + "=; path=/; max-age=0";
  } catch (e) {
    /* nothing stored */
  }
}
