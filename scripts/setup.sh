#!/usr/bin/env bash
# Install what fxmlsim needs on Debian 12, idempotently: the Debian packages
# of the PC/SC stack and OpenSC, and a virtual environment in .venv with the
# exact Python packages of requirements.lock (checked by their hashes) and the
# project in editable mode. Safe to run again; does little the second time, and
# reinstalls when pyproject.toml or requirements.lock changed (bash scripts/lock.sh
# refreshes the lock).
#
#   bash scripts/setup.sh            Debian packages and .venv
#   bash scripts/setup.sh --system   Debian packages only (tox makes its own
#                                    environments; see tox.ini)
set -euo pipefail
cd "$(dirname "$0")/.."

system_only=false
case "${1:-}" in
  "") ;;
  --system) system_only=true ;;
  *) printf 'usage: bash scripts/setup.sh [--system]\n' >&2; exit 2 ;;
esac

DEB_PACKAGES=(
  pcscd vsmartcard-vpcd python3-virtualsmartcard libpcsclite-dev swig
  opensc pcsc-tools iproute2 util-linux openssl
  yubico-piv-tool ykcs11
  python3 python3-venv python3-dev gcc
  chromium fonts-noto-cjk libpango-1.0-0 libpangoft2-1.0-0 poppler-utils
)
VSC_DIR=/usr/lib/python3/site-packages/virtualsmartcard

say() { printf '[setup] %s\n' "$*" >&2; }
die() { printf '[setup] ERROR: %s\n' "$*" >&2; exit 1; }

missing=()
for pkg in "${DEB_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  command -v apt-get >/dev/null || die "apt-get not found: fxmlsim needs Debian 12 (missing: ${missing[*]})"
  [ "$(id -u)" = 0 ] || die "run as root to install: ${missing[*]}"
  say "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
[ -d "$VSC_DIR/virtualsmartcard" ] || die "python3-virtualsmartcard is installed but $VSC_DIR/virtualsmartcard is missing"
if $system_only; then
  say "Debian packages ready"
  exit 0
fi

PY=${PYTHON:-python3}
"$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
  || die "$("$PY" --version 2>&1) is too old: fxmlsim needs Python >= 3.11 (set PYTHON=...)"

if ! .venv/bin/python -c 'import sys' 2>/dev/null; then
  say "creating .venv with $("$PY" --version)"
  rm -rf .venv
  "$PY" -m venv .venv
fi

# The lock pins every package (pip and the build backend too) with its hashes; the
# project goes in without its dependencies and without build isolation, so nothing
# but the lock's packages is installed. The stamp holds both files' hash.
stamp=.venv/.fxmlsim-installed
want=$(cat pyproject.toml requirements.lock | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  say "installing Python dependencies into .venv (requirements.lock)"
  log=.venv/pip-install.log
  { .venv/bin/python -m pip install -q --require-hashes --no-deps -r requirements.lock \
    && .venv/bin/python -m pip install -q --no-deps --no-build-isolation -e . \
    && .venv/bin/python -m pip check \
    && .venv/bin/python scripts/check_lock.py; } >"$log" 2>&1 \
    || { cat "$log" >&2; die "installing from requirements.lock failed (log above, also in $log)"; }
  echo "$want" > "$stamp"
fi

# Debian installs virtualsmartcard outside every sys.path: point the venv at it.
site=$(.venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
echo "$VSC_DIR" > "$site/virtualsmartcard-debian.pth"
.venv/bin/python -c 'import virtualsmartcard.VirtualSmartcard, Crypto' 2>/dev/null \
  || die "virtualsmartcard does not import in .venv (is pycryptodome installed? is $VSC_DIR intact?)"
say "ready: .venv/bin/fxmlsim"
