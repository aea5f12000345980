#!/usr/bin/env bash
# Installs what the tests need from Debian's packages, when missing. Safe to
# run again; does nothing when everything is there.
set -euo pipefail

need=()
have() { command -v "$1" >/dev/null 2>&1; }
have go || { echo "install-deps: Go is required (see README)"; exit 1; }
have git || need+=(git)
# cgo: the race detector, and libzstd's multithreaded encoder for zstd
# archives (internal/libzstd).
have gcc || need+=(gcc libc6-dev)
[ -e /usr/include/zstd.h ] || need+=(libzstd-dev)
# Real servers the tests talk to on 127.0.0.1; each test starts its own
# instance with a throwaway configuration (internal/testservers).
have dovecot || need+=(dovecot-imapd dovecot-core)
have doveadm || need+=(dovecot-core)
[ -x /usr/bin/radicale ] || need+=(radicale)
have xandikos || need+=(xandikos)
[ -x /usr/sbin/sshd ] || need+=(openssh-server)
have ssh-keygen || need+=(openssh-client)
have sha256sum || need+=(coreutils)

if [ ${#need[@]} -gt 0 ]; then
	if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
	echo "== installing ${need[*]}"
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
