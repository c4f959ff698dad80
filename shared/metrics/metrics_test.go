package metrics_test

import (
	"bytes"
	"encoding/json"
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
