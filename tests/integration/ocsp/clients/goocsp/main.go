package main

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"os"

	"golang.org/x/crypto/ocsp"
)

func load(path string) *x509.Certificate {
	b, err := os.ReadFile(path)
	if err != nil {
		panic(err)
	}
	block, _ := pem.Decode(b)
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		panic(err)
	}
	return c
}

var names = map[int]string{ocsp.Good: "good", ocsp.Revoked: "revoked", ocsp.Unknown: "unknown"}

func main() {
	issuer, cert := load(os.Args[1]), load(os.Args[2])
	req, err := ocsp.CreateRequest(cert, issuer, nil)
	if err != nil {
		panic(err)
	}
	resp, err := http.Post(os.Args[3], "application/ocsp-request", bytes.NewReader(req))
	if err != nil {
		panic(err)
	}
	der, _ := io.ReadAll(resp.Body)
	if r, err := ocsp.ParseResponseForCert(der, cert, issuer); err != nil {
		fmt.Println("ParseResponseForCert: error:", err)
	} else {
		fmt.Println("ParseResponseForCert:", names[r.Status], r.SerialNumber.Cmp(cert.SerialNumber) == 0)
	}
	if r, err := ocsp.ParseResponse(der, issuer); err != nil {
		fmt.Println("ParseResponse: error:", err)
	} else {
		fmt.Println("ParseResponse:", names[r.Status], r.SerialNumber.Cmp(cert.SerialNumber) == 0)
	}
}
