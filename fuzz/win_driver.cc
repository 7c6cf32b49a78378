// The Windows codec (native-win/control.cc) under the checks of control_checks.h, without
// libFuzzer (mingw has none) and without AddressSanitizer: a deterministic mutation driver, run
// under Wine by scripts/fuzz.sh.
//
//   control_win.exe [--seed N] [--seconds S] [--iterations N] [--artifacts DIR] SEED_FILE...
//       mutates the seed files (WSA control buffers) for decode_receive_control, and feeds
//       generated choice streams to the round-trip and model checks, until S seconds or N
//       iterations (whichever comes first). The same seed gives the same inputs in the same order.
//   control_win.exe --decode FILE | --model FILE
//       runs one reproducer.
//
// Every buffer the codec gets ends exactly where a PAGE_NOACCESS page begins, so a read or write
// one byte past it faults; the fault, like a failed property or an input that runs for more than
// 5 s (an endless loop), writes the input to a reproducer file in DIR and exits 1.
#include <windows.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "control_checks.h"

namespace {

// splitmix64: small, and the same sequence on every platform for a seed.
class Random {
 public:
  explicit Random(uint64_t seed) : state_(seed) {}
  uint64_t next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  size_t below(size_t n) { return n == 0 ? 0 : static_cast<size_t>(next() % n); }

