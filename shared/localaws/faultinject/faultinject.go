// Package faultinject makes AWS SDK clients fail the way an unreliable
// cloud does, for tests against DynamoDB Local and moto: a chosen call
// gets an AWS error, a timeout that outlives the caller's deadline, or a
// lost response, or its service is unreachable.
//
// A fault applies to one operation call as the caller sees it: every
// attempt of the SDK's retries of that call meets it, so the caller gets
// the error the SDK would give after retrying a real outage. The faults sit
// in the HTTP client, under the SDK's retryer, signing and checksums, so
// the SDK handles them as it handles real ones.
package faultinject

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"sync"
	"syscall"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/smithy-go/middleware"
)

// Kind is a kind of fault.
type Kind int

// The faults.
const (
	// None lets the call through.
	None Kind = iota
	// Error: AWS answers HTTP 500 InternalFailure; nothing was done.
	Error
	// Timeout: the request is carried out, but its answer comes only after
	// the caller's context ended (the caller cannot tell whether it was).
	Timeout
	// LostResponse: the request is carried out, then the connection drops
	// before the answer arrives.
	LostResponse
	// Unreachable: the connection is refused; nothing was done.
	Unreachable
)

// Kinds lists the faults a call can meet, for tables.
var Kinds = []Kind{Error, Timeout, LostResponse, Unreachable}

func (k Kind) String() string {
	return [...]string{"None", "Error", "Timeout", "LostResponse", "Unreachable"}[k]
}

// Call is one operation call as the injector sees it.
type Call struct {
	// Service is the SDK's service id ("DynamoDB", "SQS", "Secrets Manager").
	Service string
	// Operation is the API action ("PutItem").
	Operation string
	// Input is the operation's input (*dynamodb.PutItemInput, …).
	Input any
}

// Injector decides which calls fail. Safe for concurrent use.
type Injector struct {
	// Decide is asked once per operation call; nil lets every call through.
	// Set it before the first call, or change it with Set.
	Decide func(Call) Kind

	mu       sync.Mutex
	injected map[string]int
}

// Injected returns how many calls met each fault, by "Operation/Kind".
func (i *Injector) Injected() map[string]int {
	i.mu.Lock()
	defer i.mu.Unlock()
	out := make(map[string]int, len(i.injected))
	for k, v := range i.injected {
		out[k] = v
	}
	return out
}

// Set replaces Decide, e.g. to take a service down and bring it back
// between requests.
func (i *Injector) Set(decide func(Call) Kind) {
	i.mu.Lock()
	i.Decide = decide
	i.mu.Unlock()
}

// Down returns a Decide that makes every call to service (an SDK service
// id: "DynamoDB", "SQS", "Secrets Manager") meet kind.
func Down(service string, kind Kind) func(Call) Kind {
	return func(c Call) Kind {
		if c.Service == service {
			return kind
		}
		return None
	}
}

type faultKey struct{}

// decide is an Initialize step: it runs once per operation call, before
// the retry loop, and hands its decision down to every attempt.
func (i *Injector) decide(stack *middleware.Stack) error {
	return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("faultinject", func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
		kind := None
		i.mu.Lock()
		decide := i.Decide
		i.mu.Unlock()
		if decide != nil {
			kind = decide(Call{Service: awsmiddleware.GetServiceID(ctx), Operation: awsmiddleware.GetOperationName(ctx), Input: in.Parameters})
		}
		if kind != None {
			i.mu.Lock()
			if i.injected == nil {
				i.injected = map[string]int{}
			}
			i.injected[awsmiddleware.GetOperationName(ctx)+"/"+kind.String()]++
			i.mu.Unlock()
			ctx = context.WithValue(ctx, faultKey{}, kind)
		}
		return next.HandleInitialize(ctx, in)
	}), middleware.After)
}

// transport carries out the faults of the calls decided on.
type transport struct{ next aws.HTTPClient }

func (t transport) Do(req *http.Request) (*http.Response, error) {
	kind, _ := req.Context().Value(faultKey{}).(Kind)
	switch kind {
	case Error:
		body := `{"__type":"InternalFailure","message":"injected fault"}`
		return &http.Response{
			StatusCode: http.StatusInternalServerError, Status: "500 Internal Server Error",
			Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
			Header: http.Header{"Content-Type": {"application/x-amz-json-1.0"}, "X-Amzn-Errortype": {"InternalFailure"},
				"X-Amzn-Query-Error": {"InternalFailure;Receiver"}},
			Body: io.NopCloser(bytes.NewReader([]byte(body))), ContentLength: int64(len(body)), Request: req,
		}, nil
	case Unreachable:
		return nil, &url.Error{Op: req.Method, URL: req.URL.String(),
			Err: &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}}
	case Timeout, LostResponse:
		resp, err := t.next.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
		}
		if kind == Timeout {
			<-req.Context().Done()
			return nil, &url.Error{Op: req.Method, URL: req.URL.String(), Err: req.Context().Err()}
		}
		return nil, &url.Error{Op: req.Method, URL: req.URL.String(),
			Err: &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}}
	}
	return t.next.Do(req)
}

func (i *Injector) httpClient(next aws.HTTPClient) aws.HTTPClient {
	if next == nil {
		next = awshttp.NewBuildableClient()
	}
	return transport{next: next}
}

// DynamoDB is a dynamodb.Options function that routes the client's calls
// through the injector.
func (i *Injector) DynamoDB(o *dynamodb.Options) {
	o.APIOptions = append(o.APIOptions, i.decide)
	o.HTTPClient = i.httpClient(o.HTTPClient)
}

// SQS is an sqs.Options function that routes the client's calls through
// the injector.
func (i *Injector) SQS(o *sqs.Options) {
	o.APIOptions = append(o.APIOptions, i.decide)
	o.HTTPClient = i.httpClient(o.HTTPClient)
}

// SecretsManager is a secretsmanager.Options function that routes the
// client's calls through the injector.
func (i *Injector) SecretsManager(o *secretsmanager.Options) {
	o.APIOptions = append(o.APIOptions, i.decide)
	o.HTTPClient = i.httpClient(o.HTTPClient)
}

// Blackhole returns the URL of a loopback endpoint that accepts
// connections and never answers, like an address whose packets are
// dropped: a call to it ends only when its context does. It closes when
// the test ends.
func Blackhole(tb testing.TB) string {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	tb.Cleanup(func() {
		_ = l.Close()
		<-done
		for _, c := range conns {
			_ = c.Close()
		}
	})
	return "http://" + l.Addr().String()
}
