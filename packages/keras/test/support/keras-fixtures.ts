import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { TensorData } from '@rxml/core';

/** Fixtures written by scripts/keras-fixtures/make_keras_fixtures.py with real Keras. */
export const KERAS_FIXTURES = fileURLToPath(new URL('../fixtures/keras/', import.meta.url));

type Nested = number | Nested[];

export interface KerasExpectation {
  readonly model: string;
  readonly keras_version: string;
  readonly inputs: readonly { name: string; dtype: string; shape: number[]; data: Nested }[];
  readonly outputs: readonly { name: string; shape: number[]; data: Nested }[];
}

export function readExpectation(flavor: string, model: string): KerasExpectation {
  return JSON.parse(readFileSync(`${KERAS_FIXTURES}${flavor}/${model}.json`, 'utf8')) as KerasExpectation;
}

export function flatten(value: Nested): number[] {
  return Array.isArray(value) ? value.flatMap(flatten) : [value];
}

export function toTensorData(entry: { dtype?: string; shape: number[]; data: Nested }): TensorData {
  const flat = flatten(entry.data);
  return { data: entry.dtype?.startsWith('int') === true ? Int32Array.from(flat) : Float32Array.from(flat), shape: entry.shape };
}

/** Every saved model file with its flavor and base name, e.g. `tf2/simple_mlp.h5`. */
export function fixtureFiles(): { flavor: string; model: string; file: string }[] {
  const out: { flavor: string; model: string; file: string }[] = [];
  for (const flavor of ['tf2', 'keras3']) {
    for (const file of readdirSync(`${KERAS_FIXTURES}${flavor}`).sort()) {
      const match = /^([a-z_]+)\.(h5|keras)$/.exec(file);
      if (match?.[1] !== undefined && match[1] !== 'custom_layer') out.push({ flavor, model: match[1], file: `${flavor}/${file}` });
    }
  }
  return out;
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs((a[i] ?? NaN) - (b[i] ?? NaN)));
  return Number.isNaN(max) ? Infinity : max;
}
