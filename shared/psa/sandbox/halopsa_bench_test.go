package sandbox

import (
	"fmt"
	"testing"
)

// BenchmarkHaloReadLinePages reads every line of 1,000 recurring invoices
// (3 lines each) in pages of 100, as the client's ReadLines does.
func BenchmarkHaloReadLinePages(b *testing.B) {
	seed := haloSeed()
	seed.RecurringInvoices = nil
	for i := range 1000 {
		client := int64(30000 + i)
		seed.Clients = append(seed.Clients, HaloClient{ID: client, Name: fmt.Sprintf("Org %04d", i), TopLevelID: 312})
		inv := HaloRecurringInvoice{ID: int64(-10000 - i), ClientID: client}
		for j := range 3 {
			inv.Lines = append(inv.Lines, HaloInvoiceLine{ID: int64(100000 + 3*i + j), ItemID: 5501, Quantity: 5, UnitPrice: 22, UnitCost: 18})
		}
		seed.RecurringInvoices = append(seed.RecurringInvoices, inv)
	}
	f := mustHaloFixture(b, seed)
	b.ResetTimer()
	for range b.N {
		for page := 1; page <= 10; page++ {
			status, body, _ := f.do(b, "GET", fmt.Sprintf("/RecurringInvoice?includelines=true&pageinate=true&page_size=100&page_no=%d", page), "")
			if status != 200 || len(rows(b, body, "invoices")) != 100 {
				b.Fatalf("page %d: %d", page, status)
			}
		}
	}
}
