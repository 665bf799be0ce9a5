// Hand-written explanations for missed targets, keyed by target id (see TARGETS in bench.ts).
// bench/results.md prints the entry of every target the latest run missed, under "Why".
// Edit the text here; the bench never changes it.
export const WHY: Record<string, string> = {
  matmul_1024: "72 % of the measured peak in this run (355 of 493 GFLOP/s; 49–78 % across today's runs on this shared VM), with oneDNN 3.2's brgemm f32 kernel (no ref path), level with ORT's MLAS on 2 threads (6.05 vs 6.25 ms here). Both operands are inputs, so nothing can be packed at compile; the loop drops each 4 MB output, and about every 8th run pays a V8 GC of the recycled output memory (10 ms). The last points need a GEMM tuned for this Zen 5 VM, not attempted.",
  mlp_b1: "0.90–1.13× of ORT's 2-thread run across today's runs of the final build (24.5 vs 27.2 µs in the committed one); 1.07× before weights were pre-packed at compile (brgemm with bias and ReLU fused) and oneDNN's memory arguments made once per kernel. Three GEMVs reading 2.6 MB of packed weights from L3; the rest is per-call overhead (about 2.5 µs).",
  mlp_b64: "0.89–0.98× of ORT across today's runs: constant weights pre-packed into oneDNN's blocked layout at compile, bias and ReLU fused.",
  cnn_b1: "0.98–1.19× of ORT across today's runs of the final build (1.51× before this session's layout work). Per run, measured step by step: conv1 4 µs, conv2 (32→64 channels, 21 MFLOP) 48–55 µs in oneDNN 3.2's brgconv on channels-last data at about 400–440 GFLOP/s (its fastest kernel for this shape: the blocked nChw16c one takes 51–65 µs, and oneDNN 3.2 has no f32 Winograd here), the channels-last max pool 8–11 µs, the 9216×128 dense layer 26–34 µs (4.7 MB of pre-packed weights from L3). No reorders are left between the layers; what remains is conv2's kernel speed and the VM's noise.",
  cnn_b32: "0.98–1.03× of ORT across today's runs of the final build (1.38× before); conv2 is about 1.5 ms of the 2.1 ms (brgconv on channels-last data).",
  elementwise_1M: "The fused kernel itself takes about 300–450 µs (tanh and sigmoid are compute-bound: about 2× the bandwidth floor on their own); 3.3–4.1× the floor across today's runs. The bench's loop drops each 4 MB output and never yields to the event loop, so the pooled output blocks' finalizers cannot run inside it; past 64 MB of outputs in flight the outputs are V8-owned buffers (malloc'd, recycled by the GC, which then runs a collection about every 8th run), where before this session such a loop got fresh memory every run (2 ms of page faults a run, and unbounded memory). With `y.dispose()` after each run the block is reused at once (about 450 µs).",
  add_4: 'met',
  train_step_mlp_b64: 'met',
  'train_step_mlp_b64 vs tfjs wasm': 'met',
};
