# Sourced by the benchmarks that need the generated store: `generated_store PAIRS` makes
# bench-data/store (PAIRS bilingual pairs of ~3.5 KB Markdown, 2010-2025) unless it is there.
generated_store() {
  local pairs=$1
  cargo build --release --quiet --bin gazette --example gen_store
  if [ ! -f "bench-data/store/.pairs-$pairs" ]; then
    rm -rf bench-data/store
    echo "generating $pairs bilingual pairs into bench-data/store ..." >&2
    ./target/release/examples/gen_store bench-data/store "$pairs"
    touch "bench-data/store/.pairs-$pairs"
  fi
}
