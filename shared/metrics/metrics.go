// Package metrics writes CloudWatch Embedded Metric Format (EMF) lines: a
// JSON log line that CloudWatch turns into metrics, so a Lambda publishes
// metrics without a PutMetricData call. The infra alarms watch them.
package metrics

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/psabridge/psabridge/shared/clock"
)

// Namespace is psabridge's CloudWatch namespace.
const Namespace = "psabridge"

// Names of the metrics psabridge emits.
const (
	SyncEntries     = "SyncEntries"     // dimension Code
	PSARequests     = "PSARequests"     // dimensions PSA, Status
	BudgetDeferrals = "BudgetDeferrals" // no dimension (the alarm watches the total)
	Tickets         = "Tickets"         // dimension Action: opened, noted, closed, skipped
	WebhookRejects  = "WebhookRejects"  // dimension Reason
	// Degraded counts dependency errors handled by carrying on without the
	// result. No dimension, so one alarm watches them all; each is logged
	// with its error and operation, so a denied or failing call never hides
	// behind a working fallback.
	Degraded = "Degraded"
)

// Emitter writes EMF lines. The zero value writes to stdout.
type Emitter struct {
	W   io.Writer
	Now func() time.Time
	mu  sync.Mutex
}

// Default writes to stdout.
var Default = &Emitter{}

// Count emits one metric with unit Count and the given dimensions
// (name → value). Properties of the line are the dimensions themselves.
func (e *Emitter) Count(name string, value float64, dims map[string]string) {
	now := clock.Now
	if e.Now != nil {
		now = e.Now
	}
	keys := make([]string, 0, len(dims))
	line := map[string]any{}
	for k, v := range dims {
		keys = append(keys, k)
		line[k] = v
	}
	dimSets := [][]string{keys}
	line["_aws"] = map[string]any{
		"Timestamp": now().UnixMilli(),
		"CloudWatchMetrics": []any{map[string]any{
			"Namespace":  Namespace,
			"Dimensions": dimSets,
			"Metrics":    []any{map[string]string{"Name": name, "Unit": "Count"}},
		}},
	}
	line[name] = value
	b, err := json.Marshal(line)
	if err != nil {
		return
	}
	w := e.W
	if w == nil {
		w = os.Stdout
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	_, _ = w.Write(append(b, '\n'))
}

// Degrade reports a dependency error (AWS, PSA) handled by carrying on
// without the result: a fallback taken, a best-effort step left undone. It
// logs msg at warning level with the operation ("package.step") and the
// error, plus attrs, on log (nil: slog.Default), and counts one Degraded on
// e (nil: not counted). It is the one way such an error is reported, so
// none is swallowed and one alarm watches them all.
func Degrade(ctx context.Context, log *slog.Logger, e *Emitter, operation, msg string, err error, attrs ...any) {
	if log == nil {
		log = slog.Default()
	}
	log.WarnContext(ctx, msg, append([]any{"operation", operation, "err", err}, attrs...)...)
	if e != nil {
		e.Count(Degraded, 1, nil)
	}
}
