/**
 * The storage backends every contract suite runs against. Today: SQLite (the embedded default).
 * A second backend joins by adding one entry here; every `*.contract.ts` suite then runs on it too.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Db } from '../src/storage/database.ts';
import { migrateToLatest } from '../src/storage/migrations/index.ts';
import { openSqlite } from '../src/storage/sqlite.ts';
import { tempDir } from './helpers.ts';

/** A migrated, empty store of one backend, and how to throw it away. */
export interface BackendHandle {
  db: Db;
  dispose(): Promise<void>;
}

/** One storage backend the contract suites run against. */
export interface Backend {
  name: string;
  open(): Promise<BackendHandle>;
}

/** Every backend available in this run. */
export const BACKENDS: Backend[] = [
  {
    name: 'sqlite',
    async open() {
      const dir = tempDir('pushboard-store-');
      const db = openSqlite(path.join(dir, 'store.db'));
      await migrateToLatest(db);
      return {
        db,
        async dispose() {
          await db.destroy();
          fs.rmSync(dir, { recursive: true, force: true });
        },
      };
    },
  },
];
