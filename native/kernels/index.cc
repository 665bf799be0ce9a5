// IndexSelect and Gather (PyTorch semantics), any input dtype, i32/i64 indices, strided operands.
//
//   index_select(x, idx, dim): out[..., j, ...] = x[..., idx[j], ...]       (idx 1-D)
//   gather(x, idx, dim):       out[p] = x[p with p[dim] replaced by idx[p]] (idx of x's rank)
//
// Indices must lie in [0, size of dim): a negative or too large index fails with
// INVALID_ARGUMENT naming the index, the dim and the size; nothing is ever read or written out of
// bounds (index_select checks every index before copying; gather skips a bad element, finishes,
// then reports the first bad index it met). Elements are moved as raw 1/2/4/8-byte words.
#include <omp.h>

#include <algorithm>
#include <atomic>
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
  fail(ErrorCode::INTERNAL, "index: element size ", size);
}

// Calls f(index) with an int32_t or int64_t tag.
template <class F>
void dispatch_index(DType t, F&& f) {
  if (t == DType::I32) return f(int32_t{});
  if (t == DType::I64) return f(int64_t{});
  fail(ErrorCode::INTERNAL, "index: index dtype ", dtype_name(t));
}

[[noreturn]] void out_of_range(const char* op, int64_t index, int dim, int64_t size) {
  if (size == 0)
    fail(ErrorCode::INVALID_ARGUMENT, op, ": index ", index, " is out of range for dim ", dim, " of size 0 (the dim is empty)");
  fail(ErrorCode::INVALID_ARGUMENT, op, ": index ", index, " is out of range for dim ", dim, " of size ", size,
       " (expected 0..", size - 1, ")");
}

struct Dim {
  int64_t n, s;  // size, input stride
};

// Appends d, merging it into the previous dim when the input layout allows (row-major order;
// the output side is contiguous and always merges).
void push_merged(std::vector<Dim>& dims, const Dim& d) {
  if (d.n == 1) return;
  if (!dims.empty() && dims.back().s == d.s * d.n) {
    dims.back() = {dims.back().n * d.n, d.s};
  } else {
    dims.push_back(d);
  }
}

// Input offset of a row-major linear index over dims (the output offset is the index itself).
int64_t offset_of(const std::vector<Dim>& dims, int64_t linear) {
  int64_t off = 0;
  for (size_t k = dims.size(); k-- > 0;) {
    off += (linear % dims[k].n) * dims[k].s;
    linear /= dims[k].n;
  }
  return off;
}

// index_select: blocks (outer index o, position j) each copy one inner slice x[o, idx[j], :].
class IndexSelectKernel final : public Kernel {
 public:
  explicit IndexSelectKernel(const KernelSpec& s)
      : esize_(dtype_size(s.output.dtype)), idx_dtype_(s.inputs.at(1).dtype) {
    const TensorDesc& x = s.inputs.at(0);
    const TensorDesc& idx = s.inputs.at(1);
    dim_ = norm_dim((int64_t)s.attrs.at(0), x.ndim(), "index_select");
    size_ = x.shape[dim_];
    dim_stride_ = x.strides[dim_];
    count_ = idx.shape[0];
    idx_stride_ = idx.strides[0];
    for (int d = 0; d < dim_; d++) push_merged(outer_, {x.shape[d], x.strides[d]});
    for (int d = dim_ + 1; d < x.ndim(); d++) push_merged(inner_, {x.shape[d], x.strides[d]});
    outer_n_ = inner_n_ = 1;
    for (const Dim& d : outer_) outer_n_ *= d.n;
    for (const Dim& d : inner_) inner_n_ *= d.n;
    if (inner_.size() > 1) head_.assign(inner_.begin(), inner_.end() - 1);
    threads_ = pick_threads(2.0 * (double)s.output.nbytes());
  }

  std::string impl() const override { return "loop:index_select"; }

  void run(const void* const* in, void* out, const ExecContext&) override {
    dispatch_index(idx_dtype_, [&](auto itag) {
      using I = decltype(itag);
      const I* idx = (const I*)in[1];
      for (int64_t j = 0; j < count_; j++) {  // validate everything before writing anything
        int64_t v = (int64_t)idx[j * idx_stride_];
        if (v < 0 || v >= size_) out_of_range("index_select", v, dim_, size_);
      }
      dispatch_word(esize_, [&](auto word) {
        using W = decltype(word);
        copy<W, I>((const W*)in[0], idx, (W*)out);
      });
    });
  }

 private:
  template <class W, class I>
  void copy(const W* x, const I* idx, W* out) const {
    const int64_t blocks = outer_n_ * count_;
    auto range = [&](int64_t b, int64_t e) {
      if (b >= e) return;
      int64_t o = b / count_, j = b % count_;
      const W* row = x + offset_of(outer_, o);  // x at (o, 0, 0)
      for (int64_t blk = b; blk < e; blk++) {
        const W* src = row + (int64_t)idx[j * idx_stride_] * dim_stride_;
        W* dst = out + blk * inner_n_;
        if (inner_.empty())
          *dst = *src;
        else
          copy_inner(dst, src);
        if (++j == count_ && blk + 1 < e) {
          j = 0;
          row = x + offset_of(outer_, ++o);
        }
      }
    };
    if (threads_ > 1 && blocks > 1) {
      ThreadScope ts(threads_);
#pragma omp parallel
      {
        int nt = omp_get_num_threads(), t = omp_get_thread_num();
        range(blocks * t / nt, blocks * (t + 1) / nt);
      }
    } else {
      range(0, blocks);
    }
  }

