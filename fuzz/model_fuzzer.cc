// libFuzzer target: the input is a stream of choices (control_checks.h Reader) for an
// encode -> decode round trip of a SourceInfo (property 2) and for a control buffer shaped as
// the kernel delivers it, whose decoding must be exact (property 3).
#include "libfuzzer_driver.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::Reader in(data, size);
  fuzz::check_round_trip(in);
  fuzz::check_model(in);
  return 0;
}
