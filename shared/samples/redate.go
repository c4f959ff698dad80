package samples

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"time"
)

// Epoch is the instant every sample under events/ is written as if it were
// sent at: its request times, observations and alerts are at or shortly
// before Epoch, and its billing months are Epoch's month in New York.
var Epoch = time.Date(2026, 11, 21, 15, 0, 0, 0, time.UTC)

// epochZone is the billing time zone the samples' months are taken in (the
// default tenant zone).
const epochZone = "America/New_York"

var (
	// rfc3339 matches an instant such as 2026-11-21T15:00:00Z inside a
	// sample, also within an escaped JSON body.
	rfc3339 = regexp.MustCompile(`\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})`)
	// clf matches API Gateway's requestContext.time (21/Nov/2026:15:00:00 +0000).
	clf = regexp.MustCompile(`\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4}`)
	// epochMillis matches the Unix-millisecond fields of API Gateway and SQS events.
	epochMillis = regexp.MustCompile(`("(?:timeEpoch|SentTimestamp|ApproximateFirstReceiveTimestamp)"\s*:\s*"?)(\d{13})`)
	// month matches a billing month field ("month":"2026-11"), escaped or not.
	month = regexp.MustCompile(`(month\\?"\s*:\s*\\?")(\d{4})-(\d{2})`)
)

const clfLayout = "02/Jan/2006:15:04:05 -0700"

// Redate returns sample b as it would be sent at now: every instant in it
// moves by the whole hours from Epoch to now's hour (so a sample sent at
// Epoch lands in now's hour, never after now, and on-the-hour times stay on
// the hour), and every billing month moves with Epoch's New York month. A
// test that loads samples through Redate passes on any date, and at the
// instants make test pins the clock to (month ends, DST days, Feb 29).
func Redate(b []byte, now time.Time) []byte {
	shift := now.Truncate(time.Hour).Sub(Epoch)
	out := rfc3339.ReplaceAllFunc(b, func(m []byte) []byte {
		t, err := time.Parse(time.RFC3339Nano, string(m))
		if err != nil {
			return m
		}
		return []byte(t.Add(shift).Format(time.RFC3339Nano))
	})
	out = clf.ReplaceAllFunc(out, func(m []byte) []byte {
		t, err := time.Parse(clfLayout, string(m))
		if err != nil {
			return m
		}
		return []byte(t.Add(shift).Format(clfLayout))
	})
	out = epochMillis.ReplaceAllFunc(out, func(m []byte) []byte {
		g := epochMillis.FindSubmatch(m)
		ms, _ := strconv.ParseInt(string(g[2]), 10, 64)
		return append(append([]byte{}, g[1]...), strconv.FormatInt(ms+shift.Milliseconds(), 10)...)
	})
	zone, _ := time.LoadLocation(epochZone)
	months := monthIndex(Epoch.Add(shift).In(zone)) - monthIndex(Epoch.In(zone))
	return month.ReplaceAllFunc(out, func(m []byte) []byte {
		g := month.FindSubmatch(m)
		y, _ := strconv.Atoi(string(g[2]))
		mo, _ := strconv.Atoi(string(g[3]))
		i := y*12 + mo - 1 + months
		return append(append([]byte{}, g[1]...), fmt.Sprintf("%04d-%02d", i/12, i%12+1)...)
	})
}

func monthIndex(t time.Time) int { return t.Year()*12 + int(t.Month()) - 1 }

// Sample is one sample event file, re-dated.
type Sample struct {
	Name string // file name, e.g. "02-usage-signed.json"
	Path string
	JSON []byte
}

// Load returns the samples of events/<function>/*.json in file-name order,
// each re-dated to now with Redate. It finds events/ beside the go.mod above
// the working directory, so any package's test can call it. It fails when
// there are none.
func Load(function string, now time.Time) ([]Sample, error) {
	dir, err := Dir()
	if err != nil {
		return nil, err
	}
	paths, _ := filepath.Glob(filepath.Join(dir, function, "*.json"))
	if len(paths) == 0 {
		return nil, fmt.Errorf("no sample events under events/%s", function)
	}
	sort.Strings(paths)
	out := make([]Sample, 0, len(paths))
	for _, p := range paths {
		s, err := LoadFile(p, now)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// LoadFile reads one sample file and re-dates it to now.
func LoadFile(path string, now time.Time) (Sample, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Sample{}, err
	}
	return Sample{Name: filepath.Base(path), Path: path, JSON: Redate(b, now)}, nil
}

// Dir returns the repository's events/ directory: the one beside the first
// go.mod at or above the working directory.
func Dir() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, "events"), nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("samples: no go.mod above the working directory")
		}
		dir = parent
	}
}
