package encompass

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"net/url"
	"path"
	"strings"
)

// Webhook delivery headers.
const (
	HeaderSignature      = "Elli-Signature"
	HeaderSubscriptionID = "Elli-SubscriptionId"
	HeaderEnvironment    = "Elli-Environment"
)

// Webhook verification errors.
var (
	// ErrUnknownSubscription: no signing key for the subscription id.
	ErrUnknownSubscription = errors.New("encompass: unknown webhook subscription")
	// ErrBadSignature: the signature is missing, malformed or wrong.
	ErrBadSignature = errors.New("encompass: bad webhook signature")
	// ErrBadPayload: the body is not a webhook event.
	ErrBadPayload = errors.New("encompass: bad webhook payload")
)

// WebhooksService manages webhook subscriptions (/webhook/v1/subscriptions).
type WebhooksService struct{ c *Client }

// Subscription is a webhook subscription. SigningKey is sent as
// `signingkey` (the API ignores `signingKey`) and is never printed.
type Subscription struct {
	ID                 string         `json:"-"`
	Endpoint           string         `json:"endpoint"`
	Resource           string         `json:"resource"`
	Events             []string       `json:"events"`
	SigningKey         string         `json:"signingkey,omitempty"`
	EnableSubscription *bool          `json:"enableSubscription,omitempty"`
	Filters            map[string]any `json:"filters,omitempty"`
}

// UnmarshalJSON reads subscriptionId (or id) into ID.
func (s *Subscription) UnmarshalJSON(b []byte) error {
	type plain Subscription
	var p plain
	if err := json.Unmarshal(b, &p); err != nil {
		return fmt.Errorf("subscription: %w", err)
	}
	var ids struct {
		SubscriptionID json.RawMessage `json:"subscriptionId"`
		ID             json.RawMessage `json:"id"`
	}
	if err := json.Unmarshal(b, &ids); err != nil {
		return fmt.Errorf("subscription: %w", err)
	}
	id, err := flexString(ids.SubscriptionID)
	if err == nil && id == "" {
		id, err = flexString(ids.ID)
	}
	if err != nil {
		return fmt.Errorf("subscription id: %w", err)
	}
	*s = Subscription(p)
	s.ID = id
	return nil
}

// String prints the subscription without its signing key.
func (s Subscription) String() string {
	return fmt.Sprintf("Subscription{id=%s resource=%s events=%v endpoint=%s}", s.ID, s.Resource, s.Events, s.Endpoint)
}

// ListSubscriptions returns the application's subscriptions.
func (s *WebhooksService) ListSubscriptions(ctx context.Context) ([]Subscription, error) {
	var raw []byte
	if err := s.c.do(ctx, call{method: http.MethodGet, path: "/webhook/v1/subscriptions", endpoint: "/webhook/v1/subscriptions"}, nil, &raw); err != nil {
		return nil, fmt.Errorf("list subscriptions: %w", err)
	}
	subs, err := decodeList[Subscription](raw)
	if err != nil {
		return nil, fmt.Errorf("list subscriptions: %w", err)
	}
	return subs, nil
}

// CreateSubscription creates a subscription and returns its id, which the
// API answers only in the Location header. A create is not retried after it
// was sent (a subscription has no natural key to look up).
func (s *WebhooksService) CreateSubscription(ctx context.Context, sub Subscription) (string, error) {
	if sub.Endpoint == "" || sub.Resource == "" || len(sub.Events) == 0 {
		return "", fmt.Errorf("create subscription: endpoint, resource and events are required: %w", ErrInvalidArgument)
	}
	var loc string
	cl := call{method: http.MethodPost, path: "/webhook/v1/subscriptions", endpoint: "/webhook/v1/subscriptions", create: true,
		onResponse: func(resp *http.Response) { loc = resp.Header.Get("Location") }}
	if err := s.c.do(ctx, cl, sub, nil); err != nil {
		return "", fmt.Errorf("create subscription: %w", err)
	}
	if loc == "" {
		return "", fmt.Errorf("create subscription: answer has no Location header")
	}
	if u, err := url.Parse(loc); err == nil {
		loc = u.Path
	}
	id := path.Base(strings.TrimRight(loc, "/"))
	if id == "" || id == "." || id == "/" || id == "subscriptions" {
		return "", fmt.Errorf("create subscription: no id in Location %q", truncate(loc, 100))
	}
	return id, nil
}

