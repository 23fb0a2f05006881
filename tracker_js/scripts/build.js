// Bundles src/index.js into one minified IIFE: dist/cp.js.
import { build } from "esbuild";

await build({
  entryPoints: ["src/index.js"],
  bundle: true,
  minify: true,
  format: "iife",
  target: ["es2019"],
  outfile: "dist/cp.js",
  legalComments: "none",
});
