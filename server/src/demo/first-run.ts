import type { Db } from '../storage/database.ts';

/** Placeholder until the first-run fleet lands. */
export async function seedFirstRun(
  _db: Db,
  _workspaceId: string,
  _fleetSize: number,
  _now: Date,
): Promise<Record<string, number>> {
  return {};
}
