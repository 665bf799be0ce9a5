// Concat: joins strided inputs of one dtype along a dim into a contiguous output.
//
// Input i lands in the output block that starts at offset_i along the dim; it is copied as a
// strided-to-strided copy (StridedLoop with the output's strides), which merges dims so that
// contiguous inputs become long memcpy rows. Elements are moved as raw 1/2/4/8-byte words, so one
// instantiation per element size serves every dtype. Threads split each input's rows (or, when an
// input is a single long row, its elements).
#include <omp.h>

#include <cstring>

#include "dnnl_util.h"
#include "elem.h"
#include "kernel.h"
#include "strided.h"

namespace hodu {

namespace {

// Calls f(word) with an unsigned integer of the given byte size.
template <class F>
void dispatch_word(size_t size, F&& f) {
  switch (size) {
    case 1: return f(uint8_t{});
    case 2: return f(uint16_t{});
    case 4: return f(uint32_t{});
    case 8: return f(uint64_t{});
  }
  fail(ErrorCode::INTERNAL, "concat: element size ", size);
}

// n elements from src (stride ss) to dst (stride ds), in elements of type W.
template <class W>
void copy_run(W* dst, int64_t ds, const W* src, int64_t ss, int64_t n) {
  if (ds == 1 && ss == 1) {
    std::memcpy(dst, src, (size_t)n * sizeof(W));
  } else if (ds == 1) {
    for (int64_t k = 0; k < n; k++) dst[k] = src[k * ss];
  } else {
    for (int64_t k = 0; k < n; k++) dst[k * ds] = src[k * ss];
  }
}

class ConcatKernel final : public Kernel {
 public:
  explicit ConcatKernel(const KernelSpec& s) : esize_(dtype_size(s.output.dtype)) {
    const TensorDesc& out = s.output;
    const int dim = norm_dim((int64_t)s.attrs.at(0), out.ndim(), "concat");
    const Shape ost = contiguous_strides(out.shape);
    int64_t offset = 0;
    double bytes = 0;
    for (size_t i = 0; i < s.inputs.size(); i++) {
      const TensorDesc& in = s.inputs[i];
      if (in.numel() > 0) {
        parts_.push_back({i, offset * ost[dim], StridedLoop<2>(in.shape, {ost, in.strides}, {(int64_t)esize_, (int64_t)esize_})});
        bytes += 2.0 * (double)in.nbytes();
      }
      offset += in.shape[dim];
    }
    threads_ = pick_threads(bytes);
  }

  std::string impl() const override { return "loop:concat"; }

  void run(const void* const* in, void* out, const ExecContext&) override {
    dispatch_word(esize_, [&](auto word) {
      using W = decltype(word);
      auto body = [](int64_t n, std::array<char*, 2> p, std::array<int64_t, 2> st) {
        copy_run((W*)p[0], st[0], (const W*)p[1], st[1], n);
      };
      // This thread's share (t of nt) of every input.
      auto share = [&](int t, int nt) {
        for (const Part& part : parts_) {
          std::array<char*, 2> base{(char*)out + part.out_offset * (int64_t)esize_, (char*)in[part.input]};
          const StridedLoop<2>& lp = part.loop;
          const int64_t rows = lp.outer();
          if (rows >= nt || nt == 1) {
            lp.run_rows(base, rows * t / nt, rows * (t + 1) / nt, body);
          } else {  // one long row: split its elements
            const int64_t n = lp.inner(), b = n * t / nt, e = n * (t + 1) / nt;
            lp.run_rows(base, 0, rows, [&](int64_t, std::array<char*, 2> p, std::array<int64_t, 2> st) {
              copy_run((W*)p[0] + b * st[0], st[0], (const W*)p[1] + b * st[1], st[1], e - b);
            });
          }
        }
      };
      if (threads_ > 1) {
        ThreadScope ts(threads_);
#pragma omp parallel
        share(omp_get_thread_num(), omp_get_num_threads());
      } else {
        share(0, 1);
      }
    });
  }

 private:
  struct Part {
    size_t input;        // index into the inputs
    int64_t out_offset;  // element offset of the input's block in the output
    StridedLoop<2> loop; // {output, input}
  };
  size_t esize_;
  std::vector<Part> parts_;
  int threads_ = 1;
};

std::unique_ptr<Kernel> make_concat(const KernelSpec& s) { return std::make_unique<ConcatKernel>(s); }

KernelRegistrar reg({OpCode::Concat}, &make_concat);

}  // namespace

}  // namespace hodu
