import { CHANNELS, RxmlError, subscribe, type ChannelMessages } from '@rxml/core/contract';
import { Counter, Gauge, Histogram, register as defaultRegistry, type Registry } from 'prom-client';
import { PipelineState, type PipelineSnapshot } from './pipeline-state.js';

export interface EnableMetricsOptions {
  /** The prom-client registry the metrics are registered in. Default: prom-client's global `register`. */
  readonly registry?: Registry;
  /** Prefix of every metric name. Default `rxml_`. */
  readonly prefix?: string;
  /**
   * Reads the number of tensors the process holds, for the `…tensors_held` gauge (e.g.
   * `() => tf.memory().numTensors` when tfjs is loaded). Without it the gauge is not registered:
   * this package never loads TensorFlow.js itself.
   */
  readonly tensors?: () => number;
  /**
   * A partition whose lag stays above 0 while its committed offset does not advance for this long
   * makes `health()` report `stuck`, ms. Default 60000.
   */
  readonly stuckAfterMs?: number;
  /** Buckets of the latency histograms, seconds. Default 0.5 ms … 30 s. */
  readonly latencyBuckets?: readonly number[];
  /** Buckets of the batch size histogram, records. Default powers of two 1 … 1024. */
  readonly batchSizeBuckets?: readonly number[];
  /** Clock, ms since epoch (tests). Default `Date.now`. */
  readonly now?: () => number;
}

/** `health()`'s verdict. `ok` maps to HTTP 200 on `/healthz`, anything else to 503. */
export interface HealthReport {
  readonly status: 'ok' | 'stuck' | 'fenced' | 'failed';
  /** Why it is not `ok` (one line per cause). */
  readonly reasons: readonly string[];
}

/** What `enableMetrics` returns. */
export interface MetricsHandle {
  /** The registry the metrics live in (serve it with `serveMetrics` or your own server). */
  readonly registry: Registry;
  /** Counts since `enableMetrics`, partition lags, serving model versions, failure. */
  snapshot(): PipelineSnapshot;
  /**
   * `failed` once a source or sink reported a failure (or `reportFailure` was called), `fenced` once
   * a transactional producer was fenced, `stuck` while a partition has lag > 0 and its committed
   * offset has not advanced for `stuckAfterMs`, else `ok`.
   */
  health(): HealthReport;
  /** Marks the pipeline failed, e.g. from the `error` callback of the pipeline's subscription. */
  reportFailure(error: unknown): void;
  /** Unsubscribes from the channels and removes the metrics from the registry. Idempotent. */
  close(): void;
}

const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const BATCH_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024];

const seconds = (ms: number): number => ms / 1000;
const describeError = (error: unknown): string =>
  error instanceof Error ? `${(error as Partial<RxmlError>).code ?? error.name}: ${error.message}` : String(error);

/**
 * Opt-in Prometheus metrics for every rxml pipeline in the process: subscribes to the `rxml:*`
 * diagnostics channels (`@rxml/core/contract`) and keeps the metrics listed in docs/operations.md
 * (names follow Prometheus conventions: base units, seconds, `_total` counters). Nothing is
 * measured before this call, and publishing costs nothing without it. A subscriber that throws is
 * isolated (reported on `rxml:callback:error`), so metrics can never change a record's fate.
 *
 * @throws RxmlError `INVALID_CONFIG` if metrics of the same names are already registered in
 * `registry`, e.g. by an earlier `enableMetrics()` not closed (call `close()` on the previous
 * handle first, or use another registry or prefix); prom-client's error is its `cause`.
 *
 * @example
 * const metrics = enableMetrics();              // prom-client's default registry
 * const server = await serveMetrics({ metrics, port: 9464 });
 */
