// Command local runs the whole of psabridge on this machine (`make run`):
// DynamoDB Local and moto, the table and queues, the PSA sandbox with a demo
// MSP, the REST API and webhook on 127.0.0.1:8080, the queue pollers and the
// hourly sync tick; it seeds three demo tenants (one per PSA) through the public API and
// prints how to use them. Ctrl-C stops everything it started.
//
// With -admin-token it instead prints a billing-admin token of a tenant of
// the running stack (e.g. one provisioned with POST /v1/platform/tenants),
// signed with the dev key it keeps in .local/; it exits 1, saying why, for
// a tenant the stack does not know:
//
//	TOKEN=$(go run ./functions/local -admin-token my-msp)
//
// With -post-usage it instead signs a sample usage request from events/ and
// posts it to a running instance:
//
//	go run ./functions/local -post-usage events/local/usage.json -tenant demo-autotask -secret whsec_…
//
// The logic lives in shared/devstack; this file is wiring and flags.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"
	_ "time/tzdata" // the schedule's and tenants' time zones without system tzdata

	"github.com/psabridge/psabridge/shared/clock"
	"github.com/psabridge/psabridge/shared/devstack"
)

func main() { os.Exit(run()) }

func run() int {
	var (
		addr     = flag.String("addr", devstack.DefaultAddr, "listen address of the REST API and webhook")
		persist  = flag.Bool("persist", false, "keep DynamoDB Local's data under .local/dynamodb and the dev JWT key in "+devstack.DefaultKeyFile+" across runs (default: data in memory, a new key each start)")
		adminFor = flag.String("admin-token", "", "print a billing-admin token of this tenant for the running stack (-api), then exit")
		seed     = flag.String("seed", "", "sandbox JSON seed file replacing the demo PSA data")
		noDemo   = flag.Bool("no-demo", false, "start the stack without seeding the demo tenants")
		verbose  = flag.Bool("v", false, "show the services' JSON logs, their EMF metric lines and DynamoDB Local's output")
		motoLog  = flag.Bool("moto-log", false, "show moto's output too (its access log: a line per SQS and Secrets Manager request)")
		postFile = flag.String("post-usage", "", "sign and post this usage sample to a running instance, then exit")
		api      = flag.String("api", "http://"+devstack.DefaultAddr, "with -post-usage or -admin-token: the API's base URL")
		tenant   = flag.String("tenant", "demo-autotask", "with -post-usage: the tenant")
		secret   = flag.String("secret", "", "with -post-usage: the tenant's signing secret (printed by make run)")
	)
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	if *adminFor != "" {
		tok, err := devstack.AdminTokenFromKeyFile(ctx, *api, devstack.DefaultKeyFile, *adminFor, clock.Now())
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		fmt.Println(tok)
		return 0
	}
	if *postFile != "" {
		out, err := devstack.PostUsageSample(ctx, *api, *tenant, *secret, *postFile)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		fmt.Println(string(out))
		return 0
	}

	level, serverLog, metricLines := slog.LevelWarn, (*os.File)(nil), io.Writer(nil)
	if *verbose {
		level, serverLog, metricLines = slog.LevelInfo, os.Stderr, os.Stderr
	}
	var moto *os.File
	if *motoLog {
		moto = os.Stderr
	}
	opt := devstack.Options{
		Addr:      *addr,
		SeedFile:  *seed,
		LogOutput: os.Stderr,
		LogLevel:  level,
		ServerLog: serverLog,
		MotoLog:   moto,
		Metrics:   metricLines,
		KeyFile:   devstack.DefaultKeyFile,
		KeepKey:   *persist,
	}
	if *persist {
		opt.DataDir = ".local/dynamodb"
	}
	realPSA, err := devstack.RealPSAFromEnv(os.Getenv)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	began := time.Now()
	fmt.Println("Starting DynamoDB Local, moto, the PSA sandbox and the API…")
	stack, err := devstack.Start(ctx, opt)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() {
		fmt.Println("\nStopping…")
		stack.Close()
		fmt.Println("Stopped.")
	}()
	res := devstack.Result{}
	if !*noDemo {
		plan, err := devstack.DemoPlan()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		fmt.Println("Seeding the demo tenants through the public API…")
		demo := &devstack.Demo{Stack: stack, Plan: plan, Out: os.Stdout, RealPSA: realPSA}
		if res, err = demo.Run(ctx); err != nil {
			fmt.Fprintln(os.Stderr, "demo:", err)
			if ctx.Err() != nil {
				return 1
			}
			fmt.Fprintln(os.Stderr, "The stack keeps running; Ctrl-C stops it.")
		}
	}
	devstack.PrintReady(os.Stdout, stack, res, time.Since(began))
	<-ctx.Done()
	return 0
}
