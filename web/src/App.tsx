import { useQuery } from '@tanstack/react-query';
import { Route, Switch } from 'wouter';
import { Answer, ApiProblem, api } from './api/client';
import { Platform } from './Platform';
import { Shell } from './Shell';
import { SignIn } from './SignIn';

export type Session = Answer<'/v1/auth/session', 'get'>;
type Health = { status: string };

/** The console: the platform on-call's under /platform; otherwise a member's sign-in until a session exists, then the workspace's screens. */
export function App() {
  return (
    <Switch>
      <Route path="/platform" nest>
        <Platform />
      </Route>
      <Route>
        <WorkspaceConsole />
      </Route>
    </Switch>
  );
}

function WorkspaceConsole() {
  const health = useQuery({ queryKey: ['healthz'], queryFn: () => api<Health>('GET', '/healthz') });
  const session = useQuery({
    queryKey: ['session'],
    // No session is an answer, not an error: the sign-in form shows.
    queryFn: () => api<Session>('GET', '/v1/auth/session').catch((err) => (err instanceof ApiProblem && err.status === 401 ? null : Promise.reject(err))),
  });
  const status = <p data-testid="health">{health.isPending ? 'Checking…' : health.isError ? 'The api is not reachable.' : `API ${health.data.status}`}</p>;
  if (session.isPending) return null;
  return session.data ? (
    <Shell session={session.data} status={status} />
  ) : (
    <main id="content">
      <header className="top">
        <h1>Switchyard Console</h1>
      </header>
      {status}
      <SignIn />
    </main>
  );
}
