// The plan in progress: what Plan::compile's passes (passes.cc, lower.cc, memory.cc) read and
// write, and the plan's run-time state (Plan::Impl). Internal to native/hodu/; the pass order is
// documented in plan.h.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <vector>

#include "../ir/graph.h"
#include "../kernels/kernel.h"
#include "loop_kernel.h"
#include "plan.h"

namespace hodu {

// Where a value's memory is at run time.
enum class Loc : uint8_t { None, Input, Constant, Arena, Output, Fixed };

struct Slot {
  Loc loc = Loc::None;
  char* ptr = nullptr;   // Fixed: memory a kernel owns (a loop's states)
  uint32_t index = 0;    // input / constant / output index
  size_t offset = 0;     // arena byte offset
  uint32_t base = 0;     // value id that owns the memory (views point at their base)
  TensorDesc desc;       // strides and element offset relative to the memory's start
};

struct Step {
  std::unique_ptr<Kernel> kernel;
  std::vector<uint32_t> ins;  // value ids read
  uint32_t out;               // value id written (contiguous)
  std::vector<const void*> ptrs;
};

void* aligned_bytes(size_t n);
TensorDesc no_offset(TensorDesc d);

struct Plan::Impl {
  std::vector<Slot> slots;  // one per graph value, then pseudo values (copies, output slots)
  std::vector<Step> steps;
  std::vector<void*> constants;  // owned; null once freed (free_unread_constants)
  std::vector<size_t> constant_sizes;
  void* arena = nullptr;
  void* scratch = nullptr;
  const std::vector<const void*>* in = nullptr;
  const std::vector<void*>* out = nullptr;

  ~Impl();
  char* base_of(const Slot& s) const;
  char* addr(const Slot& s) const;
  char* const_addr(const Slot& s) const;
};

// The analyses the passes share, all indexed by graph value id.
struct PlanBuilder {
  const Graph& g;
  const std::vector<ConstantData>& constants;
  const CompileOptions& opts;
  Plan& plan;
  Plan::Impl& m;
  PlanStats& stats;
  size_t n;  // graph values

  PlanBuilder(const Graph& g_, const std::vector<ConstantData>& c, const CompileOptions& o, Plan& p, Plan::Impl& impl,
              PlanStats& st)
      : g(g_), constants(c), opts(o), plan(p), m(impl), stats(st), n(g_.values.size()) {}

  std::vector<bool> live;                      // dead code: false
  std::map<uint32_t, uint32_t> output_of;      // value id -> first output index naming it
  std::vector<bool> output_bound;              // per output: a step writes it in place
  std::vector<int32_t> alias_input;            // per output: the input value id it updates in place, or -1
  std::vector<bool> variable_written;          // per output: its new value is in the input's memory already
  std::vector<uint32_t> readers, only_reader;  // live readers (an output counts 2) and the last one
  std::vector<bool> absorbed;                  // computed inside another op's kernel (post-op chains)
  std::vector<bool> ew_inner;                  // computed inside its reader's fused elementwise program
  std::vector<uint8_t> spatial_readers;        // bit 0: read as a conv/pool's x; bit 1: read otherwise
  std::map<uint32_t, LoopKernel*> loop_kernels;  // Loop value id -> its kernel (owned by a step)

  uint32_t own_constant(const void* src, size_t bytes);
  // Appends a step copying value `src` (any strides) into a new contiguous pseudo value whose
  // memory is at `loc` (Arena, Input or Output; `index` for the latter two); returns its id.
  uint32_t append_copy(uint32_t src, Loc loc, uint32_t index = 0);
  bool is_ew(uint32_t i) const;                  // a live elementwise op the fused kernel runs
  bool nhwc_ok(uint32_t id) const;               // may be kept in channels-last order
  const void* constant_ptr(uint32_t id) const;   // the data of a constant value, else nullptr
  // Binds value `id`'s slot to graph output memory when an output names it, else to the arena.
  void bind_result(uint32_t id);
  // A conv kernel writing nhwc when `id` may be kept so and the kernel can; else nullptr.
  std::unique_ptr<Kernel> try_nhwc_kernel(KernelSpec spec, uint32_t id, TensorDesc* out_desc) const;
};

// The passes, in the order Plan::compile runs them (see plan.h).
void eliminate_dead_code(PlanBuilder& b);        // passes.cc
void pair_variable_outputs(PlanBuilder& b);      // in_place.cc
void bind_inputs_and_constants(PlanBuilder& b);  // passes.cc
void count_readers(PlanBuilder& b);              // passes.cc
void mark_elementwise_groups(PlanBuilder& b);    // passes.cc
void mark_channels_last(PlanBuilder& b);         // passes.cc
void lower_values(PlanBuilder& b);               // lower.cc: loops, views, folding, fusion, kernels
void write_variables_in_place(PlanBuilder& b);   // in_place.cc
// Input k of value `add` is the residual operand of an add the conv producing its other input
// takes as a post-op (fuse_conv.cc): the conv kernel reads it in its own dst layout, so it may be
// kept channels-last like a conv's x.
bool conv_residual_operand(const PlanBuilder& b, uint32_t add, size_t k);
// A hard-swish / hard-sigmoid pattern reading `tail` (fuse_conv.cc): the post-op, the values it
// computes (in order) and the value holding its result. False: no pattern at `tail`.
bool match_conv_epilogue(const PlanBuilder& b, uint32_t tail, const Shape& shape, PostOp* post, std::vector<uint32_t>* absorbed,
                         uint32_t* new_tail);
void copy_unbound_outputs(PlanBuilder& b);       // memory.cc
void copy_variable_outputs(PlanBuilder& b);      // in_place.cc
void free_unread_constants(PlanBuilder& b);      // memory.cc
void plan_arena(PlanBuilder& b);                 // memory.cc
void finish_stats(PlanBuilder& b);               // memory.cc

}  // namespace hodu
