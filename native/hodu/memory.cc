// Plan::compile's last passes: output copies, freeing constants no step reads, the arena.
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <map>

#include "plan_builder.h"

namespace hodu {

// Outputs that are inputs, constants, views or repeated get a copy step into the output memory.
void copy_unbound_outputs(PlanBuilder& b) {
  for (uint32_t j = 0; j < b.g.outputs.size(); j++) {
    if (b.output_bound[j] || b.alias_input[j] >= 0) continue;  // variables: copy_variable_outputs
    const uint32_t vid = b.g.outputs[j].value;
    if (b.m.slots[vid].desc.numel() == 0) continue;
    b.append_copy(vid, Loc::Output, j);  // a pseudo value for the output slot
  }
}

// Constants no step reads at run time are freed: weights every reader packed into its own layout
// (the plan keeps only the packed copy) and inputs of folded ops.
void free_unread_constants(PlanBuilder& b) {
  Plan::Impl& m = b.m;
  std::vector<bool> needed(m.constants.size(), false);
  for (auto& st : m.steps)
    for (size_t k = 0; k < st.ins.size(); k++) {
      const Slot& sl = m.slots[st.ins[k]];
      if (sl.loc == Loc::Constant && st.kernel->reads_input_at_run(k)) needed[sl.index] = true;
    }
  for (size_t c = 0; c < m.constants.size(); c++) {
    if (needed[c] || !m.constants[c]) continue;
    std::free(m.constants[c]);
    m.constants[c] = nullptr;
    b.stats.constant_bytes -= m.constant_sizes[c];
  }
}

namespace {

size_t rounded(const Slot& s) { return (s.desc.nbytes() + 63) / 64 * 64; }

// Free blocks by size -> offset (equal sizes in the order they were freed).
using FreeList = std::multimap<size_t, size_t>;

// Best fit from the free list in O(log n), else the end of the arena (which grows).
size_t allocate(FreeList& free_list, size_t& arena_size, size_t need) {
  auto best = free_list.lower_bound(need);
  if (best == free_list.end()) {
    arena_size += need;
    return arena_size - need;
  }
  const size_t off = best->second, size = best->first;
  free_list.erase(best);
  if (size > need) free_list.emplace(size - need, off + need);
  return off;
}

}  // namespace

// Memory planning: arena values get offsets; a block is reused after its last reader. Views of
// arena values share their base's offset. The arena and the scratchpad are touched now, not at
// the first run.
void plan_arena(PlanBuilder& b) {
  Plan::Impl& m = b.m;
  const size_t nslots = m.slots.size();
  std::vector<int64_t> last_use(nslots, -1);
  for (size_t t = 0; t < m.steps.size(); t++)
    for (uint32_t id : m.steps[t].ins) last_use[m.slots[id].base] = std::max<int64_t>(last_use[m.slots[id].base], (int64_t)t);
  FreeList free_list;
  size_t arena_size = 0;
  std::vector<std::vector<uint32_t>> release_after(m.steps.size());
  for (size_t t = 0; t < m.steps.size(); t++) {
    uint32_t id = m.steps[t].out;
    Slot& s = m.slots[id];
    if (s.loc == Loc::Arena) {
      s.offset = allocate(free_list, arena_size, rounded(s));
      int64_t last = last_use[id];
      if (last < (int64_t)t) last = (int64_t)t;  // written but never read: free right after
      release_after[last].push_back(id);
    }
    for (uint32_t rid : release_after[t]) free_list.emplace(rounded(m.slots[rid]), m.slots[rid].offset);
  }
  for (uint32_t i = 0; i < b.n; i++) {
    Slot& s = m.slots[i];
    if (s.loc == Loc::Arena && s.base != i) s.offset = m.slots[s.base].offset;
  }
  size_t scratch = 0;
  for (auto& st : m.steps) scratch = std::max(scratch, st.kernel->scratchpad_bytes());
  if (arena_size) {
    m.arena = aligned_bytes(arena_size);
    std::memset(m.arena, 0, arena_size);
  }
  if (scratch) {
    m.scratch = aligned_bytes(scratch);
    std::memset(m.scratch, 0, scratch);
  }
  b.stats.arena_bytes = arena_size;
  b.stats.scratch_bytes = scratch;
}

// The step count and, per step, its op name and kernel implementation.
void finish_stats(PlanBuilder& b) {
  b.stats.steps = b.m.steps.size();
  for (auto& st : b.m.steps) {
    uint32_t id = st.out;
    const char* name = id >= b.n                                   ? "output_copy"
                       : b.g.values[id].kind == ValueKind::Loop ? "loop"
                                                                : op_info(b.g.values[id].op).name;
    b.stats.impls.push_back(std::string(name) + " " + st.kernel->impl());
  }
}

}  // namespace hodu
