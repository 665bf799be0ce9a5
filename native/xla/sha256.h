// SHA-256 (FIPS 180-4), used for the persistent XLA compile cache: the cache key of a compiled
// executable and the checksum of a cache entry's payload. Plain C++, no PJRT dependency.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

namespace hodu {
namespace xla {

class Sha256 {
 public:
  Sha256();
  void update(const void* data, size_t n);
  void update(const std::string& s) { update(s.data(), s.size()); }
  // The digest; the object must not be updated afterwards.
  std::array<uint8_t, 32> digest();

 private:
  void block(const uint8_t* p);
  uint32_t h_[8];
  uint8_t buf_[64];
  size_t buf_len_ = 0;
  uint64_t total_ = 0;
};

std::array<uint8_t, 32> sha256(const void* data, size_t n);
std::string to_hex(const uint8_t* p, size_t n);

}  // namespace xla
}  // namespace hodu
