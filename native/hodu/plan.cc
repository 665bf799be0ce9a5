#include "plan.h"

#include "../core/checked_size.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <map>
#include <unordered_set>
#include <unordered_map>

#include "../ir/loop_roll.h"
#include "../kernels/dnnl_util.h"
#include "../kernels/fused.h"
#include "../ops/infer.h"
#include "loop_kernel.h"

namespace hodu {

namespace {

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

void* aligned_bytes(size_t n) {
  size_t sz = (std::max<size_t>(n, 1) + 63) / 64 * 64;
  check_alloc_bytes(sz, "a plan buffer");
  void* p = std::aligned_alloc(64, sz);
  if (!p) fail(ErrorCode::INTERNAL, "out of memory allocating ", n, " bytes");
  return p;
}

TensorDesc no_offset(TensorDesc d) {
  d.offset = 0;
  return d;
}

}  // namespace

struct Plan::Impl {
  std::vector<Slot> slots;
  std::vector<Step> steps;
  std::vector<void*> constants;  // owned; null once freed (see compile step 5)
  std::vector<size_t> constant_sizes;
  void* arena = nullptr;
  void* scratch = nullptr;
  const std::vector<const void*>* in = nullptr;
  const std::vector<void*>* out = nullptr;

  ~Impl() {
    for (void* p : constants) std::free(p);
    std::free(arena);
    std::free(scratch);
  }

