// The fused elementwise kernel: a FusedProgram (fused.h), a tree of f32 Binary / UnarySigned /
// UnaryFloat ops that the planner grouped, evaluated in one pass over memory.
//
// The output is walked in blocks of kBlock elements. For each block every leaf is made available
// as kBlock contiguous floats, then the instructions run one after another, each a vectorised loop
// over the block (the same per-op functors as the separate kernels, elementwise_ops.h, compiled
// for the baseline ISA, AVX2 and AVX-512 like elementwise.h), reading and writing small register
// buffers that stay in L1; the last instruction writes the output directly. So the program reads
// each leaf once and writes the output once, instead of a round trip through memory per op.
//
// Leaves, classified once at build time against the output's row-major order:
//   contiguous  the leaf's elements are the output's (same flat order): read in place;
//   scalar      one element broadcast to everything (a 0-d or [1] constant): the instructions that
//               read it take a scalar operand (vector-scalar loops), nothing is materialised;
//   periodic    a contiguous row of P elements repeated (a [C] bias over [N, C]): the row is
//               unrolled once per run into kBlock + P floats, and a block reads that in place
//               from offset pos % P;
//   gathered    anything else (a transposed / sliced / otherwise broadcast view): copied into a
//               buffer per block by an N-d walk over the coalesced dims.
// Instructions whose operands are all scalar are evaluated once per run, before the blocks.
//
// Registers are assigned to buffers by liveness (a buffer is reused once its value is dead, and
// an instruction may write over an operand it is the last reader of), so a long chain needs only
// as many buffers as its tree is deep. Threads (OpenMP, from the same work estimate as the
// separate kernels) split the output into ranges on cache-line boundaries; all buffers live in
// the kernel's scratchpad, so run() does not allocate.
//
// Results are those of the separate loop kernels (unary.cc, binary.cc) for the same ISA bit for
// bit: the same functors, applied in the same order to the same float values. (From 16K elements
// the separate f32 kernels hand tanh, sigmoid, silu and gelu to oneDNN's eltwise; the fused program
// keeps unary_math.h's versions, within a few ulp of oneDNN's. Sqrt is exact either way.)
#include <omp.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <type_traits>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

#include "dnnl_util.h"
#include "elementwise.h"
#include "elementwise_ops.h"
#include "fused.h"
#include "kernel.h"

namespace hodu {

namespace {

// Elements per block: large enough that the per-block bookkeeping (a call per instruction and per
// leaf) is noise, small enough that a few register buffers stay in L1.
constexpr int64_t kBlock = 512;
// Longest repeated row handled as a periodic leaf (its unrolled copy is kBlock + P floats).
constexpr int64_t kMaxPeriod = 4096;
// Thread ranges start on multiples of this many elements (a cache line of output).
constexpr int64_t kAlign = 16;

// ---------------------------------------------------------------------------------------------
// Block functions: one instruction over n elements. `a` and `b` point at n floats, or at one
// float for a scalar operand (the form says which); `o` may be the same buffer as `a` or `b`.

enum Form : int { kUnary, kVV, kVS, kSV };

using BlockFn = void (*)(const void* f, int64_t n, float* o, const float* a, const float* b);

template <class F, int M>
inline void apply(const void* fp, int64_t n, float* o, const float* a, const float* b) {
  const F f = *static_cast<const F*>(fp);
  if constexpr (M == kUnary) {
#pragma omp simd
    for (int64_t i = 0; i < n; i++) o[i] = f(a[i]);
  } else if constexpr (M == kVV) {
#pragma omp simd
    for (int64_t i = 0; i < n; i++) o[i] = f(a[i], b[i]);
  } else if constexpr (M == kVS) {
    const float bv = *b;
#pragma omp simd
    for (int64_t i = 0; i < n; i++) o[i] = f(a[i], bv);
  } else {
    const float av = *a;
#pragma omp simd
    for (int64_t i = 0; i < n; i++) o[i] = f(av, b[i]);
  }
}

// Sqrt: std::sqrt keeps a loop scalar (it may set errno), so the vector forms use the ISA's
// sqrt instruction, which is the same correctly rounded IEEE operation.
struct SqrtFn {
  float operator()(float x) const { return std::sqrt(x); }
};

template <class F, int M>
HODU_EW_FLATTEN void apply_base(const void* f, int64_t n, float* o, const float* a, const float* b) {
#if defined(__SSE2__)
  if constexpr (std::is_same_v<F, SqrtFn>) {
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) _mm_storeu_ps(o + i, _mm_sqrt_ps(_mm_loadu_ps(a + i)));
    for (; i < n; i++) o[i] = std::sqrt(a[i]);
    return;
  }
#endif
  apply<F, M>(f, n, o, a, b);
}

#if HODU_EW_MULTIVERSION
template <class F, int M>
HODU_EW_TARGET_AVX2 void apply_avx2(const void* f, int64_t n, float* o, const float* a, const float* b) {
  if constexpr (std::is_same_v<F, SqrtFn>) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(o + i, _mm256_sqrt_ps(_mm256_loadu_ps(a + i)));
    for (; i < n; i++) o[i] = std::sqrt(a[i]);
  } else {
    apply<F, M>(f, n, o, a, b);
  }
}

