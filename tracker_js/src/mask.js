// Personal data never leaves the page in autocaptured text: e-mail addresses and long digit runs
// (card, phone and account numbers) are masked before anything is queued.
const EMAIL = /[^\s@<>()]+@[^\s@<>()]+\.[a-z]{2,}/gi;
const DIGITS = /\d[\d -]{7,}\d/g;

export function maskText(text, max = 100) {
  return String(text || "")
    .replace(/\s+/g, " ")
    .trim()
    .replace(EMAIL, "[email]")
    .replace(DIGITS, (run) => (run.replace(/\D/g, "").length >= 9 ? "[number]" : run))
    .slice(0, max);
}
