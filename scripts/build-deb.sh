#!/usr/bin/env bash
# Builds jobdrop_<version>_amd64.deb with dpkg-deb: the binary, the systemd unit (paths under
# /var/lib/jobdrop), sysusers and tmpfiles snippets (user jobdrop, its folders), the nginx snippet, a man
# page made from the commands' own help, and bash, zsh and fish completions.
#   scripts/build-deb.sh BINARY OUTDIR
# `make deb` passes a release binary built with --static-swift-stdlib (no Swift runtime to install);
# the test suite packages its debug binary.
set -euo pipefail
binary=$(realpath "$1")
out=$(realpath "$2")
here=$(cd "$(dirname "$0")/.." && pwd)
version=$("$binary" --version)
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
chmod 0755 "$root"

install -D -m 0755 "$binary" "$root/usr/bin/jobdrop"
strip --strip-unneeded "$root/usr/bin/jobdrop" 2>/dev/null || true
# No library search path of the build machine in an installed binary (a release binary has the Swift
# runtime linked in; a debug one is run with LD_LIBRARY_PATH by the tests).
patchelf --remove-rpath "$root/usr/bin/jobdrop"

# The unit: the packaged paths.
install -d "$root/lib/systemd/system"
sed -e 's|/usr/local/bin/jobdrop|/usr/bin/jobdrop|g' -e 's|/srv/jobdrop|/var/lib/jobdrop|g' \
  -e 's|^# systemd unit for jobdrop run.*|# systemd unit for jobdrop run (installed by the jobdrop package).|' \
  "$here/deploy/jobdrop.service" > "$root/lib/systemd/system/jobdrop.service"
chmod 0644 "$root/lib/systemd/system/jobdrop.service"

install -d "$root/usr/lib/sysusers.d" "$root/usr/lib/tmpfiles.d"
cat > "$root/usr/lib/sysusers.d/jobdrop.conf" <<'CONF'
u jobdrop - "jobdrop export service" /var/lib/jobdrop
CONF
cat > "$root/usr/lib/tmpfiles.d/jobdrop.conf" <<'CONF'
d /var/lib/jobdrop 0755 jobdrop jobdrop -
d /var/lib/jobdrop/inbox 2770 jobdrop jobdrop -
d /var/lib/jobdrop/spool 0700 jobdrop jobdrop -
d /var/lib/jobdrop/outbox 0755 jobdrop jobdrop -
d /var/lib/jobdrop/data 0750 jobdrop jobdrop -
CONF
chmod 0644 "$root/usr/lib/sysusers.d/jobdrop.conf" "$root/usr/lib/tmpfiles.d/jobdrop.conf"

install -D -m 0644 "$here/deploy/nginx.conf" "$root/usr/share/jobdrop/nginx.conf"
install -D -m 0644 "$here/deploy/grafana-dashboard.json" "$root/usr/share/jobdrop/grafana-dashboard.json"

# The man page, from the commands' own help.
install -d "$root/usr/share/man/man1"
python3 "$here/scripts/make-manpage.py" "$binary" "$version" | gzip -9n > "$root/usr/share/man/man1/jobdrop.1.gz"
chmod 0644 "$root/usr/share/man/man1/jobdrop.1.gz"

# Completions, as swift-argument-parser writes them.
install -d "$root/usr/share/bash-completion/completions" "$root/usr/share/zsh/vendor-completions" \
  "$root/usr/share/fish/vendor_completions.d"
"$binary" --generate-completion-script bash | sed '1{/^#!/d}' > "$root/usr/share/bash-completion/completions/jobdrop"
"$binary" --generate-completion-script zsh > "$root/usr/share/zsh/vendor-completions/_jobdrop"
"$binary" --generate-completion-script fish > "$root/usr/share/fish/vendor_completions.d/jobdrop.fish"
chmod 0644 "$root/usr/share/bash-completion/completions/jobdrop" "$root/usr/share/zsh/vendor-completions/_jobdrop" \
  "$root/usr/share/fish/vendor_completions.d/jobdrop.fish"

install -d "$root/usr/share/doc/jobdrop"
cat > "$root/usr/share/doc/jobdrop/copyright" <<'CONF'
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: jobdrop

Files: *
Copyright: 2024-2026 The jobdrop authors
License: proprietary
 Copyright 2024-2026 The jobdrop authors. All rights reserved.
CONF
printf 'jobdrop (%s) stable; urgency=medium\n\n  * Release %s.\n\n -- jobdrop maintainers <jobdrop@example.com>  %s\n' \
  "$version" "$version" "$(date -R -d @"${SOURCE_DATE_EPOCH:-$(date +%s)}")" | gzip -9n > "$root/usr/share/doc/jobdrop/changelog.gz"
chmod 0644 "$root/usr/share/doc/jobdrop/copyright" "$root/usr/share/doc/jobdrop/changelog.gz"

# Depends: the Debian packages of the shared libraries the binary needs itself (its NEEDED entries;
# a Swift runtime outside the system's folders, in a debug binary, is not a package's).
needed=$(readelf -d "$binary" | sed -n 's/.*Shared library: \[\(.*\)\]/\1/p')
depends=$(for name in $needed; do
  library=$(ldd "$binary" | awk -v name="$name" '$1 == name && $3 ~ /^\// {print $3}')
  [ -n "$library" ] || continue
  dpkg -S "$(realpath "$library")" 2>/dev/null || dpkg -S "$library" 2>/dev/null || true
done | cut -d: -f1 | sort -u | while read -r package; do
  printf '%s (>= %s)\n' "$package" "$(dpkg-query -W -f='${Version}' "$package" | sed 's/-[^-]*$//')"
done | paste -sd, - | sed 's/,/, /g')

install -d "$root/DEBIAN"
cat > "$root/DEBIAN/control" <<CONF
Package: jobdrop
Version: $version
Architecture: amd64
Maintainer: jobdrop maintainers <jobdrop@example.com>
Depends: $depends, systemd
Recommends: nginx
Section: net
Priority: optional
Homepage: https://github.com/jobdrop/jobdrop
Description: export requests dropped into an inbox, published as a static site
 jobdrop watches a drop folder (SFTP) for export requests in the Elastic Path
 and Eshopbox formats, runs each against the commerce database (SQLite or
 PostgreSQL) and publishes the file, one JSON document per job and index.json
 as a static site any web server serves.
CONF
cat > "$root/DEBIAN/postinst" <<'CONF'
#!/bin/sh
set -e
if [ "$1" = configure ]; then
  systemd-sysusers jobdrop.conf >/dev/null 2>&1 || systemd-sysusers
  systemd-tmpfiles --create jobdrop.conf >/dev/null 2>&1 || true
  if [ -d /run/systemd/system ]; then systemctl daemon-reload || true; fi
fi
exit 0
CONF
cat > "$root/DEBIAN/prerm" <<'CONF'
#!/bin/sh
set -e
if [ -d /run/systemd/system ] && [ "$1" = remove ]; then systemctl stop jobdrop.service || true; fi
exit 0
CONF
cat > "$root/DEBIAN/postrm" <<'CONF'
#!/bin/sh
set -e
if [ -d /run/systemd/system ]; then systemctl daemon-reload || true; fi
exit 0
CONF
chmod 0755 "$root/DEBIAN/postinst" "$root/DEBIAN/prerm" "$root/DEBIAN/postrm"
mkdir -p "$out"
dpkg-deb --root-owner-group -Zxz --build "$root" "$out/jobdrop_${version}_amd64.deb" >/dev/null
echo "$out/jobdrop_${version}_amd64.deb"
