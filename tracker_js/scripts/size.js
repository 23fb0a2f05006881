// Fails when the gzipped bundle exceeds the budget; prints the real size either way.
import { readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";

const BUDGET = 4096;
const raw = readFileSync(new URL("../dist/cp.js", import.meta.url));
const gz = gzipSync(raw, { level: 9 }).length;
console.log(`cp.js: ${raw.length} bytes minified, ${gz} bytes gzipped (budget ${BUDGET})`);
if (gz > BUDGET) {
  console.error(`cp.js is over budget by ${gz - BUDGET} bytes`);
  process.exit(1);
}
