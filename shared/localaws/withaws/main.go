// Command withaws starts DynamoDB Local and moto, runs a command with their
// endpoints in its environment, and stops them whatever happens. `make test`
// and `make bench` use it:
//
//	go run ./shared/localaws/withaws -- go test ./...
package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"syscall"

	"github.com/psabridge/psabridge/shared/localaws"
)

func main() { os.Exit(run()) }

func run() int {
	args := os.Args[1:]
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "usage: withaws -- command [args…]")
		return 2
	}
	stack, err := localaws.Start(context.Background(), localaws.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer stack.Stop()
	fmt.Fprintf(os.Stderr, "withaws: DynamoDB Local at %s, moto at %s\n", stack.DynamoDBEndpoint, stack.MotoEndpoint)

	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(), stack.Env()...)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	go func() {
		s := <-sig
		_ = cmd.Process.Signal(s)
	}()
	if err := cmd.Wait(); err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode()
		}
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}