// GetSubscription returns one subscription. The API never answers its
// signing key, so SigningKey is empty.
func (s *WebhooksService) GetSubscription(ctx context.Context, id string) (*Subscription, error) {
	if err := checkID(id); err != nil {
		return nil, fmt.Errorf("get subscription: %w", err)
	}
	var sub Subscription
	if err := s.c.do(ctx, call{method: http.MethodGet, path: "/webhook/v1/subscriptions/" + url.PathEscape(id), endpoint: "/webhook/v1/subscriptions/{id}"}, nil, &sub); err != nil {
		return nil, fmt.Errorf("get subscription %s: %w", id, err)
	}
	if sub.ID == "" {
		sub.ID = id
	}
	return &sub, nil
}

// UpdateSubscription replaces subscription id with sub (PUT: endpoint,
// resource and events are required, as for a create). A sub without
// SigningKey keeps the current key; a SigningKey that does not meet the key
// policy is refused before anything is sent (ErrInvalidArgument), and the
// error never quotes it. A PUT is idempotent, so it is retried like a read.
func (s *WebhooksService) UpdateSubscription(ctx context.Context, id string, sub Subscription) error {
	if err := checkID(id); err != nil {
		return fmt.Errorf("update subscription: %w", err)
	}
	if sub.Endpoint == "" || sub.Resource == "" || len(sub.Events) == 0 {
		return fmt.Errorf("update subscription %s: endpoint, resource and events are required: %w", id, ErrInvalidArgument)
	}
	if sub.SigningKey != "" && !ValidSigningKey(sub.SigningKey) {
		return fmt.Errorf("update subscription %s: the signing key does not meet the key policy (32-64 characters, upper, lower, digit and one of !@#$^&*): %w", id, ErrInvalidArgument)
	}
	if err := s.c.do(ctx, call{method: http.MethodPut, path: "/webhook/v1/subscriptions/" + url.PathEscape(id), endpoint: "/webhook/v1/subscriptions/{id}"}, sub, nil); err != nil {
		return fmt.Errorf("update subscription %s: %w", id, err)
	}
	return nil
}

// DeleteSubscription deletes a subscription.
func (s *WebhooksService) DeleteSubscription(ctx context.Context, id string) error {
	if err := checkID(id); err != nil {
		return fmt.Errorf("delete subscription: %w", err)
	}
	if err := s.c.do(ctx, call{method: http.MethodDelete, path: "/webhook/v1/subscriptions/" + url.PathEscape(id), endpoint: "/webhook/v1/subscriptions/{id}"}, nil, nil); err != nil {
		return fmt.Errorf("delete subscription %s: %w", id, err)
	}
	return nil
}

// WebhookEvent is a webhook delivery body.
type WebhookEvent struct {
	EventID   string      `json:"eventId"`
	EventTime string      `json:"eventTime"`
	EventType string      `json:"eventType"`
	Meta      WebhookMeta `json:"meta"`
}

// WebhookMeta describes the resource the event is about.
type WebhookMeta struct {
	UserID       string          `json:"userId,omitempty"`
	ResourceType string          `json:"resourceType"`
	ResourceID   string          `json:"resourceId,omitempty"`
	InstanceID   string          `json:"instanceId,omitempty"`
	ResourceRef  string          `json:"resourceRef,omitempty"`
	Payload      json.RawMessage `json:"payload,omitempty"`
}

