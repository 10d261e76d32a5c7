// The refusals of a key's own limits, in OpenAI's shapes: 429 `rate_limit_exceeded` (type
// `requests` or `tokens`, as OpenAI types them) with Retry-After, and 429 `insufficient_quota`.
import { GatewayError } from "../errors.ts";
import { resetDuration } from "./periods.ts";

/** Cents, or for amounts below a cent their significant digits (`$0.00042`): never a misleading `$0.00`. */
const usd = (amount: number) => `$${amount >= 0.01 || amount === 0 ? amount.toFixed(2) : Number(amount.toPrecision(2)).toFixed(10).replace(/0+$/, "")}`;
const wait = (ms: number) => `Please try again in ${resetDuration(ms)}.`;

/** Over the key's requests per minute. */
export const keyRequestsLimited = (keyId: string, limit: number, retryAfterMs: number) =>
  new GatewayError({
    status: 429, type: "requests", code: "rate_limit_exceeded", retryAfterMs,
    message: `Rate limit reached for key ${keyId} on requests per min (RPM): Limit ${limit}, Used ${limit}, Requested 1. ${wait(retryAfterMs)}`,
  });

/** Over the key's tokens per minute, counting what requests in flight have reserved. */
export const keyTokensLimited = (keyId: string, limit: number, used: number, requested: number, retryAfterMs: number) =>
  new GatewayError({
    status: 429, type: "tokens", code: "rate_limit_exceeded", retryAfterMs,
    message: `Rate limit reached for key ${keyId} on tokens per min (TPM): Limit ${limit}, Used ${used}, Requested ${requested}. ${wait(retryAfterMs)}`,
  });

/** A request that could never fit the key's tokens per minute: no wait helps, so no Retry-After. */
export const keyRequestTooLarge = (keyId: string, limit: number, requested: number) =>
  new GatewayError({
    status: 429, type: "tokens", code: "rate_limit_exceeded",
    message: `Request too large for key ${keyId} on tokens per min (TPM): Limit ${limit}, Requested ${requested} (the input's estimate; for a chat request, plus max_tokens or the default reservation for each choice). Shorten the input, or lower max_tokens.`,
  });

/**
 * Over the key's budget: OpenAI's `insufficient_quota`. `retryAfterMs` is the wait until the period
 * starts over, or undefined when this request alone could cost more than the whole budget.
 */
export function keyOverBudget(keyId: string, budgetUsd: number, period: "day" | "month", spentUsd: number, requestUsd: number, retryAfterMs?: number): GatewayError {
  const when = period === "day" ? "today (UTC)" : "this month (UTC)";
  const why =
    retryAfterMs === undefined
      ? `This request could cost up to ${usd(requestUsd)}, more than the key's whole ${period === "day" ? "daily" : "monthly"} budget of ${usd(budgetUsd)}. Lower max_tokens.`
      : `Key ${keyId} has spent ${usd(spentUsd)} of its ${usd(budgetUsd)} budget ${when} (requests in flight counted at the most they could cost), and this request could cost up to ${usd(requestUsd)}. The budget starts over in ${resetDuration(retryAfterMs)}; a lower max_tokens may fit before then.`;
  return new GatewayError({
    status: 429, type: "insufficient_quota", code: "insufficient_quota", ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
    message: `You exceeded your current quota. ${why}`,
  });
}

/**
 * A key with a budget asked for a model whose price chatgate does not know: its spend could not be
 * counted, so the budget could not hold. Refused before any upstream call, never counted as free.
 */
export const modelNotPriced = (keyId: string, model: string) =>
  new GatewayError({
    status: 403, type: "permission_error", code: "model_not_priced", param: "model",
    message: `The model \`${model}\` has no known price, and key ${keyId} has a budget that could not count its cost. Ask the operator to give its targets a price: in the config, or to use another model.`,
  });