  char* base_of(const Slot& s) const {
    switch (s.loc) {
      case Loc::Input: return (char*)(*in)[s.index];
      case Loc::Constant: return (char*)constants[s.index];
      case Loc::Arena: return (char*)arena + s.offset;
      case Loc::Output: return (char*)(*out)[s.index];
      case Loc::Fixed: return s.ptr;
      case Loc::None: break;
    }
    fail(ErrorCode::INTERNAL, "plan: value without memory");
  }
  char* addr(const Slot& s) const {
    char* b = base_of(s);
    return b ? b + (size_t)s.desc.offset * dtype_size(s.desc.dtype) : nullptr;  // null: a freed constant
  }
  char* const_addr(const Slot& s) const {
    return (char*)constants[s.index] + (size_t)s.desc.offset * dtype_size(s.desc.dtype);
  }
};

Plan::~Plan() = default;

std::unique_ptr<Plan> Plan::compile(const Graph& g, const std::vector<ConstantData>& constants, const CompileOptions& opts) {
  if (opts.roll_loops) {
    RolledGraph rolled = roll_loops(g, constants);
    if (!rolled.graph.loops.empty()) {
      CompileOptions o = opts;
      o.roll_loops = false;
      return compile(rolled.graph, rolled.constants, o);  // the plan copies what it keeps
    }
  }
  std::unique_ptr<Plan> plan(new Plan());
  plan->adaptive_threads_ = opts.adaptive_threads;
  plan->impl_ = std::make_unique<Impl>();
  Impl& m = *plan->impl_;
  const size_t n = g.values.size();
  m.slots.resize(n);

  // 1. dead-code elimination: keep what the outputs need
  std::vector<bool> live(n, false);
  for (const Output& o : g.outputs) live[o.value] = true;
  for (size_t i = n; i-- > 0;)
    if (live[i])
      for (uint32_t id : g.values[i].inputs) live[id] = true;

  std::map<uint32_t, uint32_t> output_of;  // value id -> first output index naming it
  for (uint32_t j = 0; j < g.outputs.size(); j++) output_of.emplace(g.outputs[j].value, j);
  std::vector<bool> output_bound(g.outputs.size(), false);

  for (uint32_t k = 0; k < g.input_ids.size(); k++) {
    const Value& v = g.values[g.input_ids[k]];
    plan->input_descs_.emplace_back(v.dtype, v.shape);
  }
  for (const Output& o : g.outputs) plan->output_descs_.emplace_back(g.values[o.value].dtype, g.values[o.value].shape);
  for (const TensorDesc& d : plan->output_descs_) check_alloc_bytes(d.nbytes(), "an output of this script");

  auto own_constant = [&](const void* src, size_t bytes) {
    void* p = aligned_bytes(bytes);
    if (bytes) std::memcpy(p, src, bytes);
    m.constants.push_back(p);
    m.constant_sizes.push_back(bytes);
    plan->stats_.constant_bytes += bytes;
    return (uint32_t)(m.constants.size() - 1);
  };

  // inputs and constants first: they have no dependencies, and a fused epilogue may read one that
  // was recorded after the op it is fused into
  uint32_t input_index = 0;
  for (uint32_t i = 0; i < n; i++) {
    const Value& v = g.values[i];
    Slot& s = m.slots[i];
    if (v.kind == ValueKind::Input) {
      s.loc = Loc::Input;
      s.index = input_index++;
    } else if (v.kind == ValueKind::Constant && live[i]) {
      s.loc = Loc::Constant;
      s.index = own_constant(constants[v.constant].data, constants[v.constant].bytes);
    } else {
      continue;
    }
    s.base = i;
    s.desc = TensorDesc(v.dtype, v.shape);
  }
  // who reads each value (live ops and outputs), for fusion decisions
  std::vector<uint32_t> readers(n, 0), only_reader(n, 0);
  for (uint32_t i = 0; i < n; i++)
    if (live[i])
      for (uint32_t id : g.values[i].inputs) {
        readers[id]++;
        only_reader[id] = i;
      }
  for (const Output& o : g.outputs) readers[o.value] += 2;  // an output is never fused away
  std::vector<bool> absorbed(n, false);

  // Elementwise groups: an elementwise op whose only reader is an elementwise op of the same shape
  // is computed inside that reader's fused program ("inner"); constant sub-graphs are left to
  // folding. The group's root (an elementwise op that is not inner) becomes one kernel.
  std::vector<bool> const_like(n, false), ew_inner(n, false);
  auto is_ew = [&](uint32_t i) {
    const Value& v = g.values[i];
    if (v.kind != ValueKind::Op || !live[i] || !opts.fuse) return false;
    const OpFamily f = op_info(v.op).family;
    if (f != OpFamily::Binary && f != OpFamily::UnarySigned && f != OpFamily::UnaryFloat) return false;
    return fused_elementwise_supports(v.op, v.dtype);
  };
  for (uint32_t i = 0; i < n; i++) {
    const Value& v = g.values[i];
    if (v.kind == ValueKind::Constant) const_like[i] = true;
    if (v.kind != ValueKind::Op) continue;
    bool all = opts.fold_constants;
    for (uint32_t id : v.inputs) all = all && const_like[id];
    const_like[i] = all;
  }
  for (uint32_t i = 0; i < n; i++)
    if (is_ew(i) && !const_like[i] && readers[i] == 1 && is_ew(only_reader[i]) &&
        g.values[only_reader[i]].shape == g.values[i].shape && g.values[only_reader[i]].dtype == g.values[i].dtype)
      ew_inner[i] = true;

  // Channels-last intermediates: a 4-D f32 value that only convs and pools read (as their input x)
  // may be kept in nhwc order, when the kernel making it can write that (writes_strided_output()).
  // oneDNN's convs run on nhwc (brgconv) or blocked layouts, so an nchw value between two convs
  // costs a reorder on each side; in nhwc the next conv or pool reads it in place.
  std::vector<uint8_t> spatial_readers(n, 0);  // bit 0: read as a conv/pool's x; bit 1: read otherwise
  for (uint32_t j = 0; j < n; j++) {
    const Value& r = g.values[j];
    if (!live[j]) continue;
    for (size_t k = 0; k < r.inputs.size(); k++) {
      const bool reads_x = r.kind == ValueKind::Op && k == 0 &&
                           (r.op == OpCode::Conv2d || r.op == OpCode::MaxPool2d || r.op == OpCode::AvgPool2d);
      spatial_readers[r.inputs[k]] |= reads_x ? 1 : 2;
    }
  }
  auto nhwc_ok = [&](uint32_t id) {
    const Value& v = g.values[id];
    if (!opts.channels_last || v.dtype != DType::F32 || v.shape.size() != 4 || output_of.count(id)) return false;
    return spatial_readers[id] == 1;
  };
  auto nhwc_desc = [](TensorDesc d) {
    const Shape& sh = d.shape;  // [N, C, H, W]
    d.strides = {sh[1] * sh[2] * sh[3], 1, sh[3] * sh[1], sh[1]};
    return d;
  };
  // Makes a conv kernel writing `spec.output` in nhwc order when `id` may be kept so and the kernel
  // can; else (nullptr) the caller makes the usual contiguous one.
  auto try_nhwc_kernel = [&](KernelSpec spec, uint32_t id, TensorDesc* out_desc) -> std::unique_ptr<Kernel> {
    if (spec.op != OpCode::Conv2d || !nhwc_ok(id)) return nullptr;
    spec.output = nhwc_desc(spec.output);
    std::unique_ptr<Kernel> k = try_make_kernel(spec);
    if (!k || !k->writes_strided_output() || (!spec.post_ops.empty() && !k->fused_post_ops())) return nullptr;
    *out_desc = spec.output;
    return k;
  };

  std::map<uint32_t, LoopKernel*> loop_kernels;  // Loop value id -> its kernel (owned by a step)
  for (uint32_t i = 0; i < n; i++) {
    const Value& v = g.values[i];
    Slot& s = m.slots[i];
    if (v.kind == ValueKind::Loop && live[i]) {
      if (v.index >= g.loops.size() || !g.loops[v.index]) fail(ErrorCode::INTERNAL, "plan: loop ", v.index, " is missing");
      auto k = std::make_unique<LoopKernel>(*g.loops[v.index], constants, opts);
      loop_kernels[i] = k.get();
      s.loc = Loc::Fixed;
      s.ptr = (char*)k->result(0);
      s.base = i;
      s.desc = TensorDesc(DType::U8, {0});
      plan->stats_.loops.push_back({k->trips(), k->body().stats().steps});
      // the body reads its inputs as contiguous arrays: a strided view (a transpose made before
      // the loop) is copied once per run into a contiguous block first
      std::vector<uint32_t> ins = v.inputs;
      for (uint32_t& id : ins) {
        const Slot src = m.slots[id];  // a copy: m.slots grows below
        if (src.desc.is_contiguous()) continue;
        Slot dst;
        dst.loc = Loc::Arena;
        dst.base = (uint32_t)m.slots.size();
        dst.desc = TensorDesc(src.desc.dtype, src.desc.shape);
        m.slots.push_back(dst);
        Step cp;
        cp.kernel = make_kernel(KernelSpec{OpCode::Copy, {}, {no_offset(src.desc)}, dst.desc, {}});
        cp.ins = {id};
        cp.out = dst.base;
        cp.ptrs.resize(1);
        m.steps.push_back(std::move(cp));
        id = dst.base;
      }
      Step st;
      st.kernel = std::move(k);
      st.ins = ins;
      st.out = i;
      st.ptrs.resize(ins.size());
      m.steps.push_back(std::move(st));
      continue;
    }
    if (v.kind == ValueKind::LoopResult && live[i]) {
      LoopKernel* k = loop_kernels.at(v.inputs.at(0));
      s.loc = Loc::Fixed;
      s.ptr = (char*)k->result(v.index);
      s.base = i;
      s.desc = TensorDesc(v.dtype, v.shape);
      continue;
    }
    if (v.kind != ValueKind::Op || !live[i] || absorbed[i]) continue;
    if (ew_inner[i]) {  // computed inside its reader's fused program; the root's infer() reads its shape
      s.desc = TensorDesc(v.dtype, v.shape);
      continue;
    }
    // 2. an op: a view becomes an alias of its input's memory
    std::vector<TensorDesc> in_descs;
    bool all_const = true;
    for (uint32_t id : v.inputs) {
      in_descs.push_back(m.slots[id].desc);
      all_const = all_const && m.slots[id].loc == Loc::Constant;
    }
    InferResult r = infer(v.op, v.attrs, in_descs);
    if (r.is_view) {
      const Slot& src = m.slots[v.inputs[0]];
      s = src;
      s.desc = r.out;
      plan->stats_.views++;
      continue;
    }
    KernelSpec spec{v.op, v.attrs, {}, r.out};
    for (auto& d : in_descs) spec.inputs.push_back(no_offset(d));
    auto constant_ptr = [&](uint32_t id) -> const void* {
      const Slot& src = m.slots[id];
      return src.loc == Loc::Constant ? m.const_addr(src) : nullptr;
    };
    // 3. constant folding: evaluate ops on constants now
    if (opts.fold_constants && all_const && output_of.count(i) == 0) {
      size_t bytes = r.out.nbytes();
      void* tmp = aligned_bytes(bytes);
      try {
        if (r.out.numel() > 0) {
          auto k = make_kernel(spec);
          std::vector<const void*> ptrs;
          for (uint32_t id : v.inputs) ptrs.push_back(m.const_addr(m.slots[id]));
          run_once(*k, ptrs.data(), tmp);
        }
      } catch (...) {
        std::free(tmp);
        throw;
      }
      m.constants.push_back(tmp);
      m.constant_sizes.push_back(bytes);
      plan->stats_.constant_bytes += bytes;
      s.loc = Loc::Constant;
      s.index = (uint32_t)(m.constants.size() - 1);
      s.base = i;
      s.desc = r.out;
      plan->stats_.folded++;
      continue;
    }
    s.base = i;
    s.desc = r.out;
    for (uint32_t id : v.inputs) spec.constant_data.push_back(constant_ptr(id));
    auto it = output_of.find(i);
    if (it != output_of.end()) {
      s.loc = Loc::Output;
      s.index = it->second;
      output_bound[it->second] = true;
    } else {
      s.loc = Loc::Arena;
    }
    if (r.out.numel() == 0) continue;  // nothing to compute
    Step st;
    st.ins = v.inputs;
    st.out = i;
    // 4. fusion: matmul / conv2d followed by a bias add and activations become one kernel with
    //    oneDNN post-ops, when every intermediate has this chain as its only reader
    if (opts.fuse && (v.op == OpCode::Matmul || v.op == OpCode::Conv2d) && r.out.dtype == DType::F32) {
      KernelSpec fused = spec;
      std::vector<uint32_t> chain, ins = v.inputs;
      uint32_t tail = i;
      while (readers[tail] == 1) {
        uint32_t c = only_reader[tail];
        const Value& cv = g.values[c];
        if (cv.dtype != DType::F32 || cv.shape != r.out.shape) break;
        const OpFamily fam = op_info(cv.op).family;
        if (cv.op == OpCode::Add) {
          uint32_t other = cv.inputs[0] == tail ? cv.inputs[1] : cv.inputs[0];
          if (other == tail || m.slots[other].loc == Loc::None || m.slots[other].loc == Loc::Output) break;
          fused.inputs.push_back(no_offset(m.slots[other].desc));
          fused.constant_data.push_back(constant_ptr(other));
          fused.post_ops.push_back({cv.op, cv.attrs, (int)fused.inputs.size() - 1});
          ins.push_back(other);
        } else if (fam == OpFamily::UnarySigned || fam == OpFamily::UnaryFloat) {
          fused.post_ops.push_back({cv.op, cv.attrs, -1});
        } else {
          break;
        }
        chain.push_back(c);
        tail = c;
      }
      std::unique_ptr<Kernel> k;
      if (!chain.empty()) {
        fused.output = TensorDesc(g.values[tail].dtype, g.values[tail].shape);
        k = try_nhwc_kernel(fused, tail, &fused.output);
        if (!k) k = try_make_kernel(fused);
      }
      if (k) {
        for (uint32_t c : chain) absorbed[c] = true;
        // the chain's result lives where the tail would have
        Slot& ts = m.slots[tail];
        ts.base = tail;
        ts.desc = fused.output;
        auto ot = output_of.find(tail);
        if (ot != output_of.end()) {
          ts.loc = Loc::Output;
          ts.index = ot->second;
          output_bound[ot->second] = true;
        } else {
          ts.loc = Loc::Arena;
        }
        s.loc = Loc::None;  // the op's own result is never materialised
        st.kernel = std::move(k);
        st.ins = ins;
        st.out = tail;
        st.ptrs.resize(ins.size());
        plan->stats_.fused += chain.size();
        m.steps.push_back(std::move(st));
        continue;
      }
    }
    // 5. an elementwise group root: one fused pass over its inner ops
    if (is_ew(i)) {
      std::vector<uint32_t> order, leaves;
      std::unordered_map<uint32_t, int> reg_of;  // sized by the group, not the graph (linear compile time)
      // inner nodes in evaluation order (post-order of the tree below the root)
      std::vector<std::pair<uint32_t, size_t>> stack{{i, 0}};
      while (!stack.empty()) {
        auto& [x, k] = stack.back();
        const Value& xv = g.values[x];
        if (k < xv.inputs.size()) {
          uint32_t id = xv.inputs[k++];
          if (ew_inner[id] && m.slots[id].loc == Loc::None && !absorbed[id]) stack.push_back({id, 0});
        } else {
          order.push_back(x);
          stack.pop_back();
        }
      }
      if (order.size() > 1) {
        FusedProgram prog;
        const std::unordered_set<uint32_t> inner_ids(order.begin(), order.end());
        auto reg = [&](uint32_t id) -> int {
          auto it = reg_of.find(id);
          if (inner_ids.count(id)) return it == reg_of.end() ? -1 : it->second;
          if (it == reg_of.end()) {
            it = reg_of.emplace(id, (int)leaves.size()).first;
            leaves.push_back(id);
            prog.inputs.push_back(no_offset(m.slots[id].desc));
          }
          return it->second;
        };
        // leaves first (registers 0..L-1), then one register per instruction
        for (uint32_t x : order)
          for (uint32_t id : g.values[x].inputs) reg(id);
        int next = (int)leaves.size();
        for (uint32_t x : order) {
          const Value& xv = g.values[x];
          FusedInstr ins{xv.op, xv.attrs, reg(xv.inputs[0]), xv.inputs.size() > 1 ? reg(xv.inputs[1]) : -1};
          prog.instrs.push_back(ins);
          reg_of[x] = next++;
        }
        prog.output = r.out;
        std::unique_ptr<Kernel> k = make_fused_elementwise(prog);
        if (!k) fail(ErrorCode::INTERNAL, "plan: the fused elementwise kernel declined a program it declared supported");
        st.kernel = std::move(k);
        st.ins = leaves;
        st.ptrs.resize(leaves.size());
        plan->stats_.fused += order.size() - 1;
        m.steps.push_back(std::move(st));
        continue;
      }
    }
    st.kernel = s.loc == Loc::Arena ? try_nhwc_kernel(spec, i, &s.desc) : nullptr;
    if (!st.kernel) st.kernel = make_kernel(spec);
    st.ptrs.resize(v.inputs.size());
    m.steps.push_back(std::move(st));
  }

  // 4. outputs that are inputs, constants, views or repeated: copy into the output memory
  std::vector<Slot> out_slots;
  for (uint32_t j = 0; j < g.outputs.size(); j++) {
    if (output_bound[j]) continue;
    uint32_t vid = g.outputs[j].value;
    const Slot src = m.slots[vid];  // a copy: m.slots grows below
    if (src.desc.numel() == 0) continue;
    // a pseudo value for the output slot
    Slot dst;
    dst.loc = Loc::Output;
    dst.index = j;
    dst.base = (uint32_t)m.slots.size();
    dst.desc = TensorDesc(src.desc.dtype, src.desc.shape);
    m.slots.push_back(dst);
    Step st;
    st.kernel = make_kernel(KernelSpec{OpCode::Copy, {}, {no_offset(src.desc)}, dst.desc});
    st.ins = {vid};
    st.out = dst.base;
    st.ptrs.resize(1);
    m.steps.push_back(std::move(st));
  }

  // 5. constants no step reads at run time are freed: weights every reader packed into its own
  //    layout (the plan keeps only the packed copy) and inputs of folded ops
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
    plan->stats_.constant_bytes -= m.constant_sizes[c];
  }

