#include "loop_roll.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <unordered_map>

#include "../core/error.h"

namespace hodu {

namespace {

constexpr uint32_t kNone = std::numeric_limits<uint32_t>::max();

uint64_t mix(uint64_t h, uint64_t v) { return h ^ (v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2)); }

// Equal for values that may be the same position of two steps (inputs not compared).
uint64_t signature(const Value& v, uint32_t id) {
  uint64_t h = mix(0x5157, (uint64_t)v.kind);
  if (v.kind != ValueKind::Op) return mix(h, id);  // loops and their results never repeat
  h = mix(h, (uint64_t)v.op);
  h = mix(h, (uint64_t)v.dtype);
  h = mix(h, v.shape.size());
  for (int64_t d : v.shape) h = mix(h, (uint64_t)d);
  h = mix(h, v.inputs.size());
  for (double a : v.attrs) {
    uint64_t b;
    std::memcpy(&b, &a, sizeof b);
    h = mix(h, b);
  }
  return h;
}

bool same_node(const Value& a, const Value& b) {
  if (a.kind != ValueKind::Op || b.kind != ValueKind::Op) return false;
  if (a.op != b.op || a.dtype != b.dtype || a.shape != b.shape || a.inputs.size() != b.inputs.size() ||
      a.attrs.size() != b.attrs.size())
    return false;
  return a.attrs.empty() || std::memcmp(a.attrs.data(), b.attrs.data(), a.attrs.size() * sizeof(double)) == 0;
}

bool same_type(const Value& a, const Value& b) { return a.dtype == b.dtype && a.shape == b.shape; }

// Inputs and constants first (they depend on nothing), then the rest in recorded order: a step's
// constants (its learning rate, its loss seed) then sit outside the step, as outer values.
Graph hoist(const Graph& g) {
  const uint32_t n = (uint32_t)g.values.size();
  std::vector<uint32_t> order, to(n);
  order.reserve(n);
  for (uint32_t i = 0; i < n; i++)
    if (g.values[i].kind == ValueKind::Input || g.values[i].kind == ValueKind::Constant) order.push_back(i);
  for (uint32_t i = 0; i < n; i++)
    if (g.values[i].kind != ValueKind::Input && g.values[i].kind != ValueKind::Constant) order.push_back(i);
  for (uint32_t k = 0; k < n; k++) to[order[k]] = k;
  Graph h;
  h.values.reserve(n);
  for (uint32_t i : order) {
    Value v = g.values[i];
    for (uint32_t& r : v.inputs) r = to[r];
    h.values.push_back(std::move(v));
  }
  for (uint32_t id : g.input_ids) h.input_ids.push_back(to[id]);
  for (const Output& o : g.outputs) h.outputs.push_back({o.name, to[o.value]});
  h.loops = g.loops;
  return h;
}

std::vector<bool> liveness(const Graph& g) {
  std::vector<bool> live(g.values.size(), false);
  for (const Output& o : g.outputs) live[o.value] = true;
  for (size_t i = g.values.size(); i-- > 0;)
    if (live[i])
      for (uint32_t r : g.values[i].inputs) live[r] = true;
  return live;
}

enum class EdgeKind : uint8_t { Internal, Invariant, Carried, Varying };

struct Edge {
  EdgeKind kind = EdgeKind::Internal;
  uint32_t a = 0;  // Internal, Carried: position in the step; Invariant: outer id; Varying: table index
};

// A candidate loop: steps [s + j*P, s + (j+1)*P) for j < trips.
struct Region {
  uint32_t s = 0, P = 0, trips = 0;
  std::vector<uint32_t> edge_off;            // per position: first edge
  std::vector<Edge> edges;                   // per position and input
  std::vector<uint32_t> init;                // per position: the initial value of a carried state
  std::vector<std::vector<uint32_t>> tables;  // per varying edge: the constant read by each step
};

class Roller {
 public:
  explicit Roller(const RollOptions& o) : opts_(o) {}

