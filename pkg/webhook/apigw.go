package webhook

import (
	"context"
	"encoding/base64"
	"strings"

	"github.com/aws/aws-lambda-go/events"
)

// maxEncodedBody is the longest base64 text of a body that fits
// MaxBodyBytes: anything longer decodes to more than 256 KiB.
var maxEncodedBody = base64.StdEncoding.EncodedLen(MaxBodyBytes)

// ServeAPIGateway is the Lambda handler behind the API Gateway HTTP API
// (payload format 2.0). It serves the event through the same handler as
// ServeHTTP (aws-lambda-go-api-proxy's httpadapter.NewV2) and never returns
// an error, which API Gateway would turn into a 500 that no one can act on:
// a body marked isBase64Encoded that is not base64, or an event the adapter
// cannot turn into a request, is answered 400 like any other malformed
// request, after the size check (CONTRACTS section 4's order).
func (h *Handler) ServeAPIGateway(ctx context.Context, ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	if ev.IsBase64Encoded {
		if len(ev.Body) > maxEncodedBody {
			return h.answer(ctx, ev, verdict{outcome: OutcomeTooLarge, detail: "body over 256 KiB"}), nil
		}
		body, err := base64.StdEncoding.DecodeString(ev.Body)
		if err != nil {
			// The error gives an offset, never the body.
			return h.answer(ctx, ev, verdict{outcome: OutcomeMalformed, detail: "body marked isBase64Encoded is not base64: " + err.Error()}), nil
		}
		// Decoded once, here: the adapter takes the bytes as they are.
		ev.Body, ev.IsBase64Encoded = string(body), false
	}
	resp, err := h.adapter.ProxyWithContext(ctx, ev)
	if err != nil {
		// Only the request can make the conversion fail (a method or path
		// net/http refuses); the handler itself always answers.
		return h.answer(ctx, ev, verdict{outcome: OutcomeMalformed, detail: "the API Gateway event could not be turned into a request: " + err.Error()}), nil
	}
	return resp, nil
}

// answer records v and returns it as the API Gateway response, with the
// headers and body ServeHTTP would write.
func (h *Handler) answer(ctx context.Context, ev events.APIGatewayV2HTTPRequest, v verdict) events.APIGatewayV2HTTPResponse {
	h.record(ctx, h.log.With("subscriptionId", truncate(header(ev.Headers, subscriptionHeader), 64)), v)
	return events.APIGatewayV2HTTPResponse{
		StatusCode: v.outcome.status(),
		Headers:    map[string]string{"Content-Type": "application/json", "Cache-Control": "no-store"},
		Body:       statusBody(string(v.outcome)),
	}
}

// header finds a header of an API Gateway event, whose names API Gateway
// lower-cases (and other producers may not).
func header(headers map[string]string, name string) string {
	if v, ok := headers[strings.ToLower(name)]; ok {
		return v
	}
	for k, v := range headers {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}
