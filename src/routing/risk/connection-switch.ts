import type { OrderPlan } from '../order-plan';

/** The connection's own risk state as a claim reads it: its kill switch, and a loss-limit breach of the current session. */
export interface ConnectionRisk {
  killSwitch: { engaged: boolean; reason: string | null };
  /** The reason recorded with this session's breach, while the session lasts. */
  lossBreach: string | null;
}

/**
 * Why an order may not go on this connection: entries are refused while its kill switch is engaged or its loss
 * limit is breached this session. Exits and cancels go (they take risk off, like a flatten's closes).
 */
export function connectionRiskRefusal(risk: ConnectionRisk, intent: OrderPlan['intent']): string | undefined {
  if (intent !== 'entry') return undefined;
  if (risk.killSwitch.engaged) {
    return `connection_kill_switch: this connection's kill switch is engaged${risk.killSwitch.reason ? ` (${risk.killSwitch.reason.slice(0, 300)})` : ''}; entries are refused, exits still go`;
  }
  return risk.lossBreach ?? undefined;
}
