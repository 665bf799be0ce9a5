// Minimal test driver for the C++ core (no Node needed). Each test file registers cases with
// HODU_TEST(name) { ... CHECK(cond); CHECK_NEAR(a, b, tol); }. Ends with "N passed, N failed".
#include "test_util.h"

#include <cstdio>
#include <cstring>

namespace hodu_test {
std::vector<Case>& cases() {
  static std::vector<Case> c;
  return c;
}
thread_local int g_failures = 0;
}  // namespace hodu_test

int main(int argc, char** argv) {
  using namespace hodu_test;
  int passed = 0, failed = 0;
  for (auto& c : cases()) {
    if (argc > 1 && !std::strstr(c.name, argv[1])) continue;
    g_failures = 0;
    try {
      c.fn();
    } catch (const std::exception& e) {
      std::printf("  exception: %s\n", e.what());
      g_failures++;
    }
    if (g_failures) {
      std::printf("FAIL %s\n", c.name);
      failed++;
    } else {
      passed++;
    }
  }
  std::printf("%d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}
