#include "infer.h"

#include <algorithm>
#include <cmath>
#include <string>

namespace hodu {

namespace {

const char* nm(OpCode op) { return op_info(op).name; }

std::string shape_str(const Shape& s) { return fmt_list(s); }

void need_inputs(OpCode op, const std::vector<TensorDesc>& in) {
  int arity = op_info(op).arity;
  if (arity >= 0 && (int)in.size() != arity)
    fail(ErrorCode::INVALID_ARGUMENT, nm(op), ": expected ", arity, " input tensor(s), got ", in.size());
  if (arity < 0 && in.empty()) fail(ErrorCode::INVALID_ARGUMENT, nm(op), ": expected at least one input tensor");
}

// The attribute count from the op's schema in ops.def ("keepdim, dims..." = one or more).
void need_attr_count(OpCode op, const Attrs& a) {
  const OpInfo& o = op_info(op);
  const size_t n = (size_t)o.attr_count;
  if (o.attr_variadic ? a.size() < n : a.size() != n)
    fail(ErrorCode::INVALID_ARGUMENT, nm(op), ": expected ", o.attr_variadic ? "at least " : "", n, " attribute(s) (",
         o.attrs, "), got ", a.size());
}

void need_same_dtype(OpCode op, const TensorDesc& a, const TensorDesc& b) {
  if (a.dtype != b.dtype)
    fail(ErrorCode::DTYPE_MISMATCH, nm(op), ": operands have different dtypes ", dtype_name(a.dtype), " and ",
         dtype_name(b.dtype), " (cast one with toDtype)");
}

void need_float(OpCode op, DType t) {
  if (!is_float(t))
    fail(ErrorCode::DTYPE_MISMATCH, nm(op), ": dtype ", dtype_name(t),
         " is not supported (expected a float dtype: f16, bf16, f32 or f64)");
}

void need_numeric(OpCode op, DType t) {
  if (is_bool(t))
    fail(ErrorCode::DTYPE_MISMATCH, nm(op), ": dtype bool is not supported (cast to a numeric dtype with toDtype)");
}

TensorDesc contiguous(DType t, Shape s) { return TensorDesc(t, std::move(s)); }

}  // namespace

int64_t attr_int(const Attrs& attrs, size_t i, const char* op, const char* name) {
  if (i >= attrs.size()) fail(ErrorCode::INVALID_ARGUMENT, op, ": missing attribute '", name, "'");
  double v = attrs[i];
  if (!std::isfinite(v) || v != std::floor(v) || std::fabs(v) > 9007199254740992.0)
    fail(ErrorCode::INVALID_ARGUMENT, op, ": attribute '", name, "' must be an integer, got ", v);
  return (int64_t)v;
}

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
  size_t n = std::max(a.size(), b.size());
  Shape out(n);
  for (size_t i = 0; i < n; i++) {
    int64_t da = i < n - a.size() ? 1 : a[i - (n - a.size())];
    int64_t db = i < n - b.size() ? 1 : b[i - (n - b.size())];
    if (da != db && da != 1 && db != 1)
      fail(ErrorCode::SHAPE_MISMATCH, op, ": shapes ", shape_str(a), " and ", shape_str(b),
           " cannot be broadcast together (dim ", (int64_t)i - (int64_t)n, ": ", da, " vs ", db, ")");
    out[i] = da == 1 ? db : da;
  }
  return out;
}

ReduceAttrs reduce_attrs(OpCode op, const Attrs& attrs, int rank) {
  ReduceAttrs r;
  if (attrs.empty()) fail(ErrorCode::INVALID_ARGUMENT, nm(op), ": missing attribute 'keepdim'");
  int64_t kd = attr_int(attrs, 0, nm(op), "keepdim");
  if (kd != 0 && kd != 1) fail(ErrorCode::INVALID_ARGUMENT, nm(op), ": keepdim must be 0 or 1, got ", kd);
  r.keepdim = kd == 1;
  for (size_t i = 1; i < attrs.size(); i++) {
    int64_t d = attr_int(attrs, i, nm(op), "dims");
    r.dims.push_back(norm_dim(d, rank, nm(op)));
  }
  std::sort(r.dims.begin(), r.dims.end());
  for (size_t i = 1; i < r.dims.size(); i++)
    if (r.dims[i] == r.dims[i - 1]) fail(ErrorCode::INVALID_ARGUMENT, nm(op), ": dim ", r.dims[i], " is repeated");
  return r;
}

