#!/usr/bin/env bash
# Makes what samples/tls needs, with the openssl CLI: a private CA, a server certificate for
# localhost/127.0.0.1/::1, and a client certificate for "alice", all signed by that CA.
# Usage: make-certs.sh [outdir]   (default: ./certs). EC P-256 keys; valid 30 days.
set -euo pipefail
out=${1:-certs}
mkdir -p "$out"
cd "$out"
key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

key ca.key
openssl req -x509 -new -key ca.key -days 30 -subj "/CN=netref sample CA" -out ca.crt \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"

sign() {  # sign <name> <subject> <extensions>
  key "$1.key"
  openssl req -new -key "$1.key" -subj "$2" -out "$1.csr"
  printf '%s\n' "$3" > "$1.ext"
  openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 30 \
    -extfile "$1.ext" -out "$1.crt" 2>/dev/null
  rm -f "$1.csr" "$1.ext"
}
sign server "/CN=localhost" "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1
extendedKeyUsage=serverAuth"
sign alice "/CN=alice/O=netref sample" "extendedKeyUsage=clientAuth"
rm -f ca.srl
echo "certificates in $(pwd): ca.crt server.crt server.key alice.crt alice.key"
