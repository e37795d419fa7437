import { useQuery } from '@tanstack/react-query';
import { ApiProblem, api } from './api/client';
import { Connections } from './Connections';
import { Risk } from './Risk';
import { SignIn } from './SignIn';
import { SignOut } from './SignOut';
import { Sources } from './Sources';

export type Session = { workspaceId: string; memberId: string; role: 'viewer' | 'trader' | 'admin' | 'owner' };
type Health = { status: string };

/** The console shell: sign-in until a session exists, then the workspace (screens arrive in later slices). */
export function App() {
  const health = useQuery({ queryKey: ['healthz'], queryFn: () => api<Health>('GET', '/healthz') });
  const session = useQuery({
    queryKey: ['session'],
    // No session is an answer, not an error: the sign-in form shows.
    queryFn: () => api<Session>('GET', '/v1/auth/session').catch((err) => (err instanceof ApiProblem && err.status === 401 ? null : Promise.reject(err))),
  });
  return (
    <main>
      <header>
        <h1>Switchyard Console</h1>
        {session.data && <SignOut />}
      </header>
      <p data-testid="health">{health.isPending ? 'Checking…' : health.isError ? 'The api is not reachable.' : `API ${health.data.status}`}</p>
      {session.isPending ? null : session.data ? (
        <section aria-labelledby="ws-heading">
          <h2 id="ws-heading">Workspace</h2>
          <p data-testid="who">
            Signed in as {session.data.role} in workspace {session.data.workspaceId}
          </p>
          <Risk role={session.data.role} />
          <Connections canWrite={session.data.role === 'admin' || session.data.role === 'owner'} />
          <Sources canWrite={session.data.role === 'admin' || session.data.role === 'owner'} />
        </section>
      ) : (
        <SignIn />
      )}
    </main>
  );
}
