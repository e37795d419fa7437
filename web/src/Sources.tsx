import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { api } from './api/client';
import { IssuedSource, useSources } from './api/queries';
import type { paths } from './api/schema';
import { TestSignal } from './TestSignal';
import { CopyButton, Field, FormProblem, Table } from './ui';

type CreateSource = paths['/v1/sources']['post']['requestBody']['content']['application/json'];

// The strategy alert of docs/signals.md: TradingView fills the placeholders when the alert fires.
const TRADINGVIEW_MESSAGE = JSON.stringify(
  {
    ticker: '{{exchange}}:{{ticker}}',
    action: '{{strategy.order.action}}',
    sentiment: '{{strategy.market_position}}',
    quantity: '{{strategy.order.contracts}}',
    price: '{{close}}',
    id: '{{strategy.order.id}} {{timenow}}',
    time: '{{timenow}}',
  },
  null,
  2,
);

/** Signal sources: create (secret shown once), the webhook URL and a ready TradingView alert message, rotate. */
export function Sources({ canWrite, canTest }: { canWrite: boolean; canTest: boolean }) {
  const queries = useQueryClient();
  const [issued, setIssued] = useState<IssuedSource | null>(null);
  const list = useSources();
  const done = (source: IssuedSource) => {
    setIssued(source);
    void queries.invalidateQueries({ queryKey: ['sources'] });
  };
  const create = useMutation({ mutationFn: (body: CreateSource) => api<IssuedSource>('POST', '/v1/sources', body), onSuccess: done });
  const rotate = useMutation({ mutationFn: (id: string) => api<IssuedSource>('POST', `/v1/sources/${id}/rotate-secret`, {}), onSuccess: done });

  return (
    <section aria-labelledby="sources-heading">
      <h2 id="sources-heading">Sources</h2>
      {issued && <Issued source={issued} onDismiss={() => setIssued(null)} />}
      {canWrite && (
        <form
          aria-label="New source"
          onSubmit={(event) => {
            event.preventDefault();
            const data = new FormData(event.currentTarget);
            const listed = String(data.get('allowedIps') ?? '')
              .split(/[\s,]+/)
              .filter(Boolean);
            create.mutate({
              name: String(data.get('name')),
              auth: data.get('auth') === 'token' ? 'token' : 'hmac',
              allowedIps: [...(data.get('tradingview') ? ['tradingview'] : []), ...listed],
            });
          }}
        >
          <Field label="Name" name="name" required maxLength={200} error={create.error} />
          <fieldset>
            <legend>Authentication</legend>
            <label>
              <input type="radio" name="auth" value="token" defaultChecked /> Token in the URL (TradingView cannot sign)
            </label>
            <label>
              <input type="radio" name="auth" value="hmac" /> HMAC signature (Standard Webhooks)
            </label>
          </fieldset>
          <label>
            <input type="checkbox" name="tradingview" defaultChecked /> Accept only TradingView's sender addresses
          </label>
          <Field
            label="Also allow these addresses (IPs or CIDR ranges, comma-separated; empty: only the choice above)"
            name="allowedIps"
            autoComplete="off"
            error={create.error}
          />
          <button type="submit" disabled={create.isPending}>
            Create source
          </button>
          <FormProblem error={create.error} fields={['name', 'auth', 'allowedIps']} />
        </form>
      )}
      {canTest && <TestSignal sources={list.data?.items ?? []} />}
      <Table caption="Sources in this workspace">
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Auth</th>
            <th scope="col">Webhook URL</th>
            <th scope="col">IP allowlist</th>
            <th scope="col">Secret version</th>
            {canWrite && <th scope="col">Actions</th>}
          </tr>
        </thead>
        <tbody>
          {list.data?.items.map((s) => (
            <tr key={s.id}>
              <td>{s.name}</td>
              <td>{s.auth}</td>
              <td>
                <code>{s.webhookUrl}</code>
              </td>
              <td>{s.allowedIps.length ? s.allowedIps.join(', ') : 'any address'}</td>
              <td>{s.secretVersion}</td>
              {canWrite && (
                <td>
                  <button type="button" onClick={() => rotate.mutate(s.id)} disabled={rotate.isPending}>
                    Rotate secret of {s.name}
                  </button>
                </td>
              )}
            </tr>
          ))}
        </tbody>
      </Table>
    </section>
  );
}

/** The one time a secret is shown: copy it now; dismissing forgets it. */
export function Issued({ source, onDismiss }: { source: IssuedSource; onDismiss: () => void }) {
  const hmac = 'secret' in source;
  const secret = hmac ? source.secret : source.token;
  return (
    <div role="status" aria-label="New secret">
      <p>
        <strong>Copy the {hmac ? 'signing secret' : 'webhook URL'} now: it is shown only once.</strong>
      </p>
      <p>
        Webhook URL: <code data-testid="webhook-url">{source.webhookUrl}</code> <CopyButton text={source.webhookUrl} label="Copy webhook URL" />
      </p>
      {hmac && (
        <p>
          Secret: <code data-testid="secret">{secret}</code> <CopyButton text={secret} label="Copy secret" />
        </p>
      )}
      <label>
        TradingView alert message
        <textarea readOnly rows={9} value={TRADINGVIEW_MESSAGE} />
      </label>
      <button type="button" onClick={onDismiss}>
        Done
      </button>
    </div>
  );
}
