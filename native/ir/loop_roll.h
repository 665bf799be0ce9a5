// Loop rolling: a compile-time pass, shared by both backends, that finds a recorded loop in a graph
// (a run of structurally identical steps, each feeding the next the same way, as a Builder records
// `for (epoch...) { forward; backward; step }`) and replaces it by one Loop value whose body is one
// step (see Loop in graph.h). The HODU plan runs the body N times over ping-pong state buffers; the
// XLA emitter lowers it to stablehlo.while. Without it, N steps cost N times the compile work (XLA
// compile time grows superlinearly: research/xla-unroll.md).
//
// What rolls: steps with the same ops, attributes, dtypes and shapes, whose inputs are either
//   - values of the same step (internal), or
//   - the same outer value in every step (invariant: data, hyper-parameters), or
//   - the previous step's value at a fixed position (carried: weights, optimizer state), with the
//     first step reading an initial value instead, or
//   - small constants that differ from step to step (Adam's bias corrections, a schedule): they
//     become a [trips, ...] table the body indexes by iteration.
// Values of the last step that are read after the loop (the final loss, the trained weights) are
// the loop's results. Per-step values nobody reads are not computed (but a value the last step
// exports, like the loss, is computed in every iteration: the body is one step). Anything else
// (steps that differ, a value of step 3 read by step 7 or after the loop) ends the loop there: the
// graph is left as it is or rolled in part, and stays correct.
#pragma once
#include <vector>

#include "graph.h"

namespace hodu {

struct RollOptions {
  uint32_t min_trips = 3;  // fewer repetitions stay unrolled
  size_t min_ops = 8;      // nor are loops with fewer ops (trips x ops per step) worth a loop
  // a varying constant bigger than this ends the loop (per-step batch indices and the one-hot
  // rows of stacked outputs are tables: one row per step)
  size_t max_table_elements = 1 << 16;
  int max_loops = 16;
};

struct RolledGraph {
  Graph graph;
  // The caller's constants, then the pass's own (tables, zero initial states), which `owned` keeps.
  std::vector<ConstantData> constants;
  std::vector<std::vector<uint8_t>> owned;
};

// The input graph must be validated (validate_graph). The result keeps the inputs (same order) and
// outputs (same names); it may drop dead values.
RolledGraph roll_loops(const Graph& g, const std::vector<ConstantData>& constants, const RollOptions& opts = {});

}  // namespace hodu