 private:
  uint64_t state_;
};

using Bytes = std::vector<uint8_t>;
constexpr size_t kMaxInput = 512;

// The input under test, for the reproducer file.
const char* current_mode = "decode";
Bytes current_input;
std::string artifacts = ".";
uint64_t current_iteration = 0;
// Inputs started so far, for the watchdog.
std::atomic<uint64_t> inputs_started{0};

void save_reproducer() {
  const std::string path = artifacts + "/win32-" + current_mode + "-" +
                           std::to_string(current_iteration) + ".bin";
  if (FILE* file = std::fopen(path.c_str(), "wb")) {
    if (!current_input.empty()) std::fwrite(current_input.data(), 1, current_input.size(), file);
    std::fclose(file);
    std::fprintf(stderr, "control_win: reproducer written to %s (run it with --%s %s)\n",
                 path.c_str(), current_mode, path.c_str());
  } else {
    std::fprintf(stderr, "control_win: cannot write %s\n", path.c_str());
  }
  std::fflush(stderr);
}

// Two pages: the buffer at the end of the first, the second inaccessible.
uint8_t* guarded_region = nullptr;
size_t page_size = 0;

void make_guarded_region() {
  SYSTEM_INFO system;
  GetSystemInfo(&system);
  page_size = system.dwPageSize;
  guarded_region = static_cast<uint8_t*>(
      VirtualAlloc(nullptr, 2 * page_size, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE));
  DWORD old_protection;
  if (guarded_region == nullptr ||
      !VirtualProtect(guarded_region + page_size, page_size, PAGE_NOACCESS, &old_protection)) {
    std::fprintf(stderr, "control_win: cannot make a guard page (%lu)\n", GetLastError());
    std::exit(2);
  }
}

LONG WINAPI on_exception(EXCEPTION_POINTERS* exception) {
  const EXCEPTION_RECORD* record = exception->ExceptionRecord;
  if (record->ExceptionCode == EXCEPTION_ACCESS_VIOLATION) {
    const uintptr_t address = record->ExceptionInformation[1];
    const uintptr_t guard = reinterpret_cast<uintptr_t>(guarded_region) + page_size;
    std::fprintf(stderr, "control_win: %s at %p (%s), iteration %llu, %s input of %zu bytes\n",
                 record->ExceptionInformation[0] == 1 ? "write" : "read",
                 reinterpret_cast<void*>(address),
                 address >= guard && address < guard + page_size ? "past the end of the buffer"
                                                                 : "not the guard page",
                 static_cast<unsigned long long>(current_iteration), current_mode,
                 current_input.size());
  } else {
    std::fprintf(stderr, "control_win: exception 0x%08lx, iteration %llu, %s input\n",
                 record->ExceptionCode, static_cast<unsigned long long>(current_iteration),
                 current_mode);
  }
  save_reproducer();
  ExitProcess(1);
}

// libFuzzer's -timeout for this driver: an input still running after 5 s is an endless loop.
// The main thread is then stuck in the codec, so current_input holds still while it is saved.
void start_watchdog() {
  std::thread([] {
    uint64_t last = inputs_started.load();
    int still = 0;
    for (;;) {
      std::this_thread::sleep_for(std::chrono::seconds(1));
      const uint64_t now = inputs_started.load();
      still = now == last ? still + 1 : 0;
      last = now;
      if (still >= 5) {
        std::fprintf(stderr, "control_win: one %s input has run for 5 s (iteration %llu)\n",
                     current_mode, static_cast<unsigned long long>(current_iteration));
        save_reproducer();
        ExitProcess(1);
      }
    }
  }).detach();
}

// Pure mutations of a WSA control buffer: the kinds of damage that matter to a decoder
// (lengths, levels, types, truncation, repeated or spliced messages), chosen from the seed.
void mutate(Bytes& input, const std::vector<Bytes>& seeds, Random& random) {
  static const uint8_t kBytes[] = {0, 1, 0x7f, 0x80, 0xff, 0x10, 0x13, 0x18, 0x29, 0xe0};
  const int rounds = 1 + static_cast<int>(random.below(4));
  for (int round = 0; round < rounds; round++) {
    const size_t size = input.size();
    switch (random.below(10)) {
      case 0:
        if (size) input[random.below(size)] ^= static_cast<uint8_t>(1u << random.below(8));
        break;
      case 1:
        if (size) input[random.below(size)] = kBytes[random.below(sizeof kBytes)];
        break;
      case 2: {  // a cmsg_len (SIZE_T, at an 8-aligned offset) that is interesting
        if (size < 8) break;
        const size_t at = random.below(size / 8) * 8;
        const uint64_t lengths[] = {0, 1, 15, 16, 17, 23, 24, 28, 36, 40, size, size - at,
                                    size - at + 1, 0xffffffffULL, 0x100000000ULL, ~0ULL,
                                    ~0ULL - 7, random.next()};
        const uint64_t value = lengths[random.below(sizeof lengths / sizeof lengths[0])];
        std::memcpy(input.data() + at, &value, size - at < 8 ? size - at : 8);
        break;
      }
      case 3: {  // a level or type (INT, 4-aligned)
        if (size < 4) break;
        const int32_t values[] = {0, 41, 19, -1, static_cast<int32_t>(random.next())};
        const int32_t value = values[random.below(5)];
        std::memcpy(input.data() + random.below(size / 4) * 4, &value, 4);
        break;
      }
      case 4:
        input.resize(random.below(size + 1));
        break;
      case 5: {
        const size_t extra = 1 + random.below(32);
        for (size_t i = 0; i < extra; i++) input.push_back(static_cast<uint8_t>(random.next()));
        break;
      }
      case 6: {
        const size_t at = random.below(size + 1), count = 1 + random.below(16);
        Bytes bytes(count);
        for (auto& b : bytes) b = static_cast<uint8_t>(random.next());
        input.insert(input.begin() + static_cast<ptrdiff_t>(at), bytes.begin(), bytes.end());
        break;
      }
      case 7:
        if (size) {
          const size_t at = random.below(size), count = 1 + random.below(size - at);
          input.erase(input.begin() + static_cast<ptrdiff_t>(at),
                      input.begin() + static_cast<ptrdiff_t>(at + count));
        }
        break;
      case 8: {  // splice: another seed's messages before or after this one's
        const Bytes& other = seeds[random.below(seeds.size())];
        if (random.below(2)) input.insert(input.end(), other.begin(), other.end());
        else input.insert(input.begin(), other.begin(), other.end());
        break;
      }
      default: {  // repeat an aligned range (a message seen twice)
        if (size < 8) break;
        const size_t at = random.below(size / 8) * 8, count = 8 * (1 + random.below(6));
        const Bytes range(input.begin() + static_cast<ptrdiff_t>(at),
                          input.begin() + static_cast<ptrdiff_t>(at + count < size ? at + count
                                                                                   : size));
        input.insert(input.begin() + static_cast<ptrdiff_t>(at), range.begin(), range.end());
        break;
      }
    }
  }
  if (input.size() > kMaxInput) input.resize(kMaxInput);
}

void run_decode(const Bytes& input) {
  current_mode = "decode";
  current_input = input;
  inputs_started++;
  uint8_t* control = fuzz::exact_buffer(input.size());
  if (!input.empty()) std::memcpy(control, input.data(), input.size());
  fuzz::check_decode(control, input.size());
}

void run_model(const Bytes& input) {
  current_mode = "model";
  current_input = input;
  inputs_started++;
  fuzz::Reader in(input.data(), input.size());
  fuzz::check_round_trip(in);
  fuzz::check_model(in);
}

bool read_file(const char* path, Bytes* out) {
  FILE* file = std::fopen(path, "rb");
  if (file == nullptr) return false;
  uint8_t chunk[4096];
  size_t n;
  out->clear();
  while ((n = std::fread(chunk, 1, sizeof chunk, file)) > 0) out->insert(out->end(), chunk, chunk + n);
  std::fclose(file);
  return true;
}

}  // namespace

