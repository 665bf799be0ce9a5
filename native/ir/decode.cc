#include <cstring>
#include <unordered_set>

#include "graph.h"

namespace hodu {

namespace {

class Reader {
 public:
  Reader(const uint8_t* p, size_t n) : p_(p), n_(n) {}
  template <class T>
  T get(const char* what) {
    if (n_ - pos_ < sizeof(T) || pos_ > n_) fail(ErrorCode::INVALID_FILE, "IR truncated while reading ", what);
    T v;
    std::memcpy(&v, p_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }
  std::string str(const char* what) {
    uint32_t len = get<uint32_t>(what);
    if (len > 4096) fail(ErrorCode::INVALID_FILE, "IR: ", what, " of length ", len, " is too long");
    if (n_ - pos_ < len) fail(ErrorCode::INVALID_FILE, "IR truncated while reading ", what);
    std::string s((const char*)p_ + pos_, len);
    pos_ += len;
    return s;
  }
  size_t remaining() const { return n_ - pos_; }

 private:
  const uint8_t* p_;
  size_t n_;
  size_t pos_ = 0;
};

}  // namespace

Graph decode_graph(const uint8_t* bytes, size_t size) {
  Reader r(bytes, size);
  uint32_t magic = r.get<uint32_t>("magic");
  if (magic != 0x52494448u)  // "HDIR" little-endian
    fail(ErrorCode::INVALID_FILE, "IR: bad magic (not a hodu graph)");
  uint32_t version = r.get<uint32_t>("version");
  if (version != kIrVersion)
    fail(ErrorCode::INVALID_FILE, "IR: format version ", version, " is not supported (this build reads version ", kIrVersion, ")");
  uint32_t nvalues = r.get<uint32_t>("value count");
  if (nvalues > r.remaining() / 4) fail(ErrorCode::INVALID_FILE, "IR: value count ", nvalues, " exceeds the data");
  Graph g;
  g.values.reserve(nvalues);
  for (uint32_t i = 0; i < nvalues; i++) {
    Value v;
    uint8_t kind = r.get<uint8_t>("value kind");
    uint8_t dtype = r.get<uint8_t>("dtype");
    uint8_t rank = r.get<uint8_t>("rank");
    (void)r.get<uint8_t>("padding");
    if (kind > 2) fail(ErrorCode::INVALID_FILE, "IR: value ", i, " has unknown kind ", (int)kind);
    if (!dtype_valid(dtype)) fail(ErrorCode::INVALID_FILE, "IR: value ", i, " has unknown dtype ", (int)dtype);
    if (rank > kMaxRank) fail(ErrorCode::INVALID_FILE, "IR: value ", i, " has rank ", (int)rank);
    v.kind = (ValueKind)kind;
    v.dtype = (DType)dtype;
    for (int d = 0; d < rank; d++) v.shape.push_back(r.get<int64_t>("dims"));
    try {
      check_shape(v.shape, "IR value");
    } catch (const HoduError& e) {
      fail(ErrorCode::INVALID_FILE, "IR: value ", i, ": ", e.what());
    }
    if (v.kind == ValueKind::Input) {
      v.name = r.str("input name");
      g.input_ids.push_back(i);
    } else if (v.kind == ValueKind::Constant) {
      v.constant = r.get<uint32_t>("constant index");
    } else {
      uint16_t op = r.get<uint16_t>("opcode");
      if (!opcode_valid(op)) fail(ErrorCode::INVALID_FILE, "IR: value ", i, " has unknown opcode ", op);
      v.op = (OpCode)op;
      uint16_t nin = r.get<uint16_t>("input count");
      if (nin > r.remaining() / 4) fail(ErrorCode::INVALID_FILE, "IR truncated in the inputs of value ", i);
      for (int k = 0; k < nin; k++) {
        uint32_t id = r.get<uint32_t>("input id");
        if (id >= i) fail(ErrorCode::INVALID_FILE, "IR: value ", i, " uses value ", id, ", which is not defined before it");
        v.inputs.push_back(id);
      }
      uint32_t nattr = r.get<uint32_t>("attribute count");
      if (nattr > 4096 || nattr > r.remaining() / 8) fail(ErrorCode::INVALID_FILE, "IR: value ", i, " has ", nattr, " attributes");
      for (uint32_t k = 0; k < nattr; k++) v.attrs.push_back(r.get<double>("attribute"));
    }
    g.values.push_back(std::move(v));
  }
  uint32_t nout = r.get<uint32_t>("output count");
  if (nout > r.remaining() / 8) fail(ErrorCode::INVALID_FILE, "IR: output count ", nout, " exceeds the data");
  for (uint32_t i = 0; i < nout; i++) {
    Output o;
    o.value = r.get<uint32_t>("output value");
    o.name = r.str("output name");
    if (o.value >= g.values.size()) fail(ErrorCode::INVALID_FILE, "IR: output '", o.name, "' refers to missing value ", o.value);
    g.outputs.push_back(std::move(o));
  }
  if (r.remaining() != 0) fail(ErrorCode::INVALID_FILE, "IR: ", r.remaining(), " trailing bytes");
  return g;
}

}  // namespace hodu