  // Finds the largest loop in g, or returns false.
  bool find(const Graph& g, Region* best) {
    const uint32_t n = (uint32_t)g.values.size();
    uint32_t first = 0;
    while (first < n && (g.values[first].kind == ValueKind::Input || g.values[first].kind == ValueKind::Constant)) first++;
    if (n - first < 2) return false;
    live_ = liveness(g);
    sig_.assign(n, 0);
    for (uint32_t i = first; i < n; i++) sig_[i] = signature(g.values[i], i);

    // candidate periods: the distances between repeats of a signature, most frequent first
    std::unordered_map<uint64_t, uint32_t> last;
    std::unordered_map<uint32_t, uint32_t> count;
    for (uint32_t i = first; i < n; i++) {
      auto it = last.find(sig_[i]);
      if (it != last.end()) count[i - it->second]++;
      last[sig_[i]] = i;
    }
    std::vector<std::pair<uint32_t, uint32_t>> periods(count.begin(), count.end());  // (P, count)
    std::sort(periods.begin(), periods.end(), [](auto& x, auto& y) { return x.second != y.second ? x.second > y.second : x.first < y.first; });
    if (periods.size() > 4) periods.resize(4);

    bool found = false;
    for (auto [P, c] : periods) {
      if (c + 1 < opts_.min_trips) continue;
      // maximal runs where position i repeats at i + P
      uint32_t i = first;
      while (i + P < n) {
        if (!(sig_[i] == sig_[i + P] && same_node(g.values[i], g.values[i + P]))) {
          i++;
          continue;
        }
        uint32_t a = i;
        while (i + P < n && sig_[i] == sig_[i + P] && same_node(g.values[i], g.values[i + P])) i++;
        uint32_t trips = (i - a + P) / P;
        // try the run's start, then one step later (the first step may read its initial values
        // differently, e.g. momentum's first step)
        for (uint32_t shift = 0; shift < 2 && trips - shift >= opts_.min_trips; shift++) {
          Region r;
          if (!verify(g, a + shift * P, P, trips - shift, &r)) continue;
          if (!found || (size_t)r.trips * r.P > (size_t)best->trips * best->P) *best = std::move(r);
          found = true;
          break;
        }
      }
    }
    return found;
  }