namespace fuzz {

[[noreturn]] void report_failure(const char* message) {
  std::fprintf(stderr, "control_win: property failed (iteration %llu, %s input of %zu bytes): %s\n",
               static_cast<unsigned long long>(current_iteration), current_mode,
               current_input.size(), message);
  save_reproducer();
  std::exit(1);
}

uint8_t* exact_buffer(size_t n) {
  if (n > page_size) {
    std::fprintf(stderr, "control_win: a %zu-byte buffer does not fit a page\n", n);
    std::exit(2);
  }
  return guarded_region + page_size - n;
}

}  // namespace fuzz

int main(int argc, char** argv) {
  make_guarded_region();
  AddVectoredExceptionHandler(1, on_exception);
  start_watchdog();
  uint64_t seed = 1;
  double seconds = 20;
  uint64_t iterations = ~0ULL;
  std::vector<Bytes> seeds;
  for (int i = 1; i < argc; i++) {
    const std::string arg = argv[i];
    const bool has_value = i + 1 < argc;
    if (arg == "--seed" && has_value) {
      seed = std::strtoull(argv[++i], nullptr, 10);
    } else if (arg == "--seconds" && has_value) {
      seconds = std::atof(argv[++i]);
    } else if (arg == "--iterations" && has_value) {
      iterations = std::strtoull(argv[++i], nullptr, 10);
    } else if (arg == "--artifacts" && has_value) {
      artifacts = argv[++i];
    } else if ((arg == "--decode" || arg == "--model") && has_value) {
      Bytes input;
      if (!read_file(argv[++i], &input)) {
        std::fprintf(stderr, "control_win: cannot read %s\n", argv[i]);
        return 2;
      }
      if (arg == "--decode") run_decode(input);
      else run_model(input);
      std::printf("control_win: %s passes\n", argv[i]);
      return 0;
    } else {
      Bytes input;
      if (!read_file(argv[i], &input)) {
        std::fprintf(stderr, "control_win: cannot read %s\n", argv[i]);
        return 2;
      }
      seeds.push_back(input);
    }
  }
  if (seeds.empty()) {
    std::fprintf(stderr, "control_win: no seed files given\n");
    return 2;
  }

  // The seeds themselves first, as they are.
  for (const Bytes& input : seeds) run_decode(input);

  Random random(seed);
  const ULONGLONG start = GetTickCount64();
  const ULONGLONG budget = static_cast<ULONGLONG>(seconds * 1000);
  uint64_t decoded = 0, modelled = 0;
  Bytes input;
  for (current_iteration = 1; current_iteration <= iterations; current_iteration++) {
    if ((current_iteration & 0xff) == 0 && GetTickCount64() - start >= budget) break;
    if (random.below(3) != 0) {
      input = seeds[random.below(seeds.size())];
      mutate(input, seeds, random);
      run_decode(input);
      decoded++;
    } else {
      input.resize(random.below(160));
      for (auto& b : input) b = static_cast<uint8_t>(random.next());
      run_model(input);
      modelled++;
    }
  }
  std::printf("control_win: seed %llu, %llu decode and %llu round-trip/model inputs in %.1f s, "
              "no finding\n",
              static_cast<unsigned long long>(seed), static_cast<unsigned long long>(decoded),
              static_cast<unsigned long long>(modelled), (GetTickCount64() - start) / 1000.0);
  return 0;
}