Conv2dAttrs conv2d_attrs(const Attrs& a) {
  const char* op = "conv2d";
  if (a.size() != 7) fail(ErrorCode::INVALID_ARGUMENT, op, ": expected 7 attributes, got ", a.size());
  Conv2dAttrs c{attr_int(a, 0, op, "stride_h"), attr_int(a, 1, op, "stride_w"), attr_int(a, 2, op, "pad_h"),
                attr_int(a, 3, op, "pad_w"),    attr_int(a, 4, op, "dil_h"),    attr_int(a, 5, op, "dil_w"),
                attr_int(a, 6, op, "groups")};
  if (c.stride_h <= 0 || c.stride_w <= 0)
    fail(ErrorCode::INVALID_ARGUMENT, op, ": stride must be positive, got [", c.stride_h, ", ", c.stride_w, "]");
  if (c.pad_h < 0 || c.pad_w < 0)
    fail(ErrorCode::INVALID_ARGUMENT, op, ": padding must be non-negative, got [", c.pad_h, ", ", c.pad_w, "]");
  if (c.dil_h <= 0 || c.dil_w <= 0)
    fail(ErrorCode::INVALID_ARGUMENT, op, ": dilation must be positive, got [", c.dil_h, ", ", c.dil_w, "]");
  if (c.groups <= 0) fail(ErrorCode::INVALID_ARGUMENT, op, ": groups must be positive, got ", c.groups);
  const int64_t big = int64_t(1) << 31;
  if (c.stride_h > big || c.stride_w > big || c.pad_h > big || c.pad_w > big || c.dil_h > big || c.dil_w > big || c.groups > big)
    fail(ErrorCode::INVALID_ARGUMENT, op, ": attribute out of range");
  return c;
}

Pool2dAttrs pool2d_attrs(OpCode op, const Attrs& a) {
  if (a.size() != 6) fail(ErrorCode::INVALID_ARGUMENT, nm(op), ": expected 6 attributes, got ", a.size());
  Pool2dAttrs p{attr_int(a, 0, nm(op), "kernel_h"), attr_int(a, 1, nm(op), "kernel_w"),
                attr_int(a, 2, nm(op), "stride_h"), attr_int(a, 3, nm(op), "stride_w"),
                attr_int(a, 4, nm(op), "pad_h"),    attr_int(a, 5, nm(op), "pad_w")};
  const int64_t big = int64_t(1) << 31;
  if (p.kernel_h <= 0 || p.kernel_w <= 0 || p.kernel_h > big || p.kernel_w > big)
    fail(ErrorCode::INVALID_ARGUMENT, nm(op), ": kernel must be positive, got [", p.kernel_h, ", ", p.kernel_w, "]");
  if (p.stride_h <= 0 || p.stride_w <= 0 || p.stride_h > big || p.stride_w > big)
    fail(ErrorCode::INVALID_ARGUMENT, nm(op), ": stride must be positive, got [", p.stride_h, ", ", p.stride_w, "]");
  if (p.pad_h < 0 || p.pad_w < 0 || p.pad_h * 2 > p.kernel_h || p.pad_w * 2 > p.kernel_w)
    fail(ErrorCode::INVALID_ARGUMENT, nm(op), ": padding must be between 0 and half the kernel size, got [", p.pad_h, ", ",
         p.pad_w, "] for kernel [", p.kernel_h, ", ", p.kernel_w, "]");
  return p;
}

