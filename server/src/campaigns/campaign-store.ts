/**
 * What campaigns and sub-campaigns need from storage, and its Kysely implementation.
 */
import type { CampaignRow, Db, SubCampaignRow, TaskRow } from '../storage/database.ts';
import { containsText } from '../storage/text-search.ts';

/** A sub-campaign with the name of its campaign (null when independent). */
export type SubCampaignWithCampaign = SubCampaignRow & { campaign_name: string | null };

/** Filters of the sub-campaign list. */
export interface SubCampaignFilter {
  /** Only the sub-campaigns of this campaign. */
  campaignId?: string;
  /** Only independent sub-campaigns (no parent campaign). */
  independent?: boolean;
  q?: string;
}

/** Storage operations of the campaigns module; every read is scoped to one workspace. */
export interface CampaignStore {
  listCampaigns(
    workspaceId: string,
    q: string | undefined,
    offset: number,
    limit: number,
  ): Promise<{ rows: CampaignRow[]; total: number }>;
  findCampaign(workspaceId: string, id: string): Promise<CampaignRow | undefined>;
  insertCampaign(row: CampaignRow): Promise<void>;
  updateCampaign(
    workspaceId: string,
    id: string,
    changes: Partial<Pick<CampaignRow, 'name' | 'description' | 'updated_at'>>,
  ): Promise<void>;
  /** Deletes a campaign and its sub-campaigns. */
  deleteCampaign(workspaceId: string, id: string): Promise<void>;
  /** Sub-campaigns of several campaigns at once, keyed by campaign ID. */
  subCampaignsOf(campaignIds: string[]): Promise<Map<string, SubCampaignRow[]>>;
  listSubCampaigns(
    workspaceId: string,
    filter: SubCampaignFilter,
    offset: number,
    limit: number,
  ): Promise<{ rows: SubCampaignWithCampaign[]; total: number }>;
  findSubCampaign(workspaceId: string, id: string): Promise<SubCampaignWithCampaign | undefined>;
  insertSubCampaign(row: SubCampaignRow): Promise<void>;
  updateSubCampaign(
    workspaceId: string,
    id: string,
    changes: Partial<Pick<SubCampaignRow, 'name' | 'campaign_id' | 'updated_at'>>,
  ): Promise<void>;
  deleteSubCampaign(workspaceId: string, id: string): Promise<void>;
  /** How many tasks link to any of these sub-campaigns. */
  countLinkedTasks(subCampaignIds: string[]): Promise<number>;
  /** The tasks linked to a sub-campaign, newest first. */
  listLinkedTasks(
    subCampaignId: string,
    offset: number,
    limit: number,
  ): Promise<{ rows: Pick<TaskRow, 'id' | 'name' | 'status' | 'send_type' | 'created_at'>[]; total: number }>;
}

