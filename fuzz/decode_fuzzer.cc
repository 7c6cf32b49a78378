// libFuzzer target: decode_receive_control on arbitrary bytes (property 1 of control_checks.h).
// libFuzzer passes each input in a heap copy of exactly its size, so with AddressSanitizer any
// read past length is a finding. Built once per dialect by scripts/fuzz.sh.
#include "libfuzzer_driver.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::check_decode(data, size);
  return 0;
}
