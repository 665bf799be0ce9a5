// How many threads a plan's run may use, decided from the runs it has timed.
//
// OpenMP's fork/join assumes each thread of a parallel region has a CPU. When other processes take
// the CPUs, a region waits until its descheduled thread runs again, and a 27 µs run can take
// milliseconds (README, "Benchmarks": under load). A plan therefore times its runs in both modes,
// all threads and one thread, keeps a moving average of each, runs in the faster mode, and probes
// the other mode now and then (less often while the probes keep confirming the choice; at once when
// three runs in a row of the mode in use are 1.5x slower than the other's last measure). On an idle
// machine that costs a few slower runs at the start, then three in a thousand.
// HODU_THREADS=all or HODU_THREADS=one fixes the mode instead.
#pragma once
#include <cstdint>

namespace hodu {

class ThreadPolicy {
 public:
  // The thread cap for the next run: 0 = no cap (each kernel's own choice), 1 = one thread.
  int next();
  // The wall time of the run made with cap `cap` (as returned by next()).
  void record(int cap, double seconds);
  // The mode runs use now: "all" or "one" (fixed by HODU_THREADS, or the current choice).
  const char* mode() const;

 private:
  uint64_t runs_ = 0;
  int choice_ = 0;           // index of the mode in use: 0 = all threads, 1 = one
  double avg_[2] = {0, 0};   // moving averages of the run time per mode (0 = not measured yet)
  uint64_t probe_every_ = 16;
  uint64_t next_probe_ = 0;
  int probe_left_ = 0;       // runs left in the current probe
  int slow_streak_ = 0;      // consecutive runs of the mode in use much slower than the other
  double probe_best_ = 0;
};

}  // namespace hodu