SliceAttrs slice_attrs(const Attrs& a, const Shape& shape) {
  const char* op = "slice";
  if (a.size() != 4) fail(ErrorCode::INVALID_ARGUMENT, op, ": expected 4 attributes, got ", a.size());
  int rank = (int)shape.size();
  int64_t dim = attr_int(a, 0, op, "dim");
  SliceAttrs s;
  s.dim = norm_dim(dim, rank, op);
  int64_t size = shape[s.dim];
  int64_t start = attr_int(a, 1, op, "start");
  int64_t end = attr_int(a, 2, op, "end");
  s.step = attr_int(a, 3, op, "step");
  if (s.step <= 0) fail(ErrorCode::INVALID_ARGUMENT, op, ": step must be positive, got ", s.step);
  if (start < 0) start += size;
  if (end < 0) end += size;
  start = std::min(std::max<int64_t>(start, 0), size);
  end = std::min(std::max<int64_t>(end, 0), size);
  s.start = start;
  s.length = end > start ? (end - start + s.step - 1) / s.step : 0;
  return s;
}

InferResult infer(OpCode op, const Attrs& attrs, const std::vector<TensorDesc>& in) {
  if (!opcode_valid((int)op)) fail(ErrorCode::INVALID_ARGUMENT, "unknown opcode ", (int)op);
  need_inputs(op, in);
  for (const auto& t : in) {
    if (t.strides.size() != t.shape.size())
      fail(ErrorCode::INTERNAL, nm(op), ": input descriptor has ", t.strides.size(), " strides for rank ", t.shape.size());
    check_shape(t.shape, nm(op));
  }
  const OpInfo& info = op_info(op);
  need_attr_count(op, attrs);
  InferResult r;
  switch (info.family) {
    case OpFamily::Cast: {
      int64_t code = attr_int(attrs, 0, nm(op), "dtype");
      if (!dtype_valid((int)code) || code < 0) fail(ErrorCode::INVALID_ARGUMENT, nm(op), ": unknown dtype code ", code);
      r.out = contiguous((DType)code, in[0].shape);
      break;
    }
    case OpFamily::Copy:
      r.out = contiguous(in[0].dtype, in[0].shape);
      break;
    case OpFamily::View: {
      const TensorDesc& x = in[0];
      if (op == OpCode::Reshape) {
        Shape s;
        for (size_t i = 0; i < attrs.size(); i++) s.push_back(attr_int(attrs, i, nm(op), "shape"));
        check_shape(s, nm(op));
        if (numel(s) != x.numel())
          fail(ErrorCode::SHAPE_MISMATCH, "reshape: cannot reshape a tensor of shape ", shape_str(x.shape), " (",
               x.numel(), " elements) to ", shape_str(s), " (", numel(s), " elements)");
        if (x.is_contiguous()) {
          r.out = TensorDesc(x.dtype, s, contiguous_strides(s), x.offset);
          r.is_view = true;
        } else {
          r.out = contiguous(x.dtype, s);  // needs a copy
        }
      } else if (op == OpCode::Permute) {
        int rank = x.ndim();
        if ((int)attrs.size() != rank)
          fail(ErrorCode::INVALID_ARGUMENT, "permute: permutation has ", attrs.size(), " entries for a tensor of rank ", rank);
        std::vector<int> perm;
        std::vector<bool> seen(rank, false);
        for (size_t i = 0; i < attrs.size(); i++) {
          int d = norm_dim(attr_int(attrs, i, nm(op), "perm"), rank, nm(op));
          if (seen[d]) {
            std::vector<int64_t> p;
            for (double v : attrs) p.push_back((int64_t)v);
            fail(ErrorCode::INVALID_ARGUMENT, "permute: ", fmt_list(p), " is not a permutation (dim ", d, " repeats)");
          }
          seen[d] = true;
          perm.push_back(d);
        }
        Shape s(rank), st(rank);
        for (int i = 0; i < rank; i++) {
          s[i] = x.shape[perm[i]];
          st[i] = x.strides[perm[i]];
        }
        r.out = TensorDesc(x.dtype, s, st, x.offset);
        r.is_view = true;
      } else if (op == OpCode::BroadcastTo) {
        Shape s;
        for (size_t i = 0; i < attrs.size(); i++) s.push_back(attr_int(attrs, i, nm(op), "shape"));
        check_shape(s, nm(op));
        if (s.size() < x.shape.size())
          fail(ErrorCode::SHAPE_MISMATCH, "broadcast_to: cannot broadcast shape ", shape_str(x.shape), " to ",
               shape_str(s), " (fewer dims)");
        size_t lead = s.size() - x.shape.size();
        Shape st(s.size(), 0);
        for (size_t i = 0; i < x.shape.size(); i++) {
          int64_t want = s[lead + i];
          if (x.shape[i] == want) {
            st[lead + i] = x.strides[i];
          } else if (x.shape[i] == 1) {
            st[lead + i] = 0;
          } else {
            fail(ErrorCode::SHAPE_MISMATCH, "broadcast_to: cannot broadcast shape ", shape_str(x.shape), " to ",
                 shape_str(s), " (dim ", i, ": ", x.shape[i], " vs ", want, ")");
          }
        }
        r.out = TensorDesc(x.dtype, s, st, x.offset);
        r.is_view = true;
      } else {  // Slice
        if (x.ndim() == 0) fail(ErrorCode::INVALID_ARGUMENT, "slice: cannot slice a tensor of rank 0");
        SliceAttrs sa = slice_attrs(attrs, x.shape);
        Shape s = x.shape, st = x.strides;
        s[sa.dim] = sa.length;
        st[sa.dim] = x.strides[sa.dim] * sa.step;
        r.out = TensorDesc(x.dtype, s, st, x.offset + sa.start * x.strides[sa.dim]);
        r.is_view = true;
      }
      break;
    }
    case OpFamily::Binary:
    case OpFamily::Logical:
    case OpFamily::Compare: {
      need_same_dtype(op, in[0], in[1]);
      if (info.family == OpFamily::Binary) need_numeric(op, in[0].dtype);
      Shape s = broadcast_shapes(in[0].shape, in[1].shape, nm(op));
      r.out = contiguous(info.family == OpFamily::Binary ? in[0].dtype : DType::Bool, s);
      break;
    }
    case OpFamily::LogicalNot:
      r.out = contiguous(DType::Bool, in[0].shape);
      break;
    case OpFamily::UnarySigned:
    case OpFamily::UnaryFloat: {
      for (double v : attrs)
        if (std::isnan(v)) fail(ErrorCode::INVALID_ARGUMENT, nm(op), ": attribute is NaN");
      if (info.family == OpFamily::UnaryFloat) need_float(op, in[0].dtype);
      else need_numeric(op, in[0].dtype);
      r.out = contiguous(in[0].dtype, in[0].shape);
      break;
    }
    case OpFamily::Where: {
      if (in[0].dtype != DType::Bool)
        fail(ErrorCode::DTYPE_MISMATCH, "where: condition must have dtype bool, got ", dtype_name(in[0].dtype));
      need_same_dtype(op, in[1], in[2]);
      Shape s = broadcast_shapes(broadcast_shapes(in[0].shape, in[1].shape, nm(op)), in[2].shape, nm(op));
      r.out = contiguous(in[1].dtype, s);
      break;
    }
    case OpFamily::Matmul: {
      need_same_dtype(op, in[0], in[1]);
      need_numeric(op, in[0].dtype);
      const Shape &a = in[0].shape, &b = in[1].shape;
      if (a.empty() || b.empty())
        fail(ErrorCode::SHAPE_MISMATCH, "matmul: operands must have at least 1 dim, got shapes ", shape_str(a), " and ",
             shape_str(b));
      Shape a2 = a.size() == 1 ? Shape{1, a[0]} : a;
      Shape b2 = b.size() == 1 ? Shape{b[0], 1} : b;
      int64_t m = a2[a2.size() - 2], k = a2.back(), k2 = b2[b2.size() - 2], n = b2.back();
      if (k != k2)
        fail(ErrorCode::SHAPE_MISMATCH, "matmul: inner dimensions differ: ", shape_str(a), " @ ", shape_str(b), " (", k,
             " vs ", k2, ")");
      Shape ba(a2.begin(), a2.end() - 2), bb(b2.begin(), b2.end() - 2);
      Shape s = broadcast_shapes(ba, bb, nm(op));
      if (a.size() > 1) s.push_back(m);
      if (b.size() > 1) s.push_back(n);
      r.out = contiguous(in[0].dtype, s);
      break;
    }
    case OpFamily::Reduce:
    case OpFamily::ReduceFloat:
    case OpFamily::ArgReduce: {
      const TensorDesc& x = in[0];
      ReduceAttrs ra = reduce_attrs(op, attrs, x.ndim());
      if (info.family == OpFamily::ReduceFloat) need_float(op, x.dtype);
      else need_numeric(op, x.dtype);
      bool needs_elements = op == OpCode::Max || op == OpCode::Min || info.family == OpFamily::ArgReduce;
      Shape s;
      std::vector<bool> red(x.ndim(), false);
      for (int d : ra.dims) red[d] = true;
      for (int d = 0; d < x.ndim(); d++) {
        if (red[d]) {
          if (needs_elements && x.shape[d] == 0)
            fail(ErrorCode::INVALID_ARGUMENT, nm(op), ": cannot reduce over dim ", d, " of size 0 (shape ",
                 shape_str(x.shape), ")");
          if (ra.keepdim) s.push_back(1);
        } else {
          s.push_back(x.shape[d]);
        }
      }
      r.out = contiguous(info.family == OpFamily::ArgReduce ? DType::I64 : x.dtype, s);
      break;
    }
    case OpFamily::Concat: {
      const TensorDesc& f = in[0];
      if (f.ndim() == 0) fail(ErrorCode::INVALID_ARGUMENT, "concat: cannot concatenate tensors of rank 0");
      int dim = norm_dim(attr_int(attrs, 0, nm(op), "dim"), f.ndim(), nm(op));
      Shape s = f.shape;
      for (size_t i = 1; i < in.size(); i++) {
        need_same_dtype(op, f, in[i]);
        const Shape& t = in[i].shape;
        bool ok = t.size() == s.size();
        for (size_t d = 0; ok && d < t.size(); d++)
          if ((int)d != dim && t[d] != s[d]) ok = false;
        if (!ok)
          fail(ErrorCode::SHAPE_MISMATCH, "concat: tensor ", i, " has shape ", shape_str(t),
               ", which does not match ", shape_str(f.shape), " outside dim ", dim);
        s[dim] += t[dim];
      }
      check_shape(s, nm(op));
      r.out = contiguous(f.dtype, s);
      break;
    }
    case OpFamily::IndexSelect: {
      const TensorDesc &x = in[0], &idx = in[1];
      if (x.ndim() == 0) fail(ErrorCode::INVALID_ARGUMENT, "index_select: input must have at least 1 dim");
      int dim = norm_dim(attr_int(attrs, 0, nm(op), "dim"), x.ndim(), nm(op));
      if (idx.dtype != DType::I32 && idx.dtype != DType::I64)
        fail(ErrorCode::DTYPE_MISMATCH, "index_select: indices must be i32 or i64, got ", dtype_name(idx.dtype));
      if (idx.ndim() != 1)
        fail(ErrorCode::SHAPE_MISMATCH, "index_select: indices must be 1-D, got shape ", shape_str(idx.shape));
      Shape s = x.shape;
      s[dim] = idx.shape[0];
      r.out = contiguous(x.dtype, s);
      break;
    }
    case OpFamily::Gather: {
      const TensorDesc &x = in[0], &idx = in[1];
      if (x.ndim() == 0) fail(ErrorCode::INVALID_ARGUMENT, "gather: input must have at least 1 dim");
      int dim = norm_dim(attr_int(attrs, 0, nm(op), "dim"), x.ndim(), nm(op));
      if (idx.dtype != DType::I32 && idx.dtype != DType::I64)
        fail(ErrorCode::DTYPE_MISMATCH, "gather: indices must be i32 or i64, got ", dtype_name(idx.dtype));
      if (idx.ndim() != x.ndim())
        fail(ErrorCode::SHAPE_MISMATCH, "gather: indices of shape ", shape_str(idx.shape),
             " must have the same rank as the input ", shape_str(x.shape));
      for (int d = 0; d < x.ndim(); d++)
        if (d != dim && idx.shape[d] > x.shape[d])
          fail(ErrorCode::SHAPE_MISMATCH, "gather: indices shape ", shape_str(idx.shape), " exceeds input shape ",
               shape_str(x.shape), " at dim ", d);
      r.out = contiguous(x.dtype, idx.shape);
      break;
    }
    case OpFamily::SoftmaxLike: {
      need_float(op, in[0].dtype);
      if (in[0].ndim() == 0) fail(ErrorCode::INVALID_ARGUMENT, nm(op), ": input must have at least 1 dim");
      norm_dim(attr_int(attrs, 0, nm(op), "dim"), in[0].ndim(), nm(op));
      r.out = contiguous(in[0].dtype, in[0].shape);
      break;
    }
    case OpFamily::LayerNorm: {
      const TensorDesc &x = in[0], &w = in[1], &b = in[2];
      need_float(op, x.dtype);
      need_same_dtype(op, x, w);
      need_same_dtype(op, x, b);
      if (x.ndim() == 0) fail(ErrorCode::INVALID_ARGUMENT, nm(op), ": input must have at least 1 dim");
      const int axis = norm_dim(attr_int(attrs, 0, nm(op), "axis"), x.ndim(), nm(op));
      const double eps = attrs.at(1);
      if (!(eps >= 0) || !std::isfinite(eps)) fail(ErrorCode::INVALID_ARGUMENT, nm(op), ": eps must be finite and >= 0, got ", eps);
      const Shape tail(x.shape.begin() + axis, x.shape.end());
      if (w.shape != tail || b.shape != tail)
        fail(ErrorCode::SHAPE_MISMATCH, nm(op), ": weight ", shape_str(w.shape), " and bias ", shape_str(b.shape),
             " must have the normalized shape ", shape_str(tail));
      r.out = contiguous(x.dtype, x.shape);
      break;
    }
    case OpFamily::Conv2d: {
      if (in.size() != 2 && in.size() != 3)
        fail(ErrorCode::INVALID_ARGUMENT, "conv2d: expected input, weight and optional bias, got ", in.size(), " tensors");
      Conv2dAttrs c = conv2d_attrs(attrs);
      const TensorDesc &x = in[0], &w = in[1];
      need_float(op, x.dtype);
      need_same_dtype(op, x, w);
      if (x.ndim() != 4)
        fail(ErrorCode::SHAPE_MISMATCH, "conv2d: input must be 4-D (N, C, H, W), got shape ", shape_str(x.shape));
      if (w.ndim() != 4)
        fail(ErrorCode::SHAPE_MISMATCH, "conv2d: weight must be 4-D (O, I/groups, KH, KW), got shape ", shape_str(w.shape));
      int64_t N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3];
      int64_t O = w.shape[0], KH = w.shape[2], KW = w.shape[3];
      if (C % c.groups != 0 || O % c.groups != 0)
        fail(ErrorCode::SHAPE_MISMATCH, "conv2d: input channels ", C, " and output channels ", O,
             " must both be divisible by groups ", c.groups);
      if (w.shape[1] != C / c.groups)
        fail(ErrorCode::SHAPE_MISMATCH, "conv2d: weight ", shape_str(w.shape), " expects ", w.shape[1] * c.groups,
             " input channels, but the input ", shape_str(x.shape), " has ", C);
      if (in.size() == 3) {
        need_same_dtype(op, x, in[2]);
        if (in[2].ndim() != 1 || in[2].shape[0] != O)
          fail(ErrorCode::SHAPE_MISMATCH, "conv2d: bias must have shape [", O, "], got ", shape_str(in[2].shape));
      }
      int64_t eh = c.dil_h * (KH - 1) + 1, ew = c.dil_w * (KW - 1) + 1;
      int64_t OH = H + 2 * c.pad_h >= eh ? (H + 2 * c.pad_h - eh) / c.stride_h + 1 : 0;
      int64_t OW = W + 2 * c.pad_w >= ew ? (W + 2 * c.pad_w - ew) / c.stride_w + 1 : 0;
      if (KH == 0 || KW == 0 || OH <= 0 || OW <= 0)
        fail(ErrorCode::SHAPE_MISMATCH, "conv2d: kernel ", KH, "x", KW, " (dilation ", c.dil_h, "x", c.dil_w,
             ") does not fit the padded input ", H + 2 * c.pad_h, "x", W + 2 * c.pad_w);
      r.out = contiguous(x.dtype, {N, O, OH, OW});
      break;
    }
    case OpFamily::Pool2d: {
      Pool2dAttrs p = pool2d_attrs(op, attrs);
      const TensorDesc& x = in[0];
      need_float(op, x.dtype);
      if (x.ndim() != 4)
        fail(ErrorCode::SHAPE_MISMATCH, nm(op), ": input must be 4-D (N, C, H, W), got shape ", shape_str(x.shape));
      int64_t H = x.shape[2], W = x.shape[3];
      int64_t OH = H + 2 * p.pad_h >= p.kernel_h ? (H + 2 * p.pad_h - p.kernel_h) / p.stride_h + 1 : 0;
      int64_t OW = W + 2 * p.pad_w >= p.kernel_w ? (W + 2 * p.pad_w - p.kernel_w) / p.stride_w + 1 : 0;
      if (OH <= 0 || OW <= 0)
        fail(ErrorCode::SHAPE_MISMATCH, nm(op), ": kernel ", p.kernel_h, "x", p.kernel_w,
             " does not fit the padded input ", H + 2 * p.pad_h, "x", W + 2 * p.pad_w);
      r.out = contiguous(x.dtype, {x.shape[0], x.shape[1], OH, OW});
      break;
    }
    case OpFamily::Conv2dGradInput:
    case OpFamily::Conv2dGradWeight: {
      const bool gi = info.family == OpFamily::Conv2dGradInput;
      if (attrs.size() != 9) fail(ErrorCode::INVALID_ARGUMENT, nm(op), ": expected 9 attributes, got ", attrs.size());
      Conv2dAttrs c = conv2d_attrs(Attrs(attrs.begin(), attrs.begin() + 7));
      int64_t e1 = attr_int(attrs, 7, nm(op), gi ? "in_h" : "kernel_h"), e2 = attr_int(attrs, 8, nm(op), gi ? "in_w" : "kernel_w");
      if (e1 <= 0 || e2 <= 0 || e1 > (int64_t(1) << 31) || e2 > (int64_t(1) << 31))
        fail(ErrorCode::INVALID_ARGUMENT, nm(op), ": size attributes must be positive, got ", e1, "x", e2);
      // grad_input(grad_out, weight) / grad_weight(x, grad_out): rebuild the forward conv and check it
      const TensorDesc& g = gi ? in[0] : in[1];
      const TensorDesc& other = gi ? in[1] : in[0];
      need_float(op, g.dtype);
      need_same_dtype(op, g, other);
      if (g.ndim() != 4 || other.ndim() != 4)
        fail(ErrorCode::SHAPE_MISMATCH, nm(op), ": operands must be 4-D, got ", shape_str(in[0].shape), " and ", shape_str(in[1].shape));
      TensorDesc x, w;
      if (gi) {
        w = other;
        x = TensorDesc(g.dtype, {g.shape[0], w.shape[1] * c.groups, e1, e2});
      } else {
        x = other;
        w = TensorDesc(g.dtype, {g.shape[1], x.shape[1] / c.groups, e1, e2});
      }
      InferResult fwd = infer(OpCode::Conv2d, Attrs(attrs.begin(), attrs.begin() + 7), {x, w});
      if (fwd.out.shape != g.shape)
        fail(ErrorCode::SHAPE_MISMATCH, nm(op), ": gradient of shape ", shape_str(g.shape), " does not match the forward output ",
             shape_str(fwd.out.shape));
      r.out = contiguous(g.dtype, gi ? x.shape : w.shape);
      break;
    }
    case OpFamily::MaxPool2dGrad: {
      Pool2dAttrs p = pool2d_attrs(op, attrs);
      (void)p;
      need_same_dtype(op, in[0], in[1]);
      InferResult fwd = infer(OpCode::MaxPool2d, attrs, {in[0]});
      if (fwd.out.shape != in[1].shape)
        fail(ErrorCode::SHAPE_MISMATCH, nm(op), ": gradient of shape ", shape_str(in[1].shape), " does not match the pooled shape ",
             shape_str(fwd.out.shape));
      r.out = contiguous(in[0].dtype, in[0].shape);
      break;
    }
    case OpFamily::AvgPool2dGrad: {
      if (attrs.size() != 8) fail(ErrorCode::INVALID_ARGUMENT, nm(op), ": expected 8 attributes, got ", attrs.size());
      Attrs pa(attrs.begin(), attrs.begin() + 6);
      int64_t ih = attr_int(attrs, 6, nm(op), "in_h"), iw = attr_int(attrs, 7, nm(op), "in_w");
      if (ih <= 0 || iw <= 0 || ih > (int64_t(1) << 31) || iw > (int64_t(1) << 31))
        fail(ErrorCode::INVALID_ARGUMENT, nm(op), ": input size must be positive, got ", ih, "x", iw);
      const TensorDesc& g = in[0];
      if (g.ndim() != 4) fail(ErrorCode::SHAPE_MISMATCH, nm(op), ": gradient must be 4-D, got ", shape_str(g.shape));
      TensorDesc x(g.dtype, {g.shape[0], g.shape[1], ih, iw});
      InferResult fwd = infer(OpCode::AvgPool2d, pa, {x});
      if (fwd.out.shape != g.shape)
        fail(ErrorCode::SHAPE_MISMATCH, nm(op), ": gradient of shape ", shape_str(g.shape), " does not match the pooled shape ",
             shape_str(fwd.out.shape));
      r.out = contiguous(g.dtype, x.shape);
      break;
    }
    case OpFamily::ScatterAdd:
    case OpFamily::IndexAdd: {
      const TensorDesc &base = in[0], &idx = in[1], &src = in[2];
      need_numeric(op, base.dtype);
      need_same_dtype(op, base, src);
      if (idx.dtype != DType::I32 && idx.dtype != DType::I64)
        fail(ErrorCode::DTYPE_MISMATCH, nm(op), ": indices must be i32 or i64, got ", dtype_name(idx.dtype));
      if (base.ndim() == 0) fail(ErrorCode::INVALID_ARGUMENT, nm(op), ": input must have at least 1 dim");
      int dim = norm_dim(attr_int(attrs, 0, nm(op), "dim"), base.ndim(), nm(op));
      if (info.family == OpFamily::ScatterAdd) {
        if (idx.shape != src.shape || src.ndim() != base.ndim())
          fail(ErrorCode::SHAPE_MISMATCH, nm(op), ": indices ", shape_str(idx.shape), " and source ", shape_str(src.shape),
               " must have the same shape and the rank of the input ", shape_str(base.shape));
        for (int d = 0; d < base.ndim(); d++)
          if (d != dim && src.shape[d] > base.shape[d])
            fail(ErrorCode::SHAPE_MISMATCH, nm(op), ": source ", shape_str(src.shape), " exceeds input ", shape_str(base.shape), " at dim ", d);
      } else {
        Shape want = base.shape;
        if (idx.ndim() != 1) fail(ErrorCode::SHAPE_MISMATCH, nm(op), ": indices must be 1-D, got ", shape_str(idx.shape));
        want[dim] = idx.shape[0];
        if (src.shape != want)
          fail(ErrorCode::SHAPE_MISMATCH, nm(op), ": source must have shape ", shape_str(want), ", got ", shape_str(src.shape));
      }
      r.out = contiguous(base.dtype, base.shape);
      break;
    }
    case OpFamily::SliceScatter: {
      const TensorDesc &base = in[0], &src = in[1];
      need_same_dtype(op, base, src);
      if (base.ndim() == 0) fail(ErrorCode::INVALID_ARGUMENT, nm(op), ": input must have at least 1 dim");
      SliceAttrs sa = slice_attrs(attrs, base.shape);
      Shape want = base.shape;
      want[sa.dim] = sa.length;
      if (src.shape != want)
        fail(ErrorCode::SHAPE_MISMATCH, nm(op), ": source must have the slice's shape ", shape_str(want), ", got ", shape_str(src.shape));
      r.out = contiguous(base.dtype, base.shape);
      break;
    }
  }
  check_shape(r.out.shape, nm(op));  // every produced shape too: counts derived from it never wrap
  return r;
}

}  // namespace hodu
