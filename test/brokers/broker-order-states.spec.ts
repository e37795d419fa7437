import { alpacaOrderState } from '../../src/brokers/alpaca/alpaca-orders';
import { binanceOrderState } from '../../src/brokers/binance/binance-orders';
import { coinbaseOrderState } from '../../src/brokers/coinbase/coinbase-orders';
import { ibkrOrderState } from '../../src/brokers/ibkr/ibkr-orders';
import { oandaOrderState } from '../../src/brokers/oanda/oanda-orders';
import { tradovateOrderState } from '../../src/brokers/tradovate/tradovate-orders';

// Statuses are the broker's text: names of Object.prototype's members must read as unknown (still working), never as a table hit.
describe.each(['constructor', '__proto__', 'toString', 'hasOwnProperty'])('a broker status named %s', (status) => {
  it('reads as a working order at every broker', () => {
    const states = [
      alpacaOrderState({ id: 'a1', client_order_id: 'c', status, filled_qty: '0' } as never),
      binanceOrderState({ symbol: 'BTCUSDT', orderId: 1, clientOrderId: 'c', status, executedQty: '0.00000000', cummulativeQuoteQty: '0.00000000' }),
      coinbaseOrderState({ order_id: 'o1', client_order_id: 'c', status, filled_size: '0' }),
      oandaOrderState({ id: '7', state: status }),
      ibkrOrderState({ orderId: '9', status }),
      tradovateOrderState({ id: 11, accountId: 1, action: 'Buy', ordStatus: status }, []),
    ];
    for (const state of states) expect(state).toMatchObject({ status: 'accepted', filledQuantity: '0' });
  });
});
