#pragma once
#include <cmath>
#include <cstdio>
#include <functional>
#include <vector>

#include "core/error.h"

namespace hodu_test {
struct Case {
  const char* name;
  std::function<void()> fn;
};
std::vector<Case>& cases();
extern thread_local int g_failures;
struct Reg {
  Reg(const char* n, std::function<void()> f) { cases().push_back({n, std::move(f)}); }
};
}  // namespace hodu_test

#define HODU_TEST(name)                                              \
  static void name();                                                \
  static hodu_test::Reg reg_##name(#name, name);                     \
  static void name()

#define CHECK(cond)                                                                \
  do {                                                                             \
    if (!(cond)) {                                                                 \
      std::printf("  %s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond);       \
      hodu_test::g_failures++;                                                     \
    }                                                                              \
  } while (0)

#define CHECK_NEAR(a, b, tol)                                                                      \
  do {                                                                                             \
    double a_ = (a), b_ = (b);                                                                     \
    if (!(std::fabs(a_ - b_) <= (tol))) {                                                          \
      std::printf("  %s:%d: %s = %.9g, %s = %.9g (tol %g)\n", __FILE__, __LINE__, #a, a_, #b, b_,  \
                  (double)(tol));                                                                  \
      hodu_test::g_failures++;                                                                     \
    }                                                                                              \
  } while (0)

// CHECK_THROWS_CODE(expr, hodu::ErrorCode::SHAPE_MISMATCH)
#define CHECK_THROWS_CODE(expr, code_)                                                   \
  do {                                                                                   \
    bool ok_ = false;                                                                    \
    try {                                                                                \
      (void)(expr);                                                                      \
    } catch (const hodu::HoduError& e_) {                                                \
      ok_ = e_.code() == (code_);                                                        \
      if (!ok_) std::printf("  %s:%d: wrong code: %s\n", __FILE__, __LINE__, e_.what());  \
    }                                                                                    \
    if (!ok_) {                                                                          \
      std::printf("  %s:%d: %s did not throw the expected code\n", __FILE__, __LINE__, #expr); \
      hodu_test::g_failures++;                                                           \
    }                                                                                    \
  } while (0)
