// Hand-written explanations for missed targets, keyed by target id (see TARGETS in bench.ts).
// bench/results.md prints the entry of every target the latest run missed, under "Why".
// Edit the text here; the bench never changes it.
export const WHY: Record<string, string> = {
  matmul_1024: "oneDNN 3.2's brgemm f32 kernel (no ref path) reaches 71–76 % of the measured peak on a quiet machine (381–415 GFLOP/s); ORT's MLAS is at the same level. Closing the last points needs a GEMM tuned for this Zen 5 VM, not attempted. Runs under load also lost the OpenMP spin race (see the thread-policy note).",
  mlp_b1: "On a quiet machine 27–30 µs vs ORT's 28–38 µs: three GEMVs bound by reading 6.4 MB of weights from L3 per run. Misses in a loaded run come from OpenMP regions stalling when a CPU is taken (fixed since: bounded spin + per-plan thread policy).",
  mlp_b64: 'On a quiet machine 0.20–0.23 ms vs ORT 0.28–0.36 ms. Misses in a loaded run: the OpenMP stall described under mlp_b1.',
  cnn_b1: 'Convs run on oneDNN with a reorder to and from blocked layouts per run (NCHW in and out of each conv); ORT keeps NCHWc between convs and fuses pooling. conv+ReLU fusion (since this run: 126 µs) narrowed it; keeping blocked layouts between convs is the next step.',
  cnn_b32: 'Same cause as cnn_b1: per-run layout reorders around each conv and the pool; measured 2.29 ms since conv+ReLU fusion vs ORT 1.8–3.2 ms across runs.',
  elementwise_1M: 'Two costs: the math (tanh and sigmoid on 1M floats: about 300 µs fused on 2 threads, compute-bound, 2.7× the bandwidth floor) and a fresh 4 MB output buffer per run when outputs are not disposed (zero-fill and first touch: about 0.8 ms on this VM). Since this run the chain is one fused kernel and disposed outputs return their block to the next run (309 µs).',
  add_4: 'met',
  train_step_mlp_b64: 'met',
  'train_step_mlp_b64 vs tfjs wasm': 'met',
};
