  echo "keywarden: cannot run the @HOOK@ hook: keywarden is neither on PATH nor at $keywarden_bin" >&2
  echo "keywarden: install it again (in a checkout of keywarden: cargo install --locked --path .) or put the binary back" >&2
  echo "keywarden: in an emergency, 'git commit --no-verify' (or 'git push --no-verify') skips this check" >&2
  exit 1
