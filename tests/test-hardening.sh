#!/bin/bash
# The daemons carry the hardening configure enabled (configure.ac, "Hardening"):
# PIE, full RELRO (GNU_RELRO and BIND_NOW), the stack protector and
# _FORTIFY_SOURCE. Each check runs when its flag is in the build's flags
# (configure's, or the environment's, as dpkg-buildflags sets them), and is
# skipped otherwise (--disable-hardening, or a compiler without the flag).
# TAP output.
set -u
builddir="${QGA_TEST_BUILDDIR:?}"
cppflags="${QGA_HARDEN_CPPFLAGS:-} ${QGA_CPPFLAGS:-} ${QGA_CFLAGS:-}"
cflags="${QGA_HARDEN_CFLAGS:-} ${QGA_CFLAGS:-}"
ldflags="${QGA_HARDEN_LDFLAGS:-} ${QGA_LDFLAGS:-}"
daemons="service/qga-bridge service/qga-session host/qga-host"

n=0
failed=0
ok() { n=$((n + 1)); echo "ok $n $1"; }
not_ok() { n=$((n + 1)); failed=1; echo "not ok $n $1"; }
check() { local what="$1"; shift; if "$@"; then ok "$what"; else not_ok "$what"; fi; }
skip() { n=$((n + 1)); echo "ok $n $1 # SKIP $2"; }
has() { case " $1 " in *"$2"*) return 0 ;; *) return 1 ;; esac; }

if ! command -v readelf >/dev/null 2>&1 || ! command -v nm >/dev/null 2>&1; then
  echo "1..0 # SKIP readelf and nm (binutils) not found"
  exit 0
fi

is_pie() {
  LC_ALL=C readelf -hW "$1" | grep -q '^ *Type: *DYN' &&
    LC_ALL=C readelf -dW "$1" | grep -q 'FLAGS_1.*PIE'
}
has_relro() { LC_ALL=C readelf -lW "$1" | grep -q GNU_RELRO; }
has_bind_now() { LC_ALL=C readelf -dW "$1" | grep -Eq '\(BIND_NOW\)|FLAGS\).*BIND_NOW|FLAGS_1\).*NOW'; }
has_stack_protector() { nm -D --undefined-only "$1" | grep -q '__stack_chk_fail'; }
fortified() { nm -D --undefined-only "$1" | sed -n 's/.* \(__[a-z0-9_]*_chk\)@.*/\1/p' | sort -u; }

for d in $daemons; do
  bin="$builddir/$d"
  if [ ! -x "$bin" ]; then
    not_ok "$d: built"
    continue
  fi
  if has "$cflags" -fPIE && has "$ldflags" -pie; then
    check "$d: PIE (ELF type DYN, FLAGS_1 PIE)" is_pie "$bin"
  else
    skip "$d: PIE" "-fPIE/-pie not in the build's flags"
  fi
  if has "$ldflags" -z,relro; then
    check "$d: RELRO (GNU_RELRO segment)" has_relro "$bin"
  else
    skip "$d: RELRO" "-Wl,-z,relro not in the build's flags"
  fi
  if has "$ldflags" -z,now; then
    check "$d: full RELRO (BIND_NOW)" has_bind_now "$bin"
  else
    skip "$d: BIND_NOW" "-Wl,-z,now not in the build's flags"
  fi
  if has "$cflags" -fstack-protector; then
    check "$d: stack protector (__stack_chk_fail)" has_stack_protector "$bin"
  else
    skip "$d: stack protector" "-fstack-protector-strong not in the build's flags"
  fi
done

# _FORTIFY_SOURCE turns a call into its __*_chk form only where the compiler
# cannot prove it in bounds, so a daemon can be fortified and have none (as
# hardening-check's "unknown"). Ask for at least one in the three, and list them.
if has "$cppflags" _FORTIFY_SOURCE= && ! has "$cppflags" _FORTIFY_SOURCE=0; then
  all=""
  for d in $daemons; do
    [ -x "$builddir/$d" ] || continue
    f=$(fortified "$builddir/$d" | tr '\n' ' ')
    echo "# $d: ${f:-no __*_chk calls}"
    all="$all$f"
  done
  check "_FORTIFY_SOURCE: the daemons call __*_chk functions" test -n "$all"
else
  skip "_FORTIFY_SOURCE" "-D_FORTIFY_SOURCE not in the build's flags"
fi

echo "1..$n"
exit $failed
