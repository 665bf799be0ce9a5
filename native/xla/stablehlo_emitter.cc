#include "stablehlo_emitter.h"
#include "../kernels/unary_math.h"

#include <algorithm>
#include <array>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <map>
#include <unordered_map>
#include <sstream>

#include "../core/half.h"
#include "../ops/infer.h"

namespace hodu {
namespace xla {

namespace {

// ---------------------------------------------------------------------------------------------
// Types and attribute text

struct V {
  std::string id;  // SSA name, e.g. %v12 or %t7 or %r3#1
  DType dt;
  Shape shape;
};

std::string ty(DType t, const Shape& s) {
  std::string r = "tensor<";
  for (int64_t d : s) r += std::to_string(d) + "x";
  r += stablehlo_element_type(t);
  r += ">";
  return r;
}
std::string ty(const V& v) { return ty(v.dt, v.shape); }

std::string i64_array(const std::vector<int64_t>& v) {
  if (v.empty()) return "array<i64>";
  std::string r = "array<i64: ";
  for (size_t i = 0; i < v.size(); i++) r += (i ? ", " : "") + std::to_string(v[i]);
  return r + ">";
}

std::string list(const std::vector<int64_t>& v) {
  std::string r = "[";
  for (size_t i = 0; i < v.size(); i++) r += (i ? ", " : "") + std::to_string(v[i]);
  return r + "]";
}

// dense<[[lo, hi], ...]> : tensor<Nx2xi64>
std::string padding_attr(const std::vector<int64_t>& lo, const std::vector<int64_t>& hi) {
  std::string r = "dense<[";
  for (size_t i = 0; i < lo.size(); i++)
    r += (i ? ", [" : "[") + std::to_string(lo[i]) + ", " + std::to_string(hi[i]) + "]";
  return r + "]> : tensor<" + std::to_string(lo.size()) + "x2xi64>";
}

std::vector<int64_t> iota_vec(int64_t n, int64_t from = 0) {
  std::vector<int64_t> v((size_t)std::max<int64_t>(n, 0));
  for (int64_t i = 0; i < n; i++) v[(size_t)i] = from + i;
  return v;
}

bool is_half(DType t) { return t == DType::F16 || t == DType::BF16; }

const char* compare_type(DType t) {
  if (is_float(t)) return "FLOAT";
  if (is_signed_int(t)) return "SIGNED";
  return "UNSIGNED";  // unsigned ints and bool
}

// Hex bit pattern of a float value in dtype t (exact; NaN and inf included).
std::string float_bits(DType t, double v) {
  char buf[32];
  if (t == DType::F64) {
    uint64_t u;
    std::memcpy(&u, &v, 8);
    std::snprintf(buf, sizeof buf, "0x%016" PRIX64, u);
  } else {
    float f = (float)v;
    if (t == DType::F32) {
      uint32_t u;
      std::memcpy(&u, &f, 4);
      std::snprintf(buf, sizeof buf, "0x%08" PRIX32, u);
    } else {
      uint16_t h = t == DType::F16 ? f32_to_f16(f) : f32_to_bf16(f);
      std::snprintf(buf, sizeof buf, "0x%04X", (unsigned)h);
    }
  }
  return buf;
}

// The literal text of element i of a constant buffer of dtype t.
std::string element_literal(DType t, const uint8_t* p) {
  switch (t) {
    case DType::Bool: return p[0] ? "true" : "false";
    case DType::U8: return std::to_string(p[0]);
    case DType::I8: return std::to_string((int)(int8_t)p[0]);
    case DType::I16: { int16_t v; std::memcpy(&v, p, 2); return std::to_string(v); }
    case DType::U16: { uint16_t v; std::memcpy(&v, p, 2); return std::to_string(v); }
    case DType::I32: { int32_t v; std::memcpy(&v, p, 4); return std::to_string(v); }
    case DType::U32: { uint32_t v; std::memcpy(&v, p, 4); return std::to_string(v); }
    case DType::I64: { int64_t v; std::memcpy(&v, p, 8); return std::to_string(v); }
    case DType::U64: { uint64_t v; std::memcpy(&v, p, 8); return std::to_string(v); }
    case DType::F16: case DType::BF16: {
      uint16_t v;
      std::memcpy(&v, p, 2);
      char buf[16];
      std::snprintf(buf, sizeof buf, "0x%04X", (unsigned)v);
      return buf;
    }
    case DType::F32: {
      uint32_t v;
      std::memcpy(&v, p, 4);
      char buf[16];
      std::snprintf(buf, sizeof buf, "0x%08" PRIX32, v);
      return buf;
    }
    case DType::F64: {
      uint64_t v;
      std::memcpy(&v, p, 8);
      char buf[24];
      std::snprintf(buf, sizeof buf, "0x%016" PRIX64, v);
      return buf;
    }
  }
  fail(ErrorCode::INTERNAL, "xla: bad dtype");
}

// Integer limits of an integer dtype as exact text and as doubles.
struct IntRange {
  std::string min_text, max_text;
  double min, max;  // the double values (max may round up, e.g. 2^63 for i64)
};
IntRange int_range(DType t) {
  switch (t) {
    case DType::U8: return {"0", "255", 0, 255};
    case DType::U16: return {"0", "65535", 0, 65535};
    case DType::U32: return {"0", "4294967295", 0, 4294967295.0};
    case DType::U64: return {"0", "18446744073709551615", 0, 18446744073709551615.0};
    case DType::I8: return {"-128", "127", -128, 127};
    case DType::I16: return {"-32768", "32767", -32768, 32767};
    case DType::I32: return {"-2147483648", "2147483647", -2147483648.0, 2147483647.0};
    case DType::I64: return {"-9223372036854775808", "9223372036854775807", -9223372036854775808.0, 9223372036854775807.0};
    default: break;
  }
  fail(ErrorCode::INTERNAL, "xla: int_range of a non-integer dtype");
}

// Value bits of an integer dtype (std::numeric_limits<T>::digits).
int value_bits(DType t) {
  switch (t) {
    case DType::I8: return 7;
    case DType::U8: return 8;
    case DType::I16: return 15;
    case DType::U16: return 16;
    case DType::I32: return 31;
    case DType::U32: return 32;
    case DType::I64: return 63;
    case DType::U64: return 64;
    default: break;
  }
  fail(ErrorCode::INTERNAL, "xla: value_bits of a non-integer dtype");
}

// Rust `as` conversion of a double to an integer dtype, as exact text (saturating, NaN -> 0).
std::string saturating_int_text(DType t, double v) {
  IntRange r = int_range(t);
  if (std::isnan(v)) return "0";
  if (v <= r.min) return r.min_text;
  if (v >= r.max) return r.max_text;
  double tv = std::trunc(v);
  if (is_unsigned_int(t)) return std::to_string((uint64_t)tv);
  return std::to_string((int64_t)tv);
}

// ---------------------------------------------------------------------------------------------
// The emitter: SSA values and text of @main's body.

class Emitter {
 public:
  explicit Emitter(const EmitOptions& o) : opts(o) {}

  const EmitOptions& opts;
  std::ostringstream out;
  int next = 0;
  std::map<std::string, std::string> scalar_cache;  // "type literal" -> SSA name (top level only)
  std::unordered_map<std::string, std::string> cse;  // op text -> SSA name (top level only)
  std::vector<std::pair<V, std::string>> index_checks;  // i1 scalars "an index is out of range", messages

  std::string fresh(const char* p = "%t") { return p + std::to_string(next++); }

  // %tN = "stablehlo.<name>"(args) {attrs} : (arg types) -> result type
  // Every op emitted here is pure and at the top level of @main, so an identical line already
  // emitted is reused (common subexpressions: a recorded training loop repeats the same transposes,
  // broadcasts and constant arithmetic in every step).
  V op(const char* name, const std::vector<V>& args, const std::string& attrs, DType dt, const Shape& shape) {
    // a name with a dialect ("chlo.erf") is used as is; others are StableHLO ops
    std::string rhs = std::string("\"") + (std::strchr(name, '.') ? "" : "stablehlo.") + name + "\"(";
    for (size_t i = 0; i < args.size(); i++) rhs += (i ? ", " : "") + args[i].id;
    rhs += ")";
    if (!attrs.empty()) rhs += " {" + attrs + "}";
    rhs += " : (";
    for (size_t i = 0; i < args.size(); i++) rhs += (i ? ", " : "") + ty(args[i]);
    rhs += ") -> " + ty(dt, shape);
    auto it = cse.find(rhs);
    if (it != cse.end()) return V{it->second, dt, shape};
    V r{fresh(), dt, shape};
    out << "    " << r.id << " = " << rhs << "\n";
    cse.emplace(std::move(rhs), r.id);
    return r;
  }

  // A scalar constant from literal text (cached: emitted once where first needed).
  V scalar_lit(DType t, const std::string& lit) {
    std::string key = std::string(stablehlo_element_type(t)) + " " + lit;
    auto it = scalar_cache.find(key);
    if (it != scalar_cache.end()) return V{it->second, t, {}};
    V r{fresh("%k"), t, {}};
    out << "    " << r.id << " = \"stablehlo.constant\"() {value = dense<" << lit << "> : " << ty(r) << "} : () -> "
        << ty(r) << "\n";
    scalar_cache.emplace(key, r.id);
    return r;
  }

  // A scalar of dtype t with value v (floats: exact bit pattern of (t)v; ints: saturating; bool: v != 0).
  V scalar(DType t, double v) {
    if (is_float(t)) return scalar_lit(t, float_bits(t, v));
    if (is_bool(t)) return scalar_lit(t, v != 0 ? "true" : "false");
    return scalar_lit(t, saturating_int_text(t, v));
  }

  V splat(DType t, const Shape& s, double v) { return bcast_in_dim(scalar(t, v), s, {}); }
  V splat_lit(DType t, const Shape& s, const std::string& lit) { return bcast_in_dim(scalar_lit(t, lit), s, {}); }

  // Lowest / highest value of a dtype (floats: -inf / +inf).
  V lowest(DType t, const Shape& s) {
    if (is_float(t)) return splat(t, s, -std::numeric_limits<double>::infinity());
    return splat_lit(t, s, int_range(t).min_text);
  }
  V highest(DType t, const Shape& s) {
    if (is_float(t)) return splat(t, s, std::numeric_limits<double>::infinity());
    return splat_lit(t, s, int_range(t).max_text);
  }

