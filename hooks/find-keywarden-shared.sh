# This file may be committed, so it names no path on this machine: keywarden runs from
# PATH, else from the binary this clone's `keywarden install` recorded under the git dir.
# A clone with neither (a teammate without keywarden) is told so once and let through.
keywarden_bin=
if command -v keywarden >/dev/null 2>&1; then
  keywarden_bin=keywarden
else
  keywarden_record="$(git rev-parse --git-common-dir 2>/dev/null || true)/keywarden/hook-binary"
  if [ -f "$keywarden_record" ]; then
    keywarden_bin=$(cat "$keywarden_record")
    if [ ! -x "$keywarden_bin" ]; then
@KEYWARDEN_MISSING@
    fi
  else
    echo "keywarden: not installed, so this @HOOK@ hook did not check for keys (to install it: cargo install --locked --path . in a checkout of keywarden)" >&2
  fi
fi
