import { useMutation, useQueryClient } from '@tanstack/react-query';
import { api } from './api/client';
import { useConnections } from './api/queries';
import type { paths } from './api/schema';
import type { ConnectionView, Permissions } from './api/views';
import { Table } from './ui';

type CreateConnection = paths['/v1/connections']['post']['requestBody']['content']['application/json'];

// Field names each broker's adapter validates; secrets go in password inputs the browser never echoes back.
const BROKER_FIELDS: Record<'paper' | 'alpaca', Array<{ name: string; label: string; secret: boolean }>> = {
  paper: [],
  alpaca: [
    { name: 'apiKey', label: 'API key ID', secret: false },
    { name: 'apiSecret', label: 'API secret key', secret: true },
  ],
};

/** Broker connections: one form per broker (credentials are write-only), permissions in plain words, revoke. */
export function Connections({ canWrite }: { canWrite: boolean }) {
  const queries = useQueryClient();
  const list = useConnections();
  const refresh = () => void queries.invalidateQueries({ queryKey: ['connections'] });
  const create = useMutation({ mutationFn: (body: CreateConnection) => api<ConnectionView>('POST', '/v1/connections', body), onSuccess: refresh });
  const revoke = useMutation({ mutationFn: (id: string) => api<ConnectionView>('DELETE', `/v1/connections/${id}`), onSuccess: refresh });

  return (
    <section aria-labelledby="connections-heading">
      <h2 id="connections-heading">Connections</h2>
      {canWrite &&
        (Object.keys(BROKER_FIELDS) as Array<keyof typeof BROKER_FIELDS>).map((broker) => (
          <form
            key={broker}
            aria-label={`Connect ${broker}`}
            onSubmit={(event) => {
              event.preventDefault();
              const form = event.currentTarget;
              const data = new FormData(form);
              const credentials = Object.fromEntries(BROKER_FIELDS[broker].map((f) => [f.name, String(data.get(f.name))]));
              // Secrets leave the page's inputs at once, whatever the answer.
              for (const f of BROKER_FIELDS[broker]) if (f.secret) (form.elements.namedItem(f.name) as HTMLInputElement).value = '';
              create.mutate({ broker, label: String(data.get('label')), environment: 'paper', credentials });
            }}
          >
            <h3>{broker === 'paper' ? 'Paper broker (simulated fills)' : `${broker[0].toUpperCase()}${broker.slice(1)} (paper account)`}</h3>
            <label>
              Label <input name="label" required maxLength={200} defaultValue={broker === 'paper' ? 'Paper' : ''} />
            </label>
            {BROKER_FIELDS[broker].map((f) => (
              <label key={f.name}>
                {f.label} <input name={f.name} type={f.secret ? 'password' : 'text'} autoComplete="off" required />
              </label>
            ))}
            <button type="submit" disabled={create.isPending}>
              Connect {broker}
            </button>
          </form>
        ))}
      {create.isError && <p role="alert">{create.error.message}</p>}
      <Table caption="Broker connections">
        <thead>
          <tr>
            <th scope="col">Label</th>
            <th scope="col">Broker</th>
            <th scope="col">Key</th>
            <th scope="col">What the key may do</th>
            <th scope="col">Status</th>
            {canWrite && <th scope="col">Actions</th>}
          </tr>
        </thead>
        <tbody>
          {list.data?.items.map((c) => (
            <tr key={c.id}>
              <td>{c.label}</td>
              <td>
                {c.broker} ({c.environment})
              </td>
              <td>{c.keyHint}</td>
              <td>{inPlainWords(c.permissions)}</td>
              <td>{c.status}</td>
              {canWrite && (
                <td>
                  {c.status !== 'revoked' && (
                    <button type="button" disabled={revoke.isPending} onClick={() => window.confirm(`Revoke ${c.label}? Its routes stop sending orders at once.`) && revoke.mutate(c.id)}>
                      Revoke {c.label}
                    </button>
                  )}
                </td>
              )}
            </tr>
          ))}
        </tbody>
      </Table>
    </section>
  );
}

function inPlainWords(p: Permissions): string {
  const can = [p.canTrade && 'place orders', p.canWithdraw && 'withdraw funds', p.canTransfer && 'transfer funds'].filter(Boolean);
  const summary = can.length ? `Can ${can.join(', ')}.` : 'Cannot trade.';
  return p.note ? `${summary} ${p.note}` : summary;
}
