'use strict';
// A seeded generator (mulberry32): the same seed makes the same program on every machine and
// Node version, which Math.random cannot promise.
class Random {
  constructor(seed) {
    this.state = (seed >>> 0) || 0x9e3779b9;
  }

  next() {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [min, max]. */
  int(min, max) {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  chance(probability) {
    return this.next() < probability;
  }

  pick(list) {
    return list[Math.floor(this.next() * list.length)];
  }

  /** One entry of [[weight, value], ...], chosen in proportion to its weight. */
  weighted(table) {
    const total = table.reduce((sum, [weight]) => sum + weight, 0);
    let left = this.next() * total;
    for (const [weight, value] of table) {
      left -= weight;
      if (left < 0) return value;
    }
    return table[table.length - 1][1];
  }
}

module.exports = { Random };