  // ---- shape ops
  V bcast_in_dim(const V& x, const Shape& s, const std::vector<int64_t>& dims) {
    if (x.shape == s) {
      bool ident = dims.size() == s.size();
      for (size_t i = 0; ident && i < dims.size(); i++) ident = dims[i] == (int64_t)i;
      if (ident) return x;
    }
    return op("broadcast_in_dim", {x}, "broadcast_dimensions = " + i64_array(dims), x.dt, s);
  }
  // numpy broadcasting of x to shape s (trailing alignment)
  V bcast_to(const V& x, const Shape& s) {
    if (x.shape == s) return x;
    std::vector<int64_t> dims = iota_vec((int64_t)x.shape.size(), (int64_t)(s.size() - x.shape.size()));
    return bcast_in_dim(x, s, dims);
  }
  V reshape(const V& x, const Shape& s) {
    if (x.shape == s) return x;
    return op("reshape", {x}, "", x.dt, s);
  }
  V transpose(const V& x, const std::vector<int64_t>& perm) {
    bool ident = true;
    for (size_t i = 0; i < perm.size(); i++) ident = ident && perm[i] == (int64_t)i;
    if (ident) return x;
    Shape s(perm.size());
    for (size_t i = 0; i < perm.size(); i++) s[i] = x.shape[(size_t)perm[i]];
    return op("transpose", {x}, "permutation = " + i64_array(perm), x.dt, s);
  }
  V convert(const V& x, DType t) {
    if (x.dt == t) return x;
    return op("convert", {x}, "", t, x.shape);
  }
  V slice(const V& x, const std::vector<int64_t>& start, const std::vector<int64_t>& limit,
          const std::vector<int64_t>& strides) {
    Shape s(x.shape.size());
    bool ident = true;
    for (size_t i = 0; i < s.size(); i++) {
      s[i] = limit[i] > start[i] ? (limit[i] - start[i] + strides[i] - 1) / strides[i] : 0;
      ident = ident && start[i] == 0 && limit[i] == x.shape[i] && strides[i] == 1;
    }
    if (ident) return x;
    return op("slice", {x},
              "start_indices = " + i64_array(start) + ", limit_indices = " + i64_array(limit) +
                  ", strides = " + i64_array(strides),
              x.dt, s);
  }
  V pad(const V& x, const V& value, const std::vector<int64_t>& lo, const std::vector<int64_t>& hi,
        const std::vector<int64_t>& interior) {
    Shape s(x.shape.size());
    for (size_t i = 0; i < s.size(); i++) {
      int64_t n = x.shape[i];
      s[i] = lo[i] + hi[i] + n + (n > 0 ? (n - 1) * interior[i] : 0);
    }
    return op("pad", {x, value},
              "edge_padding_low = " + i64_array(lo) + ", edge_padding_high = " + i64_array(hi) +
                  ", interior_padding = " + i64_array(interior),
              x.dt, s);
  }
  V iota(DType t, const Shape& s, int64_t dim) { return op("iota", {}, "iota_dimension = " + std::to_string(dim) + " : i64", t, s); }
  V concat(const std::vector<V>& xs, int64_t dim) {
    if (xs.size() == 1) return xs[0];
    Shape s = xs[0].shape;
    for (size_t i = 1; i < xs.size(); i++) s[(size_t)dim] += xs[i].shape[(size_t)dim];
    return op("concatenate", xs, "dimension = " + std::to_string(dim) + " : i64", xs[0].dt, s);
  }
  V reverse(const V& x, const std::vector<int64_t>& dims) {
    return op("reverse", {x}, "dimensions = " + i64_array(dims), x.dt, x.shape);
  }

  // ---- elementwise
  V bin(const char* name, const V& a, const V& b) { return op(name, {a, b}, "", a.dt, a.shape); }
  V un(const char* name, const V& a) { return op(name, {a}, "", a.dt, a.shape); }
  V cmp(const char* dir, const V& a, const V& b) {
    return op("compare", {a, b},
              std::string("comparison_direction = #stablehlo<comparison_direction ") + dir +
                  ">, compare_type = #stablehlo<comparison_type " + compare_type(a.dt) + ">",
              DType::Bool, a.shape);
  }
  V select(const V& c, const V& a, const V& b) { return op("select", {c, a, b}, "", a.dt, a.shape); }
  // x != 0 as i1 (identity for bool)
  V truthy(const V& x) {
    if (is_bool(x.dt)) return x;
    return cmp("NE", x, splat(x.dt, x.shape, 0));
  }

  // ---- regions
  // A two-argument scalar region "^bb0(%a, %b): %r = <op>(%a, %b); return %r" as text.
  std::string binary_region(const char* name, DType t) {
    std::string a = fresh("%a"), b = fresh("%b"), r = fresh("%t");
    std::string st = ty(t, {});
    std::ostringstream s;
    s << "{\n    ^bb0(" << a << ": " << st << ", " << b << ": " << st << "):\n"
      << "      " << r << " = \"stablehlo." << name << "\"(" << a << ", " << b << ") : (" << st << ", " << st
      << ") -> " << st << "\n"
      << "      \"stablehlo.return\"(" << r << ") : (" << st << ") -> ()\n    }";
    return s.str();
  }

  // reduce(x) over dims with a binary body op and a scalar init value.
  V reduce(const V& x, const std::vector<int64_t>& dims, const char* body, const V& init) {
    if (dims.empty()) return x;
    Shape s;
    for (size_t d = 0; d < x.shape.size(); d++)
      if (std::find(dims.begin(), dims.end(), (int64_t)d) == dims.end()) s.push_back(x.shape[d]);
    V r{fresh(), x.dt, s};
    out << "    " << r.id << " = \"stablehlo.reduce\"(" << x.id << ", " << init.id << ") ("
        << binary_region(body, x.dt) << ") {dimensions = " << i64_array(dims) << "} : (" << ty(x) << ", " << ty(init)
        << ") -> " << ty(r) << "\n";
    return r;
  }

  V reduce_window(const V& x, const V& init, const char* body, const std::vector<int64_t>& window,
                  const std::vector<int64_t>& strides, const std::vector<int64_t>& lo, const std::vector<int64_t>& hi) {
    Shape s(x.shape.size());
    for (size_t i = 0; i < s.size(); i++) s[i] = (x.shape[i] + lo[i] + hi[i] - window[i]) / strides[i] + 1;
    V r{fresh(), x.dt, s};
    out << "    " << r.id << " = \"stablehlo.reduce_window\"(" << x.id << ", " << init.id << ") ("
        << binary_region(body, x.dt) << ") {padding = " << padding_attr(lo, hi)
        << ", window_dimensions = " << i64_array(window) << ", window_strides = " << i64_array(strides) << "} : ("
        << ty(x) << ", " << ty(init) << ") -> " << ty(r) << "\n";
    return r;
  }

  std::string precision(DType t) const {
    if (!opts.highest_precision || !is_float(t)) return "";
    return ", precision_config = [#stablehlo<precision HIGHEST>, #stablehlo<precision HIGHEST>]";
  }

  V dot_general(const V& a, const V& b, const std::vector<int64_t>& lb, const std::vector<int64_t>& rb,
                const std::vector<int64_t>& lc, const std::vector<int64_t>& rc, const Shape& out_shape) {
    std::string dn = "dot_dimension_numbers = #stablehlo.dot<";
    std::vector<std::string> parts;
    if (!lb.empty()) parts.push_back("lhs_batching_dimensions = " + list(lb));
    if (!rb.empty()) parts.push_back("rhs_batching_dimensions = " + list(rb));
    parts.push_back("lhs_contracting_dimensions = " + list(lc));
    parts.push_back("rhs_contracting_dimensions = " + list(rc));
    for (size_t i = 0; i < parts.size(); i++) dn += (i ? ", " : "") + parts[i];
    dn += ">";
    return op("dot_general", {a, b}, dn + precision(a.dt), a.dt, out_shape);
  }

