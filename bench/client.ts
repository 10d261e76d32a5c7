// What a client sends a target and how its answer is checked, for either wire it may speak:
// OpenAI's chat completions (every target in the OpenAI scenarios, chatgate in the translated
// ones) or Anthropic's Messages API (direct and passthrough in the translated ones, every target in
// the Messages ones).
import type { TargetName } from "./commands.ts";
import { type Expectation, type VerifyLevel, verifyCompletion, verifyStreamFull, verifyStreamLight } from "./verify.ts";
import { verifyEventsFull, verifyEventsLight, verifyMessage } from "./verify-anthropic.ts";
import { ANTHROPIC_MODEL, ANTHROPIC_VERSION, anthropicRequestBody } from "./wire-anthropic.ts";
import { type BenchKnobs, MODEL, requestBody } from "./wire.ts";

export type Wire = "openai" | "anthropic";
/** The API the mock upstream speaks in a scenario. */
export type UpstreamApi = Wire;
/**
 * What chatgate is asked, with an Anthropic upstream: `openai` (the translated scenarios: a chat
 * completion it translates both ways) or `anthropic` (the Messages ones: the Messages request on
 * its own `/v1/messages`, relayed as is).
 */
export type GatewayFront = Wire;

/** chatgate's public model name routed to the Anthropic provider pointing at the mock (targets.ts writes the route). */
export const TRANSLATED_MODEL = "bench-translated";
/**
 * chatgate's public name for the Messages scenarios: the mock's Anthropic model itself, routed to
 * the same provider, so chatgate sends the client's bytes unchanged (no `model` to replace) and all
 * three targets send the mock the same request.
 */
export const MESSAGES_MODEL = ANTHROPIC_MODEL;

export const PATHS: Record<Wire, string> = { openai: "/v1/chat/completions", anthropic: "/v1/messages" };

/**
 * The wire a client speaks to a target, and the model it asks for: direct and passthrough relay
 * Anthropic's wire as is; chatgate (either target) takes OpenAI's and translates, or with the
 * `anthropic` front takes the Messages request on /v1/messages and relays it.
 */
export function clientWire(upstream: UpstreamApi, target: TargetName, front: GatewayFront = "openai"): { wire: Wire; model: string } {
  if (upstream === "openai") return { wire: "openai", model: MODEL };
  const relays = target === "direct" || target === "passthrough";
  if (relays) return { wire: "anthropic", model: ANTHROPIC_MODEL };
  return front === "anthropic" ? { wire: "anthropic", model: MESSAGES_MODEL } : { wire: "openai", model: TRANSLATED_MODEL };
}

export interface ClientSpec {
  wire: Wire;
  model: string;
  apiKey: string;
  stream: boolean;
  promptBytes: number;
  knobs: BenchKnobs;
}

/** Body and headers. Keys go as each API takes them: a bearer header, or x-api-key with anthropic-version. */
export function clientRequest(spec: ClientSpec): { body: string; headers: Record<string, string> } {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (spec.wire === "anthropic") {
    if (spec.apiKey) headers["x-api-key"] = spec.apiKey;
    headers["anthropic-version"] = ANTHROPIC_VERSION;
    return { body: anthropicRequestBody({ stream: spec.stream, promptBytes: spec.promptBytes }), headers };
  }
  if (spec.apiKey) headers.authorization = `Bearer ${spec.apiKey}`;
  return { body: requestBody({ model: spec.model, stream: spec.stream, promptBytes: spec.promptBytes, knobs: spec.knobs }), headers };
}

type Verifier = (text: string, exp: Expectation) => string | null;

export function verifierFor(wire: Wire, stream: boolean, level: VerifyLevel): Verifier {
  if (!stream) return wire === "openai" ? verifyCompletion : verifyMessage;
  if (wire === "openai") return level === "full" ? verifyStreamFull : verifyStreamLight;
  return level === "full" ? verifyEventsFull : verifyEventsLight;
}

/** Strings a right non-stream answer contains besides its content, for wrk's check. */
export function answerNeedles(wire: Wire, promptChars: number): string[] {
  return wire === "openai"
    ? [`"prompt_tokens":${promptChars},`, '"finish_reason":"stop"']
    : [`"input_tokens":${promptChars},`, '"stop_reason":"end_turn"'];
}
