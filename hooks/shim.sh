#!/bin/sh
# keywarden-shim: @HOOK@ (written by `keywarden install`; `keywarden uninstall` removes it
# and puts back any hook it chained). It only finds keywarden and hands over to it.
@FIND_KEYWARDEN@
if [ -z "$keywarden_bin" ]; then
  # Without keywarden, the hook it chained still runs.
  if [ -x "$0.keywarden-chained" ]; then exec "$0.keywarden-chained" "$@"; fi
  exit 0
fi
KEYWARDEN_SHIM=$0 exec "$keywarden_bin" hook @HOOK@ "$@"