  // One inner slice: inner_ dims (input strides) to contiguous output.
  template <class W>
  void copy_inner(W* dst, const W* src) const {
    if (inner_.empty()) {
      *dst = *src;
    } else if (inner_.size() == 1) {
      const int64_t n = inner_[0].n, st = inner_[0].s;
      if (st == 1) {
        std::memcpy(dst, src, (size_t)n * sizeof(W));
      } else {
        for (int64_t k = 0; k < n; k++) dst[k] = src[k * st];
      }
    } else {  // inner dims that do not merge (e.g. a permuted input): rows of the last one
      const Dim& last = inner_.back();
      const int64_t rows = inner_n_ / last.n;
      for (int64_t r = 0; r < rows; r++) {
        const W* s = src + offset_of(head_, r);
        W* d = dst + r * last.n;
        for (int64_t k = 0; k < last.n; k++) d[k] = s[k * last.s];
      }
    }
  }

  size_t esize_;
  DType idx_dtype_;
  int dim_ = 0;
  int64_t size_ = 0, dim_stride_ = 0, count_ = 0, idx_stride_ = 0;
  std::vector<Dim> outer_, inner_, head_;  // head_: inner_ without its last dim
  int64_t outer_n_ = 1, inner_n_ = 1;
  int threads_ = 1;
};

// gather: a strided loop over the index tensor's shape with three operands {out, idx, x}, where
// x's stride along dim is 0 and the index supplies that offset.
class GatherKernel final : public Kernel {
 public:
  explicit GatherKernel(const KernelSpec& s)
      : esize_(dtype_size(s.output.dtype)), idx_dtype_(s.inputs.at(1).dtype), loop_(make_loop(s)) {
    const TensorDesc& x = s.inputs.at(0);
    dim_ = norm_dim((int64_t)s.attrs.at(0), x.ndim(), "gather");
    size_ = x.shape[dim_];
    dim_stride_ = x.strides[dim_];
    threads_ = pick_threads(2.0 * (double)s.output.nbytes() + (double)s.inputs[1].nbytes());
  }

  std::string impl() const override { return "loop:gather"; }

  void run(const void* const* in, void* out, const ExecContext&) override {
    // The first out-of-range index met (any thread); reported after every thread is done.
    std::atomic<bool> bad{false};
    int64_t bad_value = 0;
    dispatch_index(idx_dtype_, [&](auto itag) {
      using I = decltype(itag);
      dispatch_word(esize_, [&](auto word) {
        using W = decltype(word);
        const int64_t size = size_, sd = dim_stride_;
        auto body = [&](int64_t n, std::array<char*, 3> p, std::array<int64_t, 3> st) {
          W* o = (W*)p[0];
          const I* ix = (const I*)p[1];
          const W* x = (const W*)p[2];
          for (int64_t k = 0; k < n; k++) {
            const int64_t v = (int64_t)ix[k * st[1]];
            if (v < 0 || v >= size) {
              if (!bad.exchange(true)) bad_value = v;
              o[k * st[0]] = W(0);
              continue;
            }
            o[k * st[0]] = x[k * st[2] + v * sd];
          }
        };
        std::array<char*, 3> base{(char*)out, (char*)in[1], (char*)in[0]};
        const int64_t rows = loop_.outer();
        if (threads_ > 1 && rows > 1) {
          ThreadScope ts(threads_);
#pragma omp parallel
          {
            int nt = omp_get_num_threads(), t = omp_get_thread_num();
            loop_.run_rows(base, rows * t / nt, rows * (t + 1) / nt, body);
          }
        } else {
          loop_.run(base, body);
        }
      });
    });
    if (bad.load()) out_of_range("gather", bad_value, dim_, size_);
  }

 private:
  static StridedLoop<3> make_loop(const KernelSpec& s) {
    const TensorDesc& x = s.inputs.at(0);
    const TensorDesc& idx = s.inputs.at(1);
    const int dim = norm_dim((int64_t)s.attrs.at(0), x.ndim(), "gather");
    Shape xs = x.strides;
    xs[dim] = 0;  // supplied by the index
    const int64_t es = (int64_t)dtype_size(x.dtype);
    return StridedLoop<3>(idx.shape, {contiguous_strides(idx.shape), idx.strides, xs}, {es, (int64_t)dtype_size(idx.dtype), es});
  }

  size_t esize_;
  DType idx_dtype_;
  StridedLoop<3> loop_;
  int dim_ = 0;
  int64_t size_ = 0, dim_stride_ = 0;
  int threads_ = 1;
};

std::unique_ptr<Kernel> make_index_select(const KernelSpec& s) { return std::make_unique<IndexSelectKernel>(s); }
std::unique_ptr<Kernel> make_gather(const KernelSpec& s) { return std::make_unique<GatherKernel>(s); }

KernelRegistrar reg_select({OpCode::IndexSelect}, &make_index_select);
KernelRegistrar reg_gather({OpCode::Gather}, &make_gather);

}  // namespace

}  // namespace hodu
