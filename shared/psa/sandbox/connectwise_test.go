package sandbox

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestCWConditions(t *testing.T) {
	rec := map[string]any{
		"id": float64(42), "name": "Contoso Labs", "deletedFlag": false, "company/id": float64(250),
		"types/id": []any{float64(317), float64(319)}, "cancelledDate": nil,
		"lastUpdated": time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC),
	}
	for _, tc := range []struct {
		cond string
		want bool
	}{
		{`id=42`, true},
		{`id!=42`, false},
		{`name="contoso labs"`, true},
		{`name like "Con*Labs"`, true},
		{`name like "*Ltd"`, false},
		{`name contains "LAB"`, true},
		{`name not contains "LAB"`, false},
		{`deletedFlag=False AND company/id=250`, true},
		{`deletedFlag=true OR company/id=250`, true},
		{`deletedFlag=true OR (company/id=250 AND id=1)`, false},
		{`id in (1, 42, 7)`, true},
		{`id not in (1, 7)`, true},
		{`types/id=319`, true},
		{`types/id=318`, false},
		{`cancelledDate=null`, true},
		{`cancelledDate!=null`, false},
		{`lastUpdated>[2025-05-31T00:00:00Z]`, true},
		{`lastUpdated<=[2025-05-31T00:00:00Z]`, false},
		{`name="say \"hi\""`, false},
		{`NOT id=42`, false},
	} {
		t.Run(tc.cond, func(t *testing.T) {
			c, err := parseCWConditions(tc.cond)
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			got, err := c.eval(rec)
			if err != nil {
				t.Fatalf("eval: %v", err)
			}
			if got != tc.want {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
	for _, bad := range []string{`id=`, `id = "x`, `(id=1`, `id in 1`, `id ~ 1`, `id=1 AND`} {
		t.Run("ErrParse/"+bad, func(t *testing.T) {
			if _, err := parseCWConditions(bad); err == nil {
				t.Errorf("got no error for %q", bad)
			}
		})
	}
	t.Run("ErrUnknownField", func(t *testing.T) {
		c, _ := parseCWConditions(`nosuch=1`)
		if _, err := c.eval(rec); err == nil {
			t.Errorf("got no error for an unknown field")
		}
	})
}

func TestCWSeedFromJSON(t *testing.T) {
	path := filepath.Join(t.TempDir(), "seed.json")
	data := `{"connectwise":[{"companyId":"acme","publicKey":"p","privateKey":"k",
		"companies":[{"id":25001,"identifier":"C","name":"Contoso"}],
		"agreements":[{"id":4101,"companyId":25001,"name":"MSA"}],
		"additions":[{"id":77001,"agreementId":4101,"productId":5501,"quantity":10,"unitPrice":2,"unitCost":1}]}]}`
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	s := New()
	if err := s.LoadFile(path); err != nil {
		t.Fatal(err)
	}
	got, ok := s.ConnectWise.Addition("ACME", 77001)
	if !ok || got.Quantity != 10 || got.AgreementID != 4101 {
		t.Errorf("got %+v %v, want addition 77001 with quantity 10", got, ok)
	}
}
