/**
 * The order-reply policy, in one place: IBKR asks questions about an order (`[{ id, message, messageIds }]`) and waits
 * for `POST /iserver/reply/{id}`. Switchyard confirms only the message ids below; any other question refuses the order
 * with the question as its reason (the user can answer it at IBKR's own screens, or suppress it there).
 */
const BENIGN_MESSAGE_IDS = new Map<string, string>([
  // "You are submitting an order without market data…": the account lacks a data subscription; the order is unchanged.
  ['o354', 'order without a market data subscription'],
]);

/** IBKR may ask one question after another; past this many the order is refused rather than answered forever. */
export const MAX_REPLIES = 4;

export interface IbkrQuestion {
  id: string;
  messages: string[];
  messageIds: string[];
}

/** True when every message of the question is one the policy confirms (a question without ids is never confirmed). */
export function confirmable(question: IbkrQuestion): boolean {
  return question.messageIds.length > 0 && question.messageIds.every((id) => BENIGN_MESSAGE_IDS.has(id));
}
