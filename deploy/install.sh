#!/bin/sh
# Installs chatgate as a systemd service: the binary, the unit, the env file template and the
# example config. Never overwrites an existing chatgate.env or chatgate.yaml.
#
#   deploy/install.sh [path/to/chatgate]      default: dist/chatgate (npm run build)
#
# DESTDIR (staging root, default none), PREFIX (binary under $PREFIX/bin, default /usr/local),
# SYSCONFDIR (config under $SYSCONFDIR/chatgate, default /etc) and UNITDIR (default
# /etc/systemd/system) place the files; the unit names the paths without DESTDIR.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
binary=${1:-"$root/dist/chatgate"}
DESTDIR=${DESTDIR:-}
PREFIX=${PREFIX:-/usr/local}
SYSCONFDIR=${SYSCONFDIR:-/etc}
UNITDIR=${UNITDIR:-/etc/systemd/system}

if [ ! -f "$binary" ] || [ ! -x "$binary" ]; then
  echo "install.sh: no executable at $binary (build it with: npm run build)" >&2
  exit 1
fi

bindir=$PREFIX/bin
confdir=$SYSCONFDIR/chatgate

# The directories made here are read by the service's dynamic user: not left to a restrictive
# umask (sudo keeps the caller's 077 on hardened hosts), which made the config unreadable.
umask 022

# Copied beside the target and renamed: a running chatgate keeps its old file, and no reader
# ever sees half a binary.
put() { # put <source> <destination> <mode>
  cp "$1" "$2.new.$$"
  chmod "$3" "$2.new.$$"
  mv -f "$2.new.$$" "$2"
  echo "installed $2"
}
keep_or_put() { # like put, but an existing file is the operator's and stays
  if [ -e "$2" ]; then
    echo "kept      $2 (exists)"
  else
    put "$1" "$2" "$3"
  fi
}

mkdir -p "$DESTDIR$bindir" "$DESTDIR$UNITDIR" "$DESTDIR$confdir"
put "$binary" "$DESTDIR$bindir/chatgate" 0755

unit=$(mktemp)
trap 'rm -f "$unit"' EXIT
# A path as sed's replacement text: its `\`, `#` (the delimiter) and `&` taken literally.
literal() { printf '%s' "$1" | sed -e 's/[\\#&]/\\&/g'; }
sed -e "s#^ExecStart=/usr/local/bin/chatgate #ExecStart=$(literal "$bindir")/chatgate #" \
    -e "s#/etc/chatgate/#$(literal "$confdir")/#g" "$here/chatgate.service" > "$unit"
put "$unit" "$DESTDIR$UNITDIR/chatgate.service" 0644

put "$root/chatgate.example.yaml" "$DESTDIR$confdir/chatgate.example.yaml" 0644
# Read by the service's dynamic user, so world-readable; it names keys as ${VAR}, never holds them.
keep_or_put "$root/chatgate.example.yaml" "$DESTDIR$confdir/chatgate.yaml" 0644
# Holds the keys; systemd reads it as root before dropping privileges.
keep_or_put "$here/chatgate.env" "$DESTDIR$confdir/chatgate.env" 0600

cat <<NEXT

Next:
  1. Put the keys in $confdir/chatgate.env (OPENAI_API_KEY=..., CHATGATE_API_KEYS=sha256:...);
     chatgate.yaml names them as \${VAR} and must hold none. Edit $confdir/chatgate.yaml for
     your providers and models (check it: $bindir/chatgate check-config $confdir/chatgate.yaml).
  2. systemctl daemon-reload
  3. systemctl enable --now chatgate
  4. systemctl status chatgate; journalctl -u chatgate -f
NEXT
