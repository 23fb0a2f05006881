// Personal data never leaves the page in autocaptured text: e-mail addresses and long digit runs
// (card, phone and account numbers) are masked before anything is queued.
export const maskText = (text, max = 100) =>
  String(text || "")
    .replace(/\s+/g, " ")
    .trim()
    .replace(/[^\s@<>()]+@[^\s@<>()]+\.[a-z]{2,}/gi, "[email]")
    .replace(/\d[\d -]{7,}\d/g, (run) => (run.replace(/\D/g, "").length > 8 ? "[number]" : run))
    .slice(0, max);