// ParseWebhookEvent decodes a delivery body and checks the fields every
// consumer relies on (eventId, eventType, meta.resourceType). Errors match
// ErrBadPayload.
func ParseWebhookEvent(body []byte) (WebhookEvent, error) {
	var ev WebhookEvent
	if err := json.Unmarshal(body, &ev); err != nil {
		return WebhookEvent{}, fmt.Errorf("%w: %v", ErrBadPayload, err)
	}
	var missing []string
	if strings.TrimSpace(ev.EventID) == "" {
		missing = append(missing, "eventId")
	}
	if strings.TrimSpace(ev.EventType) == "" {
		missing = append(missing, "eventType")
	}
	if strings.TrimSpace(ev.Meta.ResourceType) == "" {
		missing = append(missing, "meta.resourceType")
	}
	if len(missing) > 0 {
		return WebhookEvent{}, fmt.Errorf("%w: missing %s", ErrBadPayload, strings.Join(missing, ", "))
	}
	return ev, nil
}

// DetailType is the EventBridge detail-type for the event, e.g. "Loan update".
func (e WebhookEvent) DetailType() string { return e.Meta.ResourceType + " " + e.EventType }

// Sign returns the Elli-Signature of body: standard base64 of
// HMAC-SHA256(key, body).
func Sign(key string, body []byte) string {
	m := hmac.New(sha256.New, []byte(key))
	m.Write(body)
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// SigningKeys maps a subscription id to its signing keys (several while a
// key is being rotated).
type SigningKeys map[string][]string

// maxSignatureLen bounds the header we decode; a SHA-256 MAC is 44 chars.
const maxSignatureLen = 128

// Verify checks signature against body with every key of subscriptionID,
// in constant time per key. It returns nil, ErrUnknownSubscription or
// ErrBadSignature. It never reveals a key.
func (k SigningKeys) Verify(subscriptionID string, body []byte, signature string) error {
	keys, ok := k[subscriptionID]
	if !ok || len(keys) == 0 || subscriptionID == "" {
		return ErrUnknownSubscription
	}
	signature = strings.TrimSpace(signature)
	if signature == "" || len(signature) > maxSignatureLen {
		return ErrBadSignature
	}
	got, err := base64.StdEncoding.DecodeString(signature)
	if err != nil || len(got) != sha256.Size {
		return ErrBadSignature
	}
	match := false
	for _, key := range keys {
		if key == "" {
			continue
		}
		m := hmac.New(sha256.New, []byte(key))
		m.Write(body)
		// Check every key (no early return) so the time taken does not say
		// which key matched.
		if hmac.Equal(m.Sum(nil), got) {
			match = true
		}
	}
	if !match {
		return ErrBadSignature
	}
	return nil
}

// SigningKeysError says what is wrong with signing-key JSON. It never quotes
// the input, not even a subscription id: a key pasted in the wrong place
// would otherwise be echoed into logs.
type SigningKeysError struct {
	// Problem completes a sentence about the JSON ("is not valid JSON ..."),
	// so that configuration errors can name their variable in front of it.
	Problem string
}

func (e *SigningKeysError) Error() string { return "signing keys: " + e.Problem }

func signingKeysError(problem string) error { return &SigningKeysError{Problem: problem} }

// ParseSigningKeys decodes {"subId":"key"} or {"subId":["old","new"]} (the
// two may be mixed), as configured in WEBHOOK_SIGNING_KEYS or the
// WEBHOOK_SECRET_ARN secret. Empty ids or keys are errors; every error is a
// *SigningKeysError and never quotes a key or a subscription id.
func ParseSigningKeys(data []byte) (SigningKeys, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, signingKeysError("is empty: want a JSON object")
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		// json's own messages can quote parts of the input.
		var syn *json.SyntaxError
		var typ *json.UnmarshalTypeError
		switch {
		case errors.As(err, &syn):
			return nil, signingKeysError(fmt.Sprintf("is not valid JSON (syntax error at byte %d)", syn.Offset))
		case errors.As(err, &typ):
			return nil, signingKeysError(fmt.Sprintf("is not a JSON object (got a JSON %s)", typ.Value))
		default:
			return nil, signingKeysError("is not the expected JSON object")
		}
	}
	if len(raw) == 0 {
		return nil, signingKeysError(`has no subscriptions: want {"<subscription id>": "<key>" or ["<key>", ...]}`)
	}
	out := make(SigningKeys, len(raw))
	for id, v := range raw {
		if strings.TrimSpace(id) == "" {
			return nil, signingKeysError("has an empty subscription id")
		}
		var one string
		var many []string
		switch {
		case json.Unmarshal(v, &one) == nil:
			many = []string{one}
		case json.Unmarshal(v, &many) == nil:
		default:
			return nil, signingKeysError("a subscription's value must be a key string or a list of key strings")
		}
		if len(many) == 0 {
			return nil, signingKeysError("a subscription has an empty list of keys")
		}
		for _, key := range many {
			if key == "" {
				return nil, signingKeysError("a subscription has an empty key")
			}
		}
		out[id] = many
	}
	return out, nil
}