template <class F, int M>
HODU_EW_TARGET_AVX512 void apply_avx512(const void* f, int64_t n, float* o, const float* a, const float* b) {
  if constexpr (std::is_same_v<F, SqrtFn>) {
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
      const __m512 v = _mm512_loadu_ps(a + i);
      _mm512_storeu_ps(o + i, _mm512_mask_sqrt_ps(v, (__mmask16)0xffff, v));  // (GCC 12 warns on _mm512_sqrt_ps)
    }
    for (; i < n; i++) o[i] = std::sqrt(a[i]);
  } else {
    apply<F, M>(f, n, o, a, b);
  }
}
#endif

// The entry point for this CPU, among the variants worth compiling (see ew::Variants).
template <class F, int M, ew::Variants V>
BlockFn pick_fn() {
#if HODU_EW_MULTIVERSION
  if constexpr (V == ew::Variants::All) {
    if (ew::variant_isa(V) == ew::Isa::Avx512) return &apply_avx512<F, M>;
  }
  if constexpr (V != ew::Variants::Base) {
    if (ew::variant_isa(V) == ew::Isa::Avx2) return &apply_avx2<F, M>;
  }
#endif
  return &apply_base<F, M>;
}

// ---------------------------------------------------------------------------------------------
// The compiled program.

// Where an instruction operand comes from during a block.
enum class SrcKind : uint8_t { Leaf, Slot, Scalar };
struct Src {
  SrcKind kind = SrcKind::Scalar;
  int32_t idx = 0;  // leaf index, slot index, or register (index into the scalar area)
};

enum class LeafKind : uint8_t { Contiguous, Scalar, Periodic, Gathered };

struct Leaf {
  LeafKind kind = LeafKind::Contiguous;
  int64_t period = 0;   // Periodic: P
  int64_t ext_off = 0;  // Periodic: float offset of the unrolled row in the shared scratch area
  int gather = -1;      // Gathered: index of its per-thread buffer
  // Gathered: the leaf over the output's coalesced dims (row-major over `shape`).
  int rank = 0;
  std::array<int64_t, kMaxRank> shape{}, stride{};
};

struct Instr {
  BlockFn fn = nullptr;
  alignas(8) unsigned char state[32];  // the op's functor (trivially copyable)
  Form form = kUnary;
  Src a, b;
  bool scalar = false;  // all operands scalar: evaluated once per run
  int reg = 0;          // the register it defines
  int dst = -1;         // slot written; -1 = the output (the last instruction)
  double cost = 1;      // relative cost per byte (unary_cost), for the thread policy
  const char* name = "";
};

