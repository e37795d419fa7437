import { useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { Answer, api } from './api/client';
import { ConnectionView, RouteView, useConnections, usePositions, useRoutes, useSources } from './api/queries';
import { side } from './Positions';
import { Table, when } from './ui';

type PnlReport = Answer<'/v1/connections/{id}/pnl', 'get'>;
type SymbolPnl = PnlReport['symbols'][number];

const POLL_MS = 15_000;

/**
 * P&L as the api keeps it: realised per symbol from the recorded fills (average cost, fees apart) per connection and
 * per route; unrealised from the broker's own positions snapshot where the broker reports it; the loss-limit session's P&L.
 */
export function Pnl() {
  const connections = useConnections();
  const items = connections.data?.items ?? [];
  return (
    <section aria-labelledby="pnl-heading">
      <h2 id="pnl-heading">P&amp;L</h2>
      <p>
        Realized P&amp;L is computed from the fills Switchyard recorded (average cost, in each symbol&apos;s quote currency, fees not deducted). Unrealized
        P&amp;L is what the broker reports on its open positions.
      </p>
      {connections.isError && <p role="alert">{connections.error.message}</p>}
      {connections.isSuccess && items.length === 0 && <p>No connection yet.</p>}
      {items.map((c) => (
        <ConnectionPnl key={c.id} connection={c} />
      ))}
      <RoutePnl />
    </section>
  );
}

function ConnectionPnl({ connection: c }: { connection: ConnectionView }) {
  const pnl = useQuery({
    queryKey: ['pnl', 'connection', c.id],
    queryFn: () => api<PnlReport>('GET', `/v1/connections/${c.id}/pnl`),
    refetchInterval: POLL_MS,
  });
  const session = c.lossLimits?.session;
  return (
    <article className="card" aria-labelledby={`pnl-${c.id}`}>
      <h3 id={`pnl-${c.id}`}>
        {c.label} ({c.broker}, {c.environment}
        {c.status !== 'active' && `, ${c.status}`})
      </h3>
      {session ? (
        <p data-testid={`session-pnl-${c.label}`}>
          This session ({when(session.start)} to {when(session.end)}): P&amp;L {session.pnl}, high {session.peak}
          {session.breachedAt ? `; loss limit breached at ${when(session.breachedAt)} (${session.breachReason}).` : '.'}
        </p>
      ) : (
        <p>No loss-limit session: set loss limits on the risk screen to follow this connection&apos;s session P&amp;L.</p>
      )}
      {pnl.isError && <p role="alert">{pnl.error.message}</p>}
      {pnl.data && <SymbolTable report={pnl.data} caption={`P&L of ${c.label} per symbol`} unrealized={c.status === 'active' ? c.id : undefined} />}
    </article>
  );
}

/** The per-symbol table; with `unrealized` (an active connection's id) the broker's unrealised P&L beside each symbol. */
function SymbolTable({ report, caption, unrealized }: { report: PnlReport | Answer<'/v1/routes/{id}/pnl', 'get'>; caption: string; unrealized?: string }) {
  if (report.symbols.length === 0) return <p>No fills yet.</p>;
  return (
    <>
      <Table caption={caption}>
        <thead>
          <tr>
            <th scope="col">Symbol</th>
            <th scope="col">Position from fills</th>
            <th scope="col">Average cost</th>
            <th scope="col">Realized P&amp;L</th>
            <th scope="col">Fees</th>
            <th scope="col">Fills</th>
            {unrealized && <th scope="col">Unrealized P&amp;L (broker)</th>}
          </tr>
        </thead>
        <tbody>
          {report.symbols.map((s) => (
            <SymbolRow key={s.symbol} row={s} unrealized={unrealized} />
          ))}
        </tbody>
      </Table>
      {report.unattributedFills > 0 && (
        <p>
          {report.unattributedFills} fill{report.unattributedFills === 1 ? '' : 's'} of orders whose side was never recorded are left out.
        </p>
      )}
    </>
  );
}

function SymbolRow({ row: s, unrealized }: { row: SymbolPnl; unrealized?: string }) {
  return (
    <tr>
      <td>{s.symbol}</td>
      <td>{side(s.position)}</td>
      <td>{s.averageCost ?? '—'}</td>
      <td>{s.realizedPnl}</td>
      <td>{s.fees}</td>
      <td>{s.fills}</td>
      {unrealized && <UnrealizedCell connectionId={unrealized} symbol={s.symbol} />}
    </tr>
  );
}

function UnrealizedCell({ connectionId, symbol }: { connectionId: string; symbol: string }) {
  const positions = usePositions(connectionId);
  if (positions.isPending) return <td>…</td>;
  if (positions.isError) return <td>unavailable</td>;
  const held = positions.data.positions.find((p) => p.symbol === symbol);
  return <td>{!held ? 'flat at the broker' : (held.unrealizedPnl ?? 'not reported by the broker')}</td>;
}

function RoutePnl() {
  const routes = useRoutes();
  const sources = useSources();
  const connections = useConnections();
  const [routeId, setRouteId] = useState('');
  const items = routes.data?.items ?? [];
  const name = (r: RouteView) =>
    `${sources.data?.items.find((s) => s.id === r.sourceId)?.name ?? 'a source'} → ${connections.data?.items.find((c) => c.id === r.connectionId)?.label ?? 'a connection'}`;
  const chosen = items.find((r) => r.id === routeId);
  const pnl = useQuery({
    queryKey: ['pnl', 'route', routeId],
    queryFn: () => api<Answer<'/v1/routes/{id}/pnl', 'get'>>('GET', `/v1/routes/${routeId}/pnl`),
    enabled: !!chosen,
    refetchInterval: POLL_MS,
  });
  if (items.length === 0) return null;
  return (
    <section aria-labelledby="route-pnl-heading">
      <h3 id="route-pnl-heading">By route</h3>
      <label>
        Route
        <select value={routeId} onChange={(e) => setRouteId(e.target.value)}>
          <option value="">choose a route</option>
          {items.map((r) => (
            <option key={r.id} value={r.id}>
              {name(r)}
            </option>
          ))}
        </select>
      </label>
      {pnl.isError && <p role="alert">{pnl.error.message}</p>}
      {chosen && pnl.data && <SymbolTable report={pnl.data} caption={`P&L of the route ${name(chosen)} per symbol`} />}
    </section>
  );
}
