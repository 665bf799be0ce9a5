// Hand-written explanations for missed targets, keyed by target id (see TARGETS in bench.ts).
// bench/results.md prints the entry of every target the latest run missed, under "Why".
// Edit the text here; the bench never changes it.
export const WHY: Record<string, string> = {
  matmul_1024: "71–78 % of the measured peak across today's runs (354 of 467 GFLOP/s in this one), with oneDNN 3.2's brgemm f32 kernel (no ref path), and ahead of ORT's MLAS on 2 threads (6.07 vs 6.88 ms here). Both operands are inputs, so nothing can be packed at compile, and the loop drops each 4 MB output (fresh or GC-recycled memory each run, about 0.1 ms). The last points need a GEMM tuned for this Zen 5 VM, not attempted.",
  mlp_b1: "met in this run (23.4 vs 25.4 µs); it was 1.07× before weights were pre-packed at compile (brgemm with the bias and ReLU fused) and oneDNN's memory arguments made once per kernel.",
  mlp_b64: "met in this run (207 vs 218 µs): constant weights pre-packed into oneDNN's blocked layout at compile, bias and ReLU fused.",
  cnn_b1: "At ORT's time within this VM's noise (94.3 vs 92.7 µs here, 0.91× in another run today; 1.51× before this session's layout work). Per run, measured step by step: conv1 4 µs, conv2 (32→64 channels, 21 MFLOP) 48–55 µs in oneDNN 3.2's brgconv on channels-last data at about 400 GFLOP/s (its fastest kernel for this shape: the blocked nChw16c one takes 65 µs), the channels-last max pool 8–11 µs, the 9216×128 dense layer 26–34 µs (4.7 MB of pre-packed weights streamed from L3). No reorders are left between the layers; what remains is conv2's kernel speed.",
  cnn_b32: "met in this run (2.00 vs 2.04 ms); conv2 is about 1.5 ms of it (brgconv, channels-last). Runs today ranged 0.98–1.3× on this shared VM.",
  elementwise_1M: "The fused kernel itself takes about 300–450 µs (tanh and sigmoid are compute-bound: about 2× the bandwidth floor on their own). The bench's loop drops each 4 MB output and never yields to the event loop, so the pooled output blocks' finalizers cannot run inside it; past 64 MB of outputs in flight the outputs are V8-owned buffers (malloc'd, recycled by the GC) instead of fresh memory each run, which before this session cost 2 ms a run in such a loop. With `y.dispose()` after each run the block is reused at once (about 450 µs).",
  add_4: 'met',
  train_step_mlp_b64: 'met',
  'train_step_mlp_b64 vs tfjs wasm': 'met',
};
