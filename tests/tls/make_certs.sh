#!/bin/sh
# make_certs.sh <outdir>: the certificates the TLS tests use, made with the openssl CLI (3.0).
#
#   ca-a, ca-b              two unrelated CAs
#   server-a                DNS:localhost, IP:127.0.0.1, IP:::1, signed by A
#   server-b                the same names, signed by B
#   server-expired          signed by A, valid only on 2020-01-01
#   server-future           signed by A, valid from 2090
#   server-otherhost        DNS:otherhost only, signed by A
#   client-alice            CN=alice,O=Example, signed by A
#   client-b                CN=bob, signed by B
#   client-expired          CN=carol, signed by A, valid only on 2020-01-01
#
# Each <name>.pem has a <name>.key (EC P-256). Idempotent: returns at once when <outdir> is
# complete. Safe to run concurrently (ctest -j starts one process per test case): each run
# builds in its own temporary directory and renames it into place, which is atomic; a run
# that loses the race drops its copy.
set -eu
out=${1:?usage: make_certs.sh <outdir>}
[ -f "$out/complete" ] && exit 0

mkdir -p "$(dirname "$out")"
work=$(mktemp -d "$out.tmp.XXXXXX")
# shellcheck disable=SC2154  # status is assigned inside the trap
trap 'status=$?; [ "$status" -ne 0 ] && [ -f "$work/log" ] && cat "$work/log" >&2; rm -rf "$work"' EXIT
cd "$work"
exec 3>log  # the CLI's chatter, shown only when something fails

new_key() {
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1.key" 2>&3
}

# make_ca <name>: a self-signed CA and the files `openssl ca` needs to sign with it.
make_ca() {
  new_key "$1"
  openssl req -x509 -new -key "$1.key" -subj "/O=netref tests/CN=netref test $1" -days 7300 \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" -out "$1.pem" 2>&3
  mkdir "$1.db"
  : >"$1.db/index.txt"
  echo 1000 >"$1.db/serial"
  cat >"$1.cnf" <<EOF
[ca]
default_ca = this_ca
[this_ca]
database = $1.db/index.txt
new_certs_dir = $1.db
serial = $1.db/serial
certificate = $1.pem
private_key = $1.key
default_md = sha256
policy = any_name
unique_subject = no
email_in_dn = no
[any_name]
organizationName = optional
commonName = supplied
EOF
}

# issue <ca> <name> <subject> <extended key usage> <subjectAltName or ""> <openssl ca date options...>
issue() {
  ca=$1 name=$2 subject=$3 usage=$4 names=$5
  shift 5
  new_key "$name"
  openssl req -new -key "$name.key" -subj "$subject" -out "$name.csr" 2>&3
  {
    echo "basicConstraints = critical,CA:FALSE"
    echo "keyUsage = critical,digitalSignature"
    echo "extendedKeyUsage = $usage"
    [ -n "$names" ] && echo "subjectAltName = $names"
    true
  } >"$name.ext"
  openssl ca -batch -notext -config "$ca.cnf" -in "$name.csr" -out "$name.pem" \
    -extfile "$name.ext" "$@" 2>&3
  rm "$name.csr" "$name.ext"
}

# expect_verify_error <ca> <name> <X509 error number>: the point of the certificate.
expect_verify_error() {
  if openssl verify -CAfile "$1.pem" "$2.pem" >verify.out 2>&1; then
    echo "make_certs.sh: $2 verified against $1 but should fail with error $3" >&2
    exit 1
  fi
  grep -q "error $3 " verify.out || { cat verify.out >&2; exit 1; }
  rm verify.out
}

past="-startdate 20200101000000Z -enddate 20200102000000Z"
future="-startdate 20900101000000Z -enddate 20910101000000Z"
here="DNS:localhost,IP:127.0.0.1,IP:::1"

make_ca ca-a
make_ca ca-b
issue ca-a server-a "/CN=localhost" serverAuth "$here" -days 7300
issue ca-b server-b "/CN=localhost" serverAuth "$here" -days 7300
# shellcheck disable=SC2086  # the date options are meant to split into words
issue ca-a server-expired "/CN=localhost" serverAuth "$here" $past
# shellcheck disable=SC2086
issue ca-a server-future "/CN=localhost" serverAuth "$here" $future
issue ca-a server-otherhost "/CN=otherhost" serverAuth "DNS:otherhost" -days 7300
issue ca-a client-alice "/O=Example/CN=alice" clientAuth "" -days 7300
issue ca-b client-b "/CN=bob" clientAuth "" -days 7300
# shellcheck disable=SC2086
issue ca-a client-expired "/CN=carol" clientAuth "" $past

openssl verify -CAfile ca-a.pem server-a.pem client-alice.pem >&3 2>&1
expect_verify_error ca-a server-b 20        # unable to get local issuer certificate
expect_verify_error ca-a server-expired 10  # certificate has expired
expect_verify_error ca-a server-future 9    # certificate is not yet valid

rm -rf ./*.db ./*.cnf
exec 3>&-
rm log
touch complete
cd /
# rename(2) replaces nothing but an empty directory: when another run got there first, keep
# its complete copy and drop ours.
mv -T "$work" "$out" 2>/dev/null || [ -f "$out/complete" ]
