# >>> keywarden @HOOK@ >>> (added by `keywarden install`; `keywarden uninstall` removes it)
@FIND_KEYWARDEN@
if [ -n "$keywarden_bin" ]; then "$keywarden_bin" hook @HOOK@ "$@" || exit $?; fi
# <<< keywarden @HOOK@ <<<
