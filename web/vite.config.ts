import { defineConfig } from 'vite';

// No React plugin: Vite's own transform compiles TSX (automatic runtime); fast refresh is not worth a Babel tree.
export default defineConfig({
  oxc: { jsx: { runtime: 'automatic' } },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // The CSP forbids inline script: never inline the module preload polyfill or small assets as data: scripts.
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
  },
});
