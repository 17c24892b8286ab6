// Builds the dashboard into dist/: one bundled script (Chart.js included, no CDN at run time),
// the stylesheet and the page. Run by `make dashboard` (npm ci && npm run build).
import { build } from "esbuild";
import { copyFileSync, mkdirSync, rmSync } from "node:fs";

const out = "dist";
rmSync(out, { recursive: true, force: true });
mkdirSync(`${out}/assets`, { recursive: true });
await build({
  entryPoints: ["src/main.js"],
  bundle: true,
  minify: true,
  sourcemap: true,
  format: "esm",
  target: ["es2020"],
  outfile: `${out}/assets/app.js`,
  legalComments: "linked",
});
copyFileSync("src/style.css", `${out}/assets/app.css`);
copyFileSync("src/index.html", `${out}/index.html`);
console.log("dashboard built into edge_compat/dashboard/dist");
