import { oandaStreamReader } from '../../src/brokers/oanda/oanda-orders';

/** The OANDA transaction stream's lines as order updates: an entry's fill, then the ON_FILL orders of its trade as its legs. */
describe('oandaStreamReader', () => {
  const time = '2026-12-08T01:00:00.000000000Z';
  const fill = {
    id: '7',
    time,
    type: 'ORDER_FILL',
    orderID: '6',
    clientOrderID: 'syENTRY',
    units: '-1000',
    price: '1.1',
    fullVWAP: '1.1',
    commission: '0.0000',
    tradeOpened: { tradeID: '7', units: '-1000' },
  };
  const takeProfit = {
    id: '8',
    time,
    type: 'TAKE_PROFIT_ORDER',
    tradeID: '7',
    price: '1.08',
    reason: 'ON_FILL',
    orderFillTransactionID: '7',
    clientExtensions: { id: 'syENTRY-tp' },
  };

  it("reads the entry's fill, then each ON_FILL order of the trade it opened as the same fill with that leg", () => {
    const sut = oandaStreamReader();
    const filled = sut(fill)!;
    expect(filled).toEqual({
      clientOrderId: 'syENTRY',
      state: {
        brokerOrderId: '6',
        status: 'filled',
        filledQuantity: '1000',
        averagePrice: '1.1',
        updatedAt: time,
        fills: [{ brokerFillId: '7', quantity: '1000', price: '1.1', fee: '0.0000', time }],
      },
    });
    expect(sut(takeProfit)).toEqual({
      clientOrderId: 'syENTRY',
      state: {
        ...filled.state,
        legs: [
          {
            role: 'take_profit',
            clientOrderId: 'syENTRY-tp',
            side: 'buy',
            type: 'limit',
            quantity: '1000',
            limitPrice: '1.08',
            state: { brokerOrderId: '8', status: 'accepted', filledQuantity: '0', updatedAt: time },
          },
        ],
      },
    });
    const trailing = { ...takeProfit, id: '9', type: 'TRAILING_STOP_LOSS_ORDER', price: undefined, clientExtensions: { id: 'syENTRY-sl' } };
    expect(sut(trailing)!.state.legs).toEqual([expect.objectContaining({ role: 'stop_loss', type: 'stop', clientOrderId: 'syENTRY-sl' })]);
    expect(sut(trailing)!.state.legs![0]).not.toHaveProperty('stopPrice');
  });

  it('drops a dependent order whose fill it never saw, one not created ON_FILL, or one without our client id', () => {
    expect(oandaStreamReader()(takeProfit)).toBeUndefined(); // a new stream: the fill came before it opened
    const sut = oandaStreamReader();
    sut(fill);
    expect(sut({ ...takeProfit, reason: 'CLIENT_ORDER' })).toBeUndefined();
    expect(sut({ ...takeProfit, clientExtensions: undefined })).toBeUndefined();
    expect(sut({ type: 'HEARTBEAT', time })).toBeUndefined();
  });

  it('a fill that opened no trade is not remembered: nothing of it becomes a leg', () => {
    const sut = oandaStreamReader();
    expect(sut({ ...fill, tradeOpened: undefined })?.state.status).toBe('filled');
    expect(sut(takeProfit)).toBeUndefined();
  });
});
