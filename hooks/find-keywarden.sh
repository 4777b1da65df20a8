if command -v keywarden >/dev/null 2>&1; then
  keywarden_bin=keywarden
else
  keywarden_bin='@KEYWARDEN@'
  if [ ! -x "$keywarden_bin" ]; then
@KEYWARDEN_MISSING@
  fi
fi
