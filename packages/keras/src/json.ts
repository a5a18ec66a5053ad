/** Plain JSON as Keras writes it (config.json, `model_config`). */
export type Json = null | boolean | number | string | Json[] | JsonObject;
export interface JsonObject {
  [key: string]: Json;
}

export function isObject(value: Json | undefined): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function parseJson(text: string, what: string, fail: (message: string, cause: unknown) => Error): Json {
  try {
    return JSON.parse(text) as Json;
  } catch (cause) {
    throw fail(`${what} is not valid JSON`, cause);
  }
}
