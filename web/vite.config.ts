/**
 * Builds the console into `web/dist`, which the Pushboard server serves at `/`. `npm run dev -w web`
 * serves it with hot reload and forwards `/api` and `/docs` to a server on PUSHBOARD_API (default :3000).
 */
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

const api = process.env.PUSHBOARD_API ?? 'http://localhost:3000';

export default defineConfig({
  plugins: [react()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // antd is one large chunk on purpose: the console is an internal tool loaded once per session.
    chunkSizeWarningLimit: 2000,
  },
  server: { proxy: { '/api': api, '/docs': api } },
});
