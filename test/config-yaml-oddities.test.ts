// What YAML does quietly to a config file, named with the file, the line or the field, and the fix:
// a second document, a key YAML rewrites (1.50 → "1.5", ~ → "null"), a key that is a list, and an
// id or model name that YAML reads as a number. A number key written as its own text is a name.
import { describe, expect, test } from "bun:test";
import { ConfigError, parseConfig } from "../src/config.ts";
import { writeYaml as file } from "./support/config-file.ts";
import { runGateway, SOURCE_CMD } from "./support/process.ts";

function refusal(yaml: string): string {
  const path = file(yaml);
  try {
    parseConfig({}, { config: path });
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    expect(err.message).toStartWith(`${path}: `);
    return err.message.slice(path.length + 2);
  }
  throw new Error(`accepted:\n${yaml}`);
}

const P = "providers:\n  - {id: m, type: mock}\n";
const TARGET = "{targets: [{provider: m, model: mock}]}";
const DIGEST = `sha256:${"ab".repeat(32)}`;

describe("refused, naming the line or the field", () => {
  const cases: [string, string][] = [
    [`${P}---\nmodels: {}\n`, "line 3: a second YAML document starts here (---): chatgate reads one document, so put every setting in the first and remove this ---"],
    [`---\n${P}---\n`, "line 4: a second YAML document starts here (---): chatgate reads one document, so put every setting in the first and remove this ---"],
    // The first document empty (a comment, its ---): the settings are in the second, which is the one ignored.
    [`# chatgate\n---\n---\n${P}`, "line 3: a second YAML document starts here (---): chatgate reads one document, so put every setting in the first and remove this ---"],
    [`${P}models:\n  fast: ${TARGET}\n  1.50: ${TARGET}\n`, 'line 5: the key 1.50 is the number 1.5 to YAML and would be read as "1.5": put it in quotes ("1.50") to keep it as written'],
    [`${P}models: {fast: ${TARGET}, 007: ${TARGET}}\n`, 'line 3: the key 007 is the number 7 to YAML and would be read as "7": put it in quotes ("007") to keep it as written'],
    [`${P}models:\n  ~: ${TARGET}\n`, 'line 4: the key ~ is null to YAML and would be read as "null": put it in quotes ("~") to keep it as written'],
    [`${P}models:\n  [a, b]: ${TARGET}\n`, "line 4: a key that is a list or a mapping: a key must be a name"],
    [`${P}1: x\n`, '["1"]: unknown key: 1 is a number, and no setting here is named by one (chatgate.example.yaml lists every key)'],
    ["providers:\n  - {id: m, type: mock, 2: x}\n", 'providers[0]["2"]: unknown key: 2 is a number, and no setting here is named by one (expected one of id, type)'],
    [`${P}keys:\n  - {id: 123, key: "${DIGEST}"}\n`, 'keys[0].id: expected text, but YAML reads 123 as a number: put it in quotes, exactly as you mean it'],
    ["providers:\n  - {id: 7, type: mock}\n", 'providers[0].id: expected text, but YAML reads 7 as a number: put it in quotes, exactly as you mean it'],
    [`${P}models:\n  fast: {targets: [{provider: m, model: 4}]}\n`, 'models.fast.targets[0].model: expected text, but YAML reads 4 as a number: put it in quotes, exactly as you mean it'],
  ];
  for (const [yaml, message] of cases) test(message, () => expect(refusal(yaml)).toBe(message));
});

describe("accepted", () => {
  test("a model named by a number written as its own text (4, 1.5) or with a digit first (4o) is that name", () => {
    const config = parseConfig({}, { config: file(`${P}models:\n  4: ${TARGET}\n  1.5: ${TARGET}\n  4o: ${TARGET}\n`) });
    expect(Object.keys(config.models).sort()).toEqual(["1.5", "4", "4o"]);
  });

  test("--- and number-like keys inside a block scalar or in quotes are text, not documents or keys", () => {
    const yaml = `${P}models:\n  "1.50": ${TARGET}\n  '007': ${TARGET}\nhooks: {}\nproviders_note_ignored: 0\n`;
    expect(refusal(yaml)).toStartWith("providers_note_ignored: unknown key"); // reached the schema: no line refused
    const scalar = `---\n${P}  - id: o\n    type: openai\n    base_url: http://127.0.0.1:9/v1\n    headers:\n      x-note: >-\n        1.50: not a key\n        ---\n        ~: nor this\n`;
    expect(parseConfig({}, { config: file(scalar) }).providers.map((p) => p.id)).toEqual(["m", "o"]);
  });
});

describe("from the command line", () => {
  test("check-config and a start with --config print the same message; the start exits 2, refusing to start", async () => {
    const path = file(`${P}keys:\n  - {id: 123, key: "${DIGEST}"}\n`);
    const message = `${path}: keys[0].id: expected text, but YAML reads 123 as a number: put it in quotes, exactly as you mean it`;
    const checked = await runGateway([...SOURCE_CMD, "check-config", path]);
    expect(checked.code).not.toBe(0);
    expect(checked.stdout + checked.stderr).toContain(message);
    const started = await runGateway([...SOURCE_CMD, "--config", path]);
    expect(started.code).toBe(2);
    expect(started.stderr).toContain(`chatgate: refusing to start: ${message}`);

    const twoDocs = file(`${P}---\nport: 3000\n`);
    const second = await runGateway([...SOURCE_CMD, "--config", twoDocs]);
    expect(second.code).toBe(2);
    expect(second.stderr).toContain(`chatgate: refusing to start: ${twoDocs}: line 3: a second YAML document starts here (---)`);
  }, 20_000);
});