  // Rewrites g with the region replaced by a Loop value.
  Graph apply(const Graph& g, const Region& r, RolledGraph* out) {
    const uint32_t s = r.s, P = r.P, N = r.trips, end = s + N * P;
    const uint32_t n = (uint32_t)g.values.size();
    auto pos_of_last = [&](uint32_t id) { return id - (s + (N - 1) * P); };

    // states the loop must return: last-step values read after the loop
    std::vector<bool> exported(P, false), needed(P, false);
    for (uint32_t v = end; v < n; v++)
      if (live_[v])
        for (uint32_t x : g.values[v].inputs)
          if (x >= s && x < end) exported[pos_of_last(x)] = true;
    for (const Output& o : g.outputs)
      if (o.value >= s && o.value < end) exported[pos_of_last(o.value)] = true;
    // what the body computes: the exported values and what they need, through the carried edges
    std::vector<bool> carried(P, false);
    needed = exported;
    for (bool changed = true; changed;) {
      changed = false;
      for (uint32_t k = P; k-- > 0;) {
        if (!needed[k]) continue;
        for (uint32_t e = r.edge_off[k]; e < r.edge_off[k + 1]; e++) {
          const Edge& ed = r.edges[e];
          if (ed.kind == EdgeKind::Internal || ed.kind == EdgeKind::Carried) {
            if (ed.kind == EdgeKind::Carried) carried[ed.a] = true;
            if (!needed[ed.a]) {
              needed[ed.a] = true;
              changed = true;
            }
          }
        }
      }
    }
    std::vector<uint32_t> states;
    std::vector<int> state_of(P, -1);
    for (uint32_t k = 0; k < P; k++)
      if (exported[k] || carried[k]) {
        state_of[k] = (int)states.size();
        states.push_back(k);
      }

    // tables: rows equal in every step make an invariant instead
    std::vector<int> table_slot(r.tables.size(), -1);
    std::vector<uint32_t> table_invariant(r.tables.size(), kNone);
    for (size_t t = 0; t < r.tables.size(); t++) {
      const auto& ids = r.tables[t];
      const ConstantData& c0 = cdata(g, ids[0]);
      bool same = true;
      for (uint32_t j = 1; j < N && same; j++) {
        const ConstantData& cj = cdata(g, ids[j]);
        same = cj.bytes == c0.bytes && (c0.bytes == 0 || std::memcmp(cj.data, c0.data, c0.bytes) == 0);
      }
      if (same) table_invariant[t] = ids[0];
    }

    auto loop = std::make_shared<Loop>();
    Graph& body = loop->body;
    loop->trips = N;
    std::vector<uint32_t> loop_inputs;  // outer ids, in body-input order
    std::vector<Value> new_consts;      // outer constants made here (zero states, tables)
    auto add_const = [&](DType dt, const Shape& shape, std::vector<uint8_t> bytes) {
      out->owned.push_back(std::move(bytes));
      out->constants.push_back({out->owned.back().data(), out->owned.back().size()});
      Value v;
      v.kind = ValueKind::Constant;
      v.dtype = dt;
      v.shape = shape;
      v.constant = (uint32_t)(out->constants.size() - 1);
      new_consts.push_back(v);
      return (uint32_t)(s + new_consts.size() - 1);  // its id in the new graph
    };
    auto body_input = [&](const Value& like, const std::string& name) {
      Value v;
      v.kind = ValueKind::Input;
      v.dtype = like.dtype;
      v.shape = like.shape;
      v.name = name;
      body.input_ids.push_back((uint32_t)body.values.size());
      body.values.push_back(v);
      return (uint32_t)(body.values.size() - 1);
    };

    // body inputs: states, then invariants, then tables
    std::vector<uint32_t> state_in(states.size());
    for (size_t q = 0; q < states.size(); q++) {
      const uint32_t k = states[q];
      state_in[q] = body_input(g.values[s + k], "state" + std::to_string(q));
      if (r.init[k] != kNone) {
        loop_inputs.push_back(r.init[k]);
      } else {  // exported only: its value before the first iteration is never read
        const Value& v = g.values[s + k];
        loop_inputs.push_back(add_const(v.dtype, v.shape, std::vector<uint8_t>((size_t)numel(v.shape) * dtype_size(v.dtype), 0)));
      }
    }
    loop->num_state = (uint32_t)states.size();
    std::unordered_map<uint32_t, uint32_t> invariant_in;  // outer id -> body id
    auto invariant = [&](uint32_t outer) -> uint32_t {
      auto it = invariant_in.find(outer);
      if (it != invariant_in.end()) return it->second;
      const Value& ov = g.values[outer];
      uint32_t id;
      if (ov.kind == ValueKind::Constant && numel(ov.shape) <= 1) {  // a scalar: a constant of the body
        body.values.push_back(ov);
        id = (uint32_t)(body.values.size() - 1);
      } else {
        id = body_input(ov, "invariant" + std::to_string(loop_inputs.size()));
        loop_inputs.push_back(outer);
        loop->num_invariant++;
      }
      invariant_in.emplace(outer, id);
      return id;
    };
    // invariants and tables are created on first use below; keep body inputs grouped by making
    // the invariants first, then the tables
    for (uint32_t k = 0; k < P; k++)
      if (needed[k])
        for (uint32_t e = r.edge_off[k]; e < r.edge_off[k + 1]; e++) {
          const Edge& ed = r.edges[e];
          if (ed.kind == EdgeKind::Invariant) invariant(ed.a);
          if (ed.kind == EdgeKind::Varying && table_invariant[ed.a] != kNone) invariant(table_invariant[ed.a]);
        }
    std::vector<uint32_t> table_in(r.tables.size(), kNone);
    for (uint32_t k = 0; k < P; k++)
      if (needed[k])
        for (uint32_t e = r.edge_off[k]; e < r.edge_off[k + 1]; e++) {
          const Edge& ed = r.edges[e];
          if (ed.kind != EdgeKind::Varying || table_invariant[ed.a] != kNone || table_in[ed.a] != kNone) continue;
          const auto& ids = r.tables[ed.a];
          const Value& v0 = g.values[ids[0]];
          const size_t row = (size_t)numel(v0.shape) * dtype_size(v0.dtype);
          std::vector<uint8_t> bytes(row * N);
          for (uint32_t j = 0; j < N; j++) {
            const ConstantData& c = cdata(g, ids[j]);
            if (c.bytes != row) fail(ErrorCode::INTERNAL, "loop rolling: constant ", ids[j], " has ", c.bytes, " bytes, expected ", row);
            if (row) std::memcpy(bytes.data() + j * row, c.data, row);
          }
          Shape ts{(int64_t)N};
          ts.insert(ts.end(), v0.shape.begin(), v0.shape.end());
          loop_inputs.push_back(add_const(v0.dtype, ts, std::move(bytes)));
          table_in[ed.a] = body_input(v0, "table" + std::to_string(loop->num_table));
          loop->num_table++;
        }

    // body ops: the needed positions of one step
    std::vector<uint32_t> body_id(P, kNone);
    for (uint32_t k = 0; k < P; k++) {
      if (!needed[k]) continue;
      Value v = g.values[s + k];
      for (uint32_t idx = 0; idx < v.inputs.size(); idx++) {
        const Edge& ed = r.edges[r.edge_off[k] + idx];
        switch (ed.kind) {
          case EdgeKind::Internal: v.inputs[idx] = body_id[ed.a]; break;
          case EdgeKind::Carried: v.inputs[idx] = state_in[(size_t)state_of[ed.a]]; break;
          case EdgeKind::Invariant: v.inputs[idx] = invariant_in.at(ed.a); break;
          case EdgeKind::Varying:
            v.inputs[idx] = table_invariant[ed.a] != kNone ? invariant_in.at(table_invariant[ed.a]) : table_in[ed.a];
            break;
        }
        if (v.inputs[idx] == kNone) fail(ErrorCode::INTERNAL, "loop rolling: unresolved body input");
      }
      body_id[k] = (uint32_t)body.values.size();
      body.values.push_back(std::move(v));
    }
    for (size_t q = 0; q < states.size(); q++) body.outputs.push_back({"state" + std::to_string(q), body_id[states[q]]});

    // the outer graph: [0, s), the new constants, the loop, its results, the live rest
    Graph ng;
    ng.loops = g.loops;
    ng.loops.push_back(loop);
    ng.values.assign(g.values.begin(), g.values.begin() + s);
    for (Value& c : new_consts) ng.values.push_back(std::move(c));
    const uint32_t loop_id = (uint32_t)ng.values.size();
    {
      Value lv;
      lv.kind = ValueKind::Loop;
      lv.dtype = DType::F32;
      lv.inputs = loop_inputs;
      lv.index = (uint32_t)(ng.loops.size() - 1);
      ng.values.push_back(std::move(lv));
    }
    for (size_t q = 0; q < states.size(); q++) {
      const Value& sv = g.values[s + states[q]];
      Value rv;
      rv.kind = ValueKind::LoopResult;
      rv.dtype = sv.dtype;
      rv.shape = sv.shape;
      rv.inputs = {loop_id};
      rv.index = (uint32_t)q;
      ng.values.push_back(std::move(rv));
    }
    std::vector<uint32_t> to(n, kNone);
    for (uint32_t i = 0; i < s; i++) to[i] = i;
    for (uint32_t k = 0; k < P; k++)
      if (state_of[k] >= 0) to[s + (N - 1) * P + k] = loop_id + 1 + (uint32_t)state_of[k];
    for (uint32_t v = end; v < n; v++) {
      if (!live_[v]) continue;
      Value nv = g.values[v];
      for (uint32_t& x : nv.inputs) {
        x = to[x];
        if (x == kNone) fail(ErrorCode::INTERNAL, "loop rolling: a value after the loop reads one it did not keep");
      }
      to[v] = (uint32_t)ng.values.size();
      ng.values.push_back(std::move(nv));
    }
    ng.input_ids = g.input_ids;  // all before s (hoisted)
    for (const Output& o : g.outputs) {
      if (to[o.value] == kNone) fail(ErrorCode::INTERNAL, "loop rolling: lost output '", o.name, "'");
      ng.outputs.push_back({o.name, to[o.value]});
    }
    return ng;
  }

