// OpenAI's embeddings API over fetch, for OpenAIProvider: loaded on the first embeddings call, so
// a gateway that only chats never loads it.
import { badGateway } from "../errors.ts";
import { readEmbeddings } from "./embeddings-usage.ts";
import { callHeaders, type CallOptions, type EmbeddingCall, type Embeddings } from "./provider.ts";
import { postForText, type TextUpstream } from "./post-for-text.ts";
import { serialisedWith } from "./request-body.ts";

/** What an embeddings call needs of its provider: a whole-answer upstream and its `{baseUrl}/embeddings`. */
export interface EmbeddingsUpstream extends TextUpstream {
  url: string;
  headers: Record<string, string>;
}

/** The client's bytes when the target's model is the one it asked for, else the request serialised once with it. */
export function embeddingsBody(call: EmbeddingCall, model: string): string | Uint8Array {
  return model === call.body.model ? call.raw : serialisedWith(call, { model });
}

/** Posts the call and returns the upstream's answer as its own text, with the usage read from it. */
export async function postEmbeddings(up: EmbeddingsUpstream, call: EmbeddingCall, options: CallOptions): Promise<Embeddings> {
  const json = await postForText(up, up.url, callHeaders(up.headers, call), embeddingsBody(call, options.model), options);
  const read = readEmbeddings(json);
  if (read === undefined) throw badGateway(`Provider '${up.id}' answered with a body that is not an embeddings list.`);
  return { json, usage: read.usage };
}
