#!/bin/sh
# Regenerate the build system, then configure with any arguments given.
set -e
srcdir=$(dirname "$0")
test -n "$srcdir" || srcdir=.
(cd "$srcdir" && mkdir -p m4 && autoreconf --force --install)
if [ -z "$NOCONFIGURE" ]; then
  exec "$srcdir/configure" "$@"
fi
