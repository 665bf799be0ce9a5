#include "op.h"

namespace hodu {

const char* family_name(OpFamily f) {
  switch (f) {
#define HODU_X(name) \
  case OpFamily::name: return #name;
    HODU_OP_FAMILIES(HODU_X)
#undef HODU_X
  }
  return "?";
}

const char* grad_name(OpGrad g) {
  switch (g) {
    case OpGrad::Vjp: return "vjp";
    case OpGrad::None: return "none";
    case OpGrad::Internal: return "internal";
  }
  return "?";
}

std::vector<OpCode> ops_of(std::initializer_list<OpFamily> fams) {
  std::vector<OpCode> r;
  for (const OpInfo& o : kOpTable)
    for (OpFamily f : fams)
      if (o.family == f) r.push_back(o.code);
  return r;
}

}  // namespace hodu
