/** A paper order resting on the book, as the crossing check reads it. */
export interface RestingOrder {
  side: 'buy' | 'sell';
  orderType: string;
  limitPrice: string | null;
  stopPrice: string | null;
}

export interface Quote {
  price: string;
  at: Date;
}

/**
 * The fill of a resting order by the first price that crosses it, of the prices quoted after it was placed
 * (oldest first), or undefined. A limit fills at that price (its limit or better); a stop triggers when a
 * price reaches it and fills at that price; a stop-limit triggers the same way, then fills at the first price
 * from the trigger on that is within its limit.
 */
export function crossingFill<Q extends Quote>(order: RestingOrder, quotes: Q[]): Q | undefined {
  const buy = order.side === 'buy';
  const withinLimit = (q: Quote) =>
    order.limitPrice !== null && (buy ? Number(q.price) <= Number(order.limitPrice) : Number(q.price) >= Number(order.limitPrice));
  const reachesStop = (q: Quote) => order.stopPrice !== null && (buy ? Number(q.price) >= Number(order.stopPrice) : Number(q.price) <= Number(order.stopPrice));
  switch (order.orderType) {
    case 'limit':
      return quotes.find(withinLimit);
    case 'stop':
      return quotes.find(reachesStop);
    case 'stop_limit': {
      const trigger = quotes.findIndex(reachesStop);
      return trigger < 0 ? undefined : quotes.slice(trigger).find(withinLimit);
    }
    default:
      return undefined;
  }
}