// Sets ins.fn/state for functor f. Libm-bound ops (pow, sin, cos, tan) compile the baseline only,
// like the separate kernels.
template <class F, ew::Variants V>
void set_unary(Instr& ins, const F& f) {
  static_assert(sizeof(F) <= sizeof(Instr::state) && std::is_trivially_copyable_v<F>, "functor too big");
  new (ins.state) F(f);
  ins.fn = pick_fn<F, kUnary, V>();
}

template <class F, ew::Variants V>
void set_binary(Instr& ins, const F& f) {
  static_assert(sizeof(F) <= sizeof(Instr::state) && std::is_trivially_copyable_v<F>, "functor too big");
  new (ins.state) F(f);
  switch (ins.form) {
    case kVS: ins.fn = pick_fn<F, kVS, V>(); break;
    case kSV: ins.fn = pick_fn<F, kSV, V>(); break;
    default: ins.fn = pick_fn<F, kVV, V>(); break;
  }
}

// The functor of one op of the families Binary, UnarySigned and UnaryFloat (ops.def); false for
// any other op or missing attributes. Libm-bound ops (pow, sin, cos, tan) compile the baseline only.
template <OpCode OP>
bool bind_op_for(Instr& ins, const Attrs& attrs) {
  using V = ew::Variants;
  constexpr OpFamily fam = op_family(OP);
  if constexpr (fam == OpFamily::Binary) {
    constexpr bool libm = OP == OpCode::Pow;
    set_binary<ew::BinaryFn<OP, float>, libm ? V::Base : V::All>(ins, {});
    ins.cost = libm ? 12 : 1;
    return true;
  } else if constexpr (fam == OpFamily::UnarySigned || fam == OpFamily::UnaryFloat) {
    if (attrs.size() < (size_t)op_info(OP).attr_count) return false;
    ins.cost = (double)ew::unary_cost(OP, false);
    if constexpr (OP == OpCode::Sqrt) {
      set_unary<SqrtFn, V::All>(ins, {});
      ins.cost = 1;  // a vector instruction here
    } else if constexpr (OP == OpCode::Clamp) {
      set_unary<ew::ClampFn<float>, V::All>(ins, ew::ClampFn<float>::make(attrs[0], attrs[1]));
    } else {
      ew::UnaryFn<OP, float> f;
      if constexpr (op_info(OP).attr_count == 1) f.a = (float)attrs[0];  // leaky_relu slope, elu alpha
      constexpr bool libm = ew::unary_cost(OP, false) == ew::Cost::Libm;
      set_unary<decltype(f), libm ? V::Base : V::All>(ins, f);
    }
    return true;
  } else {
    return false;
  }
}

bool bind_op(Instr& ins, OpCode op, const Attrs& attrs) {
  switch (op) {
#define HODU_OP(E, name, code, fam, arity, attrs_, grad) \
  case OpCode::E: return bind_op_for<OpCode::E>(ins, attrs);
#include "../core/ops.def"
#undef HODU_OP
  }
  return false;
}

bool is_binary(OpCode op) { return op_info(op).family == OpFamily::Binary; }

// The ops bind_op runs (the same family test), in f32 only.
bool fused_supports(OpCode op, DType dtype) {
  if (dtype != DType::F32 || !opcode_valid((int)op)) return false;
  const OpFamily f = op_family(op);
  return f == OpFamily::Binary || f == OpFamily::UnarySigned || f == OpFamily::UnaryFloat;
}

