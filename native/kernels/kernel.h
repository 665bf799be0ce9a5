// The kernel interface shared by eager mode and the script interpreter.
//
// A Kernel is made once from a KernelSpec (op, attributes, input descriptors, output descriptor):
// that is where oneDNN primitives are created, layouts chosen and thread counts decided. run() only
// binds pointers and executes, so an interpreter can make kernels at compile time and run them many
// times; eager mode makes one and runs it once (oneDNN's primitive cache keeps that cheap).
#pragma once
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "../core/op.h"
#include "../core/tensor_desc.h"

namespace hodu {

// An elementwise op applied to a kernel's result before it is stored (oneDNN post-ops): a unary op
// (relu, tanh, clamp, ...) or a binary op whose other operand is spec.inputs[operand] (a bias).
// A unary post-op the planner matched from several ops (native/hodu/fuse_conv.cc); attrs are then
// {alpha, beta} of oneDNN's eltwise of that name. Kernels that do not know `pattern` decline it.
enum class PostPattern : uint8_t { None, HardSwish, HardSigmoid };

struct PostOp {
  OpCode op;
  Attrs attrs;
  int operand = -1;  // index into KernelSpec::inputs for a binary post-op, else -1
  PostPattern pattern = PostPattern::None;
};

struct KernelSpec {
  OpCode op;
  Attrs attrs;
  // Shapes, dtypes and strides (in elements) as the kernel will read them. Offsets are ignored:
  // the pointers handed to run() already point at each input's first element.
  std::vector<TensorDesc> inputs;
  // Contiguous row-major, unless the planner asks for another dense order through its strides (a
  // channels-last conv result): a kernel that writes `output` as strided says so with
  // Kernel::writes_strided_output(); the planner drops the request for any other kernel.
  TensorDesc output;
  // Fused epilogue, applied in order to the op's result (see PostOp). Kernels that do not implement
  // post-ops never see a spec with any: make_kernel() skips them (fused_post_ops() is false).
  std::vector<PostOp> post_ops{};
  // Inputs whose data is fixed for the kernel's life (a compiled plan's constants, e.g. weights):
  // constant_data[i], when non-null, points at input i's data (element 0), valid as long as the
  // kernel, and run() is always handed that same pointer for it. A kernel may read it at creation
  // (pre-pack weights into its own layout once) instead of at every run. Empty in eager mode.
  std::vector<const void*> constant_data{};

  const void* constant(size_t i) const { return i < constant_data.size() ? constant_data[i] : nullptr; }
};

struct ExecContext {
  void* scratchpad = nullptr;  // at least Kernel::scratchpad_bytes(), 64-byte aligned
};

class Kernel {
 public:
  virtual ~Kernel() = default;
  // inputs[i] points at element 0 of input i; output is output.nbytes() long (see KernelSpec::output).
  // May throw HoduError (e.g. an index out of range); must never abort the process.
  virtual void run(const void* const* inputs, void* output, const ExecContext& ctx) = 0;
  virtual size_t scratchpad_bytes() const { return 0; }
  // What executes: "onednn:<impl_info_str>" or "loop:<name>"; tests assert no "ref" is used.
  virtual std::string impl() const = 0;
  // True when the kernel applies spec.post_ops itself.
  virtual bool fused_post_ops() const { return false; }
  // True when the kernel writes its output with the strides of spec.output (else contiguous).
  virtual bool writes_strided_output() const { return false; }
  // False for an input the kernel no longer reads at run time (a constant it pre-packed): a plan
  // then frees that constant and passes nullptr for it.
  virtual bool reads_input_at_run(size_t i) const { return true; }
  // True when run() stays correct with the output in the memory of input i, given the same dtype,
  // shape and strides as the output: every element of input i is read before (or as) the same
  // element of the output is written, and no element is read after it was written. The planner
  // then writes a script variable's new value over its old one (native/hodu/in_place.cc).
  virtual bool may_write_over_input(size_t i) const { return false; }
};

using KernelFactory = std::unique_ptr<Kernel> (*)(const KernelSpec&);

// Kernel files register their factories at static-init time:
//   static KernelRegistrar reg({OpCode::Add, OpCode::Sub}, &make_binary_kernel);
// A factory may return nullptr to decline a spec; the next registered factory for the op is tried.
struct KernelRegistrar {
  KernelRegistrar(std::initializer_list<OpCode> ops, KernelFactory f, int priority = 0);
  // The ops of a family selection (ops_of in core/op.h).
  KernelRegistrar(const std::vector<OpCode>& ops, KernelFactory f, int priority = 0);
};

// Makes the kernel for a spec (highest priority factory that accepts it). INTERNAL if none does.
std::unique_ptr<Kernel> make_kernel(const KernelSpec& spec);
// Like make_kernel, but returns nullptr instead of failing (used to try a fused variant).
std::unique_ptr<Kernel> try_make_kernel(const KernelSpec& spec);

// Runs a kernel once on this thread with a thread-local scratchpad (eager mode).
void run_once(Kernel& k, const void* const* inputs, void* output);

}  // namespace hodu
