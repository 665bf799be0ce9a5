// Copy, cast, and materialising views: strided read, contiguous write, any dtype to any dtype.
#include <omp.h>

#include <cstring>

#include "../ops/infer.h"
#include "dnnl_util.h"
#include "elem.h"
#include "kernel.h"
#include "strided.h"

namespace hodu {

namespace {

class CopyCastKernel final : public Kernel {
 public:
  // `src` is the strided view to read (its strides index the input pointer), `dst` contiguous.
  CopyCastKernel(TensorDesc src, TensorDesc dst)
      : src_(std::move(src)), dst_(std::move(dst)),
        loop_(dst_.shape, {contiguous_strides(dst_.shape), src_.strides},
              {(int64_t)dtype_size(dst_.dtype), (int64_t)dtype_size(src_.dtype)}) {
    threads_ = pick_threads((double)dst_.nbytes() + (double)dst_.numel() * dtype_size(src_.dtype));
  }

  void run(const void* const* in, void* out, const ExecContext&) override {
    if (dst_.numel() == 0) return;
    std::array<char*, 2> base{(char*)out, (char*)in[0]};
    dispatch_dtype(dst_.dtype, [&](auto dt) {
      using D = decltype(dt);
      dispatch_dtype(src_.dtype, [&](auto st) {
        using S = decltype(st);
        auto body = [](int64_t n, std::array<char*, 2> p, std::array<int64_t, 2> s) {
          D* o = (D*)p[0];
          const S* i = (const S*)p[1];
          if constexpr (std::is_same_v<D, S>) {
            if (s[1] == 1) {
              std::memcpy(o, i, (size_t)n * sizeof(D));
              return;
            }
            for (int64_t k = 0; k < n; k++) o[k] = i[k * s[1]];
          } else {
            using CD = compute_t<D>;
            for (int64_t k = 0; k < n; k++) o[k] = store<D>(convert_value<CD>(load(i[k * s[1]])));
          }
        };
        int64_t rows = loop_.outer();
        if (threads_ > 1 && rows > 1) {
          ThreadScope ts(threads_);
#pragma omp parallel
          {
            int nt = omp_get_num_threads(), t = omp_get_thread_num();
            int64_t b = rows * t / nt, e = rows * (t + 1) / nt;
            loop_.run_rows(base, b, e, body);
          }
        } else {
          loop_.run(base, body);
        }
      });
    });
  }

  std::string impl() const override { return "loop:copy"; }

 private:
  TensorDesc src_, dst_;
  StridedLoop<2> loop_;
  int threads_ = 1;
};

std::unique_ptr<Kernel> make_copy(const KernelSpec& s) {
  TensorDesc src = s.inputs.at(0);
  src.offset = 0;
  switch (s.op) {
    case OpCode::Cast:
    case OpCode::Copy:
      break;
    default: {  // a view op materialised: read the input through the view's strides
      InferResult r = infer(s.op, s.attrs, {src});
      if (r.is_view) {
        src = r.out;
        if (src.offset != 0) return nullptr;  // slices with offsets are bound by the caller, not here
      } else {
        // reshape of a non-contiguous input: the row-major copy of the input has the output's bytes
        return std::make_unique<CopyCastKernel>(src, TensorDesc(s.output.dtype, src.shape));
      }
    }
  }
  return std::make_unique<CopyCastKernel>(src, s.output);
}

KernelRegistrar reg({OpCode::Cast, OpCode::Copy, OpCode::Reshape, OpCode::Permute, OpCode::BroadcastTo}, &make_copy);

}  // namespace

}  // namespace hodu
