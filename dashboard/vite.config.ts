import { defineConfig } from "vite";

// The hub serves the build from dashboard/dist at /ui/ (src/Kai.Hub/Dashboard). No inline scripts or styles are
// emitted (the hub's Content-Security-Policy allows only 'self'), and no module-preload polyfill (it is inline code).
export default defineConfig({
  base: "/ui/",
  build: {
    outDir: "dist",
    emptyOutDir: true,
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    target: "es2022",
  },
});
