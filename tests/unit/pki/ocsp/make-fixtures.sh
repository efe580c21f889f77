#!/bin/sh
# Regenerates the OCSP unit-test fixtures with openssl: two CAs, RSA and
# ECDSA delegated responders, requests made by `openssl ocsp`, and responses
# signed by openssl's own responder (index mode) that the encoder must match
# byte for byte. Run from this directory; commit the results.
set -eu
days=7000
cnf=$(mktemp)
trap 'rm -f "$cnf" serial.txt index.txt* ca.srl *.csr' EXIT
cat >"$cnf" <<CNF
[ca_ext]
basicConstraints = critical, CA:true
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[responder_ext]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature
extendedKeyUsage = OCSPSigning
noCheck = ignored
[leaf_ext]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature
CNF

openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days $days \
  -subj "/C=JP/O=kensho test/CN=Test Sign CA" -extensions ca_ext -config "$cnf" 2>/dev/null
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout foreign-ca.key \
  -out foreign-ca.pem -days $days -subj "/C=JP/O=elsewhere/CN=Foreign CA" \
  -extensions ca_ext -config "$cnf" 2>/dev/null

issue() { # name serial ext keyopts...
  name=$1 serial=$2 ext=$3; shift 3
  openssl req -new -newkey "$@" -nodes -keyout $name.key -out $name.csr \
    -subj "/C=JP/O=kensho test/CN=$name" 2>/dev/null
  openssl x509 -req -in $name.csr -CA ca.pem -CAkey ca.key -set_serial $serial \
    -days $days -extfile "$cnf" -extensions $ext -out $name.pem 2>/dev/null
}
issue responder-rsa 0x7001 responder_ext rsa:2048
issue responder-ec 0x7002 responder_ext ec -pkeyopt ec_paramgen_curve:P-256
issue leaf-good 0x1001 leaf_ext rsa:2048
issue leaf-revoked 0x00a002 leaf_ext rsa:2048
chmod 600 *.key

# Requests as openssl builds them.
openssl ocsp -issuer ca.pem -serial 0x1001 -no_nonce -reqout req-sha1.der
openssl ocsp -issuer ca.pem -serial 0x1001 -reqout req-sha1-nonce.der
openssl ocsp -sha256 -issuer ca.pem -serial 0x1001 -serial 0xa002 -serial 0x1003 -no_nonce \
  -reqout req-sha256-multi.der

# Responses by openssl's responder from an index (good, revoked with reason,
# unknown), signed by the RSA delegated responder.
exp=$(date -u -d "+$days days" +%y%m%d%H%M%SZ)
printf 'V\t%s\t\t1001\tunknown\t/CN=leaf-good\n' "$exp" >index.txt
printf 'R\t%s\t250102030405Z,keyCompromise\tA002\tunknown\t/CN=leaf-revoked\n' "$exp" >>index.txt
for req in req-sha1 req-sha1-nonce req-sha256-multi; do
  # producedAt must equal thisUpdate for the byte-for-byte comparison.
  for try in 1 2 3 4 5; do
    openssl ocsp -index index.txt -rsigner responder-rsa.pem -rkey responder-rsa.key \
      -CA ca.pem -reqin $req.der -respout resp-${req#req-}.der -nmin 60 2>/dev/null
    openssl ocsp -respin resp-${req#req-}.der -resp_text -noverify 2>/dev/null >resp.txt
    produced=$(sed -n 's/.*Produced At: //p' resp.txt)
    this=$(sed -n 's/.*This Update: //p' resp.txt | head -1)
    [ "$produced" = "$this" ] && break
  done
  rm -f resp.txt
done
openssl ocsp -index index.txt -rsigner responder-rsa.pem -rkey responder-rsa.key \
  -CA ca.pem -reqin req-sha1.der -respout resp-sha1-bykey.der -nmin 60 -resp_key_id 2>/dev/null
