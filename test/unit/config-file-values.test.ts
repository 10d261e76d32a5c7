// The config file's value rules on their own: durations, ${VAR} expansion, the field notation,
// and the YAML error line.
import { describe, expect, test } from "bun:test";
import { formatDuration, parseDuration } from "../../src/config/duration.ts";
import { expandEnv } from "../../src/config/expand-env.ts";
import { FieldError, fieldPath, pointerToField } from "../../src/config/field-error.ts";
import { FileConfig } from "../../src/config/file-schema.ts";
import { typeReferences } from "../../src/config/typed-references.ts";
import { parseYaml } from "../../src/config/load-file.ts";
import { maskHeader, maskUrl } from "../../src/config/check-config.ts";

function fieldError(run: () => unknown): FieldError {
  try {
    run();
  } catch (err) {
    if (err instanceof FieldError) return err;
    throw err;
  }
  throw new Error("no FieldError");
}

describe("durations", () => {
  test("a number and a unit become milliseconds", () => {
    const cases: [string, number][] = [["1500ms", 1500], ["3s", 3000], ["1.5s", 1500], ["10m", 600_000], ["1h", 3_600_000], ["90d", 7_776_000_000], ["0.5d", 43_200_000], ["0s", 0], ["0.0004s", 0]];
    for (const [text, ms] of cases) expect(parseDuration(text)).toBe(ms);
  });

  test("a bare number, a unit alone, a sign, a compound or an unknown unit is not a duration", () => {
    for (const text of ["30", "", "s", "-1s", "1m30s", "3 sec", "1w", "1.s", "1e3ms"]) expect(parseDuration(text)).toBeUndefined();
  });

  test("milliseconds print in the largest exact unit", () => {
    expect([0, 1500, 3000, 60_000, 600_000, 3_600_000, 5_400_000, 7_776_000_000, 90_000_000].map(formatDuration)).toEqual(["0s", "1500ms", "3s", "1m", "10m", "1h", "90m", "90d", "25h"]);
  });
});

describe("${VAR} expansion", () => {
  const env = { KEY: "sk-1", EMPTY: "", HOST_PART: "example.com" };

  test("expands every string value, in lists and mappings, leaving keys and other types alone", () => {
    const doc = { "${KEY}": "x", a: "${KEY}", b: ["https://${HOST_PART}/v1", 3, true, null], c: { d: "pre-${KEY}-${HOST_PART}" } };
    expect(expandEnv(doc, env)).toEqual({ "${KEY}": "x", a: "sk-1", b: ["https://example.com/v1", 3, true, null], c: { d: "pre-sk-1-example.com" } });
  });

  test("$${ is a literal ${, and a lone $ is itself", () => {
    expect(expandEnv("$${KEY} costs $5 and ${KEY}", env)).toBe("${KEY} costs $5 and sk-1");
  });

  test("a variable set to an empty string expands to one", () => {
    expect(expandEnv("[${EMPTY}]", env)).toBe("[]");
  });

  test("an unset variable refuses, naming the variable and the field", () => {
    const err = fieldError(() => expandEnv({ providers: [{ id: "a" }, { api_key: "${ANTHROPIC_API_KEY}" }] }, env));
    expect(err.message).toBe("providers[1].api_key: environment variable ANTHROPIC_API_KEY is not set");
  });

  test("an unclosed ${ or one that is not a variable name refuses, saying how to write a literal", () => {
    expect(fieldError(() => expandEnv({ a: "${KEY" }, env)).message).toBe("a: unclosed ${ (write $${ for a literal ${)");
    expect(fieldError(() => expandEnv({ a: "${KEY:-x}" }, env)).message).toContain("${KEY:-x} is not an environment variable name");
  });
});

describe("${VAR} in a number or boolean setting", () => {
  const env = { N: "3", YES: "true", KEY: "123" };

  test("is typed where the schema wants a number or boolean, and nowhere else", () => {
    const doc = { retries: "${N}", trust_proxy: "${YES}", providers: [{ id: "a", type: "openai", api_key: "${KEY}", drop_params: "${YES}" }], host: "${N}" };
    expect(typeReferences(FileConfig, doc, env)).toEqual({ retries: 3, trust_proxy: true, providers: [{ id: "a", type: "openai", api_key: "${KEY}", drop_params: true }], host: "${N}" });
  });

  test("leaves a shape the schema does not expect, an unknown key and $${ as they are", () => {
    const doc = { providers: { a: "${N}" }, models: [], retries: "$${N}", retires: "${N}" };
    expect(typeReferences(FileConfig, doc, env)).toEqual(doc);
  });

  test("a value that does not fit names the reference and its text", () => {
    const err = fieldError(() => typeReferences(FileConfig, { rate_limit: { max: "${YES}" } }, env));
    expect(err.message).toBe('rate_limit.max: ${YES} is "true", expected a whole number of 0 or more');
  });
});

describe("field notation", () => {
  test("list indexes in brackets, plain keys dotted, keys with punctuation quoted", () => {
    expect(fieldPath(fieldPath(fieldPath("", "providers"), 1), "base_url")).toBe("providers[1].base_url");
    expect(fieldPath(fieldPath("models", "gpt-4.1"), "targets")).toBe('models["gpt-4.1"].targets');
    expect(fieldPath(fieldPath("providers[0]", "headers"), "x-team")).toBe("providers[0].headers.x-team");
  });

  test("a JSON pointer reads as the file's notation, telling lists from mappings by the value", () => {
    const doc = { providers: [{}, {}], models: { "0": {}, "a/b": {} } };
    expect(pointerToField("/providers/1/base_url", doc)).toBe("providers[1].base_url");
    expect(pointerToField("/models/0/targets", doc)).toBe('models["0"].targets');
    expect(pointerToField("/models/a~1b", doc)).toBe('models["a/b"]');
  });
});

describe("YAML syntax errors name the line", () => {
  const cases: [string, number][] = [
    ["port: 3000\nproviders: [\n  {id: a\nretries: 2\n", 2],
    ["port: 3000\n\tretries: 2\n", 2],
    ["port: 3000\nretries: 2\n  cooldown: 3s\n", 3],
    ['port: 3000\nhost: "127.0.0.1\nretries: 2\n', 2],
    ["port: 3000\nretries: *nope\n", 2],
  ];
  for (const [text, line] of cases) {
    test(`${JSON.stringify(text)} → line ${line}`, () => {
      const err = fieldError(() => parseYaml(text));
      expect(err.field).toBe(`line ${line}`);
      expect(err.problem).toStartWith("not valid YAML (");
    });
  }
});

describe("check-config masking", () => {
  test("header values are masked except for headers known to carry no secret", () => {
    expect(maskHeader("api-key", "k")).toBe("***");
    expect(maskHeader("x-team", "research")).toBe("***");
    expect(maskHeader("Anthropic-Beta", "tools-2024")).toBe("tools-2024");
  });

  test("a URL's user, password and query values are masked", () => {
    expect(maskUrl("https://u:p@example.com/v1?key=s3cret&x=1")).toBe("https://***:***@example.com/v1?key=***&x=***");
    expect(maskUrl("http://127.0.0.1:11434/v1")).toBe("http://127.0.0.1:11434/v1");
  });
});