export function enableMetrics(options: EnableMetricsOptions = {}): MetricsHandle {
  const registry = options.registry ?? defaultRegistry;
  const p = options.prefix ?? 'rxml_';
  const now = options.now ?? Date.now;
  const stuckAfterMs = options.stuckAfterMs ?? 60_000;
  const latency = [...(options.latencyBuckets ?? LATENCY_BUCKETS)];
  const registers = [registry];
  const state = new PipelineState(now);
  const created: string[] = [];
  const track = <M>(name: string, metric: M): M => {
    created.push(name);
    return metric;
  };
  const counter = <L extends string>(name: string, help: string, labelNames: readonly L[]): Counter<L> =>
    track(p + name, new Counter<L>({ name: p + name, help, labelNames, registers }));
  const histogram = <L extends string>(name: string, help: string, labelNames: readonly L[], buckets: number[]): Histogram<L> =>
    track(p + name, new Histogram<L>({ name: p + name, help, labelNames, buckets, registers }));
  const gauge = <L extends string>(name: string, help: string, labelNames: readonly L[], collect?: (this: Gauge<L>) => void): Gauge<L> =>
    track(p + name, new Gauge<L>({ name: p + name, help, labelNames, registers, ...(collect === undefined ? {} : { collect }) }));

  try {
    // --- records in and out ---
    const recordsIn = counter('records_in_total', 'Records a source emitted into the pipeline.', ['source', 'topic']);
    const recordsOut = counter('records_out_total', 'Records a sink wrote, by outcome (ok: output topic, dead_letter: dead-letter topic) and error code.', ['sink', 'topic', 'outcome', 'code']);
    const deadLetters = counter('dead_letters_total', 'Records written to a dead-letter topic, by error code.', ['sink', 'topic', 'code']);
    const sinkErrors = counter('sink_errors_total', 'Failed produce calls: retried (produce-error), messages the broker refused and that went to the dead-letter topic instead (refused), sinks that failed the stream (failed).', ['sink', 'topic', 'type']);
    const predictions = counter('predictions_total', 'Results of the predict operators, by outcome (ok, error) and error code.', ['model', 'version', 'outcome', 'code']);
    // --- model calls ---
    const batchSize = histogram('predict_batch_size', 'Records per model call.', ['model'], [...(options.batchSizeBuckets ?? BATCH_BUCKETS)]);
    const batchBytes = counter('predict_input_bytes_total', 'Bytes of model input (sum of input tensor sizes).', ['model']);
    const modelDuration = histogram('model_call_duration_seconds', 'Wall time of one model call (one batch), by outcome.', ['model', 'version', 'outcome'], latency);
    const predictLatency = histogram('predict_latency_seconds', 'Time from a record entering a predict operator to its result (successes).', ['model', 'version'], latency);
    const endToEnd = histogram('end_to_end_latency_seconds', 'Time from a source emitting a record to its completion (output acked by the broker).', ['source', 'topic'], latency);
    // --- source state ---
    gauge('records_in_flight', 'Records emitted by the sources and not yet completed.', [], function () {
      this.set(state.snapshot().inFlight);
    });
    const paused = gauge('source_paused', '1 while the source is paused for backpressure (records in flight at the limit), else 0.', ['source', 'group']);
    const lag = gauge('consumer_lag', 'Consumer lag per partition: end offset − committed offset, records.', ['group', 'topic', 'partition']);
    const commitDuration = histogram('commit_duration_seconds', 'Time of one offset commit request.', ['source', 'group'], latency);
    const commitFailures = counter('commit_failures_total', 'Offset commits that failed (retried at the next completion or assignment).', ['source', 'group']);
    const rebalances = counter('rebalances_total', 'Consumer group rebalances this member went through.', ['source', 'group']);
    const offsetResets = counter('offset_resets_total', 'Partitions whose log changed under the consumer (OFFSET_OUT_OF_RANGE, an offset below the committed one, or the topic re-created: a new topic ID), by reason; read again from the new position.', ['source', 'group', 'topic', 'reason']);
    const sourceCrashes = counter('source_crashes_total', 'Source client crashes, by whether the client restarts by itself.', ['source', 'group', 'restarting']);
    // --- models ---
    const modelLoads = counter('model_loads_total', 'Model loads, by outcome (ok, error).', ['model', 'version', 'runtime', 'format', 'outcome']);
    const modelLoadDuration = histogram('model_load_duration_seconds', 'Time to load a model (download, parse, warm up).', ['model', 'runtime'], latency);
    const modelLoadBytes = counter('model_load_bytes_total', 'Artifact bytes read by model loads.', ['model']);
    const modelLifecycle = counter('model_lifecycle_events_total', 'Model versions swapped in, refused, rolled back or released.', ['model', 'version', 'type']);
    const modelInfo = gauge('model_info', '1 for each model version serving (last to run a batch, load or be swapped in).', ['model', 'version']);
    // --- shadow models ---
    const shadowComparisons = counter('shadow_comparisons_total', 'Records scored by both a main and a shadow model, by outcome (agree, disagree, error: a side failed).', ['model', 'shadow_model', 'outcome']);
    const shadowDropped = counter('shadow_dropped_total', 'Records a shadow model did not see because its queue was full (or still held at the end).', ['shadow_model']);
    // --- remote model servers ---
    const remoteRequests = counter('remote_requests_total', 'Calls to remote model servers, by outcome (ok, retry, failed, circuit-open).', ['model', 'protocol', 'transport', 'outcome']);
    const remoteDuration = histogram('remote_request_duration_seconds', 'Time of one remote model server call.', ['model', 'protocol', 'transport'], latency);
    // --- process ---
    const callbackErrors = counter('callback_errors_total', 'User callbacks (and channel subscribers) that threw; their results were ignored.', ['callback']);
    if (options.tensors !== undefined) {
      const read = options.tensors;
      gauge('tensors_held', 'Tensors held by TensorFlow.js (tf.memory().numTensors).', [], function () {
        this.set(read());
      });
    }
    gauge('healthy', '1 while health() reports ok, else 0 (stuck, fenced or failed).', [], function () {
      this.set(health().status === 'ok' ? 1 : 0);
    });

    const serving = (name: string, version: string | undefined): void => {
      const before = state.snapshot().models.find((m) => m.startsWith(`${name}@`));
      state.useModel(name, version);
      if (version === undefined) return;
      const previous = before?.slice(name.length + 1);
      if (previous === version) return;
      if (previous !== undefined) modelInfo.remove({ model: name, version: previous });
      modelInfo.set({ model: name, version }, 1);
    };

    const handlers: { [N in keyof ChannelMessages]: (message: ChannelMessages[N]) => void } = {
      'rxml:predict:batch': (m) => {
        batchSize.observe({ model: m.model }, m.size);
        batchBytes.inc({ model: m.model }, m.bytes);
        modelDuration.observe({ model: m.model, version: m.version, outcome: m.ok ? 'ok' : 'error' }, seconds(m.durationMs));
        serving(m.model, m.version);
      },
      'rxml:predict:result': (m) => {
        predictions.inc({ model: m.model, version: m.version, outcome: m.ok ? 'ok' : 'error', code: m.code ?? '' });
        if (m.ok) state.predictedOk++;
        else state.predictedFailed++;
        if (m.latencyMs !== undefined) predictLatency.observe({ model: m.model, version: m.version }, seconds(m.latencyMs));
      },
      'rxml:model:load': (m) => {
        modelLoads.inc({ model: m.name, version: m.version ?? '', runtime: m.runtime ?? '', format: m.format ?? '', outcome: m.ok ? 'ok' : 'error' });
        if (m.ok) {
          modelLoadDuration.observe({ model: m.name, runtime: m.runtime ?? '' }, seconds(m.durationMs));
          modelLoadBytes.inc({ model: m.name }, m.bytes);
          serving(m.name, m.version);
        }
      },
      'rxml:model:lifecycle': (m) => {
        modelLifecycle.inc({ model: m.name, version: m.version, type: m.type });
        if (m.type === 'swap' || m.type === 'rollback') serving(m.name, m.version);
        if (m.type === 'released') {
          state.releaseModel(m.name, m.version);
          modelInfo.remove({ model: m.name, version: m.version });
        }
      },
      'rxml:source': (m) => {
        const group = m.group ?? '';
        const topic = m.topic ?? '';
        const source = m.source;
        switch (m.type) {
          case 'fetch':
            recordsIn.inc({ source, topic }, m.count ?? 1);
            state.recordsIn += m.count ?? 1;
            break;
          case 'completed':
            state.completed += m.count ?? 1;
            if (m.durationMs !== undefined) endToEnd.observe({ source, topic }, seconds(m.durationMs));
            break;
          case 'committed':
            if (m.durationMs !== undefined) commitDuration.observe({ source, group }, seconds(m.durationMs));
            if (m.partition !== undefined && m.offset !== undefined) state.committed(group, topic, m.partition, m.offset);
            break;
          case 'commit-failed':
            commitFailures.inc({ source, group });
            break;
          case 'lag':
            if (m.partition !== undefined && m.lag !== undefined) {
              lag.set({ group, topic, partition: String(m.partition) }, m.lag);
              state.lag(group, topic, m.partition, m.lag, m.offset);
            }
            break;
          case 'paused':
            paused.set({ source, group }, 1);
            state.pausedSources.add(group);
            break;
          case 'resumed':
            paused.set({ source, group }, 0);
            state.pausedSources.delete(group);
            break;
          case 'rebalancing':
            rebalances.inc({ source, group });
            break;
          case 'offset-reset':
            offsetResets.inc({ source, group, topic, reason: m.reason ?? 'unknown' });
            break;
          case 'assigned':
            if (m.partition !== undefined) state.assigned(group, topic, m.partition);
            break;
          case 'revoked':
            if (m.partition !== undefined) {
              state.revoked(group, topic, m.partition);
              lag.remove({ group, topic, partition: String(m.partition) });
            }
            break;
          case 'crashed':
            sourceCrashes.inc({ source, group, restarting: String(m.restarting ?? false) });
            if (m.restarting === false) state.fail('failed', `${source} source of group ${group} crashed: ${describeError(m.error)}`);
            break;
          case 'failed':
            state.fail('failed', `${source} source of group ${group} failed: ${describeError(m.error)}`);
            break;
          case 'fenced':
            state.fail('fenced', `${source} source of group ${group} was fenced: ${describeError(m.error)}`);
            break;
          case 'closed':
            paused.set({ source, group }, 0);
            for (const part of state.snapshot().partitions) if (part.group === group) lag.remove({ group, topic: part.topic, partition: String(part.partition) });
            state.closed(group);
            break;
          default:
            break;
        }
      },
      'rxml:sink': (m) => {
        const topic = m.topic ?? '';
        switch (m.type) {
          case 'delivered':
            recordsOut.inc({ sink: m.sink, topic, outcome: 'ok', code: '' }, m.count ?? 1);
            state.recordsOut += m.count ?? 1;
            break;
          case 'dead-letter':
            recordsOut.inc({ sink: m.sink, topic, outcome: 'dead_letter', code: m.code ?? '' }, m.count ?? 1);
            deadLetters.inc({ sink: m.sink, topic, code: m.code ?? '' }, m.count ?? 1);
            state.deadLetters += m.count ?? 1;
            break;
          case 'produce-error':
          case 'refused':
            sinkErrors.inc({ sink: m.sink, topic, type: m.type }, m.type === 'refused' ? (m.count ?? 1) : 1);
            break;
          case 'failed':
            sinkErrors.inc({ sink: m.sink, topic, type: m.type });
            state.fail('failed', `${m.sink} sink to ${topic} failed: ${describeError(m.error)}`);
            break;
          case 'fenced':
            state.fail('fenced', `${m.sink} sink to ${topic} was fenced: ${describeError(m.error)}`);
            break;
          default:
            break;
        }
      },
      'rxml:remote:request': (m) => {
        remoteRequests.inc({ model: m.model, protocol: m.protocol, transport: m.transport, outcome: m.outcome });
        remoteDuration.observe({ model: m.model, protocol: m.protocol, transport: m.transport }, seconds(m.durationMs));
      },
      'rxml:callback:error': (m) => {
        callbackErrors.inc({ callback: m.callback });
      },
      'rxml:shadow:comparison': (m) => {
        if (m.type === 'compared') {
          const outcome = m.code !== undefined || m.shadowCode !== undefined ? 'error' : m.agree === true ? 'agree' : 'disagree';
          shadowComparisons.inc({ model: m.model ?? '', shadow_model: m.shadowModel ?? '', outcome });
        } else if (m.type === 'dropped') {
          shadowDropped.inc({ shadow_model: m.shadowModel ?? '' }, m.count ?? 0);
        }
      },
    };

    const unsubscribes = (Object.keys(handlers) as (keyof ChannelMessages)[]).map((name) =>
      subscribe(name, handlers[name] as (message: ChannelMessages[typeof name]) => void),
    );
    // Every channel name has a handler: a new channel added to the contract must be handled here too.
    void (CHANNELS satisfies Record<string, keyof ChannelMessages>);

    function health(): HealthReport {
      const failure = state.failure;
      if (failure !== undefined) return { status: failure.kind, reasons: [failure.reason] };
      const stuck = state.stuck(stuckAfterMs);
      if (stuck.length === 0) return { status: 'ok', reasons: [] };
      return {
        status: 'stuck',
        reasons: stuck.map(
          (s) => `${s.topic}[${s.partition}] (group ${s.group}): lag ${s.lag ?? '?'} and no commit progress for ${Math.round((now() - s.progressAt) / 1000)} s`,
        ),
      };
    }

    let closed = false;
    return {
      registry,
      snapshot: () => state.snapshot(),
      health,
      reportFailure: (error) => state.fail('failed', `pipeline failed: ${describeError(error)}`),
      close: () => {
        if (closed) return;
        closed = true;
        for (const unsubscribe of unsubscribes) unsubscribe();
        for (const name of created) registry.removeSingleMetric(name);
      },
    };
  } catch (error) {
    for (const name of created) registry.removeSingleMetric(name);
    const detail = error instanceof Error ? error.message : String(error);
    if (/already been registered/.test(detail)) {
      throw new RxmlError(
        'INVALID_CONFIG',
        `enableMetrics: ${detail} An earlier enableMetrics() on this registry is still open: close() its handle first, or pass another registry or prefix.`,
        { cause: error },
      );
    }
    throw error;
  }
}
