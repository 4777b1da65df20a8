#!/bin/sh
# keywarden-shim: @HOOK@ (written by `keywarden install`; `keywarden uninstall` removes it
# and puts back any hook it chained). It only finds keywarden and hands over to it.
@FIND_KEYWARDEN@
KEYWARDEN_SHIM=$0 exec "$keywarden_bin" hook @HOOK@ "$@"
