import { defineConfig } from "vite";
import preact from "@preact/preset-vite";

// Served at /console/ on the API's own origin (the local stack, or CloudFront in front of the HTTP API).
export default defineConfig({
  base: "/console/",
  plugins: [preact()],
  build: {
    outDir: "dist",
    assetsDir: "assets",
    // No inline script anywhere: the CSP is script-src 'self'.
    modulePreload: { polyfill: false },
    sourcemap: false,
    target: "es2022",
  },
});
