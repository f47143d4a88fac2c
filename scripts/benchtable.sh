#!/usr/bin/env bash
# Turns `go test -bench -benchmem` output into a table (time, memory and
# allocations per operation, plus any custom metrics).
awk '
/^pkg:/ { pkg = $2; sub(/.*miner-detector\//, "", pkg) }
/^Benchmark/ {
  extra = ""
  for (i = 3; i < NF; i += 2) {
    if ($(i+1) == "ns/op") ns = $i
    else if ($(i+1) == "B/op") b = $i
    else if ($(i+1) == "allocs/op") a = $i
    else extra = extra $i " " $(i+1) " "
  }
  printf "| %-14s | %-40s | %12.3f ms | %12.1f MiB | %10d | %s|\n", pkg, $1, ns/1e6, b/1048576, a, extra
  next
}
/^(FAIL|---|panic)/ { footer = footer $0 "\n"; failed = 1 }
END { printf "%s", footer; exit failed }
BEGIN {
  printf "| %-14s | %-40s | %15s | %16s | %10s | %s\n", "package", "benchmark", "time/op", "memory/op", "allocs/op", "other |"
  printf "|%s|%s|%s|%s|%s|%s\n", "----------------", "------------------------------------------", "-----------------", "------------------", "------------", "------|"
}'
