package logging_test

import (
	"context"

	"bytes"
	"errors"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"log/slog"
	"strings"
	"testing"

	"github.com/psabridge/psabridge/shared/logging"
)

type creds struct {
	User   string
	Secret string
}

func TestHandler(t *testing.T) {
	const planted = "s3cr3t-VALUE-42"
	for _, tc := range []struct {
		name string
		log  func(l *slog.Logger)
		// want must appear in the output; the planted value never may.
		want string
	}{
		{"SecretKey", func(l *slog.Logger) { l.Info("x", "secret", "plain-text-secret") }, `"secret":"[REDACTED]"`},
		{"PrivateKeyCamel", func(l *slog.Logger) { l.Info("x", "privateKey", "abc") }, `"privateKey":"[REDACTED]"`},
		{"AuthorizationHeader", func(l *slog.Logger) { l.Info("x", "Authorization", "Bearer x.y.z") }, `"Authorization":"[REDACTED]"`},
		{"PlantedInString", func(l *slog.Logger) { l.Info("x", "url", "https://h/?k="+planted) }, `"url":"https://h/?k=[REDACTED]"`},
		{"PlantedInMessage", func(l *slog.Logger) { l.Info("saw " + planted) }, `"msg":"saw [REDACTED]"`},
		{"PlantedInError", func(l *slog.Logger) { l.Info("x", "err", errors.New("refused "+planted)) }, `"err":"refused [REDACTED]"`},
		{"PlantedInStruct", func(l *slog.Logger) { l.Info("x", "creds", creds{User: "u", Secret: planted}) }, `[REDACTED]`},
		{"PlantedInGroup", func(l *slog.Logger) { l.Info("x", slog.Group("req", "q", planted)) }, `"req":{"q":"[REDACTED]"}`},
		{"SecretKeyInGroup", func(l *slog.Logger) { l.Info("x", slog.Group("req", "token", "abc")) }, `"req":{"token":"[REDACTED]"}`},
		{"WithAttrs", func(l *slog.Logger) { l.With("password", "hunter22", "v", planted).Info("x") }, `"password":"[REDACTED]","v":"[REDACTED]"`},
		{"WithGroup", func(l *slog.Logger) { l.WithGroup("g").Info("x", "apiKey", "k") }, `"g":{"apiKey":"[REDACTED]"}`},
		{"Untouched", func(l *slog.Logger) { l.Info("x", "tenant", "acme", "n", 3) }, `"tenant":"acme","n":3`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			r := &logging.Redactor{}
			r.Add(planted, "abc") // "abc" is too short to register
			tc.log(logging.New(&buf, slog.LevelInfo, r))
			got := buf.String()
			if !strings.Contains(got, tc.want) {
				t.Errorf("got %s, want it to contain %s", got, tc.want)
			}
			for _, leak := range []string{planted, "plain-text-secret", "hunter22", "Bearer x.y.z"} {
				if strings.Contains(got, leak) {
					t.Errorf("got %s, which leaks %q", got, leak)
				}
			}
		})
	}
}

func TestShortValuesNotRegistered(t *testing.T) {
	var buf bytes.Buffer
	r := &logging.Redactor{}
	r.Add("abc")
	logging.New(&buf, slog.LevelInfo, r).Info("abc def", "k", "abcabc")
	if got := buf.String(); !strings.Contains(got, `"msg":"abc def"`) || !strings.Contains(got, `"k":"abcabc"`) {
		t.Errorf("got %s, want short values left alone", got)
	}
}

func TestNilRedactor(t *testing.T) {
	var buf bytes.Buffer
	logging.New(&buf, slog.LevelInfo, nil).Info("m", "secret", "x", "ok", "y")
	if got := buf.String(); !strings.Contains(got, `"secret":"[REDACTED]","ok":"y"`) {
		t.Errorf("got %s", got)
	}
}

func TestSecretKey(t *testing.T) {
	for key, want := range map[string]bool{
		"secret": true, "signingSecret": true, "privateKey": true, "private_key": true, "x-api-key": true,
		"Authorization": true, "password": true, "token": true, "tenant": false, "org": false, "publicKey": false, "err": false,
	} {
		if got := logging.SecretKey(key); got != want {
			t.Errorf("SecretKey(%q): got %v, want %v", key, got, want)
		}
	}
}

func BenchmarkHandler(b *testing.B) {
	var buf bytes.Buffer
	r := &logging.Redactor{}
	for i := 0; i < 20; i++ {
		r.Add(strings.Repeat("k", 10) + string(rune('a'+i)))
	}
	l := logging.New(&buf, slog.LevelInfo, r)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		buf.Reset()
		l.Info("request refused", "tenant", "acme", "org", "o1", "err", errors.New("unauthorized: bad"))
	}
}

// TestRequestID: every line logged with an invocation's context carries its
// Lambda request id; a line without one has none.
func TestRequestID(t *testing.T) {
	var buf bytes.Buffer
	l := logging.New(&buf, slog.LevelInfo, nil)
	ctx := lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: "8f5c2a1e-req"})
	l.With("tenant", "acme").InfoContext(ctx, "run started")
	l.InfoContext(context.Background(), "no invocation")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], `"requestId":"8f5c2a1e-req"`) || strings.Contains(lines[1], "requestId") {
		t.Fatalf("got %q, want the request id on the first line only", lines)
	}
}
