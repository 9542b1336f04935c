#!/bin/sh
# Regenerates the example's fixtures with openssl, an implementation
# independent of crypto/x509: a root CA and a client certificate (the
# walkthrough's profiles), valid for a century so the example needs no clock.
# Keys are thrown away: only certificates are kept.
set -eu
cd "$(dirname "$0")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
openssl ecparam -name prime256v1 -genkey -noout -out "$tmp/ca.key"
openssl req -x509 -new -key "$tmp/ca.key" -sha256 -days 36500 -subj "/O=Example/CN=Example Client CA" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=digitalSignature,keyCertSign,cRLSign" \
  -addext "subjectKeyIdentifier=hash" -out ca.crt
openssl ecparam -name prime256v1 -genkey -noout -out "$tmp/alice.key"
openssl req -new -key "$tmp/alice.key" -subj "/O=Example/CN=alice" -out "$tmp/alice.csr"
cat > "$tmp/ext.cnf" <<'CNF'
basicConstraints=CA:FALSE
keyUsage=digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth,clientAuth
authorityKeyIdentifier=keyid
subjectAltName=email:alice@example.com
CNF
openssl x509 -req -in "$tmp/alice.csr" -CA ca.crt -CAkey "$tmp/ca.key" -CAcreateserial -CAserial "$tmp/ca.srl" \
  -sha256 -days 36500 -extfile "$tmp/ext.cnf" -out alice.crt
# The header value ALB sends in Passthrough mode: URL-encoded PEM, '+', '=' and '/' kept.
python3 -c 'import sys, urllib.parse; sys.stdout.write(urllib.parse.quote(open("alice.crt").read(), safe="+=/"))' > alice.header
