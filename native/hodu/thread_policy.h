// How many threads a plan's runs use: decided once, at compile time, from the plan's work.
//
// A plan whose every step is small (each kernel would run on one thread anyway: pick_threads in
// kernels/dnnl_util.h, under ~256 KB moved or ~1 MFLOP) runs on one thread: an OpenMP fork/join
// (~4 µs here) would cost more than it saves, and oneDNN's primitives would still fork. Any other
// plan runs with all threads, every run: the mode never changes with timings, so a run on a quiet
// machine never lands on a slower mode because an earlier run was disturbed (the timing-based policy
// this replaces flipped between 6.7 ms and 10.9 ms on the same matmul from one process to the next).
//
// Contention is handled by how threads wait, not by switching modes: OpenMP's workers spin for a
// bounded time and then sleep (lib/native.ts sets GOMP_SPINCOUNT unless the user did), so when other
// processes take the CPUs a run degrades towards the one-thread time instead of losing whole spin
// periods at every barrier, and it is back at full speed as soon as the CPUs are free again.
//
// HODU_THREADS=all or HODU_THREADS=one fixes the mode of every plan.
#pragma once
#include <cstdint>

namespace hodu {

struct PlanBuilder;

class ThreadPolicy {
 public:
  // Decides the mode from the plan's steps (called once, after lowering).
  void decide(const PlanBuilder& b);
  // The thread cap of a run: 0 = no cap (each kernel's own choice), 1 = one thread.
  int cap() const;
  // The mode the plan's runs use: "all" or "one" (fixed by HODU_THREADS, or decided at compile).
  const char* mode() const;
  // The largest step's work estimate (bytes moved, or flops / 4 for matmul and conv).
  double max_step_work() const { return max_work_; }

 private:
  bool one_ = false;
  double max_work_ = 0;
};

// HODU_THREADS: 0 = all, 1 = one, -1 = unset (the plan decides).
int forced_thread_mode();

}  // namespace hodu
