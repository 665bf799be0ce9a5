// Helpers of the XLA driver tests: a tiny graph builder (shapes and dtypes from infer(), as the TS
// recorder does) and plugin discovery for the C++ driver (env var, else the project cache).
#pragma once
#include <sys/stat.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "core/half.h"
#include "ir/graph.h"
#include "ops/infer.h"

namespace hodu_test {

struct GraphBuilder {
  hodu::Graph g;
  std::vector<std::vector<uint8_t>> bytes;

  uint32_t input(const std::string& name, hodu::DType t, hodu::Shape s) {
    hodu::Value v;
    v.kind = hodu::ValueKind::Input;
    v.dtype = t;
    v.shape = std::move(s);
    v.name = name;
    g.values.push_back(v);
    g.input_ids.push_back((uint32_t)g.values.size() - 1);
    return (uint32_t)g.values.size() - 1;
  }

  uint32_t constant(hodu::DType t, hodu::Shape s, std::vector<uint8_t> data) {
    hodu::Value v;
    v.kind = hodu::ValueKind::Constant;
    v.dtype = t;
    v.shape = std::move(s);
    v.constant = (uint32_t)bytes.size();
    bytes.push_back(std::move(data));
    g.values.push_back(v);
    return (uint32_t)g.values.size() - 1;
  }

  uint32_t f32_constant(hodu::Shape s, const std::vector<float>& vals) {
    std::vector<uint8_t> b(vals.size() * 4);
    std::memcpy(b.data(), vals.data(), b.size());
    return constant(hodu::DType::F32, std::move(s), std::move(b));
  }

  uint32_t i64_constant(hodu::Shape s, const std::vector<int64_t>& vals) {
    std::vector<uint8_t> b(vals.size() * 8);
    std::memcpy(b.data(), vals.data(), b.size());
    return constant(hodu::DType::I64, std::move(s), std::move(b));
  }

  uint32_t op(hodu::OpCode op, std::vector<uint32_t> ins, hodu::Attrs attrs = {}) {
    std::vector<hodu::TensorDesc> descs;
    for (uint32_t id : ins) descs.emplace_back(g.values[id].dtype, g.values[id].shape);
    hodu::InferResult r = hodu::infer(op, attrs, descs);
    hodu::Value v;
    v.kind = hodu::ValueKind::Op;
    v.op = op;
    v.dtype = r.out.dtype;
    v.shape = r.out.shape;
    v.inputs = std::move(ins);
    v.attrs = std::move(attrs);
    g.values.push_back(v);
    return (uint32_t)g.values.size() - 1;
  }

  void output(const std::string& name, uint32_t v) { g.outputs.push_back({name, v}); }

  std::vector<hodu::ConstantData> constants() const {
    std::vector<hodu::ConstantData> r;
    for (auto& b : bytes) r.push_back({b.data(), b.size()});
    return r;
  }
};

// Deterministic pseudo-random floats in [-1, 1).
inline std::vector<float> test_floats(size_t n, uint32_t seed) {
  std::vector<float> v(n);
  uint64_t s = seed * 2654435761u + 1;
  for (auto& x : v) {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    x = (float)((double)(s >> 40) / (double)(1ull << 24) * 2.0 - 1.0);
  }
  return v;
}

inline bool file_exists(const std::string& p) {
  struct stat st;
  return stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

// The CPU plugin for the driver: $HODU_PJRT_PLUGIN_CPU, else the project cache seen from the repo
// root or from a build folder inside it. Empty when none is found.
inline std::string find_cpu_plugin() {
  if (const char* e = std::getenv("HODU_PJRT_PLUGIN_CPU")) return e;
  for (const char* p : {".cache/pjrt-cpu/xla_cpu_pjrt.so", "../.cache/pjrt-cpu/xla_cpu_pjrt.so"})
    if (file_exists(p)) return p;
  return "";
}

// $HODU_PJRT_PLUGIN_CUDA (e.g. /opt/torch/.venv/lib/python3.12/site-packages/jax_plugins/xla_cuda13/xla_cuda_plugin.so).
inline std::string find_cuda_plugin() {
  const char* e = std::getenv("HODU_PJRT_PLUGIN_CUDA");
  return e ? e : "";
}

}  // namespace hodu_test
