#!/usr/bin/env bash
# Installs the Debian packages jobdrop needs, only those missing. Usage: install-deps.sh [build|test|bench]
set -euo pipefail
packages=(libinotifytools0-dev libsqlite3-dev libssl-dev zlib1g-dev libzstd-dev libdeflate-dev libpq-dev libxlsxwriter-dev libcurl4-openssl-dev)
case "${1:-build}" in
  test) packages+=(sqlite3 zstd inotify-tools openssh-server openssh-client nginx libnginx-mod-http-js curl postgresql rclone lftp util-linux chromium chromium-driver systemd lintian patchelf) ;;
  deb) packages+=(lintian patchelf) ;;
  bench) packages+=(sqlite3 zstd inotify-tools hyperfine gnuplot-nox time postgresql valgrind gcc linux-perf) ;;
esac
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
# The SFTP client tests also drive paramiko (PyPI), as partners' Python scripts do.
if [ "${1:-build}" = test ] && ! python3 -c "import paramiko" 2>/dev/null; then
  echo "installing: paramiko (PyPI)"
  python3 -m pip install -q paramiko
fi
# schemathesis (PyPI) checks the served outbox against the Exporter Service OpenAPI document.
if [ "${1:-build}" = test ] && ! python3 -c "import schemathesis" 2>/dev/null; then
  echo "installing: schemathesis (PyPI)"
  python3 -m pip install -q schemathesis
fi
# From PyPI: Selenium drives chromium through chromedriver (the job page's browser test), openpyxl reads
# the workbooks back, standardwebhooks (the specification's reference library) verifies webhook events.
# croniter checks the cron schedules' next times; prometheus_client's parser reads the metrics back.
# zstandard, pyarrow and DuckDB read the .zst and Parquet exports back.
for module in selenium openpyxl standardwebhooks croniter prometheus_client zstandard pyarrow duckdb; do
  if [ "${1:-build}" = test ] && ! python3 -c "import $module" 2>/dev/null; then
    echo "installing: $module (PyPI)"
    python3 -m pip install -q "$module"
  fi
done
# moto's S3 server (PyPI `moto[server]`) is the bucket of the publishing tests; boto3 reads it back.
if [ "${1:-build}" = test ] && ! python3 -c "import moto.server, boto3" 2>/dev/null; then
  echo "installing: moto[server] boto3 (PyPI)"
  python3 -m pip install -q "moto[server]" boto3
fi
[ ${#missing[@]} -eq 0 ] && exit 0
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "installing: ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
