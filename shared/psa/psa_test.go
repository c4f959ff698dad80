package psa_test

import (
	"testing"

	"github.com/psabridge/psabridge/shared/psa"
)

// TestProviders: every provider of psa.Providers is valid and has a title
// limit; anything else is not a provider.
func TestProviders(t *testing.T) {
	for _, p := range psa.Providers {
		if !p.Valid() || p.TitleLimit() <= 0 {
			t.Errorf("%s: valid %v, title limit %d; want valid with a limit", p, p.Valid(), p.TitleLimit())
		}
	}
	if len(psa.Providers) != 3 {
		t.Errorf("got %d providers, want Autotask, ConnectWise and HaloPSA", len(psa.Providers))
	}
	for _, p := range []psa.Provider{"", "halo", "HaloPSA", "autotask "} {
		if p.Valid() {
			t.Errorf("%q: valid, want not a provider", p)
		}
	}
}