class FusedKernel final : public Kernel {
 public:
  // Fills the kernel from a program; false when the program is malformed or uses an unsupported op.
  bool build(const FusedProgram& p) {
    const TensorDesc& out = p.output;
    if (out.dtype != DType::F32 || p.instrs.empty()) return false;
    total_ = out.numel();
    const int nleaf = (int)p.inputs.size();
    const int nreg = nleaf + (int)p.instrs.size();
    std::vector<bool> reg_scalar(nreg, false);

    // Leaves.
    const Shape out_strides = contiguous_strides(out.shape);
    leaves_.resize(nleaf);
    int64_t ext = round16(nreg);  // the scalar area comes first in the shared scratch
    for (int l = 0; l < nleaf; l++) {
      const TensorDesc& d = p.inputs[l];
      if (d.dtype != DType::F32 || d.shape.size() > out.shape.size()) return false;
      for (size_t k = 0; k < d.shape.size(); k++) {
        const int64_t want = out.shape[out.shape.size() - d.shape.size() + k];
        if (d.shape[k] != want && d.shape[k] != 1) return false;
      }
      Leaf& lf = leaves_[l];
      StridedLoop<2> loop(out.shape, {out_strides, ew::operand_strides(d, out.shape)}, {4, 4});
      const Shape& sh = loop.shape;
      const Shape& st = loop.strides[1];
      bool all_zero = true;
      for (int64_t s : st) all_zero = all_zero && s == 0;
      if (all_zero || total_ <= 1) {
        lf.kind = LeafKind::Scalar;
        reg_scalar[l] = true;
      } else if (sh.size() == 1 && st[0] == 1) {
        lf.kind = LeafKind::Contiguous;
      } else if (sh.size() == 2 && st[0] == 0 && st[1] == 1 && sh[1] <= kMaxPeriod) {
        lf.kind = LeafKind::Periodic;
        lf.period = sh[1];
        lf.ext_off = ext;
        ext += round16(kBlock + sh[1]);
      } else {
        lf.kind = LeafKind::Gathered;
        lf.gather = ngather_++;
        lf.rank = (int)sh.size();
        for (size_t k = 0; k < sh.size(); k++) {
          lf.shape[k] = sh[k];
          lf.stride[k] = st[k];
        }
      }
    }
    shared_floats_ = ext;

    // Instructions: operand forms, scalar folding, liveness.
    const int ni = (int)p.instrs.size();
    instrs_.resize(ni);
    std::vector<int> last_use(nreg, -1);
    for (int k = 0; k < ni; k++) {
      const FusedInstr& fi = p.instrs[k];
      const int limit = nleaf + k;  // an instruction reads leaves and earlier results
      if (!opcode_valid((int)fi.op) || !fused_supports(fi.op, DType::F32)) return false;
      const bool bin = is_binary(fi.op);
      if (fi.a < 0 || fi.a >= limit || (bin ? (fi.b < 0 || fi.b >= limit) : fi.b != -1)) return false;
      last_use[fi.a] = k;
      if (bin) last_use[fi.b] = k;
    }
    std::vector<int> slot_of(nreg, -1), free_slots;
    for (int k = 0; k < ni; k++) {
      const FusedInstr& fi = p.instrs[k];
      Instr& ins = instrs_[k];
      ins.reg = nleaf + k;
      ins.name = op_info(fi.op).name;
      const bool bin = is_binary(fi.op);
      const bool sa = reg_scalar[fi.a], sb = bin ? (bool)reg_scalar[fi.b] : true;
      ins.scalar = sa && sb;
      ins.form = !bin ? kUnary : (ins.scalar || (!sa && !sb)) ? kVV : sa ? kSV : kVS;
      if (!bind_op(ins, fi.op, fi.attrs)) return false;
      reg_scalar[ins.reg] = ins.scalar;
      auto src = [&](int r) {
        Src s;
        if (reg_scalar[r]) s = {SrcKind::Scalar, r};
        else if (r < nleaf) s = {SrcKind::Leaf, r};
        else s = {SrcKind::Slot, slot_of[r]};
        return s;
      };
      ins.a = src(fi.a);
      if (bin) ins.b = src(fi.b);
      if (ins.scalar) continue;
      // operands whose last reader this is free their slots first: the result may overwrite one
      for (int r : {fi.a, bin ? fi.b : -1})
        if (r >= nleaf && slot_of[r] >= 0 && last_use[r] == k) {
          if (std::find(free_slots.begin(), free_slots.end(), slot_of[r]) == free_slots.end())
            free_slots.push_back(slot_of[r]);
        }
      if (k == ni - 1) {
        ins.dst = -1;
      } else if (!free_slots.empty()) {
        ins.dst = free_slots.back();
        free_slots.pop_back();
      } else {
        ins.dst = nslots_++;
      }
      slot_of[ins.reg] = ins.dst;
      if (last_use[ins.reg] < 0 && ins.dst >= 0) free_slots.push_back(ins.dst);  // never read
    }
    out_scalar_ = instrs_.back().scalar;

    // Thread policy: bytes moved, plus the math, as the separate kernels estimate it.
    double work = 4.0 * (double)total_;
    for (const Leaf& lf : leaves_)
      if (lf.kind != LeafKind::Scalar) work += 4.0 * (double)total_;
    for (const Instr& ins : instrs_)
      if (!ins.scalar) work += 4.0 * (double)total_ * ins.cost;
    threads_ = total_ < 2 * kBlock ? 1 : pick_threads(work);

    // Per-thread scratch: slots, gather buffers, leaf pointers.
    per_thread_bytes_ = (size_t)(nslots_ + ngather_) * kBlock * 4 + round64(sizeof(const float*) * (size_t)nleaf);
    isa_ = ew::host_isa();
    return true;
  }

