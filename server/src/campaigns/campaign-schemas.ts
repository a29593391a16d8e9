/**
 * The shapes of the campaign routes as TypeBox schemas: the routes validate and serialise with them,
 * and the console takes its types from them (`web/src/api/types.ts`, type-only imports).
 */
import { Type } from 'typebox';

/** A campaign's free-text description. */
export const Description = Type.String({ maxLength: 2000 });
/** A sub-campaign as its campaign lists it. */
export const SubCampaignRef = Type.Object({ id: Type.String(), name: Type.String() });
/** A campaign with its sub-campaigns. */
export const CampaignSchema = Type.Object({
  id: Type.String(),
  name: Type.String(),
  description: Type.String(),
  subCampaigns: Type.Array(SubCampaignRef),
  createdAt: Type.String(),
  updatedAt: Type.String(),
});
/** A sub-campaign with the campaign it belongs to, if any. */
export const SubCampaignSchema = Type.Object({
  id: Type.String(),
  name: Type.String(),
  campaignId: Type.Union([Type.String(), Type.Null()], {
    description: 'Null for an independent sub-campaign.',
  }),
  campaignName: Type.Union([Type.String(), Type.Null()]),
  createdAt: Type.String(),
  updatedAt: Type.String(),
});
/** A task that serves a sub-campaign. */
export const LinkedTaskSchema = Type.Object({
  id: Type.String(),
  name: Type.String(),
  status: Type.String(),
  sendType: Type.String(),
  createdAt: Type.String(),
});
/** The path parameters of one campaign's routes. */
export const CampaignParams = Type.Object({ workspaceId: Type.String(), campaignId: Type.String() });
/** The path parameters of one sub-campaign's routes. */
export const SubCampaignParams = Type.Object({ workspaceId: Type.String(), subCampaignId: Type.String() });
