import { keepPreviousData, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { Answer, api, ApiProblem, Item, Page } from './api/client';
import type { paths } from './api/schema';
import { CopyButton, Field, FormProblem, PagerButtons, Table, usePager, when } from './ui';

type WebhookView = Item<'/v1/webhooks'>;
type IssuedWebhook = Answer<'/v1/webhooks', 'post'>;
type CreateWebhook = paths['/v1/webhooks']['post']['requestBody']['content']['application/json'];
type WebhookEvent = WebhookView['events'][number];
type DeliveryView = Item<'/v1/webhooks/{id}/deliveries'>;
type DeliveryStatus = DeliveryView['status'];

// Typed against the generated schema: a new event in the api fails the console's type check until it has words here.
const EVENT_WORDS: Record<WebhookEvent, string> = {
  'order.accepted': 'accepted by the broker',
  'order.partially_filled': 'partially filled',
  'order.filled': 'filled',
  'order.canceled': 'canceled',
  'order.expired': 'expired',
  'order.rejected': 'rejected',
};
const EVENTS = Object.keys(EVENT_WORDS) as WebhookEvent[];

const STATUS_WORDS: Record<DeliveryStatus, string> = { pending: 'pending (retrying)', delivered: 'delivered', failed: 'failed' };

const DELIVERIES_PAGE = 25;
const POLL_MS = 5000;

/** The SSRF guard's refusals (`url_…`) name no field: they are about the URL, so they show beside it. */
function aboutUrl(error: Error | null): Error | null {
  if (error instanceof ApiProblem && error.code.startsWith('url_') && error.errors.length === 0)
    return new ApiProblem(error.status, error.code, error.message, [{ path: 'url', message: error.message }]);
  return error;
}

/**
 * Order webhooks out: HTTPS endpoints that receive the workspace's order transitions, signed (Standard Webhooks).
 * The signing secret is shown once, at creation or rotation, and lives only in this component's state until "Done".
 */
export function Webhooks({ canWrite }: { canWrite: boolean }) {
  const queries = useQueryClient();
  const [issued, setIssued] = useState<IssuedWebhook | null>(null);
  const [open, setOpen] = useState<string | null>(null);
  const list = useQuery({ queryKey: ['webhooks'], queryFn: () => api<Page<WebhookView>>('GET', '/v1/webhooks?limit=100') });
  const refresh = () => void queries.invalidateQueries({ queryKey: ['webhooks'] });
  const show = (w: IssuedWebhook) => {
    setIssued(w);
    refresh();
  };
  const create = useMutation({ mutationFn: (body: CreateWebhook) => api<IssuedWebhook>('POST', '/v1/webhooks', body), onSuccess: show });
  const rotate = useMutation({ mutationFn: (id: string) => api<IssuedWebhook>('POST', `/v1/webhooks/${id}/rotate-secret`, {}), onSuccess: show });
  const remove = useMutation({
    mutationFn: (id: string) => api<void>('DELETE', `/v1/webhooks/${id}`),
    onSuccess: (_void, id) => {
      if (open === id) setOpen(null);
      refresh();
    },
  });
  const toggle = useMutation({
    mutationFn: ({ id, enabled }: { id: string; enabled: boolean }) => api<WebhookView>('PATCH', `/v1/webhooks/${id}`, { enabled }),
    onSuccess: refresh,
  });
  const createError = aboutUrl(create.error);
  const endpoints = list.data?.items ?? [];
  const opened = endpoints.find((w) => w.id === open);

  return (
    <section aria-labelledby="webhooks-heading">
      <h2 id="webhooks-heading">Webhooks</h2>
      <p>
        Your HTTPS endpoints receive this workspace&apos;s order events (accepted, filled, canceled …), signed with the endpoint&apos;s secret (Standard
        Webhooks: verify with any of its libraries). Failed deliveries are retried with backoff.
      </p>
      {issued && (
        <div role="status" aria-label="New signing secret">
          <p>
            <strong>Copy the signing secret of {issued.url} now: it is shown only once.</strong>
          </p>
          <p>
            <code data-testid="webhook-secret">{issued.secret}</code> <CopyButton text={issued.secret} label="Copy signing secret" />
          </p>
          {issued.previousSecretValidUntil && <p>The previous secret keeps signing beside it until {when(issued.previousSecretValidUntil)}.</p>}
          <button
            type="button"
            onClick={() => {
              // The mutations hold the answer too: drop it with the display, so the secret is nowhere in the page's memory.
              setIssued(null);
              create.reset();
              rotate.reset();
            }}
          >
            Done
          </button>
        </div>
      )}
      {canWrite ? (
        <form
          aria-label="Add a webhook endpoint"
          onSubmit={(event) => {
            event.preventDefault();
            const form = event.currentTarget;
            const data = new FormData(form);
            const description = String(data.get('description') ?? '').trim();
            const events = EVENTS.filter((e) => data.get(`events.${e}`) === 'on');
            create.mutate({ url: String(data.get('url')).trim(), events, ...(description && { description }) }, { onSuccess: () => form.reset() });
          }}
        >
          <Field label="Endpoint URL (https)" name="url" type="url" required maxLength={2000} autoComplete="off" spellCheck={false} error={createError} />
          <fieldset>
            <legend>Order events it receives</legend>
            {EVENTS.map((e) => (
              <label key={e}>
                <input type="checkbox" name={`events.${e}`} defaultChecked /> {e} ({EVENT_WORDS[e]})
              </label>
            ))}
            {createError instanceof ApiProblem && createError.about('events') && <span className="field-error">{createError.about('events')}</span>}
          </fieldset>
          <Field label="Description (optional)" name="description" maxLength={500} error={createError} />
          <button type="submit" disabled={create.isPending}>
            Add webhook endpoint
          </button>
          <FormProblem error={createError} fields={['url', 'events', 'description']} />
        </form>
      ) : (
        <p>Only admins and owners may add, rotate, disable or delete webhook endpoints or send a delivery again.</p>
      )}
      {list.isError && <p role="alert">{list.error.message}</p>}
      {list.isSuccess && endpoints.length === 0 && <p>No webhook endpoint yet.</p>}
      {endpoints.length > 0 && (
        <Table caption="Webhook endpoints, newest first">
          <thead>
            <tr>
              <th scope="col">URL</th>
              <th scope="col">Events</th>
              <th scope="col">Signing secret</th>
              <th scope="col">Added</th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            {endpoints.map((w) => (
              <tr key={w.id}>
                <td>
                  <code>{w.url}</code>
                  {!w.enabled && <strong> (disabled: no new deliveries, pending ones wait)</strong>}
                  {w.description && <div>{w.description}</div>}
                </td>
                <td>{w.events.length === EVENTS.length ? 'all order events' : w.events.join(', ')}</td>
                <td>
                  version {w.secretVersion}
                  {w.previousSecretValidUntil && `; the previous one signs too until ${when(w.previousSecretValidUntil)}`}
                </td>
                <td>{when(w.createdAt)}</td>
                <td>
                  <button type="button" aria-expanded={open === w.id} onClick={() => setOpen(open === w.id ? null : w.id)}>
                    Deliveries to {w.url}
                  </button>
                  {canWrite && (
                    <>
                      {' '}
                      <button
                        type="button"
                        disabled={rotate.isPending}
                        onClick={() =>
                          window.confirm(`Rotate the signing secret of ${w.url}? The old one keeps signing beside the new one for 24 hours.`) &&
                          rotate.mutate(w.id)
                        }
                      >
                        Rotate secret of {w.url}
                      </button>{' '}
                      <button type="button" disabled={toggle.isPending} onClick={() => toggle.mutate({ id: w.id, enabled: !w.enabled })}>
                        {w.enabled ? 'Disable' : 'Enable'} {w.url}
                      </button>{' '}
                      <button
                        type="button"
                        disabled={remove.isPending}
                        onClick={() => window.confirm(`Delete ${w.url}? Nothing more is sent to it; pending deliveries end failed.`) && remove.mutate(w.id)}
                      >
                        Delete {w.url}
                      </button>
                    </>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </Table>
      )}
      {rotate.isError && <p role="alert">{rotate.error.message}</p>}
      {toggle.isError && <p role="alert">{toggle.error.message}</p>}
      {remove.isError && <p role="alert">{remove.error.message}</p>}
      {opened && <Deliveries key={opened.id} endpoint={opened} canWrite={canWrite} />}
    </section>
  );
}

function Deliveries({ endpoint, canWrite }: { endpoint: WebhookView; canWrite: boolean }) {
  const queries = useQueryClient();
  const pager = usePager();
  const [status, setStatus] = useState<DeliveryStatus | ''>('');
  const query = new URLSearchParams({ limit: String(DELIVERIES_PAGE), ...(status && { status }), ...(pager.cursor && { cursor: pager.cursor }) });
  const key = ['webhook-deliveries', endpoint.id];
  const page = useQuery({
    queryKey: [...key, query.toString()],
    queryFn: () => api<Page<DeliveryView>>('GET', `/v1/webhooks/${endpoint.id}/deliveries?${query}`),
    refetchInterval: pager.atNewest ? POLL_MS : false,
    placeholderData: keepPreviousData,
  });
  const retry = useMutation({
    mutationFn: (id: string) => api<DeliveryView>('POST', `/v1/webhooks/${endpoint.id}/deliveries/${id}/retry`),
    onSuccess: () => void queries.invalidateQueries({ queryKey: key }),
  });
  const items = page.data?.items ?? [];
  return (
    <section aria-labelledby="deliveries-heading">
      <h3 id="deliveries-heading">Deliveries to {endpoint.url}</h3>
      <label>
        Delivery status
        <select
          value={status}
          onChange={(e) => {
            setStatus(e.target.value as DeliveryStatus | '');
            pager.reset();
          }}
        >
          <option value="">any</option>
          {Object.entries(STATUS_WORDS).map(([s, words]) => (
            <option key={s} value={s}>
              {words}
            </option>
          ))}
        </select>
      </label>
      {page.isError && <p role="alert">{page.error.message}</p>}
      {page.isSuccess && items.length === 0 && <p>No delivery{status && ` ${STATUS_WORDS[status]}`} yet.</p>}
      {items.length > 0 && (
        <Table caption={`Deliveries to ${endpoint.url}, newest first`}>
          <thead>
            <tr>
              <th scope="col">Event</th>
              <th scope="col">Order</th>
              <th scope="col">Status</th>
              <th scope="col">Attempts</th>
              <th scope="col">Last answer</th>
              <th scope="col">When</th>
              {canWrite && <th scope="col">Action</th>}
            </tr>
          </thead>
          <tbody>
            {items.map((d) => (
              <tr key={d.id} data-testid={`delivery-${d.eventType}`}>
                <td>{d.eventType}</td>
                <td>
                  <code>{d.orderId.slice(0, 8)}</code>
                </td>
                <td>{STATUS_WORDS[d.status]}</td>
                <td>{d.attempts}</td>
                <td>{lastAnswer(d)}</td>
                <td>
                  {d.deliveredAt
                    ? `delivered ${when(d.deliveredAt)}`
                    : d.nextAttemptAt
                      ? `next attempt ${when(d.nextAttemptAt)}`
                      : `created ${when(d.createdAt)}`}
                </td>
                {canWrite && (
                  <td>
                    {d.status === 'failed' && (
                      <button type="button" disabled={retry.isPending} onClick={() => retry.mutate(d.id)}>
                        Send {d.eventType} again
                      </button>
                    )}
                  </td>
                )}
              </tr>
            ))}
          </tbody>
        </Table>
      )}
      {retry.isError && <p role="alert">{retry.error.message}</p>}
      <PagerButtons pager={pager} nextCursor={page.data?.nextCursor} noun="deliveries" />
    </section>
  );
}

function lastAnswer(d: DeliveryView): string {
  if (d.attempts === 0) return 'not sent yet';
  const excerpt = d.attemptLog.at(-1)?.responseExcerpt;
  const status = d.lastStatusCode === null ? 'no HTTP answer' : `HTTP ${d.lastStatusCode}`;
  // A refused attempt's error is its status ("HTTP 500"): say it once.
  return [status, d.lastError !== status && d.lastError, excerpt && `“${excerpt}”`].filter(Boolean).join(': ');
}
