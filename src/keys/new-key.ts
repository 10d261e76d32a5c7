// `chatgate key new --id <id>`: a fresh random client key, printed once with the config entry that
// holds only its digest. The key itself is written nowhere: lose it and make a new one.
import { sha256 } from "../auth/keys.ts";
import { KEY_ID, KEY_ID_HINT, PLAIN_KEY_ID } from "./key-spec.ts";

export interface CommandResult {
  /** 0: printed; 2: a bad id (the message is on stderr). */
  code: 0 | 2;
  stdout: string;
  stderr: string;
}

/** 256 random bits, base64url: as strong as a key can usefully be, and safe in any header or shell. */
const KEY_BYTES = 32;
/** Says what the string is when it turns up in a paste or a secret scanner. */
export const KEY_PREFIX = "ck-";

export function newKey(id: string | undefined, random: (bytes: Uint8Array) => Uint8Array = (b) => crypto.getRandomValues(b)): CommandResult {
  if (id === undefined) return usage("key new needs --id <id>: the name the key goes by in logs, limits and the ledger");
  if (!new RegExp(KEY_ID).test(id)) return usage(`--id "${id}": ${KEY_ID_HINT}`);
  if (PLAIN_KEY_ID.test(id)) return usage(`--id "${id}": ids like key-1 are given to api_keys and CHATGATE_API_KEYS entries; choose another`);
  const key = KEY_PREFIX + Buffer.from(random(new Uint8Array(KEY_BYTES))).toString("base64url");
  const digest = Buffer.from(sha256(key)).toString("hex");
  // The id is quoted: YAML would read an id like 1.5, true or null as something other than a string.
  const entry = `  - {id: ${JSON.stringify(id)}, key: "sha256:${digest}"}`;
  const stdout = [
    `# The key for ${id}, shown this once (chatgate keeps only its digest): give it to the client now.`,
    key,
    "# Add this entry under `keys:` in the config file (add rpm, tpm, budget or models as needed), then reload (SIGHUP):",
    entry,
    "",
  ].join("\n");
  return { code: 0, stdout, stderr: "" };
}

function usage(message: string): CommandResult {
  return { code: 2, stdout: "", stderr: `chatgate: ${message}\n` };
}
