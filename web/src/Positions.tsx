import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect, useState } from 'react';
import { Answer, api } from './api/client';
import { ConnectionView, useConnections, usePositions } from './api/queries';
import { Field, FormProblem, Table, when } from './ui';

type FlattenRequested = Answer<'/v1/flatten', 'post'>;
type FlattenView = Answer<'/v1/flattens/{id}', 'get'>;

const FLATTEN_POLL_MS = 1000;

/** "long 2" / "short 3" / "flat": the api's signed quantity in words. */
export function side(quantity: string): string {
  if (quantity.startsWith('-')) return `short ${quantity.slice(1)}`;
  return Number(quantity) === 0 ? 'flat' : `long ${quantity}`;
}

/**
 * Open positions per active connection and symbol, as the broker holds them (the worker's snapshot: the api never
 * calls a broker), and flatten — cancel open orders and close positions — per connection or everywhere (traders and up).
 */
export function Positions({ canFlatten }: { canFlatten: boolean }) {
  const list = useConnections();
  const [flattenId, setFlattenId] = useState<string | null>(null);
  const active = (list.data?.items ?? []).filter((c) => c.status === 'active');
  return (
    <section aria-labelledby="positions-heading">
      <h2 id="positions-heading">Positions</h2>
      <p>What each active connection holds at its broker, refreshed every minute. Flatten cancels its open orders and closes its positions.</p>
      {list.isError && <p role="alert">{list.error.message}</p>}
      {list.isSuccess && active.length === 0 && <p>No active connection.</p>}
      {flattenId && <FlattenProgress id={flattenId} connections={list.data?.items ?? []} onDone={() => setFlattenId(null)} />}
      {canFlatten && active.length > 0 && (
        <FlattenForm
          path="/v1/flatten"
          what="every connection"
          confirm="Flatten every active connection? Their open orders are canceled and their positions closed at market."
          onStarted={setFlattenId}
        />
      )}
      {active.map((c) => (
        <ConnectionPositions key={c.id} connection={c} canFlatten={canFlatten} onFlatten={setFlattenId} />
      ))}
      {active.length > 0 && !canFlatten && <p>Only traders, admins and owners may flatten.</p>}
    </section>
  );
}

function ConnectionPositions({ connection: c, canFlatten, onFlatten }: { connection: ConnectionView; canFlatten: boolean; onFlatten: (id: string) => void }) {
  const positions = usePositions(c.id);
  const held = positions.data?.positions ?? [];
  return (
    <article className="card" aria-labelledby={`positions-${c.id}`}>
      <h3 id={`positions-${c.id}`}>
        {c.label} ({c.broker}, {c.environment})
      </h3>
      {positions.isPending && <p>Reading the broker…</p>}
      {positions.isError && <p role="alert">{positions.error.message}</p>}
      {positions.data && (
        <p data-testid={`snapshot-${c.label}`} className={positions.data.stale ? 'engaged' : undefined}>
          {positions.data.stale
            ? `Stale: the broker could not be read just now${positions.data.error ? ` (${positions.data.error})` : ''}; this is its state at ${when(positions.data.fetchedAt)}.`
            : `As of ${when(positions.data.fetchedAt)}.`}
        </p>
      )}
      {positions.isSuccess && held.length === 0 && <p>No open position.</p>}
      {held.length > 0 && (
        <Table caption={`Open positions of ${c.label}`}>
          <thead>
            <tr>
              <th scope="col">Symbol</th>
              <th scope="col">Position</th>
              <th scope="col">Average price</th>
              <th scope="col">Market value</th>
              <th scope="col">Unrealized P&amp;L</th>
            </tr>
          </thead>
          <tbody>
            {held.map((p) => (
              <tr key={p.symbol}>
                <td>{p.symbol}</td>
                <td>{side(p.quantity)}</td>
                <td>{p.averagePrice ?? '—'}</td>
                <td>{p.marketValue ?? '—'}</td>
                <td>{p.unrealizedPnl ?? 'not reported by the broker'}</td>
              </tr>
            ))}
          </tbody>
        </Table>
      )}
      {canFlatten && (
        <FlattenForm
          path={`/v1/connections/${c.id}/flatten`}
          what={c.label}
          confirm={`Flatten ${c.label}? Its open orders are canceled and its positions closed at market.`}
          onStarted={onFlatten}
        />
      )}
    </article>
  );
}

function FlattenForm({ path, what, confirm, onStarted }: { path: string; what: string; confirm: string; onStarted: (id: string) => void }) {
  const flatten = useMutation({
    mutationFn: (reason: string) => api<FlattenRequested>('POST', path, { reason }),
    onSuccess: (f) => onStarted(f.id),
  });
  return (
    <form
      aria-label={`Flatten ${what}`}
      onSubmit={(event) => {
        event.preventDefault();
        const form = event.currentTarget;
        if (!window.confirm(confirm)) return;
        flatten.mutate(String(new FormData(form).get('reason')), { onSuccess: () => form.reset() });
      }}
    >
      <Field label={`Why flatten ${what}`} name="reason" required maxLength={500} autoComplete="off" error={flatten.error} />
      <button type="submit" className="kill" disabled={flatten.isPending}>
        Flatten {what}
      </button>
      <FormProblem error={flatten.error} fields={['reason']} />
    </form>
  );
}

const FLATTEN_WORDS: Record<FlattenView['status'], string> = {
  pending: 'waiting for the worker',
  running: 'closing',
  done: 'done',
  failed: 'failed',
};

const finished = (f: FlattenView | undefined) => f?.status === 'done' || f?.status === 'failed';

function FlattenProgress({ id, connections, onDone }: { id: string; connections: ConnectionView[]; onDone: () => void }) {
  const queries = useQueryClient();
  const flatten = useQuery({
    queryKey: ['flatten', id],
    queryFn: () => api<FlattenView>('GET', `/v1/flattens/${id}`),
    refetchInterval: (q) => (finished(q.state.data) ? false : FLATTEN_POLL_MS),
  });
  const ended = finished(flatten.data);
  useEffect(() => {
    // What it closed shows on the next read of positions and P&L.
    if (ended) for (const key of ['positions', 'pnl']) void queries.invalidateQueries({ queryKey: [key] });
  }, [ended, queries]);
  const label = (connectionId: string) => connections.find((c) => c.id === connectionId)?.label ?? connectionId;
  const f = flatten.data;
  return (
    <div role="status" aria-label="Flatten" className="card">
      {flatten.isError && <p>{flatten.error.message}</p>}
      {f && (
        <>
          <p data-testid="flatten-status">
            Flatten ({f.reason}), requested {when(f.createdAt)}: {FLATTEN_WORDS[f.status]}.
          </p>
          <ul>
            {f.connections.map((c) => (
              <li key={c.connectionId}>
                {label(c.connectionId)}: {FLATTEN_WORDS[c.status]}
                {c.canceledOrders !== null && `, ${c.canceledOrders} open order${c.canceledOrders === 1 ? '' : 's'} canceled`}
                {c.orders.length > 0 &&
                  `; closing ${c.orders.map((o) => `${o.side} ${o.quantity} ${o.symbol} (${o.status}${o.averagePrice ? ` at ${o.averagePrice}` : ''})`).join(', ')}`}
                {c.error && ` (${c.error})`}
              </li>
            ))}
          </ul>
        </>
      )}
      <button type="button" onClick={onDone}>
        Dismiss
      </button>
    </div>
  );
}
