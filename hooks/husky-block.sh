# >>> keywarden @HOOK@ >>> (added by `keywarden install`; `keywarden uninstall` removes it)
@FIND_KEYWARDEN@
"$keywarden_bin" hook @HOOK@ "$@" || exit $?
# <<< keywarden @HOOK@ <<<
