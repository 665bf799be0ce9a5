#include "thread_policy.h"

#include "../kernels/dnnl_util.h"

namespace hodu {

namespace {
int mode_cap(int mode) { return mode == 1 ? 1 : 0; }
int cap_mode(int cap) { return cap == 1 ? 1 : 0; }
}  // namespace

int ThreadPolicy::next() {
  if (max_threads() <= 1) return 0;
  runs_++;
  // the first runs alternate (a baseline for each mode; run 1 also pays first-touch costs)
  if (runs_ <= 6) return mode_cap(runs_ % 2 == 0 ? 1 : 0);
  if (runs_ >= next_probe_) {
    next_probe_ = runs_ + probe_every_;
    return mode_cap(1 - choice_);
  }
  return mode_cap(choice_);
}

void ThreadPolicy::record(int cap, double seconds) {
  if (max_threads() <= 1) return;
  const int m = cap_mode(cap);
  const double w = m == choice_ ? 0.3 : 0.5;  // a probe is rarer: weigh it more
  avg_[m] = avg_[m] == 0 ? seconds : (1 - w) * avg_[m] + w * seconds;
  if (runs_ <= 6 || avg_[0] == 0 || avg_[1] == 0) {
    choice_ = avg_[1] != 0 && avg_[0] != 0 && avg_[1] < avg_[0] ? 1 : 0;
    return;
  }
  const int better = avg_[1] < avg_[0] ? 1 : 0;
  if (m != choice_) {  // a probe: switch, or probe less often
    if (better != choice_) {
      choice_ = better;
      probe_every_ = 16;
    } else if (probe_every_ < 1024) {
      probe_every_ *= 2;
    }
  } else if (better != choice_) {  // the mode in use got slower than the other's last measure
    choice_ = better;
    probe_every_ = 16;
  }
}

}  // namespace hodu
