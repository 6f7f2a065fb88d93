// Command webhook receives Encompass webhook deliveries (CONTRACTS section 4)
// and forwards verified ones to EventBridge. In Lambda it runs behind an API
// Gateway HTTP API through aws-lambda-go-api-proxy; elsewhere, or with -listen
// or LISTEN_ADDR, it serves the same handler as a plain HTTP server.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/awslabs/aws-lambda-go-api-proxy/httpadapter"

	"github.com/lenderops/encompass-lifecycle/pkg/config"
	"github.com/lenderops/encompass-lifecycle/pkg/publish"
	"github.com/lenderops/encompass-lifecycle/pkg/state"
	"github.com/lenderops/encompass-lifecycle/pkg/telemetry"
)

// defaultListen is the local server's address when not in Lambda.
const defaultListen = "127.0.0.1:8080"

func main() {
	listen := flag.String("listen", os.Getenv("LISTEN_ADDR"), "serve a local HTTP server on this address instead of the Lambda runtime (default "+defaultListen+" outside Lambda)")
	flag.Parse()

	ctx := context.Background()
	cfg, err := config.FromEnv(ctx, config.ForWebhook)
	if err != nil {
		fmt.Fprintln(os.Stderr, "webhook:", err)
		os.Exit(1)
	}
	log := telemetry.NewLogger(os.Stdout, cfg.LogLevel)
	h := newHandler(cfg, log, os.Stdout)

	if os.Getenv("AWS_LAMBDA_RUNTIME_API") != "" && *listen == "" {
		lambda.Start(httpadapter.NewV2(h).ProxyWithContext)
		return
	}
	if *listen == "" {
		*listen = defaultListen
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintln(os.Stderr, "webhook:", err)
		os.Exit(1)
	}
	if err := serve(ctx, ln, h, log); err != nil {
		fmt.Fprintln(os.Stderr, "webhook:", err)
		os.Exit(1)
	}
}

// newHandler wires configuration to the handler: keys, state table, bus, metrics.
// Keys from WEBHOOK_SECRET_ARN are read again while the container lives, so
// that a key added to the secret during a rotation is used without a cold
// start; WEBHOOK_SIGNING_KEYS (local runs) are fixed.
func newHandler(cfg *config.Config, log *slog.Logger, metrics io.Writer) *Handler {
	var keys SignatureVerifier = cfg.WebhookKeys
	if cfg.WebhookSecretARN != "" {
		keys = NewRefreshingKeys(cfg.WebhookKeys, SecretKeyLoader(secretsmanager.NewFromConfig(cfg.AWS), cfg.WebhookSecretARN), nil, log)
	}
	return NewHandler(
		keys,
		NewClaims(state.New(dynamodb.NewFromConfig(cfg.AWS), cfg.StateTable)),
		Bus{publish.New(eventbridge.NewFromConfig(cfg.AWS), cfg.EventBusName)},
		EMFRecorder{W: metrics, Dimensions: map[string]string{"Function": "webhook"}},
		log,
	)
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
