/**
 * The logged-in session: the bearer token (kept in localStorage), logging in and out, and the
 * rule that a 401 from any call ends the session and returns to the login page.
 */
import { useQueryClient } from '@tanstack/react-query';
import { createContext, type ReactNode, useCallback, useContext, useEffect, useMemo, useState } from 'react';
import { Navigate, useLocation, useNavigate } from 'react-router';
import { api } from '../../api/client.ts';
import { getToken, setToken, setUnauthorizedHandler } from '../../api/http.ts';

interface Session {
  token: string | null;
  /** Stores the token of a successful login. */
  signIn: (token: string) => void;
  /** Revokes the token on the server (best effort) and forgets it. */
  signOut: () => Promise<void>;
}

const SessionContext = createContext<Session | null>(null);

/** Where the console returns to after a login, kept in the login page's location state. */
export interface LoginState {
  from?: string;
  expired?: boolean;
}

export function SessionProvider({ children }: { children: ReactNode }) {
  const [token, setTokenState] = useState(getToken);
  const queryClient = useQueryClient();
  const navigate = useNavigate();
  const location = useLocation();

  const forget = useCallback(() => {
    setToken(null);
    setTokenState(null);
    queryClient.clear();
  }, [queryClient]);

  useEffect(() => {
    setUnauthorizedHandler(() => {
      if (!getToken()) return;
      forget();
      const state: LoginState = { from: location.pathname + location.search, expired: true };
      navigate('/login', { replace: true, state });
    });
  }, [forget, navigate, location]);

  const value = useMemo<Session>(
    () => ({
      token,
      signIn: (next) => {
        setToken(next);
        setTokenState(next);
      },
      signOut: async () => {
        try {
          await api.auth.logout();
        } catch {
          // The token may already be invalid; forgetting it is what matters.
        }
        forget();
        navigate('/login', { replace: true });
      },
    }),
    [token, forget, navigate],
  );
  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}

export function useSession(): Session {
  const session = useContext(SessionContext);
  if (!session) throw new Error('useSession needs a SessionProvider above it');
  return session;
}

/** Renders its children only when logged in; otherwise goes to the login page and back after. */
export function RequireSession({ children }: { children: ReactNode }) {
  const { token } = useSession();
  const location = useLocation();
  if (!token) {
    const state: LoginState = { from: location.pathname + location.search };
    return <Navigate to="/login" replace state={state} />;
  }
  return children;
}