  // 6. memory planning: arena values get offsets; a block is reused after its last reader
  const size_t nslots = m.slots.size();
  std::vector<int64_t> last_use(nslots, -1);
  for (size_t t = 0; t < m.steps.size(); t++)
    for (uint32_t id : m.steps[t].ins) last_use[m.slots[id].base] = std::max<int64_t>(last_use[m.slots[id].base], (int64_t)t);
  // free blocks by size (best fit in O(log n); equal sizes in the order they were freed)
  std::multimap<size_t, size_t> free_list;  // size -> offset
  size_t arena_size = 0;
  std::vector<std::vector<uint32_t>> release_after(m.steps.size());
  for (size_t t = 0; t < m.steps.size(); t++) {
    uint32_t id = m.steps[t].out;
    Slot& s = m.slots[id];
    if (s.loc == Loc::Arena) {
      size_t need = (s.desc.nbytes() + 63) / 64 * 64;
      // best fit from the free list, else grow
      auto best = free_list.lower_bound(need);
      if (best != free_list.end()) {
        size_t off = best->second, size = best->first;
        s.offset = off;
        free_list.erase(best);
        if (size > need) free_list.emplace(size - need, off + need);
      } else {
        s.offset = arena_size;
        arena_size += need;
      }
      int64_t last = last_use[id];
      if (last < (int64_t)t) last = (int64_t)t;  // written but never read: free right after
      release_after[last].push_back(id);
    }
    for (uint32_t rid : release_after[t]) {
      Slot& r = m.slots[rid];
      free_list.emplace((r.desc.nbytes() + 63) / 64 * 64, r.offset);
    }
  }
  // views of arena values share their base's offset
  for (uint32_t i = 0; i < n; i++) {
    Slot& s = m.slots[i];
    if (s.loc == Loc::Arena && s.base != i) s.offset = m.slots[s.base].offset;
  }

