/**
 * Campaigns and sub-campaigns. A sub-campaign belongs to a campaign or is independent; tasks link
 * to sub-campaigns, so a sub-campaign (or a campaign whose sub-campaigns) used by a task cannot be
 * deleted.
 */
import { Type } from 'typebox';
import { AppError } from '../errors.ts';
import type { Api, RouteDeps } from '../http/route-deps.ts';
import { authErrors, Name, PageOf, PageQuery } from '../http/schemas.ts';
import { newId } from '../ids.ts';
import type { CampaignRow, SubCampaignRow } from '../storage/database.ts';
import {
  CampaignParams,
  CampaignSchema,
  Description,
  LinkedTaskSchema,
  SubCampaignParams,
  SubCampaignSchema,
} from './campaign-schemas.ts';
import type { SubCampaignWithCampaign } from './campaign-store.ts';

const tags = ['campaigns'];

function campaignView(row: CampaignRow, subCampaigns: SubCampaignRow[]) {
  return {
    id: row.id,
    name: row.name,
    description: row.description,
    subCampaigns: subCampaigns.map((s) => ({ id: s.id, name: s.name })),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

function subCampaignView(row: SubCampaignWithCampaign) {
  return {
    id: row.id,
    name: row.name,
    campaignId: row.campaign_id,
    campaignName: row.campaign_name,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

/** Registers the campaign and sub-campaign routes (under a workspace). */
export function registerCampaignRoutes(app: Api, deps: RouteDeps): void {
  const store = deps.stores.campaigns;

  async function getCampaign(workspaceId: string, id: string): Promise<CampaignRow> {
    const row = await store.findCampaign(workspaceId, id);
    if (!row) throw new AppError('CAMPAIGN_NOT_FOUND', `Campaign ${id} does not exist in this workspace.`);
    return row;
  }

  app.get(
    '/campaigns',
    {
      schema: {
        tags,
        summary: 'Campaigns with their sub-campaigns, newest first.',
        querystring: Type.Object({ ...PageQuery, q: Type.Optional(Type.String({ maxLength: 200 })) }),
        response: { 200: PageOf(CampaignSchema), ...authErrors },
      },
    },
    async (request) => {
      const { page, pageSize, q } = request.query;
      const { rows, total } = await store.listCampaigns(
        request.workspace.id,
        q,
        (page - 1) * pageSize,
        pageSize,
      );
      const subs = await store.subCampaignsOf(rows.map((r) => r.id));
      return { items: rows.map((r) => campaignView(r, subs.get(r.id) ?? [])), total, page, pageSize };
    },
  );

  app.post(
    '/campaigns',
    {
      schema: {
        tags,
        summary: 'Create a campaign.',
        body: Type.Object(
          { name: Name, description: Type.Optional(Description) },
          { additionalProperties: false },
        ),
        response: { 201: CampaignSchema, ...authErrors },
      },
    },
    async (request, reply) => {
      const now = deps.clock().toISOString();
      const row: CampaignRow = {
        id: newId('cmp'),
        workspace_id: request.workspace.id,
        name: request.body.name.trim(),
        description: request.body.description ?? '',
        created_at: now,
        updated_at: now,
      };
      await store.insertCampaign(row);
      return reply.status(201).send(campaignView(row, []));
    },
  );

  app.get(
    '/campaigns/:campaignId',
    {
      schema: {
        tags,
        summary: 'One campaign.',
        params: CampaignParams,
        response: { 200: CampaignSchema, ...authErrors },
      },
    },
    async (request) => {
      const row = await getCampaign(request.workspace.id, request.params.campaignId);
      return campaignView(row, (await store.subCampaignsOf([row.id])).get(row.id) ?? []);
    },
  );

  app.patch(
    '/campaigns/:campaignId',
    {
      schema: {
        tags,
        summary: 'Rename or describe a campaign.',
        params: CampaignParams,
        body: Type.Object(
          { name: Type.Optional(Name), description: Type.Optional(Description) },
          { additionalProperties: false },
        ),
        response: { 200: CampaignSchema, ...authErrors },
      },
    },
    async (request) => {
      const { workspace } = request;
      await getCampaign(workspace.id, request.params.campaignId);
      await store.updateCampaign(workspace.id, request.params.campaignId, {
        ...(request.body.name !== undefined && { name: request.body.name.trim() }),
        ...(request.body.description !== undefined && { description: request.body.description }),
        updated_at: deps.clock().toISOString(),
      });
      const row = await getCampaign(workspace.id, request.params.campaignId);
      return campaignView(row, (await store.subCampaignsOf([row.id])).get(row.id) ?? []);
    },
  );

  app.delete(
    '/campaigns/:campaignId',
    {
      schema: {
        tags,
        summary: 'Delete a campaign and its sub-campaigns; refused while a task links to one of them.',
        params: CampaignParams,
        response: { 204: Type.Null(), 409: Type.Ref('ErrorEnvelope'), ...authErrors },
      },
    },
    async (request, reply) => {
      const row = await getCampaign(request.workspace.id, request.params.campaignId);
      const subIds = ((await store.subCampaignsOf([row.id])).get(row.id) ?? []).map((s) => s.id);
      const linked = await store.countLinkedTasks(subIds);
      if (linked > 0) {
        throw new AppError(
          'CAMPAIGN_IN_USE',
          `${linked} task(s) link to this campaign's sub-campaigns; unlink them first.`,
          { tasks: linked },
        );
      }
      await store.deleteCampaign(request.workspace.id, row.id);
      return reply.status(204).send(null);
    },
  );

  app.get(
    '/campaigns/:campaignId/sub-campaigns',
    {
      schema: {
        tags,
        summary: 'Sub-campaigns of one campaign.',
        params: CampaignParams,
        querystring: Type.Object(PageQuery),
        response: { 200: PageOf(SubCampaignSchema), ...authErrors },
      },
    },
    async (request) => {
      await getCampaign(request.workspace.id, request.params.campaignId);
      const { page, pageSize } = request.query;
      const { rows, total } = await store.listSubCampaigns(
        request.workspace.id,
        { campaignId: request.params.campaignId },
        (page - 1) * pageSize,
        pageSize,
      );
      return { items: rows.map(subCampaignView), total, page, pageSize };
    },
  );

  async function createSubCampaign(workspaceId: string, campaignId: string | null, name: string) {
    const now = deps.clock().toISOString();
    const row: SubCampaignRow = {
      id: newId('sub'),
      workspace_id: workspaceId,
      campaign_id: campaignId,
      name: name.trim(),
      created_at: now,
      updated_at: now,
    };
    await store.insertSubCampaign(row);
    return subCampaignView((await store.findSubCampaign(workspaceId, row.id))!);
  }

  app.post(
    '/campaigns/:campaignId/sub-campaigns',
    {
      schema: {
        tags,
        summary: 'Create a sub-campaign inside a campaign.',
        params: CampaignParams,
        body: Type.Object({ name: Name }, { additionalProperties: false }),
        response: { 201: SubCampaignSchema, ...authErrors },
      },
    },
    async (request, reply) => {
      await getCampaign(request.workspace.id, request.params.campaignId);
      return reply
        .status(201)
        .send(await createSubCampaign(request.workspace.id, request.params.campaignId, request.body.name));
    },
  );

  app.get(
    '/sub-campaigns',
    {
      schema: {
        tags,
        summary: 'All sub-campaigns; `independent=true` lists only those without a campaign.',
        querystring: Type.Object({
          ...PageQuery,
          campaignId: Type.Optional(Type.String()),
          independent: Type.Optional(Type.Boolean()),
          q: Type.Optional(Type.String({ maxLength: 200 })),
        }),
        response: { 200: PageOf(SubCampaignSchema), ...authErrors },
      },
    },
    async (request) => {
      const { page, pageSize, campaignId, independent, q } = request.query;
      const { rows, total } = await store.listSubCampaigns(
        request.workspace.id,
        { campaignId, independent, q },
        (page - 1) * pageSize,
        pageSize,
      );
      return { items: rows.map(subCampaignView), total, page, pageSize };
    },
  );

  app.post(
    '/sub-campaigns',
    {
      schema: {
        tags,
        summary: 'Create a sub-campaign; without `campaignId` it is independent.',
        body: Type.Object(
          { name: Name, campaignId: Type.Optional(Type.Union([Type.String(), Type.Null()])) },
          { additionalProperties: false },
        ),
        response: { 201: SubCampaignSchema, ...authErrors },
      },
    },
    async (request, reply) => {
      const campaignId = request.body.campaignId ?? null;
      if (campaignId) await getCampaign(request.workspace.id, campaignId);
      return reply
        .status(201)
        .send(await createSubCampaign(request.workspace.id, campaignId, request.body.name));
    },
  );

  async function getSubCampaign(workspaceId: string, id: string) {
    const row = await store.findSubCampaign(workspaceId, id);
    if (!row)
      throw new AppError('SUB_CAMPAIGN_NOT_FOUND', `Sub-campaign ${id} does not exist in this workspace.`);
    return row;
  }

  app.get(
    '/sub-campaigns/:subCampaignId',
    {
      schema: {
        tags,
        summary: 'One sub-campaign.',
        params: SubCampaignParams,
        response: { 200: SubCampaignSchema, ...authErrors },
      },
    },
    async (request) =>
      subCampaignView(await getSubCampaign(request.workspace.id, request.params.subCampaignId)),
  );

  app.patch(
    '/sub-campaigns/:subCampaignId',
    {
      schema: {
        tags,
        summary: 'Rename a sub-campaign or move it to another campaign (null makes it independent).',
        params: SubCampaignParams,
        body: Type.Object(
          { name: Type.Optional(Name), campaignId: Type.Optional(Type.Union([Type.String(), Type.Null()])) },
          { additionalProperties: false },
        ),
        response: { 200: SubCampaignSchema, ...authErrors },
      },
    },
    async (request) => {
      const { workspace, body } = request;
      await getSubCampaign(workspace.id, request.params.subCampaignId);
      if (body.campaignId) await getCampaign(workspace.id, body.campaignId);
      await store.updateSubCampaign(workspace.id, request.params.subCampaignId, {
        ...(body.name !== undefined && { name: body.name.trim() }),
        ...(body.campaignId !== undefined && { campaign_id: body.campaignId }),
        updated_at: deps.clock().toISOString(),
      });
      return subCampaignView(await getSubCampaign(workspace.id, request.params.subCampaignId));
    },
  );

  app.delete(
    '/sub-campaigns/:subCampaignId',
    {
      schema: {
        tags,
        summary: 'Delete a sub-campaign; refused while a task links to it.',
        params: SubCampaignParams,
        response: { 204: Type.Null(), 409: Type.Ref('ErrorEnvelope'), ...authErrors },
      },
    },
    async (request, reply) => {
      const row = await getSubCampaign(request.workspace.id, request.params.subCampaignId);
      const linked = await store.countLinkedTasks([row.id]);
      if (linked > 0) {
        throw new AppError(
          'SUB_CAMPAIGN_IN_USE',
          `${linked} task(s) link to this sub-campaign; unlink them first.`,
          { tasks: linked },
        );
      }
      await store.deleteSubCampaign(request.workspace.id, row.id);
      return reply.status(204).send(null);
    },
  );

  app.get(
    '/sub-campaigns/:subCampaignId/tasks',
    {
      schema: {
        tags,
        summary: 'The tasks linked to a sub-campaign, newest first.',
        params: SubCampaignParams,
        querystring: Type.Object(PageQuery),
        response: { 200: PageOf(LinkedTaskSchema), ...authErrors },
      },
    },
    async (request) => {
      const row = await getSubCampaign(request.workspace.id, request.params.subCampaignId);
      const { page, pageSize } = request.query;
      const { rows, total } = await store.listLinkedTasks(row.id, (page - 1) * pageSize, pageSize);
      return {
        items: rows.map((t) => ({
          id: t.id,
          name: t.name,
          status: t.status,
          sendType: t.send_type,
          createdAt: t.created_at,
        })),
        total,
        page,
        pageSize,
      };
    },
  );
}
