package lambdaruntime_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/psabridge/psabridge/shared/lambdaruntime"
)

// echoBinary builds testdata/functions/echo once per test binary.
var echoBuild struct {
	once sync.Once
	path string
	err  error
	dir  string
}

// MustEchoBinary returns the fixture function built like a Lambda bootstrap.
func MustEchoBinary(tb testing.TB) string {
	tb.Helper()
	echoBuild.once.Do(func() {
		echoBuild.dir, echoBuild.err = os.MkdirTemp("", "lambdaruntime-echo")
		if echoBuild.err != nil {
			return
		}
		var bins map[string]string
		bins, _, echoBuild.err = lambdaruntime.Build(context.Background(), "testdata", echoBuild.dir, runtime.GOOS, runtime.GOARCH, []string{"echo"})
		echoBuild.path = bins["echo"]
	})
	if echoBuild.err != nil {
		tb.Fatalf("build echo fixture: %v", echoBuild.err)
	}
	return echoBuild.path
}

func MustStart(tb testing.TB, bin string, env ...string) *lambdaruntime.Process {
	tb.Helper()
	p, err := lambdaruntime.Start(bin, append(os.Environ(), env...))
	if err != nil {
		tb.Fatalf("start %s: %v", bin, err)
	}
	tb.Cleanup(p.Stop)
	return p
}

func ctx(tb testing.TB) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	tb.Cleanup(cancel)
	return c
}

// buildCtx bounds building binaries: on a fresh machine with an empty Go
// build cache, compiling the AWS SDK and the functions takes minutes.
func buildCtx(tb testing.TB) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	tb.Cleanup(cancel)
	return c
}

func TestProcess(t *testing.T) {
	bin := MustEchoBinary(t)
	t.Run("OK", func(t *testing.T) {
		p := MustStart(t, bin)
		if d, err := p.WaitInit(ctx(t)); err != nil || d <= 0 {
			t.Fatalf("init: got %v, %v; want a positive duration", d, err)
		}
		for _, ev := range []string{`{"a":1}`, `[1,2]`, `"x"`} {
			got, err := p.Invoke(ctx(t), []byte(ev))
			if err != nil || string(got) != ev {
				t.Errorf("invoke %s: got %s, %v; want the event back", ev, got, err)
			}
		}
	})
	t.Run("ErrInvocation", func(t *testing.T) {
		p := MustStart(t, bin)
		_, err := p.Invoke(ctx(t), []byte(`{"fail":"boom"}`))
		var fe *lambdaruntime.FunctionError
		if !errors.As(err, &fe) || fe.Message != "boom" || fe.Init {
			t.Fatalf("got %v, want invocation error boom", err)
		}
		// The runtime keeps serving after a failed invocation.
		if got, err := p.Invoke(ctx(t), []byte(`{}`)); err != nil || string(got) != `{}` {
			t.Errorf("after error: got %s, %v", got, err)
		}
	})
	t.Run("ErrExitAtInit", func(t *testing.T) {
		p := MustStart(t, bin, "ECHO_EXIT_AT_INIT=1")
		_, err := p.WaitInit(ctx(t))
		if err == nil || !strings.Contains(err.Error(), "exiting at init as asked") {
			t.Fatalf("got %v, want the exit with the process output", err)
		}
	})
}

// runtimeClient plays the function side of the Runtime API by hand, for the
// cases aws-lambda-go never produces.
type runtimeClient struct {
	tb   testing.TB
	base string
}

func (c runtimeClient) do(method, path, body string) (int, http.Header, string) {
	c.tb.Helper()
	req, _ := http.NewRequest(method, "http://"+c.base+"/2018-06-01/runtime/"+path, strings.NewReader(body))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		c.tb.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header, string(b)
}

func TestServer(t *testing.T) {
	t.Run("NextHeadersAndResponse", func(t *testing.T) {
		s, err := lambdaruntime.NewServer()
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		c := runtimeClient{t, s.Addr()}
		type out struct {
			b   []byte
			err error
		}
		done := make(chan out, 1)
		go func() {
			b, err := s.Invoke(ctx(t), []byte(`{"x":1}`))
			done <- out{b, err}
		}()
		code, h, body := c.do("GET", "invocation/next", "")
		id := h.Get("Lambda-Runtime-Aws-Request-Id")
		if code != 200 || body != `{"x":1}` || id == "" || h.Get("Lambda-Runtime-Deadline-Ms") == "" || h.Get("Lambda-Runtime-Invoked-Function-Arn") == "" {
			t.Fatalf("next: got %d %v %s", code, h, body)
		}
		select {
		case <-s.Polled():
		default:
			t.Error("Polled not closed after the first next")
		}
		if code, _, _ := c.do("POST", "invocation/unknown/response", "{}"); code != http.StatusBadRequest {
			t.Errorf("unknown id: got %d, want 400", code)
		}
		if code, _, _ := c.do("POST", "invocation/"+id+"/response", `{"ok":true}`); code != http.StatusAccepted {
			t.Errorf("response: got %d, want 202", code)
		}
		if o := <-done; o.err != nil || string(o.b) != `{"ok":true}` {
			t.Errorf("invoke: got %s, %v", o.b, o.err)
		}
	})
	t.Run("InitError", func(t *testing.T) {
		s, err := lambdaruntime.NewServer()
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		c := runtimeClient{t, s.Addr()}
		if code, _, _ := c.do("POST", "init/error", `{"errorType":"Runtime.ConfigError","errorMessage":"PSABRIDGE_TABLE not set"}`); code != http.StatusAccepted {
			t.Fatalf("init/error: got %d, want 202", code)
		}
		fe := <-s.InitError()
		if !fe.Init || fe.Type != "Runtime.ConfigError" || fe.Message != "PSABRIDGE_TABLE not set" {
			t.Errorf("got %+v", fe)
		}
	})
	t.Run("ErrorWithoutJSONBody", func(t *testing.T) {
		s, err := lambdaruntime.NewServer()
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		c := runtimeClient{t, s.Addr()}
		done := make(chan error, 1)
		go func() { _, err := s.Invoke(ctx(t), []byte(`{}`)); done <- err }()
		_, h, _ := c.do("GET", "invocation/next", "")
		req, _ := http.NewRequest("POST", "http://"+s.Addr()+"/2018-06-01/runtime/invocation/"+h.Get("Lambda-Runtime-Aws-Request-Id")+"/error", strings.NewReader("plain text"))
		req.Header.Set("Lambda-Runtime-Function-Error-Type", "Unhandled")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		var fe *lambdaruntime.FunctionError
		if err := <-done; !errors.As(err, &fe) || fe.Type != "Unhandled" || fe.Message != "plain text" {
			t.Errorf("got %v, want Unhandled: plain text", err)
		}
	})
}

func TestBuildReportsMissingMain(t *testing.T) {
	bins, missing, err := lambdaruntime.Build(buildCtx(t), "testdata", t.TempDir(), runtime.GOOS, runtime.GOARCH, []string{"echo", "nosuchfunction"})
	if err != nil {
		t.Fatal(err)
	}
	if len(missing) != 1 || missing[0] != "nosuchfunction" {
		t.Errorf("missing: got %v, want [nosuchfunction]", missing)
	}
	if _, err := os.Stat(bins["echo"]); err != nil || filepath.Base(bins["echo"]) != "bootstrap" {
		t.Errorf("echo: got %q, %v; want a bootstrap", bins["echo"], err)
	}
}
