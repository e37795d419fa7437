import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { ReactNode, useState } from 'react';
import { Link } from 'wouter';
import { api, Page } from './api/client';
import { ConnectionView, IssuedSource, OrderView, SignalDetail, SignalView, useConnections, useRoutes, useSources } from './api/queries';
import { RouteForm } from './Routes';
import { Issued } from './Sources';
import { TestSignal } from './TestSignal';
import { abilities, Field, FormProblem } from './ui';
import type { Session } from './App';

const SETTLED = ['routed', 'partially_routed', 'blocked', 'failed'];

/** The first-run checklist: paper broker → source → route → test signal → the paper fill, each step done in place. */
export function Checklist({ role }: { role: Session['role'] }) {
  const can = abilities(role);
  const queries = useQueryClient();
  const [issued, setIssued] = useState<IssuedSource | null>(null);
  const [sentId, setSentId] = useState<string | null>(null);
  const connections = useConnections();
  const sources = useSources();
  const routes = useRoutes();
  const signals = useQuery({ queryKey: ['signals', 'latest'], queryFn: () => api<Page<SignalView>>('GET', '/v1/signals?limit=1') });
  const fills = useQuery({
    queryKey: ['orders', 'filled'],
    queryFn: () => api<Page<OrderView>>('GET', '/v1/orders?status=filled&limit=1'),
    // Until the first fill shows, ask every second (the worker fills a paper order in well under that).
    refetchInterval: (q) => (q.state.data?.items.length ? false : 1000),
  });
  const connect = useMutation({
    mutationFn: (label: string) => api<ConnectionView>('POST', '/v1/connections', { broker: 'paper', label, environment: 'paper', credentials: {} }),
    onSuccess: () => void queries.invalidateQueries({ queryKey: ['connections'] }),
  });
  const createSource = useMutation({
    mutationFn: (name: string) => api<IssuedSource>('POST', '/v1/sources', { name, auth: 'token', allowedIps: ['tradingview'] }),
    onSuccess: (source) => {
      setIssued(source);
      void queries.invalidateQueries({ queryKey: ['sources'] });
    },
  });

  const live = (connections.data?.items ?? []).filter((c) => c.status !== 'revoked');
  const sourceList = sources.data?.items ?? [];
  const steps = {
    broker: live.length > 0,
    source: sourceList.length > 0,
    route: (routes.data?.items.length ?? 0) > 0,
    signal: (signals.data?.items.length ?? 0) > 0 || sentId !== null,
    fill: (fills.data?.items.length ?? 0) > 0,
  };
  return (
    <section aria-labelledby="start-heading">
      <h2 id="start-heading">Start</h2>
      <p>
        {Object.values(steps).every(Boolean)
          ? 'Your workspace is set up: signals reach your broker.'
          : 'Five steps from an empty workspace to a paper fill. Paper is the default: no real order is placed until the owner turns live trading on.'}
      </p>
      <ol className="checklist">
        <Step done={steps.broker} title="Connect a broker">
          {can.admin && !steps.broker && (
            <form
              aria-label="Connect the paper broker"
              onSubmit={(event) => {
                event.preventDefault();
                connect.mutate(String(new FormData(event.currentTarget).get('label')));
              }}
            >
              <fieldset>
                <legend>Broker</legend>
                <label>
                  <input type="radio" name="broker" value="paper" defaultChecked /> Paper broker (simulated fills, no account needed)
                </label>
              </fieldset>
              <Field label="Label" name="label" defaultValue="Paper" required maxLength={200} error={connect.error} />
              <button type="submit" disabled={connect.isPending}>
                Connect the paper broker
              </button>
              <FormProblem error={connect.error} fields={['label']} />
              <p>
                A real broker (its paper account first)? Add it on <Link href="/connections">Connections</Link>.
              </p>
            </form>
          )}
          {steps.broker && <p>{live.map((c) => `${c.label} (${c.broker}, ${c.environment})`).join(', ')}</p>}
        </Step>
        <Step done={steps.source} title="Create a source">
          {issued && <Issued source={issued} onDismiss={() => setIssued(null)} />}
          {can.admin && steps.broker && !steps.source && (
            <form
              aria-label="Create a source"
              onSubmit={(event) => {
                event.preventDefault();
                createSource.mutate(String(new FormData(event.currentTarget).get('name')));
              }}
            >
              <Field label="Source name" name="name" defaultValue="TradingView strategy" required maxLength={200} error={createSource.error} />
              <p>
                A TradingView webhook (token in the URL, TradingView's sender addresses only). For signed webhooks, use <Link href="/sources">Sources</Link>.
              </p>
              <button type="submit" disabled={createSource.isPending}>
                Create source
              </button>
              <FormProblem error={createSource.error} fields={['name']} />
            </form>
          )}
          {steps.source && !issued && <p>{sourceList.map((s) => s.name).join(', ')}</p>}
        </Step>
        <Step done={steps.route} title="Add a route">
          {can.admin && steps.source && steps.broker && !steps.route && <RouteForm sources={sourceList} connections={live} />}
        </Step>
        <Step done={steps.signal} title="Send a test signal">
          {can.trade && steps.route && <TestSignal sources={sourceList} onSent={(a) => setSentId(a.signalId)} />}
        </Step>
        <Step done={steps.fill} title="See the paper fill">
          {sentId && <SignalOutcome id={sentId} />}
          {steps.fill && !sentId && <p>{fillInWords(fills.data!.items[0])}</p>}
          {steps.signal && (
            <p>
              Every signal and its orders: <Link href="/activity">Activity</Link>.
            </p>
          )}
        </Step>
      </ol>
    </section>
  );
}

function Step({ done, title, children }: { done: boolean; title: string; children: ReactNode }) {
  return (
    <li>
      <h3>
        {title} <span className={done ? 'done' : undefined}>{done ? '(done)' : '(to do)'}</span>
      </h3>
      {children}
    </li>
  );
}

/** The test signal's fate, polled until routing settles and its orders stop moving. */
function SignalOutcome({ id }: { id: string }) {
  const signal = useQuery({
    queryKey: ['signal', id],
    queryFn: () => api<SignalDetail>('GET', `/v1/signals/${id}`),
    refetchInterval: (q) =>
      q.state.data && SETTLED.includes(q.state.data.status) && q.state.data.orders.every((o) => !['pending', 'submitted', 'accepted'].includes(o.status))
        ? false
        : 500,
  });
  const s = signal.data;
  if (!s) return <p role="status">Waiting for the test signal…</p>;
  return (
    <div role="status" data-testid="test-outcome">
      <p>
        Test signal {s.status}
        {s.error ? `: ${s.error}` : ''}.
      </p>
      <ul>
        {s.orders.map((o) => (
          <li key={o.id}>{fillInWords(o)}</li>
        ))}
      </ul>
    </div>
  );
}

export function fillInWords(o: OrderView): string {
  const what = `${o.side ?? o.intent} ${o.quantity ?? ''} ${o.symbol}`.replace(/\s+/g, ' ');
  if (o.status === 'filled') return `${what}: filled ${o.filledQuantity} at ${o.averagePrice} on ${o.broker}.`;
  return `${what}: ${o.status}${o.reason ? ` (${o.reason})` : ''}.`;
}
