/**
 * The seed's image-recognition scenario: image names arrive on an input topic, a pretrained
 * ImageNet CNN (MobileNet v1 0.75) labels each image, the label goes to an output topic.
 *
 * Run: pnpm demo   (or: pnpm --filter @rxml/example-image-recognition start [options])
 *   --mode paths|bytes   message value is the image's path under --images (default) or its bytes
 *   --images DIR         the image root (default: the seed images in ../shared/seed/images)
 *   --repeat N           send every image N times (default 1)
 *   --no-kafka           run the same pipeline without a broker (also the fallback without Java)
 *   --cache-dir DIR      model cache (default ~/.cache/rxml/models)
 * KAFKA_BROKERS=host:port uses that broker instead of starting the embedded one.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { MultiBar, Presets } from 'cli-progress';
import { from, lastValueFrom, tap, type Observable } from 'rxjs';
import { loadImageModel, type ImageModel } from '@rxml/core';
import { describe, recognizeImages, type ImageMessage, type Labelled, type Mode } from './pipeline.js';
import { kafkaTransportBuilt, runOnKafka } from './kafka.js';

const { values: args } = parseArgs({
  options: {
    mode: { type: 'string', default: 'paths' },
    images: { type: 'string' },
    repeat: { type: 'string', default: '1' },
    'no-kafka': { type: 'boolean', default: false },
    'cache-dir': { type: 'string' },
  },
});

const mode = args.mode as Mode;
if (mode !== 'paths' && mode !== 'bytes') throw new Error(`--mode must be paths or bytes, not ${args.mode}`);
const repeat = Math.max(1, Number.parseInt(args.repeat, 10) || 1);

/** The read-only shared data beside the repository (one level further up from a git worktree). */
function sharedDir(): string | undefined {
  const repo = fileURLToPath(new URL('../../../', import.meta.url));
  const candidates = [process.env['RXML_SHARED_DIR'], join(repo, '../shared'), join(repo, '../../shared')];
  return candidates.find((dir) => dir !== undefined && existsSync(join(dir, 'seed', 'images')));
}

function javaAvailable(): boolean {
  const probe = spawnSync('java', ['-version'], { stdio: 'ignore' });
  return probe.error === undefined && probe.status === 0;
}

const shared = sharedDir();
const root = resolve(args.images ?? (shared === undefined ? '.' : join(shared, 'seed', 'images')));
const names = (await readdir(root)).filter((name) => /\.(jpe?g|png|webp|gif)$/i.test(name)).sort();
if (names.length === 0) throw new Error(`no images in ${root}`);

// Without an explicit mirror, the shared copy beside the repo stands in for the public download.
let mirror = process.env['RXML_MODEL_MIRROR'];
if ((mirror === undefined || mirror === '') && shared !== undefined && existsSync(join(shared, 'models'))) {
  mirror = join(shared, 'models');
}
const model: ImageModel = await loadImageModel('mobilenet_v1_0.75_224', {
  ...(args['cache-dir'] === undefined ? {} : { cacheDir: args['cache-dir'] }),
  ...(mirror === undefined ? {} : { mirror }),
});

try {
  const messages: ImageMessage[] = [];
  for (let round = 0; round < repeat; round++) {
    for (const name of names) {
      messages.push({ key: name, value: mode === 'paths' ? Buffer.from(name) : await readFile(join(root, name)) });
    }
  }
  console.log(`model ${model.model.name}@${model.model.version} on ${model.model.runtime}; ${messages.length} images from ${root} (${mode})`);

  const pipeline = recognizeImages(model, { mode, root });
  const brokers = process.env['KAFKA_BROKERS'];
  let transport: 'kafka' | 'memory' = 'kafka';
  if (args['no-kafka']) {
    transport = 'memory';
    console.log('running without Kafka (--no-kafka)');
  } else if (!kafkaTransportBuilt) {
    transport = 'memory';
    console.log('the Kafka transport is not in this build yet: running the same pipeline without Kafka');
  } else if ((brokers === undefined || brokers === '') && !javaAvailable()) {
    transport = 'memory';
    console.log('Java not found, so no embedded Kafka broker: running the same pipeline without Kafka');
  }

  const progress = messages.length > 5 && process.stderr.isTTY ? new MultiBar({ stream: process.stderr, clearOnComplete: true }, Presets.shades_classic) : undefined;
  const bar = progress?.create(messages.length, 0);
  const print = (line: string): void => (progress === undefined ? console.log(line) : progress.log(`${line}\n`));
  const report = (labelled$: Observable<Labelled>): Observable<Labelled> =>
    labelled$.pipe(
      tap(({ result }) => {
        print(describe(result));
        bar?.increment();
      }),
    );

  const started = performance.now();
  let outputs: Labelled[];
  if (transport === 'memory') {
    const collected: Labelled[] = [];
    await lastValueFrom(from(messages).pipe(pipeline, report, tap((l) => collected.push(l))), { defaultValue: undefined });
    outputs = collected;
  } else {
    outputs = await runOnKafka(messages, (in$) => in$.pipe(pipeline, report), brokers, print);
  }
  progress?.stop();
  const ms = performance.now() - started;
  const ok = outputs.filter((l) => l.result.ok).length;
  console.log(
    `${ok} labelled, ${outputs.length - ok} refused, in ${(ms / 1000).toFixed(2)} s (${((outputs.length / ms) * 1000).toFixed(1)} images/s)${transport === 'kafka' ? ' via Kafka' : ''}`,
  );
} finally {
  model.dispose();
}
