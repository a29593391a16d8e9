/**
 * The workspace the console is looking at: its ID comes from the URL (`/w/:workspaceId/…`) so
 * every page can be linked to, and the caller's role in it decides which actions are offered.
 */
import { useQuery } from '@tanstack/react-query';
import { useParams } from 'react-router';
import { api } from '../../api/client.ts';
import type { Role, Workspace } from '../../api/types.ts';

const LAST_WORKSPACE_KEY = 'pushboard.workspace';

/** The workspace shown last, to open it again after a login. */
export function lastWorkspaceId(): string | null {
  return localStorage.getItem(LAST_WORKSPACE_KEY);
}

export function rememberWorkspace(id: string): void {
  localStorage.setItem(LAST_WORKSPACE_KEY, id);
}

/** The caller's workspaces (cached for the session). */
export function useWorkspaces() {
  return useQuery({ queryKey: ['workspaces'], queryFn: api.workspaces.list, staleTime: 60_000 });
}

/** The current workspace, the caller's role in it and what that role may do. */
export interface CurrentWorkspace {
  id: string;
  workspace: Workspace | undefined;
  role: Role | undefined;
  /** Operators and owners create, edit and send; viewers only read. */
  canWrite: boolean;
  isOwner: boolean;
}

export function useCurrentWorkspace(): CurrentWorkspace {
  const { workspaceId = '' } = useParams();
  const { data } = useWorkspaces();
  const workspace = data?.items.find((w) => w.id === workspaceId);
  const role = workspace?.role;
  return {
    id: workspaceId,
    workspace,
    role,
    canWrite: role === 'owner' || role === 'operator',
    isOwner: role === 'owner',
  };
}
