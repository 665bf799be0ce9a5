// Hand-written explanations for missed targets, keyed by target id (see TARGETS in bench.ts).
// bench/results.md prints the entry of every target the latest run missed, under "Why".
// Edit the text here; the bench never changes it.
export const WHY: Record<string, string> = {
  matmul_1024: "78 % of the measured peak (431 of 555 GFLOP/s) with oneDNN 3.2's brgemm f32 kernel (no ref path); ORT's MLAS is at the same time (4.7 vs 5.0 ms). The last points need a GEMM tuned for this Zen 5 VM, not attempted.",
  mlp_b1: "Within 4–10 % of ORT's 2-thread run (24.0 vs 22.5 µs here): three GEMVs bound by reading 6.4 MB of weights from L3 per run; the rest is per-run overhead (JS wrapping, an external output buffer, the N-API call). A batch-1 GEMV kernel with pre-packed weights is the next step.",
  mlp_b64: "4 % behind ORT's 2-thread run (198 vs 191 µs): oneDNN's f32 matmuls with fused bias+ReLU; ORT's MLAS packs B at load, which oneDNN's runtime-M path cannot; no gap on the 1-thread ORT configuration (344 µs).",
  cnn_b1: "Each conv reorders its input and output between NCHW and oneDNN's blocked layout on every run (see `planInfo().kernels`), and the pool too; ORT keeps NCHWc between convs and fuses pooling. conv+ReLU are fused since this session; blocked layouts between convs are the next step.",
  cnn_b32: "Same cause as cnn_b1: per-run layout reorders around each conv and the pool.",
  elementwise_1M: "The fused kernel itself takes about 300 µs (tanh and sigmoid are compute-bound: 2.7× the bandwidth floor); the bench's loop drops each 4 MB output to the GC, so every run gets fresh memory (zero-fill and first touch, about 0.3 ms). With `y.dispose()` after each run the block is reused and the run takes 309 µs.",
  add_4: 'met',
  train_step_mlp_b64: 'met',
  'train_step_mlp_b64 vs tfjs wasm': 'met',
};
