import { defineConfig } from "vite";

// Built offline into dist/, which src-tauri embeds: no dev server, no CDN, no remote fonts.
export default defineConfig({
  clearScreen: false,
  build: {
    outDir: "dist",
    emptyOutDir: true,
    // WebKitGTK 2.40+ (Debian 12) runs ES2021.
    target: "es2021",
    sourcemap: false,
  },
});
