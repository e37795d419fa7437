import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { Answer, api } from './api/client';
import type { paths } from './api/schema';
import type { Session } from './App';
import { ConnectionRisk } from './ConnectionRisk';
import { abilities, Field, FormProblem, when } from './ui';

type KillSwitch = paths['/v1/workspace/kill-switch']['put']['requestBody']['content']['application/json'];
type LiveTrading = paths['/v1/workspace/live-trading']['put']['requestBody']['content']['application/json'];
type Workspace = Answer<'/v1/workspace', 'get'>;

// Typed, not clicked: turning on real-money trading must be a deliberate act.
const LIVE_CONFIRMATION = 'enable live trading';

/**
 * The platform switch's state (read-only), the workspace kill switch (trader and up), the live-trading toggle (owner only, with a typed
 * confirmation) and each connection's kill switch and loss limits (admins).
 */
export function Risk({ role }: { role: Session['role'] }) {
  const queries = useQueryClient();
  const [confirmation, setConfirmation] = useState('');
  const workspace = useQuery({ queryKey: ['workspace'], queryFn: () => api<Workspace>('GET', '/v1/workspace') });
  const saved = (w: Workspace) => queries.setQueryData(['workspace'], w);
  const kill = useMutation({ mutationFn: (body: KillSwitch) => api<Workspace>('PUT', '/v1/workspace/kill-switch', body), onSuccess: saved });
  const live = useMutation({ mutationFn: (body: LiveTrading) => api<Workspace>('PUT', '/v1/workspace/live-trading', body), onSuccess: saved });
  const w = workspace.data;
  if (!w) return null;
  const canKill = role !== 'viewer';
  return (
    <section aria-labelledby="risk-heading">
      <h2 id="risk-heading">Risk</h2>
      <p data-testid="platform-kill-state" className={w.platformKillSwitch.engaged ? 'engaged' : undefined}>
        Platform kill switch:{' '}
        {w.platformKillSwitch.engaged
          ? `engaged by the platform operator since ${when(w.platformKillSwitch.engagedAt)}: no orders are routed in any workspace`
          : 'off'}
      </p>
      <p data-testid="kill-state" className={w.killSwitch.engaged ? 'engaged' : undefined}>
        Kill switch: {w.killSwitch.engaged ? `engaged (${w.killSwitch.reason})` : 'off'}
      </p>
      {canKill && (
        <form
          aria-label="Kill switch"
          onSubmit={(event) => {
            event.preventDefault();
            const form = event.currentTarget;
            kill.mutate({ engaged: !w.killSwitch.engaged, reason: String(new FormData(form).get('reason')) });
            form.reset();
          }}
        >
          <Field
            label={w.killSwitch.engaged ? 'Why release it' : 'Why engage it'}
            name="reason"
            required
            maxLength={500}
            autoComplete="off"
            error={kill.error}
          />
          <button type="submit" className="kill" disabled={kill.isPending}>
            {w.killSwitch.engaged ? 'Release kill switch' : 'Engage kill switch'}
          </button>
          <FormProblem error={kill.error} fields={['reason']} />
        </form>
      )}
      <p data-testid="live-state">Live trading: {w.liveTradingEnabled ? 'enabled' : 'disabled'}</p>
      {role === 'owner' ? (
        <form
          aria-label="Live trading"
          onSubmit={(event) => {
            event.preventDefault();
            live.mutate({ enabled: !w.liveTradingEnabled, reason: 'changed from the console by the owner' });
            setConfirmation('');
          }}
        >
          {!w.liveTradingEnabled && (
            <label>
              Type “{LIVE_CONFIRMATION}” to confirm <input value={confirmation} onChange={(e) => setConfirmation(e.target.value)} autoComplete="off" />
            </label>
          )}
          <button type="submit" disabled={live.isPending || (!w.liveTradingEnabled && confirmation !== LIVE_CONFIRMATION)}>
            {w.liveTradingEnabled ? 'Disable live trading' : 'Enable live trading'}
          </button>
          {live.isError && <p role="alert">{live.error.message}</p>}
        </form>
      ) : (
        <p>Only the workspace owner may turn live trading on or off.</p>
      )}
      <ConnectionRisk canWrite={abilities(role).admin} />
    </section>
  );
}
