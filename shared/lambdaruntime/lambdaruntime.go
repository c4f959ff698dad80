// Package lambdaruntime is a test-only implementation of the AWS Lambda
// Runtime API (https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html)
// and a runner that starts a built `bootstrap` against it, so tests can prove
// each function binary the way Lambda drives it: the process polls
// /2018-06-01/runtime/invocation/next, answers with …/{id}/response or
// …/{id}/error, or reports /2018-06-01/runtime/init/error.
//
// It is not the Runtime Interface Emulator: one invocation at a time, no
// timeouts enforced beyond the deadline header, no extensions API.
package lambdaruntime

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

const apiPrefix = "/2018-06-01/runtime/"

// FunctionError is what a function reported through /error or /init/error.
type FunctionError struct {
	Type    string `json:"errorType"`
	Message string `json:"errorMessage"`
	// Init is true when the error came from /runtime/init/error.
	Init bool `json:"-"`
}

func (e *FunctionError) Error() string {
	where := "invocation"
	if e.Init {
		where = "init"
	}
	return fmt.Sprintf("%s error %s: %s", where, e.Type, e.Message)
}

type invocation struct {
	id      string
	payload []byte
	result  chan result
}

type result struct {
	payload []byte
	err     *FunctionError
}

// Server serves the Runtime API for one function process on 127.0.0.1.
type Server struct {
	// Timeout sets each invocation's Lambda-Runtime-Deadline-Ms; zero means 30 s.
	Timeout time.Duration
	// FunctionARN is sent as Lambda-Runtime-Invoked-Function-Arn.
	FunctionARN string

	ln       net.Listener
	srv      *http.Server
	queue    chan *invocation
	done     chan struct{}
	initErr  chan *FunctionError
	polled   chan struct{}
	pollOnce sync.Once
	pollAt   time.Time

	mu      sync.Mutex
	next    int
	pending map[string]*invocation
}

// NewServer listens on a free loopback port and serves the Runtime API.
func NewServer() (*Server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &Server{
		ln:      ln,
		queue:   make(chan *invocation),
		done:    make(chan struct{}),
		initErr: make(chan *FunctionError, 1),
		polled:  make(chan struct{}),
		pending: map[string]*invocation{},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+apiPrefix+"invocation/next", s.handleNext)
	mux.HandleFunc("POST "+apiPrefix+"invocation/{id}/response", s.handleResult(false))
	mux.HandleFunc("POST "+apiPrefix+"invocation/{id}/error", s.handleResult(true))
	mux.HandleFunc("POST "+apiPrefix+"init/error", s.handleInitError)
	s.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go s.srv.Serve(ln)
	return s, nil
}

// Addr is the host:port to put in AWS_LAMBDA_RUNTIME_API.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Close stops serving; pending polls return 500 so the runtime exits.
func (s *Server) Close() {
	select {
	case <-s.done:
	default:
		close(s.done)
	}
	_ = s.srv.Close()
}

// Polled is closed at the runtime's first GET …/invocation/next: the end of
// its init phase. FirstPoll is valid after that.
func (s *Server) Polled() <-chan struct{} { return s.polled }

// FirstPoll is when the first GET …/invocation/next arrived.
func (s *Server) FirstPoll() time.Time { return s.pollAt }

// InitError delivers the error a runtime posts to /runtime/init/error.
func (s *Server) InitError() <-chan *FunctionError { return s.initErr }

// Invoke hands payload to the next poll and waits for the function's answer.
// It returns the response body, or a *FunctionError when the function
// reported one, or ctx's error.
func (s *Server) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	s.mu.Lock()
	s.next++
	inv := &invocation{id: "smoke-" + strconv.Itoa(s.next), payload: payload, result: make(chan result, 1)}
	s.pending[inv.id] = inv
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.pending, inv.id)
		s.mu.Unlock()
	}()
	select {
	case s.queue <- inv:
	case <-ctx.Done():
		return nil, fmt.Errorf("no runtime polled for the invocation: %w", ctx.Err())
	}
	select {
	case r := <-inv.result:
		if r.err != nil {
			return r.payload, r.err
		}
		return r.payload, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("no response to invocation %s: %w", inv.id, ctx.Err())
	}
}

func (s *Server) handleNext(w http.ResponseWriter, r *http.Request) {
	s.pollOnce.Do(func() {
		s.pollAt = time.Now()
		close(s.polled)
	})
	select {
	case inv := <-s.queue:
		timeout := s.Timeout
		if timeout == 0 {
			timeout = 30 * time.Second
		}
		arn := s.FunctionARN
		if arn == "" {
			arn = "arn:aws:lambda:us-east-1:000000000000:function:smoke"
		}
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("Lambda-Runtime-Aws-Request-Id", inv.id)
		h.Set("Lambda-Runtime-Deadline-Ms", strconv.FormatInt(time.Now().Add(timeout).UnixMilli(), 10))
		h.Set("Lambda-Runtime-Invoked-Function-Arn", arn)
		h.Set("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000;Sampled=0")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(inv.payload)
	case <-s.done:
		http.Error(w, `{"errorType":"Shutdown"}`, http.StatusInternalServerError)
	case <-r.Context().Done():
	}
}

