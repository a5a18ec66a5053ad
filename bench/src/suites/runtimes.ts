import { from, lastValueFrom, count } from 'rxjs';
import { IRIS_MODEL_DIR, loadIrisModel, predictIris, type Model } from '@rxml/core';
import { onnxRuntime } from '@rxml/onnx';
import { combinePeaks, countFlops, measureFlopPeak, type FlopPeak } from '../flop-peak.js';
import { loadRawNetwork } from '../raw-network.js';
import { ORT_THREADS, benchRuntime, loadMobileNet, variant } from '../runtime.js';
import { rate, round } from '../stats.js';
import { FRAMES_DESCRIPTION, cameraFrames, measurePipeline } from './image-pipeline.js';

export interface RuntimesResult {
  readonly backend: string;
  readonly runtime: string;
  /** fp32 FMA peak of all cores, measured before and after the models in this process (best). */
  readonly flopPeak: FlopPeak;
  readonly mobilenetFlopsPerImage: number;
  readonly mobilenetFlopsByLayerType: Readonly<Record<string, number>>;
  /** MobileNet model alone (pre-decoded, batch 8), images/s, and its share of the peak. */
  readonly mobilenetImagesPerSec: number;
  readonly mobilenetPeakShare: number;
  /** bytes → decode → MobileNet → label (predictImage), images/s, and its share of the peak. */
  readonly pipelineImagesPerSec: number;
  readonly pipelinePeakShare: number;
  readonly pipelineImages: string;
  readonly irisFlopsPerRecord: number;
  /** predictIris at batch 512, records/s, and its share of the peak. */
  readonly irisRecordsPerSec: number;
  readonly irisPeakShare: number;
}

function irisRow(i: number): number[] {
  return [4.3 + (i % 36) / 10, 2 + (i % 24) / 10, 1 + (i % 59) / 10, 0.1 + (i % 25) / 10];
}

/** MobileNet and Iris throughput on this child's runtime, as a share of the FLOP peak measured now. */
export async function runtimesSuite(quick: boolean): Promise<RuntimesResult> {
  const peakMs = quick ? 200 : 1500;
  const before = measureFlopPeak(peakMs);

  const { image, dir, runtime } = await loadMobileNet();
  const mobileNetwork = await loadRawNetwork(dir);
  const mobileFlops = countFlops(mobileNetwork);
  mobileNetwork.dispose();
  let pipeline;
  try {
    pipeline = await measurePipeline(image, await cameraFrames(), quick);
  } finally {
    image.dispose();
  }

  const irisNetwork = await loadRawNetwork(IRIS_MODEL_DIR);
  const irisFlops = countFlops(irisNetwork).perSample;
  irisNetwork.dispose();
  const iris: Model = await loadIrisModel(benchRuntime() === 'onnx' ? { runtime: onnxRuntime({ intraOpThreads: ORT_THREADS }) } : {});
  const records = Array.from({ length: 100_000 }, (_, i) => irisRow(i));
  let irisRate;
  try {
    irisRate = await rate(() => lastValueFrom(from(records).pipe(predictIris(iris, { batch: { size: 512, maxLatencyMs: 1000 } }), count())), quick ? 200 : 2500);
  } finally {
    iris.dispose();
  }

  const flopPeak = combinePeaks(before, measureFlopPeak(peakMs));
  const share = (perSec: number, flops: number): number => Number(((perSec * flops) / (flopPeak.gflops * 1e9)).toPrecision(3));
  const result: RuntimesResult = {
    backend: variant(),
    runtime,
    flopPeak,
    mobilenetFlopsPerImage: mobileFlops.perSample,
    mobilenetFlopsByLayerType: mobileFlops.byLayerType,
    mobilenetImagesPerSec: pipeline.inferenceImagesPerSec,
    mobilenetPeakShare: share(pipeline.inferenceImagesPerSec, mobileFlops.perSample),
    pipelineImagesPerSec: pipeline.pipelineImagesPerSec,
    pipelinePeakShare: share(pipeline.pipelineImagesPerSec, mobileFlops.perSample),
    pipelineImages: FRAMES_DESCRIPTION,
    irisFlopsPerRecord: irisFlops,
    irisRecordsPerSec: round(irisRate.perSecond, 0),
    irisPeakShare: share(irisRate.perSecond, irisFlops),
  };
  process.stderr.write(`[runtimes] ${variant()}: peak ${flopPeak.gflops} GFLOP/s, mobilenet ${result.mobilenetImagesPerSec} img/s, pipeline ${result.pipelineImagesPerSec} img/s, iris ${result.irisRecordsPerSec} rec/s\n`);
  return result;
}
