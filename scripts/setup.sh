#!/usr/bin/env bash
# Prepare this checkout for development and tests: the server programs rdsbox runs
# (PostgreSQL 15, PgBouncer, Redis, Redis Sentinel, HAProxy) from Debian/Ubuntu packages,
# a virtual environment at .venv with `pip install -e '.[dev]'`, and Node.js with the
# packages of examples/node (`npm ci`; the Node.js client example's test needs them).
#
# Idempotent: it installs only what is missing, and a second run does no network work.
# Runs as root (CI) or as a normal user, who then needs sudo for apt-get.
# Packages' postinst scripts are kept from starting system services (no redis-server left
# on 6379): rdsbox starts its own servers on its own ports.
#
# Usage: bash scripts/setup.sh [--with-browser]
#   --with-browser  also install chromium and chromium-driver (dashboard browser tests)
set -euo pipefail

usage() {
    echo "usage: bash scripts/setup.sh [--with-browser]" >&2
}

with_browser=0
for arg in "$@"; do
    case "$arg" in
        --with-browser) with_browser=1 ;;
        -h | --help)
            usage
            exit 0
            ;;
        *)
            echo "setup: unknown argument: $arg" >&2
            usage
            exit 2
            ;;
    esac
done

cd "$(dirname "${BASH_SOURCE[0]}")/.."

say() { echo "setup: $*"; }
die() {
    echo "setup: error: $*" >&2
    exit 1
}

# Exit through the EXIT trap on Ctrl-C / kill too, so a policy-rc.d we created is removed.
trap 'exit 130' INT
trap 'exit 143' TERM

# Debian puts pgbouncer and haproxy in /usr/sbin, which a normal user's PATH may lack.
have_cmd() { PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin" command -v "$1" >/dev/null 2>&1; }

pkg_installed() {
    local status
    status=$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null) || return 1
    [[ "$status" == *" ok installed" ]]
}

# A package is present when dpkg has it installed or its program is already available
# (e.g. built from source).
present() {
    local pkg=$1 cmd=$2
    pkg_installed "$pkg" || have_cmd "$cmd"
}

