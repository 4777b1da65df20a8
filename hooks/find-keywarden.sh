keywarden_recorded='@KEYWARDEN@'
if command -v keywarden >/dev/null 2>&1; then
  keywarden_bin=keywarden
elif [ -x "$keywarden_recorded" ]; then
  keywarden_bin=$keywarden_recorded
else
  echo "keywarden: cannot run the @HOOK@ hook: keywarden is neither on PATH nor at $keywarden_recorded" >&2
  echo "keywarden: install it (cargo install keywarden, or put the binary on PATH), or remove the hooks with 'keywarden uninstall'" >&2
  echo "keywarden: in an emergency, 'git commit --no-verify' (or 'git push --no-verify') skips this check" >&2
  exit 1
fi
