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