  void run(const void* const* in, void* out, const ExecContext& ctx) override {
    if (total_ <= 0) return;
    float* const shared = static_cast<float*>(ctx.scratchpad);
    float* const scal = shared;  // the scalar registers
    const int nleaf = (int)leaves_.size();
    for (int l = 0; l < nleaf; l++) {
      const Leaf& lf = leaves_[l];
      const float* src = static_cast<const float*>(in[l]);
      if (lf.kind == LeafKind::Scalar) {
        scal[l] = src[0];
      } else if (lf.kind == LeafKind::Periodic) {
        float* e = shared + lf.ext_off;
        const int64_t len = kBlock + lf.period;
        for (int64_t j = 0; j < len; j += lf.period)
          std::memcpy(e + j, src, (size_t)std::min(lf.period, len - j) * 4);
      }
    }
    for (const Instr& ins : instrs_)
      if (ins.scalar) ins.fn(ins.state, 1, scal + ins.reg, operand(ins.a, scal, nullptr, nullptr),
                             operand(ins.b, scal, nullptr, nullptr));
    float* o = static_cast<float*>(out);
    if (out_scalar_) {
      std::fill(o, o + total_, scal[instrs_.back().reg]);
      return;
    }
    char* const tbase = reinterpret_cast<char*>(shared) + round64((size_t)shared_floats_ * 4);
    if (threads_ > 1) {
      ThreadScope ts(threads_);
#pragma omp parallel
      {
        const int nt = omp_get_num_threads(), t = omp_get_thread_num();
        run_range(bound(t, nt), bound(t + 1, nt), in, o, shared, tbase + (size_t)t * per_thread_bytes_);
      }
    } else {
      run_range(0, total_, in, o, shared, tbase);
    }
  }

  size_t scratchpad_bytes() const override {
    return round64((size_t)shared_floats_ * 4) + (size_t)threads_ * per_thread_bytes_;
  }

  // A contiguous leaf is read per block before the block's last instruction writes the output; a
  // scalar one before any block. Gathered and periodic leaves are not the output's elements.
  bool may_write_over_input(size_t i) const override {
    return i < leaves_.size() && (leaves_[i].kind == LeafKind::Contiguous || leaves_[i].kind == LeafKind::Scalar);
  }

  std::string impl() const override {
    std::string s = "loop:fused[";
    for (size_t k = 0; k < instrs_.size(); k++) s += std::string(k ? "," : "") + instrs_[k].name;
    return s + "]/" + ew::isa_name(isa_);
  }

 private:
  static int64_t round16(int64_t n) { return (n + 15) / 16 * 16; }
  static size_t round64(size_t n) { return (n + 63) / 64 * 64; }

  int64_t bound(int t, int nt) const {
    if (t <= 0) return 0;
    if (t >= nt) return total_;
    return std::min(total_, total_ * t / nt / kAlign * kAlign);
  }

