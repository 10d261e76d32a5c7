// The start-up note for stream resume asked for where it can never happen.
import { describe, expect, test } from "bun:test";
import { resumeNotes } from "../../src/banner.ts";
import { parseConfig } from "../../src/config.ts";
import { validate } from "../../src/config/load-file.ts";
import { resolveRouting } from "../../src/config/routing.ts";

function fromYaml(yaml: string, env: Record<string, string> = {}) {
  const base = parseConfig(env);
  return { ...base, ...resolveRouting(validate(Bun.YAML.parse(yaml), env), base) };
}

describe("resume notes at start-up", () => {
  test("a route with resume: true whose targets cannot continue gets a note naming it", () => {
    const config = fromYaml("providers: [{id: a, type: openai, base_url: 'http://127.0.0.1:9/v1'}]\nmodels:\n  smart: {resume: true, targets: [{provider: a, model: m}]}\n");
    expect(resumeNotes(config)).toEqual([expect.stringContaining("model 'smart' has resume: true, but none of its targets can continue")]);
  });

  test("one target able to continue (by its provider or its own setting) is enough: no note", () => {
    const byProvider = fromYaml("providers: [{id: a, type: openai, base_url: 'http://127.0.0.1:9/v1', continuation: prefix}]\nmodels:\n  smart: {resume: true, targets: [{provider: a, model: m}]}\n");
    const byTarget = fromYaml("providers: [{id: a, type: openai, base_url: 'http://127.0.0.1:9/v1'}]\nmodels:\n  smart: {resume: true, targets: [{provider: a, model: m, continuation: vllm}]}\n");
    const off = fromYaml("providers: [{id: a, type: openai, base_url: 'http://127.0.0.1:9/v1'}]\nmodels:\n  smart: {targets: [{provider: a, model: m}]}\n");
    for (const config of [byProvider, byTarget, off]) expect(resumeNotes(config)).toEqual([]);
  });

  test("CHATGATE_RESUME=1 without CHATGATE_CONTINUATION is noted; with it, not", () => {
    expect(resumeNotes(parseConfig({ OPENAI_API_KEY: "sk", CHATGATE_RESUME: "1" }))).toEqual([expect.stringContaining("CHATGATE_RESUME=1 has no effect")]);
    expect(resumeNotes(parseConfig({ OPENAI_API_KEY: "sk", CHATGATE_RESUME: "1", CHATGATE_CONTINUATION: "prefill" }))).toEqual([]);
    expect(resumeNotes(parseConfig({ OPENAI_API_KEY: "sk" }))).toEqual([]);
  });
});
