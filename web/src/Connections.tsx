import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { api } from './api/client';
import { ConnectionView, useBrokers, useConnections, useRoutes } from './api/queries';
import type { paths } from './api/schema';
import { Field, FormProblem, Table, when } from './ui';

type CreateConnection = paths['/v1/connections']['post']['requestBody']['content']['application/json'];
type RotateConnection = paths['/v1/connections/{id}/rotate']['post']['requestBody']['content']['application/json'];
type Broker = CreateConnection['broker'];
type BrokerProfile = paths['/v1/brokers']['get']['responses'][200]['content']['application/json']['items'][number];
type CredentialField = BrokerProfile['credentialFields'][number];
type Environment = keyof BrokerProfile['environments'];

const ENVIRONMENT_WORDS: Record<Environment, string> = {
  paper: 'no real money',
  live: 'orders only once the owner enables live trading',
};

/**
 * A password input drops line breaks, so a pasted PEM arrives on one line: put back the header, the footer
 * and 64-character lines around the base64 body.
 */
function pemFromOneLine(value: string): string {
  const m = /^\s*(-----BEGIN [A-Z ]+-----)\s*([A-Za-z0-9+/=\s]+?)\s*(-----END [A-Z ]+-----)\s*$/.exec(value);
  if (!m) return value;
  const body = m[2].replace(/\s+/g, '');
  return [m[1], ...(body.match(/.{1,64}/g) ?? []), m[3], ''].join('\n');
}

/** Reads a broker's credential inputs and empties the secret ones at once, whatever the answer. */
function takeCredentials(form: HTMLFormElement, fields: CredentialField[]): Record<string, string> {
  const data = new FormData(form);
  const credentials = Object.fromEntries(
    fields.map((f) => [f.name, f.multiline ? pemFromOneLine(String(data.get(`credentials.${f.name}`))) : String(data.get(`credentials.${f.name}`))]),
  );
  for (const f of fields) if (f.secret) (form.elements.namedItem(`credentials.${f.name}`) as HTMLInputElement).value = '';
  return credentials;
}

function CredentialInputs({ fields, error }: { fields: CredentialField[]; error: unknown }) {
  return fields.map((f) => (
    <Field
      key={f.name}
      label={f.label}
      name={`credentials.${f.name}`}
      type={f.secret ? 'password' : 'text'}
      autoComplete="off"
      spellCheck={false}
      required
      error={error}
    />
  ));
}

