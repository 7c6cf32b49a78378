#!/usr/bin/env bash
# Refreshes the real Linux seeds of fuzz/corpus/decode_linux/ (linux-*): builds
# fuzz/capture_linux_corpus.cc and runs it in a private network namespace holding loopback
# and a veth pair of its own (as root, for unshare -n), with the extra address, the multicast
# flag and the routes its cases need. Nothing outside that namespace is touched.
#   fuzz/capture-linux-corpus.sh [DIR]    (default fuzz/corpus/decode_linux)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
destination="${1:-fuzz/corpus/decode_linux}"
mkdir -p build-fuzz
g++ -std=c++17 -O1 -Wall -Wextra -Werror fuzz/capture_linux_corpus.cc -o build-fuzz/capture_linux_corpus
unshare -n sh -ec '
  destination="$1"
  ip link set lo up
  ip link set lo multicast on
  ip -6 addr add fd00::2/128 dev lo nodad
  # The limited broadcast and multicast need a route out of lo in a namespace with no other link.
  ip route add broadcast 255.255.255.255 dev lo src 127.0.0.1 table local
  ip route add 239.0.0.0/8 dev lo
  # IPv6 multicast does not come back through lo: a veth pair carries it (fuzz0 -> fuzz1).
  sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
  ip link add fuzz0 type veth peer name fuzz1
  ip link set fuzz0 up
  ip link set fuzz1 up
  build-fuzz/capture_linux_corpus "$destination"
' capture "$destination"