 private:
  const ConstantData& cdata(const Graph& g, uint32_t id) const {
    uint32_t c = g.values[id].constant;
    if (c >= all_->size()) fail(ErrorCode::INTERNAL, "loop rolling: constant ", c, " is missing");
    return (*all_)[c];
  }

 public:
  const std::vector<ConstantData>* all_ = nullptr;  // constants incl. those made by earlier rounds

 private:
  // Whether constant `b` may stand where the first step read constant `a`: the same value (any
  // size: a step re-creating its zeros), or a small one (a row of a table).
  bool may_vary(const Graph& g, uint32_t a, uint32_t b) const {
    const Value& va = g.values[a];
    const Value& vb = g.values[b];
    if (va.kind != ValueKind::Constant || vb.kind != ValueKind::Constant || !same_type(va, vb)) return false;
    if ((size_t)numel(va.shape) <= opts_.max_table_elements) return true;
    const ConstantData& ca = cdata(g, a);
    const ConstantData& cb = cdata(g, b);
    return ca.bytes == cb.bytes && (ca.bytes == 0 || std::memcmp(ca.data, cb.data, ca.bytes) == 0);
  }

  bool verify(const Graph& g, uint32_t s, uint32_t P, uint32_t trips, Region* r) {
    const uint32_t n = (uint32_t)g.values.size();
    r->s = s;
    r->P = P;
    r->edge_off.assign(P + 1, 0);
    for (uint32_t k = 0; k < P; k++) r->edge_off[k + 1] = r->edge_off[k] + (uint32_t)g.values[s + k].inputs.size();
    r->edges.assign(r->edge_off[P], Edge{});
    r->init.assign(P, kNone);
    r->tables.clear();
    uint32_t N = trips;
    for (uint32_t j = 1; j < N; j++) {
      bool ok = true;
      for (uint32_t k = 0; k < P && ok; k++) {
        const Value& t = g.values[s + k];
        const Value& u = g.values[s + j * P + k];
        if (!same_node(t, u)) {
          ok = false;
          break;
        }
        for (uint32_t idx = 0; idx < t.inputs.size() && ok; idx++) {
          const uint32_t rt = t.inputs[idx], ru = u.inputs[idx];
          Edge& e = r->edges[r->edge_off[k] + idx];
          if (rt >= s) {
            e = {EdgeKind::Internal, rt - s};
            ok = ru == rt + j * P;
          } else if (j == 1) {
            if (ru == rt) {
              e = {EdgeKind::Invariant, rt};
            } else if (ru >= s && ru < s + P) {
              const uint32_t q = ru - s;
              e = {EdgeKind::Carried, q};
              ok = same_type(g.values[rt], g.values[ru]) && (r->init[q] == kNone || r->init[q] == rt);
              r->init[q] = rt;
            } else if (may_vary(g, rt, ru)) {
              e = {EdgeKind::Varying, (uint32_t)r->tables.size()};
              r->tables.push_back({rt, ru});
            } else {
              ok = false;
            }
          } else {
            switch (e.kind) {
              case EdgeKind::Invariant: ok = ru == e.a; break;
              case EdgeKind::Carried: ok = ru == s + (j - 1) * P + e.a; break;
              case EdgeKind::Varying: {
                auto& tab = r->tables[e.a];
                ok = may_vary(g, tab[0], ru);
                if (ok) tab.push_back(ru);
                break;
              }
              case EdgeKind::Internal: ok = false; break;
            }
          }
        }
      }
      if (!ok) {
        N = j;
        break;
      }
    }
    // a value of an earlier step read after the loop ends the loop after that step
    for (bool changed = true; changed && N >= 2;) {
      changed = false;
      const uint32_t end = s + N * P;
      auto check = [&](uint32_t x) {
        if (x >= s && x < end) {
          const uint32_t step = (x - s) / P;
          if (step + 1 < N) {
            N = step + 1;
            changed = true;
          }
        }
      };
      for (uint32_t v = end; v < n && !changed; v++)
        if (live_[v])
          for (uint32_t x : g.values[v].inputs) check(x);
      for (const Output& o : g.outputs) check(o.value);
    }
    size_t ops = (size_t)N * P;
    if (N < opts_.min_trips || N < 2 || ops < opts_.min_ops) return false;
    for (auto& tab : r->tables) tab.resize(N);
    r->trips = N;
    return true;
  }

