#include "thread_policy.h"

#include <cstdlib>
#include <cstring>

#include "../kernels/dnnl_util.h"

namespace hodu {

namespace {
int mode_cap(int mode) { return mode == 1 ? 1 : 0; }
int cap_mode(int cap) { return cap == 1 ? 1 : 0; }
// run 1 (first touch of memory, thread start-up) is not counted; 2-4 run all threads, 5-7 one
constexpr uint64_t kBaseline = 7;
// a probe runs the other mode this many times and keeps the best (its first run pays for waking
// sleeping worker threads)
constexpr int kProbeRuns = 3;

// HODU_THREADS=all|one fixes the mode (0 / 1); unset or anything else: adaptive (-1).
int forced_mode() {
  static const int m = [] {
    const char* e = std::getenv("HODU_THREADS");
    if (e && std::strcmp(e, "all") == 0) return 0;
    if (e && std::strcmp(e, "one") == 0) return 1;
    return -1;
  }();
  return m;
}
}  // namespace

int ThreadPolicy::next() {
  if (forced_mode() >= 0) return mode_cap(forced_mode());
  if (max_threads() <= 1) return 0;
  runs_++;
  if (runs_ <= kBaseline) return mode_cap(runs_ <= 4 ? 0 : 1);
  if (probe_left_ == 0 && runs_ >= next_probe_) {
    probe_left_ = kProbeRuns;
    probe_best_ = 0;
  }
  return mode_cap(probe_left_ > 0 ? 1 - choice_ : choice_);
}

const char* ThreadPolicy::mode() const {
  const int m = forced_mode() >= 0 ? forced_mode() : max_threads() <= 1 ? 0 : choice_;
  return m == 1 ? "one" : "all";
}

void ThreadPolicy::record(int cap, double seconds) {
  if (forced_mode() >= 0 || max_threads() <= 1 || runs_ <= 1) return;
  const int m = cap_mode(cap);
  if (runs_ <= kBaseline) {  // the best of three runs per mode
    if (avg_[m] == 0 || seconds < avg_[m]) avg_[m] = seconds;
    if (runs_ == kBaseline) {
      choice_ = avg_[1] < avg_[0] ? 1 : 0;
      next_probe_ = runs_ + probe_every_;
    }
    return;
  }
  if (probe_left_ > 0) {  // a probe run of the other mode
    if (probe_best_ == 0 || seconds < probe_best_) probe_best_ = seconds;
    if (--probe_left_ > 0) return;
    avg_[m] = probe_best_;
    if (avg_[m] < 0.9 * avg_[choice_]) {
      choice_ = m;
      probe_every_ = 16;
    } else if (probe_every_ < 1024) {
      probe_every_ *= 2;
    }
    next_probe_ = runs_ + probe_every_;
    return;
  }
  // the mode in use: a moving average that one outlier cannot swing; three runs in a row much
  // slower than the other mode's last measure start a probe now
  avg_[m] = 0.8 * avg_[m] + 0.2 * (seconds < 2 * avg_[m] ? seconds : 2 * avg_[m]);
  slow_streak_ = seconds > 1.5 * avg_[1 - m] ? slow_streak_ + 1 : 0;
  if (slow_streak_ >= 3) {
    slow_streak_ = 0;
    next_probe_ = runs_ + 1;
    probe_every_ = 16;
  }
}

}  // namespace hodu
