import { useMutation, useQueryClient } from '@tanstack/react-query';
import { api } from './api/client';
import { useConnections, useRoutes, useSources } from './api/queries';
import type { paths } from './api/schema';
import type { ConnectionView, RouteView, SourceView } from './api/views';
import { Field, FormProblem, Table } from './ui';

type CreateRoute = paths['/v1/routes']['post']['requestBody']['content']['application/json'];
type UpdateRoute = paths['/v1/routes/{id}']['patch']['requestBody']['content']['application/json'];
type SizingMode = CreateRoute['sizing']['mode'];

const SIZING: Array<{ mode: SizingMode; label: string }> = [
  { mode: 'fixed', label: 'Fixed quantity per order' },
  { mode: 'multiplier', label: "Multiplier of the signal's quantity" },
  { mode: 'notional', label: 'Notional (amount of money per order)' },
  { mode: 'percent_equity', label: 'Percent of account equity' },
];
const FIELDS = ['sourceId', 'connectionId', 'sizing', 'symbolMap', 'limits', 'enabled'];

export function useRouteInputs() {
  const sources = useSources();
  const connections = useConnections();
  return { sources: sources.data?.items ?? [], connections: (connections.data?.items ?? []).filter((c) => c.status !== 'revoked') };
}

/** "TV:SYMBOL=BROKERSYMBOL" lines into the route's symbol map; blank lines are skipped. */
function parseSymbolMap(text: string): Record<string, string> {
  return Object.fromEntries(
    text
      .split('\n')
      .map((line) => line.split('=').map((part) => part.trim()))
      .filter((parts) => parts[0])
      .map(([from, to]) => [from, to ?? '']),
  );
}

/** A new route: which source's signals go to which connection, sized how, within which limits. */
export function RouteForm({ sources, connections }: { sources: SourceView[]; connections: ConnectionView[] }) {
  const queries = useQueryClient();
  const create = useMutation({ mutationFn: (body: CreateRoute) => api<RouteView>('POST', '/v1/routes', body), onSuccess: () => void queries.invalidateQueries({ queryKey: ['routes'] }) });
  if (sources.length === 0 || connections.length === 0) return <p>A route needs a source and a connection first.</p>;
  return (
    <form
      aria-label="New route"
      onSubmit={(event) => {
        event.preventDefault();
        const data = new FormData(event.currentTarget);
        const text = (name: string) => String(data.get(name) ?? '').trim();
        const limits = { maxQuantity: text('limits.maxQuantity') || undefined, maxNotional: text('limits.maxNotional') || undefined, maxOrdersPerMinute: text('limits.maxOrdersPerMinute') ? Number(text('limits.maxOrdersPerMinute')) : undefined };
        create.mutate({
          sourceId: text('sourceId'),
          connectionId: text('connectionId'),
          sizing: { mode: text('sizing.mode') as SizingMode, value: text('sizing.value') },
          symbolMap: parseSymbolMap(text('symbolMap')),
          limits: Object.values(limits).some((v) => v !== undefined) ? limits : undefined,
          enabled: data.get('enabled') === 'on',
        });
      }}
    >
      <label>
        From source
        <select name="sourceId" defaultValue={sources[0].id}>
          {sources.map((s) => (
            <option key={s.id} value={s.id}>
              {s.name}
            </option>
          ))}
        </select>
      </label>
      <label>
        To connection
        <select name="connectionId" defaultValue={connections[0].id}>
          {connections.map((c) => (
            <option key={c.id} value={c.id}>
              {c.label} ({c.broker}, {c.environment})
            </option>
          ))}
        </select>
      </label>
      <label>
        Sizing mode
        <select name="sizing.mode" defaultValue="fixed">
          {SIZING.map((s) => (
            <option key={s.mode} value={s.mode}>
              {s.label}
            </option>
          ))}
        </select>
      </label>
      <Field label="Sizing value" name="sizing.value" defaultValue="1" required inputMode="decimal" error={create.error} />
      <label>
        Symbol map (one per line: signal ticker=broker symbol)
        <textarea name="symbolMap" rows={2} placeholder="NASDAQ:AAPL=AAPL" />
      </label>
      <Field label="Max quantity per order" name="limits.maxQuantity" inputMode="decimal" error={create.error} />
      <Field label="Max notional per order" name="limits.maxNotional" inputMode="decimal" error={create.error} />
      <Field label="Max orders per minute" name="limits.maxOrdersPerMinute" inputMode="numeric" error={create.error} />
      <label>
        <input type="checkbox" name="enabled" defaultChecked /> Enabled
      </label>
      <button type="submit" disabled={create.isPending}>
        Add route
      </button>
      <FormProblem error={create.error} fields={FIELDS.filter((f) => f !== 'symbolMap')} />
    </form>
  );
}

/** Routes: source → connection with sizing, symbol map and limits; enable or disable each. */
export function Routes({ canWrite }: { canWrite: boolean }) {
  const queries = useQueryClient();
  const { sources, connections } = useRouteInputs();
  const routes = useRoutes();
  const update = useMutation({
    mutationFn: ({ id, body }: { id: string; body: UpdateRoute }) => api<RouteView>('PATCH', `/v1/routes/${id}`, body),
    onSuccess: () => void queries.invalidateQueries({ queryKey: ['routes'] }),
  });
  const sourceName = (id: string) => sources.find((s) => s.id === id)?.name ?? id;
  const connectionLabel = (id: string) => connections.find((c) => c.id === id)?.label ?? `${id} (revoked)`;
  return (
    <section aria-labelledby="routes-heading">
      <h2 id="routes-heading">Routes</h2>
      {canWrite && <RouteForm sources={sources} connections={connections} />}
      <Table caption="Routes in this workspace">
        <thead>
          <tr>
            <th scope="col">Source</th>
            <th scope="col">Connection</th>
            <th scope="col">Sizing</th>
            <th scope="col">Symbol map</th>
            <th scope="col">Limits</th>
            <th scope="col">State</th>
            {canWrite && <th scope="col">Actions</th>}
          </tr>
        </thead>
        <tbody>
          {routes.data?.items.map((r) => (
            <tr key={r.id}>
              <td>{sourceName(r.sourceId)}</td>
              <td>{connectionLabel(r.connectionId)}</td>
              <td>
                {SIZING.find((s) => s.mode === r.sizing.mode)?.label ?? r.sizing.mode}: {r.sizing.value}
              </td>
              <td>{Object.entries(r.symbolMap).map(([from, to]) => `${from} → ${to}`).join(', ') || 'as sent'}</td>
              <td>{limitsInWords(r.limits)}</td>
              <td>{r.enabled ? 'enabled' : 'disabled'}</td>
              {canWrite && (
                <td>
                  <button type="button" disabled={update.isPending} onClick={() => update.mutate({ id: r.id, body: { enabled: !r.enabled } })}>
                    {r.enabled ? 'Disable' : 'Enable'} route {sourceName(r.sourceId)} → {connectionLabel(r.connectionId)}
                  </button>
                </td>
              )}
            </tr>
          ))}
        </tbody>
      </Table>
      {update.isError && <p role="alert">{update.error.message}</p>}
    </section>
  );
}

function limitsInWords(l: RouteView['limits']): string {
  const parts = [l.maxQuantity && `at most ${l.maxQuantity} per order`, l.maxNotional && `at most ${l.maxNotional} notional`, l.maxOrdersPerMinute && `${l.maxOrdersPerMinute} orders a minute`].filter(Boolean);
  return parts.join(', ') || 'workspace limits only';
}
