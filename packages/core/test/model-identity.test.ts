import { Subject, lastValueFrom, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { MAX_MODEL_ID_BYTES, UNKNOWN_MODEL, loadIrisModel, modelIdentityProblem, predictIris, type Model, type ModelLifecycleMessage } from '../src/index.js';
import { numTensors } from './support/helpers.js';

describe('model name / version bound', () => {
  it('accepts up to 256 bytes of UTF-8 without control characters', () => {
    expect(MAX_MODEL_ID_BYTES).toBe(256);
    expect(modelIdentityProblem('version', 'v'.repeat(256))).toBeUndefined();
    expect(modelIdentityProblem('name', 'iris-kandidat-ä')).toBeUndefined();
    expect(modelIdentityProblem('version', 'v'.repeat(257))).toMatch(/257 bytes.*over the limit of 256 bytes/);
    expect(modelIdentityProblem('version', 'ä'.repeat(129))).toMatch(/258 bytes/);
    expect(modelIdentityProblem('name', 'a\nb')).toMatch(/control character \(U\+000A\) at index 1/);
    expect(modelIdentityProblem('name', '')).toMatch(/empty/);
  });

  it("an operator refuses a streamed Model whose version is 900 KB (event without the long text), and the next good version serves", async () => {
    (await loadIrisModel()).dispose();
    const before = numTensors();
    const events: ModelLifecycleMessage[] = [];
    const models = new Subject<Model>();
    const huge = await loadIrisModel();
    const oversized: Model = Object.assign(Object.create(huge) as Model, { version: 'V'.repeat(900_000), dispose: () => huge.dispose() });
    const input = new Subject<string>();
    const done = lastValueFrom(input.pipe(predictIris(models, { onModelEvent: (e) => events.push(e) }), toArray()));
    input.next('5.1,3.5,1.4,0.2');
    models.next(oversized);
    expect(events[0]).toMatchObject({ type: 'refused', name: 'iris', version: UNKNOWN_MODEL, operator: 'predictIris' });
    expect(events[0]!.reason).toMatch(/version is 900000 bytes/);
    expect(JSON.stringify(events[0]).length).toBeLessThan(2_000);
    models.next(await loadIrisModel());
    input.complete();
    const results = await done;
    expect(results.map((r) => r.ok && r.model.version.length <= 256)).toEqual([true]);
    expect(numTensors()).toBe(before);
  });
});
