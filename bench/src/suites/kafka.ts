export async function kafkaSuite(_quick: boolean): Promise<unknown> {
  return { backend: 'wasm', todo: true };
}
