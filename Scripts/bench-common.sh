# Sourced by the benchmark scripts (not run on its own).

# The MG_MAX_ISA kernel tiers this CPU supports, highest first, from /proc/cpuinfo's flags.
supported_tiers() {
  local flags supported="baseline"
  flags=$(grep -m1 '^flags' /proc/cpuinfo || true)
  [[ $flags == *" avx2 "* && $flags == *" fma "* ]] && supported="avx2 $supported"
  [[ $flags == *" avx512f "* && $flags == *" avx512bw "* && $flags == *" avx512vl "* ]] && supported="avx512 $supported"
  [[ $flags == *" avx512_bf16 "* ]] && supported="avx512bf16 $supported"
  [[ $flags == *" amx_bf16 "* ]] && supported="amx $supported"
  echo "$supported"
}

# Writes the random MGM-2B-shaped checkpoint (Tools/bench/mgm2b_random_checkpoint.py) under $1
# unless it is there already.
ensure_mgm2b_checkpoint() {
  if [ ! -f "$1/MGM-2B/config.json" ]; then
    echo "writing random MGM-2B-shaped checkpoint to $1 (about 6 GB)…" >&2
    HF_HUB_OFFLINE=1 python3 Tools/bench/mgm2b_random_checkpoint.py "$1" >&2
  fi
}
