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
 *   --runtime tfjs|onnx  run the model on tfjs (default) or ONNX Runtime (needs onnxruntime-node)
 *   --port N             port of the live page (default 8080, another free one if taken; 0: any)
 *   --no-page            no live page: exit when the images are done
 * The live page (images with labels and probabilities, throughput, latency, dead letters, lag) is
 * served from this process with /metrics and /healthz; it stays up after the run until Ctrl-C.
 * KAFKA_BROKERS=host:port uses that broker instead of starting the embedded one.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { MultiBar, Presets } from 'cli-progress';
import { from, lastValueFrom, tap } from 'rxjs';
import { loadImageModel, tfjsRuntime, type ImageModel, type ImagePrediction, type PredictResult } from '@rxml/core';
import { enableMetrics, startStatusLine } from '@rxml/metrics';
import { runOnKafka, startBroker } from './kafka.js';
import { imageBytes, LivePage } from './live-page.js';
import { describe, recognizeImages, type ImageMessage, type Mode } from './pipeline.js';

const { values: args } = parseArgs({
  options: {
    mode: { type: 'string', default: 'paths' },
    images: { type: 'string' },
    repeat: { type: 'string', default: '1' },
    'no-kafka': { type: 'boolean', default: false },
    'cache-dir': { type: 'string' },
    runtime: { type: 'string', default: 'tfjs' },
    port: { type: 'string', default: '8080' },
    'no-page': { type: 'boolean', default: false },
  },
});

const mode = args.mode as Mode;
if (mode !== 'paths' && mode !== 'bytes') throw new Error(`--mode must be paths or bytes, not ${args.mode}`);
const runtime = args.runtime;
if (runtime !== 'tfjs' && runtime !== 'onnx') throw new Error(`--runtime must be tfjs or onnx, not ${args.runtime}`);
const repeat = Math.max(1, Number.parseInt(args.repeat, 10) || 1);
const port = Number(args.port);
if (!Number.isInteger(port) || port < 0 || port > 65_535) throw new Error(`--port must be 0…65535, not ${args.port}`);

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
// --images is relative to where you ran the command (pnpm's INIT_CWD), not to this example's folder.
const root = args.images !== undefined ? resolve(process.env['INIT_CWD'] ?? process.cwd(), args.images) : resolve(shared === undefined ? '.' : join(shared, 'seed', 'images'));
const names = (await readdir(root)).filter((name) => /\.(jpe?g|png|webp|gif)$/i.test(name)).sort();
if (names.length === 0) throw new Error(`no images in ${root}`);

// Metrics from the start, so the model load is counted too; the live page reads them.
const metrics = enableMetrics();
let page: LivePage | undefined;
if (!args['no-page']) {
  page = await LivePage.start({ metrics, port }).catch((error: unknown) => {
    if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE' || port === 0) throw error;
    return LivePage.start({ metrics, port: 0 });
  });
  console.log(`live page: ${page.url}  (also /metrics and /healthz; --no-page to skip)`);
}

// Without an explicit mirror, the shared copy beside the repo stands in for the public download.
let mirror = process.env['RXML_MODEL_MIRROR'];
if ((mirror === undefined || mirror === '') && shared !== undefined && existsSync(join(shared, 'models'))) {
  mirror = join(shared, 'models');
}
const model: ImageModel = await loadImageModel('mobilenet_v1_0.75_224', {
  ...(args['cache-dir'] === undefined ? {} : { cacheDir: args['cache-dir'] }),
  ...(mirror === undefined ? {} : { mirror }),
  // @rxml/onnx (and through it onnxruntime-node) is loaded only when asked for.
  runtime: runtime === 'onnx' ? (await import('@rxml/onnx')).onnxRuntime() : tfjsRuntime(),
});

try {
  const messages: ImageMessage[] = [];
  for (let round = 0; round < repeat; round++) {
    for (const name of names) {
      messages.push({ key: name, value: mode === 'paths' ? Buffer.from(name) : await readFile(join(root, name)) });
    }
  }
  console.log(`model ${model.model.name}@${model.model.version} on ${model.model.runtime}; ${messages.length} images from ${root} (${mode})`);

  const brokers = process.env['KAFKA_BROKERS'];
  let broker: Extract<Awaited<ReturnType<typeof startBroker>>, { kafka: unknown }> | undefined;
  if (args['no-kafka']) {
    console.log('running without Kafka (--no-kafka)');
  } else if ((brokers === undefined || brokers === '') && !javaAvailable()) {
    console.log('Java not found, so no embedded Kafka broker: running the same pipeline without Kafka');
  } else {
    const started = await startBroker();
    if ('missing' in started) {
      console.log(`cannot start the embedded Kafka broker (${started.missing}): running the same pipeline without Kafka`);
    } else {
      broker = started;
    }
  }
  const useKafka = broker !== undefined;

  // A bar only helps on a terminal and with more than a handful of images; lines go through it so they do not tear it.
  const progress =
    messages.length > 5 && process.stderr.isTTY ? new MultiBar({ stream: process.stderr, clearOnComplete: true, hideCursor: true }, Presets.shades_classic) : undefined;
  const bar = progress?.create(messages.length, 0);
  const print = (line: string): void => {
    if (progress === undefined) console.log(line);
    else {
      progress.log(`${line}\n`);
      // Redraw now: inference keeps the event loop busy, so the bar's own timer would fire late.
      progress.update();
    }
  };
  const onResult = (key: string, result: PredictResult<unknown, ImagePrediction>, value: Buffer | null): void => {
    bar?.increment();
    progress?.update();
    if (page !== undefined) {
      const live = page;
      void imageBytes(mode, root, value, result.ok).then((bytes) => live.add(key, result, bytes));
    }
  };

  let labelled = 0;
  let refused = 0;
  let ms: number;
  if (broker !== undefined) {
    // Timed by runOnKafka from the first fetch: broker start-up is not the pipeline's time.
    ({ labelled, refused, ms } = await runOnKafka(model, messages, broker, { mode, root, print, onResult }));
  } else {
    const started = performance.now();
    await lastValueFrom(
      from(messages).pipe(
        recognizeImages(model, { mode, root, value: (message) => message.value }),
        tap((result) => {
          print(describe(result.input.key, result));
          onResult(result.input.key, result, result.input.value);
          if (result.ok) labelled++;
          else refused++;
        }),
      ),
      { defaultValue: undefined },
    );
    ms = performance.now() - started;
  }
  progress?.stop();
  console.log(
    `${labelled} labelled, ${refused} refused, in ${(ms / 1000).toFixed(2)} s (${(((labelled + refused) / ms) * 1000).toFixed(1)} images/s)${useKafka ? ' via Kafka' : ''}`,
  );
  if (page !== undefined) {
    const stopStatus = startStatusLine(metrics, { log: (line) => console.error(line) });
    console.log(`the live page stays at ${page.url} — Ctrl-C to stop`);
    await new Promise<void>((resolve) => {
      process.once('SIGINT', () => resolve());
      process.once('SIGTERM', () => resolve());
    });
    stopStatus();
  }
} finally {
  await page?.close();
  metrics.close();
  model.dispose();
}
