package metrics_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/psabridge/psabridge/shared/metrics"
)

func TestCount(t *testing.T) {
	var buf bytes.Buffer
	e := &metrics.Emitter{W: &buf, Now: func() time.Time { return time.UnixMilli(1700000000000) }}
	e.Count(metrics.SyncEntries, 3, map[string]string{"Code": "line_updated"})
	var line struct {
		AWS struct {
			Timestamp         int64
			CloudWatchMetrics []struct {
				Namespace  string
				Dimensions [][]string
				Metrics    []struct{ Name, Unit string }
			}
		} `json:"_aws"`
		Code        string
		SyncEntries float64
	}
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatal(err)
	}
	cw := line.AWS.CloudWatchMetrics[0]
	if line.AWS.Timestamp != 1700000000000 || cw.Namespace != "psabridge" || cw.Dimensions[0][0] != "Code" ||
		cw.Metrics[0].Name != "SyncEntries" || line.Code != "line_updated" || line.SyncEntries != 3 {
		t.Fatalf("got %s, want an EMF line for SyncEntries=3 with Code", buf.String())
	}
}

// TestDegrade: one warning line with the operation, the error and the
// extra attributes, and one Degraded count; with no emitter, the line only.
func TestDegrade(t *testing.T) {
	for _, tc := range []struct {
		name    string
		emitter bool
		want    int
	}{{"Counted", true, 1}, {"NoEmitter", false, 0}} {
		t.Run(tc.name, func(t *testing.T) {
			var logs, emf bytes.Buffer
			var e *metrics.Emitter
			if tc.emitter {
				e = &metrics.Emitter{W: &emf}
			}
			log := slog.New(slog.NewJSONHandler(&logs, nil))
			metrics.Degrade(context.Background(), log, e, "pkg.step", "step skipped", errors.New("AccessDenied: no"), "tenant", "t1")
			var line map[string]any
			if err := json.Unmarshal(logs.Bytes(), &line); err != nil {
				t.Fatal(err)
			}
			for k, v := range map[string]string{"level": "WARN", "msg": "step skipped", "operation": "pkg.step", "err": "AccessDenied: no", "tenant": "t1"} {
				if line[k] != v {
					t.Errorf("log %s: got %v, want %q (line %s)", k, line[k], v, logs.String())
				}
			}
			if n := strings.Count(emf.String(), `"Degraded":1`); n != tc.want {
				t.Errorf("metrics: got %q, want Degraded=1 %d time(s)", emf.String(), tc.want)
			}
		})
	}
}
