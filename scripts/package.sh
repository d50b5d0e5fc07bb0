#!/usr/bin/env bash
# Builds BUILD/annals_<version>_<arch>.deb: /usr/bin/annals, the systemd
# unit, a commented /etc/annals/annals.toml that starts a node as shipped,
# the Grafana dashboard; postinst makes the annals system user,
# /var/lib/annals and a community key. Prints the .deb's path.
# Usage: scripts/package.sh   (builds the binary first when missing)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
build="${ANNALS_BUILD_DIR:-$root/build}"
[ -x "$build/annals" ] || ./scripts/build.sh annals >&2

version=$(sed -n 's/^project(annals VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)
arch=$(dpkg --print-architecture)
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
pkg="$stage/annals"

install -D -m 0755 "$build/annals" "$pkg/usr/bin/annals"
strip --strip-unneeded "$pkg/usr/bin/annals"
# The repository's unit and config name /usr/local and node.toml (a manual
# install); the package's name its own paths.
install -d "$pkg/lib/systemd/system" "$pkg/etc/annals"
sed -e 's#/usr/local/bin/annals#/usr/bin/annals#' -e 's#/etc/annals/node.toml#/etc/annals/annals.toml#' \
    -e '/^#   /d' -e 's#^\# systemd unit for an annals node.*#\# systemd unit of the annals package (docs/operating.md, "Installing the .deb").#' \
    packaging/annals.service >"$pkg/lib/systemd/system/annals.service"
sed -e 's#/etc/annals/node.toml#/etc/annals/annals.toml#' \
    -e 's#^\# Make its key with#\# The package made its key (postinst: annals keygen); to use another,#' \
    -e 's#^\#   annals keygen --out /etc/annals/community.key#\#   annals keygen --out /etc/annals/community.key   (or copy yours there)#' \
    packaging/node.toml >"$pkg/etc/annals/annals.toml"
chmod 0644 "$pkg/lib/systemd/system/annals.service" "$pkg/etc/annals/annals.toml"
install -D -m 0644 packaging/grafana-dashboard.json "$pkg/usr/share/annals/grafana-dashboard.json"
install -D -m 0644 packaging/node.toml "$pkg/usr/share/doc/annals/examples/node.toml"
install -D -m 0644 docs/operating.md "$pkg/usr/share/doc/annals/operating.md"
install -D -m 0644 docs/configuration.md "$pkg/usr/share/doc/annals/configuration.md"

# Shared-library dependencies as Debian names them.
mkdir -p "$stage/src/debian"
printf 'Source: annals\n\nPackage: annals\nArchitecture: any\n' >"$stage/src/debian/control"
shlibs=$(cd "$stage/src" && dpkg-shlibdeps -O "$pkg/usr/bin/annals" 2>/dev/null |
         sed -n 's/^shlibs:Depends=//p')
[ -n "$shlibs" ] || { echo "package: dpkg-shlibdeps named no dependencies" >&2; exit 1; }

install -d "$pkg/DEBIAN"
install -m 0755 packaging/deb/postinst packaging/deb/prerm packaging/deb/postrm "$pkg/DEBIAN/"
echo /etc/annals/annals.toml >"$pkg/DEBIAN/conffiles"
size=$(du -sk --exclude=DEBIAN "$pkg" | cut -f1)
cat >"$pkg/DEBIAN/control" <<CONTROL
Package: annals
Version: $version
Architecture: $arch
Maintainer: annals developers <annals@localhost>
Section: net
Priority: optional
Installed-Size: $size
Depends: $shlibs, adduser
Description: keeps a Waku community's message history alive
 annals packs a Status community's Waku messages into status-go compatible
 history archives, seeds them over BitTorrent and announces signed magnet
 links on Waku; members fetch, verify and import them, and seed in turn.
 The service runs as the annals user from /etc/annals/annals.toml, with its
 state in /var/lib/annals; /health and /metrics answer on 127.0.0.1:8645.
CONTROL

out="$build/annals_${version}_${arch}.deb"
dpkg-deb --root-owner-group -Zxz --build "$pkg" "$out" >&2
echo "$out"
