// The libFuzzer side of control_checks.h: a failed property aborts (libFuzzer then saves the
// input as a crash-* reproducer), and exact_buffer hands out heap blocks of exactly n bytes, so
// AddressSanitizer reports any access past them.
#pragma once

#include <cstdlib>
#include <memory>

#include "control_checks.h"

namespace fuzz {

[[noreturn]] void report_failure(const char* message) {
  std::fprintf(stderr, "control fuzz: property failed: %s\n", message);
  std::abort();
}

uint8_t* exact_buffer(size_t n) {
  // One live buffer at a time: each check asks for one, uses it, then asks again.
  static std::unique_ptr<uint8_t[]> buffer;
  buffer.reset(new uint8_t[n]);
  return buffer.get();
}

}  // namespace fuzz
