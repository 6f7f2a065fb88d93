package webhook

import (
	"context"
	"encoding/json"

	"github.com/lenderops/encompass-lifecycle/pkg/catalog"
	"github.com/lenderops/encompass-lifecycle/pkg/publish"
)

// Bus adapts *publish.Publisher to Publisher: one event, source
// encompass.webhook, the delivered payload as detail.
type Bus struct{ Publisher *publish.Publisher }

// PublishWebhook puts the delivery on the bus.
func (b Bus) PublishWebhook(ctx context.Context, detailType string, detail json.RawMessage) error {
	return b.Publisher.Publish(ctx, publish.Event{Source: catalog.SourceWebhook, DetailType: detailType, Detail: detail})
}