/** The campaign store over Kysely. */
export function createCampaignStore(db: Db): CampaignStore {
  const subCampaignsWithCampaign = () =>
    db
      .selectFrom('sub_campaigns')
      .leftJoin('campaigns', 'campaigns.id', 'sub_campaigns.campaign_id')
      .selectAll('sub_campaigns')
      .select('campaigns.name as campaign_name');

  return {
    async listCampaigns(workspaceId, q, offset, limit) {
      let query = db.selectFrom('campaigns').where('workspace_id', '=', workspaceId);
      if (q) query = query.where(containsText('name', q));
      const [rows, count] = await Promise.all([
        query
          .selectAll()
          .orderBy('created_at', 'desc')
          .orderBy('id', 'desc')
          .offset(offset)
          .limit(limit)
          .execute(),
        query.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow(),
      ]);
      return { rows, total: Number(count.n) };
    },
    findCampaign: (workspaceId, id) =>
      db
        .selectFrom('campaigns')
        .selectAll()
        .where('workspace_id', '=', workspaceId)
        .where('id', '=', id)
        .executeTakeFirst(),
    async insertCampaign(row) {
      await db.insertInto('campaigns').values(row).execute();
    },
    async updateCampaign(workspaceId, id, changes) {
      await db
        .updateTable('campaigns')
        .set(changes)
        .where('workspace_id', '=', workspaceId)
        .where('id', '=', id)
        .execute();
    },
    async deleteCampaign(workspaceId, id) {
      await db.transaction().execute(async (trx) => {
        await trx
          .deleteFrom('sub_campaigns')
          .where('workspace_id', '=', workspaceId)
          .where('campaign_id', '=', id)
          .execute();
        await trx
          .deleteFrom('campaigns')
          .where('workspace_id', '=', workspaceId)
          .where('id', '=', id)
          .execute();
      });
    },
    async subCampaignsOf(campaignIds) {
      const result = new Map<string, SubCampaignRow[]>();
      if (campaignIds.length === 0) return result;
      const rows = await db
        .selectFrom('sub_campaigns')
        .selectAll()
        .where('campaign_id', 'in', campaignIds)
        .orderBy('created_at')
        .orderBy('id')
        .execute();
      for (const row of rows) {
        const key = row.campaign_id as string;
        result.set(key, [...(result.get(key) ?? []), row]);
      }
      return result;
    },
    async listSubCampaigns(workspaceId, filter, offset, limit) {
      let query = subCampaignsWithCampaign().where('sub_campaigns.workspace_id', '=', workspaceId);
      if (filter.campaignId) query = query.where('sub_campaigns.campaign_id', '=', filter.campaignId);
      if (filter.independent) query = query.where('sub_campaigns.campaign_id', 'is', null);
      if (filter.q) query = query.where(containsText('sub_campaigns.name', filter.q));
      const [rows, count] = await Promise.all([
        query
          .orderBy('sub_campaigns.created_at', 'desc')
          .orderBy('sub_campaigns.id', 'desc')
          .offset(offset)
          .limit(limit)
          .execute(),
        query
          .clearSelect()
          .select((eb) => eb.fn.countAll<number>().as('n'))
          .executeTakeFirstOrThrow(),
      ]);
      return { rows, total: Number(count.n) };
    },
    findSubCampaign: (workspaceId, id) =>
      subCampaignsWithCampaign()
        .where('sub_campaigns.workspace_id', '=', workspaceId)
        .where('sub_campaigns.id', '=', id)
        .executeTakeFirst(),
    async insertSubCampaign(row) {
      await db.insertInto('sub_campaigns').values(row).execute();
    },
    async updateSubCampaign(workspaceId, id, changes) {
      await db
        .updateTable('sub_campaigns')
        .set(changes)
        .where('workspace_id', '=', workspaceId)
        .where('id', '=', id)
        .execute();
    },
    async deleteSubCampaign(workspaceId, id) {
      await db
        .deleteFrom('sub_campaigns')
        .where('workspace_id', '=', workspaceId)
        .where('id', '=', id)
        .execute();
    },
    async countLinkedTasks(subCampaignIds) {
      if (subCampaignIds.length === 0) return 0;
      const row = await db
        .selectFrom('task_sub_campaigns')
        .select((eb) => eb.fn.count<number>('task_id').distinct().as('n'))
        .where('sub_campaign_id', 'in', subCampaignIds)
        .executeTakeFirstOrThrow();
      return Number(row.n);
    },
    async listLinkedTasks(subCampaignId, offset, limit) {
      const base = db
        .selectFrom('task_sub_campaigns')
        .innerJoin('tasks', 'tasks.id', 'task_sub_campaigns.task_id')
        .where('task_sub_campaigns.sub_campaign_id', '=', subCampaignId);
      const [rows, count] = await Promise.all([
        base
          .select(['tasks.id', 'tasks.name', 'tasks.status', 'tasks.send_type', 'tasks.created_at'])
          .orderBy('tasks.created_at', 'desc')
          .orderBy('tasks.id', 'desc')
          .offset(offset)
          .limit(limit)
          .execute(),
        base.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow(),
      ]);
      return { rows, total: Number(count.n) };
    },
  };
}
