import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { api } from './api/client';
import { ConnectionView, RouteView, SourceView, useConnections, useRoutes, useSources } from './api/queries';
import type { paths } from './api/schema';
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

/** A route's form: new (which source's signals go to which connection), or `route` edited (sizing, symbol map, limits). */
export function RouteForm({
  sources,
  connections,
  route,
  onDone,
}: {
  sources: SourceView[];
  connections: ConnectionView[];
  route?: RouteView;
  onDone?: () => void;
}) {
  const queries = useQueryClient();
  const saved = () => {
    void queries.invalidateQueries({ queryKey: ['routes'] });
    onDone?.();
  };
  const create = useMutation({ mutationFn: (body: CreateRoute) => api<RouteView>('POST', '/v1/routes', body), onSuccess: saved });
  const update = useMutation({ mutationFn: (body: UpdateRoute) => api<RouteView>('PATCH', `/v1/routes/${route!.id}`, body), onSuccess: saved });
  const save = route ? update : create;
  if (!route && (sources.length === 0 || connections.length === 0)) return <p>A route needs a source and a connection first.</p>;
  const limit = (v: string | number | null | undefined) => (v === null || v === undefined ? '' : String(v));
  return (
    <form
      aria-label={route ? 'Edit route' : 'New route'}
      onSubmit={(event) => {
        event.preventDefault();
        const data = new FormData(event.currentTarget);
        const text = (name: string) => String(data.get(name) ?? '').trim();
        const limits = {
          maxQuantity: text('limits.maxQuantity') || undefined,
          maxNotional: text('limits.maxNotional') || undefined,
          maxOrdersPerMinute: text('limits.maxOrdersPerMinute') ? Number(text('limits.maxOrdersPerMinute')) : undefined,
        };
        const common = {
          sizing: { mode: text('sizing.mode') as SizingMode, value: text('sizing.value') },
          symbolMap: parseSymbolMap(text('symbolMap')),
          limits: Object.values(limits).some((v) => v !== undefined) ? limits : undefined,
          enabled: data.get('enabled') === 'on',
        };
        if (route) update.mutate(common);
        else create.mutate({ sourceId: text('sourceId'), connectionId: text('connectionId'), ...common });
      }}
    >
      {route ? (
        <h3>
          Edit the route {sources.find((s) => s.id === route.sourceId)?.name ?? route.sourceId} →{' '}
          {connections.find((c) => c.id === route.connectionId)?.label ?? route.connectionId}
        </h3>
      ) : (
        <>
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
        </>
      )}
      <label>
        Sizing mode
        <select name="sizing.mode" defaultValue={route?.sizing.mode ?? 'fixed'}>
          {SIZING.map((s) => (
            <option key={s.mode} value={s.mode}>
              {s.label}
            </option>
          ))}
        </select>
      </label>
      <Field label="Sizing value" name="sizing.value" defaultValue={route?.sizing.value ?? '1'} required inputMode="decimal" error={save.error} />
      <label>
        Symbol map (one per line: signal ticker=broker symbol)
        <textarea
          name="symbolMap"
          rows={2}
          placeholder="NASDAQ:AAPL=AAPL"
          defaultValue={
            route
              ? Object.entries(route.symbolMap)
                  .map(([from, to]) => `${from}=${to}`)
                  .join('\n')
              : ''
          }
        />
      </label>
      <Field label="Max quantity per order" name="limits.maxQuantity" inputMode="decimal" defaultValue={limit(route?.limits.maxQuantity)} error={save.error} />
      <Field label="Max notional per order" name="limits.maxNotional" inputMode="decimal" defaultValue={limit(route?.limits.maxNotional)} error={save.error} />
      <Field
        label="Max orders per minute"
        name="limits.maxOrdersPerMinute"
        inputMode="numeric"
        defaultValue={limit(route?.limits.maxOrdersPerMinute)}
        error={save.error}
      />
      <label>
        <input type="checkbox" name="enabled" defaultChecked={route?.enabled ?? true} /> Enabled
      </label>
      <button type="submit" disabled={save.isPending}>
        {route ? 'Save route' : 'Add route'}
      </button>
      {onDone && (
        <button type="button" onClick={onDone}>
          Cancel
        </button>
      )}
      <FormProblem error={save.error} fields={FIELDS.filter((f) => f !== 'symbolMap')} />
    </form>
  );
}

/** Routes: source → connection with sizing, symbol map and limits; enable or disable each. */
export function Routes({ canWrite }: { canWrite: boolean }) {
  const queries = useQueryClient();
  const { sources, connections } = useRouteInputs();
  const routes = useRoutes();
  const [editing, setEditing] = useState<RouteView | null>(null);
  const update = useMutation({
    mutationFn: ({ id, body }: { id: string; body: UpdateRoute }) => api<RouteView>('PATCH', `/v1/routes/${id}`, body),
    onSuccess: () => void queries.invalidateQueries({ queryKey: ['routes'] }),
  });
  const sourceName = (id: string) => sources.find((s) => s.id === id)?.name ?? id;
  const connectionLabel = (id: string) => connections.find((c) => c.id === id)?.label ?? `${id} (revoked)`;
  return (
    <section aria-labelledby="routes-heading">
      <h2 id="routes-heading">Routes</h2>
      {canWrite &&
        (editing ? (
          <RouteForm key={editing.id} sources={sources} connections={connections} route={editing} onDone={() => setEditing(null)} />
        ) : (
          <RouteForm sources={sources} connections={connections} />
        ))}
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
              <td>
                {Object.entries(r.symbolMap)
                  .map(([from, to]) => `${from} → ${to}`)
                  .join(', ') || 'as sent'}
              </td>
              <td>{limitsInWords(r.limits)}</td>
              <td>{r.enabled ? 'enabled' : 'disabled'}</td>
              {canWrite && (
                <td>
                  <button type="button" onClick={() => setEditing(r)}>
                    Edit route {sourceName(r.sourceId)} → {connectionLabel(r.connectionId)}
                  </button>{' '}
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
  const parts = [
    l.maxQuantity && `at most ${l.maxQuantity} per order`,
    l.maxNotional && `at most ${l.maxNotional} notional`,
    l.maxOrdersPerMinute && `${l.maxOrdersPerMinute} orders a minute`,
  ].filter(Boolean);
  return parts.join(', ') || 'workspace limits only';
}
