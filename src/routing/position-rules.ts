import type { Position } from '../brokers/broker-adapter';
import { absDecimal, parseDecimal, ZERO } from '../common/decimal';
import type { PositionRule } from './order-plan';

/** What the position rules read of an order (an OrderRow has these). */
export interface PositionOrder {
  symbol: string;
  side: 'buy' | 'sell' | null;
  positionRule?: PositionRule | null;
}

/** What an exit closes: the whole position on the side it names (a `sell` exit closes a long), or why nothing. */
export function exitSize(order: PositionOrder, position: Position): { side: 'buy' | 'sell'; quantity: string } | { skip: string } {
  const held = parseDecimal(position.quantity);
  const wanted = order.side === 'sell' ? 'long' : order.side === 'buy' ? 'short' : 'any';
  const open = held > ZERO ? 'long' : held < ZERO ? 'short' : undefined;
  if (!open) return { skip: `no_position: there is no ${wanted === 'any' ? '' : `${wanted} `}${order.symbol} position to close` };
  if (wanted !== 'any' && wanted !== open) {
    return {
      skip: `no_position: there is no ${wanted} ${order.symbol} position to close (the position is ${open} ${absDecimal(position.quantity)}); nothing was sent`,
    };
  }
  return { side: open === 'long' ? 'sell' : 'buy', quantity: absDecimal(position.quantity) };
}

export function directionOf(position: Position): 'buy' | 'sell' | undefined {
  const held = parseDecimal(position.quantity);
  return held > ZERO ? 'buy' : held < ZERO ? 'sell' : undefined;
}

/** Why an entry must not go, given the position: the route ignores entries in an open direction, or `add` has nothing to add to. */
export function entryRefusal(order: PositionOrder, position: Position, side: 'buy' | 'sell' | undefined): string | undefined {
  const direction = side === 'buy' ? 'long' : 'short';
  const sameOpen = side !== undefined && directionOf(position) === side;
  if (order.positionRule === 'if_open' && !sameOpen) {
    return `no_position: add needs an open ${side ? `${direction} ` : ''}${order.symbol} position to add to; there is none`;
  }
  if (order.positionRule === 'unless_open' && sameOpen) {
    return `position_open: a ${direction} ${order.symbol} position of ${absDecimal(position.quantity)} is already open and this route ignores entries in an open direction`;
  }
  return undefined;
}
