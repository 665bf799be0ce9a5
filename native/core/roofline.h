// The machine's measured limits, for the benchmark's "% of peak" columns.
#pragma once

namespace hodu {

// fp32 FMA throughput in GFLOP/s with `threads` threads (AVX-512 when the CPU has it, else AVX2/FMA).
double measure_peak_gflops(int threads);
// STREAM-style triad bandwidth in GB/s (reads + writes counted) on arrays far larger than the caches.
double measure_bandwidth_gbs(int threads);

}  // namespace hodu