// String prints the subscription ids only, never the keys.
func (k SigningKeys) String() string {
	ids := make([]string, 0, len(k))
	for id := range k {
		ids = append(ids, id)
	}
	return fmt.Sprintf("SigningKeys%v", ids)
}

// GoString prints the subscription ids only (%#v).
func (k SigningKeys) GoString() string { return k.String() }

// MarshalJSON writes the subscription ids with every key redacted, so that a
// configuration logged or marshalled by mistake leaks no key.
func (k SigningKeys) MarshalJSON() ([]byte, error) {
	out := make(map[string][]string, len(k))
	for id, keys := range k {
		out[id] = make([]string, len(keys))
		for i := range keys {
			out[id][i] = "[REDACTED]"
		}
	}
	return json.Marshal(out)
}

const (
	keyLower   = "abcdefghijklmnopqrstuvwxyz"
	keyUpper   = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	keyDigits  = "0123456789"
	keySpecial = "!@#$^&*"
	keyLength  = 48
)

// GenerateSigningKey returns a random key that meets the API's policy:
// 32-64 characters with upper, lower, digit and one of !@#$^&*.
func GenerateSigningKey() (string, error) {
	all := keyLower + keyUpper + keyDigits + keySpecial
	buf := make([]byte, keyLength)
	pick := func(set string) (byte, error) {
		n, err := rand.Int(rand.Reader, big.NewInt(int64(len(set))))
		if err != nil {
			return 0, fmt.Errorf("generate signing key: %w", err)
		}
		return set[n.Int64()], nil
	}
	for i, set := range []string{keyLower, keyUpper, keyDigits, keySpecial} {
		b, err := pick(set)
		if err != nil {
			return "", err
		}
		buf[i] = b
	}
	for i := 4; i < keyLength; i++ {
		b, err := pick(all)
		if err != nil {
			return "", err
		}
		buf[i] = b
	}
	// Shuffle so the required classes are not always in front.
	for i := len(buf) - 1; i > 0; i-- {
		n, err := rand.Int(rand.Reader, big.NewInt(int64(i+1)))
		if err != nil {
			return "", fmt.Errorf("generate signing key: %w", err)
		}
		j := n.Int64()
		buf[i], buf[j] = buf[j], buf[i]
	}
	return string(buf), nil
}

// ValidSigningKey reports whether key meets the API's key policy.
func ValidSigningKey(key string) bool {
	if len(key) < 32 || len(key) > 64 {
		return false
	}
	has := func(set string) bool { return strings.ContainsAny(key, set) }
	if !has(keyLower) || !has(keyUpper) || !has(keyDigits) || !has(keySpecial) {
		return false
	}
	for _, r := range key {
		if !strings.ContainsRune(keyLower+keyUpper+keyDigits+keySpecial, r) {
			return false
		}
	}
	return true
}
