// A small, fast, seedable pseudo-random generator (SplitMix64). Randomness
// is injected: every component that needs it is handed a seed or an Rng, so
// a simulation replays exactly from its seed.
#pragma once

#include <cstdint>

namespace etcd {

class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}

  uint64_t next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
  // Uniform in [0, n); n > 0.
  uint64_t uniform(uint64_t n) { return next() % n; }
  // True with probability num/den.
  bool chance(uint64_t num, uint64_t den) { return uniform(den) < num; }

 private:
  uint64_t state_;
};

}  // namespace etcd
