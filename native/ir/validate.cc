#include <unordered_set>

#include "../ops/infer.h"
#include "graph.h"

namespace hodu {

void validate_graph(const Graph& g, const std::vector<ConstantData>& constants) {
  std::unordered_set<std::string> in_names, out_names;
  for (size_t i = 0; i < g.values.size(); i++) {
    const Value& v = g.values[i];
    switch (v.kind) {
      case ValueKind::Input:
        if (v.name.empty()) fail(ErrorCode::INVALID_FILE, "IR: input value ", i, " has an empty name");
        if (!in_names.insert(v.name).second) fail(ErrorCode::DUPLICATE_NAME, "IR: input name '", v.name, "' is used twice");
        break;
      case ValueKind::Constant: {
        if (v.constant >= constants.size())
          fail(ErrorCode::INVALID_FILE, "IR: value ", i, " refers to constant ", v.constant, " of ", constants.size());
        size_t want = (size_t)numel(v.shape) * dtype_size(v.dtype);
        if (constants[v.constant].bytes != want)
          fail(ErrorCode::INVALID_FILE, "IR: constant ", v.constant, " holds ", constants[v.constant].bytes, " bytes; ",
               dtype_name(v.dtype), fmt_list(v.shape), " needs ", want);
        break;
      }
      case ValueKind::Op: {
        std::vector<TensorDesc> ins;
        for (uint32_t id : v.inputs) ins.emplace_back(g.values[id].dtype, g.values[id].shape);
        InferResult r = infer(v.op, v.attrs, ins);  // throws the op's own error code
        if (r.out.dtype != v.dtype || r.out.shape != v.shape)
          fail(ErrorCode::INVALID_FILE, "IR: value ", i, " (", op_info(v.op).name, ") is recorded as ", dtype_name(v.dtype),
               fmt_list(v.shape), " but its inputs give ", dtype_name(r.out.dtype), fmt_list(r.out.shape));
        break;
      }
      case ValueKind::Loop:
      case ValueKind::LoopResult:
        fail(ErrorCode::INVALID_FILE, "IR: value ", i, " is a loop, which only the compiler makes");
    }
  }
  for (const Output& o : g.outputs) {
    if (o.name.empty()) fail(ErrorCode::INVALID_FILE, "IR: an output has an empty name");
    if (!out_names.insert(o.name).second) fail(ErrorCode::DUPLICATE_NAME, "IR: output name '", o.name, "' is used twice");
  }
}

}  // namespace hodu
