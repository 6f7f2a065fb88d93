package webhook

import (
	"context"

	"github.com/aws/aws-lambda-go/events"
)

// ServeAPIGateway is the Lambda handler behind the API Gateway HTTP API
// (payload format 2.0). It serves the event through the same handler as
// ServeHTTP (aws-lambda-go-api-proxy's httpadapter.NewV2).
func (h *Handler) ServeAPIGateway(ctx context.Context, ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	return h.adapter.ProxyWithContext(ctx, ev)
}
