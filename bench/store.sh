# Sourced by the benchmarks that need the generated store: `generated_store GROUPS [LANGS]`
# makes bench-data/store (GROUPS translated groups of ~3.5 KB Markdown, 2010-2025, in LANGS
# languages: 2 = zh and en, the default; 3 adds ru) unless it is there.
generated_store() {
  local pairs=$1 langs=${2:-2} target=${CARGO_TARGET_DIR:-target}
  cargo build --release --quiet --bin gazette --example gen_store
  if [ ! -f "bench-data/store/.pairs-$pairs-langs-$langs" ]; then
    rm -rf bench-data/store
    echo "generating $pairs groups in $langs languages into bench-data/store ..." >&2
    "$target/release/examples/gen_store" bench-data/store "$pairs" "$langs"
    touch "bench-data/store/.pairs-$pairs-langs-$langs"
  fi
}
