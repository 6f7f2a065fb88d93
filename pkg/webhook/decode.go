package webhook

import (
	"fmt"
	"strings"

	"github.com/lenderops/encompass-lifecycle/pkg/encompass"
	"github.com/lenderops/encompass-lifecycle/pkg/strictjson"
)

// The members decodeDelivery reads, of the body and of its meta object.
var (
	topNames  = []string{"eventId", "eventType", "meta"}
	metaNames = []string{"resourceType"}
)

// decodeDelivery reads the fields the receiver acts on (eventId, eventType,
// meta.resourceType) from a body that is one JSON object without a
// duplicated key at any depth (CONTRACTS section 4).
//
// Both rules keep what the receiver acts on equal to what it forwards. With
// "eventId" given twice, encoding/json takes the last while a consumer of
// the forwarded body may take the first (issue 10, defect 7); and
// encoding/json matches struct fields without regard to case, so a body
// with "eventId" and "EventID" would be de-duplicated on a value that
// consumers, matching keys exactly as EventBridge rules do, never see. So
// keys are matched exactly here, as a map decoding would (walk.go).
func decodeDelivery(body []byte) (encompass.WebhookEvent, error) {
	var ev encompass.WebhookEvent
	if err := strictjson.CheckDuplicateKeys(body); err != nil {
		// The error names the key's path (ASCII-quoted and cut), never a value.
		return ev, fmt.Errorf("%w: %w", errMalformed, err)
	}
	var top [3][]byte
	if !objectMembers(body, topNames, top[:]) {
		return ev, fmt.Errorf("%w: the body is not a JSON object", errMalformed)
	}
	var meta [1][]byte
	if top[2] != nil && !objectMembers(top[2], metaNames, meta[:]) {
		return ev, fmt.Errorf("%w: meta is not a JSON object", errMalformed)
	}
	var missing []string
	for _, f := range []struct {
		name  string
		value []byte
		dst   *string
	}{
		{"eventId", top[0], &ev.EventID},
		{"eventType", top[1], &ev.EventType},
		{"meta.resourceType", meta[0], &ev.Meta.ResourceType},
	} {
		if err := decodeString(f.value, f.dst); err != nil {
			return ev, fmt.Errorf("%w: %s is not a string", errMalformed, f.name)
		}
		if strings.TrimSpace(*f.dst) == "" {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 {
		return ev, fmt.Errorf("%w: missing %s", errMalformed, strings.Join(missing, ", "))
	}
	return ev, nil
}
