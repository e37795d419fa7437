/**
 * The addresses TradingView documents as the senders of its webhook alerts
 * (https://www.tradingview.com/support/solutions/43000529348). Sources store the preset's
 * name, not these values, so an update here reaches every source that uses it.
 */
export const TRADINGVIEW_PRESET = 'tradingview';

export const TRADINGVIEW_WEBHOOK_IPS: readonly string[] = ['52.89.214.238', '34.212.75.30', '54.218.53.128', '52.32.178.7'];
