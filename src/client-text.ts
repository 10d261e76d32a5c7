/**
 * The longest client text (a model name, a path) a log line or a ledger row holds whole. A client
 * may send a model name as long as the body limit (16 MiB), and a provider that takes any name
 * echoes it as the upstream model: a log line was twice that (journald splits a line over 48 KiB,
 * its LineMax, into entries that are no longer JSON), and each ledger row kept it all, so requests
 * refused with a 404, even without a key, could fill the disk. Real names are far shorter; a
 * longer one keeps its head and a `…`.
 */
export const CLIENT_TEXT_MAX = 256;

export function clipClientText<T extends string | null | undefined>(text: T): T {
  return (typeof text === "string" && text.length > CLIENT_TEXT_MAX ? `${text.slice(0, CLIENT_TEXT_MAX)}…` : text) as T;
}