func (s *Server) handleResult(isError bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		s.mu.Lock()
		inv := s.pending[id]
		s.mu.Unlock()
		if inv == nil {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = io.WriteString(w, `{"errorType":"InvalidRequestID","errorMessage":"unknown request id"}`)
			return
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		res := result{payload: body}
		if isError {
			res.err = decodeError(body, r.Header.Get("Lambda-Runtime-Function-Error-Type"), false)
		}
		select {
		case inv.result <- res:
			w.WriteHeader(http.StatusAccepted)
			_, _ = io.WriteString(w, `{"status":"OK"}`)
		default:
			// A second answer for the same invocation: Lambda refuses it too.
			w.WriteHeader(http.StatusBadRequest)
			_, _ = io.WriteString(w, `{"errorType":"InvalidStateTransition"}`)
		}
	}
}

func (s *Server) handleInitError(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	select {
	case s.initErr <- decodeError(body, r.Header.Get("Lambda-Runtime-Function-Error-Type"), true):
	default:
	}
	w.WriteHeader(http.StatusAccepted)
	_, _ = io.WriteString(w, `{"status":"OK"}`)
}

func decodeError(body []byte, headerType string, init bool) *FunctionError {
	fe := &FunctionError{Init: init}
	if err := json.Unmarshal(body, fe); err != nil {
		fe.Message = string(body)
	}
	if fe.Type == "" {
		fe.Type = headerType
	}
	return fe
}

// Process is one running bootstrap attached to its own Server.
type Process struct {
	*Server
	// Started is when the process was started (just before exec).
	Started time.Time

	cmd    *exec.Cmd
	output *syncBuffer
	exited chan struct{}
	err    error
}

// Start runs binary with env plus AWS_LAMBDA_RUNTIME_API pointing at a new
// Server. The caller must Stop it.
func Start(binary string, env []string) (*Process, error) {
	srv, err := NewServer()
	if err != nil {
		return nil, err
	}
	p := &Process{Server: srv, output: &syncBuffer{}, exited: make(chan struct{})}
	p.cmd = exec.Command(binary)
	p.cmd.Env = append(append([]string(nil), env...), "AWS_LAMBDA_RUNTIME_API="+srv.Addr())
	p.cmd.Stdout, p.cmd.Stderr = p.output, p.output
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	p.Started = time.Now()
	if err := p.cmd.Start(); err != nil {
		srv.Close()
		return nil, err
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.exited)
	}()
	return p, nil
}

// WaitInit waits for the end of init (first poll) and returns its duration,
// process start → first GET …/invocation/next. It fails when the runtime
// reports an init error, exits, or ctx ends first.
func (p *Process) WaitInit(ctx context.Context) (time.Duration, error) {
	select {
	case <-p.Polled():
		return p.FirstPoll().Sub(p.Started), nil
	case fe := <-p.InitError():
		return 0, fe
	case <-p.exited:
		return 0, fmt.Errorf("process exited before polling (%v): %s", p.err, p.Output())
	case <-ctx.Done():
		return 0, fmt.Errorf("no poll: %w; output: %s", ctx.Err(), p.Output())
	}
}

// Output is everything the process wrote to stdout and stderr so far.
func (p *Process) Output() string { return p.output.String() }

// Stop kills the process and closes its Server. Safe to call more than once.
func (p *Process) Stop() {
	if p.cmd.Process != nil {
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.exited
	}
	p.Server.Close()
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.TrimSpace(b.b.String())
}

// Build compiles each <root>/functions/<name> with the Lambda build flags
// (-tags lambda.norpc -trimpath -ldflags=-s -w, CGO off) for goos/goarch
// into dir/<name>/bootstrap and returns the binaries by name. Extra build
// tags (e.g. testclock, which lets PSABRIDGE_TEST_NOW move the binaries'
// clock) are added to lambda.norpc. A name
// without main.go is not built but returned in missing, so callers can
// report it as such; a compile error fails the whole call.
func Build(ctx context.Context, root, dir, goos, goarch string, names []string, tags ...string) (bins map[string]string, missing []string, err error) {
	bins = map[string]string{}
	var pkgs []string
	for _, n := range names {
		if _, err := os.Stat(root + "/functions/" + n + "/main.go"); err != nil {
			missing = append(missing, n)
			continue
		}
		pkgs = append(pkgs, "./functions/"+n)
	}
	for _, pkg := range pkgs {
		n := strings.TrimPrefix(pkg, "./functions/")
		out := dir + "/" + n + "/bootstrap"
		cmd := exec.CommandContext(ctx, "go", "build", "-tags", strings.Join(append([]string{"lambda.norpc"}, tags...), ","), "-trimpath", "-ldflags=-s -w", "-o", out, pkg)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+goos, "GOARCH="+goarch)
		if b, err := cmd.CombinedOutput(); err != nil {
			return bins, missing, fmt.Errorf("go build %s: %v\n%s", pkg, err, b)
		}
		bins[n] = out
	}
	return bins, missing, nil
}
