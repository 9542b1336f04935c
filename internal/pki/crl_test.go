package pki

import (
	"bytes"
	"encoding/pem"
	"errors"
	"math/big"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestCreateCRL(t *testing.T) {
	for _, kind := range []string{"RSA-2048", "P-256", "P-521"} {
		t.Run(kind, func(t *testing.T) {
			ca, key := testCA(t, kind)
			revoked := []RevokedCertificate{
				{SerialNumber: big.NewInt(0x300), RevocationTime: testNow.Add(-time.Hour), ReasonCode: 1},
				{SerialNumber: big.NewInt(0x03A5B1), RevocationTime: testNow.Add(-2 * time.Hour)},
				{SerialNumber: big.NewInt(0x10), RevocationTime: testNow.Add(-3 * time.Hour), ReasonCode: 4},
			}
			data, err := CreateCRL(CRLRequest{CA: ca, Key: key, Number: big.NewInt(7), ThisUpdate: testNow, NextUpdate: testNow.Add(7 * 24 * time.Hour), Revoked: revoked})
			if err != nil {
				t.Fatalf("CreateCRL: %v", err)
			}
			if !bytes.HasPrefix(data, []byte("-----BEGIN X509 CRL-----\n")) {
				t.Fatalf("not a PEM X509 CRL: %.40q", data)
			}
			crl, err := ParseCRLPEM(data)
			if err != nil {
				t.Fatal(err)
			}
			if err := crl.CheckSignatureFrom(ca); err != nil {
				t.Errorf("signature does not verify: %v", err)
			}
			if crl.Number.Int64() != 7 || !crl.ThisUpdate.Equal(testNow) || !crl.NextUpdate.Equal(testNow.Add(7*24*time.Hour)) {
				t.Errorf("number %v thisUpdate %v nextUpdate %v", crl.Number, crl.ThisUpdate, crl.NextUpdate)
			}
			if !bytes.Equal(crl.AuthorityKeyId, ca.SubjectKeyId) {
				t.Error("authority key identifier is not the CA's key id")
			}
			if !bytes.Equal(crl.RawIssuer, ca.RawSubject) {
				t.Error("issuer is not the CA's subject")
			}
			if crl.SignatureAlgorithm != SignatureAlgorithmFor(key.Public()) {
				t.Errorf("signature algorithm %v", crl.SignatureAlgorithm)
			}
			var serials []int64
			for _, e := range crl.RevokedCertificateEntries {
				serials = append(serials, e.SerialNumber.Int64())
			}
			if !slices.Equal(serials, []int64{0x10, 0x300, 0x03A5B1}) {
				t.Errorf("entries %x, want sorted by serial", serials)
			}
			reasons := map[int64]int{}
			for _, e := range crl.RevokedCertificateEntries {
				reasons[e.SerialNumber.Int64()] = e.ReasonCode
			}
			if reasons[0x300] != 1 || reasons[0x10] != 4 || reasons[0x03A5B1] != 0 {
				t.Errorf("reason codes %v", reasons)
			}
		})
	}
}

func TestCreateCRLIsDeterministicForRSA(t *testing.T) {
	ca, key := testCA(t, "RSA-2048")
	var revoked []RevokedCertificate
	for i := range 50 {
		revoked = append(revoked, RevokedCertificate{SerialNumber: big.NewInt(int64(1000 + i*7919%1000)), RevocationTime: testNow.Add(-time.Duration(i) * time.Minute)})
	}
	req := CRLRequest{CA: ca, Key: key, Number: big.NewInt(1), ThisUpdate: testNow, NextUpdate: testNow.Add(time.Hour), Revoked: revoked}
	first, err := CreateCRL(req)
	if err != nil {
		t.Fatal(err)
	}
	shuffled := slices.Clone(revoked)
	rand.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	if slices.Equal(shuffled, revoked) {
		slices.Reverse(shuffled)
	}
	req.Revoked = shuffled
	second, err := CreateCRL(req)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(first, second) {
		t.Fatal("the same revocations in another order gave different CRL bytes")
	}
}

func TestCreateCRLRefusals(t *testing.T) {
	ca, key := testCA(t, "P-256")
	leaf, leafKey := testClient(t, ca, key, "P-384", "leaf")
	base := func() CRLRequest {
		return CRLRequest{CA: ca, Key: key, Number: big.NewInt(1), ThisUpdate: testNow, NextUpdate: testNow.Add(time.Hour),
			Revoked: []RevokedCertificate{{SerialNumber: big.NewInt(5), RevocationTime: testNow}}}
	}
	tests := map[string]struct {
		mutate  func(*CRLRequest)
		wantErr error
	}{
		"no CA":                        {mutate: func(r *CRLRequest) { r.CA = nil }},
		"no key":                       {mutate: func(r *CRLRequest) { r.Key = nil }},
		"key of another CA":            {mutate: func(r *CRLRequest) { r.Key = testKey(t, "P-256-b") }, wantErr: ErrKeyMismatch},
		"issuer without cRLSign":       {mutate: func(r *CRLRequest) { r.CA, r.Key = leaf, leafKey }, wantErr: ErrNoCRLSign},
		"no CRL number":                {mutate: func(r *CRLRequest) { r.Number = nil }, wantErr: ErrInvalidCRL},
		"negative CRL number":          {mutate: func(r *CRLRequest) { r.Number = big.NewInt(-1) }, wantErr: ErrInvalidCRL},
		"CRL number over 20 octets":    {mutate: func(r *CRLRequest) { r.Number = new(big.Int).Lsh(big.NewInt(1), 160) }, wantErr: ErrInvalidCRL},
		"nextUpdate before thisUpdate": {mutate: func(r *CRLRequest) { r.NextUpdate = testNow.Add(-time.Hour) }, wantErr: ErrInvalidCRL},
		"zero thisUpdate":              {mutate: func(r *CRLRequest) { r.ThisUpdate = time.Time{} }, wantErr: ErrInvalidCRL},
		"negative serial":              {mutate: func(r *CRLRequest) { r.Revoked[0].SerialNumber = big.NewInt(-5) }, wantErr: ErrInvalidCRL},
		"zero serial":                  {mutate: func(r *CRLRequest) { r.Revoked[0].SerialNumber = big.NewInt(0) }, wantErr: ErrInvalidCRL},
		"nil serial":                   {mutate: func(r *CRLRequest) { r.Revoked[0].SerialNumber = nil }, wantErr: ErrInvalidCRL},
		"zero revocation time":         {mutate: func(r *CRLRequest) { r.Revoked[0].RevocationTime = time.Time{} }, wantErr: ErrInvalidCRL},
		"reason code 7 is unused":      {mutate: func(r *CRLRequest) { r.Revoked[0].ReasonCode = 7 }, wantErr: ErrInvalidCRL},
		"reason code 11":               {mutate: func(r *CRLRequest) { r.Revoked[0].ReasonCode = 11 }, wantErr: ErrInvalidCRL},
		"negative reason code":         {mutate: func(r *CRLRequest) { r.Revoked[0].ReasonCode = -1 }, wantErr: ErrInvalidCRL},
		"serial listed twice": {mutate: func(r *CRLRequest) {
			r.Revoked = append(r.Revoked, RevokedCertificate{SerialNumber: big.NewInt(5), RevocationTime: testNow.Add(time.Minute)})
		}, wantErr: ErrInvalidCRL},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			req := base()
			tc.mutate(&req)
			if _, err := CreateCRL(req); err == nil {
				t.Fatal("succeeded, want error")
			} else if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Errorf("error %v does not wrap %v", err, tc.wantErr)
			}
		})
	}
	t.Run("an empty CRL is fine", func(t *testing.T) {
		req := base()
		req.Revoked = nil
		data, err := CreateCRL(req)
		if err != nil {
			t.Fatal(err)
		}
		crl, err := ParseCRLPEM(data)
		if err != nil || len(crl.RevokedCertificateEntries) != 0 {
			t.Fatalf("crl %v err %v", crl, err)
		}
	})
}

func TestParseCRLPEM(t *testing.T) {
	ca, key := testCA(t, "P-256")
	good, err := CreateCRL(CRLRequest{CA: ca, Key: key, Number: big.NewInt(1), ThisUpdate: testNow, NextUpdate: testNow.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(good)
	tests := map[string]struct {
		data    []byte
		wantErr string
	}{
		"PEM CRL":                        {data: good},
		"refuses DER (ALB wants PEM)":    {data: block.Bytes, wantErr: "no PEM"},
		"refuses a certificate":          {data: mustPEMCert(ca), wantErr: `"CERTIFICATE"`},
		"refuses garbage in a CRL block": {data: pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: []byte{0x30, 0x01}}), wantErr: "parse CRL"},
		"refuses empty input":            {data: nil, wantErr: "no PEM"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := ParseCRLPEM(tc.data)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}
