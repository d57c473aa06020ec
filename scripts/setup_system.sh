#!/usr/bin/env bash
# Check (and on Debian/Ubuntu, install) the system packages ecodec needs:
# Ipopt + BLAS/LAPACK headers and pkg-config so pip can build cyipopt, a C
# compiler and Python headers for that build, poppler-utils (pdftoppm) and
# glpk-utils (glpsol: GLPK for `ecodec solve --solver glpk`).
#
# Called by `make` before the virtualenv is set up; safe to run by hand.
#
# Environment:
#   PYTHON             interpreter the virtualenv will be made from (default python3)
#   SYSTEM_PACKAGES    override the Debian package list (space separated)
#   SKIP_SYSTEM_CHECK  =1: do nothing (you installed the dependencies yourself)
#   FORCE_NONROOT      =1: behave as a user without root or sudo (for testing)
set -euo pipefail

PYTHON="${PYTHON:-python3}"
DOCS="docs/install.md"
DEFAULT_PACKAGES="coinor-libipopt-dev liblapack-dev libblas-dev pkg-config poppler-utils glpk-utils"
read -r -a PACKAGES <<<"${SYSTEM_PACKAGES:-$DEFAULT_PACKAGES}"

say() { printf 'setup_system: %s\n' "$*"; }
fail() {
    # First argument: the error; further arguments: more lines, printed as is.
    printf 'setup_system: error: %s\n' "$1" >&2
    shift
    (($# == 0)) || printf '%s\n' "$@" >&2
    printf 'Installing on other systems: see %s.\n' "$DOCS" >&2
    exit 1
}

if [[ "${SKIP_SYSTEM_CHECK:-0}" == 1 ]]; then
    say "SKIP_SYSTEM_CHECK=1, not checking system packages."
    exit 0
fi

# --- not Debian/Ubuntu: we cannot install anything, only check Ipopt. ------
if ! command -v dpkg-query >/dev/null 2>&1; then
    if ! command -v pkg-config >/dev/null 2>&1; then
        fail "no dpkg-query (not Debian/Ubuntu) and no pkg-config found." \
             "Install pkg-config and Ipopt with its development files, then run make again."
    fi
    if ! pkg-config --exists ipopt; then
        fail "no dpkg-query (not Debian/Ubuntu) and pkg-config cannot find ipopt." \
             "Install Ipopt with its development files (ipopt.pc), then run make again."
    fi
    say "Ipopt $(pkg-config --modversion ipopt) found via pkg-config (non-Debian system; other packages not checked)."
    exit 0
fi

# --- Debian/Ubuntu ---------------------------------------------------------
is_installed() {
    # Multi-arch packages can print one status per architecture.
    dpkg-query -W -f='${Status}\n' "$1" 2>/dev/null | grep -q ' installed$'
}

missing=()
for pkg in "${PACKAGES[@]}"; do
    is_installed "$pkg" || missing+=("$pkg")
done

# cyipopt is compiled from source: it needs a C compiler and, for the chosen
# interpreter, Python.h; `python -m venv` needs ensurepip. Debian's own
# python3.X ships the last two in separate packages.
if ! command -v cc >/dev/null 2>&1 && ! command -v gcc >/dev/null 2>&1; then
    missing+=(gcc)
fi
if command -v "$PYTHON" >/dev/null 2>&1; then
    pyver="$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
    if ! "$PYTHON" -c 'import ensurepip' >/dev/null 2>&1; then
        missing+=("python${pyver}-venv")
    fi
    if ! "$PYTHON" -c 'import os, sys, sysconfig; sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))'; then
        missing+=("python${pyver}-dev")
    fi
fi

if ((${#missing[@]} == 0)); then
    if ! pkg-config --exists ipopt; then
        fail "system packages present but pkg-config cannot find ipopt (ipopt.pc)."
    fi
    say "system packages present (Ipopt $(pkg-config --modversion ipopt))."
    exit 0
fi

say "missing system packages: ${missing[*]}"
install_cmd=(apt-get install -y --no-install-recommends "${missing[@]}")

if [[ "${FORCE_NONROOT:-0}" != 1 && "$(id -u)" == 0 ]]; then
    sudo=()
elif [[ "${FORCE_NONROOT:-0}" != 1 ]] && command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    sudo=(sudo)
else
    fail "cannot install them: not root and no password-less sudo. Run:" \
         "" \
         "    sudo apt-get update && sudo ${install_cmd[*]}" \
         "" \
         "then run make again."
fi

say "running: ${sudo[*]:+${sudo[*]} }apt-get update"
"${sudo[@]}" apt-get update
say "running: ${sudo[*]:+${sudo[*]} }${install_cmd[*]}"
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive "${install_cmd[@]}"

if ! pkg-config --exists ipopt; then
    fail "packages installed but pkg-config still cannot find ipopt."
fi
say "system packages installed."
