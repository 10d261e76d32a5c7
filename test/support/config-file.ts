// Temporary config files for routing tests: the document is written as JSON, which is YAML too,
// so the gateway reads it through the same Bun.YAML path as an operator's file.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FakeAnthropic } from "./fake-anthropic.ts";
import type { FakeOpenAI } from "./upstream.ts";

export interface ProviderDoc {
  id: string;
  type: "openai" | "anthropic" | "mock";
  base_url?: string;
  api_key?: string;
  models?: string[];
  timeouts?: { first_byte?: string; idle?: string; total?: string };
  headers?: Record<string, string>;
  drop_params?: boolean;
}

export interface TargetDoc {
  provider: string;
  model: string;
  weight?: number;
  /** USD per 1M tokens, as a target's `price:` in the file. */
  price?: { input: number; output: number; cached_input?: number };
}

/** The config file's keys that routing tests use (the file takes more: see chatgate.example.yaml). */
export interface ConfigDoc {
  providers?: ProviderDoc[];
  models?: Record<string, { strategy?: "priority" | "weighted"; targets: TargetDoc[] }>;
  retries?: number;
  max_retry_wait?: string;
  cooldown_after?: number;
  cooldown?: string;
  timeout?: string;
}

/** The provider key a test gives provider `id`: a secret that must never reach a client. */
export const keyOf = (id: string) => `sk-${id}-secret-0123456789`;

/** An OpenAI-compatible provider `id` in front of `fake`, with its own key. */
export const openaiAt = (id: string, fake: FakeOpenAI, extra: Partial<ProviderDoc> = {}): ProviderDoc => ({
  id, type: "openai", base_url: fake.url, api_key: keyOf(id), ...extra,
});

/** A native Anthropic provider `id` in front of `fake`, with its own key. */
export const anthropicAt = (id: string, fake: FakeAnthropic, extra: Partial<ProviderDoc> = {}): ProviderDoc => ({
  id, type: "anthropic", base_url: fake.url, api_key: keyOf(id), ...extra,
});

let dir: string | undefined;
let count = 0;

/** Writes `doc` to a fresh file under one temporary directory (removed when the process exits). */
export function writeConfig(doc: ConfigDoc): string {
  return writeYaml(JSON.stringify(doc, null, 2));
}

/** Writes `yaml`, as written, to a fresh file under the same directory; returns its path. */
export function writeYaml(yaml: string): string {
  if (dir === undefined) {
    const made = mkdtempSync(join(tmpdir(), "chatgate-routing-"));
    dir = made;
    process.on("exit", () => rmSync(made, { recursive: true, force: true }));
  }
  const path = join(dir, `config-${++count}.yaml`);
  writeFileSync(path, yaml);
  return path;
}

/**
 * The environment that runs a gateway on `doc`. The test defaults turn retries and cooldown off
 * by environment variable, which would win over the file: where `doc` sets them, the variables
 * are blanked (blank counts as unset), so the file's values are the ones tested.
 */
export function routedEnv(doc: ConfigDoc): Record<string, string> {
  const env: Record<string, string> = { CHATGATE_CONFIG: writeConfig(doc) };
  if (doc.retries !== undefined) env.CHATGATE_RETRIES = "";
  if (doc.cooldown_after !== undefined) env.CHATGATE_COOLDOWN_AFTER = "";
  return env;
}