  const RollOptions& opts_;
  std::vector<bool> live_;
  std::vector<uint64_t> sig_;
};

// Drops values the outputs do not need (inputs stay: a run binds every one).
Graph without_dead(const Graph& g) {
  const std::vector<bool> live = liveness(g);
  std::vector<uint32_t> to(g.values.size(), kNone);
  Graph d;
  d.loops = g.loops;
  for (uint32_t i = 0; i < g.values.size(); i++) {
    if (!live[i] && g.values[i].kind != ValueKind::Input) continue;
    Value v = g.values[i];
    for (uint32_t& x : v.inputs) x = to[x];
    to[i] = (uint32_t)d.values.size();
    d.values.push_back(std::move(v));
  }
  for (uint32_t id : g.input_ids) d.input_ids.push_back(to[id]);
  for (const Output& o : g.outputs) d.outputs.push_back({o.name, to[o.value]});
  return d;
}

// Steps that read batch k of a larger input (`X.narrow(0, k*B, B)`) differ only in the slice's
// start, which stops them from matching. Rewritten as index_select with a per-step I64 index
// constant, they match, and the index constants become a table the body indexes by iteration.
// Only slices of an outer value (an input or a constant) in a group of at least min_trips with
// the same source, dim, length and step and different starts are rewritten. New constants are
// appended (hoist() puts them first). If nothing rolls, the caller keeps the original graph.
Graph slices_as_gathers(const Graph& g, RolledGraph* out, const RollOptions& opts, bool* changed) {
  *changed = false;
  struct Norm {
    bool ok = false;
    int64_t dim = 0, start = 0, len = 0, step = 1;
  };
  auto norm = [&](const Value& v) {
    Norm r;
    if (v.kind != ValueKind::Op || v.op != OpCode::Slice || v.attrs.size() != 4 || v.inputs.size() != 1) return r;
    const Value& src = g.values[v.inputs[0]];
    if (src.kind != ValueKind::Input && src.kind != ValueKind::Constant) return r;
    const int64_t rank = (int64_t)src.shape.size();
    int64_t dim = (int64_t)v.attrs[0];
    if (dim < 0) dim += rank;
    if (dim < 0 || dim >= rank) return r;
    const int64_t size = src.shape[(size_t)dim], start = (int64_t)v.attrs[1], end = (int64_t)v.attrs[2], step = (int64_t)v.attrs[3];
    if (start < 0 || end > size || start >= end || step < 1) return r;
    const int64_t len = (end - start + step - 1) / step;
    if ((size_t)dim >= v.shape.size() || v.shape[(size_t)dim] != len) return r;
    r = {true, dim, start, len, step};
    return r;
  };
  struct Group {
    uint32_t count = 0;
    int64_t first_start = -1;
    bool differ = false;
  };
  auto key = [](uint32_t src, const Norm& n) {
    return mix(mix(mix(mix(0x51ce, src), (uint64_t)n.dim), (uint64_t)n.len), (uint64_t)n.step);
  };
  std::unordered_map<uint64_t, Group> groups;
  std::vector<Norm> norms(g.values.size());
  for (uint32_t i = 0; i < g.values.size(); i++) {
    norms[i] = norm(g.values[i]);
    if (!norms[i].ok) continue;
    Group& gr = groups[key(g.values[i].inputs[0], norms[i])];
    gr.count++;
    if (gr.first_start < 0) gr.first_start = norms[i].start;
    else if (gr.first_start != norms[i].start) gr.differ = true;
  }
  Graph h = g;
  const uint32_t n = (uint32_t)g.values.size();
  for (uint32_t i = 0; i < n; i++) {
    const Norm& nm = norms[i];
    if (!nm.ok) continue;
    const Group& gr = groups[key(g.values[i].inputs[0], nm)];
    if (gr.count < opts.min_trips || !gr.differ) continue;
    std::vector<uint8_t> bytes((size_t)nm.len * sizeof(int64_t));
    for (int64_t k = 0; k < nm.len; k++) {
      const int64_t idx = nm.start + k * nm.step;
      std::memcpy(bytes.data() + (size_t)k * sizeof(int64_t), &idx, sizeof idx);
    }
    out->owned.push_back(std::move(bytes));
    out->constants.push_back({out->owned.back().data(), out->owned.back().size()});
    Value c;
    c.kind = ValueKind::Constant;
    c.dtype = DType::I64;
    c.shape = Shape{nm.len};
    c.constant = (uint32_t)(out->constants.size() - 1);
    h.values.push_back(std::move(c));
    Value& v = h.values[i];
    v.op = OpCode::IndexSelect;
    v.inputs = {v.inputs[0], (uint32_t)(h.values.size() - 1)};
    v.attrs = {(double)nm.dim};
    *changed = true;
  }
  return h;
}

}  // namespace

RolledGraph roll_loops(const Graph& g, const std::vector<ConstantData>& constants, const RollOptions& opts) {
  RolledGraph out;
  out.constants = constants;
  Roller roller(opts);
  roller.all_ = &out.constants;
  // First as recorded: a step's values that only the last step's successors read (its loss) are
  // then part of every step and the whole loop rolls. If that finds no loop (dead values recorded
  // irregularly break the pattern), again without the dead values.
  bool gathered = false;
  const Graph base = hoist(slices_as_gathers(g, &out, opts, &gathered));
  (void)gathered;
  for (int attempt = 0; attempt < 2; attempt++) {
    Graph cur = hoist(attempt == 0 ? base : without_dead(base));
    int rolled = 0;
    for (; rolled < opts.max_loops; rolled++) {
      Region r;
      if (!roller.find(cur, &r)) break;
      cur = hoist(roller.apply(cur, r, &out));
    }
    if (rolled) {
      out.graph = without_dead(cur);  // the per-step constants the body no longer reads
      return out;
    }
  }
  out.graph = g;
  return out;
}

}  // namespace hodu
