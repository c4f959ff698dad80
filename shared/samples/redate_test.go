package samples

import (
	"strings"
	"testing"
	"time"
)

func TestRedate(t *testing.T) {
	sample := `{"time":"21/Nov/2026:15:00:00 +0000","timeEpoch":1795273200000,"SentTimestamp":"1795273200000",` +
		`"body":"{\"observedAt\":\"2026-11-21T15:00:00Z\",\"occurredAt\":\"2026-11-21T11:30:00Z\",\"month\":\"2026-11\"}"}`
	for _, tc := range []struct {
		name string
		now  time.Time
		want []string
	}{
		{"AtEpoch", Epoch.Add(40 * time.Minute), []string{`"time":"21/Nov/2026:15:00:00 +0000"`, `"timeEpoch":1795273200000`,
			`"SentTimestamp":"1795273200000"`, `\"observedAt\":\"2026-11-21T15:00:00Z\"`, `\"month\":\"2026-11\"`}},
		// New York's last evening of January is February in UTC: the
		// observation lands in the current hour, the month is New York's.
		{"NewYorkMonthEnd", time.Date(2027, 2, 1, 3, 30, 0, 0, time.UTC), []string{`"time":"01/Feb/2027:03:00:00 +0000"`,
			`"timeEpoch":1801450800000`, `\"observedAt\":\"2027-02-01T03:00:00Z\"`, `\"occurredAt\":\"2027-01-31T23:30:00Z\"`, `\"month\":\"2027-01\"`}},
		{"YearEnd", time.Date(2028, 1, 1, 5, 10, 0, 0, time.UTC), []string{`\"observedAt\":\"2028-01-01T05:00:00Z\"`, `\"month\":\"2028-01\"`}},
		{"LeapDay", time.Date(2028, 2, 29, 17, 0, 0, 0, time.UTC), []string{`\"observedAt\":\"2028-02-29T17:00:00Z\"`, `\"month\":\"2028-02\"`}},
		{"Past", time.Date(2025, 3, 9, 7, 5, 0, 0, time.UTC), []string{`\"observedAt\":\"2025-03-09T07:00:00Z\"`, `\"month\":\"2025-03\"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := string(Redate([]byte(sample), tc.now))
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("got %s, want it to contain %s", got, w)
				}
			}
		})
	}
}

func TestLoadEveryFunction(t *testing.T) {
	now := time.Date(2027, 7, 4, 16, 20, 0, 0, time.UTC)
	for _, fn := range []string{"api", "webhook", "fanout", "syncworker", "ticketworker", "local"} {
		all, err := Load(fn, now)
		if err != nil {
			t.Fatalf("%s: %v", fn, err)
		}
		for _, s := range all {
			if strings.Contains(string(s.JSON), "2026-11-2") {
				t.Errorf("%s/%s: an instant was not re-dated: %.300s", fn, s.Name, s.JSON)
			}
		}
	}
}
