import { useMutation, UseMutationResult, useQueryClient } from '@tanstack/react-query';
import { api } from './api/client';
import { ConnectionView, useConnections } from './api/queries';
import type { paths } from './api/schema';
import { Field, FormProblem, when } from './ui';

type KillSwitch = paths['/v1/connections/{id}/kill-switch']['put']['requestBody']['content']['application/json'];
type LossLimits = paths['/v1/connections/{id}/loss-limits']['put']['requestBody']['content']['application/json'];
type Limits = NonNullable<ConnectionView['lossLimits']>;

const ACTION_WORDS: Record<Limits['action'], string> = {
  block: 'block new entries for the rest of the session',
  flatten: 'flatten the connection and engage its kill switch',
};

/** Each active connection's own kill switch and loss limits; only admins (as the api) may change them. */
export function ConnectionRisk({ canWrite }: { canWrite: boolean }) {
  const list = useConnections();
  const active = (list.data?.items ?? []).filter((c) => c.status === 'active');
  return (
    <section aria-labelledby="connection-risk-heading">
      <h3 id="connection-risk-heading">Connections</h3>
      {list.isSuccess && active.length === 0 && <p>No active connection.</p>}
      {active.map((c) => (
        <ConnectionCard key={c.id} connection={c} canWrite={canWrite} />
      ))}
      {active.length > 0 && !canWrite && <p>Only admins and owners may change a connection's kill switch or loss limits.</p>}
    </section>
  );
}

function ConnectionCard({ connection: c, canWrite }: { connection: ConnectionView; canWrite: boolean }) {
  const queries = useQueryClient();
  const saved = () => void queries.invalidateQueries({ queryKey: ['connections'] });
  const kill = useMutation({ mutationFn: (body: KillSwitch) => api<ConnectionView>('PUT', `/v1/connections/${c.id}/kill-switch`, body), onSuccess: saved });
  const limits = useMutation({ mutationFn: (body: LossLimits) => api<ConnectionView>('PUT', `/v1/connections/${c.id}/loss-limits`, body), onSuccess: saved });
  const l = c.lossLimits;
  return (
    <article className="card" aria-labelledby={`risk-${c.id}`}>
      <h4 id={`risk-${c.id}`}>
        {c.label} ({c.broker}, {c.environment})
      </h4>
      <p data-testid={`connection-kill-${c.label}`} className={c.killSwitch.engaged ? 'engaged' : undefined}>
        Kill switch:{' '}
        {c.killSwitch.engaged ? `engaged since ${when(c.killSwitch.changedAt)} (${c.killSwitch.reason}): entries are refused, exits still go` : 'off'}
      </p>
      {canWrite && (
        <form
          aria-label={`Kill switch of ${c.label}`}
          onSubmit={(event) => {
            event.preventDefault();
            const form = event.currentTarget;
            kill.mutate({ engaged: !c.killSwitch.engaged, reason: String(new FormData(form).get('reason')) });
            form.reset();
          }}
        >
          <Field
            label={c.killSwitch.engaged ? 'Why release it' : 'Why engage it'}
            name="reason"
            required
            maxLength={500}
            autoComplete="off"
            error={kill.error}
          />
          <button type="submit" className="kill" disabled={kill.isPending}>
            {c.killSwitch.engaged ? `Release kill switch of ${c.label}` : `Engage kill switch of ${c.label}`}
          </button>
          <FormProblem error={kill.error} fields={['reason']} />
        </form>
      )}
      <p data-testid={`loss-limits-${c.label}`}>{l ? limitWords(l) : 'Loss limits: none.'}</p>
      {l?.session && <SessionWords session={l.session} />}
      {canWrite && <LossLimitsForm connection={c} mutation={limits} />}
    </article>
  );
}

function limitWords(l: Limits): string {
  const parts = [l.dailyLossLimit && `daily loss ${l.dailyLossLimit}`, l.maxDrawdown && `drawdown ${l.maxDrawdown}`].filter(Boolean);
  return `Loss limits: ${parts.join(', ') || 'none'}; on a breach ${ACTION_WORDS[l.action]}; the session starts at ${l.sessionStart} ${l.sessionTimezone}.`;
}

function SessionWords({ session: s }: { session: NonNullable<Limits['session']> }) {
  return (
    <p>
      This session ({when(s.start)} to {when(s.end)}): P&amp;L {s.pnl}, high {s.peak}.
      {s.breachedAt ? ` Breached at ${when(s.breachedAt)} (${s.breachLimit}): ${s.breachReason}.` : ' No breach.'}
    </p>
  );
}

type LimitsMutation = UseMutationResult<ConnectionView, Error, LossLimits>;

function LossLimitsForm({ connection: c, mutation }: { connection: ConnectionView; mutation: LimitsMutation }) {
  const l = c.lossLimits;
  // Empty means no limit: the api takes null, never an empty string.
  const amount = (v: FormDataEntryValue | null) => (String(v ?? '').trim() === '' ? null : String(v).trim());
  return (
    <form
      aria-label={`Loss limits of ${c.label}`}
      onSubmit={(event) => {
        event.preventDefault();
        const data = new FormData(event.currentTarget);
        mutation.mutate({
          dailyLossLimit: amount(data.get('dailyLossLimit')),
          maxDrawdown: amount(data.get('maxDrawdown')),
          action: data.get('action') === 'flatten' ? 'flatten' : 'block',
          sessionStart: String(data.get('sessionStart')),
          sessionTimezone: String(data.get('sessionTimezone')),
          reason: String(data.get('reason')),
        });
      }}
    >
      <Field label="Daily loss limit (empty: none)" name="dailyLossLimit" inputMode="decimal" defaultValue={l?.dailyLossLimit ?? ''} error={mutation.error} />
      <Field label="Maximum drawdown (empty: none)" name="maxDrawdown" inputMode="decimal" defaultValue={l?.maxDrawdown ?? ''} error={mutation.error} />
      <label>
        On a breach
        <select name="action" defaultValue={l?.action ?? 'block'}>
          {Object.entries(ACTION_WORDS).map(([action, words]) => (
            <option key={action} value={action}>
              {words}
            </option>
          ))}
        </select>
      </label>
      <Field label="Session starts at (HH:MM)" name="sessionStart" required defaultValue={l?.sessionStart ?? '00:00'} error={mutation.error} />
      <Field label="Session time zone" name="sessionTimezone" required defaultValue={l?.sessionTimezone ?? 'UTC'} error={mutation.error} />
      <Field label="Why change them" name="reason" required maxLength={500} autoComplete="off" error={mutation.error} />
      <button type="submit" disabled={mutation.isPending}>
        Save loss limits of {c.label}
      </button>
      {mutation.isSuccess && <p role="status">Saved.</p>}
      <FormProblem error={mutation.error} fields={['dailyLossLimit', 'maxDrawdown', 'action', 'sessionStart', 'sessionTimezone', 'reason']} />
    </form>
  );
}