/** Broker connections: one form per broker (credentials are write-only), permissions in plain words, rotate, revoke in one click. */
export function Connections({ canWrite }: { canWrite: boolean }) {
  const queries = useQueryClient();
  const list = useConnections();
  const routes = useRoutes();
  const brokers = useBrokers();
  const [broker, setBroker] = useState<Broker>('paper');
  const [rotating, setRotating] = useState<ConnectionView | null>(null);
  const refresh = () => void queries.invalidateQueries({ queryKey: ['connections'] });
  const create = useMutation({ mutationFn: (body: CreateConnection) => api<ConnectionView>('POST', '/v1/connections', body), onSuccess: refresh });
  const rotate = useMutation({
    mutationFn: ({ id, body }: { id: string; body: RotateConnection }) => api<ConnectionView>('POST', `/v1/connections/${id}/rotate`, body),
    onSuccess: () => {
      setRotating(null);
      refresh();
    },
  });
  const revoke = useMutation({ mutationFn: (id: string) => api<ConnectionView>('DELETE', `/v1/connections/${id}`), onSuccess: refresh });
  const routesOf = (id: string) => (routes.data?.items ?? []).filter((r) => r.connectionId === id);
  const profiles = new Map((brokers.data?.items ?? []).map((b) => [b.broker, b]));
  const spec = profiles.get(broker);
  const fieldsOf = (b: string) => profiles.get(b as Broker)?.credentialFields ?? [];
  const environments = Object.entries(spec?.environments ?? {}) as Array<[Environment, string]>;

  return (
    <section aria-labelledby="connections-heading">
      <h2 id="connections-heading">Connections</h2>
      {canWrite && brokers.isError && <p role="alert">The broker list could not be loaded: {brokers.error.message}</p>}
      {canWrite && spec && (
        <>
          <label>
            Broker to connect
            <select
              value={broker}
              onChange={(e) => {
                create.reset();
                setBroker(e.target.value as Broker);
              }}
            >
              {[...profiles.values()].map((b) => (
                <option key={b.broker} value={b.broker}>
                  {b.title}
                </option>
              ))}
            </select>
          </label>
          <form
            key={broker}
            aria-label={`Connect ${broker}`}
            onSubmit={(event) => {
              event.preventDefault();
              const form = event.currentTarget;
              const data = new FormData(form);
              const environment = data.get('environment') === 'live' ? 'live' : 'paper';
              create.mutate({ broker, label: String(data.get('label')), environment, credentials: takeCredentials(form, spec.credentialFields) });
            }}
          >
            <h3>{spec.title}</h3>
            <Field label="Label" name="label" required maxLength={200} defaultValue={broker === 'paper' ? 'Paper' : ''} error={create.error} />
            {broker !== 'paper' && (
              <label>
                Account
                <select name="environment" defaultValue={environments[0][0]}>
                  {environments.map(([environment, what]) => (
                    <option key={environment} value={environment}>
                      {environment}: {what} ({ENVIRONMENT_WORDS[environment]})
                    </option>
                  ))}
                </select>
              </label>
            )}
            <CredentialInputs fields={spec.credentialFields} error={create.error} />
            <button type="submit" disabled={create.isPending}>
              Connect {broker}
            </button>
            <FormProblem error={create.error} fields={['label', 'environment', 'credentials']} />
          </form>
        </>
      )}
      {create.isSuccess && (
        <p role="status">
          Connected {create.data.label}: {inPlainWords(create.data.permissions)}
        </p>
      )}
      {revoke.isSuccess && (
        <p role="status" data-testid="revoke-report">
          {revokedInWords(revoke.data, routesOf(revoke.data.id).length)}
        </p>
      )}
      {revoke.isError && <p role="alert">{revoke.error.message}</p>}
      {rotate.isSuccess && (
        <p role="status">
          {rotate.data.label} now uses credential version {rotate.data.credentialVersion}; the previous one was destroyed.
        </p>
      )}
      {rotating && (
        <form
          aria-label={`Rotate credentials of ${rotating.label}`}
          onSubmit={(event) => {
            event.preventDefault();
            rotate.mutate({ id: rotating.id, body: { credentials: takeCredentials(event.currentTarget, fieldsOf(rotating.broker)) } });
          }}
        >
          <h3>New credentials for {rotating.label}</h3>
          <CredentialInputs fields={fieldsOf(rotating.broker)} error={rotate.error} />
          <button type="submit" disabled={rotate.isPending}>
            Rotate credentials
          </button>{' '}
          <button type="button" onClick={() => setRotating(null)}>
            Cancel
          </button>
          <FormProblem error={rotate.error} fields={['credentials']} />
        </form>
      )}
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
              <td>
                {c.keyHint}
                {c.credentialVersion > 1 ? ` (version ${c.credentialVersion})` : ''}
              </td>
              <td>{inPlainWords(c.permissions)}</td>
              <td>{c.status}</td>
              {canWrite && (
                <td>
                  {c.status !== 'revoked' && c.broker !== 'paper' && (
                    <button
                      type="button"
                      onClick={() => {
                        rotate.reset();
                        setRotating(c);
                      }}
                    >
                      Rotate credentials of {c.label}
                    </button>
                  )}
                  {c.status !== 'revoked' && (
                    <button
                      type="button"
                      disabled={revoke.isPending}
                      onClick={() => window.confirm(`Revoke ${c.label}? Its routes stop sending orders at once.`) && revoke.mutate(c.id)}
                    >
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

const INSPECTION: Record<string, string> = {
  inspected: "Checked with the broker's permission API.",
  trading_only: 'Trading keys of this broker cannot move funds.',
  single_tier: 'This broker has a single permission tier: the key can do whatever the account can through the API.',
  not_exposed: 'This broker does not say what a key may do.',
};

function inPlainWords(p: ConnectionView['permissions']): string {
  const can = [p.canTrade && 'place orders', p.canWithdraw && 'withdraw funds', p.canTransfer && 'transfer funds'].filter(Boolean);
  const summary = can.length ? `Can ${can.join(', ')}${p.canWithdraw || p.canTransfer ? '' : ' — withdrawals and transfers disabled'}.` : 'Cannot trade.';
  return [summary, INSPECTION[p.inspection], p.note].filter(Boolean).join(' ');
}

const BROKER_SIDE: Record<string, string> = {
  revoked: 'the key was revoked at the broker too',
  not_supported_by_broker: "the broker's API cannot revoke keys, so delete the key in the broker's own settings",
  not_applicable: 'the paper broker has no key to revoke',
};

function revokedInWords(c: ConnectionView, routes: number): string {
  return [
    `Revoked ${c.label} at ${when(c.revokedAt)}.`,
    `Routing to it stopped at once${routes ? `: its ${routes === 1 ? 'route sends' : `${routes} routes send`} no more orders` : ''}.`,
    'Its stored credentials (every version) were destroyed.',
    `Broker side: ${BROKER_SIDE[c.brokerRevocation ?? ''] ?? c.brokerRevocation ?? 'unknown'}.`,
  ].join(' ');
}