  struct ConvSpec {
    const char* dims = "[b, f, 0, 1]x[o, i, 0, 1]->[b, f, 0, 1]";
    std::vector<int64_t> stride{1, 1}, lhs_dil{1, 1}, rhs_dil{1, 1}, pad_lo{0, 0}, pad_hi{0, 0};
    int64_t feature_groups = 1, batch_groups = 1;
  };
  // A 2-D convolution whose operands and result are laid out as `c.dims` says (hodu's NCHW/OIHW and
  // the gradients' swapped forms). XLA:CPU gets it as NHWC x HWIO -> NHWC, with transposes around it:
  // its fast (Eigen) convolution takes only that form, and its own layout rewrite to that form runs
  // in the entry computation but not inside a while body, where a rolled training loop's
  // convolutions would otherwise run as naive loops (~3x slower per step than the same steps
  // unrolled). Outside loops the explicit form is no slower (research/xla-workloads.md: 8-9 % faster).
  V convolution(const V& lhs, const V& rhs, const ConvSpec& c, const Shape& out_shape) {
    // "[b, f, 0, 1]x[o, i, 0, 1]->[b, f, 0, 1]" -> the labels of each tensor's dims
    std::vector<std::string> lab[3];
    {
      int t = 0;
      std::string cur;
      for (char ch : std::string(c.dims)) {
        if (ch == 'b' || ch == 'f' || ch == 'o' || ch == 'i' || ch == '0' || ch == '1') lab[t].push_back(std::string(1, ch));
        else if (ch == 'x' || ch == '>') t++;
      }
      if (t != 2 || lab[0].size() != 4 || lab[1].size() != 4 || lab[2].size() != 4)
        fail(ErrorCode::INTERNAL, "xla: bad convolution dims ", c.dims);
    }
    static const char* const kLhs[4] = {"b", "0", "1", "f"};
    static const char* const kRhs[4] = {"0", "1", "i", "o"};
    auto perm_to = [&](const std::vector<std::string>& from, const char* const to[4]) {
      std::vector<int64_t> p(4);
      for (size_t k = 0; k < 4; k++)
        p[k] = std::find(from.begin(), from.end(), std::string(to[k])) - from.begin();
      return p;
    };
    const std::vector<int64_t> pl = perm_to(lab[0], kLhs), pr = perm_to(lab[1], kRhs), po = perm_to(lab[2], kLhs);
    Shape nhwc(4);
    for (size_t k = 0; k < 4; k++) nhwc[k] = out_shape[(size_t)po[k]];
    std::vector<int64_t> back(4);  // inverse of po
    for (size_t k = 0; k < 4; k++) back[(size_t)po[k]] = (int64_t)k;
    std::string attrs = "batch_group_count = " + std::to_string(c.batch_groups) +
                        " : i64, dimension_numbers = #stablehlo.conv<[b, 0, 1, f]x[0, 1, i, o]->[b, 0, 1, f]" +
                        ">, feature_group_count = " + std::to_string(c.feature_groups) +
                        " : i64, lhs_dilation = " + i64_array(c.lhs_dil) + ", padding = " + padding_attr(c.pad_lo, c.pad_hi) +
                        precision(lhs.dt) + ", rhs_dilation = " + i64_array(c.rhs_dil) +
                        ", window_strides = " + i64_array(c.stride);
    V r = op("convolution", {transpose(lhs, pl), transpose(rhs, pr)}, attrs, lhs.dt, nhwc);
    return transpose(r, back);
  }
};

// ---------------------------------------------------------------------------------------------
// Lowerings, one per op. `in` are the operands (f16/bf16 already widened to f32 for the ops that
// compute in f32, see computes_in_f32); the result is converted to the IR dtype by the caller.

struct Ctx {
  Emitter& e;
  const Value& v;  // the IR value being lowered (attrs, recorded dtype and shape)
  std::vector<V> in;
};

using LowerFn = V (*)(Ctx&);

// ---- casts

V cast_to(Emitter& e, V x, DType to) {
  if (x.dt == to) return x;
  if (is_bool(to)) return e.truthy(x);
  if (is_bool(x.dt)) return e.convert(x, to);
  if (is_float(x.dt) && is_int(to)) {
    // Rust `as`: truncate toward zero, saturate at the dtype's range, NaN -> 0
    if (is_half(x.dt)) x = e.convert(x, DType::F32);
    IntRange r = int_range(to);
    V lo = e.splat(x.dt, x.shape, r.min), hi = e.splat(x.dt, x.shape, r.max);
    V zero = e.splat(x.dt, x.shape, 0);
    V above = e.cmp("GE", x, hi), below = e.cmp("LE", x, lo);
    V inside = e.op("and", {e.cmp("GT", x, lo), e.cmp("LT", x, hi)}, "", DType::Bool, x.shape);  // false for NaN
    V safe = e.select(inside, x, zero);
    V y = e.convert(safe, to);
    y = e.select(above, e.highest(to, x.shape), y);
    y = e.select(below, e.lowest(to, x.shape), y);
    return y;
  }
  if (is_half(to) && (!is_float(x.dt) || x.dt == DType::F64)) x = e.convert(x, DType::F32);  // as the HODU kernels round
  return e.convert(x, to);
}

V lower_cast(Ctx& c) { return cast_to(c.e, c.in[0], c.v.dtype); }
V lower_copy(Ctx& c) { return c.in[0]; }

// ---- views

V lower_reshape(Ctx& c) { return c.e.reshape(c.in[0], c.v.shape); }

V lower_permute(Ctx& c) {
  int rank = (int)c.in[0].shape.size();
  std::vector<int64_t> perm;
  for (double a : c.v.attrs) perm.push_back(norm_dim((int64_t)a, rank, "permute"));
  return c.e.transpose(c.in[0], perm);
}

V lower_broadcast_to(Ctx& c) { return c.e.bcast_to(c.in[0], c.v.shape); }

V lower_slice(Ctx& c) {
  const V& x = c.in[0];
  SliceAttrs sa = slice_attrs(c.v.attrs, x.shape);
  std::vector<int64_t> start(x.shape.size(), 0), limit(x.shape.begin(), x.shape.end()), strides(x.shape.size(), 1);
  start[sa.dim] = sa.start;
  limit[sa.dim] = sa.length > 0 ? sa.start + (sa.length - 1) * sa.step + 1 : sa.start;
  strides[sa.dim] = sa.step;
  return c.e.slice(x, start, limit, strides);
}

// ---- binary arithmetic

V lower_binary(Ctx& c) {
  Emitter& e = c.e;
  V a = e.bcast_to(c.in[0], c.v.shape), b = e.bcast_to(c.in[1], c.v.shape);
  const DType t = a.dt;
  switch (c.v.op) {
    case OpCode::Add: return e.bin("add", a, b);
    case OpCode::Sub: return e.bin("subtract", a, b);
    case OpCode::Mul: return e.bin("multiply", a, b);
    case OpCode::Div: {
      if (is_float(t)) return e.bin("divide", a, b);
      // truncating division that never traps: x / 0 = 0, MIN / -1 = MIN (wraps)
      V zero = e.splat(t, a.shape, 0), one = e.splat(t, a.shape, 1);
      V bz = e.cmp("EQ", b, zero);
      V q = e.bin("divide", a, e.select(bz, one, b));
      if (is_signed_int(t)) {
        V neg1 = e.splat(t, a.shape, -1);
        q = e.select(e.cmp("EQ", b, neg1), e.bin("subtract", zero, a), q);
      }
      return e.select(bz, zero, q);
    }
    case OpCode::Pow: {
      if (is_float(t)) return e.bin("power", a, b);
      if (is_unsigned_int(t)) return e.bin("power", a, b);
      // negative exponents: 1 for base 1, ±1 for base -1, else 0 (exact integer semantics)
      V zero = e.splat(t, a.shape, 0), one = e.splat(t, a.shape, 1), neg1 = e.splat(t, a.shape, -1);
      V eneg = e.cmp("LT", b, zero);
      V p = e.bin("power", a, e.select(eneg, zero, b));
      V odd = e.cmp("NE", e.bin("and", b, one), zero);
      V neg_result = e.select(e.cmp("EQ", a, one), one,
                              e.select(e.cmp("EQ", a, neg1), e.select(odd, neg1, one), zero));
      return e.select(eneg, neg_result, p);
    }
    case OpCode::Maximum:
    case OpCode::Minimum: {
      V m = e.bin(c.v.op == OpCode::Maximum ? "maximum" : "minimum", a, b);
      if (!is_float(t)) return m;
      // NaN from either side propagates, as on HODU (XLA:CPU's fast min/max may drop one)
      return e.select(e.cmp("NE", a, a), a, e.select(e.cmp("NE", b, b), b, m));
    }
    default: break;
  }
  fail(ErrorCode::INTERNAL, "xla: not a binary op");
}

V lower_logical(Ctx& c) {
  Emitter& e = c.e;
  V a = e.truthy(e.bcast_to(c.in[0], c.v.shape)), b = e.truthy(e.bcast_to(c.in[1], c.v.shape));
  const char* name = c.v.op == OpCode::LogicalAnd ? "and" : c.v.op == OpCode::LogicalOr ? "or" : "xor";
  return e.bin(name, a, b);
}

V lower_compare(Ctx& c) {
  Emitter& e = c.e;
  V a = e.bcast_to(c.in[0], c.v.shape), b = e.bcast_to(c.in[1], c.v.shape);
  const char* dir = "EQ";
  switch (c.v.op) {
    case OpCode::Eq: dir = "EQ"; break;
    case OpCode::Ne: dir = "NE"; break;
    case OpCode::Lt: dir = "LT"; break;
    case OpCode::Le: dir = "LE"; break;
    case OpCode::Gt: dir = "GT"; break;
    case OpCode::Ge: dir = "GE"; break;
    default: fail(ErrorCode::INTERNAL, "xla: not a comparison");
  }
  return e.cmp(dir, a, b);
}

V lower_logical_not(Ctx& c) { return c.e.un("not", c.e.truthy(c.in[0])); }

// ---- unary

V lower_unary(Ctx& c) {
  Emitter& e = c.e;
  const V& x = c.in[0];
  const DType t = x.dt;
  auto k = [&](double v) { return e.splat(t, x.shape, v); };
  switch (c.v.op) {
    case OpCode::Neg:
      if (is_unsigned_int(t)) return e.bin("subtract", k(0), x);
      return e.un("negate", x);
    case OpCode::Abs:
      if (is_unsigned_int(t)) return x;
      return e.un("abs", x);
    case OpCode::Sign: {
      // 0 for 0 and NaN, else ±1
      V pos = e.cmp("GT", x, k(0));
      if (is_unsigned_int(t)) return e.select(pos, k(1), k(0));
      V sg = e.select(pos, k(1), e.select(e.cmp("LT", x, k(0)), k(-1), k(0)));
      return is_float(t) ? e.select(e.cmp("NE", x, x), x, sg) : sg;  // NaN stays NaN (PyTorch)
    }
    case OpCode::Square: return e.bin("multiply", x, x);
    case OpCode::Relu: return e.select(e.cmp("LE", x, k(0)), k(0), x);  // NaN stays NaN (PyTorch)
    case OpCode::Clamp: {
      double lo = c.v.attrs.at(0), hi = c.v.attrs.at(1);
      if (is_float(t)) {
        V r = e.select(e.cmp("LT", x, k(lo)), k(lo), x);  // NaN passes through
        return e.select(e.cmp("LT", k(hi), r), k(hi), r);
      }
      // integers: which of x, lo, hi the double formula min(max(x, lo), hi) picks, decided exactly
      IntRange r = int_range(t);
      const double max_plus_one = std::ldexp(1.0, value_bits(t));  // 2^digits, exact
      V result = x;
      double fl = std::floor(hi);
      if (!(fl >= max_plus_one - 1)) {
        V hv = e.splat_lit(t, x.shape, saturating_int_text(t, hi));
        V above = fl < r.min ? e.splat(DType::Bool, x.shape, 1)
                             : e.cmp("GT", x, e.splat_lit(t, x.shape, saturating_int_text(t, fl)));
        result = e.select(above, hv, result);
      }
      double cl = std::ceil(lo);
      if (!(cl <= r.min)) {
        V lv = e.splat_lit(t, x.shape, saturating_int_text(t, std::min(lo, hi)));
        V below = cl >= max_plus_one ? e.splat(DType::Bool, x.shape, 1)
                                     : e.cmp("LT", x, e.splat_lit(t, x.shape, saturating_int_text(t, cl)));
        result = e.select(below, lv, result);
      }
      return result;
    }
    case OpCode::Sqrt: return e.un("sqrt", x);
    case OpCode::Recip: return e.bin("divide", k(1), x);
    case OpCode::Sigmoid: return e.un("logistic", x);
    case OpCode::Tanh: return e.un("tanh", x);
    case OpCode::Gelu: {
      // x * sigmoid(2u), u = sqrt(2/pi) * (x + 0.044715 x^3)  (= 0.5 x (1 + tanh u))
      V x3 = e.bin("multiply", e.bin("multiply", x, x), x);
      V u = e.bin("multiply", k(0.7978845608028654), e.bin("add", x, e.bin("multiply", k(0.044715), x3)));
      return e.bin("multiply", x, e.un("logistic", e.bin("multiply", k(2), u)));
    }
    case OpCode::Softplus: {
      // max(x, 0) + log1p(exp(-|x|))
      V relu = e.select(e.cmp("GT", x, k(0)), x, k(0));
      return e.bin("add", relu, e.un("log_plus_one", e.un("exponential", e.un("negate", e.un("abs", x)))));
    }
    case OpCode::Sin: return e.un("sine", x);
    case OpCode::Cos: return e.un("cosine", x);
    case OpCode::Tan: return e.bin("divide", e.un("sine", x), e.un("cosine", x));
    case OpCode::Exp: return e.un("exponential", x);
    case OpCode::Exp2: return e.bin("power", k(2), x);
    case OpCode::Exp10: return e.bin("power", k(10), x);
    case OpCode::Ln: return e.un("log", x);
    case OpCode::Log2: return e.bin("multiply", e.un("log", x), k(1.4426950408889634));
    case OpCode::Log10: return e.bin("multiply", e.un("log", x), k(0.4342944819032518));
    case OpCode::LeakyRelu: {
      V a = k(c.v.attrs.at(0));
      return e.select(e.cmp("GT", x, k(0)), x, e.bin("multiply", a, x));
    }
    case OpCode::Elu: {
      V a = k(c.v.attrs.at(0));
      return e.select(e.cmp("GT", x, k(0)), x, e.bin("multiply", a, e.un("exponential_minus_one", x)));
    }
    case OpCode::Silu: return e.bin("multiply", x, e.un("logistic", x));
    case OpCode::Erf: {
      // f64: XLA's own erf (CHLO, decomposed by the compiler). Narrower floats: the kernel's
      // polynomials (unary_math.h vmath::erf), evaluated in f64 as the kernel does.
      if (t == DType::F64) return e.un("chlo.erf", x);
      const DType d = DType::F64;
      V xd = cast_to(e, x, d);
      auto kd = [&](double v) { return e.splat(d, x.shape, v); };
      auto horner = [&](const double* c, int n, V u) {
        V p = kd(c[n - 1]);
        for (int i = n - 2; i >= 0; i--) p = e.bin("add", e.bin("multiply", p, u), kd(c[i]));
        return p;
      };
      V a = e.un("abs", xd);
      V small = e.bin("multiply", a, horner(vmath::kErfSmall, 7, e.bin("multiply", a, a)));
      V s = e.bin("subtract", e.bin("minimum", a, kd(vmath::kErfOne)), kd(vmath::kErfCenter));
      V large = e.bin("subtract", kd(1), e.un("exponential", horner(vmath::kErfLarge, 10, s)));
      V mag = e.select(e.cmp("LT", a, kd(vmath::kErfSplit)), small, large);
      V r = e.select(e.cmp("LT", xd, kd(0)), e.un("negate", mag), mag);
      return cast_to(e, e.select(e.cmp("NE", xd, xd), xd, r), t);  // NaN passes through
    }
    case OpCode::GeluErf: {
      // x·Φ(x), Φ(x) = erfc(-x/√2)/2. f64: through XLA's erf. Narrower floats: the kernel's form
      // (unary_math.h vmath::gelu_erf) in f64: erfc(|u|) from the erfc fit (|u| >= 1) or 1 - erf.
      if (t == DType::F64) {
        V u = e.bin("multiply", x, k(0.7071067811865476));
        V r = e.bin("multiply", e.bin("multiply", x, k(0.5)), e.bin("add", k(1), e.un("chlo.erf", u)));
        return e.select(e.cmp("LT", x, k(-40)), k(-0.0), r);  // the limit -0 (as the kernel; -inf too)
      }
      const DType d = DType::F64;
      V xd = cast_to(e, x, d);
      auto kd = [&](double v) { return e.splat(d, x.shape, v); };
      auto horner = [&](const double* c, int n, V u) {
        V p = kd(c[n - 1]);
        for (int i = n - 2; i >= 0; i--) p = e.bin("add", e.bin("multiply", p, u), kd(c[i]));
        return p;
      };
      V u = e.bin("multiply", xd, kd(0.7071067811865476));
      V a = e.un("abs", u);
      V erf_a = e.bin("multiply", a, horner(vmath::kErfSmall, 7, e.bin("multiply", a, a)));
      V s = e.bin("subtract", e.bin("minimum", a, kd(vmath::kErfOne)), kd(vmath::kErfCenter));
      V ec = e.un("exponential", horner(vmath::kErfLarge, 10, s));
      // a >= 3: erfc's continued fraction, 8 terms (as the kernel), argument clamped to [3, 10]
      V tc = e.bin("minimum", e.bin("maximum", a, kd(vmath::kGeluCf)), kd(10));
      V f = tc;
      for (int q = 8; q >= 1; q--) f = e.bin("add", tc, e.bin("divide", kd(0.5 * q), f));
      V tail = e.bin("divide", e.un("exponential", e.un("negate", e.bin("multiply", tc, tc))), e.bin("multiply", f, kd(1.7724538509055160)));
      V mid = e.select(e.cmp("LT", a, kd(vmath::kErfSplit)), e.bin("subtract", kd(1), erf_a), ec);
      V lo = e.select(e.cmp("LT", a, kd(vmath::kGeluCf)), mid, tail);  // erfc(a)
      V phi2 = e.select(e.cmp("LT", u, kd(0)), lo, e.bin("subtract", kd(2), lo));
      V r = e.bin("multiply", e.bin("multiply", xd, kd(0.5)), phi2);
      r = e.select(e.cmp("LT", xd, kd(-14)), kd(-0.0), r);
      return cast_to(e, e.select(e.cmp("NE", xd, xd), xd, r), t);  // NaN passes through
    }
    default: break;
  }
  fail(ErrorCode::INTERNAL, "xla: not a unary op");
}

V lower_where(Ctx& c) {
  Emitter& e = c.e;
  const Shape& s = c.v.shape;
  return e.select(e.bcast_to(c.in[0], s), e.bcast_to(c.in[1], s), e.bcast_to(c.in[2], s));
}

// ---- matmul (numpy semantics: 1-D operands, broadcast batch dims)

V lower_matmul(Ctx& c) {
  Emitter& e = c.e;
  V a = c.in[0], b = c.in[1];
  const bool a1 = a.shape.size() == 1, b1 = b.shape.size() == 1;
  if (a1) a = e.reshape(a, {1, a.shape[0]});
  if (b1) b = e.reshape(b, {b.shape[0], 1});
  const size_t ra = a.shape.size(), rb = b.shape.size();
  const int64_t m = a.shape[ra - 2], k = a.shape[ra - 1], n = b.shape[rb - 1];
  Shape ba(a.shape.begin(), a.shape.end() - 2), bb(b.shape.begin(), b.shape.end() - 2);
  Shape batch = broadcast_shapes(ba, bb, "matmul");
  V r;
  if (bb.empty()) {
    // rhs without batch dims: fold the lhs batch into its rows, one 2-D dot
    int64_t rows = numel(ba) * m;
    V a2 = e.reshape(a, {rows, k});
    r = e.dot_general(a2, b, {}, {}, {1}, {0}, {rows, n});
    Shape rs = ba;
    rs.push_back(m);
    rs.push_back(n);
    r = e.reshape(r, rs);
  } else {
    Shape sa = batch, sb = batch;
    sa.push_back(m), sa.push_back(k);
    sb.push_back(k), sb.push_back(n);
    V ab = e.bcast_to(a, sa), bbv = e.bcast_to(b, sb);
    const int64_t nb = (int64_t)batch.size();
    std::vector<int64_t> bd = iota_vec(nb);
    Shape rs = batch;
    rs.push_back(m);
    rs.push_back(n);
    r = e.dot_general(ab, bbv, bd, bd, {nb + 1}, {nb}, rs);
  }
  return e.reshape(r, c.v.shape);
}

// ---- reductions

struct ReduceInfo {
  std::vector<int64_t> dims;
  Shape keep_shape;  // x's shape with reduced dims set to 1
  int64_t count = 1;
};

ReduceInfo reduce_info(const Value& v, const V& x) {
  ReduceAttrs ra = reduce_attrs(v.op, v.attrs, (int)x.shape.size());
  ReduceInfo r;
  r.keep_shape = x.shape;
  for (int d : ra.dims) {
    r.dims.push_back(d);
    r.keep_shape[(size_t)d] = 1;
    r.count *= x.shape[(size_t)d];
  }
  return r;
}

// A max/min reduction in which any NaN makes the result NaN (PyTorch's rule; XLA:CPU's vectorised
// maximum/minimum reductions drop NaN): the plain reduction, replaced by NaN where an "or" of x != x is set.
V nan_reduce(Emitter& e, const V& x, const std::vector<int64_t>& dims, const char* body, const V& init) {
  V r = e.reduce(x, dims, body, init);
  if (!is_float(x.dt) || dims.empty()) return r;
  V any = e.reduce(e.cmp("NE", x, x), dims, "or", e.scalar(DType::Bool, 0));
  return e.select(any, e.splat(x.dt, r.shape, std::numeric_limits<double>::quiet_NaN()), r);
}

V sum_of(Emitter& e, const V& x, const std::vector<int64_t>& dims) { return e.reduce(x, dims, "add", e.scalar(x.dt, 0)); }

V lower_reduce(Ctx& c) {
  Emitter& e = c.e;
  const V& x = c.in[0];
  const DType t = x.dt;
  ReduceInfo ri = reduce_info(c.v, x);
  V r;
  switch (c.v.op) {
    case OpCode::Sum: r = sum_of(e, x, ri.dims); break;
    case OpCode::Prod: r = e.reduce(x, ri.dims, "multiply", e.scalar(t, 1)); break;
    case OpCode::Max: r = nan_reduce(e, x, ri.dims, "maximum", e.lowest(t, {})); break;
    case OpCode::Min: r = nan_reduce(e, x, ri.dims, "minimum", e.highest(t, {})); break;
    case OpCode::Mean: {
      V s = sum_of(e, x, ri.dims);
      r = e.bin("divide", s, e.splat(t, s.shape, (double)ri.count));
      break;
    }
    case OpCode::Norm: r = e.un("sqrt", sum_of(e, e.bin("multiply", x, x), ri.dims)); break;
    case OpCode::Var:
    case OpCode::Std: {
      // two-pass, population: mean((x - mean(x))^2)
      V s = sum_of(e, x, ri.dims);
      V m = e.bin("divide", s, e.splat(t, s.shape, (double)ri.count));
      V mb = e.bcast_in_dim(e.reshape(m, ri.keep_shape), x.shape, iota_vec((int64_t)x.shape.size()));
      V d = e.bin("subtract", x, mb);
      V ss = sum_of(e, e.bin("multiply", d, d), ri.dims);
      r = e.bin("divide", ss, e.splat(t, ss.shape, (double)ri.count));
      if (c.v.op == OpCode::Std) r = e.un("sqrt", r);
      break;
    }
    default: fail(ErrorCode::INTERNAL, "xla: not a reduction");
  }
  return e.reshape(r, c.v.shape);
}

V lower_arg_reduce(Ctx& c) {
  Emitter& e = c.e;
  const V& x = c.in[0];
  const DType t = x.dt;
  const bool is_max = c.v.op == OpCode::Argmax;
  ReduceInfo ri = reduce_info(c.v, x);
  // kept dims first, reduced dims last (row-major order within them), flattened to one dim
  std::vector<int64_t> perm;
  Shape flat;
  for (size_t d = 0; d < x.shape.size(); d++)
    if (std::find(ri.dims.begin(), ri.dims.end(), (int64_t)d) == ri.dims.end()) {
      perm.push_back((int64_t)d);
      flat.push_back(x.shape[d]);
    }
  const int64_t kept = (int64_t)flat.size();
  for (int64_t d : ri.dims) perm.push_back(d);
  flat.push_back(ri.count);
  V xs = e.reshape(e.transpose(x, perm), flat);
  V idx = e.iota(DType::I64, flat, kept);
  V init_v = is_max ? e.lowest(t, {}) : e.highest(t, {});
  V init_i = e.scalar_lit(DType::I64, "9223372036854775807");
  Shape rs(flat.begin(), flat.end() - 1);

  // body: (a, ai) wins over (b, bi) if a is NaN and (b is not NaN or ai < bi), or neither is NaN and
  // (a beats b, or a == b and ai < bi)
  const std::string st = ty(t, {}), it = ty(DType::I64, {}), bt = ty(DType::Bool, {});
  std::string a0 = e.fresh("%a"), a1 = e.fresh("%a"), b0 = e.fresh("%b"), b1 = e.fresh("%b");
  std::ostringstream body;
  auto line = [&](const std::string& name, const std::string& text) { body << "      " << name << " = " << text << "\n"; };
  auto cmp = [&](const char* dir, const std::string& p, const std::string& q, const std::string& pt, const char* ctype) {
    std::string r = e.fresh();
    line(r, "\"stablehlo.compare\"(" + p + ", " + q + ") {comparison_direction = #stablehlo<comparison_direction " + dir +
                ">, compare_type = #stablehlo<comparison_type " + ctype + ">} : (" + pt + ", " + pt + ") -> " + bt);
    return r;
  };
  auto logic = [&](const char* name, const std::string& p, const std::string& q) {
    std::string r = e.fresh();
    line(r, std::string("\"stablehlo.") + name + "\"(" + p + ", " + q + ") : (" + bt + ", " + bt + ") -> " + bt);
    return r;
  };
  auto sel = [&](const std::string& cnd, const std::string& p, const std::string& q, const std::string& pt) {
    std::string r = e.fresh();
    line(r, "\"stablehlo.select\"(" + cnd + ", " + p + ", " + q + ") : (" + bt + ", " + pt + ", " + pt + ") -> " + pt);
    return r;
  };
  const char* ct = compare_type(t);
  std::string beats = cmp(is_max ? "GT" : "LT", a0, b0, st, ct);
  std::string eq = cmp("EQ", a0, b0, st, ct);
  std::string ilt = cmp("LT", a1, b1, it, "SIGNED");
  std::string pick = logic("or", beats, logic("and", eq, ilt));
  if (is_float(t)) {
    std::string anan = cmp("NE", a0, a0, st, ct), bnan = cmp("NE", b0, b0, st, ct);
    std::string bok = e.fresh();
    line(bok, "\"stablehlo.not\"(" + bnan + ") : (" + bt + ") -> " + bt);
    std::string normal = logic("and", bok, pick);
    std::string nan_case = logic("or", bok, ilt);
    pick = sel(anan, nan_case, normal, bt);
  }
  std::string rv = sel(pick, a0, b0, st), ri_ = sel(pick, a1, b1, it);
  std::string r = e.fresh("%r");
  e.out << "    " << r << ":2 = \"stablehlo.reduce\"(" << xs.id << ", " << idx.id << ", " << init_v.id << ", " << init_i.id
        << ") ({\n    ^bb0(" << a0 << ": " << st << ", " << a1 << ": " << it << ", " << b0 << ": " << st << ", " << b1
        << ": " << it << "):\n"
        << body.str() << "      \"stablehlo.return\"(" << rv << ", " << ri_ << ") : (" << st << ", " << it
        << ") -> ()\n    }) {dimensions = " << i64_array({kept}) << "} : (" << ty(xs) << ", " << ty(idx) << ", "
        << ty(init_v) << ", " << ty(init_i) << ") -> (" << ty(t, rs) << ", " << ty(DType::I64, rs) << ")\n";
  V res{r + "#1", DType::I64, rs};
  return e.reshape(res, c.v.shape);
}

// ---- joining and indexing

V lower_concat(Ctx& c) {
  int dim = norm_dim((int64_t)c.v.attrs.at(0), (int)c.in[0].shape.size(), "concat");
  return c.e.concat(c.in, dim);
}

// Indices as i64, and a run-time check that each is in [0, n): XLA clamps gather indices and drops
// out-of-range scatter updates, while the HODU backend reports them; the check becomes a hidden
// output that XlaPlan::run turns into the same INVALID_ARGUMENT.
V checked_indices(Emitter& e, const Value& v, const V& idx, int64_t dim, int64_t n) {
  V i = e.convert(idx, DType::I64);
  V bad = e.op("or", {e.cmp("LT", i, e.splat(DType::I64, i.shape, 0)), e.cmp("GE", i, e.splat(DType::I64, i.shape, (double)n))}, "",
               DType::Bool, i.shape);
  V any = e.reduce(bad, iota_vec((int64_t)i.shape.size()), "or", e.scalar(DType::Bool, 0));
  std::ostringstream msg;
  msg << op_info(v.op).name << ": an index is out of range for dim " << dim << " of size " << n << " (expected 0.."
      << n - 1 << ")";
  e.index_checks.push_back({any, msg.str()});
  return i;
}

V lower_index_select(Ctx& c) {
  Emitter& e = c.e;
  const V& x = c.in[0];
  const int64_t r = (int64_t)x.shape.size();
  const int64_t d = norm_dim((int64_t)c.v.attrs.at(0), (int)r, "index_select");
  const int64_t n = c.in[1].shape[0];
  V idx = e.reshape(checked_indices(e, c.v, c.in[1], d, x.shape[(size_t)d]), {n, 1});
  std::vector<int64_t> offset, slice_sizes(x.shape.begin(), x.shape.end());
  for (int64_t i = 0; i < r; i++)
    if (i != d) offset.push_back(i);
  slice_sizes[(size_t)d] = 1;
  std::string dn = "dimension_numbers = #stablehlo.gather<";
  if (!offset.empty()) dn += "offset_dims = " + list(offset) + ", ";
  dn += "collapsed_slice_dims = [" + std::to_string(d) + "], start_index_map = [" + std::to_string(d) +
        "], index_vector_dim = 1>, indices_are_sorted = false, slice_sizes = " + i64_array(slice_sizes);
  return e.op("gather", {x, idx}, dn, x.dt, c.v.shape);
}

// Full coordinates [..., rank] for an index tensor along `dim` (torch.gather / scatter_add):
// coordinate e is iota(e) except coordinate dim, which is the index.
V full_coordinates(Emitter& e, const V& idx64, int64_t dim) {
  const int64_t r = (int64_t)idx64.shape.size();
  Shape s1 = idx64.shape;
  s1.push_back(1);
  std::vector<V> parts;
  for (int64_t k = 0; k < r; k++) {
    V p = k == dim ? idx64 : e.iota(DType::I64, idx64.shape, k);
    parts.push_back(e.reshape(p, s1));
  }
  return e.concat(parts, r);
}

V lower_gather(Ctx& c) {
  Emitter& e = c.e;
  const V& x = c.in[0];
  const int64_t r = (int64_t)x.shape.size();
  const int64_t d = norm_dim((int64_t)c.v.attrs.at(0), (int)r, "gather");
  V coords = full_coordinates(e, checked_indices(e, c.v, c.in[1], d, x.shape[(size_t)d]), d);
  std::vector<int64_t> all = iota_vec(r), ones(x.shape.size(), 1);
  std::string dn = "dimension_numbers = #stablehlo.gather<collapsed_slice_dims = " + list(all) +
                   ", start_index_map = " + list(all) + ", index_vector_dim = " + std::to_string(r) +
                   ">, indices_are_sorted = false, slice_sizes = " + i64_array(ones);
  return e.op("gather", {x, coords}, dn, x.dt, c.v.shape);
}

V scatter_add(Emitter& e, const V& base, const V& idx, const V& upd, const std::string& dn) {
  V r{e.fresh(), base.dt, base.shape};
  e.out << "    " << r.id << " = \"stablehlo.scatter\"(" << base.id << ", " << idx.id << ", " << upd.id << ") ("
        << e.binary_region("add", base.dt) << ") {indices_are_sorted = false, scatter_dimension_numbers = #stablehlo.scatter<"
        << dn << ">, unique_indices = false} : (" << ty(base) << ", " << ty(idx) << ", " << ty(upd) << ") -> " << ty(r)
        << "\n";
  return r;
}

V lower_scatter_add(Ctx& c) {
  Emitter& e = c.e;
  const V& base = c.in[0];
  const int64_t r = (int64_t)base.shape.size();
  const int64_t d = norm_dim((int64_t)c.v.attrs.at(0), (int)r, "scatter_add");
  V coords = full_coordinates(e, checked_indices(e, c.v, c.in[1], d, base.shape[(size_t)d]), d);
  std::vector<int64_t> all = iota_vec(r);
  std::string dn = "inserted_window_dims = " + list(all) + ", scatter_dims_to_operand_dims = " + list(all) +
                   ", index_vector_dim = " + std::to_string(r);
  return scatter_add(e, base, coords, c.in[2], dn);
}

V lower_index_add(Ctx& c) {
  Emitter& e = c.e;
  const V& base = c.in[0];
  const int64_t r = (int64_t)base.shape.size();
  const int64_t d = norm_dim((int64_t)c.v.attrs.at(0), (int)r, "index_add");
  const int64_t n = c.in[1].shape[0];
  V idx = e.reshape(checked_indices(e, c.v, c.in[1], d, base.shape[(size_t)d]), {n, 1});
  std::vector<int64_t> window;
  for (int64_t i = 0; i < r; i++)
    if (i != d) window.push_back(i);
  std::string dn;
  if (!window.empty()) dn += "update_window_dims = " + list(window) + ", ";
  dn += "inserted_window_dims = [" + std::to_string(d) + "], scatter_dims_to_operand_dims = [" + std::to_string(d) +
        "], index_vector_dim = 1";
  return scatter_add(e, base, idx, c.in[2], dn);
}

V lower_slice_scatter(Ctx& c) {
  Emitter& e = c.e;
  const V &base = c.in[0], &src = c.in[1];
  SliceAttrs sa = slice_attrs(c.v.attrs, base.shape);
  if (sa.length == 0 || numel(base.shape) == 0) return base;
  const size_t r = base.shape.size();
  std::vector<int64_t> lo(r, 0), hi(r, 0), interior(r, 0);
  lo[sa.dim] = sa.start;
  interior[sa.dim] = sa.step - 1;
  hi[sa.dim] = base.shape[sa.dim] - sa.start - (sa.length - 1) * sa.step - 1;
  V placed = e.pad(src, e.scalar(src.dt, 0), lo, hi, interior);
  V mask = e.pad(e.splat(DType::Bool, src.shape, 1), e.scalar(DType::Bool, 0), lo, hi, interior);
  return e.select(mask, placed, base);
}

// ---- nn

V softmax_parts(Emitter& e, const V& x, int64_t dim, V* shifted, V* sum_b) {
  std::vector<int64_t> all = iota_vec((int64_t)x.shape.size());
  Shape keep = x.shape;
  keep[(size_t)dim] = 1;
  V m = nan_reduce(e, x, {dim}, "maximum", e.lowest(x.dt, {}));  // a NaN makes its whole row NaN
  V mb = e.bcast_in_dim(e.reshape(m, keep), x.shape, all);
  *shifted = e.bin("subtract", x, mb);
  V ex = e.un("exponential", *shifted);
  V s = sum_of(e, ex, {dim});
  *sum_b = e.bcast_in_dim(e.reshape(s, keep), x.shape, all);
  return ex;
}

V lower_softmax(Ctx& c) {
  Emitter& e = c.e;
  const V& x = c.in[0];
  int64_t dim = norm_dim((int64_t)c.v.attrs.at(0), (int)x.shape.size(), "softmax");
  V shifted, sb;
  V ex = softmax_parts(e, x, dim, &shifted, &sb);
  if (c.v.op == OpCode::Softmax) return e.bin("divide", ex, sb);
  return e.bin("subtract", shifted, e.un("log", sb));
}

// layer_norm(x, w, b): over dims [axis, rank), mean and variance (biased) in the compute type.
V lower_layer_norm(Ctx& c) {
  Emitter& e = c.e;
  const V &x = c.in[0], &w = c.in[1], &b = c.in[2];
  const int rank = (int)x.shape.size();
  const int axis = norm_dim((int64_t)c.v.attrs.at(0), rank, "layer_norm");
  const double eps = c.v.attrs.at(1);
  std::vector<int64_t> all = iota_vec((int64_t)rank), dims;
  Shape keep = x.shape;
  double count = 1;
  for (int d = axis; d < rank; d++) {
    dims.push_back(d);
    keep[(size_t)d] = 1;
    count *= (double)x.shape[(size_t)d];
  }
  auto k = [&](double v) { return e.splat(x.dt, x.shape, v); };
  V mean = e.bcast_in_dim(e.reshape(sum_of(e, x, dims), keep), x.shape, all);
  mean = e.bin("divide", mean, k(count));
  V xc = e.bin("subtract", x, mean);
  V var = e.bcast_in_dim(e.reshape(sum_of(e, e.bin("multiply", xc, xc), dims), keep), x.shape, all);
  var = e.bin("divide", var, k(count));
  V y = e.bin("divide", xc, e.un("sqrt", e.bin("add", var, k(eps))));
  std::vector<int64_t> tail;
  for (int d = axis; d < rank; d++) tail.push_back(d);
  y = e.bin("multiply", y, e.bcast_in_dim(w, x.shape, tail));
  return e.bin("add", y, e.bcast_in_dim(b, x.shape, tail));
}

V lower_conv2d(Ctx& c) {
  Emitter& e = c.e;
  Conv2dAttrs a = conv2d_attrs(c.v.attrs);
  Emitter::ConvSpec cs;
  cs.stride = {a.stride_h, a.stride_w};
  cs.rhs_dil = {a.dil_h, a.dil_w};
  cs.pad_lo = {a.pad_h, a.pad_w};
  cs.pad_hi = {a.pad_h, a.pad_w};
  cs.feature_groups = a.groups;
  V r = e.convolution(c.in[0], c.in[1], cs, c.v.shape);
  if (c.in.size() == 3) r = e.bin("add", r, e.bcast_in_dim(c.in[2], r.shape, {1}));
  return r;
}

V lower_conv2d_grad_input(Ctx& c) {
  // dx = transposed convolution of the output gradient with the spatially reversed, in/out-swapped kernel
  Emitter& e = c.e;
  const Value& v = c.v;
  Conv2dAttrs a = conv2d_attrs(Attrs(v.attrs.begin(), v.attrs.begin() + 7));
  const V &g = c.in[0], &w = c.in[1];
  const int64_t G = a.groups, O = w.shape[0], Cg = w.shape[1], KH = w.shape[2], KW = w.shape[3];
  const int64_t C = Cg * G, Og = O / G;
  const int64_t H = v.shape[2], W = v.shape[3], OH = g.shape[2], OW = g.shape[3];
  V w2;
  if (G == 1) {
    w2 = e.transpose(w, {1, 0, 2, 3});
  } else {
    V w5 = e.reshape(w, {G, Og, Cg, KH, KW});
    w2 = e.reshape(e.transpose(w5, {0, 2, 1, 3, 4}), {C, Og, KH, KW});
  }
  w2 = e.reverse(w2, {2, 3});
  int64_t lo_h = a.dil_h * (KH - 1) - a.pad_h, hi_h = H - 1 + a.pad_h - (OH - 1) * a.stride_h;
  int64_t lo_w = a.dil_w * (KW - 1) - a.pad_w, hi_w = W - 1 + a.pad_w - (OW - 1) * a.stride_w;
  Emitter::ConvSpec cs;
  cs.rhs_dil = {a.dil_h, a.dil_w};
  cs.feature_groups = G;
  V lhs = g;
  if (lo_h >= 0 && hi_h >= 0 && lo_w >= 0 && hi_w >= 0) {
    cs.lhs_dil = {a.stride_h, a.stride_w};
    cs.pad_lo = {lo_h, lo_w};
    cs.pad_hi = {hi_h, hi_w};
  } else {
    // negative padding (crop): dilate and pad explicitly, then a plain convolution
    lhs = e.pad(g, e.scalar(g.dt, 0), {0, 0, lo_h, lo_w}, {0, 0, hi_h, hi_w}, {0, 0, a.stride_h - 1, a.stride_w - 1});
  }
  return e.convolution(lhs, w2, cs, v.shape);
}

V lower_conv2d_grad_weight(Ctx& c) {
  // dw[o, ci, ky, kx] = sum over n, oy, ox of g[n, o, oy, ox] * x[n, group(o)*Cg + ci, oy*sh + ky*dh - ph, ...]:
  // a convolution with x's batch and feature dims swapped, g as the kernel, and batch groups.
  Emitter& e = c.e;
  const Value& v = c.v;
  Conv2dAttrs a = conv2d_attrs(Attrs(v.attrs.begin(), v.attrs.begin() + 7));
  V x = c.in[0];
  const V& g = c.in[1];
  const int64_t KH = v.shape[2], KW = v.shape[3], OH = g.shape[2], OW = g.shape[3];
  int64_t H = x.shape[2], W = x.shape[3];
  int64_t hi_h = (KH - 1) * a.dil_h + (OH - 1) * a.stride_h + 1 - H - a.pad_h;
  int64_t hi_w = (KW - 1) * a.dil_w + (OW - 1) * a.stride_w + 1 - W - a.pad_w;
  if (hi_h < 0 || hi_w < 0) {  // rows/cols the forward conv never read: crop them
    int64_t nh = hi_h < 0 ? H + hi_h : H, nw = hi_w < 0 ? W + hi_w : W;
    x = e.slice(x, {0, 0, 0, 0}, {x.shape[0], x.shape[1], nh, nw}, {1, 1, 1, 1});
    hi_h = std::max<int64_t>(hi_h, 0);
    hi_w = std::max<int64_t>(hi_w, 0);
  }
  Emitter::ConvSpec cs;
  cs.dims = "[f, b, 0, 1]x[i, o, 0, 1]->[f, b, 0, 1]";
  cs.stride = {a.dil_h, a.dil_w};
  cs.rhs_dil = {a.stride_h, a.stride_w};
  cs.pad_lo = {a.pad_h, a.pad_w};
  cs.pad_hi = {hi_h, hi_w};
  cs.batch_groups = a.groups;
  return e.convolution(x, g, cs, v.shape);
}

V lower_pool2d(Ctx& c) {
  Emitter& e = c.e;
  const V& x = c.in[0];
  Pool2dAttrs p = pool2d_attrs(c.v.op, c.v.attrs);
  std::vector<int64_t> win{1, 1, p.kernel_h, p.kernel_w}, str{1, 1, p.stride_h, p.stride_w};
  std::vector<int64_t> pad{0, 0, p.pad_h, p.pad_w};
  if (c.v.op == OpCode::MaxPool2d) {
    V m = e.reduce_window(x, e.lowest(x.dt, {}), "maximum", win, str, pad, pad);
    if (!is_float(x.dt)) return m;
    // NaN propagates through each window (PyTorch; XLA:CPU's maximum window drops it)
    V any = e.reduce_window(e.cmp("NE", x, x), e.scalar(DType::Bool, 0), "or", win, str, pad, pad);
    return e.select(any, e.splat(x.dt, m.shape, std::numeric_limits<double>::quiet_NaN()), m);
  }
  V s = e.reduce_window(x, e.scalar(x.dt, 0), "add", win, str, pad, pad);  // padded cells count (PyTorch default)
  return e.bin("divide", s, e.splat(x.dt, s.shape, (double)(p.kernel_h * p.kernel_w)));
}

V lower_max_pool2d_grad(Ctx& c) {
  // each window's gradient goes to its first maximum (row-major); padding is never selected
  Emitter& e = c.e;
  const V &x = c.in[0], &g = c.in[1];
  Pool2dAttrs p = pool2d_attrs(c.v.op, c.v.attrs);
  const std::string st = ty(x.dt, {});
  std::string a = e.fresh("%a"), b = e.fresh("%b"), k = e.fresh();
  V zero = e.scalar(x.dt, 0);
  V r{e.fresh(), x.dt, x.shape};
  e.out << "    " << r.id << " = \"stablehlo.select_and_scatter\"(" << x.id << ", " << g.id << ", " << zero.id << ") ({\n"
        << "    ^bb0(" << a << ": " << st << ", " << b << ": " << st << "):\n"
        << "      " << k << " = \"stablehlo.compare\"(" << a << ", " << b
        << ") {comparison_direction = #stablehlo<comparison_direction GE>, compare_type = #stablehlo<comparison_type FLOAT>} : ("
        << st << ", " << st << ") -> tensor<i1>\n"
        << "      \"stablehlo.return\"(" << k << ") : (tensor<i1>) -> ()\n    }, " << e.binary_region("add", x.dt)
        << ") {padding = " << padding_attr({0, 0, p.pad_h, p.pad_w}, {0, 0, p.pad_h, p.pad_w})
        << ", window_dimensions = " << i64_array({1, 1, p.kernel_h, p.kernel_w})
        << ", window_strides = " << i64_array({1, 1, p.stride_h, p.stride_w}) << "} : (" << ty(x) << ", " << ty(g) << ", "
        << ty(zero) << ") -> " << ty(r) << "\n";
  return r;
}

V lower_avg_pool2d_grad(Ctx& c) {
  // every input cell receives g / (kh*kw) from each window covering it: dilate g by the stride, pad,
  // and sum kh x kw windows
  Emitter& e = c.e;
  const Value& v = c.v;
  Pool2dAttrs p = pool2d_attrs(OpCode::AvgPool2d, Attrs(v.attrs.begin(), v.attrs.begin() + 6));
  const V& g = c.in[0];
  const int64_t H = v.shape[2], W = v.shape[3], OH = g.shape[2], OW = g.shape[3];
  V gs = e.bin("divide", g, e.splat(g.dt, g.shape, (double)(p.kernel_h * p.kernel_w)));
  std::vector<int64_t> lo{0, 0, p.kernel_h - 1 - p.pad_h, p.kernel_w - 1 - p.pad_w};
  std::vector<int64_t> hi{0, 0, H - 1 + p.pad_h - (OH - 1) * p.stride_h, W - 1 + p.pad_w - (OW - 1) * p.stride_w};
  V padded = e.pad(gs, e.scalar(g.dt, 0), lo, hi, {0, 0, p.stride_h - 1, p.stride_w - 1});
  std::vector<int64_t> zeros{0, 0, 0, 0};
  return e.reduce_window(padded, e.scalar(g.dt, 0), "add", {1, 1, p.kernel_h, p.kernel_w}, {1, 1, 1, 1}, zeros, zeros);
}

// ---------------------------------------------------------------------------------------------
// The table: one lowering per OpCode.

std::array<LowerFn, kNumOps> make_table() {
  std::array<LowerFn, kNumOps> t{};
  auto set = [&](const std::vector<OpCode>& ops, LowerFn f) {
    for (OpCode op : ops) t[(size_t)op] = f;
  };
  set({OpCode::Cast}, lower_cast);
  set({OpCode::Copy}, lower_copy);
  set({OpCode::Reshape}, lower_reshape);
  set({OpCode::Permute}, lower_permute);
  set({OpCode::BroadcastTo}, lower_broadcast_to);
  set({OpCode::Slice}, lower_slice);
  set(ops_of({OpFamily::Binary}), lower_binary);
  set(ops_of({OpFamily::Logical}), lower_logical);
  set(ops_of({OpFamily::Compare}), lower_compare);
  set({OpCode::LogicalNot}, lower_logical_not);
  set(ops_of({OpFamily::UnarySigned, OpFamily::UnaryFloat}), lower_unary);
  set({OpCode::Where}, lower_where);
  set({OpCode::Matmul}, lower_matmul);
  set(ops_of({OpFamily::Reduce, OpFamily::ReduceFloat}), lower_reduce);
  set(ops_of({OpFamily::ArgReduce}), lower_arg_reduce);
  set({OpCode::Concat}, lower_concat);
  set({OpCode::IndexSelect}, lower_index_select);
  set({OpCode::Gather}, lower_gather);
  set(ops_of({OpFamily::SoftmaxLike}), lower_softmax);
  set({OpCode::Conv2d}, lower_conv2d);
  set(ops_of({OpFamily::Pool2d}), lower_pool2d);
  set({OpCode::Conv2dGradInput}, lower_conv2d_grad_input);
  set({OpCode::Conv2dGradWeight}, lower_conv2d_grad_weight);
  set({OpCode::MaxPool2dGrad}, lower_max_pool2d_grad);
  set({OpCode::AvgPool2dGrad}, lower_avg_pool2d_grad);
  set({OpCode::ScatterAdd}, lower_scatter_add);
  set({OpCode::IndexAdd}, lower_index_add);
  set({OpCode::SliceScatter}, lower_slice_scatter);
  set({OpCode::LayerNorm}, lower_layer_norm);
  return t;
}

const std::array<LowerFn, kNumOps>& table() {
  static const std::array<LowerFn, kNumOps> t = make_table();
  return t;
}

// Ops that compute in f32 when their float operands are f16/bf16 (the HODU kernels' compute type);
// data movement, selection and comparisons run in the stored dtype (they are exact).
bool computes_in_f32(OpCode op) {
  switch (op_info(op).family) {
    case OpFamily::Cast: case OpFamily::Copy: case OpFamily::View: case OpFamily::Logical: case OpFamily::Compare:
    case OpFamily::LogicalNot: case OpFamily::Where: case OpFamily::Concat: case OpFamily::IndexSelect:
    case OpFamily::Gather: case OpFamily::SliceScatter:
      return false;
    default:
      return true;
  }
}

}  // namespace

const char* stablehlo_element_type(DType t) {
  switch (t) {
    case DType::Bool: return "i1";
    case DType::U8: return "ui8";
    case DType::I8: return "i8";
    case DType::I16: return "i16";
    case DType::I32: return "i32";
    case DType::I64: return "i64";
    case DType::U16: return "ui16";
    case DType::U32: return "ui32";
    case DType::U64: return "ui64";
    case DType::F16: return "f16";
    case DType::BF16: return "bf16";
    case DType::F32: return "f32";
    case DType::F64: return "f64";
  }
  return "?";
}

bool has_lowering(OpCode op) { return opcode_valid((int)op) && table()[(size_t)op] != nullptr; }

namespace {

std::vector<bool> liveness(const Graph& g) {
  std::vector<bool> live(g.values.size(), false);
  for (const Output& o : g.outputs) live[o.value] = true;
  for (size_t i = g.values.size(); i-- > 0;)
    if (live[i])
      for (uint32_t id : g.values[i].inputs) live[id] = true;
  return live;
}

void lower_values(Emitter& e, const Graph& g, const std::vector<ConstantData>& constants, const std::vector<bool>& live,
                  std::vector<V>& vals, EmitResult& res);

// A rolled loop (native/ir/loop_roll.h) -> stablehlo.while. The carried tuple is (iteration,
// states..., invariants..., tables..., [index-check flags]); invariants and tables are carried
// unchanged rather than captured, and the body reads row `iteration` of each table with
// dynamic_slice. Returns the while op's name; state q is result #(1 + q).
std::string lower_loop(Emitter& e, const Graph& g, const Value& v, const std::vector<ConstantData>& constants,
                       std::vector<V>& vals, EmitResult& res) {
  if (v.index >= g.loops.size() || !g.loops[v.index]) fail(ErrorCode::INTERNAL, "xla: loop ", v.index, " is missing");
  const Loop& L = *g.loops[v.index];
  const Graph& b = L.body;
  if (b.input_ids.size() != v.inputs.size() || b.outputs.size() != L.num_state)
    fail(ErrorCode::INTERNAL, "xla: malformed loop body");
  std::vector<V> init{e.scalar(DType::I64, 0)};
  for (uint32_t id : v.inputs) init.push_back(vals[id]);

  // condition: iteration < trips
  Emitter ce(e.opts);
  ce.next = e.next;
  std::vector<std::string> cargs;
  for (size_t k = 0; k < init.size(); k++) cargs.push_back(ce.fresh("%c"));
  V ci{cargs[0], DType::I64, {}};
  V cond = ce.cmp("LT", ci, ce.scalar(DType::I64, (double)L.trips));

  // body: one step
  Emitter be(e.opts);
  be.next = ce.next;
  std::vector<std::string> bargs;
  for (size_t k = 0; k < init.size(); k++) bargs.push_back(be.fresh("%b"));
  const std::string flags_arg = be.fresh("%b");
  V bi{bargs[0], DType::I64, {}};
  std::vector<V> bvals(b.values.size());
  const size_t first_table = (size_t)L.num_state + L.num_invariant;
  for (size_t k = 0; k < b.input_ids.size(); k++) {
    const Value& in = b.values[b.input_ids[k]];
    if (k < first_table) {
      bvals[b.input_ids[k]] = V{bargs[k + 1], init[k + 1].dt, init[k + 1].shape};
      continue;
    }
    // row `iteration` of the table
    const V table{bargs[k + 1], init[k + 1].dt, init[k + 1].shape};
    std::vector<V> idx{bi};
    for (size_t d = 1; d < table.shape.size(); d++) idx.push_back(be.scalar(DType::I64, 0));
    std::vector<int64_t> sizes(table.shape.begin(), table.shape.end());
    sizes[0] = 1;
    std::vector<V> args{table};
    args.insert(args.end(), idx.begin(), idx.end());
    Shape row(sizes.begin(), sizes.end());
    V sl = be.op("dynamic_slice", args, "slice_sizes = " + i64_array(sizes), table.dt, row);
    bvals[b.input_ids[k]] = be.reshape(sl, in.shape);
  }
  lower_values(be, b, constants, liveness(b), bvals, res);
  std::vector<V> next{be.op("add", {bi, be.scalar(DType::I64, 1)}, "", DType::I64, {})};
  for (const Output& o : b.outputs) next.push_back(bvals[o.value]);
  for (size_t k = L.num_state; k < v.inputs.size(); k++) next.push_back(V{bargs[k + 1], init[k + 1].dt, init[k + 1].shape});  // invariants, tables
  // index checks inside the body: or-ed into a carried flag vector, reported after the loop
  const size_t nchecks = be.index_checks.size();
  if (nchecks) {
    std::vector<V> fl;
    for (auto& ic : be.index_checks) fl.push_back(be.reshape(ic.first, {1}));
    V now = be.concat(fl, 0);
    next.push_back(be.op("or", {V{flags_arg, DType::Bool, {(int64_t)nchecks}}, now}, "", DType::Bool, {(int64_t)nchecks}));
    init.push_back(e.splat(DType::Bool, {(int64_t)nchecks}, 0));
  }
  e.next = be.next;

  const std::string w = e.fresh("%w");
  auto types = [&](const std::vector<V>& xs) {
    std::string t;
    for (size_t k = 0; k < xs.size(); k++) t += (k ? ", " : "") + ty(xs[k]);
    return t;
  };
  std::vector<std::string> cnames = cargs, bnames = bargs;
  if (nchecks) {
    cnames.push_back(ce.fresh("%c"));  // the flags, unused by the condition
    bnames.push_back(flags_arg);
  }
  auto block_args = [&](const std::vector<std::string>& names) {
    std::string t;
    for (size_t k = 0; k < init.size(); k++) t += (k ? ", " : "") + names[k] + ": " + ty(init[k]);
    return t;
  };
  const std::string ctext = block_args(cnames), btext = block_args(bnames);
  e.out << "    " << w << ":" << init.size() << " = \"stablehlo.while\"(";
  for (size_t k = 0; k < init.size(); k++) e.out << (k ? ", " : "") << init[k].id;
  e.out << ") ({\n    ^bb0(" << ctext << "):\n"
        << ce.out.str() << "      \"stablehlo.return\"(" << cond.id << ") : (tensor<i1>) -> ()\n"
        << "    }, {\n    ^bb0(" << btext << "):\n"
        << be.out.str() << "      \"stablehlo.return\"(";
  for (size_t k = 0; k < next.size(); k++) e.out << (k ? ", " : "") << next[k].id;
  e.out << ") : (" << types(next) << ") -> ()\n    }) : (" << types(init) << ") -> (" << types(init) << ")\n";
  if (nchecks) {
    V flags{w + "#" + std::to_string(init.size() - 1), DType::Bool, {(int64_t)nchecks}};
    for (size_t m = 0; m < nchecks; m++) {
      V one = e.slice(flags, {(int64_t)m}, {(int64_t)m + 1}, {1});
      e.index_checks.push_back({e.reshape(one, {}), be.index_checks[m].second});
    }
  }
  return w;
}

void lower_values(Emitter& e, const Graph& g, const std::vector<ConstantData>& constants, const std::vector<bool>& live,
                  std::vector<V>& vals, EmitResult& res) {
  const size_t n = g.values.size();
  std::vector<std::string> loop_name(n);
  for (uint32_t id = 0; id < n; id++) {
    const Value& v = g.values[id];
    if (!live[id] || v.kind == ValueKind::Input) continue;
    if (v.kind == ValueKind::Constant) {
      if (!vals[id].id.empty()) continue;  // a parameter
      if (v.constant >= constants.size()) fail(ErrorCode::INTERNAL, "xla: constant ", v.constant, " is missing");
      const ConstantData& cd = constants[v.constant];
      const size_t es = dtype_size(v.dtype);
      if (numel(v.shape) == 0 || cd.bytes < es) {
        vals[id] = e.splat(v.dtype, v.shape, 0);  // no elements
      } else {
        vals[id] = e.splat_lit(v.dtype, v.shape, element_literal(v.dtype, (const uint8_t*)cd.data));
      }
      res.inlined_constants++;
      continue;
    }
    if (v.kind == ValueKind::Loop) {
      e.out << "    // loop -> %v" << id << "\n";
      loop_name[id] = lower_loop(e, g, v, constants, vals, res);
      res.loops++;
      continue;
    }
    if (v.kind == ValueKind::LoopResult) {
      vals[id] = V{loop_name.at(v.inputs.at(0)) + "#" + std::to_string(1 + v.index), v.dtype, v.shape};
      continue;
    }
    LowerFn f = table()[(size_t)v.op];
    if (!f) fail(ErrorCode::COMPILE_FAILED, "the XLA backend has no lowering for op '", op_info(v.op).name, "'");
    Ctx c{e, v, {}};
    const bool widen = computes_in_f32(v.op);
    for (uint32_t in : v.inputs) {
      V x = vals[in];
      if (widen && is_half(x.dt)) x = e.convert(x, DType::F32);
      c.in.push_back(x);
    }
    e.out << "    // " << op_info(v.op).name << " -> %v" << id << "\n";
    V r = f(c);
    if (r.dt != v.dtype) {
      if (widen && is_half(v.dtype) && r.dt == DType::F32) r = e.convert(r, v.dtype);
      else fail(ErrorCode::INTERNAL, "xla: lowering of ", op_info(v.op).name, " gave ", dtype_name(r.dt), " for ", dtype_name(v.dtype));
    }
    if (r.shape != v.shape)
      fail(ErrorCode::INTERNAL, "xla: lowering of ", op_info(v.op).name, " gave shape ", fmt_list(r.shape), " for ",
           fmt_list(v.shape));
    vals[id] = r;
    res.ops++;
  }
}

}  // namespace

namespace {

// The mhlo.sharding attribute of a parameter of @main under SPMD (EmitOptions::num_partitions > 1).
std::string spmd_sharding(const Param& p, const EmitOptions& opts) {
  int axis = -1;
  if (p.kind == Param::Kind::Input && p.index < opts.input_split_axis.size()) axis = opts.input_split_axis[p.index];
  if (axis < 0 || (size_t)axis >= p.shape.size()) return " {mhlo.sharding = \"{replicated}\"}";
  std::ostringstream s;
  s << " {mhlo.sharding = \"{devices=[";
  for (size_t d = 0; d < p.shape.size(); d++) s << (d ? "," : "") << ((int)d == axis ? opts.num_partitions : 1);
  s << "]";
  for (int i = 0; i < opts.num_partitions; i++) s << (i ? "," : "") << i;
  s << "}\"}";
  return s.str();
}

}  // namespace

EmitResult emit_stablehlo(const Graph& g, const std::vector<ConstantData>& constants, const EmitOptions& opts) {
  const size_t n = g.values.size();
  EmitResult res;
  // dead-code elimination: only what the outputs need
  const std::vector<bool> live = liveness(g);

  Emitter e(opts);
  std::vector<V> vals(n);
  // parameters: all inputs (the caller passes every one), then the large live constants
  for (uint32_t k = 0; k < g.input_ids.size(); k++) {
    uint32_t id = g.input_ids[k];
    const Value& v = g.values[id];
    vals[id] = V{"%arg" + std::to_string(res.params.size()), v.dtype, v.shape};
    res.params.push_back(Param{Param::Kind::Input, id, k, v.dtype, v.shape});
  }
  for (uint32_t id = 0; id < n; id++) {
    const Value& v = g.values[id];
    if (v.kind != ValueKind::Constant || !live[id]) continue;
    if (v.constant >= constants.size()) fail(ErrorCode::INTERNAL, "xla: constant ", v.constant, " is missing");
    if ((size_t)numel(v.shape) <= opts.inline_constant_max_elements) continue;
    vals[id] = V{"%arg" + std::to_string(res.params.size()), v.dtype, v.shape};
    res.params.push_back(Param{Param::Kind::Constant, id, v.constant, v.dtype, v.shape});
  }
  lower_values(e, g, constants, live, vals, res);

  // results: the graph outputs, then (when index ops ran) the hidden index-check flags
  std::vector<V> results;
  for (const Output& o : g.outputs) results.push_back(vals[o.value]);
  if (!e.index_checks.empty()) {
    std::vector<V> flags;
    for (auto& ic : e.index_checks) {
      flags.push_back(e.reshape(ic.first, {1}));
      res.index_check_messages.push_back(ic.second);
    }
    results.push_back(e.concat(flags, 0));
  }
  // updated variables: input k and output j share the reserved name (and so the type)
  res.aliased_output.assign(res.params.size(), -1);
  if (opts.alias_variables) {
    for (size_t i = 0; i < res.params.size(); i++) {
      const Param& p = res.params[i];
      if (p.kind != Param::Kind::Input) continue;
      const Value& v = g.values[p.value];
      if (v.name.rfind("@var:", 0) != 0) continue;
      for (size_t j = 0; j < g.outputs.size(); j++) {
        const Value& o = g.values[g.outputs[j].value];
        if (g.outputs[j].name == v.name && o.dtype == v.dtype && o.shape == v.shape) {
          res.aliased_output[i] = (int)j;
          break;
        }
      }
    }
    // one result per input at most
    for (size_t i = 0; i < res.params.size(); i++)
      for (size_t k = 0; k < i; k++)
        if (res.aliased_output[i] >= 0 && res.aliased_output[k] == res.aliased_output[i]) res.aliased_output[i] = -1;
    // with index checks, an updated variable keeps its old value when a check failed: the caller
    // reports the error, and its donated buffer must still hold the value from before the run
    bool any_alias = false;
    for (int a : res.aliased_output) any_alias = any_alias || a >= 0;
    if (any_alias && !e.index_checks.empty()) {
      V failed = e.reduce(results.back(), {0}, "or", e.scalar(DType::Bool, 0));
      for (size_t i = 0; i < res.params.size(); i++) {
        if (res.aliased_output[i] < 0) continue;
        const Param& p = res.params[i];
        V old{"%arg" + std::to_string(i), p.dtype, p.shape};
        V& r = results[(size_t)res.aliased_output[i]];
        r = e.select(e.bcast_to(failed, p.shape), old, r);
      }
    }
  }
  std::ostringstream m;
  const int np = opts.num_partitions > 1 ? opts.num_partitions : 1;
  m << "module @hodu attributes {mhlo.num_partitions = " << np << " : i32, mhlo.num_replicas = 1 : i32} {\n";
  m << "  func.func public @main(";
  for (size_t i = 0; i < res.params.size(); i++) {
    m << (i ? ", " : "") << "%arg" << i << ": " << ty(res.params[i].dtype, res.params[i].shape);
    std::string attrs = np > 1 ? spmd_sharding(res.params[i], opts) : "";
    if (res.aliased_output[i] >= 0) {
      const std::string alias = "tf.aliasing_output = " + std::to_string(res.aliased_output[i]) + " : i32";
      if (attrs.empty()) attrs = " {" + alias + "}";
      else attrs.insert(attrs.size() - 1, ", " + alias);
    }
    m << attrs;
  }
  m << ") -> (";
  for (size_t j = 0; j < results.size(); j++)
    m << (j ? ", " : "") << ty(results[j]) << (np > 1 ? " {mhlo.sharding = \"{replicated}\"}" : "");
  m << ") {\n" << e.out.str() << "    \"func.return\"(";
  for (size_t j = 0; j < results.size(); j++) m << (j ? ", " : "") << results[j].id;
  m << ") : (";
  for (size_t j = 0; j < results.size(); j++) m << (j ? ", " : "") << ty(results[j]);
  m << ") -> ()\n  }\n}\n";
  res.text = m.str();
  return res;
}

}  // namespace xla
}  // namespace hodu
