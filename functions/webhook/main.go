// Command webhook receives Encompass webhook deliveries (CONTRACTS section 4)
// and forwards verified ones to EventBridge; pkg/webhook does the work. In
// Lambda it runs behind an API Gateway HTTP API; elsewhere, or with -listen
// or LISTEN_ADDR, it serves the same handler as a plain HTTP server.
//
// This file only wires: configuration -> clients -> handler -> lambda.Start
// (or the local server).
package main

import (
	"context"
	"errors"
	"flag"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/lenderops/encompass-lifecycle/pkg/coldstart"
	"github.com/lenderops/encompass-lifecycle/pkg/config"
	"github.com/lenderops/encompass-lifecycle/pkg/webhook"
)

// name is the function's name in logs and metrics.
const name = "webhook"

// defaultListen is the local server's address when not in Lambda.
const defaultListen = "127.0.0.1:8080"

func main() {
	listen := flag.String("listen", os.Getenv("LISTEN_ADDR"), "serve a local HTTP server on this address instead of the Lambda runtime (default "+defaultListen+" outside Lambda)")
	flag.Parse()

	ctx := context.Background()
	h, log, err := build(ctx, os.Stdout)
	if err != nil {
		coldstart.Fail(os.Stdout, name, err)
		os.Exit(1)
	}
	if os.Getenv("AWS_LAMBDA_RUNTIME_API") != "" && *listen == "" {
		lambda.Start(h.ServeAPIGateway)
		return
	}
	if *listen == "" {
		*listen = defaultListen
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	ln, err := net.Listen("tcp", *listen)
	if err == nil {
		err = serve(ctx, ln, h, log)
	}
	if err != nil {
		coldstart.Fail(os.Stdout, name, err)
		os.Exit(1)
	}
}

// build wires the configuration to the handler: signing keys, the state
// table's claims, the bus, the metrics. Keys from WEBHOOK_SECRET_ARN are read
// again while the container lives, through the reader that read them at cold
// start (so that a key added during a rotation is used without a cold
// start); WEBHOOK_SIGNING_KEYS (local runs) are fixed. Any error names the
// variable at fault.
func build(ctx context.Context, out io.Writer) (*webhook.Handler, *slog.Logger, error) {
	cfg, err := config.FromEnv(ctx, config.ForWebhook)
	if err != nil {
		return nil, nil, err
	}
	log := coldstart.Logger(cfg, out, name)
	keys := webhook.FixedKeys(cfg.WebhookKeys)
	if cfg.WebhookSecretARN != "" {
		keys = webhook.SecretKeys(cfg.Secrets, cfg.WebhookSecretARN, cfg.WebhookKeys, log)
	}
	return webhook.NewHandler(webhook.Deps{
		Keys:      keys,
		Claims:    webhook.NewClaims(coldstart.State(cfg), log),
		Publisher: webhook.Bus{Publisher: coldstart.Publisher(cfg, nil)},
		Metrics:   webhook.EMFRecorder{W: out, Dimensions: map[string]string{"Function": name}},
		Logger:    log,
	}), log, nil
}

// serve runs the local HTTP server until ctx ends. The timeouts bound slow
// clients the way API Gateway does in front of the Lambda.
func serve(ctx context.Context, ln net.Listener, h http.Handler, log *slog.Logger) error {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second,
		MaxHeaderBytes:    16 << 10,
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	log.InfoContext(ctx, "webhook receiver listening", "addr", ln.Addr().String())
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil {
		return err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
