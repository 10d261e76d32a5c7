import type { TSchema } from "@sinclair/typebox";
import type { OpenAPIV3 } from "openapi-types";
import { ErrorBody } from "../schema.ts";

/**
 * A TypeBox schema as an OpenAPI schema object. They are the same JSON Schema; only the typings
 * disagree (draft-2020 `exclusiveMaximum: number` vs OpenAPI 3.0's boolean), hence the cast.
 */
const docSchema = (schema: TSchema): OpenAPIV3.SchemaObject => schema as unknown as OpenAPIV3.SchemaObject;

export const jsonContent = (schema: TSchema) => ({ "application/json": { schema: docSchema(schema) } });

export const errorResponse = (description: string): OpenAPIV3.ResponseObject => ({ description, content: jsonContent(ErrorBody) });

/** The errors of a request the gateway routes to a provider, past its own validation (a 400, told apart per route). */
export const routedErrors = () => ({
  401: errorResponse("Missing or invalid client key"),
  403: errorResponse("The client key has a budget and the model has no known price (`model_not_priced`)"),
  404: errorResponse("No such model, or one the client key may not use (`model_not_found`)"),
  413: errorResponse("Request body over the size limit"),
  429: errorResponse("Rate limit exceeded (`rate_limit_exceeded`; `Retry-After` says when to try again), or the client key's budget spent (`insufficient_quota`)"),
  502: errorResponse("The upstream provider failed"),
  503: errorResponse("No provider is configured, every target of the model is cooling down, or chatgate is shutting down"),
  504: errorResponse("The upstream provider did not answer in time"),
});
