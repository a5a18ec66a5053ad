// Measures this CPU's fp32 fused-multiply-add peak: each thread runs ACC independent vector FMA
// chains (enough to cover FMA latency × FMA ports) on the widest vectors -march=native allows.
// Usage: fma-peak <threads> <milliseconds>   → prints one JSON line.
// Built by bench/src/flop-peak.ts with: g++ -O3 -march=native -pthread
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

#if defined(__AVX512F__)
constexpr int LANES = 16;
constexpr const char* ISA = "avx512";
#elif defined(__AVX__)
constexpr int LANES = 8;
constexpr const char* ISA = "avx2";
#else
constexpr int LANES = 4;
constexpr const char* ISA = "sse";
#endif
typedef float vec __attribute__((vector_size(LANES * 4)));
constexpr int ACC = 12;
constexpr long INNER = 1 << 20;

static std::atomic<bool> stop{false};

static void worker(long* iterations, float* sink) {
  vec acc[ACC];
  vec mul, add;
  for (int l = 0; l < LANES; l++) { mul[l] = 0.999999f; add[l] = 1e-6f; }
  for (int a = 0; a < ACC; a++) for (int l = 0; l < LANES; l++) acc[a][l] = 1.0f + a * 1e-3f + l * 1e-5f;
  long done = 0;
  while (!stop.load(std::memory_order_relaxed)) {
    for (long i = 0; i < INNER; i++) {
#pragma GCC unroll 12
      for (int a = 0; a < ACC; a++) acc[a] = acc[a] * mul + add;
    }
    done += INNER;
  }
  float s = 0;
  for (int a = 0; a < ACC; a++) for (int l = 0; l < LANES; l++) s += acc[a][l];
  *sink = s;
  *iterations = done;
}

int main(int argc, char** argv) {
  int threads = argc > 1 ? std::atoi(argv[1]) : 1;
  int ms = argc > 2 ? std::atoi(argv[2]) : 1000;
  std::vector<long> its(threads);
  std::vector<float> sinks(threads);
  std::vector<std::thread> pool;
  auto t0 = std::chrono::steady_clock::now();
  for (int t = 0; t < threads; t++) pool.emplace_back(worker, &its[t], &sinks[t]);
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  stop = true;
  for (auto& th : pool) th.join();
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  double flops = 0, sink = 0;
  for (int t = 0; t < threads; t++) { flops += double(its[t]) * ACC * LANES * 2; sink += sinks[t]; }
  std::printf("{\"isa\":\"%s\",\"lanes\":%d,\"threads\":%d,\"seconds\":%.4f,\"gflops\":%.2f,\"sink\":%.3f}\n", ISA, LANES, threads, secs, flops / secs / 1e9, sink);
  return 0;
}
