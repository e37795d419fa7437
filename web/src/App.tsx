import { useQuery } from '@tanstack/react-query';
import { api } from './api/client';

type Health = { status: string };

/** The console shell; sign-in and the screens arrive in later slices. */
export function App() {
  const health = useQuery({ queryKey: ['healthz'], queryFn: () => api<Health>('GET', '/healthz') });
  return (
    <main>
      <header>
        <h1>Switchyard Console</h1>
      </header>
      <section aria-labelledby="status-heading">
        <h2 id="status-heading">Service</h2>
        <p data-testid="health">{health.isPending ? 'Checking…' : health.isError ? 'The api is not reachable.' : `API ${health.data.status}`}</p>
      </section>
    </main>
  );
}
