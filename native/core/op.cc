#include "op.h"

namespace hodu {

static const OpInfo kOps[] = {
#define HODU_OP(E, name, fam, arity, attrs) {OpCode::E, name, OpFamily::fam, arity, attrs},
#include "ops.def"
#undef HODU_OP
};
static_assert(sizeof(kOps) / sizeof(kOps[0]) == kNumOps, "op table size");

const OpInfo& op_info(OpCode op) { return kOps[(int)op]; }

}  // namespace hodu
