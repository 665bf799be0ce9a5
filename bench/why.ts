// Hand-written explanations for missed targets, keyed by target id (see TARGETS in bench.ts).
// bench/results.md prints the entry of every target the latest run missed, under "Why".
// Edit the text here; the bench never changes it.
export const WHY: Record<string, string> = {
  matmul_1024: 'cause under investigation',
  mlp_b1: 'cause under investigation',
  mlp_b64: 'cause under investigation',
  cnn_b1: 'cause under investigation',
  cnn_b32: 'cause under investigation',
  elementwise_1M: 'cause under investigation',
  add_4: 'cause under investigation',
  train_step_mlp_b64: 'cause under investigation',
  'train_step_mlp_b64 vs tfjs wasm': 'cause under investigation',
};