  static const float* operand(const Src& s, const float* scal, const float* const* leaf_ptr, const float* slots) {
    switch (s.kind) {
      case SrcKind::Scalar: return scal + s.idx;
      case SrcKind::Leaf: return leaf_ptr[s.idx];
      default: return slots + (int64_t)s.idx * kBlock;
    }
  }

  // Copies elements [pos, pos + n) of a gathered leaf (in the output's row-major order) to dst.
  static void gather(const Leaf& lf, const float* src, int64_t pos, int64_t n, float* dst) {
    const int r = lf.rank;
    std::array<int64_t, kMaxRank> idx;
    int64_t off = 0, rem = pos;
    for (int d = r - 1; d >= 0; d--) {
      idx[d] = rem % lf.shape[d];
      rem /= lf.shape[d];
      off += idx[d] * lf.stride[d];
    }
    const int64_t inner = lf.shape[r - 1], s = lf.stride[r - 1];
    while (n > 0) {
      const int64_t m = std::min(inner - idx[r - 1], n);
      const float* p = src + off;
      if (s == 0) std::fill(dst, dst + m, p[0]);
      else if (s == 1) std::memcpy(dst, p, (size_t)m * 4);
      else
        for (int64_t i = 0; i < m; i++) dst[i] = p[i * s];
      dst += m;
      n -= m;
      idx[r - 1] += m;
      off += m * s;
      if (idx[r - 1] == inner) {  // carry into the outer dims
        idx[r - 1] = 0;
        off -= inner * s;
        for (int d = r - 2; d >= 0; d--) {
          off += lf.stride[d];
          if (++idx[d] < lf.shape[d]) break;
          off -= lf.shape[d] * lf.stride[d];
          idx[d] = 0;
        }
      }
    }
  }

  void run_range(int64_t begin, int64_t end, const void* const* in, float* out, const float* shared,
                 char* tscratch) const {
    float* const slots = reinterpret_cast<float*>(tscratch);
    float* const gbuf = slots + (int64_t)nslots_ * kBlock;
    const float** const lp = reinterpret_cast<const float**>(gbuf + (int64_t)ngather_ * kBlock);
    const int nleaf = (int)leaves_.size();
    for (int64_t pos = begin; pos < end; pos += kBlock) {
      const int64_t n = std::min(kBlock, end - pos);
      for (int l = 0; l < nleaf; l++) {
        const Leaf& lf = leaves_[l];
        const float* src = static_cast<const float*>(in[l]);
        switch (lf.kind) {
          case LeafKind::Contiguous: lp[l] = src + pos; break;
          case LeafKind::Periodic: lp[l] = shared + lf.ext_off + pos % lf.period; break;
          case LeafKind::Gathered: {
            float* g = gbuf + (int64_t)lf.gather * kBlock;
            gather(lf, src, pos, n, g);
            lp[l] = g;
            break;
          }
          case LeafKind::Scalar: break;
        }
      }
      for (const Instr& ins : instrs_) {
        if (ins.scalar) continue;
        float* o = ins.dst < 0 ? out + pos : slots + (int64_t)ins.dst * kBlock;
        ins.fn(ins.state, n, o, operand(ins.a, shared, lp, slots), operand(ins.b, shared, lp, slots));
      }
    }
  }

  std::vector<Leaf> leaves_;
  std::vector<Instr> instrs_;
  int64_t total_ = 0;
  int nslots_ = 0, ngather_ = 0;
  int64_t shared_floats_ = 0;  // scalar registers + unrolled periodic rows
  size_t per_thread_bytes_ = 0;
  bool out_scalar_ = false;
  int threads_ = 1;
  ew::Isa isa_ = ew::Isa::Base;
};

std::unique_ptr<Kernel> make_fused(const FusedProgram& p) {
  auto k = std::make_unique<FusedKernel>();
  if (!k->build(p)) return nullptr;
  return k;
}

FusedRegistrar reg_fused(&make_fused, &fused_supports);

}  // namespace

}  // namespace hodu
