#!/usr/bin/env bash
# Benchmark of whole-process `gazette build` on a generated store of 100,000 article files
# (50,000 bilingual pairs of ~3.5 KB Markdown, 2010-2025, both sectors, a quarter untagged).
# Measures wall time and peak memory (/usr/bin/time) for:
#   cold     no index cache, no feeds (files are in the OS page cache: the store was just generated or read)
#   nochange a rebuild with nothing changed
#   addone   a rebuild after one new article is added
#   diskcold (DROP_CACHES=1, as root) cold, with the OS page cache dropped first
# Prints the median and the worst of RUNS runs of each. Usage: bench/build.sh [PAIRS]
# LANGS=3 adds Russian (a third of the files: `LANGS=3 bench/build.sh 33334` is 100,002 files).
# ARCHIVES=1 sets `feeds.archive_files = true`: every RFC 5005 archive page written as files too,
# and after each run counts the archive files the build rewrote (by modification time).
set -euo pipefail
cd "$(dirname "$0")/.."

pairs=${1:-50000}
runs=${RUNS:-5}
data=bench-data

if [ ! -x /usr/bin/time ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq time >/dev/null
fi
source bench/store.sh
langs=${LANGS:-2}
generated_store "$pairs" "$langs"
{ cat bench/site.toml
  if [ "$langs" = 3 ]; then printf '[languages.ru]\ntitle = "Новости"\nauthor = "Канцелярия"\n'; fi
  cat <<'TOML'
[store]
dir = "store"
index = "cache/store-index"
[feeds]
dir = "feeds"
TOML
  if [ "${ARCHIVES:-0}" = 1 ]; then echo 'archive_files = true'; fi
} > "$data/config.toml"
rm -rf "$data/store/added"
mkdir -p "$data/store/added"

# One run: prints "<wall ms> <peak RSS KB> <CPU ms (user + system)>"; with ARCHIVES=1 it also
# notes on stderr how many archive files the run wrote.
measure() {
  local start end stats
  touch "$data/.before"
  start=$(date +%s%N)
  stats=$(/usr/bin/time -f '%M %U %S' ./target/release/gazette --config "$data/config.toml" build 2>&1 >/dev/null | tail -n 1)
  end=$(date +%s%N)
  if [ "${ARCHIVES:-0}" = 1 ] && [ -d "$data/feeds" ]; then
    echo "  archive files written: $(find "$data/feeds" -path '*/archive/*' -newer "$data/.before" -type f | wc -l)" \
      "of $(find "$data/feeds" -path '*/archive/*' -type f | wc -l)" >&2
  fi
  echo "$(( (end - start) / 1000000 )) $stats" | awk '{ printf "%d %d %d\n", $1, $2, ($3 + $4) * 1000 }'
}

# Median and worst wall time, median CPU time and peak memory of the runs read from stdin.
summarise() {
  local runs cpu
  runs=$(cat)
  cpu=$(echo "$runs" | sort -n -k3 | awk '{ c[NR] = $3 } END { print c[int((NR + 1) / 2)] }')
  echo "$runs" | sort -n | awk -v name="$1" -v cpu="$cpu" '{ t[NR] = $1; if ($2 > m) m = $2 } END {
    printf "%-9s median %5d ms   worst %5d ms   median CPU %5d ms   peak RSS %6.1f MB   (%d runs)\n",
      name, t[int((NR + 1) / 2)], t[NR], cpu, m / 1024, NR }'
}

find "$data/store" -type f -name '*.md' -exec cat {} + > /dev/null  # warm the page cache

for i in $(seq "$runs"); do
  rm -rf "$data/cache" "$data/feeds"
  measure
done | summarise cold

measure > /dev/null
for i in $(seq "$runs"); do measure; done | summarise nochange

for i in $(seq "$runs"); do
  printf '+++\ntitle = "Newly added article %s"\ndate = 2026-01-01T09:%02d:00+08:00\nsectors = ["trade"]\n+++\nA new trade fair.\n' "$i" "$i" \
    > "$data/store/added/new-$i.en.md"
  measure
done | summarise addone

# With DROP_CACHES=1 (root): also the first build after a boot, the store read from disk.
if [ "${DROP_CACHES:-0}" = 1 ]; then
  for i in $(seq 3); do
    rm -rf "$data/cache" "$data/feeds"
    sync && echo 3 > /proc/sys/vm/drop_caches
    measure
  done | summarise diskcold
fi

echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB; $(uname -sr)"
