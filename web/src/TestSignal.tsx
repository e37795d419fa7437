import { useMutation, useQueryClient } from '@tanstack/react-query';
import { Answer, api } from './api/client';
import type { SourceView } from './api/queries';
import { Field, FormProblem } from './ui';

type TestSignalAccepted = Answer<'/v1/sources/{id}/test-signal', 'post'>;

const FIELDS = ['ticker', 'action', 'price', 'quantity'];

/** "Send test signal": a real signal on a source, routed, risk-checked and (on paper) filled like a webhook's. */
export function TestSignal({ sources, onSent }: { sources: SourceView[]; onSent?: (accepted: TestSignalAccepted) => void }) {
  const queries = useQueryClient();
  const send = useMutation({
    mutationFn: ({ sourceId, body }: { sourceId: string; body: Record<string, string> }) =>
      api<TestSignalAccepted>('POST', `/v1/sources/${sourceId}/test-signal`, body),
    onSuccess: (accepted) => {
      void queries.invalidateQueries({ queryKey: ['signals'] });
      onSent?.(accepted);
    },
  });
  if (sources.length === 0) return null;
  return (
    <form
      aria-label="Send test signal"
      onSubmit={(event) => {
        event.preventDefault();
        const data = new FormData(event.currentTarget);
        const body = Object.fromEntries(FIELDS.map((f) => [f, String(data.get(f) ?? '')]).filter(([, v]) => v !== ''));
        send.mutate({ sourceId: String(data.get('sourceId')), body });
      }}
    >
      <label>
        Source
        <select name="sourceId" defaultValue={sources[0].id}>
          {sources.map((s) => (
            <option key={s.id} value={s.id}>
              {s.name}
            </option>
          ))}
        </select>
      </label>
      <Field label="Ticker" name="ticker" defaultValue="AAPL" required error={send.error} />
      <label>
        Action
        <select name="action" defaultValue="buy">
          <option value="buy">buy</option>
          <option value="sell">sell</option>
          <option value="exit">exit</option>
        </select>
      </label>
      <Field label="Signal price (the paper broker fills at it)" name="price" defaultValue="100" inputMode="decimal" error={send.error} />
      <Field label="Quantity (empty: the route's sizing decides)" name="quantity" inputMode="decimal" error={send.error} />
      <button type="submit" disabled={send.isPending}>
        Send test signal
      </button>
      {send.isSuccess && <p role="status">Test signal accepted ({send.data.status}).</p>}
      <FormProblem error={send.error} fields={FIELDS} />
    </form>
  );
}