have_pg_server() {
    local f
    for f in /usr/lib/postgresql/*/bin/postgres; do
        [[ -x "$f" ]] && return 0
    done
    return 1
}

py_ok() { "$1" -c 'import sys; assert sys.version_info >= (3, 11)' >/dev/null 2>&1; }

# The first Python >= 3.11 among python3 and the versioned names; empty if none.
find_python() {
    local candidate
    for candidate in python3 python3.13 python3.12 python3.11; do
        if command -v "$candidate" >/dev/null 2>&1 && py_ok "$candidate"; then
            command -v "$candidate"
            return 0
        fi
    done
    return 0
}

# --- choose the Python that builds .venv ----------------------------------------------

python=$(find_python)
if [[ -z "$python" ]] && command -v python3 >/dev/null 2>&1; then
    die "Python >= 3.11 is required, but python3 is $(python3 -c 'import sys; print(sys.version.split()[0])' 2>/dev/null || echo unusable) and no python3.11+ was found on PATH"
fi

venv_needed=1
if [[ -x .venv/bin/python ]] && py_ok .venv/bin/python; then
    venv_needed=0
fi

# --- system packages ------------------------------------------------------------------

packages=()
want() { packages+=("$1"); }

present pgbouncer pgbouncer || want pgbouncer
present redis-server redis-server || want redis-server
present redis-sentinel redis-sentinel || want redis-sentinel
present redis-tools redis-cli || want redis-tools
present haproxy haproxy || want haproxy
have_cmd node || want nodejs
have_cmd npm || want npm
pg_server_missing=0
if ! have_pg_server; then
    pg_server_missing=1
    want postgresql-15 # brings postgresql-client-15 (psql, pgbench) with it
fi
if [[ $pg_server_missing -eq 0 ]] && ! { have_cmd psql && have_cmd pgbench; }; then
    want postgresql-client
fi
if [[ -z "$python" ]]; then
    want python3-venv # no python3 at all: this brings one
elif [[ $venv_needed -eq 1 ]]; then
    probe=$(mktemp -d)
    if ! "$python" -m venv "$probe/venv" >/dev/null 2>&1; then
        want python3-venv
    fi
    rm -rf "$probe"
fi
if [[ $with_browser -eq 1 ]]; then
    present chromium chromium || want chromium
    present chromium-driver chromedriver || want chromium-driver
fi

sudo_cmd=()
policy_created=0
remove_policy() {
    if [[ $policy_created -eq 1 ]]; then
        "${sudo_cmd[@]}" rm -f /usr/sbin/policy-rc.d || true
        policy_created=0
    fi
}
trap remove_policy EXIT

if [[ ${#packages[@]} -gt 0 ]]; then
    say "missing system packages: ${packages[*]}"
    if [[ $EUID -ne 0 ]]; then
        command -v sudo >/dev/null 2>&1 \
            || die "not root and sudo is not available; as root run: apt-get install ${packages[*]}"
        say "not running as root: using sudo for apt-get (it may ask for your password)"
        sudo_cmd=(sudo)
    fi
    apt=("${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get)

    # policy-rc.d exit 101 tells invoke-rc.d / deb-systemd-invoke not to start services.
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
        policy_created=1
        printf '#!/bin/sh\nexit 101\n' | "${sudo_cmd[@]}" tee /usr/sbin/policy-rc.d >/dev/null
        "${sudo_cmd[@]}" chmod 755 /usr/sbin/policy-rc.d
    fi

    say "apt-get update"
    "${apt[@]}" update -qq
    if [[ $pg_server_missing -eq 1 ]] \
        && ! LC_ALL=C apt-cache policy postgresql-15 2>/dev/null | grep -q 'Candidate: [0-9]'; then
        die "postgresql-15 is not available from the configured apt sources; add the PostgreSQL apt repository (https://wiki.postgresql.org/wiki/Apt) or install PostgreSQL 15 server binaries under /usr/lib/postgresql/15/bin, then re-run"
    fi
    say "apt-get install ${packages[*]}"
    "${apt[@]}" install -y -qq --no-install-recommends "${packages[@]}" >/dev/null

    # Stop whatever a postinst started despite policy-rc.d (only for what we installed).
    if command -v service >/dev/null 2>&1; then
        for pkg in "${packages[@]}"; do
            case "$pkg" in
                redis-server | redis-sentinel | pgbouncer | haproxy) svc=$pkg ;;
                postgresql-15) svc=postgresql ;;
                *) continue ;;
            esac
            "${sudo_cmd[@]}" service "$svc" stop >/dev/null 2>&1 || true
        done
    fi
    remove_policy
    say "system packages installed"
else
    say "system packages present"
fi

# --- virtual environment --------------------------------------------------------------

if [[ -z "$python" ]]; then
    python=$(find_python)
    [[ -n "$python" ]] || die "Python >= 3.11 is required, but none was found on PATH after installing python3-venv"
fi

stamp=.venv/.rdsbox-installed
if [[ $venv_needed -eq 1 ]]; then
    if [[ -e .venv ]]; then
        say "recreating .venv (broken or Python < 3.11) with $python"
        "$python" -m venv --clear .venv || die "'$python -m venv' failed; install the python3-venv package for that Python"
    else
        say "creating .venv with $python"
        "$python" -m venv .venv || die "'$python -m venv' failed; install the python3-venv package for that Python"
    fi
fi

if [[ pyproject.toml -nt "$stamp" ]]; then
    say "installing rdsbox with dev extras into .venv (pip install -e '.[dev]')"
    export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1
    # pip and setuptools are chatty even with -q: keep their output, show it on failure.
    log=.venv/.rdsbox-pip.log
    if ! { .venv/bin/python -m pip install -q --upgrade pip \
        && .venv/bin/python -m pip install -q -e '.[dev]'; } >"$log" 2>&1; then
        cat "$log" >&2
        die "pip install failed (output above, also in $log)"
    fi
    touch "$stamp"
else
    say ".venv up to date"
fi

# --- Node.js packages of the example client ---------------------------------------------

# npm ci only when the lock file changed since the last successful install. Without network
# it warns and carries on: the example's test then says why it cannot run.
node_dir=examples/node
node_stamp=$node_dir/node_modules/.rdsbox-installed
if have_cmd node && have_cmd npm && [[ -f $node_dir/package-lock.json ]]; then
    if [[ $node_dir/package-lock.json -nt "$node_stamp" ]]; then
        say "installing the Node.js example's packages (npm ci in $node_dir)"
        if (cd "$node_dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null); then
            touch "$node_stamp"
        else
            echo "setup: warning: npm ci failed in $node_dir (no network?); the Node.js example test will say so" >&2
        fi
    else
        say "Node.js example packages up to date"
    fi
fi

say "done"