  size_t scratch = 0;
  for (auto& st : m.steps) scratch = std::max(scratch, st.kernel->scratchpad_bytes());
  if (arena_size) {
    m.arena = aligned_bytes(arena_size);
    std::memset(m.arena, 0, arena_size);  // first touch at compile, not at the first run
  }
  if (scratch) {
    m.scratch = aligned_bytes(scratch);
    std::memset(m.scratch, 0, scratch);
  }
  plan->stats_.steps = m.steps.size();
  plan->stats_.arena_bytes = arena_size;
  plan->stats_.scratch_bytes = scratch;
  for (auto& st : m.steps) {
    uint32_t id = st.out;
    const char* name = id >= n ? "output_copy" : g.values[id].kind == ValueKind::Loop ? "loop" : op_info(g.values[id].op).name;
    plan->stats_.impls.push_back(std::string(name) + " " + st.kernel->impl());
  }
  return plan;
}

void Plan::run(const std::vector<const void*>& inputs, const std::vector<void*>& outputs) {
  std::lock_guard<std::mutex> lock(mu_);
  Impl& m = *impl_;
  if (inputs.size() != input_descs_.size() || outputs.size() != output_descs_.size())
    fail(ErrorCode::INTERNAL, "plan: bound ", inputs.size(), " inputs and ", outputs.size(), " outputs, expected ",
         input_descs_.size(), " and ", output_descs_.size());
  m.in = &inputs;
  m.out = &outputs;
  ExecContext ctx;
  ctx.scratchpad = m.scratch;
  // the thread cap of this run (restored on exit, also when a kernel throws)
  struct Cap {
    int prev;
    explicit Cap(int n) : prev(thread_cap()) { set_thread_cap(n); }
    ~Cap() { set_thread_cap(prev); }
  };
  const int cap = adaptive_threads_ ? threads_.next() : thread_cap();
  Cap scope(cap);
  ThreadScope ambient(cap > 0 ? cap : max_threads());  // kernels without their own scope
  const auto t0 = std::chrono::steady_clock::now();
  for (auto& st : m.steps) {
    for (size_t k = 0; k < st.ins.size(); k++) st.ptrs[k] = m.addr(m.slots[st.ins[k]]);
    st.kernel->run(st.ptrs.data(), m.addr(m.slots[st.out]), ctx);
  }
  if (adaptive_threads_) threads_.record(cap, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  m.in = nullptr;
  m.out = nullptr;
}

}  // namespace hodu
